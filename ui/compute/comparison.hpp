#pragma once
// Compare (issue 21): input B, the compare text, computed with input A's settings, and how each head's
// weights differ (attnscope/compare.hpp, as attnscope-cli compute --compare-text reports it). Made on the
// worker thread right after A, immutable once published.

#include <QString>
#include <algorithm>
#include <memory>
#include <vector>

#include "attnscope/compare.hpp"
#include "compute/attention_snapshot.hpp"
#include "compute/model_snapshot.hpp"

namespace attnscope::ui {

struct Comparison {
  SnapshotPointer a;  // the snapshot it compares, as computed (without a later head summary)
  SnapshotPointer b;  // null when B could not be computed
  QString problem;    // why B has no maps; empty when it has
  // Per mask row of A (B has the same masks), per mechanism head: compare_heads(A row, B row, layer shown).
  std::vector<std::vector<HeadComparison>> rows;

  // m = min(n_A, n_B): the aligned queries and keys (0 without B).
  int alignedCount() const { return b ? std::min(a->tokenCount(), b->tokenCount()) : 0; }
  const HeadComparison& of(int maskRow, int head) const {
    return rows[static_cast<std::size_t>(maskRow)][static_cast<std::size_t>(head)];
  }
  // The largest |A − B| over every head and mask row: the diverging map's range is ± this, shared by all.
  double largestDifference() const;
};

using ComparisonPointer = std::shared_ptr<const Comparison>;

// Both computed: compares every mask row's heads. Throws attnscope::Error as compare_heads.
ComparisonPointer compareSnapshots(SnapshotPointer a, SnapshotPointer b);
// B could not be computed: A stays, `problem` says why.
ComparisonPointer failedComparison(SnapshotPointer a, const QString& problem);

// `settings` with their compare text as the text (and no compare text).
ViewSettings inputBSettings(const ViewSettings& settings);

// What computing B needs besides its settings; each pointer may be null (no reuse). B's caches are its own:
// A's ModelCache describes A's ids, and sharing it would make every edit of either text recompute both.
struct InputBResources {
  Backend* backend = nullptr;        // the book's mechanisms
  const Gpt2Model* model = nullptr;  // a model's settings
  ParameterCache* parameters = nullptr;
  ModelCache* modelCache = nullptr;
  const AttentionSnapshot* earlier = nullptr;  // B's last snapshot, computed with `parameters`
};

// Input B of `settings` (which have a compare text), computed as A is but with every matrix kept (the
// comparison reads its weights): null when B has no tokens. Throws as computeSnapshot and
// computeModelSnapshot.
SnapshotPointer computeInputB(const ViewSettings& settings, const InputBResources& resources,
                              const CancelToken& cancel, FieldNames names = setting_name);

}  // namespace attnscope::ui
