// Mask files as build_mask reads them for --mask file:PATH: detail::parse_mask, a 0/1 CSV of at least n × n.
// The first byte picks n (byte % 16, so the digits '0'–'9' give 0–9); the rest is the file. Whatever the
// bytes, the reader returns the n × n mask or throws attnscope::Error with a one-line message, and allocates
// no more than a few times the input. A mask it returns is the top-left n × n block of the file's values.

#include <cstdint>
#include <string>
#include <string_view>

#include "attnscope/error.hpp"
#include "fuzz_support.hpp"
#include "readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Eigen::Index n = data[0] % 16;
  const std::string_view file(reinterpret_cast<const char*>(data) + 1, size - 1);
  attnscope::MaskMatrix mask;
  const attnscope::fuzz::HeapBudget budget(8 * size + static_cast<std::size_t>(n * n) + 4096);
  try {
    mask = attnscope::detail::parse_mask(file, n, "fuzz-mask.csv");
  } catch (const attnscope::Error& error) {
    budget.check("parse_mask");
    const std::string_view message = error.what();
    attnscope::fuzz::check_message(
        message, message.starts_with("mask file ") ? "mask file fuzz-mask.csv" : "fuzz-mask.csv: ");
    return 0;
  }
  budget.check("parse_mask");

  FUZZ_CHECK(mask.rows() == n && mask.cols() == n, "the mask is not n × n");
  const auto values = attnscope::detail::parse_csv(file, "fuzz-mask.csv");
  FUZZ_CHECK(values.rows() >= n && values.cols() >= n, "a mask from a file smaller than n × n");
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < n; ++j) {
      FUZZ_CHECK(mask(i, j) == 0 || mask(i, j) == 1, "a mask cell that is neither 0 nor 1");
      FUZZ_CHECK(values(i, j) == static_cast<float>(mask(i, j)), "a mask cell that differs from the file");
    }
  return 0;
}
