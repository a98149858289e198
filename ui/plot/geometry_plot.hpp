#pragma once
// One head's queries and keys as points in a plane (the Geometry dock): queries as filled discs, keys as open
// triangles, and lines from the selected query to the keys it weighs, as wide and as opaque as their weight.
// It draws what it is given; which keys get a line or a label, and what the coordinates are, the panel
// decides. The axes keep one scale for both, so angles and distances in the plane are not distorted.

#include <qcustomplot.h>

#include <QPicture>
#include <QStringList>
#include <optional>
#include <vector>

#include "attnscope/matrix.hpp"

namespace attnscope::ui {

// Every token's query and key in the plane: row i of `queries` and `keys` (n × 2) is token i's.
struct GeometryPoints {
  Matrix queries;
  Matrix keys;
  QStringList tokens;
  QString xLabel, yLabel;
};

// What stands out: the selected query (−1: none), its lines and the tokens whose two points are labelled.
struct GeometryHighlight {
  struct Line {
    int key = 0;
    float weight = 0.0f;
  };
  int query = -1;
  std::vector<Line> lines;
  std::vector<int> labelled;
};

// A point of the plot: token `index`'s query or key.
struct GeometryPick {
  bool key = false;
  int index = 0;
};

class GeometryPlot : public QCustomPlot {
  Q_OBJECT

 public:
  explicit GeometryPlot(QWidget* parent = nullptr);

  void setPoints(GeometryPoints points);
  void setHighlight(GeometryHighlight highlight);
  void clearContent();
  const GeometryPoints& points() const { return m_points; }
  const GeometryHighlight& highlight() const { return m_highlight; }

  QCPCurve* queryCurve() const { return m_queries; }
  QCPCurve* keyCurve() const { return m_keys; }
  // The line drawn to each key of highlight().lines, in that order.
  std::vector<QCPItemLine*> lineItems() const {
    return {m_lineItems.begin(), m_lineItems.begin() + static_cast<std::ptrdiff_t>(m_lineCount)};
  }
  // The labels drawn: each token of highlight().labelled names its query and its key, points of one kind that
  // nearly coincide sharing one label ("journey, starts"). Queries' labels first.
  QStringList labelTexts() const;
  // Where token `index`'s query or key is drawn, in widget pixels.
  QPointF pixelOf(GeometryPick point) const;
  // The point nearest `position` (widget pixels) within kPickRadius pixels; a key wins a tie with a query.
  std::optional<GeometryPick> pointAt(QPointF position) const;
  static constexpr double kPickRadius = 8.0;

  // The plot laid out and painted at `size` (logical pixels), independent of the widget's size, under
  // `title`.
  QPicture record(QSize size, const QString& title) const;

 protected:
  void resizeEvent(QResizeEvent* event) override;

 private:
  void drawHighlight();
  // Item `index` of `pool`, made on `layer` when the pool is that short, and shown. The items are kept and
  // hidden rather than deleted: adding or removing one invalidates its layer's buffer, so a new selection
  // would repaint the points too.
  template <typename Item>
  Item* pooled(std::vector<Item*>& pool, std::size_t index, const QString& layer);
  // Ranges that show every point with one scale on both axes, for a viewport of `viewport`.
  void fitRanges(const QRect& viewport);

  GeometryPoints m_points;
  GeometryHighlight m_highlight;
  QCPCurve* m_queries;
  QCPCurve* m_keys;
  QCPCurve* m_selected;
  std::vector<QCPItemLine*> m_lineItems;
  std::size_t m_lineCount = 0;  // the first ones are shown, likewise labels
  std::vector<QCPItemText*> m_labelItems;
  std::size_t m_labelCount = 0;
};

}  // namespace attnscope::ui
