#pragma once
// How the maps are drawn, apart from what is computed: which quantities, the colour map and range, how a
// long text's cells are reduced, and whether each mask row adds a map that sums up its heads. Changing any
// of it never runs the engine again (the head summary is made from the snapshot on the worker).

#include <QString>
#include <vector>

namespace attnscope::ui {

// What a heatmap shows, in the order the grid stacks them.
enum class Quantity { rawScores, scaledScores, weights, dropoutWeights };

enum class ColorMapId { viridis, magma, cividis };

// How a map with more tokens than pixels shows each block of cells: its largest or its mean unmasked value.
enum class Reduction { max, mean };
// An extra map per mask row that sums up its heads cell by cell, or, for a model, the attention rollout
// (Abnar & Zuidema, 2020) from layer 0 up to the layer shown.
enum class HeadSummary { none, mean, max, rollout };

// What Compare shows per head: only the difference A − B, or A, B and the difference.
enum class CompareView { difference, aBAndDifference };

struct DisplayOptions {
  std::vector<Quantity> quantities{Quantity::weights};  // in Quantity order, no duplicates
  ColorMapId colorMap = ColorMapId::viridis;
  bool sharedRange = true;  // one colour range per quantity across all maps, else one per map
  Reduction reduction = Reduction::max;
  HeadSummary headSummary = HeadSummary::none;
  // Each head's statistics on a line under its map's title ("H 1.7 bits · self 0.41 · …"). On by default: the
  // numbers are computed with every edit anyway, and they are what tells a learner which map to look at.
  bool statReadouts = true;
  CompareView compareView = CompareView::difference;

  friend bool operator==(const DisplayOptions&, const DisplayOptions&) = default;
};

QString toString(Quantity quantity);         // "raw scores", "scaled scores", "weights", "dropout weights"
QString slugOf(Quantity quantity);           // "scores", "scaled-scores", "weights", "dropout-weights"
QString colorScaleLabel(Quantity quantity);  // the colour bar's: "score q·k", …, "weight after dropout"
QString toString(ColorMapId colorMap);       // "viridis", "magma", "cividis"
QString toString(Reduction reduction);       // "max", "mean"
QString toString(HeadSummary summary);       // "none", "mean", "max", "rollout"
QString toString(CompareView view);          // "difference", "a-b-difference"
bool isScore(Quantity quantity);             // raw or scaled scores: a diverging map centred on 0
const std::vector<Quantity>& allQuantities();

}  // namespace attnscope::ui
