#pragma once
// A snapshot computed by a GPT-2 model instead of a chapter 3 mechanism: the text through the model's BPE,
// one model run per distinct mask (none and causal are both the model's own causal mask; window, prefix and
// file masks hide keys on top of it), the chosen layer's heads as the grid's rows and every layer × head
// reduced for the model overview.

#include <QString>
#include <vector>

#include "attnscope/gpt2.hpp"
#include "compute/attention_snapshot.hpp"
#include "state/view_settings.hpp"

namespace attnscope::ui {

// Opens settings.modelFolder; throws FieldError(model) naming the folder or file and the problem.
Gpt2Model openModel(const QString& folder);

// Null when the text has no tokens. Throws FieldError (text: invalid UTF-8 or more tokens than the model's
// positions; layer: not one of the model's; masks: a bad mask file) and Cancelled (checked between runs,
// layers and maps).
// `names` says how messages name the fields (the headless export names its flags).
SnapshotPointer computeModelSnapshot(const ViewSettings& settings, const Gpt2Model& model,
                                     const CancelToken& cancel, const PreparedMaps& prepare = {},
                                     FieldNames names = setting_name);

// Reduces an n × n weights matrix to the overview's at most OverviewMap::kCells² cells (block means of
// the visible cells; NaN where a block is all hidden).
OverviewMap reduceForOverview(const Matrix& weights, const MaskMatrix& mask);

}  // namespace attnscope::ui
