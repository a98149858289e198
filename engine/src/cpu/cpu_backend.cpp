#include "cpu/cpu_backend.hpp"

#include <algorithm>
#include <cstring>
#include <span>
#include <string>

#include "attnscope/error.hpp"
#include "cpu/attention_step.hpp"
#include "cpu/parallel.hpp"

namespace attnscope::cpu {
namespace {

// Input rows per projection block. Blocks sit at fixed positions, so each block's product is computed the
// same way whichever edits led to the text: a text's numbers never depend on its history. An edit re-projects
// the blocks it touched, so small blocks make typing cheap, and Eigen's product costs the same per row down
// to 16 (on the 2-core AVX2 VM, 36 products of 1,024 × 768 by 768 × 64: 71 ms in blocks of 128 rows, 72 ms
// in blocks of 16; one block: 7.3 against 1.0 ms). Below 16 its row tiles go unfilled.
constexpr Eigen::Index kProjectionRows = 16;

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }

  AttentionResult compute(const AttentionProblem& problem, const CancelToken& cancel) override {
    Eigen::Index projected_rows = 0;
    AttentionResult result = attend(problem, problem.mask, project_heads(problem, cancel, &projected_rows),
                                    problem.earlier.empty() ? nullptr : problem.earlier.front(), cancel);
    result.projected_rows = projected_rows;
    return result;
  }

  void compute_masks(const AttentionProblem& problem, const std::vector<MaskMatrix>& masks,
                     const CancelToken& cancel, const MaskResultSink& each) override {
    if (masks.empty()) return;
    Eigen::Index projected_rows = 0;
    std::vector<HeadResult> projected = project_heads(problem, cancel, &projected_rows);
    for (std::size_t m = 0; m < masks.size(); ++m) {
      const bool last = m + 1 == masks.size();
      const AttentionResult* earlier = m < problem.earlier.size() ? problem.earlier[m] : nullptr;
      const HeadSink* sink = problem.each_heads ? &problem.each_heads : nullptr;
      AttentionResult* recycled = m < problem.recycled.size() ? problem.recycled[m] : nullptr;
      AttentionResult result =
          attend(problem, masks[m], last ? std::move(projected) : projections_copy(projected), earlier,
                 cancel, sink, m, recycled);
      result.projected_rows = projected_rows;
      each(m, std::move(result));
    }
  }

 private:
  // The last text's projections: an edit re-projects only the blocks of rows it changed (typing at the end
  // of a long text re-projects one block, not the text).
  struct ProjectionCache {
    std::shared_ptr<const std::vector<HeadProjection>> parameters;
    Matrix input;
    std::vector<HeadResult> heads;  // the queries, keys and values of `input`
  };
  ProjectionCache cache_;

  // Each head's queries, keys and values: the part of the work that no mask changes.
  std::vector<HeadResult> project_heads(const AttentionProblem& problem, const CancelToken& cancel,
                                        Eigen::Index* projected_rows) {
    if (!problem.heads) throw Error("CPU backend: the problem has no parameters (AttentionProblem::heads)");
    const std::vector<HeadProjection>& projections = *problem.heads;
    const Matrix& input = problem.input;
    const Eigen::Index n = input.rows(), cached_rows = cache_.input.rows();
    const bool same_parameters = cache_.parameters == problem.heads && cache_.input.cols() == input.cols();
    const auto rows_of = [](Eigen::Index begin, Eigen::Index total) {
      return std::min(total - begin, kProjectionRows);
    };
    std::vector<Eigen::Index> kept, stale;  // first rows of the blocks
    for (Eigen::Index begin = 0; begin < n; begin += kProjectionRows) {
      const Eigen::Index rows = rows_of(begin, n);
      // Bits, not values (−0 and 0 are equal values), compared as one run of memory per block.
      const bool same = same_parameters && begin < cached_rows && rows_of(begin, cached_rows) == rows &&
                        std::memcmp(cache_.input.row(begin).data(), input.row(begin).data(),
                                    sizeof(float) * static_cast<std::size_t>(rows * input.cols())) == 0;
      (same ? kept : stale).push_back(begin);
    }

    // The kept blocks' rows from the cache: all its rows when the text kept its length (the stale blocks are
    // projected over them below), else block by block.
    const bool whole_cache = same_parameters && cached_rows == n && !kept.empty();
    std::vector<HeadResult> heads =
        whole_cache ? projections_copy(cache_.heads) : std::vector<HeadResult>(projections.size());
    if (!whole_cache)
      for (std::size_t h = 0; h < heads.size(); ++h) {
        const Eigen::Index d = projections[h].w_query.cols();
        heads[h].queries.resize(n, d);
        heads[h].keys.resize(n, d);
        heads[h].values.resize(n, d);
        for (const Eigen::Index begin : kept) {
          const Eigen::Index rows = rows_of(begin, n);
          heads[h].queries.middleRows(begin, rows) = cache_.heads[h].queries.middleRows(begin, rows);
          heads[h].keys.middleRows(begin, rows) = cache_.heads[h].keys.middleRows(begin, rows);
          heads[h].values.middleRows(begin, rows) = cache_.heads[h].values.middleRows(begin, rows);
        }
      }
    parallel_for(heads.size() * stale.size(), worker_threads(), [&](std::size_t task) {
      cancel.throw_if_cancelled();
      const std::size_t h = task / stale.size();
      const Eigen::Index begin = stale[task % stale.size()], rows = rows_of(begin, n);
      const HeadProjection& projection = projections[h];
      const auto project = [&](Matrix& out, const Matrix& weight, const std::optional<Vector>& bias) {
        auto block = out.middleRows(begin, rows);
        block.noalias() = input.middleRows(begin, rows) * weight;
        if (bias) block.rowwise() += *bias;
      };
      project(heads[h].queries, projection.w_query, projection.b_query);
      project(heads[h].keys, projection.w_key, projection.b_key);
      project(heads[h].values, projection.w_value, projection.b_value);
    });
    *projected_rows = 0;
    for (const Eigen::Index begin : stale) *projected_rows += rows_of(begin, n);
    remember(problem.heads, input, heads, whole_cache ? &stale : nullptr);
    return heads;
  }

  // Keeps `heads` as the projections of `input` for the next edit: only the `stale` blocks' rows when given
  // (the cache holds a text of the same length and parameters whose other blocks are the same), else all.
  void remember(const std::shared_ptr<const std::vector<HeadProjection>>& parameters, const Matrix& input,
                const std::vector<HeadResult>& heads, const std::vector<Eigen::Index>* stale) {
    if (!stale) {
      cache_ = ProjectionCache{parameters, input, projections_copy(heads)};
      return;
    }
    const Eigen::Index n = input.rows();
    for (const Eigen::Index begin : *stale) {
      const Eigen::Index rows = std::min(n - begin, kProjectionRows);
      cache_.input.middleRows(begin, rows) = input.middleRows(begin, rows);
      for (std::size_t h = 0; h < heads.size(); ++h) {
        cache_.heads[h].queries.middleRows(begin, rows) = heads[h].queries.middleRows(begin, rows);
        cache_.heads[h].keys.middleRows(begin, rows) = heads[h].keys.middleRows(begin, rows);
        cache_.heads[h].values.middleRows(begin, rows) = heads[h].values.middleRows(begin, rows);
      }
    }
  }

  // The heads' queries, keys and values, copied on every worker: a long text's are megabytes, which one
  // thread copies while the others wait.
  static std::vector<HeadResult> projections_copy(const std::vector<HeadResult>& heads) {
    std::vector<HeadResult> copy(heads.size());
    parallel_for(heads.size(), worker_threads(), [&](std::size_t h) {
      copy[h].queries = heads[h].queries;
      copy[h].keys = heads[h].keys;
      copy[h].values = heads[h].values;
    });
    return copy;
  }

  // Marks the blocks of kRowBlock queries whose every input equals `earlier`'s, as AttentionProblem::earlier
  // describes. The earlier result must come from this backend (another device's numbers differ in their
  // last bits) with the same parameters, normalisation, scale and sizes; then a block is copied when it has
  // the same rows, the same mask rows (cells of keys only one of the two texts has must be hidden), the
  // same queries, and the same keys and values over the span it computes.
  static CopiedBlocks unchanged_blocks(const AttentionProblem& problem, const MaskMatrix& mask,
                                       const std::vector<VisibleRange>& ranges,
                                       const std::vector<HeadResult>& heads, const AttentionResult* earlier) {
    const Eigen::Index n = mask.rows();
    CopiedBlocks blocks;
    blocks.copied.assign(static_cast<std::size_t>((n + kRowBlock - 1) / kRowBlock), 0);
    if (!earlier || earlier->device != "cpu" || problem.parameters_id == 0 ||
        earlier->parameters_id != problem.parameters_id || earlier->normalization != problem.normalization ||
        !problem.dropout_noise.empty() || earlier->heads.size() != heads.size())
      return blocks;
    const Eigen::Index before = earlier->mask.rows();
    if (earlier->mask.cols() != before) return blocks;
    for (std::size_t h = 0; h < heads.size(); ++h) {
      const HeadResult& old = earlier->heads[h];
      const Eigen::Index d = heads[h].queries.cols();
      const auto sized = [](const Matrix& matrix, Eigen::Index rows, Eigen::Index cols) {
        return matrix.rows() == rows && matrix.cols() == cols;
      };
      if (old.dropout_weights || old.scale != 1.0f / problem.scale_divisor ||
          !sized(old.queries, before, d) || !sized(old.keys, before, heads[h].keys.cols()) ||
          !sized(old.values, before, heads[h].values.cols()) || !sized(old.weights, before, before) ||
          !sized(old.context, before, heads[h].values.cols()) ||
          (problem.keep_scores && !sized(old.scores, before, before)))
        return blocks;
    }
    // Per row of both texts: whether every head's query, and every head's key and value, has the same bits
    // (compared head by head on every worker: a long text's are megabytes).
    const Eigen::Index shared = std::min(n, before);
    std::vector<std::vector<char>> query_changed(heads.size()), key_changed(heads.size());
    parallel_for(heads.size(), worker_threads(), [&](std::size_t h) {
      const auto changed = [&](Matrix HeadResult::*matrix, Eigen::Index row) {
        const Matrix& now = heads[h].*matrix;
        const Matrix& old = earlier->heads[h].*matrix;
        return std::memcmp(now.row(row).data(), old.row(row).data(), sizeof(float) * now.cols()) != 0;
      };
      query_changed[h].resize(static_cast<std::size_t>(shared));
      key_changed[h].resize(static_cast<std::size_t>(shared));
      for (Eigen::Index i = 0; i < shared; ++i) {
        query_changed[h][i] = changed(&HeadResult::queries, i);
        key_changed[h][i] = changed(&HeadResult::keys, i) || changed(&HeadResult::values, i);
      }
    });
    const auto in_any_head = [&](const std::vector<std::vector<char>>& flags, Eigen::Index row) {
      return std::any_of(flags.begin(), flags.end(),
                         [row](const std::vector<char>& head) { return head[row]; });
    };
    std::vector<char> same_queries(shared);
    std::vector<Eigen::Index> changed_keys_before(shared + 1, 0);  // rows < i whose key or value changed
    for (Eigen::Index i = 0; i < shared; ++i) {
      same_queries[i] = !in_any_head(query_changed, i);
      changed_keys_before[i + 1] = changed_keys_before[i] + (in_any_head(key_changed, i) ? 1 : 0);
    }
    const auto all_hidden = [](const std::uint8_t* cells, Eigen::Index count) {
      return std::find(cells, cells + count, std::uint8_t{0}) == cells + count;
    };
    for (std::size_t block = 0; block < blocks.copied.size(); ++block) {
      const Eigen::Index row_begin = static_cast<Eigen::Index>(block) * kRowBlock;
      const Eigen::Index rows = std::min(n - row_begin, kRowBlock);
      if (row_begin >= before || std::min(before - row_begin, kRowBlock) != rows) continue;
      bool same = true;
      for (Eigen::Index i = row_begin; same && i < row_begin + rows; ++i) {
        const std::uint8_t* now = mask.row(i).data();
        const std::uint8_t* old = earlier->mask.row(i).data();
        same = same_queries[i] && std::memcmp(now, old, shared) == 0 &&
               all_hidden(now + shared, n - shared) && all_hidden(old + shared, before - shared);
      }
      const KeySpan span = block_key_span(ranges, row_begin, row_begin + rows, n);
      blocks.copied[block] = same && changed_keys_before[span.end] == changed_keys_before[span.begin];
    }
    mark_reusable_scores(mask, earlier, same_queries, key_changed, blocks);
    blocks.earlier = earlier->heads;
    return blocks;
  }

  // Marks the blocks not copied whose earlier scores may be copied but for a few keys (CopiedBlocks::
  // scores_reusable): the same queries, no hidden cell in their rows now or in `earlier`'s (every query of
  // such a block computes every key: its scores are ordered_product's in both), and `earlier`'s scores kept.
  // Only when the keys that changed, or that the earlier text lacked, are at most a quarter of the text's:
  // otherwise copying the rest costs more than the product it saves.
  static void mark_reusable_scores(const MaskMatrix& mask, const AttentionResult* earlier,
                                   const std::vector<char>& same_queries,
                                   const std::vector<std::vector<char>>& key_changed, CopiedBlocks& blocks) {
    const Eigen::Index n = mask.rows(), before = earlier->mask.rows();
    for (const HeadResult& head : earlier->heads)
      if (head.scores.rows() != before || head.scores.cols() != before) return;
    for (Eigen::Index key = 0; key < std::min(n, before); ++key)
      if (std::any_of(key_changed.begin(), key_changed.end(),
                      [key](const std::vector<char>& head) { return head[key] != 0; }))
        blocks.changed_keys.push_back(key);
    const Eigen::Index new_keys = std::max<Eigen::Index>(0, n - before);
    if (static_cast<Eigen::Index>(blocks.changed_keys.size()) + new_keys > n / 4) return;
    const auto none_hidden = [](const MaskMatrix& cells, Eigen::Index row_begin, Eigen::Index rows) {
      return std::memchr(cells.row(row_begin).data(), 1, static_cast<std::size_t>(rows * cells.cols())) ==
             nullptr;
    };
    blocks.scores_reusable.assign(blocks.copied.size(), 0);
    for (std::size_t block = 0; block < blocks.copied.size(); ++block) {
      const Eigen::Index row_begin = static_cast<Eigen::Index>(block) * kRowBlock;
      const Eigen::Index rows = std::min(n - row_begin, kRowBlock);
      if (blocks.copied[block] || row_begin + rows > before) continue;
      const bool same = std::all_of(same_queries.begin() + row_begin, same_queries.begin() + row_begin + rows,
                                    [](char same_query) { return same_query != 0; });
      blocks.scores_reusable[block] =
          same && none_hidden(mask, row_begin, rows) && none_hidden(earlier->mask, row_begin, rows);
    }
  }

  // The attention step under `mask` for heads that hold their projections, copying from `earlier` (may be
  // null) the blocks whose inputs it shares; with a `sink`, a group of heads at a time, each handed to it
  // (as mask `mask_index`'s) when done.
  static AttentionResult attend(const AttentionProblem& problem, const MaskMatrix& mask,
                                std::vector<HeadResult> heads, const AttentionResult* earlier,
                                const CancelToken& cancel, const HeadSink* sink = nullptr,
                                std::size_t mask_index = 0, AttentionResult* recycled = nullptr) {
    const Eigen::Index n = problem.input.rows();
    AttentionResult result;
    result.device = "cpu";
    result.mask = mask;
    const std::vector<VisibleRange> ranges = visible_ranges(mask);
    for (Eigen::Index i = 0; i < n; ++i)
      if (ranges[static_cast<std::size_t>(i)].begin >= ranges[static_cast<std::size_t>(i)].end)
        result.empty_rows.push_back(i);

    result.heads = std::move(heads);
    std::vector<StepInput> inputs(result.heads.size());
    for (std::size_t h = 0; h < result.heads.size(); ++h) {
      HeadResult& head = result.heads[h];
      inputs[h] = StepInput{&head.queries,
                            &head.keys,
                            &head.values,
                            problem.scale_divisor,
                            &result.mask,
                            problem.normalization,
                            problem.dropout_noise.empty() ? nullptr : &problem.dropout_noise[h],
                            problem.keep_scores};
      inputs[h].row_stats = problem.row_stats;
      inputs[h].ordered_scores = true;
    }
    CopiedBlocks copied = unchanged_blocks(problem, mask, ranges, result.heads, earlier);
    const bool take_recycled = recyclable(problem, recycled, earlier, n, result.heads.size());
    if (take_recycled && earlier) mark_held(*earlier, *recycled, problem.keep_scores, copied);
    const std::size_t head_count = result.heads.size();
    const int threads = worker_threads();
    const std::size_t group = sink ? static_cast<std::size_t>(threads) : head_count;
    for (std::size_t first = 0; first < head_count; first += group) {
      const std::size_t count = std::min(group, head_count - first);
      const std::span<HeadResult> heads_now = std::span(result.heads).subspan(first, count);
      const std::span<const StepInput> inputs_now = std::span(inputs).subspan(first, count);
      for (std::size_t h = 0; h < count; ++h) {
        if (take_recycled) {
          HeadResult& old = recycled->heads[first + h];
          heads_now[h].weights = std::move(old.weights);
          if (problem.keep_scores) heads_now[h].scores = std::move(old.scores);
        }
        allocate_head(inputs_now[h], heads_now[h]);
      }
      CopiedBlocks copied_now = copied;
      if (!copied.earlier.empty()) copied_now.earlier = copied.earlier.subspan(first, count);
      attention_heads(inputs_now, ranges, heads_now, threads, &cancel, &copied_now);
      if (sink) (*sink)(mask_index, first, heads_now, result.mask);
    }
    for (std::size_t block = 0; block < copied.copied.size(); ++block) {
      if (!copied.copied[block]) continue;
      const Eigen::Index begin = static_cast<Eigen::Index>(block) * kRowBlock;
      const Eigen::Index end = std::min(n, begin + kRowBlock);
      result.copied_rows += end - begin;
      if (!result.copied_ranges.empty() && result.copied_ranges.back().second == begin)
        result.copied_ranges.back().second = end;
      else
        result.copied_ranges.emplace_back(begin, end);
    }
    // The blocks whose scores were the earlier ones but for a few keys' columns.
    if (!copied.scores_reusable.empty()) {
      result.rescored_blocks = copied.scores_reusable;
      result.rescored_keys = copied.changed_keys;
      for (Eigen::Index key = earlier->mask.rows(); key < n; ++key) result.rescored_keys.push_back(key);
    }
    if (result.copied_rows > 0 || !result.rescored_blocks.empty()) result.copied_from = earlier->id;
    return result;
  }

  // Whether `recycled`'s matrices can be this mask's: another result than `earlier`, of the same length,
  // every head's weights (and scores, when kept) n × n, without dropout.
  static bool recyclable(const AttentionProblem& problem, const AttentionResult* recycled,
                         const AttentionResult* earlier, Eigen::Index n, std::size_t heads) {
    if (!recycled || recycled == earlier || !problem.dropout_noise.empty() || recycled->heads.size() != heads)
      return false;
    const auto square = [n](const Matrix& matrix) { return matrix.rows() == n && matrix.cols() == n; };
    return std::all_of(recycled->heads.begin(), recycled->heads.end(), [&](const HeadResult& head) {
      return square(head.weights) && (!problem.keep_scores || square(head.scores));
    });
  }

  // The copied blocks whose weights and scores the recycled matrices hold already: `earlier` copied those
  // rows from `recycled` (AttentionResult::copied_from), both of the length the new result has. With
  // `keep_scores`, also the blocks whose scores they hold but for a few keys (CopiedBlocks::scores_held).
  static void mark_held(const AttentionResult& earlier, const AttentionResult& recycled, bool keep_scores,
                        CopiedBlocks& blocks) {
    const Eigen::Index n = recycled.mask.rows();
    if (recycled.id == 0 || earlier.copied_from != recycled.id || earlier.mask.rows() != n ||
        blocks.earlier.empty())
      return;
    blocks.held.assign(blocks.copied.size(), 0);
    blocks.scores_held.assign(blocks.scores_reusable.size(), 0);
    blocks.stale_keys = earlier.rescored_keys;
    for (std::size_t block = 0; block < blocks.copied.size(); ++block) {
      const Eigen::Index begin = static_cast<Eigen::Index>(block) * kRowBlock;
      const Eigen::Index end = std::min(n, begin + kRowBlock);
      const bool copied_earlier =
          std::any_of(earlier.copied_ranges.begin(), earlier.copied_ranges.end(),
                      [&](const auto& range) { return range.first <= begin && end <= range.second; });
      blocks.held[block] = blocks.copied[block] && copied_earlier;
      // A block the earlier result copied whole holds its scores but for no key, one it rescored but for the
      // keys it rescored (stale_keys): both are patched, not copied.
      const bool rescored_earlier = block < earlier.rescored_blocks.size() && earlier.rescored_blocks[block];
      if (keep_scores && block < blocks.scores_held.size())
        blocks.scores_held[block] = blocks.scores_reusable[block] && (copied_earlier || rescored_earlier);
    }
  }
};

}  // namespace

std::unique_ptr<Backend> make_backend() {
  return std::make_unique<CpuBackend>();
}

BackendInfo info() {
  BackendInfo cpu;
  cpu.device = Device::cpu;
  cpu.name = "cpu";
  cpu.available = true;
  cpu.description = "Eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." +
                    std::to_string(EIGEN_MAJOR_VERSION) + "." + std::to_string(EIGEN_MINOR_VERSION) + ", " +
                    Eigen::SimdInstructionSetsInUse() + ", " + std::to_string(worker_threads()) + " threads";
  return cpu;
}

}  // namespace attnscope::cpu
