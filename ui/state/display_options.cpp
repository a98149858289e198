#include "state/display_options.hpp"

namespace attnscope::ui {

DisplayOptions DisplayOptions::from(const ViewSettings& settings) {
  DisplayOptions options;
  options.quantities = settings.quantities;
  options.colorMap = settings.colorMap;
  options.sharedRange = settings.sharedRange;
  options.reduction = settings.reduction;
  return options;
}

}  // namespace attnscope::ui
