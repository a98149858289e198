#include "attnscope/torch_random.hpp"

#include <cmath>
#include <numbers>

namespace attnscope {
namespace {

// at::uniform_real_distribution: keep as many low bits as the type's mantissa holds, scale to [0, 1), then
// x · (to − from) + from in one rounding: PyTorch's kernels are compiled for FMA machines, where the compiler
// fuses it, and so is a -march=native build here; a build without FMA rounded twice, a bit off in some draws.
float uniform_real(std::uint32_t bits, float from, float to) {
  constexpr std::uint32_t mask = (1u << 24) - 1;
  constexpr float divisor = 1.0f / static_cast<float>(1u << 24);
  const float x = static_cast<float>(bits & mask) * divisor;
  return std::fma(x, to - from, from);
}

double uniform_real(std::uint64_t bits, double from, double to) {
  constexpr std::uint64_t mask = (std::uint64_t{1} << 53) - 1;
  constexpr double divisor = 1.0 / static_cast<double>(std::uint64_t{1} << 53);
  const double x = static_cast<double>(bits & mask) * divisor;
  return std::fma(x, to - from, from);
}

// aten/src/ATen/native/cpu/DistributionTemplates.h normal_fill_16: Box–Muller over 16 uniforms in place.
void normal_fill_16(float* data) {
  for (int j = 0; j < 8; ++j) {
    const float u1 = 1.0f - data[j];  // [0, 1) -> (0, 1] for the log
    const float u2 = data[j + 8];
    const float radius = std::sqrt(-2.0f * std::log(u1));
    const float theta = static_cast<float>(2.0f * std::numbers::pi * u2);
    data[j] = radius * std::cos(theta);
    data[j + 8] = radius * std::sin(theta);
  }
}

}  // namespace

void TorchGenerator::manual_seed(std::uint64_t seed) {
  // at::mt19937 keeps only the low 32 bits of the seed, as std::mt19937 does.
  engine_.seed(static_cast<std::uint32_t>(seed & 0xffffffffu));
  next_double_normal_.reset();
}

std::uint32_t TorchGenerator::random() {
  return static_cast<std::uint32_t>(engine_());
}

std::uint64_t TorchGenerator::random64() {
  const std::uint64_t high = random();
  const std::uint64_t low = random();
  return (high << 32) | low;
}

float TorchGenerator::uniform_float(float from, float to) {
  return uniform_real(random(), from, to);
}

double TorchGenerator::uniform_double(double from, double to) {
  return uniform_real(random64(), from, to);
}

double TorchGenerator::normal_double(double mean, double stddev) {
  if (next_double_normal_) {
    const double cached = *next_double_normal_;
    next_double_normal_.reset();
    return cached * stddev + mean;
  }
  const double u1 = uniform_double(0.0, 1.0);
  const double u2 = uniform_double(0.0, 1.0);
  const double radius = std::sqrt(-2.0 * std::log(1.0 - u2));
  const double theta = 2.0 * std::numbers::pi * u1;
  next_double_normal_ = radius * std::sin(theta);
  return radius * std::cos(theta) * stddev + mean;
}

void TorchGenerator::fill_uniform(float* data, std::size_t count, float from, float to) {
  for (std::size_t i = 0; i < count; ++i) data[i] = uniform_float(from, to);
}

void TorchGenerator::fill_normal(float* data, std::size_t count) {
  // normal_kernel: contiguous float tensors of 16 or more elements take the 16-wide Box–Muller path; smaller
  // ones draw one double-precision normal at a time (which pairs draws through the cached sample).
  if (count < 16) {
    for (std::size_t i = 0; i < count; ++i) data[i] = static_cast<float>(normal_double(0.0, 1.0));
    return;
  }
  fill_uniform(data, count, 0.0f, 1.0f);
  for (std::size_t i = 0; i + 16 <= count; i += 16) normal_fill_16(data + i);
  if (count % 16 != 0) {
    // PyTorch redraws the last 16 values and transforms them again, overlapping the previous block.
    float* tail = data + count - 16;
    fill_uniform(tail, 16, 0.0f, 1.0f);
    normal_fill_16(tail);
  }
}

Matrix TorchGenerator::rand(Eigen::Index rows, Eigen::Index cols) {
  Matrix result(rows, cols);
  fill_uniform(result.data(), static_cast<std::size_t>(result.size()), 0.0f, 1.0f);
  return result;
}

LinearLayer TorchGenerator::linear(Eigen::Index in_features, Eigen::Index out_features, bool bias) {
  // reset_parameters(): kaiming_uniform_(weight, a=√5) then uniform_(bias, ±1/√fan_in). The bounds are
  // computed in double as Python does, then narrowed to float by uniform_.
  const double gain = std::sqrt(2.0 / (1.0 + 5.0));
  const double weight_bound = std::sqrt(3.0) * (gain / std::sqrt(static_cast<double>(in_features)));
  LinearLayer layer;
  layer.weight.resize(out_features, in_features);
  fill_uniform(layer.weight.data(), static_cast<std::size_t>(layer.weight.size()),
               static_cast<float>(-weight_bound), static_cast<float>(weight_bound));
  if (bias) {
    const double bias_bound = in_features > 0 ? 1.0 / std::sqrt(static_cast<double>(in_features)) : 0.0;
    Vector values(out_features);
    fill_uniform(values.data(), static_cast<std::size_t>(values.size()), static_cast<float>(-bias_bound),
                 static_cast<float>(bias_bound));
    layer.bias = std::move(values);
  }
  return layer;
}

Matrix TorchGenerator::embedding(Eigen::Index num_embeddings, Eigen::Index embedding_dim) {
  Matrix weight(num_embeddings, embedding_dim);
  fill_normal(weight.data(), static_cast<std::size_t>(weight.size()));
  return weight;
}

std::vector<float> TorchGenerator::dropout_noise(std::size_t count, double p) {
  // _dropout_impl on CPU: noise.bernoulli_(1 - p), one double-precision uniform (two 32-bit draws) per
  // element, then noise.div_(1 - p) in float.
  const double keep_probability = 1.0 - p;
  const float kept = 1.0f / static_cast<float>(keep_probability);
  std::vector<float> noise(count);
  for (auto& value : noise) value = uniform_double(0.0, 1.0) < keep_probability ? kept : 0.0f;
  return noise;
}

}  // namespace attnscope
