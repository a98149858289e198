#pragma once
// A snapshot computed by a GPT-2 model instead of a chapter 3 mechanism: the text through the model's BPE,
// one model run per distinct mask (none and causal are both the model's own causal mask; window, prefix and
// file masks hide keys on top of it), the chosen layer's heads as the grid's rows and every layer × head
// reduced for the model overview.

#include <QString>
#include <map>
#include <string>
#include <vector>

#include "attnscope/gpt2.hpp"
#include "compute/attention_snapshot.hpp"
#include "state/view_settings.hpp"

namespace attnscope::ui {

// What the window's worker keeps between edits for one open model, per distinct mask run: the engine's
// Gpt2Cache (so an edit recomputes only the positions from the first changed token) and every layer × head's
// overview map and statistics with the ids they were made for (so showing another layer runs only that
// layer's attention, from the cached states). Reset it when the model changes.
// One head's overview and statistics terms, per query row: an edit recomputes only the rows it changed.
struct HeadRowSummaries {
  std::vector<HeadRowStats> stats;  // per query row
  // Per query row × OverviewMap::kCells columns (those past the map's size 0): the row's visible weights
  // in the column's block of keys, summed and counted.
  std::vector<float> overviewSums;
  std::vector<int> overviewCounts;
};

struct ModelCache {
  struct Run {
    Gpt2Cache model;
    std::vector<int> ids;  // what overview and headStats describe; empty when they describe nothing
    std::vector<OverviewMap> overview;
    std::vector<HeadStats> headStats;
    std::vector<HeadRowSummaries> rows;  // per layer × head, for the ids' positions when rowsValid
    // Every layer's mean head weights (for the ids' positions when rowsValid): the rollout's Ā_l. Shared with
    // the snapshots made from it; an edit's set shares its blocks before the change.
    std::shared_ptr<const LayerMeans> layerMeans;
    int rowsBlock = 0;  // the overview block (overviewBlock) the rows were summarised with
    bool rowsValid = false;
    // The layer on screen as the last snapshot holds it (which this keeps alive): an edit copies its rows
    // before the change (Gpt2RunOptions::earlier_layers).
    std::shared_ptr<const AttentionResult> shown;
    int shownLayer = -1;
  };
  std::map<std::string, Run> runs;  // by the extra mask's text ("" for the model's causal mask alone)
};

// Opens settings.modelFolder; throws FieldError(model) naming the folder or file and the problem.
Gpt2Model openModel(const QString& folder);

// Null when the text has no tokens. Throws FieldError (text: invalid UTF-8 or more tokens than the model's
// positions; layer: not one of the model's; masks: a bad mask file) and Cancelled (checked between runs,
// layers and maps).
// `names` says how messages name the fields (the headless export names its flags).
SnapshotPointer computeModelSnapshot(const ViewSettings& settings, const Gpt2Model& model,
                                     const CancelToken& cancel, const PreparedMaps& prepare = {},
                                     FieldNames names = setting_name, ModelCache* cache = nullptr);

// The tokens per overview cell for an n-token text: the smallest power of two that leaves at most
// OverviewMap::kCells cells. A power of two, so that the blocks do not move when an edit changes n: the
// summaries of the rows before the edit stay valid.
int overviewBlock(int n);

// Reduces an n × n weights matrix to the overview's at most OverviewMap::kCells² cells (block means of
// the visible cells; NaN where a block is all hidden): each query row's visible weights summed per block of
// keys in key order (summarizeRows), then those sums per block of queries in query order (overviewOf).
OverviewMap reduceForOverview(const Matrix& weights, const MaskMatrix& mask);
// Rows [firstRow, n) of `rows` from the weights' rows (the others are left as they are; rows sized for n).
// The statistics' terms are rowStats' (the step's, HeadResult::row_stats) when it holds n rows, else
// head_row_stats'.
void summarizeRows(const Matrix& weights, const MaskMatrix& mask, Eigen::Index firstRow,
                   HeadRowSummaries& rows, const std::vector<HeadRowStats>& rowStats = {});
// With `earlier` (the map of the same rows before firstRow, for fewer or more tokens), its cells of whole
// blocks of queries before firstRow are taken as they are.
OverviewMap overviewOf(const HeadRowSummaries& rows, int n, const OverviewMap* earlier = nullptr,
                       int firstRow = 0);

}  // namespace attnscope::ui
