#include "cpu/attention_step.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>
#include <string>

#if defined(__SSE2__)
#include <immintrin.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "attnscope/error.hpp"
#include "attnscope/head_stats.hpp"
#include "cpu/ordered_product.hpp"
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

// What a softmax row gives the head statistics for free: with d_j = s_j − max (the scaled score less the
// row's largest), e_j = exp(d_j), Z = Σ e_j and w_j = e_j / Z, the row's entropy is
// −Σ w_j·ln w_j = ln Z − Σ e_j·d_j / Z: one multiply-add per cell in the pass that computes e_j, instead of a
// logarithm per weight afterwards. It agrees with the logarithms within float rounding (about 1e-6 relative).
struct SoftmaxTerms {
  float sum = 0.0f;           // Z
  float weighted_gap = 0.0f;  // Σ e_j·d_j
  float largest = 0.0f;       // max_j w_j
  // Never below 0, which rounding could otherwise give a row of one visible key or one dominant weight.
  double bits() const {
    return std::max(
        0.0, (std::log(static_cast<double>(sum)) - static_cast<double>(weighted_gap) / sum) / std::log(2.0));
  }
};

// A softmax row's HeadRowStats from its SoftmaxTerms and its weights `row` for the keys [key_begin, key_end)
// (0 outside them).
HeadRowStats row_stats_of(const SoftmaxTerms& terms, const float* row, Eigen::Index key_begin,
                          Eigen::Index key_end, Eigen::Index visible, Eigen::Index query) {
  const auto weight = [&](Eigen::Index key) {
    return key >= key_begin && key < key_end ? row[key - key_begin] : 0.0f;
  };
  HeadRowStats stats;
  stats.visible = visible;
  stats.bits = visible == 1 ? 0.0 : terms.bits();
  stats.max_weight = terms.largest;
  stats.first_token = weight(0);
  stats.self = weight(query);
  stats.previous_token = query >= 1 ? weight(query - 1) : 0.0f;
  return stats;
}

// Softmax of count raw cells src[0, count) into dst (src may be dst), as PyTorch computes it: scale, subtract
// the max, exponentiate, multiply by 1/sum. Three passes instead of five: the max of the raw cells (scaling
// is monotonic, so scaling it gives the max of the scaled cells exactly), scale + subtract + exp + sum,
// multiply. Hidden cells (−∞) end exactly 0. With `terms`, also the row's SoftmaxTerms.
template <typename Scale>
void softmax(const float* src, float* dst, Eigen::Index count, Scale scale, SoftmaxTerms* terms = nullptr) {
  using namespace Eigen::internal;
  const Eigen::Index body = count - count % kPacketSize, tail = count - body;
  const float max_score = scale(Eigen::Map<const Eigen::ArrayXf>(src, count).maxCoeff());
  const Packet max_packet = pset1<Packet>(max_score);
  const auto gap_of = [&](const Packet& raw) { return psub(scale(raw), max_packet); };
  // A hidden cell's d is −∞ and its e must be exactly 0, as PyTorch's is. Eigen's AVX-512 exp gives 0 below
  // −88.4, but its SSE and AVX2 exp give about 3e-39 for anything below −88.7, −∞ included: the hidden cells
  // would weigh 3e-39 / Z and, in e·d below, each add −1 to the entropy's sum.
  const Packet minus_infinity = pset1<Packet>(kMinusInfinity);
  const auto exp_of_gap = [&](const Packet& gap) { return pand(pexp(gap), pcmp_lt(minus_infinity, gap)); };
  const auto exp_of = [&](const Packet& raw) { return exp_of_gap(gap_of(raw)); };
  // e·d for the entropy, with d clamped to keep a hidden cell's 0·(−∞) at 0.
  const Packet lowest = pset1<Packet>(std::numeric_limits<float>::lowest());
  const auto finite = [&](const Packet& gap) { return pmax(gap, lowest); };
  Packet gap0 = pzero(max_packet), gap1 = gap0;

  // The last `tail` cells through the same vector exp: the packet ending at count, read before the loop below
  // may overwrite the cells it shares with the body (it then stores the same values there), and counted in
  // the sum by its last `tail` lanes only. Rows shorter than a packet go through a buffer padded with −∞.
  Packet tail_exp = pzero(max_packet), tail_lanes = tail_exp;
  alignas(64) float lanes[kPacketSize];
  if (tail > 0 && body > 0) {
    const Packet raw = ploadu<Packet>(src + count - kPacketSize);
    tail_exp = exp_of(raw);
    tail_lanes = tail_mask(tail);
    if (terms) gap1 = pmul(pand(tail_exp, tail_lanes), finite(gap_of(raw)));
  } else if (tail > 0) {
    std::fill(lanes, lanes + kPacketSize, kMinusInfinity);
    std::copy(src, src + count, lanes);
    const Packet raw = pload<Packet>(lanes);
    tail_exp = exp_of(raw);
    if (terms) gap1 = pmul(tail_exp, finite(gap_of(raw)));
  }

  Packet sum0 = pzero(max_packet), sum1 = sum0;
  Eigen::Index j = 0;
  if (terms) {
    for (; j + 2 * kPacketSize <= body; j += 2 * kPacketSize) {
      const Packet r0 = ploadu<Packet>(src + j), r1 = ploadu<Packet>(src + j + kPacketSize);
      const Packet d0 = gap_of(r0), d1 = gap_of(r1);
      const Packet e0 = exp_of_gap(d0), e1 = exp_of_gap(d1);
      pstoreu(dst + j, e0);
      pstoreu(dst + j + kPacketSize, e1);
      sum0 = padd(sum0, e0);
      sum1 = padd(sum1, e1);
      gap0 = pmadd(e0, finite(d0), gap0);
      gap1 = pmadd(e1, finite(d1), gap1);
    }
  } else {
    for (; j + 2 * kPacketSize <= body; j += 2 * kPacketSize) {
      const Packet e0 = exp_of(ploadu<Packet>(src + j));
      const Packet e1 = exp_of(ploadu<Packet>(src + j + kPacketSize));
      pstoreu(dst + j, e0);
      pstoreu(dst + j + kPacketSize, e1);
      sum0 = padd(sum0, e0);
      sum1 = padd(sum1, e1);
    }
  }
  if (j < body) {
    const Packet raw = ploadu<Packet>(src + j);
    const Packet e = exp_of(raw);
    pstoreu(dst + j, e);
    sum0 = padd(sum0, e);
    if (terms) gap0 = pmadd(e, finite(gap_of(raw)), gap0);
  }
  if (tail > 0 && body > 0) {
    pstoreu(dst + count - kPacketSize, tail_exp);
    sum1 = padd(sum1, pand(tail_exp, tail_lanes));
  } else if (tail > 0) {
    pstore(lanes, tail_exp);  // exp(−∞) = 0 in the padding
    std::copy(lanes, lanes + count, dst);
    sum1 = padd(sum1, tail_exp);
  }

  const float sum = predux(padd(sum0, sum1));
  const Packet inverse = pset1<Packet>(1.0f / sum);
  Packet largest = pzero(inverse);
  for (j = 0; j < body; j += kPacketSize) {
    const Packet weight = pmul(ploadu<Packet>(dst + j), inverse);
    pstoreu(dst + j, weight);
    if (terms) largest = pmax(largest, weight);
  }
  if (tail > 0 && body > 0) {
    const Packet weight = pmul(tail_exp, inverse);
    pstoreu(dst + count - kPacketSize, weight);
    largest = pmax(largest, weight);
  } else {
    for (j = body; j < count; ++j) dst[j] *= pfirst(inverse);
    largest = pmax(largest, pmul(tail_exp, inverse));  // the padding's e is 0
  }
  if (terms) *terms = {sum, predux(padd(gap0, gap1)), predux_max(largest)};
}

// The sum of count cells in an order fixed by count alone. Eigen's sum starts its packets at the first
// aligned cell, so a row's sum (and with it, every weight of sum normalisation, whose sums may be small
// differences of large scores) would depend on where the row happens to sit in memory.
float ordered_sum(const float* cells, Eigen::Index count) {
  using namespace Eigen::internal;
  Packet sum0 = pset1<Packet>(0.0f), sum1 = sum0;
  Eigen::Index j = 0;
  for (; j + 2 * kPacketSize <= count; j += 2 * kPacketSize) {
    sum0 = padd(sum0, ploadu<Packet>(cells + j));
    sum1 = padd(sum1, ploadu<Packet>(cells + j + kPacketSize));
  }
  if (j + kPacketSize <= count) {
    sum0 = padd(sum0, ploadu<Packet>(cells + j));
    j += kPacketSize;
  }
  float sum = predux(padd(sum0, sum1));
  for (; j < count; ++j) sum += cells[j];
  return sum;
}

void sum_normalize(float* row, Eigen::Index begin, Eigen::Index end, Eigen::Index query) {
  Eigen::Map<Eigen::ArrayXf> segment(row + begin, end - begin);
  segment = (segment == kMinusInfinity).select(0.0f, segment);
  const float sum = ordered_sum(row + begin, end - begin);
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

// Copies [begin, end) to to, storing the aligned middle with non-temporal stores: results the step does not
// read back (kept scores and weights computed in the scratch), as stream_fill.
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

// A block's cells [row_begin, …) × [keys, …) of an n × n matrix or of the thread's scratch, by row stride.
struct Cells {
  float* data = nullptr;
  Eigen::Index stride = 0, row_begin = 0, keys = 0;
  float* at(Eigen::Index query, Eigen::Index key) const {
    return data + (query - row_begin) * stride + (key - keys);
  }
  Eigen::Map<Matrix, 0, Eigen::OuterStride<>> block(Eigen::Index query, Eigen::Index rows,
                                                    KeySpan span) const {
    return {at(query, span.begin), rows, span.end - span.begin, Eigen::OuterStride<>(stride)};
  }
};

// Streams the kept raw scores of rows [row_begin, row_end), whose keys outside `span` are all hidden: −∞
// where hidden, else the raw score.
void write_scores(const StepInput& input, const std::vector<VisibleRange>& ranges, Eigen::Index row_begin,
                  Eigen::Index row_end, KeySpan span, const Cells& raw, HeadResult& head) {
  const Eigen::Index n = head.scores.cols();
  for (Eigen::Index query = row_begin; query < row_end; ++query) {
    float* scores = head.scores.row(query).data();
    const VisibleRange range = ranges[static_cast<std::size_t>(query)];
    if (range.contiguous) {  // [n, n) when every key is hidden
      stream_fill(scores, scores + range.begin, kMinusInfinity);
      if (range.begin < range.end) {
        const float* visible = raw.at(query, range.begin);
        stream_copy(visible, visible + (range.end - range.begin), scores + range.begin);
      }
      stream_fill(scores + range.end, scores + n, kMinusInfinity);
      continue;
    }
    const std::uint8_t* hidden = input.mask->row(query).data();
    const float* cells = raw.at(query, span.begin);
    stream_fill(scores, scores + span.begin, kMinusInfinity);
    for (Eigen::Index j = span.begin; j < span.end; ++j)
      scores[j] = hidden[j] ? kMinusInfinity : cells[j - span.begin];
    stream_fill(scores + span.end, scores + n, kMinusInfinity);
  }
}

// Streams one row of n cells: `value` outside `span`, and inside it the cells from `from` (the span's first),
// unless they are already there (null).
void write_row(float* row, Eigen::Index n, KeySpan span, const float* from, float value) {
  stream_fill(row, row + span.begin, value);
  if (from && span.begin < span.end) stream_copy(from, from + (span.end - span.begin), row + span.begin);
  stream_fill(row + span.end, row + n, value);
}

// write_row for rows [row_begin, row_end) of `matrix`, from `cells` (null: already there).
void write_rows(Matrix& matrix, Eigen::Index row_begin, Eigen::Index row_end, KeySpan span,
                const Cells* cells, float value) {
  for (Eigen::Index query = row_begin; query < row_end; ++query)
    write_row(matrix.row(query).data(), matrix.cols(), span, cells ? cells->at(query, span.begin) : nullptr,
              value);
}

// Scale, mask and normalise rows [row_begin, row_end) within `span`, from their raw scores to their weights
// (the same cells or not): the step's part between the two products. Hidden cells end exactly 0. With
// `stats` (n rows), also each row's statistics terms.
template <typename Scale>
void normalize_rows(const StepInput& input, const std::vector<VisibleRange>& ranges, Eigen::Index row_begin,
                    Eigen::Index row_end, KeySpan span, Scale scale, const Cells& raw, const Cells& weights,
                    std::vector<HeadRowStats>* stats) {
  const Eigen::Index n = input.length();
  const Eigen::Index width = span.end - span.begin;
  for (Eigen::Index query = row_begin; query < row_end; ++query) {
    HeadRowStats* row_stats = stats ? &(*stats)[static_cast<std::size_t>(query)] : nullptr;
    const VisibleRange range = ranges[static_cast<std::size_t>(query)];
    if (range.begin >= range.end) {
      if (width > 0) std::fill_n(weights.at(query, span.begin), width, 0.0f);
      if (row_stats) *row_stats = HeadRowStats{};
      continue;
    }
    const float* src = raw.at(query, span.begin);  // src[k], row[k]: key span.begin + k
    float* row = weights.at(query, span.begin);
    SoftmaxTerms terms;
    SoftmaxTerms* wanted = row_stats ? &terms : nullptr;
    if (range.contiguous && input.normalization == Normalization::softmax) {
      // Hidden keys are exactly those outside the range: weight 0 there, softmax over the range alone.
      const Eigen::Index begin = range.begin - span.begin, end = range.end - span.begin;
      std::fill(row, row + begin, 0.0f);
      std::fill(row + end, row + width, 0.0f);
      softmax(src + begin, row + begin, end - begin, scale, wanted);
      if (row_stats)
        *row_stats = row_stats_of(terms, row, span.begin, span.end, range.end - range.begin, query);
      continue;
    }
    const std::uint8_t* hidden = input.mask->row(query).data();
    // Row-exact rows normalise the keys from their own first visible one to their last, so that their sums'
    // order does not depend on the block's span; the others, the span.
    const KeySpan keys = input.row_exact ? KeySpan{range.begin, range.end} : span;
    const Eigen::Index begin = keys.begin - span.begin, end = keys.end - span.begin;
    std::fill(row, row + begin, 0.0f);
    std::fill(row + end, row + width, 0.0f);
    for (Eigen::Index k = begin; k < end; ++k)
      row[k] = hidden[span.begin + k] ? kMinusInfinity : scale(src[k]);
    if (input.normalization == Normalization::softmax) {
      softmax(row + begin, row + begin, end - begin, AsIs{}, wanted);
      if (row_stats)
        *row_stats = row_stats_of(terms, row, span.begin, span.end,
                                  n - std::count(hidden, hidden + n, std::uint8_t{1}), query);
    } else {
      sum_normalize(row, begin, end, query);
      if (row_stats) *row_stats = head_row_stats(row, span.begin, span.end, hidden, n, query);
    }
  }
}

void normalize_rows(const StepInput& input, const std::vector<VisibleRange>& ranges, Eigen::Index row_begin,
                    Eigen::Index row_end, KeySpan span, const Cells& raw, const Cells& weights,
                    std::vector<HeadRowStats>* stats) {
  if (const float inverse = exact_inverse(input.scale_divisor); inverse > 0.0f)
    normalize_rows(input, ranges, row_begin, row_end, span, MultiplyBy{inverse}, raw, weights, stats);
  else
    normalize_rows(input, ranges, row_begin, row_end, span, DivideBy{input.scale_divisor}, raw, weights,
                   stats);
}

// Rows [row_begin, row_end) of an earlier head whose block had the same inputs: its cells, and past its last
// key (the text grew) hidden cells, as the step would write them.
void copy_rows(const HeadResult& earlier, Eigen::Index row_begin, Eigen::Index row_end, bool keep_scores,
               HeadResult& head, bool matrices_held) {
  const KeySpan shared{0, std::min(head.weights.cols(), earlier.weights.cols())};
  const auto copy = [&](const Matrix& from, Matrix& to, float hidden) {
    for (Eigen::Index query = row_begin; query < row_end; ++query)
      write_row(to.row(query).data(), to.cols(), shared, from.row(query).data(), hidden);
  };
  if (!matrices_held) {
    copy(earlier.weights, head.weights, 0.0f);
    if (keep_scores) copy(earlier.scores, head.scores, kMinusInfinity);
    finish_streaming();
  }
  head.context.middleRows(row_begin, row_end - row_begin) =
      earlier.context.middleRows(row_begin, row_end - row_begin);
}

// head.row_stats for copied rows [row_begin, row_end): the earlier head's (the same inputs give the same
// terms), or, when it has none, computed from the copied weights.
void copy_row_stats(const HeadResult& earlier, const MaskMatrix& mask, Eigen::Index row_begin,
                    Eigen::Index row_end, HeadResult& head) {
  const auto rows = static_cast<std::size_t>(row_end);
  if (earlier.row_stats.size() >= rows) {
    std::copy(earlier.row_stats.begin() + row_begin, earlier.row_stats.begin() + row_end,
              head.row_stats.begin() + row_begin);
    return;
  }
  const Eigen::Index n = head.weights.cols();
  for (Eigen::Index query = row_begin; query < row_end; ++query)
    head.row_stats[static_cast<std::size_t>(query)] =
        head_row_stats(head.weights.row(query).data(), 0, n, mask.row(query).data(), n, query);
}

// A row-exact block's raw scores: each cell q · k one chain of FMAs over the head's d values, whatever rows
// and keys are computed with it. The span's keys are laid out as columns (d × keys, zero past the span) for
// ordered_product; raw's rows have room for the padding's cells.
void ordered_scores(const StepInput& input, Eigen::Index row_begin, Eigen::Index rows, KeySpan span,
                    const Cells& raw, Matrix& keys) {
  const Eigen::Index d = input.queries->cols(), width = span.end - span.begin, columns = whole_packets(width);
  if (keys.rows() != d || keys.cols() < columns) keys.resize(d, std::max(keys.cols(), columns));
  keys.leftCols(width) = input.keys->middleRows(span.begin, width).transpose();
  keys.middleCols(width, columns - width).setZero();
  ordered_product(input.queries->row(row_begin).data(), d, rows, keys.data(), keys.cols(), d, columns,
                  raw.at(row_begin, span.begin), raw.stride);
}

// The keys `keys` of K (columns of keys_transposed) times the block's queries, into raw: whole packets of
// them at a time, through the scratch, each cell computed as ordered_product computes it in a whole product.
void ordered_columns(const StepInput& input, Eigen::Index row_begin, Eigen::Index rows,
                     std::span<const Eigen::Index> keys, const Cells& raw, StepScratch& scratch) {
  const Matrix& transposed = *input.keys_transposed;
  const Eigen::Index d = transposed.rows();
  Matrix& columns = scratch.columns;
  Matrix& cells = scratch.cells_of_columns;
  columns.resize(d, kLanes);
  cells.resize(rows, kLanes);
  for (std::size_t first = 0; first < keys.size(); first += kLanes) {
    const std::size_t count = std::min<std::size_t>(kLanes, keys.size() - first);
    columns.setZero();
    for (std::size_t c = 0; c < count; ++c)
      columns.col(static_cast<Eigen::Index>(c)) = transposed.col(keys[first + c]);
    ordered_product(input.queries->row(row_begin).data(), d, rows, columns.data(), kLanes, d, kLanes,
                    cells.data(), kLanes);
    for (Eigen::Index r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < count; ++c)
        *raw.at(row_begin + r, keys[first + c]) = cells(r, static_cast<Eigen::Index>(c));
  }
}

// A dense block's raw scores over `span` as ordered_product computes them (ordered_scores). With `earlier`,
// the rows' earlier scores are copied and only the changed keys' columns, and those past the earlier text's,
// are computed: the same bits, as each cell depends on its own q and k alone.
void dense_ordered_scores(const StepInput& input, Eigen::Index row_begin, Eigen::Index rows, KeySpan span,
                          const Cells& raw, StepScratch& scratch, const EarlierScores* earlier) {
  const Matrix& transposed = *input.keys_transposed;
  const Eigen::Index d = transposed.rows(), width = span.end - span.begin;
  if (earlier) {
    const Matrix& scores = *earlier->scores;
    const Eigen::Index kept_end = std::min(span.end, scores.cols());
    std::vector<Eigen::Index> keys;
    for (const Eigen::Index key : earlier->changed_keys)
      if (key >= span.begin && key < kept_end) keys.push_back(key);
    for (Eigen::Index key = std::max(span.begin, kept_end); key < span.end; ++key) keys.push_back(key);
    if (earlier->stale_keys) {
      // Only the stale cells come from the earlier scores; the keys computed below are not among them.
      for (const Eigen::Index key : *earlier->stale_keys)
        if (key >= span.begin && key < kept_end && !std::binary_search(keys.begin(), keys.end(), key))
          for (Eigen::Index r = row_begin; r < row_begin + rows; ++r) *raw.at(r, key) = scores(r, key);
    } else if (span.begin < kept_end) {
      for (Eigen::Index r = row_begin; r < row_begin + rows; ++r)
        std::copy(scores.row(r).data() + span.begin, scores.row(r).data() + kept_end, raw.at(r, span.begin));
    }
    ordered_columns(input, row_begin, rows, keys, raw, scratch);
    return;
  }
  // Whole packets of keys straight into raw; the last few as single columns.
  const Eigen::Index whole = width / kLanes * kLanes;
  if (whole > 0)
    ordered_product(input.queries->row(row_begin).data(), d, rows, transposed.data() + span.begin,
                    transposed.cols(), d, whole, raw.at(row_begin, span.begin), raw.stride);
  std::vector<Eigen::Index> last(static_cast<std::size_t>(width - whole));
  std::iota(last.begin(), last.end(), span.begin + whole);
  ordered_columns(input, row_begin, rows, last, raw, scratch);
}

// A row-exact block's context rows [row_begin, row_begin + rows) = weights · the span's values. The
// weights of keys a row does not see are exactly 0, and a 0 term leaves a sum's bits as they are (the sums
// start from +0), so a row's context does not depend on how wide the block's span is.
void ordered_context(const float* weights, Eigen::Index weights_stride, Eigen::Index rows,
                     const Matrix& values, KeySpan span, Matrix& context, Eigen::Index row_begin,
                     StepScratch& scratch) {
  const Eigen::Index d = values.cols(), width = span.end - span.begin;
  if (d % kLanes == 0) {
    ordered_product(weights, weights_stride, rows, values.row(span.begin).data(), d, width, d,
                    context.row(row_begin).data(), d);
    return;
  }
  // A head size that is not whole packets: through copies padded with zero columns.
  const Eigen::Index padded = whole_packets(d);
  Matrix& padded_values = scratch.values;
  padded_values.resize(width, padded);
  padded_values.leftCols(d) = values.middleRows(span.begin, width);
  padded_values.rightCols(padded - d).setZero();
  scratch.context.resize(rows, padded);
  ordered_product(weights, weights_stride, rows, padded_values.data(), padded, width, padded,
                  scratch.context.data(), padded);
  context.middleRows(row_begin, rows) = scratch.context.leftCols(d);
}

// Asks the kernel to back a fresh n × n matrix with 2 MiB pages. Every edit writes new matrices, and the
// first write to each 4 KiB page is a page fault: a thousand tokens' 12 heads of weights (48 MB) took about
// 30 ms of faults before any arithmetic, against about 5 ms with huge pages. Advice only: where transparent
// huge pages are off, nothing changes.
void prefer_huge_pages([[maybe_unused]] Matrix& matrix) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20, kPage = 4096;
  const auto begin = reinterpret_cast<std::uintptr_t>(matrix.data());
  const std::uintptr_t end = begin + static_cast<std::uintptr_t>(matrix.size()) * sizeof(float);
  const std::uintptr_t first = (begin + kPage - 1) / kPage * kPage, last = end / kPage * kPage;
  if (last >= first + kHugePage) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#endif
}

}  // namespace

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

std::vector<VisibleRange> visible_ranges(const MaskMatrix& mask) {
  std::vector<VisibleRange> ranges(static_cast<std::size_t>(mask.rows()));
  const Eigen::Index n = mask.cols();
  // memchr and memrchr, not loops over the bytes: a 1,024-token mask's rows took 1–2 ms per edit that way.
  // Its cells are 0 or 1, so a hidden cell is a 1.
  for (Eigen::Index i = 0; i < mask.rows(); ++i) {
    const std::uint8_t* row = mask.row(i).data();
    const auto* first = static_cast<const std::uint8_t*>(std::memchr(row, 0, static_cast<std::size_t>(n)));
    if (!first) {
      ranges[static_cast<std::size_t>(i)] = {n, n, true};
      continue;
    }
    const Eigen::Index begin = first - row;
    const auto* last =
        static_cast<const std::uint8_t*>(memrchr(first, 0, static_cast<std::size_t>(n - begin)));
    const Eigen::Index end = last - row + 1;
    const bool contiguous = std::memchr(first, 1, static_cast<std::size_t>(end - begin)) == nullptr;
    ranges[static_cast<std::size_t>(i)] = {begin, end, contiguous};
  }
  return ranges;
}

void copy_earlier_rows(const HeadResult& earlier, const MaskMatrix& mask, Eigen::Index row_begin,
                       Eigen::Index row_end, bool keep_scores, HeadResult& head, bool matrices_held) {
  copy_rows(earlier, row_begin, row_end, keep_scores, head, matrices_held);
  if (!head.row_stats.empty()) copy_row_stats(earlier, mask, row_begin, row_end, head);
}

void allocate_head(const StepInput& input, HeadResult& head) {
  const Eigen::Index n = input.length();
  head.scale = 1.0f / input.scale_divisor;
  if (input.keep_scores) {
    head.scores.resize(n, n);
    prefer_huge_pages(head.scores);
  }
  head.weights.resize(n, n);
  prefer_huge_pages(head.weights);
  if (input.dropout_noise) {
    head.dropout_weights.emplace(n, n);
    prefer_huge_pages(*head.dropout_weights);
  }
  head.context.resize(n, input.values->cols());
  if (input.row_stats) head.row_stats.resize(static_cast<std::size_t>(n));
}

void attention_rows(const StepInput& input, const std::vector<VisibleRange>& ranges, Eigen::Index row_begin,
                    Eigen::Index row_end, HeadResult& head, StepScratch& scratch,
                    const EarlierScores* earlier) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point block_start = input.clock ? Clock::now() : Clock::time_point{};
  const Eigen::Index n = input.length();
  const Eigen::Index rows = row_end - row_begin;
  const KeySpan span = block_key_span(ranges, row_begin, row_end, n);
  const Eigen::Index width = span.end - span.begin;

  // Where the raw scores and then the weights are, within `span`. A dense block (every query sees exactly the
  // keys of the span, e.g. without a mask) works in the n × n results themselves: the product writes the
  // scores where they are kept and the softmax the weights, stores spread over the computation. A block with
  // hidden cells inside it (a causal block's diagonal) works in the thread's scratch, whose cells stay in
  // cache, and streams the results out: such a step's rows are mostly hidden cells, written only with
  // streaming stores.
  // A row-exact product writes whole packets of keys: always the scratch, whose rows have room for them.
  const bool dense =
      !input.row_exact &&
      std::all_of(ranges.begin() + row_begin, ranges.begin() + row_end, [&](VisibleRange range) {
        return range.contiguous && range.begin == span.begin && range.end == span.end;
      });
  Cells raw, weights;
  if (dense) {
    weights = {head.weights.row(row_begin).data() + span.begin, n, row_begin, span.begin};
    raw = input.keep_scores ? Cells{head.scores.row(row_begin).data() + span.begin, n, row_begin, span.begin}
                            : weights;
  } else {
    Matrix& cells = scratch.cells;
    const Eigen::Index columns = input.row_exact ? whole_packets(width) : width;
    if (cells.rows() < rows || cells.cols() < columns)
      cells.resize(std::max(cells.rows(), rows), std::max(cells.cols(), columns));
    raw = weights = {cells.data(), cells.cols(), row_begin, span.begin};
  }

  if (width > 0 && input.row_exact)
    ordered_scores(input, row_begin, rows, span, raw, scratch.keys);
  else if (width > 0 && dense && input.keys_transposed)
    dense_ordered_scores(input, row_begin, rows, span, raw, scratch, earlier);
  else if (width > 0)
    raw.block(row_begin, rows, span).noalias() =
        input.queries->middleRows(row_begin, rows) * input.keys->middleRows(span.begin, width).transpose();
  if (input.keep_scores) {
    if (dense)
      write_rows(head.scores, row_begin, row_end, span, nullptr, kMinusInfinity);
    else
      write_scores(input, ranges, row_begin, row_end, span, raw, head);
  }

  const Clock::time_point normalize_start = input.clock ? Clock::now() : Clock::time_point{};
  normalize_rows(input, ranges, row_begin, row_end, span, raw, weights,
                 input.row_stats ? &head.row_stats : nullptr);
  const Clock::time_point normalize_end = input.clock ? Clock::now() : Clock::time_point{};
  write_rows(head.weights, row_begin, row_end, span, dense ? nullptr : &weights, 0.0f);
  finish_streaming();

  auto context = head.context.middleRows(row_begin, rows);
  if (input.dropout_noise) {
    const Eigen::Map<const Matrix> noise(input.dropout_noise->data(), n, n);
    auto dropped = head.dropout_weights->middleRows(row_begin, rows);
    dropped = head.weights.middleRows(row_begin, rows).cwiseProduct(noise.middleRows(row_begin, rows));
    if (width > 0)
      context.noalias() = dropped.middleCols(span.begin, width) * input.values->middleRows(span.begin, width);
  } else if (width > 0 && (input.row_exact || (dense && input.keys_transposed))) {
    // A dense block's too: ordered_product reads the values as they are, where Eigen's product packs the
    // span's values again for every block.
    ordered_context(weights.at(row_begin, span.begin), weights.stride, rows, *input.values, span,
                    head.context, row_begin, scratch);
  } else if (width > 0) {
    context.noalias() = weights.block(row_begin, rows, span) * input.values->middleRows(span.begin, width);
  }
  if (width == 0) context.setZero();
  if (input.clock) {
    const auto nanoseconds = [](Clock::duration duration) {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(duration).count();
    };
    input.clock->normalize_ns += nanoseconds(normalize_end - normalize_start);
    input.clock->block_ns += nanoseconds(Clock::now() - block_start);
  }
}

void attention_heads(std::span<const StepInput> inputs, const std::vector<VisibleRange>& ranges,
                     std::span<HeadResult> heads, int threads, const CancelToken* cancel,
                     const CopiedBlocks* copied) {
  if (inputs.empty()) return;
  const Eigen::Index n = inputs.front().length();
  const std::size_t blocks = static_cast<std::size_t>((n + kRowBlock - 1) / kRowBlock);
  // (head, block) tasks head after head (a head's keys and values stay in cache from one task to the next),
  // and in each head the blocks that compute the most keys first (copied blocks last): the last tasks are
  // short ones, so that no thread is left with a long one while the others have finished.
  const auto is_copied = [copied, n](std::size_t block) {
    const Eigen::Index row_end = std::min(n, static_cast<Eigen::Index>(block + 1) * kRowBlock);
    return copied &&
           ((block < copied->copied.size() && copied->copied[block] != 0) || row_end <= copied->rows_before);
  };
  std::vector<std::size_t> by_keys(blocks), key_counts(blocks);
  for (std::size_t block = 0; block < blocks; ++block) {
    const Eigen::Index row_begin = static_cast<Eigen::Index>(block) * kRowBlock;
    const KeySpan span = block_key_span(ranges, row_begin, std::min(n, row_begin + kRowBlock), n);
    key_counts[block] = is_copied(block) ? 0 : static_cast<std::size_t>(span.end - span.begin);
    by_keys[block] = block;
  }
  std::stable_sort(by_keys.begin(), by_keys.end(),
                   [&](std::size_t a, std::size_t b) { return key_counts[a] > key_counts[b]; });
  std::vector<std::size_t> order(inputs.size() * blocks);
  for (std::size_t task = 0; task < order.size(); ++task)
    order[task] = task / blocks * blocks + by_keys[task % blocks];
  // ordered_scores: each head's keys as columns (no pass over the heads for inputs without it, as GPT-2's
  // layers).
  std::vector<StepInput> with_columns(inputs.begin(), inputs.end());
  std::vector<Matrix> transposed(inputs.size());
  if (std::any_of(inputs.begin(), inputs.end(), [](const StepInput& input) { return input.ordered_scores; }))
    parallel_for(inputs.size(), threads, [&](std::size_t h) {
      if (!inputs[h].ordered_scores) return;
      const Matrix& keys = *inputs[h].keys;
      transposed[h] = keys.topRows(n).transpose();
      with_columns[h].keys_transposed = &transposed[h];
    });
  const auto earlier_scores = [&](std::size_t h, std::size_t block) -> std::optional<EarlierScores> {
    if (!copied || copied->earlier.empty() || block >= copied->scores_reusable.size() ||
        !copied->scores_reusable[block] || !inputs[h].ordered_scores)
      return std::nullopt;
    const bool held = block < copied->scores_held.size() && copied->scores_held[block];
    return EarlierScores{&copied->earlier[h].scores, copied->changed_keys,
                         held ? &copied->stale_keys : nullptr};
  };
  std::vector<StepScratch> scratch(parallel_threads(order.size(), threads));  // sized by each thread on use
  parallel_for(order.size(), threads, [&](std::size_t task, std::size_t worker) {
    if (cancel) cancel->throw_if_cancelled();
    const std::size_t h = order[task] / blocks, block = order[task] % blocks;
    const Eigen::Index row_begin = static_cast<Eigen::Index>(block) * kRowBlock;
    const Eigen::Index row_end = std::min(n, row_begin + kRowBlock);
    // The rows this task computes: from the first one not copied.
    const Eigen::Index from =
        is_copied(block) ? row_end : std::clamp(copied ? copied->rows_before : 0, row_begin, row_end);
    if (from > row_begin && !copied->earlier.empty())
      copy_earlier_rows(copied->earlier[h], *inputs[h].mask, row_begin, from, inputs[h].keep_scores, heads[h],
                        block < copied->held.size() && copied->held[block] != 0);
    if (from < row_end) {
      const std::optional<EarlierScores> earlier =
          from == row_begin ? earlier_scores(h, block) : std::nullopt;
      attention_rows(with_columns[h], ranges, from, row_end, heads[h], scratch[worker],
                     earlier ? &*earlier : nullptr);
    }
  });
}

}  // namespace attnscope::cpu
