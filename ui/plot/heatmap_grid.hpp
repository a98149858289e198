#pragma once
// The centre of the window: the heatmap plot, with hover tooltips and click-to-select, an empty-state hint
// when there is nothing to show, and a banner that explains why the maps on screen are the last valid ones.
// Two modes, switched by the View menu's "Fit All Heads" (Ctrl+0): the maps at a readable size that scroll
// (HeatmapPlot), or every map fitted into the window as the export figure lays them out (FigureView). While
// Compare has input B, the comparison's grid (ComparePlot) replaces both.

#include <QAction>
#include <QLabel>
#include <QPushButton>
#include <QScrollArea>
#include <QStackedWidget>
#include <QWidget>

#include "plot/compare_plot.hpp"
#include "plot/figure_view.hpp"
#include "plot/heatmap_plot.hpp"
#include "state/scope_model.hpp"

namespace attnscope::ui {

class HeatmapGrid : public QWidget {
  Q_OBJECT

 public:
  explicit HeatmapGrid(QWidget* parent = nullptr);

  // Shows the model's snapshot as it draws it, with its hover and selection; hovering, clicking and Up/Down
  // change them.
  void setModel(ScopeModel* model);
  HeatmapPlot* plot() const { return m_plot; }
  FigureView* figureView() const { return m_figure; }
  ComparePlot* comparePlot() const { return m_compare; }
  // Compare is on and input B computed: the comparison's grid is on screen.
  bool showsComparison() const;
  // Checkable, Ctrl+0: every head fitted into the window instead of readable maps that scroll.
  QAction* fitAction() const { return m_fitAction; }
  void setFitAllHeads(bool fit);
  bool fitsAllHeads() const { return m_fitAction->isChecked(); }
  // The widget that shows the maps in the current mode (for the focus chain).
  QWidget* mapsWidget() const;
  void setContent(const SnapshotPointer& snapshot, const DisplayOptions& options);
  void setHover(int query, int key);
  void setSelection(const QuerySelection& selection);
  // Scrolls the grid (when it is wider or taller than the window) to the first map of that row and head.
  void ensureMapVisible(int maskRow, int head);
  // A problem with the current settings; the maps of the last valid ones stay below it.
  void showProblem(const QString& message);
  void clearProblem();
  QString problem() const;
  bool isShowingHint() const;
  QString hint() const;
  // Shown above the maps when a shared colour range leaves some maps flat (one colour); its button asks the
  // model for one range per map.
  QWidget* rangeHint() const { return m_rangeHint; }
  QPushButton* rangeHintButton() const { return m_rangeHintButton; }

  // What the tooltip says for a cell: query and key tokens, raw and scaled score, weight (and dropout
  // weight).
  QString toolTipFor(int map, int query, int key) const;
  QString toolTipFor(const MapKey& map, int query, int key) const;

 signals:
  void cellHovered(int query, int key);  // (-1, -1) when the pointer leaves the maps
  void cellClicked(const attnscope::ui::MapKey& map, int query);
  void keyProbed(int key);       // Alt+click: the probe asks every head about this key
  void queryStepped(int delta);  // Up / Down in the grid

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void onMouseMove(QMouseEvent* event);
  void onMousePress(QMouseEvent* event);
  void showHint(const QString& text);
  void fitPlotWidth();
  void showMaps();  // the page of the current mode
  void updateRangeHint();
  void setComparison(const ComparisonPointer& comparison, const DisplayOptions& options);

  ScopeModel* m_model = nullptr;
  HeatmapPlot* m_plot;
  QLabel* m_banner;
  QWidget* m_rangeHint;
  QLabel* m_rangeHintText;
  QPushButton* m_rangeHintButton;
  QLabel* m_hint;
  QScrollArea* m_scroll;
  QStackedWidget* m_stack;
  FigureView* m_figure;
  ComparePlot* m_compare;
  QScrollArea* m_compareScroll;
  QAction* m_fitAction;
};

}  // namespace attnscope::ui
