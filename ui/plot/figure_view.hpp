#pragma once
// The maps of a snapshot as the export figure, laid out for the widget's own size, so that every head fits
// without scrolling: FigureLayout's grid (heads wrapped into several rows when that gives larger maps,
// headers instead of per-map titles, token labels once on the outer edges, one colour bar per quantity)
// painted by FigureRenderer at the window's font sizes. The figure is painted into an image once per
// snapshot, display options and size: here for a short text, on a worker thread for a long one (whose cells
// are reduced there; the newest request wins and the previous image stays until it arrives). The hover and
// the selected query are drawn over that image, so moving the pointer repaints no cell.

#include <QImage>
#include <QThreadPool>
#include <QTimer>
#include <QWidget>
#include <memory>
#include <optional>
#include <vector>

#include "compute/attention_snapshot.hpp"
#include "compute/restartable_job.hpp"
#include "plot/figure_layout.hpp"
#include "plot/heatmap_plot.hpp"
#include "state/display_options.hpp"

namespace attnscope::ui {

class FigureView : public QWidget {
  Q_OBJECT

 public:
  // Texts longer than this are laid out and painted on the worker.
  static constexpr int kLargestPaintedHere = 256;

  explicit FigureView(QWidget* parent = nullptr);
  ~FigureView() override;

  void setContent(SnapshotPointer snapshot, const DisplayOptions& options);
  const SnapshotPointer& snapshot() const { return m_snapshot; }
  void setHover(int query, int key);
  // The selected query, outlined in every map; more strongly in the map it was picked in (`explained`).
  void setSelection(int query, std::optional<MapKey> explained);

  // True when the figure on screen is the one for the current content and size.
  bool isCurrent() const;
  bool isBuilding() const { return m_building; }
  // Why no figure is shown (the widget too small for the maps), else empty.
  QString problem() const;

  // The maps of the figure on screen, group by group (quantity blocks, then mask rows), head by head.
  int groupCount() const;
  int headCount() const;
  MapKey mapKey(int group, int head) const;
  QRectF mapRect(int group, int head) const;  // widget coordinates
  const FigureLayout* layout() const;         // null while there is none
  // The map and cell (query, key) under a widget position; false outside every map.
  bool cellAt(const QPointF& position, MapKey* map, int* query, int* key) const;
  QPointF cellCentre(int group, int head, int query, int key) const;

 signals:
  // The pointer over a cell of `map` (query, key), at `globalPosition`; (-1, -1) when it leaves the maps.
  void cellHovered(const attnscope::ui::MapKey& map, int query, int key, const QPoint& globalPosition);
  void cellClicked(const attnscope::ui::MapKey& map, int query);
  void keyProbed(int key);       // Alt+click
  void queryStepped(int delta);  // Up / Down
  void figureShown();            // a new figure is on screen

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void showEvent(QShowEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void leaveEvent(QEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;
  void focusInEvent(QFocusEvent* event) override;
  void focusOutEvent(QFocusEvent* event) override;

 private:
  struct Figure;
  static std::shared_ptr<const Figure> build(const SnapshotPointer& snapshot, const DisplayOptions& options,
                                             QSize size, double pixelRatio, quint64 generation);
  void invalidate();  // the content or the size changed: a new figure is needed
  void rebuild();
  void present(std::shared_ptr<const Figure> figure);
  void paintOverlay(QPainter* painter) const;

  SnapshotPointer m_snapshot;
  DisplayOptions m_options;
  quint64 m_generation = 0;  // of the content and size; a figure built for an older one is stale
  std::shared_ptr<const Figure> m_figure;
  int m_hoveredQuery = -1, m_hoveredKey = -1;
  int m_selectedQuery = -1;
  std::optional<MapKey> m_explained;
  QTimer m_rebuildTimer;  // coalesces the resize events of one drag
  QThreadPool m_pool;
  RestartableJob m_job;
  bool m_building = false;
};

}  // namespace attnscope::ui
