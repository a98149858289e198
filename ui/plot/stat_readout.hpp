#pragma once
// A map's statistics on one short line under its title (Display ▸ Statistics under each map):
// "H 1.7 bits · self 0.41 · prev 0.05 · first 0.12", and the same with full names for its tooltip. The
// window's scrolling grid (HeatmapPlot), the fit view and every export (FigureRenderer) print the same text.

#include <QString>
#include <optional>

#include "attnscope/head_stats.hpp"
#include "compute/attention_snapshot.hpp"

namespace attnscope::ui {

// The statistics of the map of `head` in mask row `maskRow`, for the layer the grid shows (a model's
// snapshot->model->layer); empty for a summary map (mean/max of heads) and for a snapshot without statistics.
std::optional<HeadStats> shownStatsOf(const AttentionSnapshot& snapshot, int maskRow, int head);

// "H 1.7 bits · self 0.41 · prev 0.05 · first 0.12"; a statistic without a value reads "–".
QString statReadout(const HeadStats& stats);
// "entropy 1.73 bits · attention to itself 0.412 · to the previous token 0.051 · to the first token 0.120",
// each a mean over the query rows that see a key.
QString statReadoutToolTip(const HeadStats& stats);

// The readout of a map, empty when it has none (see shownStatsOf).
QString statReadout(const AttentionSnapshot& snapshot, int maskRow, int head);
QString statReadoutToolTip(const AttentionSnapshot& snapshot, int maskRow, int head);

}  // namespace attnscope::ui
