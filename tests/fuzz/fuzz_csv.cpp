// CSV files as load_embeddings reads them: detail::parse_csv, then require_finite. Whatever the bytes, the
// reader returns a matrix or throws attnscope::Error with a one-line message, and allocates no more than a
// few times the input. A matrix it returns reads back bit for bit when written out again, with any of the
// separators and line endings the reader accepts.

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "attnscope/error.hpp"
#include "fuzz_support.hpp"
#include "readers.hpp"

namespace {

using attnscope::Matrix;

bool same_value(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) ||
         std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

bool identical(const Matrix& a, const Matrix& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Eigen::Index i = 0; i < a.size(); ++i)
    if (!same_value(a.data()[i], b.data()[i])) return false;
  return true;
}

// Each value as the shortest text that reads back as the same double, hence the same float.
std::string to_csv(const Matrix& matrix, std::string_view separator, std::string_view line_end) {
  std::string text;
  for (Eigen::Index row = 0; row < matrix.rows(); ++row) {
    for (Eigen::Index col = 0; col < matrix.cols(); ++col) {
      if (col > 0) text += separator;
      std::array<char, 64> buffer{};
      const auto result =
          std::to_chars(buffer.data(), buffer.data() + buffer.size(), static_cast<double>(matrix(row, col)));
      text.append(buffer.data(), result.ptr);
    }
    text += line_end;
  }
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Matrix matrix;
  // Each value takes at least 2 bytes ("1,") and 4 in the matrix, which doubles as it grows.
  const attnscope::fuzz::HeapBudget budget(8 * size + 4096);
  try {
    matrix = attnscope::detail::parse_csv(bytes, "fuzz.csv");
  } catch (const attnscope::Error& error) {
    budget.check("parse_csv");
    attnscope::fuzz::check_message(error.what(), "fuzz.csv: ");
    return 0;
  }
  budget.check("parse_csv");

  FUZZ_CHECK(matrix.rows() > 0 && matrix.cols() > 0, "empty matrix");
  FUZZ_CHECK(2 * static_cast<std::size_t>(matrix.size()) <= size + 1, "more values than the text can hold");
  constexpr std::array<std::string_view, 4> separators = {",", " ; ", " ", "\t"};
  const auto separator = separators[size % separators.size()];
  const auto line_end = (size / separators.size()) % 2 == 0 ? "\n" : "\r\n";
  FUZZ_CHECK(
      identical(attnscope::detail::parse_csv(to_csv(matrix, separator, line_end), "again.csv"), matrix),
      "the matrix written as CSV reads back differently");

  try {
    attnscope::detail::require_finite_named(matrix, "fuzz.csv");
  } catch (const attnscope::Error& error) {
    attnscope::fuzz::check_message(error.what(), "fuzz.csv: row ");
    FUZZ_CHECK(!matrix.allFinite(), error.what());
    return 0;
  }
  FUZZ_CHECK(matrix.allFinite(), "require_finite let NaN or Inf through");
  return 0;
}
