#pragma once
// Paints the maps of a snapshot as a figure for a page: the geometry comes from FigureLayout (headers
// instead of per-map titles, token labels once on the outer edges, square cells, one colour bar per
// quantity), the cells from the snapshot, reduced to the page's pixels for a long text. Every image export
// (PNG, SVG, PDF, each map to a folder) and the window's "fit all heads" view (FigureView) draw through it,
// so they all share one layout. Not tied to a thread: the view builds its figures on a worker.
// With a GPT-2 model the mask rows none and causal are the same map (the model's own causal mask): they are
// drawn once, as "causal (the model's own)".

#include <QPainter>
#include <optional>
#include <vector>

#include "compute/attention_snapshot.hpp"
#include "plot/figure_layout.hpp"
#include "plot/heatmap_plot.hpp"
#include "state/display_options.hpp"

namespace attnscope::ui {

class FigureRenderer {
 public:
  // The whole grid, or only one map. Throws attnscope::Error when there is nothing to draw.
  FigureRenderer(SnapshotPointer snapshot, const DisplayOptions& options, std::optional<MapKey> only = {});

  // The layout for a page of `page` layout units (maps filled in at `pixelsPerUnit` device pixels a unit).
  FigureLayout layout(QSizeF page, const FigureStyle& style, double pixelsPerUnit = 1.0);
  // Paints the figure onto `painter`, whose coordinates are layout units from (0, 0); returns its layout.
  FigureLayout paint(QPainter* painter, QSizeF page, const FigureStyle& style, double pixelsPerUnit = 1.0);

  // The pieces every painter of a FigureLayout shares (the figure here, the model overview): a colour bar's
  // gradient, low at the bottom, filling `bar`; one of the layout's texts, read bottom to top when vertical.
  static void paintScaleStrip(QPainter* painter, const QRectF& bar, QCPColorGradient gradient);
  static void paintText(QPainter* painter, const FigureText& text);

  // The maps drawn, group by group (quantity blocks, then mask rows), head by head.
  int groupCount() const { return static_cast<int>(m_groups.size()); }
  int headCount() const { return static_cast<int>(m_heads.size()); }
  MapKey mapKey(int group, int head) const;

 private:
  struct Group {
    int maskRow;
    Quantity quantity;
  };
  FigureSpec spec(QSizeF page, const FigureStyle& style) const;
  void buildCells(double side, double pixelsPerUnit);

  SnapshotPointer m_snapshot;
  DisplayOptions m_options;
  bool m_single = false;  // one map: its header names the quantity too
  std::vector<Group> m_groups;
  std::vector<int> m_heads;
  std::vector<Quantity> m_quantities;  // one colour bar each, in the order of the groups
  // Filled by buildCells: each map's cells (group-major), and each quantity's colour range and largest value
  // (which may lie above the range).
  std::vector<MapCells> m_cells;
  std::vector<QCPRange> m_ranges;
  std::vector<double> m_maxima;
  int m_cellPixels = 0;
};

}  // namespace attnscope::ui
