#include "plot/attention_color_map.hpp"

#include <QFontMetrics>
#include <algorithm>
#include <cmath>
#include <limits>

#include "plot/color_maps.hpp"

namespace attnscope::ui {

AttentionColorMap::AttentionColorMap(QCPAxis* keyAxis, QCPAxis* valueAxis)
    : QCPColorMap(keyAxis, valueAxis), m_hatch(ColorMaps::maskedBrush()) {
  setInterpolate(false);
  setTightBoundary(false);
}

bool AttentionColorMap::setValues(const AttentionSnapshot& snapshot, int maskRow, int head, Quantity quantity,
                                  const CellRegion& wanted) {
  const int n = snapshot.tokenCount();
  std::optional<MapCells> cells = snapshot.takePreparedCells(maskRow, head, quantity);
  if (cells && cells->region.serves(wanted)) {
    setCells(std::move(*cells), n);
    return true;
  }
  // A quantity that was not on screen when the snapshot was computed, or a second plot of it (an export).
  if (n <= kLargestBuiltHere) {
    setCells(buildMapCells(snapshot, maskRow, head, quantity, wanted), n);
    return true;
  }
  // Cells for another size still beat an empty map until the right ones arrive.
  if (cells) {
    setCells(std::move(*cells), n);
  } else {
    m_tokens = n;
    m_region = CellRegion{};
    m_minimum = m_maximum = m_percentile99 = std::numeric_limits<double>::quiet_NaN();
    m_anyMasked = false;
    data()->clear();
  }
  return false;
}

void AttentionColorMap::setCells(MapCells cells, int tokenCount) {
  m_tokens = tokenCount;
  m_region = cells.region;
  setData(cells.cells.release(), /*copy=*/false);
  // Most maps have no masked cell (mask none): they skip the hatch, the costliest part of drawing a map.
  m_anyMasked = cells.anyMasked;
  if (m_region.keyBegin == 0 && m_region.keyEnd == m_tokens && m_region.queryBegin == 0 &&
      m_region.queryEnd == m_tokens) {
    m_minimum = cells.minimum;
    m_maximum = cells.maximum;
    m_percentile99 = cells.percentile99;
  }
}

double AttentionColorMap::cellValue(int query, int key) const {
  if (!m_region.contains(query, key)) return std::numeric_limits<double>::quiet_NaN();
  return data()->cell((key - m_region.keyBegin) / m_region.keyBlock,
                      (query - m_region.queryBegin) / m_region.queryBlock);
}

void AttentionColorMap::draw(QCPPainter* painter) {
  // The hatch under the whole map shows through the masked (NaN, transparent) cells only. On screen and in
  // PNGs a tiled brush draws it in one fill; vector exports get lines.
  if (m_anyMasked && m_tokens > 0 && keyAxis() && valueAxis()) {
    const QPointF a(keyAxis()->coordToPixel(-0.5), valueAxis()->coordToPixel(-0.5));
    const QPointF b(keyAxis()->coordToPixel(m_tokens - 0.5), valueAxis()->coordToPixel(m_tokens - 0.5));
    const QRectF rect = QRectF(a, b).normalized();
    if (!painter->modes().testFlag(QCPPainter::pmVectorized))
      painter->fillRect(rect, m_hatch);
    else
      ColorMaps::paintHatch(painter, rect);
  }
  QCPColorMap::draw(painter);
  drawValues(painter);
}

void AttentionColorMap::drawValues(QCPPainter* painter) {
  if (m_tokens == 0 || m_region.isReduced() || m_region.isEmpty() || !keyAxis() || !valueAxis()) return;
  const double cellWidth = std::abs(keyAxis()->coordToPixel(1) - keyAxis()->coordToPixel(0));
  const double cellHeight = std::abs(valueAxis()->coordToPixel(1) - valueAxis()->coordToPixel(0));
  if (cellWidth < kMinimumLabelledCellWidth || cellHeight < kMinimumLabelledCellHeight) return;

  QFont font = keyAxis()->tickLabelFont();
  font.setPixelSize(std::clamp(static_cast<int>(std::min(cellHeight * 0.32, cellWidth * 0.2)), 9, 15));
  painter->setFont(font);
  const int decimals = cellWidth >= 52 ? 3 : 2;
  QCPColorGradient colors = gradient();
  // Only the cells in view: a zoomed-in long text has millions outside it.
  const auto visible = [](const QCPRange& range, int begin, int end) {
    return std::pair(std::max(begin, static_cast<int>(std::floor(range.lower + 0.5))),
                     std::min(end, static_cast<int>(std::ceil(range.upper + 0.5))));
  };
  const auto [keyBegin, keyEnd] = visible(keyAxis()->range(), m_region.keyBegin, m_region.keyEnd);
  const auto [queryBegin, queryEnd] = visible(valueAxis()->range(), m_region.queryBegin, m_region.queryEnd);
  for (int query = queryBegin; query < queryEnd; ++query)
    for (int key = keyBegin; key < keyEnd; ++key) {
      const double value = cellValue(query, key);
      if (std::isnan(value)) continue;
      const QPointF centre(keyAxis()->coordToPixel(key), valueAxis()->coordToPixel(query));
      const QRectF cell(centre.x() - cellWidth / 2, centre.y() - cellHeight / 2, cellWidth, cellHeight);
      painter->setPen(ColorMaps::textOn(QColor::fromRgba(colors.color(value, dataRange()))));
      painter->drawText(cell, Qt::AlignCenter, QString::number(value, 'f', decimals));
    }
}

}  // namespace attnscope::ui
