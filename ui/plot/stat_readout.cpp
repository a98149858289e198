#include "plot/stat_readout.hpp"

namespace attnscope::ui {
namespace {

QString number(const std::optional<double>& value, int decimals) {
  return value ? QString::number(*value, 'f', decimals) : QStringLiteral("\u2013");
}

const QString kSeparator = QStringLiteral(" \u00b7 ");

}  // namespace

std::optional<HeadStats> shownStatsOf(const AttentionSnapshot& snapshot, int maskRow, int head) {
  if (snapshot.isSummary(head) || head < 0 || head >= snapshot.mechanismHeadCount() || maskRow < 0 ||
      maskRow >= snapshot.maskCount())
    return std::nullopt;
  const int layer = snapshot.model ? snapshot.model->layer : 0;
  const std::size_t index = static_cast<std::size_t>(
      (maskRow * snapshot.statsLayerCount() + layer) * snapshot.mechanismHeadCount() + head);
  if (index >= snapshot.headStats.size()) return std::nullopt;
  return snapshot.statsOf(maskRow, layer, head);
}

QString statReadout(const HeadStats& stats) {
  return QStringLiteral("H ") + number(stats.entropy_bits, 1) + QStringLiteral(" bits") + kSeparator +
         QStringLiteral("self ") + number(stats.self, 2) + kSeparator + QStringLiteral("prev ") +
         number(stats.previous_token, 2) + kSeparator + QStringLiteral("first ") +
         number(stats.first_token, 2);
}

QString statReadoutToolTip(const HeadStats& stats) {
  return QStringLiteral("entropy ") + number(stats.entropy_bits, 2) + QStringLiteral(" bits") + kSeparator +
         QStringLiteral("attention to itself ") + number(stats.self, 3) + kSeparator +
         QStringLiteral("to the previous token ") + number(stats.previous_token, 3) + kSeparator +
         QStringLiteral("to the first token ") + number(stats.first_token, 3) +
         QStringLiteral(
             "\n(each a mean over the query rows that see a key, from the weights before dropout)");
}

QString statReadout(const AttentionSnapshot& snapshot, int maskRow, int head) {
  const std::optional<HeadStats> stats = shownStatsOf(snapshot, maskRow, head);
  return stats ? statReadout(*stats) : QString();
}

QString statReadoutToolTip(const AttentionSnapshot& snapshot, int maskRow, int head) {
  const std::optional<HeadStats> stats = shownStatsOf(snapshot, maskRow, head);
  return stats ? statReadoutToolTip(*stats) : QString();
}

}  // namespace attnscope::ui
