#include "cpu/cpu_backend.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "attnscope/error.hpp"

namespace attnscope::cpu {
namespace {

Matrix project(const Matrix& input, const Matrix& weight, const std::optional<Vector>& bias) {
  Matrix result = input * weight;
  if (bias) result.rowwise() += *bias;
  return result;
}

// Normalises one row of scaled scores in place, hidden cells ending exactly 0. Returns false when every key
// is hidden (the row is then all zero). Softmax follows PyTorch's: subtract the max, exp, multiply by 1/sum.
bool normalize_row(float* row, const std::uint8_t* hidden, Eigen::Index n, Normalization normalization,
                   Eigen::Index query) {
  float max_score = -std::numeric_limits<float>::infinity();
  bool any_visible = false;
  for (Eigen::Index j = 0; j < n; ++j)
    if (!hidden[j]) {
      any_visible = true;
      max_score = std::max(max_score, row[j]);
    }
  if (!any_visible) {
    std::fill(row, row + n, 0.0f);
    return false;
  }
  float sum = 0.0f;
  if (normalization == Normalization::softmax) {
    for (Eigen::Index j = 0; j < n; ++j) {
      row[j] = hidden[j] ? 0.0f : std::exp(row[j] - max_score);
      sum += row[j];
    }
  } else {
    for (Eigen::Index j = 0; j < n; ++j) {
      if (hidden[j]) row[j] = 0.0f;
      sum += row[j];
    }
    if (sum == 0.0f || !std::isfinite(sum))
      throw Error("sum normalization: the visible scores of token " + std::to_string(query + 1) +
                  " add up to 0, so they cannot be divided by their sum; use softmax");
  }
  const float inverse = 1.0f / sum;
  for (Eigen::Index j = 0; j < n; ++j) row[j] *= inverse;
  return true;
}

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }

  AttentionResult compute(const AttentionProblem& problem, const CancelToken& cancel) override {
    const Eigen::Index n = problem.input.rows();
    AttentionResult result;
    result.device = "cpu";
    result.mask = problem.mask;
    for (Eigen::Index i = 0; i < n; ++i)
      if (problem.mask.row(i).minCoeff() == 1) result.empty_rows.push_back(i);

    for (std::size_t h = 0; h < problem.heads.size(); ++h) {
      cancel.throw_if_cancelled();
      const HeadProjection& projection = problem.heads[h];
      HeadResult head;
      head.queries = project(problem.input, projection.w_query, projection.b_query);
      head.keys = project(problem.input, projection.w_key, projection.b_key);
      head.values = project(problem.input, projection.w_value, projection.b_value);
      head.scale = 1.0f / problem.scale_divisor;
      head.scores = head.queries * head.keys.transpose();
      head.weights = head.scores / problem.scale_divisor;
      for (Eigen::Index i = 0; i < n; ++i)
        normalize_row(head.weights.row(i).data(), problem.mask.row(i).data(), n, problem.normalization, i);
      const Matrix* applied = &head.weights;
      if (!problem.dropout_noise.empty()) {
        const Eigen::Map<const Matrix> noise(problem.dropout_noise[h].data(), n, n);
        head.dropout_weights = head.weights.cwiseProduct(noise);
        applied = &*head.dropout_weights;
      }
      head.context = *applied * head.values;
      result.heads.push_back(std::move(head));
    }
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
                    Eigen::SimdInstructionSetsInUse();
  return cpu;
}

}  // namespace attnscope::cpu
