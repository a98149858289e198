#include "attnscope/compare.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "attnscope/error.hpp"
#include "finite.hpp"

namespace attnscope {

namespace {

std::string shape(const Matrix& matrix) {
  return std::to_string(matrix.rows()) + " × " + std::to_string(matrix.cols());
}

void check_weights(const Matrix& weights, const char* input) {
  if (weights.rows() < 1 || weights.rows() != weights.cols())
    throw Error(std::string("compare: input ") + input + "'s weights are " + shape(weights) +
                ": expected one square n × n matrix per head, n at least 1");
  for (Eigen::Index i = 0; i < weights.rows(); ++i)
    if (!all_finite_rows(weights, i, 1))
      throw Error(std::string("compare: input ") + input + "'s weights row " + std::to_string(i) +
                  " holds a NaN or an infinity");
}

}  // namespace

HeadComparison compare_weights(const Matrix& a, const Matrix& b) {
  check_weights(a, "A");
  check_weights(b, "B");
  const Eigen::Index m = std::min(a.rows(), b.rows());
  HeadComparison comparison;
  comparison.weights_diff = a.topLeftCorner(m, m) - b.topLeftCorner(m, m);
  double rows_sum = 0.0;
  for (Eigen::Index i = 0; i < m; ++i) {
    double row = 0.0;
    for (Eigen::Index j = 0; j < m; ++j)
      row += std::abs(static_cast<double>(a(i, j)) - static_cast<double>(b(i, j)));
    rows_sum += 0.5 * row;
  }
  comparison.total_variation = rows_sum / static_cast<double>(m);
  return comparison;
}

std::vector<HeadComparison> compare_heads(const AttentionResult& a, const AttentionResult& b, int layer) {
  if (a.heads.size() != b.heads.size())
    throw Error("compare: input A has " + std::to_string(a.heads.size()) + " heads but input B " +
                std::to_string(b.heads.size()) + ": both must come from the same settings");
  std::vector<HeadComparison> heads;
  heads.reserve(a.heads.size());
  for (std::size_t h = 0; h < a.heads.size(); ++h) {
    HeadComparison comparison = compare_weights(a.heads[h].weights, b.heads[h].weights);
    comparison.layer = layer;
    comparison.head = static_cast<int>(h);
    heads.push_back(std::move(comparison));
  }
  return heads;
}

std::vector<HeadComparison> compare_layers(const Gpt2Result& a, const Gpt2Result& b) {
  if (a.layer_indices != b.layer_indices || a.layers.size() != b.layers.size() ||
      a.layers.size() != a.layer_indices.size())
    throw Error("compare: the two model runs kept different layers: both must run the same model and layers");
  std::vector<HeadComparison> heads;
  for (std::size_t l = 0; l < a.layers.size(); ++l) {
    std::vector<HeadComparison> layer = compare_heads(a.layers[l], b.layers[l], a.layer_indices[l]);
    heads.insert(heads.end(), std::make_move_iterator(layer.begin()), std::make_move_iterator(layer.end()));
  }
  return heads;
}

}  // namespace attnscope
