#include "plot/color_maps.hpp"

#include <QPainter>
#include <QPixmap>
#include <algorithm>
#include <cmath>
#include <initializer_list>

namespace attnscope::ui {
namespace {

// Evenly spaced control points (matplotlib's maps sampled at 11 points, 0.0, 0.1, …, 1.0).
QCPColorGradient fromStops(std::initializer_list<const char*> colors) {
  QCPColorGradient gradient;
  gradient.clearColorStops();
  QMap<double, QColor> stops;
  const double last = static_cast<double>(colors.size() - 1);
  int index = 0;
  for (const char* color : colors) stops.insert(index++ / last, QColor(QLatin1String(color)));
  gradient.setColorStops(stops);
  gradient.setColorInterpolation(QCPColorGradient::ciRGB);
  gradient.setLevelCount(512);
  gradient.setNanHandling(QCPColorGradient::nhTransparent);
  return gradient;
}

}  // namespace

QCPColorGradient ColorMaps::sequential(ColorMapId id) {
  switch (id) {
    case ColorMapId::viridis:
      return fromStops({"#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884",
                        "#44bf70", "#7ad151", "#bddf26", "#fde725"});
    case ColorMapId::magma:
      return fromStops({"#000004", "#140e36", "#3b0f70", "#641a80", "#8c2981", "#b73779", "#de4968",
                        "#f7705c", "#fe9f6d", "#fecf92", "#fcfdbf"});
    case ColorMapId::cividis:
      return fromStops({"#00224e", "#083370", "#35456c", "#4f576c", "#666970", "#7d7c78", "#948e77",
                        "#aea371", "#c8b866", "#e5cf52", "#fee838"});
  }
  return sequential(ColorMapId::viridis);
}

QCPColorGradient ColorMaps::diverging() {
  // RdBu (11 classes) reversed: negative blue, zero near-white, positive red.
  return fromStops({"#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582",
                    "#d6604d", "#b2182b", "#67001f"});
}

QRgb ColorMaps::colourOf(QCPColorGradient& gradient, double value, const QCPRange& range) {
  return gradient.color((value - range.lower) / range.size(), QCPRange(0.0, 1.0));
}

QCPRange ColorMaps::rangeFor(Quantity quantity, double minimum, double maximum, double percentile99) {
  if (isScore(quantity)) {
    double extent = std::max(std::abs(minimum), std::abs(maximum));
    if (!(extent > 0.0) || !std::isfinite(extent)) extent = 1.0;
    return QCPRange(-extent, extent);
  }
  if (!std::isfinite(minimum) || !std::isfinite(maximum)) return QCPRange(0.0, 1.0);
  if (percentile99 > minimum && percentile99 < 0.5 * maximum) return QCPRange(minimum, percentile99);
  if (maximum > minimum) return QCPRange(minimum, maximum);
  // One value (a one-token text, uniform rows): from 0 to it, so it is drawn as the top of the scale.
  return QCPRange(std::min(0.0, minimum), maximum > 0.0 ? maximum : 1.0);
}

QString ColorMaps::tickText(double value) {
  if (std::abs(value) < 1e-12) value = 0.0;  // no "-0" or "1e-17" in the middle of a score bar
  QString text = QString::number(value, 'g', 3);
  text.replace(QLatin1Char('-'), QChar(0x2212));
  return text;
}

QVector<double> ColorMaps::ticksFor(const QCPRange& range) {
  return {range.lower, range.center(), range.upper};
}

QStringList ColorMaps::tickTexts(const QCPRange& range, double maximum) {
  QStringList texts;
  for (const double tick : ticksFor(range)) texts << tickText(tick);
  if (maximum > range.upper) texts.back().prepend(QStringLiteral("\u2265 "));
  return texts;
}

double ColorMaps::shareOf(const QCPRange& range, double minimum, double top) {
  if (!std::isfinite(minimum) || !std::isfinite(top) || !(range.size() > 0.0)) return 1.0;
  return std::clamp((top - minimum) / range.size(), 0.0, 1.0);
}

QColor ColorMaps::maskedBackground() {
  return QColor(0xdc, 0xdc, 0xdc);
}

QColor ColorMaps::maskedLine() {
  return QColor(0x9a, 0x9a, 0x9a);
}

QBrush ColorMaps::maskedBrush() {
  constexpr int tile = 8;
  QPixmap pixmap(tile, tile);
  pixmap.fill(maskedBackground());
  QPainter painter(&pixmap);
  painter.setRenderHint(QPainter::Antialiasing, false);
  painter.setPen(QPen(maskedLine(), 1));
  // One diagonal per tile, continued across tile edges: "////".
  painter.drawLine(0, tile - 1, tile - 1, 0);
  painter.end();
  return QBrush(pixmap);
}

void ColorMaps::paintHatch(QPainter* painter, const QRectF& rect, double spacing) {
  painter->save();
  painter->fillRect(rect, maskedBackground());
  // Flat caps: a wide line ends where it is cut instead of reaching past the rectangle.
  painter->setPen(QPen(maskedLine(), spacing / 7.0, Qt::SolidLine, Qt::FlatCap));
  painter->setRenderHint(QPainter::Antialiasing, true);
  // Lines from bottom-left to top-right ("////"), cut to the rectangle here rather than by a clip region:
  // Qt's SVG generator writes no clipping.
  const double left = rect.left(), right = rect.right(), top = rect.top(), bottom = rect.bottom();
  for (double x = left - rect.height() + spacing; x < right; x += spacing) {
    QPointF start(x, bottom), end(x + rect.height(), top);
    if (start.x() < left) start = QPointF(left, bottom - (left - start.x()));
    if (end.x() > right) end = QPointF(right, top + (end.x() - right));
    painter->drawLine(start, end);
  }
  painter->restore();
}

QColor ColorMaps::textOn(const QColor& background) {
  // Relative luminance (sRGB, approximated with gamma 2.2): dark text on light cells, white on dark ones.
  const auto channel = [](int value) { return std::pow(value / 255.0, 2.2); };
  const double luminance = 0.2126 * channel(background.red()) + 0.7152 * channel(background.green()) +
                           0.0722 * channel(background.blue());
  return luminance > 0.28 ? QColor(0x1a, 0x1a, 0x1a) : QColor(Qt::white);
}

}  // namespace attnscope::ui
