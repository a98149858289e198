#pragma once
// Every head of a snapshot as a table row: its layer (a model's), head and mask, and the seven statistics
// of attnscope/head_stats.hpp. Sorting reads Qt::UserRole: the number itself, below every number where a
// statistic has none.

#include <QAbstractTableModel>

#include "compute/attention_snapshot.hpp"

namespace attnscope::ui {

class HeadStatsModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  enum Column { layer, head, mask, firstStatistic };
  static constexpr int kStatistics = 7;

  explicit HeadStatsModel(QObject* parent = nullptr);

  void setSnapshot(const SnapshotPointer& snapshot);
  const SnapshotPointer& snapshot() const { return m_snapshot; }

  // Where row `row` points in the snapshot.
  struct Place {
    int maskRow = 0;
    int layer = 0;
    int head = 0;
  };
  Place placeOf(int row) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  SnapshotPointer m_snapshot;
};

// The statistic in column firstStatistic + i: its value (empty where no row counts), its short name (a column
// header) and what it means (the header's tooltip).
std::optional<double> statisticOf(const HeadStats& stats, int i);
QString statisticName(int i);
QString statisticDescription(int i);

}  // namespace attnscope::ui
