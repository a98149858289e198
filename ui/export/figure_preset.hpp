#pragma once
// The physical sizes a figure is usually wanted at: a 16:9 slide (1920 × 1080 pixels), a paper's column
// (3.5 in wide at 300 dpi) and a paper's full page width (7 in at 300 dpi). A preset lays the figure out in
// points, so a PDF or SVG page has the physical size and its 8 pt labels print at 8 pt; the PNG is rendered
// at the preset's resolution.

#include <QString>
#include <QStringList>
#include <optional>

#include "export/exporter.hpp"

namespace attnscope::ui {

enum class FigurePreset { slide, column, page };

class FigurePresets {
 public:
  static QStringList names();  // "slide", "column", "page"
  static std::optional<FigurePreset> parse(const QString& name);
  static QString name(FigurePreset preset);
  static QString description(FigurePreset preset);  // "slide 16:9, 1920 × 1080 px"
  static ImageRequest request(FigurePreset preset, ImageFormat format);
  // Text sizes for a figure given in screen pixels (a custom size).
  static FigureStyle pixelStyle() { return FigureStyle{}; }
};

}  // namespace attnscope::ui
