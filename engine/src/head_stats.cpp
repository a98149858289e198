#include "attnscope/head_stats.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <string>
#include <tuple>

#include "attnscope/error.hpp"
#include "cpu/parallel.hpp"

namespace attnscope {
namespace {

std::string shape_of(Eigen::Index rows, Eigen::Index cols) {
  return std::to_string(rows) + " × " + std::to_string(cols);
}

// A running mean that is empty until something is added.
class Mean {
 public:
  void add(double value) {
    sum_ += value;
    ++count_;
  }
  std::optional<double> value() const {
    if (count_ == 0) return std::nullopt;
    return sum_ / static_cast<double>(count_);
  }

 private:
  double sum_ = 0.0;
  long long count_ = 0;
};

}  // namespace

HeadRowStats head_row_stats(const float* weights, Eigen::Index key_begin, Eigen::Index key_end,
                            const std::uint8_t* hidden, Eigen::Index n, Eigen::Index row) {
  HeadRowStats stats;
  stats.visible = n - std::count(hidden, hidden + n, std::uint8_t{1});
  if (stats.visible == 0) return stats;
  // Hidden cells are exactly 0, so only the span from the first to the last visible key has terms
  // (0·log 0 = 0): half the row under a causal mask, a few cells under a window.
  const Eigen::Index first = std::find(hidden, hidden + n, std::uint8_t{0}) - hidden;
  const Eigen::Index last = n - (std::find(std::make_reverse_iterator(hidden + n),
                                           std::make_reverse_iterator(hidden), std::uint8_t{0}) -
                                 std::make_reverse_iterator(hidden + n));
  const Eigen::Index begin = std::max(first, key_begin), end = std::min(last, key_end);
  const float* span = weights + (begin - key_begin);
  const Eigen::Index count = std::max<Eigen::Index>(0, end - begin);
  // w · log max(w, FLT_MIN) is 0 for a weight of 0 without a branch per cell, and differs from w · log w by
  // under 1e-36 for the rest: one vectorised pass, in packets from the span's first cell.
  using namespace Eigen::internal;
  using Packet = packet_traits<float>::type;
  constexpr Eigen::Index kPacket = packet_traits<float>::size;
  const Packet smallest = pset1<Packet>(std::numeric_limits<float>::min());
  Packet sum = pset1<Packet>(0.0f), largest = pset1<Packet>(0.0f);
  Eigen::Index j = 0;
  for (; j + kPacket <= count; j += kPacket) {
    const Packet w = ploadu<Packet>(span + j);
    sum = padd(sum, pmul(w, plog(pmax(w, smallest))));
    largest = pmax(largest, w);
  }
  float total = predux(sum), maximum = predux_max(largest);
  for (; j < count; ++j) {
    total += span[j] * std::log(std::max(span[j], std::numeric_limits<float>::min()));
    maximum = std::max(maximum, span[j]);
  }
  stats.bits = -static_cast<double>(total) / std::log(2.0);
  stats.max_weight = maximum;
  const auto weight = [&](Eigen::Index key) {
    return key >= key_begin && key < key_end ? weights[key - key_begin] : 0.0f;
  };
  stats.first_token = weight(0);
  stats.self = weight(row);
  stats.previous_token = row >= 1 ? weight(row - 1) : 0.0f;
  return stats;
}

void head_row_stats(const Matrix& weights, const MaskMatrix& mask, Eigen::Index row_begin,
                    std::vector<HeadRowStats>& rows) {
  const Eigen::Index n = weights.rows();
  if (weights.cols() != n || mask.rows() != n || mask.cols() != n)
    throw Error("head statistics need square weights and mask of one size, not " +
                shape_of(weights.rows(), weights.cols()) + " and " + shape_of(mask.rows(), mask.cols()));
  rows.resize(static_cast<std::size_t>(n));
  for (Eigen::Index i = std::max<Eigen::Index>(0, row_begin); i < n; ++i)
    rows[static_cast<std::size_t>(i)] = head_row_stats(weights.row(i).data(), 0, n, mask.row(i).data(), n, i);
}

HeadStats head_stats(const std::vector<HeadRowStats>& rows) {
  Mean entropy, normalized, effective, maximum, first, self, previous;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const HeadRowStats& row = rows[i];
    if (row.visible == 0) continue;
    entropy.add(row.bits);
    effective.add(std::exp2(row.bits));
    if (row.visible >= 2) normalized.add(row.bits / std::log2(static_cast<double>(row.visible)));
    maximum.add(row.max_weight);
    first.add(row.first_token);
    self.add(row.self);
    if (i >= 1) previous.add(row.previous_token);
  }
  return {entropy.value(), normalized.value(), effective.value(), maximum.value(),
          first.value(),   self.value(),       previous.value()};
}

HeadStats head_stats(const Matrix& weights, const MaskMatrix& mask) {
  std::vector<HeadRowStats> rows;
  head_row_stats(weights, mask, 0, rows);
  return head_stats(rows);
}

std::vector<HeadStats> head_stats(const AttentionResult& result) {
  std::vector<HeadStats> stats(result.heads.size());
  const auto n = static_cast<std::size_t>(result.mask.rows());
  cpu::parallel_for(stats.size(), cpu::worker_threads(), [&](std::size_t h) {
    const HeadResult& head = result.heads[h];
    stats[h] =
        head.row_stats.size() == n ? head_stats(head.row_stats) : head_stats(head.weights, result.mask);
  });
  return stats;
}

Matrix mean_of_heads(const std::vector<const Matrix*>& head_weights) {
  if (head_weights.empty()) throw Error("the mean of heads needs at least one head");
  Eigen::MatrixXd sum = head_weights.front()->cast<double>();
  for (std::size_t h = 1; h < head_weights.size(); ++h) {
    const Matrix& weights = *head_weights[h];
    if (weights.rows() != sum.rows() || weights.cols() != sum.cols())
      throw Error("the mean of heads needs weights of one size, not " + shape_of(sum.rows(), sum.cols()) +
                  " and " + shape_of(weights.rows(), weights.cols()));
    sum += weights.cast<double>();
  }
  return (sum / static_cast<double>(head_weights.size())).cast<float>();
}

namespace {

// R_0 … R_{count−1}, each handed to `each` as a float matrix.
template <typename Each>
void roll_out(const std::vector<Matrix>& layer_mean_weights, std::size_t count, Each each) {
  if (count == 0) return;
  const Eigen::Index n = layer_mean_weights.front().rows();
  Eigen::MatrixXd flow;
  for (std::size_t l = 0; l < count; ++l) {
    const Matrix& mean = layer_mean_weights[l];
    if (mean.rows() != n || mean.cols() != n)
      throw Error("rollout needs every layer's weights n × n with one n, not " + shape_of(n, n) + " and " +
                  shape_of(mean.rows(), mean.cols()));
    // Half the flow stays on the residual path; renormalising keeps rows of empty queries (all zero in Ā)
    // pointing at themselves.
    Eigen::MatrixXd step = 0.5 * mean.cast<double>() + 0.5 * Eigen::MatrixXd::Identity(n, n);
    step.array().colwise() /= step.rowwise().sum().array();
    flow = l == 0 ? step : Eigen::MatrixXd(step * flow);
    each(flow.cast<float>());
  }
}

}  // namespace

std::vector<Matrix> attention_rollout(const std::vector<Matrix>& layer_mean_weights) {
  std::vector<Matrix> rollout;
  roll_out(layer_mean_weights, layer_mean_weights.size(), [&](Matrix r) { rollout.push_back(std::move(r)); });
  return rollout;
}

Matrix attention_rollout(const std::vector<Matrix>& layer_mean_weights, std::size_t layer) {
  if (layer >= layer_mean_weights.size())
    throw Error("rollout to layer " + std::to_string(layer) + " needs " + std::to_string(layer + 1) +
                " layers' weights, not " + std::to_string(layer_mean_weights.size()));
  Matrix last;
  roll_out(layer_mean_weights, layer + 1, [&](Matrix r) { last = std::move(r); });
  return last;
}

std::vector<ProbeHit> probe(const std::vector<ProbedRow>& rows, Eigen::Index key) {
  std::vector<ProbeHit> hits;
  hits.reserve(rows.size());
  for (const ProbedRow& row : rows) {
    if (key < 0 || key >= row.weights.size())
      throw Error("the probe's key " + std::to_string(key) + " is not a token: the text has tokens 0 to " +
                  std::to_string(row.weights.size() - 1));
    const float weight = row.weights(key);
    const auto larger = (row.weights.array() > weight).count();
    hits.push_back({row.layer, row.head, weight, static_cast<int>(1 + larger)});
  }
  std::sort(hits.begin(), hits.end(), [](const ProbeHit& a, const ProbeHit& b) {
    return std::tuple(-a.weight, a.layer, a.head) < std::tuple(-b.weight, b.layer, b.head);
  });
  return hits;
}

}  // namespace attnscope
