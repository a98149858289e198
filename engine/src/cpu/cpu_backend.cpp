#include "cpu/cpu_backend.hpp"

#include <algorithm>
#include <string>

#include "attnscope/error.hpp"
#include "cpu/attention_step.hpp"
#include "cpu/parallel.hpp"

namespace attnscope::cpu {
namespace {

// Input rows per projection block. Blocks sit at fixed positions, so each block's product is computed the
// same way whichever edits led to the text: a text's numbers never depend on its history.
constexpr Eigen::Index kProjectionRows = 128;

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }

  AttentionResult compute(const AttentionProblem& problem, const CancelToken& cancel) override {
    Eigen::Index projected_rows = 0;
    AttentionResult result =
        attend(problem, problem.mask, project_heads(problem, cancel, &projected_rows), cancel);
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
      AttentionResult result = attend(problem, masks[m], last ? std::move(projected) : projected, cancel);
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
      const bool same = same_parameters && begin < cached_rows && rows_of(begin, cached_rows) == rows &&
                        cache_.input.middleRows(begin, rows) == input.middleRows(begin, rows);
      (same ? kept : stale).push_back(begin);
    }

    std::vector<HeadResult> heads(projections.size());
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
    cache_ = ProjectionCache{problem.heads, input, heads};
    return heads;
  }

  // The attention step under `mask` for heads that hold their projections.
  static AttentionResult attend(const AttentionProblem& problem, const MaskMatrix& mask,
                                std::vector<HeadResult> heads, const CancelToken& cancel) {
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
      allocate_head(inputs[h], head);
    }
    attention_heads(inputs, ranges, result.heads, worker_threads(), &cancel);
    return result;
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
