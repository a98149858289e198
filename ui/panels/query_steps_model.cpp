#include "panels/query_steps_model.hpp"

#include <QColor>

#include "text.hpp"

namespace attnscope::ui {
QueryStepsModel::QueryStepsModel(QObject* parent) : QAbstractTableModel(parent) {}

void QueryStepsModel::setContent(const SnapshotPointer& snapshot, const QuerySelection& selection) {
  beginResetModel();
  m_snapshot = snapshot;
  m_selection = selection;
  endResetModel();
}

bool QueryStepsModel::valid() const {
  return m_snapshot && m_selection.query >= 0 && m_selection.query < m_snapshot->tokenCount() &&
         m_selection.maskRow < m_snapshot->maskCount() && m_selection.head < m_snapshot->headCount();
}

int QueryStepsModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() || !valid() ? 0 : m_snapshot->tokenCount();
}

int QueryStepsModel::columnCount(const QModelIndex& parent) const {
  if (parent.isValid()) return 0;
  return m_snapshot && m_snapshot->hasDropout() ? dropoutColumn + 1 : scaledColumn + 1;
}

QVariant QueryStepsModel::data(const QModelIndex& index, int role) const {
  if (!valid() || !index.isValid()) return {};
  const int key = index.row();
  const int query = m_selection.query;
  const int row = m_selection.maskRow;
  const int head = m_selection.head;
  const bool masked = m_snapshot->isMasked(row, query, key);
  const auto value = [&](Quantity quantity) { return m_snapshot->value(row, head, quantity, query, key); };

  if (role == Qt::DisplayRole) {
    switch (index.column()) {
      case keyColumn:
        return QStringLiteral("%1 %2").arg(key + 1).arg(displayToken(m_snapshot->tokenTexts.at(key), 12));
      case scoreColumn:
        return formatValue(value(Quantity::rawScores));
      case scaledColumn:
        return formatValue(value(Quantity::scaledScores));
      case maskedColumn:
        return masked ? QStringLiteral("\u2212\u221e") : formatValue(value(Quantity::scaledScores));
      case weightColumn:
        return formatValue(value(Quantity::weights));
      case dropoutColumn:
        return formatValue(value(Quantity::dropoutWeights));
    }
  } else if (role == Qt::TextAlignmentRole) {
    return index.column() == keyColumn ? int(Qt::AlignLeft | Qt::AlignVCenter)
                                       : int(Qt::AlignRight | Qt::AlignVCenter);
  } else if (role == Qt::ForegroundRole) {
    if (masked && index.column() != scoreColumn && index.column() != scaledColumn)
      return QColor(0x8a, 0x8a, 0x8a);
  } else if (role == Qt::ToolTipRole && masked) {
    return tr("Key %1 is hidden from query %2 by the %3 mask: its score becomes \u2212\u221e, its weight 0.")
        .arg(key + 1)
        .arg(query + 1)
        .arg(m_snapshot->maskLabel(row));
  }
  return {};
}

QVariant QueryStepsModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal) return {};
  const bool sum = m_snapshot && !m_snapshot->rows.empty() &&
                   m_snapshot->rows.front().config.normalization == Normalization::sum;
  if (role == Qt::DisplayRole) {
    switch (section) {
      case keyColumn:
        return tr("key");
      case scoreColumn:
        return tr("q\u00b7k");
      case scaledColumn: {
        if (!valid()) return tr("scaled");
        const float scale = m_snapshot->head(m_selection.maskRow, m_selection.head).scale;
        return scale == 1.0f ? tr("scaled (\u00d71)") : tr("\u00d7 %1").arg(QString::number(scale, 'g', 4));
      }
      case maskedColumn:
        return tr("masked");
      case weightColumn:
        return sum ? tr("\u00f7 sum") : tr("softmax");
      case dropoutColumn:
        return tr("dropout");
    }
  } else if (role == Qt::ToolTipRole) {
    switch (section) {
      case scoreColumn:
        return tr("The raw attention score: the query's vector dotted with the key's");
      case scaledColumn:
        return tr(
            "The score times 1/\u221ahead_dim (PyTorch divides by \u221ahead_dim); simplified attention does "
            "not "
            "scale");
      case maskedColumn:
        return tr("\u2212\u221e where the mask hides the key, so that its weight becomes exactly 0");
      case weightColumn:
        return sum ? tr("The visible scaled scores divided by their sum") : tr("softmax over the row");
      case dropoutColumn:
        return tr("Dropout in training mode: each weight kept and scaled by 1/(1\u2212p), or dropped to 0");
    }
  }
  return {};
}

}  // namespace attnscope::ui
