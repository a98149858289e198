#pragma once
// One finished computation: the tokens, and one AttentionResult per mask of the grid. Immutable once built
// (but for the prepared map cells, see below), so the worker thread, the views and the exporters share it
// through std::shared_ptr<const AttentionSnapshot>.

#include <qcustomplot.h>

#include <QString>
#include <QStringList>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "attention_input.hpp"
#include "attnscope/backend.hpp"
#include "attnscope/bpe_tokenizer.hpp"
#include "attnscope/gpt2.hpp"
#include "attnscope/result.hpp"
#include "view_settings.hpp"

namespace attnscope::ui {

// One map's cells as QCustomPlot draws them (key = key token, value = query token, masked cells NaN), with
// the extremes of the unmasked cells. A plain QCPColorMapData, so a QCPColorMap can take it over without a
// copy.
struct MapCells {
  int maskRow = 0;
  int head = 0;
  Quantity quantity = Quantity::weights;
  std::unique_ptr<QCPColorMapData> cells;
  double minimum = 0.0, maximum = 0.0;  // NaN when every cell is masked
};

struct MaskedResult {
  MaskSpec mask;
  AttentionConfig config;  // the input's config with this mask set
  AttentionResult result;
};

// The GPT-2 model that computed a snapshot, and the layer its rows hold.
struct ModelInfo {
  QString folder;
  Gpt2Config config;
  int layer = 0;                    // 0-based
  std::vector<BpeToken> tokens;     // ids and vocabulary pieces, in token order
  std::vector<Matrix> finalHidden;  // per mask row: n × n_embd after ln_f
};

// One head of one layer, reduced for the model overview to at most kCells × kCells: each cell is the mean
// of the visible weights of a block of queries × keys, NaN where the whole block is hidden. Small texts keep
// every weight (one cell per query and key).
struct OverviewMap {
  static constexpr int kCells = 32;
  int size = 0;
  std::vector<float> cells;  // size × size, row-major, the query as the row
  float maximum = 0.0f;      // the largest visible cell (0 when every cell is hidden)
};

struct AttentionSnapshot {
  QString text;
  TokenizerKind tokenizer = TokenizerKind::whitespace;
  std::vector<Token> tokens;
  QStringList tokenTexts;                  // tokens[i].text as QString
  std::vector<std::pair<int, int>> spans;  // UTF-16 [begin, end) of each token in `text`
  Matrix embeddings;
  QString embeddingsNote;
  std::vector<MaskedResult> rows;  // one per mask, in grid order
  QString device;
  QString fallbackReason;  // why the chosen device did not compute it (the CPU did); empty when it did
  double computeMs = 0.0;
  // The maps of the quantities on screen when it was computed, built on the worker thread. The one exception
  // to the snapshot being immutable: the first plot to show a map takes its cells (no copy of n² doubles on
  // the GUI thread, no second copy in memory); later plots build their own. Touched on the GUI thread only.
  mutable std::vector<MapCells> prepared;

  // Set when a GPT-2 model computed it: the rows then hold model->layer, every mask row on top of the
  // model's causal mask.
  std::optional<ModelInfo> model;
  // Model only: every layer × head of every mask row, at index (row · n_layer + layer) · n_head + head.
  std::vector<OverviewMap> overview;
  // With a summary, each row has one more map after its heads: the mean or max of the heads, cell by cell
  // (summaries[row]). Its q, k, v and context are empty; its raw scores are the summary of the heads' raw
  // scores, masked cells included.
  HeadSummary headSummary = HeadSummary::none;
  std::vector<HeadResult> summaries;

  int tokenCount() const { return static_cast<int>(tokens.size()); }
  int maskCount() const { return static_cast<int>(rows.size()); }
  // The heads the mechanism has, without the summary.
  int mechanismHeadCount() const {
    return rows.empty() ? 0 : static_cast<int>(rows.front().result.heads.size());
  }
  // The maps per row: the heads, and the summary when there is one.
  int headCount() const { return mechanismHeadCount() + (summaries.empty() ? 0 : 1); }
  bool isSummary(int head) const { return !summaries.empty() && head == mechanismHeadCount(); }
  const HeadResult& head(int row, int head) const {
    return isSummary(head) ? summaries[row] : rows[row].result.heads[head];
  }
  QString headLabel(int head) const;  // "head 3", "mean of heads", "max of heads"
  // What the row computed, in words: "gpt2 layer 3" or the mechanism.
  QString mechanismLabel(int row) const;
  const OverviewMap& overviewMap(int row, int layer, int head) const;
  bool hasDropout() const;
  bool hasQuantity(Quantity quantity) const { return quantity != Quantity::dropoutWeights || hasDropout(); }
  bool isMasked(int row, int query, int key) const { return rows[row].result.mask(query, key) != 0; }
  // The cell's value. A masked cell still has its raw and scaled score (q·k before masked_fill; the engine
  // keeps −∞ there, so it is recomputed from q and k), and a weight of exactly 0.
  float value(int row, int head, Quantity quantity, int query, int key) const;
  // The mask as applied: with a model, none and causal are both its causal mask ("causal") and the others
  // come on top of it ("causal + window:3").
  QString maskLabel(int row) const;
  std::optional<MapCells> takePreparedCells(int row, int head, Quantity quantity) const;
};

// Builds a map's cells (any thread).
MapCells buildMapCells(const AttentionSnapshot& snapshot, int maskRow, int head, Quantity quantity);

// The steps computeSnapshot and computeModelSnapshot share. Token spans are in code points; QString indexes
// UTF-16 units.
std::vector<std::pair<int, int>> utf16Spans(const QString& text, const std::vector<Token>& tokens);
// Adds each row's summary map (nothing for a single head or HeadSummary::none).
void addHeadSummaries(AttentionSnapshot& snapshot, HeadSummary summary);
// Builds the cells of the maps of `quantities`, checking `cancel` between maps.
void prepareMaps(AttentionSnapshot& snapshot, const std::vector<Quantity>& quantities,
                 const CancelToken& cancel);

using SnapshotPointer = std::shared_ptr<const AttentionSnapshot>;

// Computes one result per mask of `input` on `backend`, and prepares the maps of `prepare`; checks `cancel`
// between masks and maps (the backend checks it between heads) and throws attnscope::Cancelled. Engine errors
// become FieldError(general).
SnapshotPointer computeSnapshot(const AttentionInput& input, Backend& backend, const CancelToken& cancel,
                                const std::vector<Quantity>& prepare = {});

}  // namespace attnscope::ui
