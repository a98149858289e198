#pragma once
// How the maps are drawn: the part of ViewSettings that needs no computation.

#include <vector>

#include "state/view_settings.hpp"

namespace attnscope::ui {

struct DisplayOptions {
  std::vector<Quantity> quantities{Quantity::weights};
  ColorMapId colorMap = ColorMapId::viridis;
  bool sharedRange = true;
  Reduction reduction = Reduction::max;

  static DisplayOptions from(const ViewSettings& settings);
  friend bool operator==(const DisplayOptions&, const DisplayOptions&) = default;
};

}  // namespace attnscope::ui
