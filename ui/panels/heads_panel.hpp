#pragma once
// The Heads dock: every head of the snapshot on screen (every layer's, for a model) with its statistics,
// sortable by any of them, to find the heads that do something — look only at the previous token, park their
// weight on the first token, focus on one key. A click shows that head in the grid; the table exports as CSV
// in attnscope-cli's `compute --stats --format csv` columns. With a probe key (its field, or Alt+click on a
// cell or a chip) every head gets its weight from the selected query to that key, the table sorts by it, and
// the status line names the strongest heads.

#include <QWidget>

#include "state/scope_model.hpp"

class QComboBox;
class QTableView;
class QSortFilterProxyModel;
class QPushButton;

namespace attnscope::ui {

class HeadStatsModel;

class HeadsPanel : public QWidget {
  Q_OBJECT

 public:
  explicit HeadsPanel(QWidget* parent = nullptr);

  void setModel(ScopeModel* model);

  QTableView* table() const { return m_table; }
  QComboBox* probeField() const { return m_probeField; }
  // The snapshot's table in attnscope-cli's CSV (layer,head,mask, the seven statistics; heads from 0),
  // written atomically; false with `error` set when it cannot be written.
  bool exportCsv(const QString& path, QString* error) const;

 signals:
  // A row was clicked: show that head (of that layer, for a model) in the grid.
  void headClicked(int maskRow, int layer, int head);
  void statusMessage(const QString& message);

 private:
  void exportCsvDialog();
  void fillProbeField();
  void updateProbe();

  ScopeModel* m_model = nullptr;
  HeadStatsModel* m_stats;
  QSortFilterProxyModel* m_sorted;
  QTableView* m_table;
  QPushButton* m_exportButton;
  QComboBox* m_probeField;
  QStringList m_probeTokens;  // the tokens the probe field's items name, in order
};

}  // namespace attnscope::ui
