#pragma once
// What the pointer and the selection add on top of one heatmap: the hovered row and column, the hovered cell
// and the selected query row. It lives on its own buffered layer, so hovering repaints only the overlays.

#include <qcustomplot.h>

#include <QRectF>

namespace attnscope::ui {

// Where the marks go on one map, in the painter's coordinates; an empty rectangle draws nothing.
struct OverlayMarks {
  QRectF hoveredRow, hoveredColumn, hoveredCell, selectedRow;
  bool explained = false;  // the selection was picked in this map: its outline is solid, not dashed
};

class MapOverlay : public QCPLayerable {
  Q_OBJECT

 public:
  // Draws over `axisRect`, whose bottom axis holds the keys and left axis the queries, on `layerName`.
  MapOverlay(QCPAxisRect* axisRect, const QString& layerName);

  bool setHover(int query, int key);                 // false when the hover was already there
  bool setSelectedQuery(int query, bool explained);  // false when it was already selected

  // The marks as every view of the maps draws them (the scrolling maps here, the fit view over its figure):
  // a veil over the hovered row and column, the hovered cell outlined, the selected query's row outlined
  // dark with a white core.
  static void paintMarks(QPainter* painter, const OverlayMarks& marks);

 protected:
  QRect clipRect() const override;
  void applyDefaultAntialiasingHint(QCPPainter* painter) const override;
  void draw(QCPPainter* painter) override;

 private:
  QRectF cellRect(int query, int key) const;
  QRectF rowRect(int query) const;
  QRectF columnRect(int key) const;

  QPointer<QCPAxisRect> m_axisRect;
  int m_hoveredQuery = -1;
  int m_hoveredKey = -1;
  int m_selectedQuery = -1;
  bool m_explained = false;
};

}  // namespace attnscope::ui
