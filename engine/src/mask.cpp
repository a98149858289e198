#include "attnscope/mask.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>

#include "attnscope/error.hpp"
#include "readers.hpp"

namespace attnscope {
namespace {

// The shortest text that reads back as `value` (1e-07, not std::to_string's 0.000000).
std::string format_value(float value) {
  std::array<char, 32> buffer{};
  const auto [end, error] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return std::string(buffer.data(), error == std::errc() ? end : buffer.data());
}

MaskMatrix mask_from_values(const Matrix& values, Eigen::Index n, const std::string& path) {
  const auto file = "mask file " + detail::printable(path);
  if (values.rows() < n || values.cols() < n)
    throw Error(file + " is " + std::to_string(values.rows()) + "×" + std::to_string(values.cols()) +
                " but the text has " + std::to_string(n) + " tokens (it must be at least " +
                std::to_string(n) + "×" + std::to_string(n) + ")");
  MaskMatrix mask(n, n);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < n; ++j) {
      const float value = values(i, j);
      if (value != 0.0f && value != 1.0f)
        throw Error(file + ": row " + std::to_string(i + 1) + ", column " + std::to_string(j + 1) + " is " +
                    format_value(value) + " (expected 0 = visible or 1 = masked)");
      mask(i, j) = value == 1.0f ? 1 : 0;
    }
  return mask;
}

}  // namespace

namespace detail {

MaskMatrix parse_mask(std::string_view csv_bytes, Eigen::Index n, const std::string& path) {
  return mask_from_values(parse_csv(csv_bytes, display_name(path)), n, path);
}

}  // namespace detail

MaskMatrix build_mask(const MaskSpec& spec, Eigen::Index n) {
  MaskMatrix mask = MaskMatrix::Zero(n, n);
  switch (spec.kind) {
    case MaskKind::none:
      break;
    case MaskKind::causal:
      for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = i + 1; j < n; ++j) mask(i, j) = 1;
      break;
    case MaskKind::window:
      if (spec.size < 1) throw Error("window mask needs W >= 1");
      for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < n; ++j) mask(i, j) = (j > i || j <= i - spec.size) ? 1 : 0;
      break;
    case MaskKind::prefix:
      if (spec.size < 0) throw Error("prefix mask needs P >= 0");
      for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < n; ++j) mask(i, j) = (j >= spec.size && j > i) ? 1 : 0;
      break;
    case MaskKind::file:
      mask = mask_from_values(detail::read_csv(spec.path), n, spec.path);
      break;
  }
  return mask;
}

bool any_hidden(const MaskMatrix& mask) {
  const std::uint8_t* cells = mask.data();
  const auto count = static_cast<std::size_t>(mask.size());
  std::size_t i = 0;
  std::uint64_t any = 0;
  for (; i + sizeof(std::uint64_t) <= count; i += sizeof(std::uint64_t)) {
    std::uint64_t word = 0;
    std::memcpy(&word, cells + i, sizeof word);
    any |= word;
  }
  for (; i < count; ++i) any |= cells[i];
  return any != 0;
}

}  // namespace attnscope
