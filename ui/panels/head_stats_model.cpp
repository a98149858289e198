#include "panels/head_stats_model.hpp"

#include <array>
#include <limits>

namespace attnscope::ui {

std::optional<double> statisticOf(const HeadStats& stats, int i) {
  const std::array<std::optional<double>, HeadStatsModel::kStatistics> values{
      stats.entropy_bits, stats.normalized_entropy, stats.effective_keys, stats.max_weight, stats.first_token,
      stats.self,         stats.previous_token};
  return values.at(static_cast<std::size_t>(i));
}

QString statisticName(int i) {
  static const std::array<const char*, HeadStatsModel::kStatistics> names{"H bits", "H norm", "keys", "max",
                                                                          "first",  "self",   "prev"};
  return QString::fromLatin1(names.at(static_cast<std::size_t>(i)));
}

QString statisticDescription(int i) {
  static const std::array<const char*, HeadStatsModel::kStatistics> descriptions{
      "Mean over the query rows of H = \u2212\u03a3 w\u00b7log2 w: how spread the weights are",
      "Mean of H / log2(visible keys), rows with two or more keys: 0 = one key, 1 = uniform",
      "Mean of 2^H: how many keys a row really uses",
      "Mean of each row's largest weight: how focused the head is",
      "Mean weight on the first token (the \u201cattention sink\u201d share)",
      "Mean weight of each query on itself",
      "Mean weight of each query on the token before it"};
  return QString::fromUtf8(descriptions.at(static_cast<std::size_t>(i)));
}

HeadStatsModel::HeadStatsModel(QObject* parent) : QAbstractTableModel(parent) {}

void HeadStatsModel::setSnapshot(const SnapshotPointer& snapshot) {
  beginResetModel();
  m_snapshot = snapshot;
  endResetModel();
}

HeadStatsModel::Place HeadStatsModel::placeOf(int row) const {
  const int heads = m_snapshot->mechanismHeadCount();
  const int layers = m_snapshot->statsLayerCount();
  return {row / (layers * heads), row / heads % layers, row % heads};
}

int HeadStatsModel::rowCount(const QModelIndex& parent) const {
  if (parent.isValid() || !m_snapshot) return 0;
  return static_cast<int>(m_snapshot->headStats.size());
}

int HeadStatsModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : firstStatistic + kStatistics;
}

QVariant HeadStatsModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || !m_snapshot) return {};
  const Place place = placeOf(index.row());
  const int column = index.column();
  if (role == Qt::TextAlignmentRole)
    return column >= firstStatistic ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant();
  if (role == Qt::ToolTipRole && column >= firstStatistic)
    return statisticDescription(column - firstStatistic);
  if (role != Qt::DisplayRole && role != Qt::UserRole) return {};
  // Heads and layers count from 0, as the grid, the layer selector and the CLI's JSON name them.
  if (column == layer) return place.layer;
  if (column == head) return place.head;
  if (column == mask) return m_snapshot->maskLabel(place.maskRow);
  const std::optional<double> value =
      statisticOf(m_snapshot->statsOf(place.maskRow, place.layer, place.head), column - firstStatistic);
  if (role == Qt::UserRole) return value.value_or(std::numeric_limits<double>::lowest());
  return value ? QString::number(*value, 'f', 3) : QStringLiteral("\u2013");
}

QVariant HeadStatsModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal) return {};
  if (role == Qt::ToolTipRole && section >= firstStatistic)
    return statisticDescription(section - firstStatistic);
  if (role != Qt::DisplayRole) return {};
  if (section == layer) return tr("layer");
  if (section == head) return tr("head");
  if (section == mask) return tr("mask");
  return statisticName(section - firstStatistic);
}

}  // namespace attnscope::ui
