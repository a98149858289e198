#include "export/figure_preset.hpp"

namespace attnscope::ui {
namespace {

constexpr double kPointsPerInch = 72.0;
constexpr double kPaperDpi = 300.0;
// Paper text in points: 8 pt labels, 9 pt headers, 7 pt notes, labels down to 5 pt before they thin out.
constexpr FigureStyle kPaperStyle{8, 9, 7, 5};
// A slide is read from across a room: 12 pt labels on a 13.3 × 7.5 in page.
constexpr FigureStyle kSlideStyle{12, 14, 11, 8};

}  // namespace

QStringList FigurePresets::names() {
  return {QStringLiteral("slide"), QStringLiteral("column"), QStringLiteral("page")};
}

std::optional<FigurePreset> FigurePresets::parse(const QString& name) {
  if (name == QLatin1String("slide")) return FigurePreset::slide;
  if (name == QLatin1String("column")) return FigurePreset::column;
  if (name == QLatin1String("page")) return FigurePreset::page;
  return std::nullopt;
}

QString FigurePresets::name(FigurePreset preset) {
  return names().at(static_cast<int>(preset));
}

QString FigurePresets::description(FigurePreset preset) {
  switch (preset) {
    case FigurePreset::slide:
      return QStringLiteral("slide 16:9 (1920 \u00d7 1080 px)");
    case FigurePreset::column:
      return QStringLiteral("paper column (3.5 \u00d7 2.67 in at 300 dpi)");
    case FigurePreset::page:
      return QStringLiteral("paper page (7 \u00d7 4.5 in at 300 dpi)");
  }
  return {};
}

ImageRequest FigurePresets::request(FigurePreset preset, ImageFormat format) {
  // Sizes in points whose pixels at the preset's resolution are whole numbers.
  switch (preset) {
    case FigurePreset::slide:  // 13.33 × 7.5 in at 144 dpi
      return ImageRequest(format, QSize(960, 540), 2.0, kSlideStyle, true);
    case FigurePreset::column:  // 1050 × 800 px
      return ImageRequest(format, QSize(252, 192), kPaperDpi / kPointsPerInch, kPaperStyle, true);
    case FigurePreset::page:  // 2100 × 1350 px
      return ImageRequest(format, QSize(504, 324), kPaperDpi / kPointsPerInch, kPaperStyle, true);
  }
  return {};
}

}  // namespace attnscope::ui
