#pragma once
// A random generator that draws exactly what PyTorch's default CPU generator draws (PyTorch 1.13, built
// without MKL, as Debian ships it): torch.manual_seed, torch.rand, the default initialisation of nn.Linear
// and nn.Embedding, and the keep mask of nn.Dropout in training mode.

#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "attnscope/matrix.hpp"

namespace attnscope {

// The weights of one nn.Linear(in_features, out_features): weight is out × in as PyTorch stores it.
struct LinearLayer {
  Matrix weight;
  std::optional<Vector> bias;
};

class TorchGenerator {
 public:
  explicit TorchGenerator(std::uint64_t seed = 67280421310721ULL) { manual_seed(seed); }

  // torch.manual_seed(seed): restarts the Mersenne Twister and forgets the cached normal sample.
  void manual_seed(std::uint64_t seed);

  std::uint32_t random();                            // one 32-bit draw
  std::uint64_t random64();                          // two draws, the first one in the high word
  float uniform_float(float from, float to);         // at::uniform_real_distribution<float>
  double uniform_double(double from, double to);     // at::uniform_real_distribution<double>
  double normal_double(double mean, double stddev);  // at::normal_distribution<double>, with its cache

  Matrix rand(Eigen::Index rows, Eigen::Index cols);  // torch.rand(rows, cols)
  LinearLayer linear(Eigen::Index in_features, Eigen::Index out_features, bool bias);  // nn.Linear(...)
  Matrix embedding(Eigen::Index num_embeddings, Eigen::Index embedding_dim);  // nn.Embedding(...).weight
  // The multiplier F.dropout(x, p, training=True) applies to `count` contiguous elements: 0 or 1/(1-p).
  std::vector<float> dropout_noise(std::size_t count, double p);

 private:
  void fill_uniform(float* data, std::size_t count, float from, float to);
  void fill_normal(float* data, std::size_t count);

  std::mt19937 engine_;
  std::optional<double> next_double_normal_;
};

}  // namespace attnscope
