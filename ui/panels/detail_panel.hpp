#pragma once
// The selected query, explained: its weights over the keys as bars (as the seed notebook plots them for
// "journey"), the numbers behind each step, and its query, context and output vectors.

#include <QLabel>
#include <QTableView>
#include <QTableWidget>
#include <QWidget>

#include "compute/attention_snapshot.hpp"
#include "panels/query_steps_model.hpp"
#include "state/scope_model.hpp"

class QCustomPlot;
class QStackedWidget;
class QTimer;
class QCheckBox;

namespace attnscope::ui {

class TokenAxisTicker;

class DetailPanel : public QWidget {
  Q_OBJECT

 public:
  explicit DetailPanel(QWidget* parent = nullptr);

  // Explains the model's selected query. A new snapshot's explanation is filled in an event of its own,
  // after the heatmaps are painted: the GUI thread never does both in one go.
  void setModel(ScopeModel* model);
  void setContent(const SnapshotPointer& snapshot, const QuerySelection& selection);

  QString heading() const { return m_heading->text(); }
  QCustomPlot* barChart() const { return m_bars; }
  // The keys the bar chart shows, in text order, bar i at x = i. Over kManyKeys keys only the kTopKeys
  // largest weights and the query's own key, unless "All keys" is checked (remembered in QSettings).
  static constexpr int kManyKeys = 24;
  static constexpr int kTopKeys = 16;
  const QVector<int>& shownKeys() const { return m_shownKeys; }
  QCheckBox* allKeysButton() const { return m_allKeys; }
  // The chart's title and, over kManyKeys keys, how many are shown and masked.
  QString barsNote() const { return m_barsTitle->text() + QLatin1Char(' ') + m_barsTitle->toolTip(); }
  // The bar chart's tooltip at pixel x: the key, and its weight or that it is masked.
  QString barToolTip(double x) const;
  QTableView* stepsView() const { return m_stepsView; }
  QueryStepsModel* stepsModel() const { return m_steps; }
  QTableWidget* vectorsTable() const { return m_vectors; }

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void showBars();
  void fitBarLabels();
  void showVectors();

  QTimer* m_followSnapshot;
  bool m_snapshotArrived = false;
  SnapshotPointer m_snapshot;
  QuerySelection m_selection;
  QStackedWidget* m_stack;
  QLabel* m_placeholder;
  QLabel* m_heading;
  QLabel* m_formula;
  QCustomPlot* m_bars;
  QSharedPointer<TokenAxisTicker> m_barTicker;
  QCheckBox* m_allKeys;
  QLabel* m_barsTitle;
  QVector<int> m_shownKeys;
  QueryStepsModel* m_steps;
  QTableView* m_stepsView;
  QTableWidget* m_vectors;
};

}  // namespace attnscope::ui
