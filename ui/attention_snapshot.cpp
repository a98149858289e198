#include "attention_snapshot.hpp"

#include <qcustomplot.h>

#include <algorithm>
#include <limits>

#include "attnscope/attention.hpp"
#include "text.hpp"

namespace attnscope::ui {
namespace {

// QCPColorMapData offers only per-cell setters (a call and a bounds check each); a subclass reaches the
// row-major buffer, so a 2,000-token map fills in a tight loop.
class CellBuffer : public QCPColorMapData {
 public:
  CellBuffer(int n, const QCPRange& range) : QCPColorMapData(n, n, range, range) {}
  double* cells() { return mData; }
  void setBounds(double minimum, double maximum) {
    mDataBounds = QCPRange(minimum, maximum);
    mDataModified = true;
  }
};

}  // namespace

std::vector<std::pair<int, int>> utf16Spans(const QString& text, const std::vector<Token>& tokens) {
  std::vector<int> offsetOfCodePoint;
  offsetOfCodePoint.reserve(static_cast<std::size_t>(text.size()) + 1);
  for (int i = 0; i < text.size(); ++i) {
    offsetOfCodePoint.push_back(i);
    if (text.at(i).isHighSurrogate() && i + 1 < text.size() && text.at(i + 1).isLowSurrogate()) ++i;
  }
  offsetOfCodePoint.push_back(static_cast<int>(text.size()));
  const auto toUtf16 = [&offsetOfCodePoint](std::size_t codePoint) {
    return offsetOfCodePoint[std::min(codePoint, offsetOfCodePoint.size() - 1)];
  };
  std::vector<std::pair<int, int>> spans;
  spans.reserve(tokens.size());
  for (const Token& token : tokens) spans.emplace_back(toUtf16(token.char_begin), toUtf16(token.char_end));
  return spans;
}

bool AttentionSnapshot::hasDropout() const {
  return !rows.empty() && !rows.front().result.heads.empty() &&
         rows.front().result.heads.front().dropout_weights.has_value();
}

QString AttentionSnapshot::headLabel(int head) const {
  if (isSummary(head))
    return headSummary == HeadSummary::max ? QStringLiteral("max of heads") : QStringLiteral("mean of heads");
  return QStringLiteral("head %1").arg(head + 1);
}

QString AttentionSnapshot::mechanismLabel(int row) const {
  if (model) return QStringLiteral("gpt2 layer %1").arg(model->layer);
  return toQString(to_string(rows[row].config.mechanism));
}

QString AttentionSnapshot::maskLabel(int row) const {
  const MaskSpec& mask = rows[row].mask;
  if (!model) return QString::fromStdString(mask.to_string());
  if (mask.kind == MaskKind::none || mask.kind == MaskKind::causal) return QStringLiteral("causal");
  return QStringLiteral("causal + ") + QString::fromStdString(mask.to_string());
}

const OverviewMap& AttentionSnapshot::overviewMap(int row, int layer, int head) const {
  const int heads = model->config.n_head;
  return overview[static_cast<std::size_t>((row * model->config.n_layer + layer) * heads + head)];
}

float AttentionSnapshot::value(int row, int head, Quantity quantity, int query, int key) const {
  const HeadResult& result = this->head(row, head);
  const auto score = [&] {
    // A summary keeps its masked cells' scores (it has no q and k to recompute them from).
    if (isSummary(head)) return result.scores(query, key);
    if (isMasked(row, query, key) || result.scores.size() == 0)
      return result.queries.row(query).dot(result.keys.row(key));
    return result.scores(query, key);
  };
  switch (quantity) {
    case Quantity::rawScores:
      return score();
    case Quantity::scaledScores:
      return score() * result.scale;
    case Quantity::weights:
      return result.weights(query, key);
    case Quantity::dropoutWeights:
      return result.dropout_weights ? (*result.dropout_weights)(query, key) : result.weights(query, key);
  }
  return 0.0f;
}

std::optional<MapCells> AttentionSnapshot::takePreparedCells(int row, int head, Quantity quantity) const {
  for (MapCells& map : prepared)
    if (map.cells && map.maskRow == row && map.head == head && map.quantity == quantity)
      return std::move(map);
  return std::nullopt;
}

MapCells buildMapCells(const AttentionSnapshot& snapshot, int maskRow, int head, Quantity quantity) {
  const int n = snapshot.tokenCount();
  // Cell centres at 0 … n-1; a single cell needs an explicit width (QCustomPlot derives it from neighbours).
  const QCPRange range = n > 1 ? QCPRange(0, n - 1) : QCPRange(-0.5, 0.5);
  auto buffer = std::make_unique<CellBuffer>(n, range);
  const HeadResult& result = snapshot.head(maskRow, head);
  const MaskMatrix& mask = snapshot.rows[maskRow].result.mask;
  const Matrix& source = quantity == Quantity::weights ? result.weights
                         : quantity == Quantity::dropoutWeights && result.dropout_weights
                             ? *result.dropout_weights
                         : quantity == Quantity::dropoutWeights ? result.weights
                                                                : result.scores;
  const float factor = quantity == Quantity::scaledScores ? result.scale : 1.0f;
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  double minimum = std::numeric_limits<double>::infinity(), maximum = -minimum;
  double* cells = buffer->cells();
  // Both are row-major n × n with the query as the row: data index = query · n + key, as QCustomPlot's.
  const float* values = source.data();
  const std::uint8_t* hidden = mask.data();
  const std::size_t count = static_cast<std::size_t>(n) * static_cast<std::size_t>(n);
  for (std::size_t i = 0; i < count; ++i) {
    if (hidden[i]) {
      cells[i] = nan;
      continue;
    }
    const double value = factor == 1.0f ? values[i] : values[i] * factor;  // the CSV's scaled score, in float
    cells[i] = value;
    minimum = std::min(minimum, value);
    maximum = std::max(maximum, value);
  }
  const bool any = minimum <= maximum;
  buffer->setBounds(any ? minimum : 0.0, any ? maximum : 0.0);
  MapCells map;
  map.maskRow = maskRow;
  map.head = head;
  map.quantity = quantity;
  // Handed over as a plain QCPColorMapData (its copy is one memcpy): QCustomPlot deletes it through that
  // type.
  map.cells = std::make_unique<QCPColorMapData>(*buffer);
  map.minimum = any ? minimum : nan;
  map.maximum = any ? maximum : nan;
  return map;
}

SnapshotPointer computeSnapshot(const AttentionInput& input, Backend& backend, const CancelToken& cancel,
                                const std::vector<Quantity>& prepare) {
  auto snapshot = std::make_shared<AttentionSnapshot>();
  snapshot->text = input.text;
  snapshot->tokenizer = input.tokenizer;
  snapshot->tokens = input.tokens;
  snapshot->tokenTexts.reserve(static_cast<qsizetype>(input.tokens.size()));
  for (const Token& token : input.tokens) snapshot->tokenTexts << toQString(token.text);
  snapshot->spans = utf16Spans(input.text, input.tokens);
  snapshot->embeddings = input.embeddings;
  snapshot->embeddingsNote = input.embeddingsNote;
  const std::vector<MaskSpec> masks =
      input.masks.empty() ? std::vector<MaskSpec>{input.config.effective_mask()} : input.masks;
  for (const MaskSpec& mask : masks) {
    cancel.throw_if_cancelled();
    MaskedResult row;
    row.mask = mask;
    row.config = input.config;
    row.config.mask = mask;
    try {
      row.result = compute_attention(row.config, input.embeddings, backend, cancel);
    } catch (const Error& error) {
      throw FieldError(mask.kind == MaskKind::file ? SettingsField::masks : SettingsField::general,
                       toQString(error.what()));
    }
    snapshot->computeMs += row.result.compute_ms;
    snapshot->device = QString::fromStdString(row.result.device);
    if (!row.result.fallback_reason.empty())
      snapshot->fallbackReason = QString::fromStdString(row.result.fallback_reason);
    snapshot->rows.push_back(std::move(row));
  }
  addHeadSummaries(*snapshot, input.headSummary);
  prepareMaps(*snapshot, prepare, cancel);
  return snapshot;
}

void addHeadSummaries(AttentionSnapshot& snapshot, HeadSummary summary) {
  snapshot.headSummary = summary;
  snapshot.summaries.clear();
  const int heads = snapshot.mechanismHeadCount();
  if (summary == HeadSummary::none || heads < 2) return;
  const bool mean = summary == HeadSummary::mean;
  const Eigen::Index n = snapshot.tokenCount();
  for (int row = 0; row < snapshot.maskCount(); ++row) {
    const AttentionResult& result = snapshot.rows[row].result;
    HeadResult combined;
    combined.scale = result.heads.front().scale;
    combined.queries = combined.keys = combined.values = combined.context = Matrix(n, 0);
    // Raw scores from value(), which recomputes a masked cell's q·k: the summary has no q and k of its own.
    combined.scores = Matrix(n, n);
    for (Eigen::Index query = 0; query < n; ++query)
      for (Eigen::Index key = 0; key < n; ++key) {
        float total = 0.0f, largest = -std::numeric_limits<float>::infinity();
        for (int head = 0; head < heads; ++head) {
          const float score =
              snapshot.value(row, head, Quantity::rawScores, static_cast<int>(query), static_cast<int>(key));
          total += score;
          largest = std::max(largest, score);
        }
        combined.scores(query, key) = mean ? total / static_cast<float>(heads) : largest;
      }
    const auto reduce = [&](auto pick) {
      Matrix out = pick(result.heads.front());
      for (int head = 1; head < heads; ++head)
        out = mean ? Matrix(out + pick(result.heads[head])) : Matrix(out.cwiseMax(pick(result.heads[head])));
      if (mean) out /= static_cast<float>(heads);
      return out;
    };
    combined.weights = reduce([](const HeadResult& head) -> const Matrix& { return head.weights; });
    if (result.heads.front().dropout_weights)
      combined.dropout_weights =
          reduce([](const HeadResult& head) -> const Matrix& { return *head.dropout_weights; });
    snapshot.summaries.push_back(std::move(combined));
  }
}

void prepareMaps(AttentionSnapshot& snapshot, const std::vector<Quantity>& quantities,
                 const CancelToken& cancel) {
  for (const Quantity quantity : quantities) {
    if (!snapshot.hasQuantity(quantity)) continue;
    for (int row = 0; row < snapshot.maskCount(); ++row)
      for (int head = 0; head < snapshot.headCount(); ++head) {
        cancel.throw_if_cancelled();
        snapshot.prepared.push_back(buildMapCells(snapshot, row, head, quantity));
      }
  }
}

}  // namespace attnscope::ui
