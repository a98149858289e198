#pragma once
// The colour maps of the heatmaps. QCustomPlot 2.1 has no perceptual maps, so they are defined here from
// their published control points: viridis, magma and cividis (matplotlib) for weights, and ColorBrewer's
// RdBu, blue for negative and red for positive, for scores. Masked cells are drawn transparent over a grey
// hatch that no map contains, so a hidden cell can never be read as a weight of 0.

#include <qcustomplot.h>

#include <QBrush>
#include <QColor>
#include <QPainter>

#include "state/view_settings.hpp"

namespace attnscope::ui {

class ColorMaps {
 public:
  static QCPColorGradient sequential(ColorMapId id);  // low → high
  static QCPColorGradient diverging();                // blue (negative) → near-white (0) → red (positive)
  static QCPColorGradient forQuantity(Quantity quantity, ColorMapId id) {
    return isScore(quantity) ? diverging() : sequential(id);
  }
  // The colour range a quantity is drawn with, given the extremes of its unmasked values and their 99th
  // percentile: scores symmetric around 0 so that white means 0; weights from their smallest value to their
  // largest (a long text's weights, about 1/n each, span the whole bar instead of its darkest tenth), or to
  // the percentile when that is under half the largest, so that a few weights near 1 (a causal map's first
  // rows) do not darken every other cell. The cells above are drawn in the top colour and the bar says
  // "≥" (see tickTexts).
  // The colour of `value` on `range`. QCustomPlot computes the level as (value − lower) · (levels − 1) /
  // size, which can round the range's top to the level below it; the share of the range, (value − lower) /
  // size, is exactly 1 there (and 0 at the bottom), so the ends of a range get the ends of the map.
  static QRgb colourOf(QCPColorGradient& gradient, double value, const QCPRange& range);
  static QCPRange rangeFor(Quantity quantity, double minimum, double maximum, double percentile99);
  // A colour bar's number: 3 significant digits, with a true minus sign ("0.00334", "\u22121.7").
  static QString tickText(double value);
  // The colour bar's ticks: both ends and the middle (0 for scores), bottom to top.
  static QVector<double> ticksFor(const QCPRange& range);
  // Their texts, bottom to top; the top one reads "≥ 0.0331" when values up to `maximum` lie above it.
  static QStringList tickTexts(const QCPRange& range, double maximum);
  // How much of `range` values from `minimum` to `top` use (0 to 1; 1 when there is nothing to draw). A map
  // whose cells below their 99th percentile use less than kFlatShare of its colour bar looks flat: one
  // colour, whatever its values.
  static double shareOf(const QCPRange& range, double minimum, double top);
  static constexpr double kFlatShare = 0.25;  // the darkest quarter of viridis reads as one colour

  static QColor maskedBackground();
  static QColor maskedLine();
  static QBrush maskedBrush();  // the hatch as a tiled brush, for on-screen items
  // Fills `rect` with the hatch as vector lines (SVG and PDF keep them sharp; SVG has no tiled brushes).
  // `spacing` between lines, in the painter's units; the lines are a ninth of it wide (1 at the default).
  static void paintHatch(QPainter* painter, const QRectF& rect, double spacing = 7.0);
  // Text colour that reads on a cell of `background`.
  static QColor textOn(const QColor& background);
};

}  // namespace attnscope::ui
