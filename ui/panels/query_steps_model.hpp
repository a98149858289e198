#pragma once
// The numbers behind one query's weights, one row per key: score → scaled → masked → normalised → dropout.

#include <QAbstractTableModel>

#include "compute/attention_snapshot.hpp"
#include "state/scope_model.hpp"

namespace attnscope::ui {

class QueryStepsModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  // The masked score and the weight come right after the key, so that a narrow dock shows them without
  // scrolling sideways; q·k and the scaled score (what the masked score is made from) follow.
  enum Column { keyColumn, maskedColumn, weightColumn, scoreColumn, scaledColumn, dropoutColumn };

  explicit QueryStepsModel(QObject* parent = nullptr);

  void setContent(const SnapshotPointer& snapshot, const QuerySelection& selection);

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  bool valid() const;

  SnapshotPointer m_snapshot;
  QuerySelection m_selection;
};

}  // namespace attnscope::ui
