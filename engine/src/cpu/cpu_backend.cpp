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
    const Eigen::Index n = problem.input.rows();
    AttentionResult result;
    result.device = "cpu";
    result.mask = problem.mask;
    const std::vector<VisibleRange> ranges = visible_ranges(problem.mask);
    for (Eigen::Index i = 0; i < n; ++i)
      if (ranges[static_cast<std::size_t>(i)].begin >= ranges[static_cast<std::size_t>(i)].end)
        result.empty_rows.push_back(i);

    const std::size_t head_count = problem.heads.size();
    result.heads.resize(head_count);
    std::vector<StepInput> inputs(head_count);
    const int threads = worker_threads();
    parallel_for(head_count, threads, [&](std::size_t h) {
      cancel.throw_if_cancelled();
      const HeadProjection& projection = problem.heads[h];
      HeadResult& head = result.heads[h];
      head.queries = project(problem.input, projection.w_query, projection.b_query);
      head.keys = project(problem.input, projection.w_key, projection.b_key);
      head.values = project(problem.input, projection.w_value, projection.b_value);
      inputs[h] = StepInput{&head.queries,
                            &head.keys,
                            &head.values,
                            problem.scale_divisor,
                            &problem.mask,
                            problem.normalization,
                            problem.dropout_noise.empty() ? nullptr : &problem.dropout_noise[h],
                            problem.keep_scores};
      allocate_head(inputs[h], head);
    });

    attention_heads(inputs, ranges, result.heads, threads, &cancel);
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
