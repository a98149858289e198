#pragma once
// The heatmaps of a snapshot laid out in one QCustomPlot: a block of rows per quantity (one row per mask, one
// column per head), each map titled "head h · mask", with token labels, a colour bar per quantity (or per
// map) and the masked-cell key. The window shows one (exports draw through FigureRenderer instead; they only
// ask it for a natural size).
// A map never holds more cells than its axis rect has pixels: a long text's maps show blocks of cells reduced
// to their max or mean (said in a note under the grid); the wheel zooms into a map and the cells in view are
// rebuilt finer off the GUI thread, down to one cell per token.

#include <qcustomplot.h>

#include <QRegion>
#include <QSize>
#include <QThreadPool>
#include <QTimer>
#include <memory>
#include <optional>
#include <vector>

#include "compute/attention_snapshot.hpp"
#include "compute/restartable_job.hpp"
#include "plot/map_title.hpp"
#include "plot/text_width_cache.hpp"
#include "state/display_options.hpp"
#include "state/view_settings.hpp"

namespace attnscope::ui {

class AttentionColorMap;
class MapOverlay;
class TokenAxisTicker;

// Which map: a mask row of the snapshot, a head and a quantity.
struct MapKey {
  int maskRow = 0;
  int head = 0;
  Quantity quantity = Quantity::weights;
  friend bool operator==(const MapKey&, const MapKey&) = default;
};

class HeatmapPlot : public QCustomPlot {
  Q_OBJECT

 public:
  explicit HeatmapPlot(QWidget* parent = nullptr);
  ~HeatmapPlot() override;

  // Shows `snapshot` (or nothing when null). With `only`, just that map. Reuses the existing maps when the
  // grid keeps its shape, so an edit that changes only values rebuilds no layout.
  void setContent(SnapshotPointer snapshot, const DisplayOptions& options, std::optional<MapKey> only = {});
  const SnapshotPointer& snapshot() const { return m_snapshot; }
  const DisplayOptions& displayOptions() const { return m_options; }

  // The maps in grid order (quantity blocks, then mask rows, then heads).
  int mapCount() const { return static_cast<int>(m_maps.size()); }
  MapKey mapKey(int index) const { return m_maps[index].key; }
  QString mapTitle(int index) const;
  // The statistics line under a map's title (see stat_readout.hpp): empty when Display hides them or the map
  // has none (a summary map). Its tooltip names each statistic in full; readoutAt finds the map whose line
  // is under a widget position (-1 when none).
  QString mapReadout(int index) const;
  QString mapReadoutToolTip(int index) const;
  int readoutAt(const QPointF& position) const;
  AttentionColorMap* colorMap(int index) const { return m_maps[index].colorMap; }
  QCPAxisRect* mapRect(int index) const { return m_maps[index].axisRect; }
  QStringList rowLabels(int index) const;     // query tokens, top to bottom
  QStringList columnLabels(int index) const;  // key tokens, left to right
  // The token labels on screen after the last replot: keys (Qt::Horizontal) or queries (Qt::Vertical),
  // thinned to every k-th token. Maps of the same tokens, shown whole, label the same ones; a zoomed map its
  // own.
  QStringList shownLabels(int index, Qt::Orientation orientation) const;
  QCPRange colorRange(int index) const;
  // "max of 4×4 cells" when the map's cells are reduced, else empty; and the note under the grid.
  QString reductionNote(int index) const;
  QString gridNote() const;
  // The device pixels of each map's axis rect for a grid of `columns` × `rows` maps: as laid out now, or
  // estimated from the plot's size. The worker prepares the cells of a new snapshot at this size.
  QSize pixelsPerMap(int columns, int rows) const;
  // Shows tokens [begin, end) of both axes of a map (clamped to the map), as the wheel does.
  void zoomMap(int index, double keyLower, double keyUpper, double queryLower, double queryUpper);
  void resetZoom(int index);
  // True while cells for the maps in view are being built off the GUI thread, or are about to be (a resize,
  // such as the range hint appearing above the maps, starts a new build after a short delay).
  bool isRefining() const { return m_refining || m_refineTimer.isActive(); }
  int colorScaleCount() const;
  // The numbers on a colour bar (shared bars first, then one per map), bottom to top: the range's ends and
  // its middle.
  QStringList colorScaleLabels(int index) const;
  // The maps whose weights differ by a factor of two or more but, up to their 99th percentile, use less than
  // ColorMaps::kFlatShare of their colour bar, so that they look like one colour (a shared range across very
  // different maps; never with one range per map).
  std::vector<int> flatMaps() const;
  // File-name stem of a map: head0-causal-weights (heads count from 0).
  QString mapFileStem(int index) const;
  static QString fileStem(const AttentionSnapshot& snapshot, const MapKey& key);

  // The map under a widget position, and the cell (query, key) there; false outside every map.
  bool cellAt(const QPointF& position, int* map, int* query, int* key) const;
  // The centre of a cell in widget coordinates (tests, tooltips).
  QPointF cellCentre(int map, int query, int key) const;

  void setHover(int query, int key);
  void setSelection(int query, std::optional<MapKey> explained);

  // A size at which every map is comfortably readable: used for exports when no size is given.
  QSize naturalSize() const;
  // Draws only the maps in or near the part of the plot on screen (every map while none of it is): call when
  // that part changed without the plot moving or resizing (the scroll area's view grew).
  void showMapsInView();
  bool isMapDrawn(int index) const;

 protected:
  void moveEvent(QMoveEvent* event) override;

 signals:
  // Cells built off the GUI thread (after a zoom, a resize or a new reduction) are on screen.
  void refined();

 private:
  struct Map {
    MapKey key;
    QCPLayoutElement* cell = nullptr;  // title, readout, axis rect and its own colour bar
    QCPAxisRect* axisRect = nullptr;
    MapTitle* title = nullptr;
    MapTitle* readout = nullptr;  // elided; empty (no height) when hidden
    AttentionColorMap* colorMap = nullptr;
    MapOverlay* overlay = nullptr;
    TokenAxisTicker* rows = nullptr;
    TokenAxisTicker* columns = nullptr;
  };

  std::vector<Quantity> shownQuantities() const;
  CellRegion wantedRegion(const Map& map, double pixelRatio, QSize estimate) const;
  bool needsRefine() const;
  void refine();  // off the GUI thread; the cells arrive later
  void updateNote();
  void clampRange(QCPAxis* axis);
  std::vector<MapKey> layoutKeys() const;
  void rebuild(const std::vector<MapKey>& keys);
  void clearMaps();
  void setupAxes(Map& map);
  void fill(bool values);  // titles, labels and gradients; the cells too when `values`
  void updateRanges();
  bool updateMapVisibility();  // true when a map is drawn that was not, or the other way round
  // After a layout pass: rotates or thins the token labels that do not fit; true when another layout pass is
  // needed (the layout sizes each axis after generating its ticks).
  bool settle();
  void setupScale(QCPColorScale* scale, Quantity quantity);

  SnapshotPointer m_snapshot;
  DisplayOptions m_options;
  std::optional<MapKey> m_only;
  std::vector<Map> m_maps;
  std::vector<std::pair<Quantity, QCPColorScale*>> m_sharedScales;
  std::vector<QCPColorScale*> m_mapScales;  // per-map mode: one per map, in map order
  QCPMarginGroup* m_marginGroup = nullptr;
  QCPTextElement* m_note = nullptr;  // only for texts long enough to be reduced
  // The tick labels of the snapshot's tokens, elided and measured once for every axis.
  QStringList m_tokenTexts, m_tokenLabels;
  TextWidthCache m_labelWidths;
  std::vector<int> m_labelWidthOf;  // per token: its label's width in pixels
  QFont m_tickFont, m_titleFont, m_readoutFont, m_noteFont;
  int m_settlePasses = 0;
  // Zoom and resize refinements: one worker thread, newest request wins.
  QThreadPool m_refinePool;
  QTimer m_refineTimer;
  RestartableJob m_refineJob;
  bool m_refining = false;
  // Where the next replot draws (empty: everywhere), and the layout it was worked out for.
  QRegion m_drawnArea;
  std::vector<QRect> m_layoutRects;
  QSize m_layoutSize;
};

}  // namespace attnscope::ui
