#pragma once
// What a computation returns: per head every intermediate a viewer shows, plus the module's output.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "attnscope/config.hpp"
#include "attnscope/matrix.hpp"

namespace attnscope {

// One query row's terms of the head statistics (head_stats.hpp): its entropy in bits, its largest weight, its
// weights on the first token, itself and the previous token, and its number of visible keys (a row with none
// is left out of every mean).
struct HeadRowStats {
  double bits = 0.0;
  float max_weight = 0.0f, first_token = 0.0f, self = 0.0f, previous_token = 0.0f;
  Eigen::Index visible = 0;
};

struct HeadResult {
  Matrix queries;      // n × head_dim
  Matrix keys;         // n × head_dim
  Matrix values;       // n × head_dim
  float scale = 1.0f;  // 1/√head_dim (1 for simplified); scaled score = score · scale
  // n × n raw q·k, hidden cells −∞ as PyTorch's masked_fill leaves them; empty when keep_scores is false.
  Matrix scores;
  Matrix weights;  // n × n normalised (softmax or sum) masked, scaled scores; hidden cells exactly 0
  std::optional<Matrix> dropout_weights;  // n × n, only when dropout > 0
  Matrix context;                         // n × head_dim: (dropout_)weights · values
  // Per query row, the statistics' terms of `weights` (head_row_stats), when AttentionProblem::row_stats
  // asked for them and the backend computed them with the weights (the CPU backend does, while each block's
  // weights are in cache); empty otherwise. Equal, bit for bit, to head_row_stats over `weights`.
  std::vector<HeadRowStats> row_stats;
};

struct AttentionResult {
  std::vector<HeadResult> heads;
  MaskMatrix mask;  // n × n, shared by every head
  // Queries whose every key is hidden: their weights row is all zero (PyTorch would give NaN) and their
  // context is the zero vector.
  std::vector<Eigen::Index> empty_rows;
  Matrix output;  // context (single head), concatenation (wrapper) or out_proj(concatenation) (multihead)
  std::string device;  // the backend that computed it, e.g. "cpu"
  // Why the requested device did not compute it (e.g. the GPU ran out of memory), in one line; empty when it
  // did. The CPU then computed it and `device` says "cpu".
  std::string fallback_reason;
  double compute_ms = 0.0;
  // Input rows projected for it: fewer than n when the backend reused the previous text's projections of
  // the rows an edit left as they were (the CPU backend does).
  Eigen::Index projected_rows = 0;
  // Query rows whose scores, weights and context were copied from an earlier result rather than computed
  // (AttentionProblem::earlier); 0 when none were.
  Eigen::Index copied_rows = 0;
  // Which: [begin, end) ranges of query rows, in order, apart (their lengths sum to copied_rows). An edit
  // leaves rows alone before it and, under a mask whose rows see only some keys, after it too.
  std::vector<std::pair<Eigen::Index, Eigen::Index>> copied_ranges;
  // This result's number, unique in the process (0: none), and that of the earlier result its copied rows
  // (and rescored blocks) came from (AttentionProblem::recycled relies on it).
  std::uint64_t id = 0, copied_from = 0;
  // Per block of 64 query rows (or empty): 1 where its raw scores are copied_from's but for the columns of
  // `rescored_keys` (sorted), which were computed (the CPU backend, for a block that sees every key).
  std::vector<char> rescored_blocks;
  std::vector<Eigen::Index> rescored_keys;
  // What computed it, for a later computation deciding what it may copy: the parameters' draw
  // (ModuleParameters::id, 0 when unknown) and the normalisation.
  std::uint64_t parameters_id = 0;
  Normalization normalization = Normalization::softmax;
};

}  // namespace attnscope
