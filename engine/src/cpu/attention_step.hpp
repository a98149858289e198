#pragma once
// The part of attention a viewer needs after the projections: scores, scale, mask, normalisation, dropout and
// context, computed block by block so that blocks of keys hidden from a whole block of queries are skipped.

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "attnscope/backend.hpp"
#include "attnscope/result.hpp"

namespace attnscope::cpu {

// Where the blocks' time goes, summed over blocks and threads: the bench's mask + softmax share.
struct StepClock {
  std::atomic<std::int64_t> block_ns{0}, normalize_ns{0};
};

struct StepInput {
  const Matrix* queries = nullptr;  // n × d (or more rows: see tokens)
  const Matrix* keys = nullptr;     // n × d
  const Matrix* values = nullptr;   // n × d
  float scale_divisor = 1.0f;
  const MaskMatrix* mask = nullptr;  // n × n, 1 = hidden
  Normalization normalization = Normalization::softmax;
  const std::vector<float>* dropout_noise = nullptr;  // n·n multipliers, or null
  bool keep_scores = true;
  StepClock* clock = nullptr;  // when set, attention_rows adds its time to it
  // Also fill head.row_stats (HeadResult), each block's rows from its weights while they are in cache.
  bool row_stats = false;
  // Compute every row as if alone (ordered_product, each row's softmax over its own visible keys), so that a
  // block's later rows may be computed without its earlier ones and get the same bits (CopiedBlocks::
  // rows_before). Otherwise the products are Eigen's, whose bits depend on the block's shape. Without
  // dropout (GPT-2's step): the context of dropped weights is Eigen's product either way.
  bool row_exact = false;
  // Compute a dense block's scores (every query of the block sees the same keys, as without a mask) as
  // ordered_product does, each cell one chain of fused multiply-adds over its q and k. Its bits then do not
  // depend on the other cells computed with it, so a block whose queries an edit left alone copies its
  // earlier scores and recomputes only the columns of the keys that changed (CopiedBlocks::scores_reusable).
  // Otherwise the products are Eigen's.
  bool ordered_scores = false;
  // The keys as columns (d × n), for ordered_scores; attention_heads fills it.
  const Matrix* keys_transposed = nullptr;
  // n, when the inputs have spare rows past the text's (a model keeps them for the next edit); 0: all rows.
  Eigen::Index tokens = 0;
  Eigen::Index length() const { return tokens > 0 ? tokens : queries->rows(); }
};

// For each query row, the half-open range of keys that are visible to it ([0, 0) when none is), and whether
// every key inside it is visible (causal, window and prefix masks: the row needs no mask reads).
struct VisibleRange {
  Eigen::Index begin = 0, end = 0;
  bool contiguous = true;
};
std::vector<VisibleRange> visible_ranges(const MaskMatrix& mask);

// The keys a block of queries [row_begin, row_end) computes: from the first key any of them sees to the last
// ([0, 0) when none sees any). Products and normalisation skip the keys outside it.
struct KeySpan {
  Eigen::Index begin = 0, end = 0;
};
KeySpan block_key_span(const std::vector<VisibleRange>& ranges, Eigen::Index row_begin, Eigen::Index row_end,
                       Eigen::Index n);

// A thread's working memory for attention_rows, resized as needed.
struct StepScratch {
  Matrix cells;             // a block's scores and weights, when they do not go straight into the results
  Matrix keys;              // row_exact: the span's keys as columns (d × keys, padded to whole packets)
  Matrix values;            // row_exact, a head size that is not whole packets: the span's values, padded
  Matrix context;           // … and the block's context rows, padded
  Matrix columns;           // ordered_scores: a few keys as columns, padded to a packet …
  Matrix cells_of_columns;  // … and their scores
};

// A dense block's earlier scores and the keys whose scores changed since (sorted): attention_rows copies the
// rest (ordered_scores).
struct EarlierScores {
  const Matrix* scores = nullptr;  // the earlier result's raw scores, rows of its own length
  std::span<const Eigen::Index> changed_keys;
  // The block's rows hold the earlier scores already but for these keys' columns (sorted): recycled
  // matrices the earlier result rescored (AttentionResult::rescored_blocks). Null: they hold nothing.
  const std::vector<Eigen::Index>* stale_keys = nullptr;
};

// Fills head.scores (hidden cells −∞; left empty unless keep_scores), head.weights, head.dropout_weights and
// head.context for the rows [row_begin, row_end). `ranges` comes from visible_ranges(*input.mask). With
// `earlier` (ordered_scores, a dense block whose queries did not change), the raw scores are copied from it
// but for the changed keys' columns.
void attention_rows(const StepInput& input, const std::vector<VisibleRange>& ranges, Eigen::Index row_begin,
                    Eigen::Index row_end, HeadResult& head, StepScratch& scratch,
                    const EarlierScores* earlier = nullptr);

// Queries per task: large enough for an efficient GEMM, small enough that causal masks skip most hidden
// blocks.
constexpr Eigen::Index kRowBlock = 64;

// Blocks of kRowBlock queries whose every input equals an earlier result's: attention_heads copies their
// rows from it instead of computing them (the same bits: the same inputs, the same products).
struct CopiedBlocks {
  std::span<const HeadResult> earlier;  // one per head; empty: the marked blocks are skipped
  std::vector<char> copied;             // per block (or empty)
  // Rows before this one are copied (or skipped) too, in whichever block they are: only for row_exact inputs.
  Eigen::Index rows_before = 0;
  // Per block not copied (or empty): whether its queries are the same, it has no hidden cell now nor in the
  // earlier result, and that result holds its rows' scores. With ordered_scores, such a block copies them
  // and recomputes the columns of `changed_keys` (sorted) and of keys past the earlier text's.
  std::vector<char> scores_reusable;
  std::vector<Eigen::Index> changed_keys;
  // Per copied block (or empty): the heads' weights and scores hold its rows already (recycled matrices
  // that `earlier` copied them from), so only its context and statistics are copied.
  std::vector<char> held;
  // Per scores_reusable block (or empty): the heads' scores hold its rows already but for the columns of
  // `stale_keys` (recycled matrices `earlier` copied or rescored them from).
  std::vector<char> scores_held;
  std::vector<Eigen::Index> stale_keys;
};

// attention_rows for every head (inputs[h] into heads[h], already sized by allocate_head), spread over
// `threads` threads as (head, block of kRowBlock queries) tasks; `cancel`, when given, is checked per task.
// The blocks `copied` marks (when given), and the rows before its rows_before, are copied from its earlier
// heads.
void attention_heads(std::span<const StepInput> inputs, const std::vector<VisibleRange>& ranges,
                     std::span<HeadResult> heads, int threads, const CancelToken* cancel,
                     const CopiedBlocks* copied = nullptr);

// Rows [row_begin, row_end) of head's weights, scores (when keep_scores), context and row_stats (when sized)
// copied from an earlier head whose inputs for those rows were the same (the same bits). Its rows may be
// shorter or longer than head's: cells past its columns are hidden, cells past head's dropped.
void copy_earlier_rows(const HeadResult& earlier, const MaskMatrix& mask, Eigen::Index row_begin,
                       Eigen::Index row_end, bool keep_scores, HeadResult& head, bool matrices_held = false);

// Sizes head's matrices (and row_stats when asked) for n queries (no initialisation; attention_rows writes
// every cell).
void allocate_head(const StepInput& input, HeadResult& head);

}  // namespace attnscope::cpu
