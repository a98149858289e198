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
  // The colour range a quantity is drawn with, given the extremes of its unmasked values: weights from their
  // smallest to their largest value (a long text's weights, about 1/n each, span the whole map instead of
  // its darkest tenth; the colour bar prints both ends), scores symmetric around 0 so that white means 0.
  static QCPRange rangeFor(Quantity quantity, double minimum, double maximum);
  // A colour bar's number: 3 significant digits, with a true minus sign ("0.00334", "\u22121.7").
  static QString tickText(double value);
  // The colour bar's ticks: both ends and the middle (0 for scores), bottom to top.
  static QVector<double> ticksFor(const QCPRange& range);
  // How much of `range` values from `minimum` to `maximum` use (0 to 1; 1 when there is nothing to draw).
  // A map that uses less than kFlatShare of its colour bar looks flat: one colour, whatever its values.
  static double shareOf(const QCPRange& range, double minimum, double maximum);
  static constexpr double kFlatShare = 0.1;

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
