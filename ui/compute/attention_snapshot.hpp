#pragma once
// One finished computation: the tokens, and one AttentionResult per mask of the grid. Immutable once built
// (but for the prepared map cells, see below), so the worker thread, the views and the exporters share it
// through std::shared_ptr<const AttentionSnapshot>.

#include <QString>
#include <QStringList>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "attnscope/attention.hpp"
#include "attnscope/backend.hpp"
#include "attnscope/bpe_tokenizer.hpp"
#include "attnscope/gpt2.hpp"
#include "attnscope/head_stats.hpp"
#include "attnscope/result.hpp"
#include "compute/attention_input.hpp"
#include "compute/cell_region.hpp"
#include "compute/layer_means.hpp"
#include "state/view_settings.hpp"

class QCPColorMapData;  // QCustomPlot's; only the views and the code that fills the cells include it

namespace attnscope::ui {

// Deletes cells that no map took over; defined where QCPColorMapData is complete.
struct ColorMapDataDeleter {
  void operator()(QCPColorMapData* cells) const;
};

// One map's cells as QCustomPlot draws them (key = key token, value = query token, masked cells NaN), with
// the extremes of the unmasked cells. A plain QCPColorMapData, so a QCPColorMap can take it over without a
// copy. When `region` is reduced, each cell is the max or mean of a block of tokens (NaN when the whole block
// is masked) and sits at the centre of its block.
struct MapCells {
  int maskRow = 0;
  int head = 0;
  Quantity quantity = Quantity::weights;
  CellRegion region;
  std::unique_ptr<QCPColorMapData, ColorMapDataDeleter> cells;
  double minimum = 0.0, maximum = 0.0;  // NaN when every cell is masked
  bool anyMasked = false;               // some cell is NaN (its whole block masked)
  // The 99th percentile of the unmasked cells, estimated from an even sample of at most kPercentileSample of
  // them (NaN when every cell is masked): the top of a weight map's colour range (ColorMaps::rangeFor).
  double percentile99 = 0.0;
  static constexpr int kPercentileSample = 4096;

  // The same map for mask row `row`, its cells copied (a plot takes its cells over, so each row has its own).
  MapCells copyFor(int row) const;
};

// What a head keeps of its softmax when its n × n matrices were let go: per query row, the largest scaled
// score and 1 / the sum of the exponentials (the row's largest weight), so any weight is
// exp(q·k × scale − max) × that, from q and k.
struct SoftmaxRows {
  Vector maximum;
  Vector inverseSum;
};

// A mask row's attention, shared by the rows one computation serves (with a model, masks none and causal are
// one run of its causal mask), so that they do not hold a copy each.
class SharedResult {
 public:
  SharedResult() : m_result(std::make_shared<AttentionResult>()) {}
  explicit SharedResult(AttentionResult result)
      : m_result(std::make_shared<AttentionResult>(std::move(result))) {}
  const AttentionResult& operator*() const { return *m_result; }
  const AttentionResult* operator->() const { return m_result.get(); }
  // For the computation that made it, while no other row shares it.
  AttentionResult& edit() { return *m_result; }
  // Whether no other row, snapshot or comparison shares it.
  bool unique() const { return m_result.use_count() == 1; }

 private:
  std::shared_ptr<AttentionResult> m_result;
};

struct MaskedResult {
  MaskSpec mask;
  AttentionConfig config;  // the input's config with this mask set
  SharedResult result;
  // One per head once the weights and scores were let go (see PreparedMaps::keptBytes); empty while kept.
  std::vector<SoftmaxRows> softmaxRows;
};

// The GPT-2 model that computed a snapshot, and the layer its rows hold.
struct ModelInfo {
  QString folder;
  Gpt2Config config;
  int layer = 0;                    // 0-based
  std::vector<BpeToken> tokens;     // ids and vocabulary pieces, in token order
  std::vector<Matrix> finalHidden;  // per mask row: n × n_embd after ln_f
  // Per mask row, every layer's mean head weights Ā_l (mean_of_heads): what the rollout summary
  // is made from, so that choosing it never runs the model again.
  std::vector<std::shared_ptr<const LayerMeans>> layerMeans;
  // Positions the model computed for this snapshot, summed over its runs (one per distinct mask): n per run
  // without a ModelCache, fewer when an earlier edit's states were reused (0 when only the layer changed).
  int recomputedPositions = 0;
  // Query rows whose overview and statistics terms were made again, per layer × head, summed over the runs:
  // n per run without a ModelCache, from the edit's first changed row with one.
  int summarizedRows = 0;
};

// One head of one layer, reduced for the model overview to at most kCells × kCells: each cell is the mean
// of the visible weights of a block of `block` queries × `block` keys (the last row and column of cells
// cover the tokens left, maybe fewer), NaN where the whole block is hidden. Small texts keep every weight
// (one cell per query and key).
struct OverviewMap {
  static constexpr int kCells = 32;
  int size = 0;
  int block = 1;             // tokens per cell, a power of two
  int tokens = 0;            // n: size · block − tokens tokens are missing from the last cells
  std::vector<float> cells;  // size × size, row-major, the query as the row
  float maximum = 0.0f;      // the largest visible cell (0 when every cell is hidden)
};

// A snapshot's rows, shared by the snapshots made from it (the same computation with another head summary):
// n² floats per head are never copied. Filled on the worker before the snapshot is published, read-only
// after.
class SnapshotRows {
 public:
  std::size_t size() const { return m_rows->size(); }
  bool empty() const { return m_rows->empty(); }
  MaskedResult& operator[](std::size_t index) { return (*m_rows)[index]; }
  const MaskedResult& operator[](std::size_t index) const { return (*m_rows)[index]; }
  MaskedResult& front() { return m_rows->front(); }
  const MaskedResult& front() const { return m_rows->front(); }
  MaskedResult& back() { return m_rows->back(); }
  const MaskedResult& back() const { return m_rows->back(); }
  auto begin() { return m_rows->begin(); }
  auto end() { return m_rows->end(); }
  auto begin() const { return m_rows->cbegin(); }
  auto end() const { return m_rows->cend(); }
  void push_back(MaskedResult row) { m_rows->push_back(std::move(row)); }

 private:
  std::shared_ptr<std::vector<MaskedResult>> m_rows = std::make_shared<std::vector<MaskedResult>>();
};

// The cells the worker prepared for a snapshot's plots. They belong to the snapshot they were built with: a
// copy of the snapshot starts without any (its plots build their own).
struct PreparedCells {
  std::vector<MapCells> maps;
  PreparedCells() = default;
  PreparedCells(const PreparedCells&) {}
  PreparedCells& operator=(const PreparedCells&) {
    maps.clear();
    return *this;
  }
};

struct AttentionSnapshot {
  QString text;
  TokenizerKind tokenizer = TokenizerKind::whitespace;
  std::vector<Token> tokens;
  QStringList tokenTexts;                  // tokens[i].text as QString
  std::vector<std::pair<int, int>> spans;  // UTF-16 [begin, end) of each token in `text`
  Matrix embeddings;
  QString embeddingsNote;
  bool bookEmbeddingsReplaced = false;  // see AttentionInput
  SnapshotRows rows;                    // one per mask, in grid order
  // Some row's mask hides a cell (the grid then explains the hatch). Found on the worker: scanning every n²
  // mask took a long text's GUI thread tens of milliseconds per edit.
  bool anyMasked = false;
  QString device;
  QString fallbackReason;  // why the chosen device did not compute it (the CPU did); empty when it did
  double computeMs = 0.0;
  // The most heads of a mask whose n × n matrices the computation held at once: every head, or a few at a
  // time when a long text's heads were let go as they were computed (computeSnapshot).
  int mostHeadsHeld = 0;
  // The maps of the quantities on screen when it was computed, built on the worker thread. The one exception
  // to the snapshot being immutable: the first plot to show a map takes its cells (no copy of n² doubles on
  // the GUI thread, no second copy in memory); later plots build their own. Touched on the GUI thread only.
  mutable PreparedCells prepared;
  // Copies of the heads' prepared maps, kept by a computation whose n × n matrices stay (worker thread only):
  // the next edit's computation takes from them the rows of cells whose every query row the engine copied
  // (AttentionResult::copied_rows) instead of folding those rows' weights again. A copy starts without any.
  PreparedCells reusable;
  // Rows of map cells taken from the earlier snapshot's copies when this one was prepared.
  int reusedCellRows = 0;

  // Set when a GPT-2 model computed it: the rows then hold model->layer, every mask row on top of the
  // model's causal mask.
  std::optional<ModelInfo> model;
  // Model only: every layer × head of every mask row, at index (row · n_layer + layer) · n_head + head.
  std::vector<OverviewMap> overview;
  // With a summary, each row has one more map after its heads: the mean or max of the heads, cell by cell
  // (summaries[row]), or a model's rollout up to the layer shown. Its q, k, v and context are empty; its raw
  // scores are the summary of the heads' raw scores, masked cells included (NaN for a rollout).
  HeadSummary headSummary = HeadSummary::none;
  std::vector<HeadResult> summaries;
  // Every head's statistics, from its weights before dropout, computed on the worker before any matrix is
  // let go: at index (row · statsLayerCount() + layer) · mechanismHeadCount() + head, every layer of a model.
  std::vector<HeadStats> headStats;

  int tokenCount() const { return static_cast<int>(tokens.size()); }
  int maskCount() const { return static_cast<int>(rows.size()); }
  // The heads the mechanism has, without the summary.
  int mechanismHeadCount() const {
    return rows.empty() ? 0 : static_cast<int>(rows.front().result->heads.size());
  }
  // The maps per row: the heads, and the summary when there is one.
  int headCount() const { return mechanismHeadCount() + (summaries.empty() ? 0 : 1); }
  bool isSummary(int head) const { return !summaries.empty() && head == mechanismHeadCount(); }
  const HeadResult& head(int row, int head) const {
    return isSummary(head) ? summaries[row] : rows[row].result->heads[head];
  }
  // "head 0" (heads count from 0), "mean of heads", "max of heads", "rollout to layer 5"
  QString headLabel(int head) const;
  // What the row computed, in words: "gpt2 layer 3" or the mechanism.
  QString mechanismLabel(int row) const;
  const OverviewMap& overviewMap(int row, int layer, int head) const;
  // The layers headStats covers: every layer of a model, one for the book's mechanisms.
  int statsLayerCount() const { return model ? model->config.n_layer : 1; }
  const HeadStats& statsOf(int row, int layer, int head) const {
    return headStats[static_cast<std::size_t>((row * statsLayerCount() + layer) * mechanismHeadCount() +
                                              head)];
  }
  bool hasDropout() const;
  bool hasQuantity(Quantity quantity) const { return quantity != Quantity::dropoutWeights || hasDropout(); }
  bool isMasked(int row, int query, int key) const { return rows[row].result->mask(query, key) != 0; }
  // False when a long text's n × n matrices were let go after its maps were prepared: values are then
  // recomputed from q and k (to float rounding), and the matrices cannot be exported.
  bool keepsMatrices() const { return rows.empty() || rows.front().softmaxRows.empty(); }
  // The cell's value. A masked cell still has its raw and scaled score (q·k before masked_fill; the engine
  // keeps −∞ there, so it is recomputed from q and k), and a weight of exactly 0.
  float value(int row, int head, Quantity quantity, int query, int key) const;
  // The values of keys [keyBegin, keyEnd) for `queries` consecutive query rows from queryBegin: a pointer to
  // the first, rows `*stride` floats apart (masked cells: anything; callers skip them). Kept matrices are
  // read in place; scaled scores and let-go matrices are computed into `scratch`.
  const float* values(int row, int head, Quantity quantity, int queryBegin, int queries, int keyBegin,
                      int keyEnd, Matrix& scratch, Eigen::Index* stride) const;
  // The mask as applied: with a model, none and causal are both its causal mask ("causal") and the others
  // come on top of it ("causal + window:3").
  QString maskLabel(int row) const;
  // The status bar's line: "6 tokens  ·  2 heads  ·  2 masks  ·  cpu  ·  0.12 ms" (a model's name and layer
  // after the tokens).
  QString summary() const;
  std::optional<MapCells> takePreparedCells(int row, int head, Quantity quantity) const;
};

// Builds a map's cells (any thread): the whole map cell by cell, or `region`. Scores the engine did not keep
// are recomputed from q and k for the region only.
MapCells buildMapCells(const AttentionSnapshot& snapshot, int maskRow, int head, Quantity quantity);
MapCells buildMapCells(const AttentionSnapshot& snapshot, int maskRow, int head, Quantity quantity,
                       const CellRegion& region);

// What the worker prepares besides the results: the maps of `quantities`, each reduced to at most
// keyPixels × queryPixels cells (0: every cell) with `reduction`. When the engine's n × n matrices of all
// masks would take more than `keptBytes`, each mask's are let go once its maps are prepared (softmax without
// dropout only: the other weights cannot be recomputed from q and k), so a long text holds what is displayed,
// its q and k, and its masks: the next edit then computes beside a small snapshot, not a second full one.
struct PreparedMaps {
  std::vector<Quantity> quantities;
  int keyPixels = 0, queryPixels = 0;
  Reduction reduction = Reduction::max;
  double keptBytes = 2.0 * (1 << 30);
};

// The steps computeSnapshot and computeModelSnapshot share. Token spans are in code points; QString indexes
// UTF-16 units.
std::vector<std::pair<int, int>> utf16Spans(const QString& text, const std::vector<Token>& tokens);
// Row `row`'s summary map of snapshot.headSummary, from the heads' values (kept or recomputed from q and k).
HeadResult summarizeHeads(const AttentionSnapshot& snapshot, int row);
// Adds each row's summary map (nothing for a single head or HeadSummary::none).
void addHeadSummaries(AttentionSnapshot& snapshot, HeadSummary summary, const CancelToken& cancel);
// The same computation with another head summary (any thread): shares the rows, makes the new summary maps.
std::shared_ptr<const AttentionSnapshot> withHeadSummary(
    const std::shared_ptr<const AttentionSnapshot>& snapshot, HeadSummary summary, const CancelToken& cancel);
// Builds the cells of the maps `prepare` asks for, of one row (its heads from `firstHead`, the summary
// included) or of every row, checking `cancel` between maps. With `earlier` (the snapshot whose results the
// engine copied rows from), rows of cells the copied rows cover come from its reusable maps; with
// `keepReusable`, copies of the heads' maps are kept in snapshot.reusable for the next computation.
void prepareRowMaps(AttentionSnapshot& snapshot, int row, const PreparedMaps& prepare,
                    const CancelToken& cancel, int firstHead = 0, const AttentionSnapshot* earlier = nullptr,
                    bool keepReusable = false);
void prepareMaps(AttentionSnapshot& snapshot, const PreparedMaps& prepare, const CancelToken& cancel);

using SnapshotPointer = std::shared_ptr<const AttentionSnapshot>;

// A new, empty snapshot whose memory is given back off the GUI thread: a long text's snapshot holds
// gigabytes, and unmapping them took the GUI thread over 100 ms when an edit replaced it.
std::shared_ptr<AttentionSnapshot> makeSnapshot();

// The module's parameters for `config` over `dIn` columns, drawn once and reused while only the text (or the
// masks, normalization, what is kept) changes: drawing 4 × 768² numbers as PyTorch does costs more than
// attending over a short text. Owned by the worker thread.
class ParameterCache {
 public:
  const ModuleParameters& parametersFor(const AttentionConfig& config, int dIn);

 private:
  struct Key {
    Mechanism mechanism = Mechanism::multihead;
    int dIn = 0, dOut = 0, heads = 0;
    bool qkvBias = false;
    std::uint64_t seed = 0;
    friend bool operator==(const Key&, const Key&) = default;
  };
  std::optional<Key> m_key;
  ModuleParameters m_parameters;
};

// Computes one result per mask of `input` on `backend`, and prepares the maps of `prepare`; checks `cancel`
// between masks and maps (the backend checks it between heads) and throws attnscope::Cancelled. Engine errors
// become FieldError(general).
// With `parameters`, a mechanism without dropout reuses them (the same numbers as compute_attention draws;
// with dropout, compute_attention draws them, as the noise follows them in the generator's sequence). It may
// then also copy from `earlier` (the text before an edit, computed with the same cache) the rows the edit
// left alone: the engine copies only rows whose inputs are all unchanged, so the numbers are a fresh
// computation's. `recyclable` (the snapshot before `earlier`, which the caller alone holds) gives up the
// matrices of its results that nothing else shares, for the new ones (AttentionProblem::recycled).
SnapshotPointer computeSnapshot(const AttentionInput& input, Backend& backend, const CancelToken& cancel,
                                const PreparedMaps& prepare = {}, ParameterCache* parameters = nullptr,
                                const AttentionSnapshot* earlier = nullptr,
                                AttentionSnapshot* recyclable = nullptr);

}  // namespace attnscope::ui
