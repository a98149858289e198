#include "cpu/attention_step.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "attnscope/error.hpp"
#include "cpu/parallel.hpp"

namespace attnscope::cpu {
namespace {

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

// Scales the raw scores of one row in place and hides masked cells (−∞), within [begin, end).
void scale_and_mask(float* row, const std::uint8_t* hidden, Eigen::Index begin, Eigen::Index end,
                    float divisor) {
  for (Eigen::Index j = begin; j < end; ++j) row[j] = hidden[j] ? kMinusInfinity : row[j] / divisor;
}

// Normalises [begin, end) of one row of scaled, masked scores in place, as PyTorch's softmax does: subtract
// the max, exponentiate, multiply by 1/sum. Hidden cells (−∞) end exactly 0.
void softmax(float* row, Eigen::Index begin, Eigen::Index end) {
  Eigen::Map<Eigen::ArrayXf> segment(row + begin, end - begin);
  const float max_score = segment.maxCoeff();
  segment = (segment - max_score).exp();
  segment *= 1.0f / segment.sum();
}

void sum_normalize(float* row, Eigen::Index begin, Eigen::Index end, Eigen::Index query) {
  Eigen::Map<Eigen::ArrayXf> segment(row + begin, end - begin);
  segment = (segment == kMinusInfinity).select(0.0f, segment);
  const float sum = segment.sum();
  if (sum == 0.0f || !std::isfinite(sum))
    throw Error("sum normalization: the visible scores of token " + std::to_string(query + 1) +
                " add up to 0, so they cannot be divided by their sum; use softmax");
  segment *= 1.0f / sum;
}

// The keys a block of queries [row_begin, row_end) computes: from the first key any of them sees to the last
// ([0, 0) when none sees any). Products and normalisation skip the keys outside it.
struct KeySpan {
  Eigen::Index begin = 0, end = 0;
};

KeySpan block_key_span(const std::vector<VisibleRange>& ranges, Eigen::Index row_begin, Eigen::Index row_end,
                       Eigen::Index n) {
  Eigen::Index lo = n, hi = 0;
  for (Eigen::Index i = row_begin; i < row_end; ++i) {
    const VisibleRange range = ranges[static_cast<std::size_t>(i)];
    if (range.begin < range.end) {
      lo = std::min(lo, range.begin);
      hi = std::max(hi, range.end);
    }
  }
  if (lo >= hi) return {0, 0};  // every query of the block sees nothing
  return {lo, hi};
}

// Scale, mask and normalise head.weights' rows [row_begin, row_end) within `span`, in place: the step's part
// between the two products.
void normalize_rows(const StepInput& input, const std::vector<VisibleRange>& ranges, Eigen::Index row_begin,
                    Eigen::Index row_end, KeySpan span, HeadResult& head) {
  for (Eigen::Index query = row_begin; query < row_end; ++query) {
    float* row = head.weights.row(query).data();
    const VisibleRange range = ranges[static_cast<std::size_t>(query)];
    if (range.begin >= range.end) {
      std::fill(row + span.begin, row + span.end, 0.0f);
      continue;
    }
    if (range.contiguous && input.normalization == Normalization::softmax) {
      // Hidden keys are exactly those outside the range: weight 0 there, softmax over the range alone.
      std::fill(row + span.begin, row + range.begin, 0.0f);
      std::fill(row + range.end, row + span.end, 0.0f);
      Eigen::Map<Eigen::ArrayXf> visible(row + range.begin, range.end - range.begin);
      visible /= input.scale_divisor;
      softmax(row, range.begin, range.end);
      continue;
    }
    scale_and_mask(row, input.mask->row(query).data(), span.begin, span.end, input.scale_divisor);
    if (input.normalization == Normalization::softmax)
      softmax(row, span.begin, span.end);
    else
      sum_normalize(row, span.begin, span.end, query);
  }
}

}  // namespace

std::vector<VisibleRange> visible_ranges(const MaskMatrix& mask) {
  std::vector<VisibleRange> ranges(static_cast<std::size_t>(mask.rows()));
  const Eigen::Index n = mask.cols();
  for (Eigen::Index i = 0; i < mask.rows(); ++i) {
    const std::uint8_t* row = mask.row(i).data();
    Eigen::Index begin = 0;
    while (begin < n && row[begin]) ++begin;
    Eigen::Index end = n;
    while (end > begin && row[end - 1]) --end;
    const bool contiguous =
        std::all_of(row + begin, row + end, [](std::uint8_t hidden) { return hidden == 0; });
    ranges[static_cast<std::size_t>(i)] = {begin, end, contiguous};
  }
  return ranges;
}

void allocate_head(const StepInput& input, HeadResult& head) {
  const Eigen::Index n = input.queries->rows();
  head.scale = 1.0f / input.scale_divisor;
  if (input.keep_scores) head.scores.resize(n, n);
  head.weights.resize(n, n);
  if (input.dropout_noise) head.dropout_weights.emplace(n, n);
  head.context.resize(n, input.values->cols());
}

void attention_rows(const StepInput& input, const std::vector<VisibleRange>& ranges, Eigen::Index row_begin,
                    Eigen::Index row_end, HeadResult& head) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point block_start = input.clock ? Clock::now() : Clock::time_point{};
  const Eigen::Index n = input.queries->rows();
  const Eigen::Index rows = row_end - row_begin;
  const KeySpan span = block_key_span(ranges, row_begin, row_end, n);
  const Eigen::Index lo = span.begin, hi = span.end, width = hi - lo;

  auto weights = head.weights.middleRows(row_begin, rows);
  if (width > 0)
    weights.middleCols(lo, width).noalias() =
        input.queries->middleRows(row_begin, rows) * input.keys->middleRows(lo, width).transpose();
  weights.leftCols(lo).setZero();
  weights.rightCols(n - hi).setZero();
  if (input.keep_scores) {
    auto scores = head.scores.middleRows(row_begin, rows);
    scores.leftCols(lo).setConstant(kMinusInfinity);
    scores.rightCols(n - hi).setConstant(kMinusInfinity);
    scores.middleCols(lo, width) = weights.middleCols(lo, width);
    for (Eigen::Index r = 0; r < rows; ++r) {
      const std::uint8_t* hidden = input.mask->row(row_begin + r).data();
      float* row = scores.row(r).data();
      for (Eigen::Index j = lo; j < hi; ++j)
        if (hidden[j]) row[j] = kMinusInfinity;
    }
  }

  const Clock::time_point normalize_start = input.clock ? Clock::now() : Clock::time_point{};
  normalize_rows(input, ranges, row_begin, row_end, span, head);
  const Clock::time_point normalize_end = input.clock ? Clock::now() : Clock::time_point{};

  const Matrix* applied = &head.weights;
  if (input.dropout_noise) {
    const Eigen::Map<const Matrix> noise(input.dropout_noise->data(), n, n);
    head.dropout_weights->middleRows(row_begin, rows) =
        weights.cwiseProduct(noise.middleRows(row_begin, rows));
    applied = &*head.dropout_weights;
  }
  auto context = head.context.middleRows(row_begin, rows);
  if (width > 0)
    context.noalias() = applied->block(row_begin, lo, rows, width) * input.values->middleRows(lo, width);
  else
    context.setZero();
  if (input.clock) {
    const auto nanoseconds = [](Clock::duration duration) {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(duration).count();
    };
    input.clock->normalize_ns += nanoseconds(normalize_end - normalize_start);
    input.clock->block_ns += nanoseconds(Clock::now() - block_start);
  }
}

void attention_heads(const std::vector<StepInput>& inputs, const std::vector<VisibleRange>& ranges,
                     std::vector<HeadResult>& heads, int threads, const CancelToken* cancel) {
  if (inputs.empty()) return;
  const Eigen::Index n = inputs.front().queries->rows();
  const std::size_t blocks = static_cast<std::size_t>((n + kRowBlock - 1) / kRowBlock);
  parallel_for(inputs.size() * blocks, threads, [&](std::size_t task) {
    if (cancel) cancel->throw_if_cancelled();
    const std::size_t h = task / blocks;
    const Eigen::Index row_begin = static_cast<Eigen::Index>(task % blocks) * kRowBlock;
    attention_rows(inputs[h], ranges, row_begin, std::min(n, row_begin + kRowBlock), heads[h]);
  });
}

}  // namespace attnscope::cpu
