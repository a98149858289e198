#pragma once
// The probe (attnscope/head_stats.hpp) over the heads a snapshot holds: how much the selected query attends
// to one key in every head, strongest first. A model's snapshot holds the shown layer's weights, and every
// layer's while the text is short enough for the overview to keep each weight (OverviewMap::kCells tokens).

#include <QString>
#include <vector>

#include "attnscope/head_stats.hpp"
#include "compute/attention_snapshot.hpp"

namespace attnscope::ui {

struct SnapshotProbe {
  int maskRow = 0, query = -1, key = -1;
  std::vector<ProbeHit> hits;  // strongest first, then by layer, then head (probe()'s order)
  bool everyLayer = true;      // false: only the shown layer of a model (its other layers are not kept)
};

// Throws attnscope::Error when the query or key is outside the text.
SnapshotProbe probeSnapshot(const AttentionSnapshot& snapshot, int maskRow, int query, int key);

// The status line: "“it” → “animal”: L5 H1 0.62, L4 H11 0.41, L0 H3 0.12" (heads and layers from 0; no
// layer for the chapter-3 mechanisms), the first `shown` hits.
QString probeSummary(const AttentionSnapshot& snapshot, const SnapshotProbe& probe, int shown = 3);

}  // namespace attnscope::ui
