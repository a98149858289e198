#include "plot/map_overlay.hpp"

#include <cmath>

namespace attnscope::ui {

MapOverlay::MapOverlay(QCPAxisRect* axisRect, const QString& layerName)
    : QCPLayerable(axisRect->parentPlot(), layerName, axisRect), m_axisRect(axisRect) {}

bool MapOverlay::setHover(int query, int key) {
  if (query == m_hoveredQuery && key == m_hoveredKey) return false;
  m_hoveredQuery = query;
  m_hoveredKey = key;
  return true;
}

bool MapOverlay::setSelectedQuery(int query, bool explained) {
  if (query == m_selectedQuery && explained == m_explained) return false;
  m_selectedQuery = query;
  m_explained = explained;
  return true;
}

QRect MapOverlay::clipRect() const {
  return m_axisRect ? m_axisRect->rect() : QRect();
}

void MapOverlay::applyDefaultAntialiasingHint(QCPPainter* painter) const {
  painter->setAntialiasing(false);
}

QRectF MapOverlay::cellRect(int query, int key) const {
  const QCPAxis* keys = m_axisRect->axis(QCPAxis::atBottom);
  const QCPAxis* queries = m_axisRect->axis(QCPAxis::atLeft);
  const QPointF a(keys->coordToPixel(key - 0.5), queries->coordToPixel(query - 0.5));
  const QPointF b(keys->coordToPixel(key + 0.5), queries->coordToPixel(query + 0.5));
  return QRectF(a, b).normalized();
}

QRectF MapOverlay::rowRect(int query) const {
  const QRectF cell = cellRect(query, 0);
  return QRectF(m_axisRect->left(), cell.top(), m_axisRect->width(), cell.height());
}

QRectF MapOverlay::columnRect(int key) const {
  const QRectF cell = cellRect(0, key);
  return QRectF(cell.left(), m_axisRect->top(), cell.width(), m_axisRect->height());
}

void MapOverlay::draw(QCPPainter* painter) {
  if (!m_axisRect) return;
  OverlayMarks marks;
  if (m_hoveredQuery >= 0) marks.hoveredRow = rowRect(m_hoveredQuery);
  if (m_hoveredKey >= 0) marks.hoveredColumn = columnRect(m_hoveredKey);
  if (m_hoveredQuery >= 0 && m_hoveredKey >= 0) marks.hoveredCell = cellRect(m_hoveredQuery, m_hoveredKey);
  if (m_selectedQuery >= 0) marks.selectedRow = rowRect(m_selectedQuery).adjusted(1, 0, -1, 0);
  marks.explained = m_explained;
  paintMarks(painter, marks);
}

void MapOverlay::paintMarks(QPainter* painter, const OverlayMarks& marks) {
  const QColor veil(255, 255, 255, 56);
  const QPen edge(QColor(20, 20, 20, 170), 1);
  for (const QRectF& band : {marks.hoveredRow, marks.hoveredColumn}) {
    if (band.isEmpty()) continue;
    painter->setPen(edge);
    painter->setBrush(veil);
    painter->drawRect(band);
  }
  if (!marks.hoveredCell.isEmpty()) {
    painter->setBrush(Qt::NoBrush);
    painter->setPen(QPen(QColor(20, 20, 20), 3));
    painter->drawRect(marks.hoveredCell);
    painter->setPen(QPen(Qt::white, 1));
    painter->drawRect(marks.hoveredCell);
  }
  if (!marks.selectedRow.isEmpty()) {
    // A dark outline with a white core reads on every colour of every map.
    painter->setBrush(Qt::NoBrush);
    QPen outer(QColor(10, 10, 10), marks.explained ? 4 : 3);
    outer.setJoinStyle(Qt::MiterJoin);
    painter->setPen(outer);
    painter->drawRect(marks.selectedRow);
    QPen inner(Qt::white, marks.explained ? 1.5 : 1);
    inner.setJoinStyle(Qt::MiterJoin);
    if (!marks.explained) inner.setStyle(Qt::DashLine);
    painter->setPen(inner);
    painter->drawRect(marks.selectedRow);
  }
}

}  // namespace attnscope::ui
