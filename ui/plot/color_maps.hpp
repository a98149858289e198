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
  // The colour range a quantity is drawn with, given the extremes of its unmasked values: weights from 0 to
  // their largest value, scores symmetric around 0 so that white means 0.
  static QCPRange rangeFor(Quantity quantity, double minimum, double maximum);

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
