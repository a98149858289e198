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

  int tokenCount() const { return static_cast<int>(tokens.size()); }
  int maskCount() const { return static_cast<int>(rows.size()); }
  int headCount() const { return rows.empty() ? 0 : static_cast<int>(rows.front().result.heads.size()); }
  bool hasDropout() const;
  bool hasQuantity(Quantity quantity) const { return quantity != Quantity::dropoutWeights || hasDropout(); }
  bool isMasked(int row, int query, int key) const { return rows[row].result.mask(query, key) != 0; }
  // The cell's value. A masked cell still has its raw and scaled score (q·k before masked_fill; the engine
  // keeps −∞ there, so it is recomputed from q and k), and a weight of exactly 0.
  float value(int row, int head, Quantity quantity, int query, int key) const;
  QString maskLabel(int row) const { return QString::fromStdString(rows[row].mask.to_string()); }
  std::optional<MapCells> takePreparedCells(int row, int head, Quantity quantity) const;
};

// Builds a map's cells (any thread).
MapCells buildMapCells(const AttentionSnapshot& snapshot, int maskRow, int head, Quantity quantity);

using SnapshotPointer = std::shared_ptr<const AttentionSnapshot>;

// Computes one result per mask of `input` on `backend`, and prepares the maps of `prepare`; checks `cancel`
// between masks and maps (the backend checks it between heads) and throws attnscope::Cancelled. Engine errors
// become FieldError(general).
SnapshotPointer computeSnapshot(const AttentionInput& input, Backend& backend, const CancelToken& cancel,
                                const std::vector<Quantity>& prepare = {});

}  // namespace attnscope::ui
