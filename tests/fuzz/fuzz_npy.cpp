// .npy files as load_embeddings reads them: detail::parse_npy, then require_finite. Whatever the bytes, the
// reader returns a matrix or throws attnscope::Error with a one-line message, and allocates no more than a
// few times the input. A matrix it returns holds exactly the file's trailing data, converted from float32
// or float64, and reads back bit for bit when written out again.

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "attnscope/error.hpp"
#include "fuzz_support.hpp"
#include "readers.hpp"

namespace {

using attnscope::Matrix;

template <typename Unsigned>
Unsigned load_little_endian(const unsigned char* bytes) {
  Unsigned value = 0;
  for (std::size_t i = 0; i < sizeof(Unsigned); ++i) value |= static_cast<Unsigned>(bytes[i]) << (8 * i);
  return value;
}

bool same_bits(float a, float b) {
  return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

bool identical(const Matrix& a, const Matrix& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Eigen::Index i = 0; i < a.size(); ++i)
    if (!same_bits(a.data()[i], b.data()[i])) return false;
  return true;
}

// Whether the last matrix.size() items of `bytes`, read as `Wide` (float or double), are the matrix's values.
template <typename Wide, typename Unsigned>
bool holds_trailing(std::string_view bytes, const Matrix& matrix) {
  const auto count = static_cast<std::size_t>(matrix.size());
  if (bytes.size() < count * sizeof(Wide)) return false;
  const auto* data =
      reinterpret_cast<const unsigned char*>(bytes.data()) + bytes.size() - count * sizeof(Wide);
  for (std::size_t i = 0; i < count; ++i) {
    const auto value =
        static_cast<float>(std::bit_cast<Wide>(load_little_endian<Unsigned>(data + i * sizeof(Wide))));
    if (!same_bits(value, matrix.data()[i])) return false;
  }
  return true;
}

// The matrix as numpy saves a float32 array.
std::string to_npy(const Matrix& matrix) {
  const auto dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(matrix.rows()) +
                    ", " + std::to_string(matrix.cols()) + "), }\n";
  std::string file("\x93NUMPY\x01\x00", 8);
  file += static_cast<char>(dict.size() & 0xFF);
  file += static_cast<char>(dict.size() >> 8);
  file += dict;
  for (Eigen::Index i = 0; i < matrix.size(); ++i) {
    const auto bits = std::bit_cast<std::uint32_t>(matrix.data()[i]);
    for (int byte = 0; byte < 4; ++byte) file += static_cast<char>((bits >> (8 * byte)) & 0xFF);
  }
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Matrix matrix;
  // The matrix is never larger than the data; the header (at most 64 KiB) is parsed in place.
  const attnscope::fuzz::HeapBudget budget(2 * size + 16 * 1024);
  try {
    matrix = attnscope::detail::parse_npy(bytes, "fuzz.npy");
  } catch (const attnscope::Error& error) {
    budget.check("parse_npy");
    attnscope::fuzz::check_message(error.what(), "fuzz.npy: ");
    return 0;
  }
  budget.check("parse_npy");

  FUZZ_CHECK(matrix.rows() > 0 && matrix.cols() > 0, "empty matrix");
  FUZZ_CHECK(static_cast<std::size_t>(matrix.size()) * sizeof(float) <= size, "more values than bytes");
  FUZZ_CHECK((holds_trailing<float, std::uint32_t>(bytes, matrix) ||
              holds_trailing<double, std::uint64_t>(bytes, matrix)),
             "the values are not the file's trailing float32 or float64 data");
  FUZZ_CHECK(identical(attnscope::detail::parse_npy(to_npy(matrix), "again.npy"), matrix),
             "a float32 .npy of the matrix reads back differently");

  try {
    attnscope::detail::require_finite_named(matrix, "fuzz.npy");
  } catch (const attnscope::Error& error) {
    attnscope::fuzz::check_message(error.what(), "fuzz.npy: row ");
    FUZZ_CHECK(!matrix.allFinite(), error.what());
    return 0;
  }
  FUZZ_CHECK(matrix.allFinite(), "require_finite let NaN or Inf through");
  return 0;
}
