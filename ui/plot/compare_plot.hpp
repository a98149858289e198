#pragma once
// Compare's grid (issue 21): per mask row and head, the difference A − B of the weights over the aligned
// m × m block, on a diverging map centred on 0 whose symmetric range (± the largest difference) all maps
// share; with Display's "A, B and difference", A's and B's weights above it on one shared weight range.
// Queries and keys without a partner (beyond m) are NaN, drawn over the masked hatch, and their tokens say
// whose they are. Hover shows both weights and their difference. The headless export draws the same plot.

#include <qcustomplot.h>

#include <QSize>
#include <QStringList>
#include <vector>

#include "compute/comparison.hpp"
#include "export/exporter.hpp"
#include "state/display_options.hpp"

namespace attnscope::ui {

class ComparePlot : public QCustomPlot {
  Q_OBJECT

 public:
  enum class MapKind { a, b, difference };
  struct MapKey {
    int maskRow = 0;
    int head = 0;
    MapKind kind = MapKind::difference;
  };

  explicit ComparePlot(QWidget* parent = nullptr);

  // Shows `comparison` (nothing when it is null or has no B).
  void setContent(ComparisonPointer comparison, const DisplayOptions& options);
  const ComparisonPointer& comparison() const { return m_comparison; }

  // The maps in grid order: mask rows, then (A, B,) difference, then heads.
  int mapCount() const { return static_cast<int>(m_maps.size()); }
  MapKey mapKey(int index) const { return m_maps[static_cast<std::size_t>(index)].key; }
  QString mapTitle(int index) const;
  int tokenCount(int index) const { return m_maps[static_cast<std::size_t>(index)].tokens; }
  // The drawn value of a cell: NaN where the cell has no partner or is masked.
  double cellValue(int index, int query, int key) const;
  QCPRange colorRange(int index) const;
  // Query tokens top to bottom as the axis names them ("cat | dog" where A and B differ, "sat (A only)").
  QStringList rowLabels(int index) const { return m_maps[static_cast<std::size_t>(index)].labels; }

  // The map and cell under a widget position; false outside every map.
  bool cellAt(const QPointF& position, int* map, int* query, int* key) const;
  QPointF cellCentre(int map, int query, int key) const;
  // Both weights and their difference (or which text has no such token).
  QString toolTipFor(int map, int query, int key) const;

  // A size at which every map is readable: the window's minimum, and the export's size when none is given.
  QSize naturalSize() const;
  // The comparison's grid as an export draws it (File ▸ Export Image and the headless export alike): painted
  // here, on the GUI thread, into paint commands that Exporter::encode turns into PNG, SVG or PDF anywhere.
  // An empty request size is naturalSize(). Throws attnscope::Error for a size out of range.
  static RecordedImage record(const ComparisonPointer& comparison, const DisplayOptions& options,
                              const ImageRequest& request);

 signals:
  // The pointer over a cell of A's positions (a difference map's or A's; B's beyond m have none), in A's
  // tokens; (-1, -1) elsewhere. A click there selects that query of A.
  void cellHovered(int query, int key);
  void cellClicked(int maskRow, int head, int query);

 private:
  struct Map {
    MapKey key;
    int tokens = 0;
    QStringList labels;
    QCPAxisRect* axisRect = nullptr;
    QCPColorMap* colorMap = nullptr;
  };

  void addMap(QCPLayoutGrid* grid, int gridRow, int column, const MapKey& key, const QCPRange& range);
  void fillCells(Map& map) const;
  QStringList labelsOf(MapKind kind) const;
  int gridRowsPerMask() const;
  // Whether a cell of map `map` stands for A's cell (query, key).
  bool isACell(int map, int query, int key) const;

  ComparisonPointer m_comparison;
  DisplayOptions m_options;
  std::vector<Map> m_maps;
};

}  // namespace attnscope::ui
