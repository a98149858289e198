#include "panels/head_stats_model.hpp"

#include <array>
#include <limits>
#include <utility>

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
  m_probe.reset();
  m_hitIndex.clear();
  endResetModel();
}

void HeadStatsModel::setProbe(std::optional<SnapshotProbe> probe) {
  // No probe before or now: nothing to tell the view, whose columns fit their contents again on every change
  // (some 7 ms for GPT-2's 144 heads a mask).
  if (!probe && !m_probe) return;
  m_probe = std::move(probe);
  m_hitIndex.clear();
  if (m_probe && m_snapshot) {
    const int heads = m_snapshot->mechanismHeadCount();
    m_hitIndex.assign(static_cast<std::size_t>(m_snapshot->statsLayerCount() * heads), -1);
    for (std::size_t i = 0; i < m_probe->hits.size(); ++i)
      m_hitIndex[static_cast<std::size_t>(m_probe->hits[i].layer * heads + m_probe->hits[i].head)] =
          static_cast<int>(i);
  }
  emit headerDataChanged(Qt::Horizontal, kProbeWeight, kProbeRank);
  if (rowCount() > 0) emit dataChanged(index(0, kProbeWeight), index(rowCount() - 1, kProbeRank));
}

void HeadStatsModel::setComparison(ComparisonPointer comparison) {
  m_comparison = std::move(comparison);
  emit headerDataChanged(Qt::Horizontal, kTotalVariation, kTotalVariation);
  if (rowCount() > 0) emit dataChanged(index(0, kTotalVariation), index(rowCount() - 1, kTotalVariation));
}

std::optional<double> HeadStatsModel::totalVariationOf(const Place& place) const {
  if (!m_comparison || !m_comparison->b) return std::nullopt;
  const AttentionSnapshot& a = *m_comparison->a;
  const int layer = a.model ? a.model->layer : 0;
  if (place.layer != layer || place.maskRow >= static_cast<int>(m_comparison->rows.size()) ||
      place.head >= static_cast<int>(m_comparison->rows[place.maskRow].size()))
    return std::nullopt;
  return m_comparison->of(place.maskRow, place.head).total_variation;
}

const ProbeHit* HeadStatsModel::hitOf(const Place& place) const {
  if (!m_probe || place.maskRow != m_probe->maskRow || m_hitIndex.empty()) return nullptr;
  const int hit =
      m_hitIndex[static_cast<std::size_t>(place.layer * m_snapshot->mechanismHeadCount() + place.head)];
  return hit < 0 ? nullptr : &m_probe->hits[static_cast<std::size_t>(hit)];
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
  return parent.isValid() ? 0 : kTotalVariation + 1;
}

QVariant HeadStatsModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || !m_snapshot) return {};
  const Place place = placeOf(index.row());
  const int column = index.column();
  if (role == Qt::TextAlignmentRole)
    return column >= firstStatistic ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant();
  if (role == Qt::ToolTipRole && column == kTotalVariation) return headerData(column, Qt::Horizontal, role);
  if (role == Qt::ToolTipRole && column >= firstStatistic && column < kProbeWeight)
    return statisticDescription(column - firstStatistic);
  if (role != Qt::DisplayRole && role != Qt::UserRole) return {};
  if (column == kProbeWeight || column == kProbeRank) {
    const ProbeHit* hit = hitOf(place);
    if (role == Qt::UserRole) {
      if (column == kProbeWeight) return hit ? double(hit->weight) : std::numeric_limits<double>::lowest();
      return hit ? hit->rank : std::numeric_limits<int>::max();
    }
    if (!hit) return QStringLiteral("\u2013");
    return column == kProbeWeight ? QString::number(hit->weight, 'f', 3) : QString::number(hit->rank);
  }
  if (column == kTotalVariation) {
    const std::optional<double> value = totalVariationOf(place);
    if (role == Qt::UserRole) return value.value_or(std::numeric_limits<double>::lowest());
    return value ? QString::number(*value, 'f', 3) : QStringLiteral("\u2013");
  }
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
  if (role == Qt::ToolTipRole && section == kProbeWeight)
    return tr("The probed query's weight on the probed key in this head");
  if (role == Qt::ToolTipRole && section == kProbeRank)
    return tr("1 + the number of keys the probed query weighs more than the probed key");
  if (role == Qt::ToolTipRole && section == kTotalVariation)
    return tr(
        "Compare: the mean over the m aligned query rows of \u00bd\u00b7\u03a3 over the m aligned keys of "
        "|A \u2212 B|, this head's weights for the text against text B's (0 = equal)");
  if (role == Qt::ToolTipRole && section >= firstStatistic && section < kProbeWeight)
    return statisticDescription(section - firstStatistic);
  if (role != Qt::DisplayRole) return {};
  if (section == kProbeWeight)
    return m_probe && m_snapshot ? QStringLiteral("%1\u2192%2")
                                       .arg(m_snapshot->tokenTexts.value(m_probe->query).left(8),
                                            m_snapshot->tokenTexts.value(m_probe->key).left(8))
                                 : tr("probe");
  if (section == kProbeRank) return tr("rank");
  if (section == kTotalVariation) return tr("TV vs B");
  if (section == layer) return tr("layer");
  if (section == head) return tr("head");
  if (section == mask) return tr("mask");
  return statisticName(section - firstStatistic);
}

}  // namespace attnscope::ui
