#pragma once
// The Geometry dock: the selected head's queries and keys as points in a plane, with lines from the selected
// query to the keys it weighs. For head_dim 2 (the chapter's examples) the points are the vectors
// themselves; otherwise both sets are projected on the first two principal components of their union
// (attnscope::head_geometry), and the axes say how much of the variance each keeps. Hovering a key gives
// q·k, the scaled score and the weight; clicking a query selects it. A long text's geometry is computed off
// the GUI thread, and only the selected query and its heaviest keys get lines and labels.

#include <QLabel>
#include <QThreadPool>
#include <QWidget>
#include <optional>

#include "attnscope/geometry.hpp"
#include "compute/restartable_job.hpp"
#include "plot/geometry_plot.hpp"
#include "state/scope_model.hpp"

class QPushButton;
class QStackedWidget;
class QTimer;

namespace attnscope::ui {

class GeometryPanel : public QWidget {
  Q_OBJECT

 public:
  explicit GeometryPanel(QWidget* parent = nullptr);
  ~GeometryPanel() override;

  // Follows the model's snapshot and selection while it is in view; in a dock (set before this call) that is
  // closed or tabbed behind another, it lets go of the snapshot and catches up when the dock is shown.
  void setModel(ScopeModel* model);
  void setContent(const SnapshotPointer& snapshot, const QuerySelection& selection);

  GeometryPlot* plot() const { return m_plot; }
  QString heading() const { return m_heading->text(); }
  QString note() const { return m_note->text(); }
  QPushButton* exportButton() const { return m_exportButton; }
  // The geometry on screen is the selection's head's (false while it is computed, or with nothing to show).
  bool isCurrent() const { return m_current; }
  // Up to kAllLines unmasked keys each get a line, else the kTopLines heaviest; up to kAllLabels tokens each
  // get labels, else the selected query and the kTopLabels heaviest keys.
  static constexpr int kAllLines = 64;
  static constexpr int kTopLines = 32;
  static constexpr int kAllLabels = 24;
  static constexpr int kTopLabels = 8;

  // The tooltip at `position` (plot pixels): a key's q·k, scaled score and weight for the selected query, or
  // a query's token; empty away from any point.
  QString toolTipAt(QPointF position) const;
  // The plot as on screen, titled with the head, mask and query (PNG at twice its pixels), SVG or PDF by the
  // suffix, written atomically; false with `error` set for another suffix or when it cannot be written.
  bool exportImage(const QString& path, QString* error) const;

 signals:
  void statusMessage(const QString& message);

 private:
  void requestGeometry();
  void showGeometry(const HeadGeometry& geometry);
  void showHighlight();
  void showPlaceholder(const QString& text);
  void exportDialog();

  ScopeModel* m_model = nullptr;
  QTimer* m_followSnapshot;
  bool m_snapshotArrived = false;
  bool m_stale = false;  // the model changed while the panel was out of view
  SnapshotPointer m_snapshot;
  QuerySelection m_selection;
  // Whether the plot shows the geometry of m_snapshot's selected mask row and head.
  bool m_current = false;
  quint64 m_jobGeneration = 0;  // the job in flight for it (while m_job has not moved on), or 0
  QThreadPool m_pool;           // one thread: a superseded job waiting in it returns at once
  RestartableJob m_job;

  QStackedWidget* m_stack;
  QLabel* m_placeholder;
  QLabel* m_heading;
  QString m_title;  // the heading in plain text, over an export
  QLabel* m_note;
  GeometryPlot* m_plot;
  QPushButton* m_exportButton;
};

}  // namespace attnscope::ui
