#include "cpu/cpu_backend.hpp"

#include <string>

#include "attnscope/error.hpp"
#include "cpu/attention_step.hpp"
#include "cpu/parallel.hpp"

namespace attnscope::cpu {
namespace {

Matrix project(const Matrix& input, const Matrix& weight, const std::optional<Vector>& bias) {
  Matrix result = input * weight;
  if (bias) result.rowwise() += *bias;
  return result;
}

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }

  AttentionResult compute(const AttentionProblem& problem, const CancelToken& cancel) override {
    return attend(problem, problem.mask, project_heads(problem, cancel), cancel);
  }

  void compute_masks(const AttentionProblem& problem, const std::vector<MaskMatrix>& masks,
                     const CancelToken& cancel, const MaskResultSink& each) override {
    if (masks.empty()) return;
    std::vector<HeadResult> projected = project_heads(problem, cancel);
    for (std::size_t m = 0; m + 1 < masks.size(); ++m) each(m, attend(problem, masks[m], projected, cancel));
    each(masks.size() - 1, attend(problem, masks.back(), std::move(projected), cancel));
  }

 private:
  // Each head's queries, keys and values: the part of the work that no mask changes.
  static std::vector<HeadResult> project_heads(const AttentionProblem& problem, const CancelToken& cancel) {
    if (!problem.heads) throw Error("CPU backend: the problem has no parameters (AttentionProblem::heads)");
    const std::vector<HeadProjection>& projections = *problem.heads;
    std::vector<HeadResult> heads(projections.size());
    parallel_for(heads.size(), worker_threads(), [&](std::size_t h) {
      cancel.throw_if_cancelled();
      const HeadProjection& projection = projections[h];
      heads[h].queries = project(problem.input, projection.w_query, projection.b_query);
      heads[h].keys = project(problem.input, projection.w_key, projection.b_key);
      heads[h].values = project(problem.input, projection.w_value, projection.b_value);
    });
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
