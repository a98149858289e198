#include "attention_color_map.hpp"

#include <QFontMetrics>
#include <algorithm>
#include <cmath>
#include <limits>

#include "color_maps.hpp"

namespace attnscope::ui {

AttentionColorMap::AttentionColorMap(QCPAxis* keyAxis, QCPAxis* valueAxis) : QCPColorMap(keyAxis, valueAxis) {
  setInterpolate(false);
  setTightBoundary(false);
}

void AttentionColorMap::setValues(const AttentionSnapshot& snapshot, int maskRow, int head,
                                  Quantity quantity) {
  m_tokens = snapshot.tokenCount();
  // Cells prepared on the worker thread, or, for a quantity that was not on screen then (or a second plot of
  // the same snapshot, like an export), built here.
  std::optional<MapCells> cells = snapshot.takePreparedCells(maskRow, head, quantity);
  if (!cells) cells = buildMapCells(snapshot, maskRow, head, quantity);
  setData(cells->cells.release(), /*copy=*/false);
  m_minimum = cells->minimum;
  m_maximum = cells->maximum;
}

double AttentionColorMap::cellValue(int query, int key) const {
  return data()->cell(key, query);
}

void AttentionColorMap::draw(QCPPainter* painter) {
  // The hatch under the whole map shows through the masked (NaN, transparent) cells only.
  if (m_tokens > 0 && keyAxis() && valueAxis()) {
    const QPointF a(keyAxis()->coordToPixel(-0.5), valueAxis()->coordToPixel(-0.5));
    const QPointF b(keyAxis()->coordToPixel(m_tokens - 0.5), valueAxis()->coordToPixel(m_tokens - 0.5));
    ColorMaps::paintHatch(painter, QRectF(a, b).normalized());
  }
  QCPColorMap::draw(painter);
  drawValues(painter);
}

void AttentionColorMap::drawValues(QCPPainter* painter) {
  if (m_tokens == 0 || !keyAxis() || !valueAxis()) return;
  const double cellWidth = std::abs(keyAxis()->coordToPixel(1) - keyAxis()->coordToPixel(0));
  const double cellHeight = std::abs(valueAxis()->coordToPixel(1) - valueAxis()->coordToPixel(0));
  if (cellWidth < kMinimumLabelledCellWidth || cellHeight < kMinimumLabelledCellHeight) return;

  QFont font = keyAxis()->tickLabelFont();
  font.setPixelSize(std::clamp(static_cast<int>(std::min(cellHeight * 0.32, cellWidth * 0.2)), 9, 15));
  painter->setFont(font);
  const int decimals = cellWidth >= 52 ? 3 : 2;
  QCPColorGradient colors = gradient();
  for (int query = 0; query < m_tokens; ++query)
    for (int key = 0; key < m_tokens; ++key) {
      const double value = data()->cell(key, query);
      if (std::isnan(value)) continue;
      const QPointF centre(keyAxis()->coordToPixel(key), valueAxis()->coordToPixel(query));
      const QRectF cell(centre.x() - cellWidth / 2, centre.y() - cellHeight / 2, cellWidth, cellHeight);
      painter->setPen(ColorMaps::textOn(QColor::fromRgba(colors.color(value, dataRange()))));
      painter->drawText(cell, Qt::AlignCenter, QString::number(value, 'f', decimals));
    }
}

}  // namespace attnscope::ui
