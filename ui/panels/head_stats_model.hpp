#pragma once
// Every head of a snapshot as a table row: its layer (a model's), head and mask, the seven statistics of
// attnscope/head_stats.hpp, and with a probe the head's weight from the probed query to its key, and that
// key's rank in the query's row; with Compare, the head's total variation from input B (the layer shown).
// Sorting reads Qt::UserRole: the number itself, below every number where a statistic has none.

#include <QAbstractTableModel>
#include <optional>

#include "compute/attention_snapshot.hpp"
#include "compute/comparison.hpp"
#include "compute/snapshot_probe.hpp"

namespace attnscope::ui {

class HeadStatsModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  enum Column { layer, head, mask, firstStatistic };
  static constexpr int kStatistics = 7;
  static constexpr int kProbeWeight = firstStatistic + kStatistics;
  static constexpr int kProbeRank = kProbeWeight + 1;
  static constexpr int kTotalVariation = kProbeRank + 1;

  explicit HeadStatsModel(QObject* parent = nullptr);

  void setSnapshot(const SnapshotPointer& snapshot);
  const SnapshotPointer& snapshot() const { return m_snapshot; }
  // The probe of this snapshot (its mask row's heads get a weight and a rank), or none.
  void setProbe(std::optional<SnapshotProbe> probe);
  const std::optional<SnapshotProbe>& probe() const { return m_probe; }
  // Compare's result (kept across snapshots: it arrives just before its own); null while Compare is off.
  void setComparison(ComparisonPointer comparison);

  // Where row `row` points in the snapshot.
  struct Place {
    int maskRow = 0;
    int layer = 0;
    int head = 0;
  };
  Place placeOf(int row) const;
  // The head's total_variation when the comparison covers it (its layer, mask row and head), else none.
  std::optional<double> totalVariationOf(const Place& place) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  const ProbeHit* hitOf(const Place& place) const;

  SnapshotPointer m_snapshot;
  std::optional<SnapshotProbe> m_probe;
  ComparisonPointer m_comparison;
  std::vector<int> m_hitIndex;  // layer · heads + head → index into m_probe->hits, −1 for none
};

// The statistic in column firstStatistic + i: its value (empty where no row counts), its short name (a column
// header) and what it means (the header's tooltip).
std::optional<double> statisticOf(const HeadStats& stats, int i);
QString statisticName(int i);
QString statisticDescription(int i);

}  // namespace attnscope::ui
