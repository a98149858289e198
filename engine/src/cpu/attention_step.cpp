#include "cpu/attention_step.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "attnscope/error.hpp"
#include "cpu/parallel.hpp"

namespace attnscope::cpu {
namespace {

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

using Packet = Eigen::internal::packet_traits<float>::type;
constexpr Eigen::Index kPacketSize = Eigen::internal::packet_traits<float>::size;

// Read as a packet from kTailMask + t: every bit set in the last t lanes, none in the others.
constexpr auto kTailMask = [] {
  std::array<std::uint32_t, 2 * kPacketSize> mask{};
  for (Eigen::Index lane = kPacketSize; lane < 2 * kPacketSize; ++lane) mask[lane] = ~std::uint32_t{0};
  return mask;
}();

Packet tail_mask(Eigen::Index tail) {
  return Eigen::internal::ploadu<Packet>(reinterpret_cast<const float*>(kTailMask.data() + tail));
}

// The scale, as PyTorch applies it: scores / divisor. When the divisor is a power of two (head_dim 64: √64 =
// 8) its inverse is exact, and x · (1/divisor) is then the same float as x / divisor for every x (both round
// the same real number), so a multiply, several times cheaper than a division, gives bit-identical results.
// Any other divisor keeps the division.
struct DivideBy {
  float divisor;
  float operator()(float x) const { return x / divisor; }
  Packet operator()(const Packet& x) const {
    return Eigen::internal::pdiv(x, Eigen::internal::pset1<Packet>(divisor));
  }
};
struct MultiplyBy {
  float inverse;
  float operator()(float x) const { return x * inverse; }
  Packet operator()(const Packet& x) const {
    return Eigen::internal::pmul(x, Eigen::internal::pset1<Packet>(inverse));
  }
};
struct AsIs {  // cells already scaled (and masked)
  float operator()(float x) const { return x; }
  Packet operator()(const Packet& x) const { return x; }
};

// 1/divisor when it is exact (divisor a power of two whose inverse is a float), else 0.
float exact_inverse(float divisor) {
  int exponent = 0;
  if (!(divisor > 0.0f) || !std::isfinite(divisor) || std::frexp(divisor, &exponent) != 0.5f) return 0.0f;
  const float inverse = 1.0f / divisor;
  return std::isfinite(inverse) && inverse > 0.0f ? inverse : 0.0f;
}

// Softmax of row[0, count) in place, as PyTorch computes it: scale, subtract the max, exponentiate, multiply
// by 1/sum. Three passes instead of five: the max of the raw cells (scaling is monotonic, so scaling it gives
// the max of the scaled cells exactly), scale + subtract + exp + sum, multiply. Hidden cells (−∞) end exactly
// 0.
template <typename Scale>
void softmax(float* row, Eigen::Index count, Scale scale) {
  using namespace Eigen::internal;
  const Eigen::Index body = count - count % kPacketSize, tail = count - body;
  const float max_score = scale(Eigen::Map<const Eigen::ArrayXf>(row, count).maxCoeff());
  const Packet max_packet = pset1<Packet>(max_score);
  const auto exp_of = [&](const Packet& raw) { return pexp(psub(scale(raw), max_packet)); };

  // The last `tail` cells through the same vector exp: the packet ending at count, read before the loop below
  // overwrites the cells it shares with the body (it then stores the same values there), and counted in the
  // sum by its last `tail` lanes only. Rows shorter than a packet go through a buffer padded with −∞.
  Packet tail_exp = pzero(max_packet), tail_lanes = tail_exp;
  alignas(64) float lanes[kPacketSize];
  if (tail > 0 && body > 0) {
    tail_exp = exp_of(ploadu<Packet>(row + count - kPacketSize));
    tail_lanes = tail_mask(tail);
  } else if (tail > 0) {
    std::fill(lanes, lanes + kPacketSize, kMinusInfinity);
    std::copy(row, row + count, lanes);
    tail_exp = exp_of(pload<Packet>(lanes));
  }

  Packet sum0 = pzero(max_packet), sum1 = sum0;
  Eigen::Index j = 0;
  for (; j + 2 * kPacketSize <= body; j += 2 * kPacketSize) {
    const Packet e0 = exp_of(ploadu<Packet>(row + j));
    const Packet e1 = exp_of(ploadu<Packet>(row + j + kPacketSize));
    pstoreu(row + j, e0);
    pstoreu(row + j + kPacketSize, e1);
    sum0 = padd(sum0, e0);
    sum1 = padd(sum1, e1);
  }
  if (j < body) {
    const Packet e = exp_of(ploadu<Packet>(row + j));
    pstoreu(row + j, e);
    sum0 = padd(sum0, e);
  }
  if (tail > 0 && body > 0) {
    pstoreu(row + count - kPacketSize, tail_exp);
    sum1 = padd(sum1, pand(tail_exp, tail_lanes));
  } else if (tail > 0) {
    pstore(lanes, tail_exp);  // exp(−∞) = 0 in the padding
    std::copy(lanes, lanes + count, row);
    sum1 = padd(sum1, tail_exp);
  }

  const Packet inverse = pset1<Packet>(1.0f / predux(padd(sum0, sum1)));
  for (j = 0; j < body; j += kPacketSize) pstoreu(row + j, pmul(ploadu<Packet>(row + j), inverse));
  if (tail > 0 && body > 0)
    pstoreu(row + count - kPacketSize, pmul(tail_exp, inverse));
  else
    for (j = body; j < count; ++j) row[j] *= pfirst(inverse);
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

// Fills [begin, end) with value, the aligned middle with non-temporal stores: the hidden cells' zeros and −∞
// are never read again by the step, and streaming them skips reading each line from memory before writing it
// (half the memory traffic) and keeps them out of the caches the products use. Half of a causal step's cells
// are hidden. Needs a store fence (finish_streaming) before another thread may read the cells.
void stream_fill(float* begin, float* end, float value) {
#if defined(__AVX512F__)
  using Stream = __m512;
  const Stream packet = _mm512_set1_ps(value);
  const auto store = [](float* at, Stream v) { _mm512_stream_ps(at, v); };
#elif defined(__AVX__)
  using Stream = __m256;
  const Stream packet = _mm256_set1_ps(value);
  const auto store = [](float* at, Stream v) { _mm256_stream_ps(at, v); };
#elif defined(__SSE2__)
  using Stream = __m128;
  const Stream packet = _mm_set1_ps(value);
  const auto store = [](float* at, Stream v) { _mm_stream_ps(at, v); };
#endif
#if defined(__SSE2__)
  constexpr std::ptrdiff_t kLanes = sizeof(Stream) / sizeof(float);
  if (end - begin >= 4 * kLanes) {  // shorter runs: not worth a partial write-combining line
    while (reinterpret_cast<std::uintptr_t>(begin) % sizeof(Stream) != 0) *begin++ = value;
    for (; end - begin >= kLanes; begin += kLanes) store(begin, packet);
  }
#endif
  std::fill(begin, end, value);
}

// Copies [begin, end) to to, storing the aligned middle with non-temporal stores: the kept raw scores, which
// the step does not read back.
void stream_copy(const float* begin, const float* end, float* to) {
#if defined(__AVX512F__)
  using Stream = __m512;
  const auto copy = [](const float* from, float* at) { _mm512_stream_ps(at, _mm512_loadu_ps(from)); };
#elif defined(__AVX__)
  using Stream = __m256;
  const auto copy = [](const float* from, float* at) { _mm256_stream_ps(at, _mm256_loadu_ps(from)); };
#elif defined(__SSE2__)
  using Stream = __m128;
  const auto copy = [](const float* from, float* at) { _mm_stream_ps(at, _mm_loadu_ps(from)); };
#endif
#if defined(__SSE2__)
  constexpr std::ptrdiff_t kLanes = sizeof(Stream) / sizeof(float);
  if (end - begin >= 4 * kLanes) {
    while (reinterpret_cast<std::uintptr_t>(to) % sizeof(Stream) != 0) *to++ = *begin++;
    for (; end - begin >= kLanes; begin += kLanes, to += kLanes) copy(begin, to);
  }
#endif
  std::copy(begin, end, to);
}

void finish_streaming() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
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

// How a block computes its products. A causal block's first keys are visible to all of its queries but its
// last 64 form a triangle: computed whole, half of that square is hidden. So a block whose sub-blocks of
// kSubBlock queries see noticeably different key spans computes the keys all of them share (`common`) for the
// whole block and each sub-block's other keys for it alone.
constexpr Eigen::Index kSubBlock = 16;

struct SubBlock {
  Eigen::Index begin = 0, end = 0;  // queries
  KeySpan keys;                     // the keys it computes: common and its own parts
};

struct BlockPlan {
  KeySpan common;  // computed for every query of the block ([0, 0) when none)
  std::vector<SubBlock> subs;
};

// The parts of sub's keys outside plan.common, in order: before it and after it.
std::array<KeySpan, 2> own_parts(const BlockPlan& plan, const SubBlock& sub) {
  if (plan.common.begin >= plan.common.end) return {sub.keys, KeySpan{}};
  return {KeySpan{sub.keys.begin, std::max(sub.keys.begin, plan.common.begin)},
          KeySpan{std::min(sub.keys.end, plan.common.end), sub.keys.end}};
}

BlockPlan plan_block(const std::vector<VisibleRange>& ranges, Eigen::Index row_begin, Eigen::Index row_end,
                     Eigen::Index n) {
  const KeySpan span = block_key_span(ranges, row_begin, row_end, n);
  BlockPlan plan{span, {SubBlock{row_begin, row_end, span}}};
  if (row_end - row_begin <= kSubBlock || span.begin >= span.end) return plan;
  std::vector<SubBlock> subs;
  KeySpan common{0, n};
  Eigen::Index split_cells = 0;
  for (Eigen::Index begin = row_begin; begin < row_end; begin += kSubBlock) {
    const Eigen::Index end = std::min(row_end, begin + kSubBlock);
    const KeySpan keys = block_key_span(ranges, begin, end, n);
    subs.push_back({begin, end, keys});
    if (keys.begin >= keys.end) continue;  // sees nothing: zero weights, whatever the products put there
    common = {std::max(common.begin, keys.begin), std::min(common.end, keys.end)};
    split_cells += (end - begin) * (keys.end - keys.begin);
  }
  // Worth it when it saves at least one cell in kSplitGain of the block's products.
  constexpr Eigen::Index kSplitGain = 8;
  const Eigen::Index block_cells = (row_end - row_begin) * (span.end - span.begin);
  if (kSplitGain * (block_cells - split_cells) < block_cells) return plan;
  if (common.begin >= common.end) common = {};
  return {common, std::move(subs)};
}

// What the step writes of rows [row_begin, row_end) besides their visible weights, their raw scores being in
// head.weights within `span`: the kept scores (raw where visible, −∞ where hidden) and the weights' zeros
// outside `span`, all streamed.
void keep_scores_and_hide(const StepInput& input, const std::vector<VisibleRange>& ranges,
                          Eigen::Index row_begin, Eigen::Index row_end, KeySpan span, HeadResult& head) {
  const Eigen::Index n = head.weights.cols();
  for (Eigen::Index query = row_begin; query < row_end; ++query) {
    float* weights = head.weights.row(query).data();
    stream_fill(weights, weights + span.begin, 0.0f);
    stream_fill(weights + span.end, weights + n, 0.0f);
    if (!input.keep_scores) continue;
    float* scores = head.scores.row(query).data();
    const VisibleRange range = ranges[static_cast<std::size_t>(query)];
    if (range.contiguous) {  // [n, n) when every key is hidden
      stream_fill(scores, scores + range.begin, kMinusInfinity);
      stream_copy(weights + range.begin, weights + range.end, scores + range.begin);
      stream_fill(scores + range.end, scores + n, kMinusInfinity);
      continue;
    }
    const std::uint8_t* hidden = input.mask->row(query).data();
    stream_fill(scores, scores + span.begin, kMinusInfinity);
    for (Eigen::Index j = span.begin; j < span.end; ++j) scores[j] = hidden[j] ? kMinusInfinity : weights[j];
    stream_fill(scores + span.end, scores + n, kMinusInfinity);
  }
}

// Scale, mask and normalise head.weights' rows [row_begin, row_end) within `span`, in place: the step's part
// between the two products.
template <typename Scale>
void normalize_rows(const StepInput& input, const std::vector<VisibleRange>& ranges, Eigen::Index row_begin,
                    Eigen::Index row_end, KeySpan span, Scale scale, HeadResult& head) {
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
      softmax(row + range.begin, range.end - range.begin, scale);
      continue;
    }
    const std::uint8_t* hidden = input.mask->row(query).data();
    for (Eigen::Index j = span.begin; j < span.end; ++j) row[j] = hidden[j] ? kMinusInfinity : scale(row[j]);
    if (input.normalization == Normalization::softmax)
      softmax(row + span.begin, span.end - span.begin, AsIs{});
    else
      sum_normalize(row, span.begin, span.end, query);
  }
}

void normalize_rows(const StepInput& input, const std::vector<VisibleRange>& ranges, Eigen::Index row_begin,
                    Eigen::Index row_end, KeySpan span, HeadResult& head) {
  if (const float inverse = exact_inverse(input.scale_divisor); inverse > 0.0f)
    normalize_rows(input, ranges, row_begin, row_end, span, MultiplyBy{inverse}, head);
  else
    normalize_rows(input, ranges, row_begin, row_end, span, DivideBy{input.scale_divisor}, head);
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
  const BlockPlan plan = plan_block(ranges, row_begin, row_end, n);
  const KeySpan common = plan.common;

  // The raw scores go into the weights, normalised there in place once copied to the kept scores.
  const auto scores_of = [&](Eigen::Index begin, Eigen::Index count, KeySpan keys) {
    if (keys.begin < keys.end)
      head.weights.block(begin, keys.begin, count, keys.end - keys.begin).noalias() =
          input.queries->middleRows(begin, count) *
          input.keys->middleRows(keys.begin, keys.end - keys.begin).transpose();
  };
  scores_of(row_begin, rows, common);
  for (const SubBlock& sub : plan.subs)
    for (const KeySpan part : own_parts(plan, sub)) scores_of(sub.begin, sub.end - sub.begin, part);
  for (const SubBlock& sub : plan.subs)
    keep_scores_and_hide(input, ranges, sub.begin, sub.end, sub.keys, head);
  finish_streaming();

  const Clock::time_point normalize_start = input.clock ? Clock::now() : Clock::time_point{};
  for (const SubBlock& sub : plan.subs) normalize_rows(input, ranges, sub.begin, sub.end, sub.keys, head);
  const Clock::time_point normalize_end = input.clock ? Clock::now() : Clock::time_point{};

  const Matrix* applied = &head.weights;
  if (input.dropout_noise) {
    const Eigen::Map<const Matrix> noise(input.dropout_noise->data(), n, n);
    head.dropout_weights->middleRows(row_begin, rows) =
        head.weights.middleRows(row_begin, rows).cwiseProduct(noise.middleRows(row_begin, rows));
    applied = &*head.dropout_weights;
  }
  auto context = head.context.middleRows(row_begin, rows);
  if (common.begin < common.end)
    context.noalias() = applied->block(row_begin, common.begin, rows, common.end - common.begin) *
                        input.values->middleRows(common.begin, common.end - common.begin);
  else
    context.setZero();
  for (const SubBlock& sub : plan.subs)
    for (const KeySpan part : own_parts(plan, sub))
      if (part.begin < part.end)
        context.middleRows(sub.begin - row_begin, sub.end - sub.begin).noalias() +=
            applied->block(sub.begin, part.begin, sub.end - sub.begin, part.end - part.begin) *
            input.values->middleRows(part.begin, part.end - part.begin);
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
