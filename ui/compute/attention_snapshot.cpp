#include "compute/attention_snapshot.hpp"

#include <qcustomplot.h>

#include <QCoreApplication>
#include <QFileInfo>
#include <QThread>
#include <QThreadPool>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <span>
#include <utility>

#include "attnscope/attention.hpp"
#include "attnscope/head_stats.hpp"
#include "attnscope/mask.hpp"
#include "attnscope/parallel.hpp"
#include "compute/background_pool.hpp"
#include "text.hpp"

namespace attnscope::ui {

void ColorMapDataDeleter::operator()(QCPColorMapData* cells) const {
  delete cells;
}

MapCells MapCells::copyFor(int row) const {
  MapCells copy;
  copy.maskRow = row;
  copy.head = head;
  copy.quantity = quantity;
  copy.region = region;
  copy.cells.reset(new QCPColorMapData(*cells));
  copy.minimum = minimum;
  copy.maximum = maximum;
  copy.anyMasked = anyMasked;
  copy.percentile99 = percentile99;
  return copy;
}

namespace {

// QCPColorMapData offers only per-cell setters (a call and a bounds check each); through this subclass's
// access to its members, a 2,000-token map fills its row-major buffer in a tight loop. The map is built in
// the QCPColorMapData that QCustomPlot is handed (and deletes through that type): a subclass's object would
// need a copy into one, a fill of zeros and a memcpy of every cell.
class CellAccess : public QCPColorMapData {
 public:
  CellAccess() = delete;
  static double* cells(QCPColorMapData& data) { return data.*&CellAccess::mData; }
  // Any map data's cells, row after row (QCustomPlot has no const accessor of them).
  static const double* cells(const QCPColorMapData& data) { return data.*&CellAccess::mData; }
  static void setBounds(QCPColorMapData& data, double minimum, double maximum) {
    (data.*&CellAccess::mDataBounds) = QCPRange(minimum, maximum);
    (data.*&CellAccess::mDataModified) = true;
  }
};

// The coordinates of the first and last cell centres along one axis. QCustomPlot derives a cell's extent
// from its neighbours, so a single cell gets its block's edges instead.
QCPRange cellRange(int begin, int block, int cells) {
  const double first = begin + (block - 1) / 2.0;
  return cells > 1 ? QCPRange(first, first + (cells - 1) * static_cast<double>(block))
                   : QCPRange(begin - 0.5, begin + block - 0.5);
}

// An estimate of the 99th percentile of the non-NaN values among `count` cells, from every stride-th cell.
// The stride shares no factor with the row length's likely values (it is odd and not a multiple of 3, 5 or
// 7, or else 1), so the sample does not keep to a few columns; a fixed stride keeps the estimate, and so the
// colours, steady while nothing changes.
// The keys [begin, end) a query row sees, from its `count` hidden flags (0 or 1, as every MaskMatrix holds),
// when they are one run with every key outside it hidden ([count, count) when none is seen); nullopt when the
// seen keys are not one run. Every row of the masks none, causal, window and prefix is one run.
std::optional<std::pair<std::size_t, std::size_t>> visibleRun(const std::uint8_t* hidden, std::size_t count) {
  const auto* first = static_cast<const std::uint8_t*>(std::memchr(hidden, 0, count));
  if (!first) return std::pair{count, count};
  const auto begin = static_cast<std::size_t>(first - hidden);
  const auto* after = static_cast<const std::uint8_t*>(std::memchr(first, 1, count - begin));
  if (!after) return std::pair{begin, count};
  const auto end = static_cast<std::size_t>(after - hidden);
  if (std::memchr(after, 0, count - end)) return std::nullopt;
  return std::pair{begin, end};
}

double percentile99Of(const double* cells, std::size_t count) {
  std::size_t stride = std::max<std::size_t>(1, count / MapCells::kPercentileSample);
  if (stride > 1) {
    stride |= 1;
    while (stride % 3 == 0 || stride % 5 == 0 || stride % 7 == 0) stride += 2;
  }
  std::vector<double> sample;
  sample.reserve(count / stride + 1);
  for (std::size_t i = 0; i < count; i += stride)
    if (!std::isnan(cells[i])) sample.push_back(cells[i]);
  if (sample.empty()) return std::numeric_limits<double>::quiet_NaN();
  const auto rank = static_cast<std::ptrdiff_t>(0.99 * static_cast<double>(sample.size() - 1) + 0.5);
  std::nth_element(sample.begin(), sample.begin() + rank, sample.end());
  return sample[static_cast<std::size_t>(rank)];
}

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

namespace {

// What of a head's softmax recomputes any weight from q and k: the row's largest weight is exp(0) / sum, and
// sits where the scaled score is the row's largest.
SoftmaxRows softmaxRowsOf(const HeadResult& head) {
  const Eigen::Index n = head.weights.rows();
  SoftmaxRows softmax;
  softmax.maximum = Vector::Zero(n);
  softmax.inverseSum = Vector::Zero(n);
  for (Eigen::Index query = 0; query < n; ++query) {
    Eigen::Index key = 0;
    const float largest = head.weights.row(query).maxCoeff(&key);
    if (!(largest > 0.0f)) continue;  // every key hidden: every weight 0
    softmax.inverseSum[query] = largest;
    softmax.maximum[query] = head.queries.row(query).dot(head.keys.row(key)) * head.scale;
  }
  return softmax;
}

void letGoOfMatrices(HeadResult& head) {
  head.weights = Matrix();
  head.scores = Matrix();
}

void letGoOfMatrices(MaskedResult& row) {
  for (HeadResult& head : row.result.edit().heads) {
    row.softmaxRows.push_back(softmaxRowsOf(head));
    letGoOfMatrices(head);
  }
}

// A head's values (AttentionSnapshot::values), its softmax's rows when its matrices were let go (else null).
const float* headValues(const HeadResult& result, const SoftmaxRows* softmax, Quantity quantity,
                        int queryBegin, int queries, int keyBegin, int keyEnd, Matrix& scratch,
                        Eigen::Index* stride) {
  const int width = keyEnd - keyBegin;
  const Matrix* kept = quantity == Quantity::dropoutWeights && result.dropout_weights
                           ? &*result.dropout_weights
                       : !isScore(quantity) && result.weights.size() != 0 ? &result.weights
                       : isScore(quantity) && result.scores.size() != 0   ? &result.scores
                                                                          : nullptr;
  if (kept && quantity != Quantity::scaledScores) {
    *stride = kept->cols();
    return kept->data() + static_cast<std::size_t>(queryBegin) * kept->cols() + keyBegin;
  }
  Matrix& out = scratch;
  if (kept) {
    out = kept->block(queryBegin, keyBegin, queries, width);
  } else {
    // One product for the block of rows: as fast per cell as the engine's own.
    out.noalias() =
        result.queries.middleRows(queryBegin, queries) * result.keys.middleRows(keyBegin, width).transpose();
    if (!isScore(quantity)) {
      for (int r = 0; r < queries; ++r) {
        const float maximum = softmax->maximum[queryBegin + r],
                    inverseSum = softmax->inverseSum[queryBegin + r];
        auto cells = out.row(r).array();
        cells = ((cells * result.scale) - maximum).exp() * inverseSum;
      }
    }
  }
  if (quantity == Quantity::scaledScores) out *= result.scale;
  *stride = out.cols();
  return out.data();
}

// A head's values as its summary folds them: raw scores with their masked cells' q·k (the summary has no q
// and k of its own to recompute them from), weights with their masked cells 0 (let-go weights are
// recomputed everywhere).
Matrix summaryValues(const HeadResult& head, const SoftmaxRows* softmax, const MaskMatrix& mask,
                     Quantity quantity) {
  const auto n = static_cast<int>(mask.rows());
  Matrix scratch;
  Eigen::Index stride = 0;
  const float* first = headValues(head, softmax, quantity, 0, n, 0, n, scratch, &stride);
  Matrix values =
      Eigen::Map<const Matrix, 0, Eigen::OuterStride<>>(first, n, n, Eigen::OuterStride<>(stride));
  const auto masked = mask.array() != 0;
  if (quantity != Quantity::rawScores)
    values = masked.select(0.0f, values);
  else if (masked.any())
    values = masked.select(Matrix(head.queries * head.keys.transpose()), values);
  return values;
}

// A row's heads folded, one head at a time in head order, into the summary map of HeadSummary mean or max.
class HeadSummaryFold {
 public:
  explicit HeadSummaryFold(bool mean) : m_scores(mean), m_weights(mean), m_dropout(mean) {}
  void add(const HeadResult& head, const SoftmaxRows* softmax, const MaskMatrix& mask) {
    if (m_heads++ == 0) m_scale = head.scale;
    m_scores.add(summaryValues(head, softmax, mask, Quantity::rawScores));
    m_weights.add(summaryValues(head, softmax, mask, Quantity::weights));
    if (head.dropout_weights) m_dropout.add(summaryValues(head, softmax, mask, Quantity::dropoutWeights));
  }
  HeadResult take() {
    HeadResult combined;
    combined.scale = m_scale;
    const Eigen::Index n = m_scores.rows();
    combined.queries = combined.keys = combined.values = combined.context = Matrix(n, 0);
    combined.scores = m_scores.take();
    combined.weights = m_weights.take();
    if (m_dropout.rows() > 0) combined.dropout_weights = m_dropout.take();
    return combined;
  }

 private:
  // The heads' n × n values folded cell by cell into their mean or max, in head order.
  class HeadFold {
   public:
    explicit HeadFold(bool mean) : m_mean(mean) {}
    void add(Matrix values) {
      if (m_heads++ == 0)
        m_folded = std::move(values);
      else if (m_mean)
        m_folded += values;
      else
        m_folded = m_folded.cwiseMax(values);
    }
    Matrix take() {
      if (m_mean) m_folded /= static_cast<float>(m_heads);
      return std::move(m_folded);
    }
    Eigen::Index rows() const { return m_folded.rows(); }

   private:
    bool m_mean;
    int m_heads = 0;
    Matrix m_folded;
  };

  int m_heads = 0;
  float m_scale = 1.0f;
  HeadFold m_scores, m_weights, m_dropout;
};

// The cells of a prepared map: the whole map, reduced to the plot's pixels.
CellRegion preparedRegion(int tokens, const PreparedMaps& prepare) {
  return CellRegion::fitting(tokens, 0, tokens, 0, tokens, prepare.keyPixels, prepare.queryPixels,
                             prepare.reduction);
}

// The maps of `quantities` for heads [firstHead, endHead), each made by build(head, quantity), appended to
// `maps`. A long text's maps each read n² cells: spread over the cores (this thread takes part), checking
// `cancel` between maps; throws Cancelled.
template <typename Build>
void buildMaps(const std::vector<Quantity>& quantities, int firstHead, int endHead, const CancelToken& cancel,
               std::vector<MapCells>& maps, const Build& build) {
  struct Job {
    Quantity quantity;
    int head;
    MapCells cells;
  };
  std::vector<Job> jobs;
  for (const Quantity quantity : quantities)
    for (int head = firstHead; head < endHead; ++head) jobs.push_back(Job{quantity, head, {}});
  parallel_tasks(jobs.size(), [&](std::size_t i) {
    if (!cancel.cancelled()) jobs[i].cells = build(jobs[i].head, jobs[i].quantity);
  });
  cancel.throw_if_cancelled();
  for (Job& job : jobs) maps.push_back(std::move(job.cells));
}

}  // namespace

std::shared_ptr<AttentionSnapshot> makeSnapshot() {
  return std::shared_ptr<AttentionSnapshot>(new AttentionSnapshot, [](AttentionSnapshot* snapshot) {
    QCoreApplication* application = QCoreApplication::instance();
    if (application && QThread::currentThread() == application->thread())
      backgroundPool()->start([snapshot] { delete snapshot; });
    else
      delete snapshot;
  });
}

const ModuleParameters& ParameterCache::parametersFor(const AttentionConfig& config, int dIn) {
  const Key key{config.mechanism, dIn,        config.effective_d_out(dIn), config.heads,
                config.qkv_bias,  config.seed};
  if (m_key != key) {
    m_key.reset();  // a throw below leaves no stale parameters under the new key
    TorchGenerator generator;
    m_parameters = draw_parameters(config, dIn, generator);
    m_key = key;
  }
  return m_parameters;
}

bool AttentionSnapshot::hasDropout() const {
  return !rows.empty() && !rows.front().result->heads.empty() &&
         rows.front().result->heads.front().dropout_weights.has_value();
}

QString AttentionSnapshot::headLabel(int head) const {
  if (isSummary(head)) {
    if (headSummary == HeadSummary::rollout) return QStringLiteral("rollout to layer %1").arg(model->layer);
    return headSummary == HeadSummary::max ? QStringLiteral("max of heads") : QStringLiteral("mean of heads");
  }
  return QStringLiteral("head %1").arg(head);
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

QString AttentionSnapshot::summary() const {
  const ModelInfo* info = model ? &*model : nullptr;
  QStringList parts{counted(tokenCount(), QStringLiteral("token"), QStringLiteral("tokens"))};
  if (info)
    parts << QStringLiteral("%1 \u00b7 layer %2 of 0\u2013%3")
                 .arg(QFileInfo(info->folder).fileName())
                 .arg(info->layer)
                 .arg(info->config.n_layer - 1);
  parts << counted(info ? mechanismHeadCount() : headCount(), QStringLiteral("head"), QStringLiteral("heads"))
        << counted(maskCount(), QStringLiteral("mask"), QStringLiteral("masks"))
        << (info ? QStringLiteral("cpu") : device)
        << QStringLiteral("%1 ms").arg(computeMs, 0, 'f', computeMs < 10 ? 2 : 0);
  return parts.join(QStringLiteral("  \u00b7  "));
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
    case Quantity::dropoutWeights:
      if (quantity == Quantity::dropoutWeights && result.dropout_weights)
        return (*result.dropout_weights)(query, key);
      if (result.weights.size() != 0) return result.weights(query, key);
      if (isMasked(row, query, key)) return 0.0f;
      {
        const SoftmaxRows& softmax = rows[row].softmaxRows[head];
        return std::exp(score() * result.scale - softmax.maximum[query]) * softmax.inverseSum[query];
      }
  }
  return 0.0f;
}

const float* AttentionSnapshot::values(int row, int head, Quantity quantity, int queryBegin, int queries,
                                       int keyBegin, int keyEnd, Matrix& scratch,
                                       Eigen::Index* stride) const {
  const std::vector<SoftmaxRows>& softmax = rows[row].softmaxRows;
  return headValues(this->head(row, head), head < static_cast<int>(softmax.size()) ? &softmax[head] : nullptr,
                    quantity, queryBegin, queries, keyBegin, keyEnd, scratch, stride);
}

std::optional<MapCells> AttentionSnapshot::takePreparedCells(int row, int head, Quantity quantity) const {
  for (MapCells& map : prepared.maps)
    if (map.cells && map.maskRow == row && map.head == head && map.quantity == quantity)
      return std::move(map);
  return std::nullopt;
}

MapCells buildMapCells(const AttentionSnapshot& snapshot, int maskRow, int head, Quantity quantity) {
  return buildMapCells(snapshot, maskRow, head, quantity,
                       CellRegion::whole(snapshot.tokenCount(), 0, Reduction::max));
}

namespace {

// buildMapCells over one head, before it is part of a snapshot. The rows of `earlier`'s cells whose query
// rows all lie in one of `copied` (AttentionResult::copied_ranges) are taken from it as they are: the engine
// copied those query rows' values from the result `earlier` was built with, to the bit.
MapCells buildMapCells(const HeadResult& result, const SoftmaxRows* softmax, const MaskMatrix& mask,
                       int maskRow, int head, Quantity quantity, const CellRegion& region,
                       const MapCells* earlier = nullptr,
                       std::span<const std::pair<Eigen::Index, Eigen::Index>> copied = {},
                       std::atomic<int>* reusedRows = nullptr) {
  const auto n = static_cast<int>(mask.rows());
  const int keyCells = region.keyCells(), queryCells = region.queryCells();
  std::unique_ptr<QCPColorMapData, ColorMapDataDeleter> data(
      new QCPColorMapData(keyCells, queryCells, cellRange(region.keyBegin, region.keyBlock, keyCells),
                          cellRange(region.queryBegin, region.queryBlock, queryCells)));
  const bool mean = region.reduction == Reduction::mean;
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  constexpr double infinity = std::numeric_limits<double>::infinity();
  const int width = region.keyEnd - region.keyBegin;
  double* cells = CellAccess::cells(*data);
  // One row of cells at a time, in two passes: the block's query rows fold into one row per key (its max, or
  // its sum and count, over the visible cells), in loops over whole rows that the compiler vectorises; then
  // each cell folds its block of keys. Both matrices are row-major n × n with the query as the row, as
  // QCustomPlot's data (index = row · keys + key).
  const auto columns = static_cast<std::size_t>(width);
  std::vector<float> largest(mean ? 0 : columns);
  std::vector<double> sums(mean ? columns : 0);
  std::vector<int> counts(columns);
  Matrix scratch;
  for (int cellRow = 0; cellRow < queryCells; ++cellRow) {
    const int queryBegin = region.queryBegin + cellRow * region.queryBlock;
    const int queryEnd = std::min(region.queryEnd, queryBegin + region.queryBlock);
    double* row = cells + static_cast<std::size_t>(cellRow) * keyCells;
    const bool rowsCopied = earlier && std::any_of(copied.begin(), copied.end(), [&](const auto& range) {
                              return range.first <= queryBegin && queryEnd <= range.second;
                            });
    if (rowsCopied) {
      std::copy_n(
          CellAccess::cells(std::as_const(*earlier->cells)) + static_cast<std::size_t>(cellRow) * keyCells,
          keyCells, row);
      if (reusedRows) ++*reusedRows;
      continue;
    }
    std::fill(largest.begin(), largest.end(), -std::numeric_limits<float>::infinity());
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0);
    Eigen::Index stride = 0;
    const float* first = headValues(result, softmax, quantity, queryBegin, queryEnd - queryBegin,
                                    region.keyBegin, region.keyEnd, scratch, &stride);
    for (int query = queryBegin; query < queryEnd; ++query) {
      const float* values = first + static_cast<std::size_t>(query - queryBegin) * stride;
      const std::uint8_t* hidden = mask.data() + static_cast<std::size_t>(query) * n + region.keyBegin;
      // A row whose seen keys are one run folds without reading its flags per key: a third of the time.
      if (const auto run = visibleRun(hidden, columns)) {
        for (std::size_t key = run->first; key < run->second; ++key) ++counts[key];
        if (mean)
          for (std::size_t key = run->first; key < run->second; ++key)
            sums[key] += static_cast<double>(values[key]);
        else
          for (std::size_t key = run->first; key < run->second; ++key)
            largest[key] = std::max(largest[key], values[key]);
        continue;
      }
      if (mean) {
        for (std::size_t key = 0; key < columns; ++key) {
          sums[key] += hidden[key] ? 0.0 : static_cast<double>(values[key]);
          counts[key] += hidden[key] ? 0 : 1;
        }
      } else {
        for (std::size_t key = 0; key < columns; ++key) {
          largest[key] = hidden[key] ? largest[key] : std::max(largest[key], values[key]);
          counts[key] += hidden[key] ? 0 : 1;
        }
      }
    }
    for (int cell = 0, key = 0; cell < keyCells; ++cell) {
      const int blockEnd = std::min(width, key + region.keyBlock);
      double total = mean ? 0.0 : -infinity;
      int count = 0;
      for (; key < blockEnd; ++key) {
        if (counts[key] == 0) continue;
        total = mean ? total + sums[key] : std::max(total, static_cast<double>(largest[key]));
        count += counts[key];
      }
      row[cell] = count == 0 ? nan : mean ? total / count : total;
    }
  }
  // The extremes, over the cells folded and copied alike; a NaN cell is a block with every cell masked.
  const std::size_t cellCount = static_cast<std::size_t>(keyCells) * queryCells;
  double minimum = infinity, maximum = -infinity;
  bool anyMasked = false;
  for (const double value : std::span<const double>(cells, cellCount)) {
    if (std::isnan(value)) {
      anyMasked = true;
    } else {
      minimum = std::min(minimum, value);
      maximum = std::max(maximum, value);
    }
  }
  const bool any = minimum <= maximum;
  CellAccess::setBounds(*data, any ? minimum : 0.0, any ? maximum : 0.0);
  MapCells map;
  map.maskRow = maskRow;
  map.head = head;
  map.quantity = quantity;
  map.region = region;
  map.cells = std::move(data);
  map.anyMasked = anyMasked;
  map.minimum = any ? minimum : nan;
  map.maximum = any ? maximum : nan;
  map.percentile99 = any ? percentile99Of(cells, cellCount) : nan;
  return map;
}

// buildMapCells over a snapshot's head, its softmax rows when its matrices were let go.
MapCells buildSnapshotMapCells(const AttentionSnapshot& snapshot, int maskRow, int head, Quantity quantity,
                               const CellRegion& region, const MapCells* earlier = nullptr,
                               std::atomic<int>* reusedRows = nullptr) {
  const MaskedResult& masked = snapshot.rows[maskRow];
  const std::vector<SoftmaxRows>& softmax = masked.softmaxRows;
  return buildMapCells(snapshot.head(maskRow, head),
                       head < static_cast<int>(softmax.size()) ? &softmax[head] : nullptr,
                       masked.result->mask, maskRow, head, quantity, region, earlier,
                       masked.result->copied_ranges, reusedRows);
}

}  // namespace

MapCells buildMapCells(const AttentionSnapshot& snapshot, int maskRow, int head, Quantity quantity,
                       const CellRegion& region) {
  return buildSnapshotMapCells(snapshot, maskRow, head, quantity, region);
}

SnapshotPointer computeSnapshot(const AttentionInput& input, Backend& backend, const CancelToken& cancel,
                                const PreparedMaps& prepare, ParameterCache* parameters,
                                const AttentionSnapshot* earlier, AttentionSnapshot* recyclable) {
  auto snapshot = makeSnapshot();
  snapshot->text = input.text;
  snapshot->tokenizer = input.tokenizer;
  snapshot->tokens = input.tokens;
  snapshot->tokenTexts.reserve(static_cast<qsizetype>(input.tokens.size()));
  for (const Token& token : input.tokens) snapshot->tokenTexts << toQString(token.text);
  snapshot->spans = utf16Spans(input.text, input.tokens);
  snapshot->embeddings = input.embeddings;
  snapshot->embeddingsNote = input.embeddingsNote;
  snapshot->bookEmbeddingsReplaced = input.bookEmbeddingsReplaced;
  const std::vector<MaskSpec> masks =
      input.masks.empty() ? std::vector<MaskSpec>{input.config.effective_mask()} : input.masks;
  const double n = static_cast<double>(input.tokens.size());
  const double keptBytes = n * n * sizeof(float) * input.config.head_count() *
                           static_cast<double>(masks.size()) * (input.config.keep_scores ? 2.0 : 1.0);
  const bool letGo = keptBytes > prepare.keptBytes && input.config.normalization == Normalization::softmax &&
                     input.config.dropout == 0.0;
  snapshot->headSummary = input.headSummary;
  const bool summarized = input.headSummary != HeadSummary::none && input.config.head_count() > 1;
  // What the heads a long text's computation hands as it goes (below) leave of each mask's row once their
  // n × n matrices are let go: their maps, softmax rows and summary so far.
  struct StreamedRow {
    std::vector<MapCells> maps;
    std::vector<SoftmaxRows> softmaxRows;
    HeadSummaryFold summary;
  };
  std::vector<StreamedRow> streamed;
  // The snapshot the engine may copy rows from (below), whose maps' rows may be copied with them, and
  // whether the next edit's computation may copy rows from this one.
  const AttentionSnapshot* reusableEarlier = nullptr;
  const bool keepReusable = parameters && input.config.dropout == 0.0 && !letGo;
  // Each mask's summary and maps as soon as its result is here: a long text's matrices are let go before
  // the next mask's (the summary keeps its own).
  const auto addRow = [&](const MaskSpec& mask, AttentionResult result) {
    MaskedResult row;
    row.mask = mask;
    row.config = input.config;
    row.config.mask = mask;
    row.result = SharedResult(std::move(result));
    snapshot->computeMs += row.result->compute_ms;
    const bool headsStreamed = snapshot->rows.size() < streamed.size();  // and let go already
    if (!headsStreamed)
      snapshot->mostHeadsHeld = std::max(snapshot->mostHeadsHeld, static_cast<int>(row.result->heads.size()));
    snapshot->device = QString::fromStdString(row.result->device);
    if (!row.result->fallback_reason.empty())
      snapshot->fallbackReason = QString::fromStdString(row.result->fallback_reason);
    snapshot->anyMasked = snapshot->anyMasked || any_hidden(row.result->mask);
    for (HeadStats& stats : head_stats(*row.result)) snapshot->headStats.push_back(std::move(stats));
    snapshot->rows.push_back(std::move(row));
    const int index = snapshot->maskCount() - 1;
    if (headsStreamed) {
      StreamedRow& heads = streamed[static_cast<std::size_t>(index)];
      snapshot->rows.back().softmaxRows = std::move(heads.softmaxRows);
      for (MapCells& map : heads.maps) snapshot->prepared.maps.push_back(std::move(map));
      if (summarized) {
        snapshot->summaries.push_back(heads.summary.take());
        prepareRowMaps(*snapshot, index, prepare, cancel, snapshot->mechanismHeadCount());
      }
      return;
    }
    if (summarized) snapshot->summaries.push_back(summarizeHeads(*snapshot, index));
    prepareRowMaps(*snapshot, index, prepare, cancel, 0, reusableEarlier, keepReusable);
    if (letGo) letGoOfMatrices(snapshot->rows.back());
  };
  // A long text's heads as the engine computes them, a few at a time: their maps, summary terms and softmax
  // rows, then their n × n matrices are let go, so that twelve heads' weights (3.2 GB at 8,192 tokens) are
  // never held at once. The same cells, summary and softmax rows as the whole result's, bit for bit.
  const HeadSink streamHeads = [&](std::size_t maskIndex, std::size_t firstHead, std::span<HeadResult> heads,
                                   const MaskMatrix& mask) {
    while (streamed.size() <= maskIndex)
      streamed.push_back(StreamedRow{{}, {}, HeadSummaryFold(input.headSummary == HeadSummary::mean)});
    StreamedRow& row = streamed[maskIndex];
    snapshot->mostHeadsHeld = std::max(snapshot->mostHeadsHeld, static_cast<int>(heads.size()));
    const CellRegion region = preparedRegion(static_cast<int>(mask.rows()), prepare);
    std::vector<Quantity> quantities;  // streamed only without dropout
    std::copy_if(prepare.quantities.begin(), prepare.quantities.end(), std::back_inserter(quantities),
                 [](Quantity quantity) { return quantity != Quantity::dropoutWeights; });
    buildMaps(quantities, 0, static_cast<int>(heads.size()), cancel, row.maps,
              [&](int head, Quantity quantity) {
                return buildMapCells(heads[static_cast<std::size_t>(head)], nullptr, mask,
                                     static_cast<int>(maskIndex), static_cast<int>(firstHead) + head,
                                     quantity, region);
              });
    for (HeadResult& head : heads) {
      if (summarized) row.summary.add(head, nullptr, mask);
      // The statistics come from the weights when the backend left their terms out.
      if (head.row_stats.size() != static_cast<std::size_t>(mask.rows()))
        head_row_stats(head.weights, mask, 0, head.row_stats);
      row.softmaxRows.push_back(softmaxRowsOf(head));
      letGoOfMatrices(head);
    }
  };
  const auto fieldOf = [](const MaskSpec& mask) {
    return mask.kind == MaskKind::file ? SettingsField::masks : SettingsField::general;
  };
  if (parameters && input.config.dropout == 0.0) {
    // One projection of the text for every mask, with the parameters drawn once per configuration.
    const int dIn = static_cast<int>(input.embeddings.cols());
    const auto n = static_cast<Eigen::Index>(input.tokens.size());
    try {
      input.config.validate(dIn);  // before drawing: a bad config is reported, not drawn
      for (const MaskSpec& mask : masks)
        if (mask.kind == MaskKind::file) {
          try {
            build_mask(mask, n);
          } catch (const Error& error) {
            throw FieldError(SettingsField::masks, toQString(error.what()));
          }
        }
      // Each mask's earlier result, when the earlier text kept its matrices (the engine checks the rest).
      std::vector<const AttentionResult*> earlierResults(masks.size(), nullptr);
      if (earlier && !earlier->model && earlier->keepsMatrices()) reusableEarlier = earlier;
      if (reusableEarlier)
        for (std::size_t m = 0; m < masks.size(); ++m)
          for (const MaskedResult& row : earlier->rows)
            if (row.mask == masks[m]) earlierResults[m] = &*row.result;
      // Each mask's result of `recyclable` that nothing else shares: its matrices may become the new ones.
      std::vector<AttentionResult*> recycled(masks.size(), nullptr);
      if (recyclable && recyclable != earlier && !recyclable->model && recyclable->keepsMatrices() && !letGo)
        for (std::size_t m = 0; m < masks.size(); ++m)
          for (MaskedResult& row : recyclable->rows)
            if (row.mask == masks[m] && row.result.unique()) recycled[m] = &row.result.edit();
      compute_attention_masks(
          input.config, input.embeddings, parameters->parametersFor(input.config, dIn), masks, backend,
          cancel, [&](std::size_t index, AttentionResult result) { addRow(masks[index], std::move(result)); },
          earlierResults, letGo ? streamHeads : HeadSink(), recycled);
    } catch (const FieldError&) {
      throw;
    } catch (const Error& error) {
      throw FieldError(SettingsField::general, toQString(error.what()));
    }
    return snapshot;
  }
  for (const MaskSpec& mask : masks) {
    cancel.throw_if_cancelled();
    AttentionConfig config = input.config;
    config.mask = mask;
    try {
      addRow(mask, compute_attention(config, input.embeddings, backend, cancel));
    } catch (const FieldError&) {
      throw;
    } catch (const Error& error) {
      throw FieldError(fieldOf(mask), toQString(error.what()));
    }
  }
  return snapshot;
}

HeadResult summarizeHeads(const AttentionSnapshot& snapshot, int row) {
  const MaskedResult& masked = snapshot.rows[row];
  HeadSummaryFold fold(snapshot.headSummary == HeadSummary::mean);
  for (int head = 0; head < snapshot.mechanismHeadCount(); ++head)
    fold.add(masked.result->heads[head],
             head < static_cast<int>(masked.softmaxRows.size()) ? &masked.softmaxRows[head] : nullptr,
             masked.result->mask);
  return fold.take();
}

// Row `row`'s rollout up to the layer shown, from the model's mean head weights. It has weights only: its
// scores are NaN (a rollout is not a softmax of scores).
HeadResult rolloutOf(const AttentionSnapshot& snapshot, int row) {
  const ModelInfo& model = *snapshot.model;
  const int n = snapshot.tokenCount();
  HeadResult rollout;
  rollout.queries = rollout.keys = rollout.values = rollout.context = Matrix(n, 0);
  rollout.weights = attention_rollout(model.layerMeans[static_cast<std::size_t>(row)]->matrices(model.layer),
                                      static_cast<std::size_t>(model.layer));
  rollout.scores = Matrix::Constant(n, n, std::numeric_limits<float>::quiet_NaN());
  return rollout;
}

void addHeadSummaries(AttentionSnapshot& snapshot, HeadSummary summary, const CancelToken& cancel) {
  snapshot.headSummary = summary;
  snapshot.summaries.clear();
  // A rollout needs a model's layers; a mean or max needs several heads.
  const bool rollout = summary == HeadSummary::rollout;
  if (summary == HeadSummary::none || (rollout && !snapshot.model) ||
      (!rollout && snapshot.mechanismHeadCount() < 2))
    return;
  for (int row = 0; row < snapshot.maskCount(); ++row) {
    cancel.throw_if_cancelled();
    snapshot.summaries.push_back(rollout ? rolloutOf(snapshot, row) : summarizeHeads(snapshot, row));
  }
}

std::shared_ptr<const AttentionSnapshot> withHeadSummary(
    const std::shared_ptr<const AttentionSnapshot>& snapshot, HeadSummary summary,
    const CancelToken& cancel) {
  auto copy = makeSnapshot();
  *copy = *snapshot;
  addHeadSummaries(*copy, summary, cancel);
  return copy;
}

void prepareRowMaps(AttentionSnapshot& snapshot, int row, const PreparedMaps& prepare,
                    const CancelToken& cancel, int firstHead, const AttentionSnapshot* earlier,
                    bool keepReusable) {
  const CellRegion region = preparedRegion(snapshot.tokenCount(), prepare);
  std::vector<Quantity> quantities;
  std::copy_if(prepare.quantities.begin(), prepare.quantities.end(), std::back_inserter(quantities),
               [&snapshot](Quantity quantity) { return snapshot.hasQuantity(quantity); });
  const MaskedResult& masked = snapshot.rows[row];
  // The earlier snapshot's row of the same mask: the one the engine copied rows from.
  int earlierRow = -1;
  if (earlier && masked.result->copied_rows > 0)
    for (int other = 0; other < earlier->maskCount(); ++other)
      if (earlier->rows[other].mask == masked.mask) earlierRow = other;
  const auto earlierMap = [&](int head, Quantity quantity) -> const MapCells* {
    if (earlierRow < 0 || head >= snapshot.mechanismHeadCount()) return nullptr;
    for (const MapCells& map : earlier->reusable.maps)
      if (map.maskRow == earlierRow && map.head == head && map.quantity == quantity && map.region == region)
        return &map;
    return nullptr;
  };
  const std::size_t first = snapshot.prepared.maps.size();
  std::atomic<int> reusedRows{0};
  buildMaps(quantities, firstHead, snapshot.headCount(), cancel, snapshot.prepared.maps,
            [&](int head, Quantity quantity) {
              return buildSnapshotMapCells(snapshot, row, head, quantity, region, earlierMap(head, quantity),
                                           &reusedRows);
            });
  snapshot.reusedCellRows += reusedRows;
  if (!keepReusable) return;
  for (std::size_t i = first; i < snapshot.prepared.maps.size(); ++i)
    if (snapshot.prepared.maps[i].head < snapshot.mechanismHeadCount())
      snapshot.reusable.maps.push_back(snapshot.prepared.maps[i].copyFor(row));
}

void prepareMaps(AttentionSnapshot& snapshot, const PreparedMaps& prepare, const CancelToken& cancel) {
  for (int row = 0; row < snapshot.maskCount(); ++row) prepareRowMaps(snapshot, row, prepare, cancel);
}

}  // namespace attnscope::ui
