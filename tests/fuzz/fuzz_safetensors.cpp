// .safetensors files as Gpt2Model::open reads them: SafetensorsFile::parse (the in-memory form of open), then
// to_float for every tensor. Whatever the bytes, the reader returns a table or throws attnscope::Error with a
// one-line message naming the file, and allocates no more than a few times the input. A table it returns
// tiles the data area exactly; each tensor's span holds exactly its dtype × shape, inside the input; F32, F16
// and BF16 tensors read back as the floats their bytes encode (decoded here independently); and the table
// written out again by a plain writer parses back the same.

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "../support/json_text.hpp"
#include "attnscope/error.hpp"
#include "attnscope/safetensors.hpp"
#include "fuzz_support.hpp"

namespace {

using attnscope::testing::json_string;

using attnscope::SafetensorsDtype;
using attnscope::SafetensorsFile;

// IEEE half by its definition: (−1)^s · 2^(e−15) · 1.m, subnormals 2^−14 · 0.m.
float reference_half(std::uint16_t bits) {
  const int exponent = (bits >> 10) & 0x1F;
  const int mantissa = bits & 0x3FF;
  const float sign = (bits & 0x8000) ? -1.0f : 1.0f;
  if (exponent == 0x1F) return mantissa ? std::nanf("") : sign * INFINITY;
  if (exponent == 0) return sign * std::ldexp(static_cast<float>(mantissa), -24);
  return sign * std::ldexp(static_cast<float>(1024 + mantissa), exponent - 25);
}

bool same_value(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) ||
         std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

// The table and the data written out as a plain writer would.
std::string rewrite(const SafetensorsFile& file) {
  std::string header = "{\"__metadata__\":{";
  bool first = true;
  for (const auto& [key, value] : file.metadata()) {
    if (!first) header += ',';
    header += json_string(key) + ":" + json_string(value);
    first = false;
  }
  header += "}";
  std::string data;
  for (const auto& tensor : file.tensors()) {
    header += ',';
    header += json_string(tensor.name);
    header += ":{\"dtype\":\"";
    header += attnscope::to_string(tensor.dtype);
    header += "\",\"shape\":[";
    for (std::size_t d = 0; d < tensor.shape.size(); ++d) {
      if (d) header += ',';
      header += std::to_string(tensor.shape[d]);
    }
    header += "],\"data_offsets\":[" + std::to_string(tensor.begin) + "," + std::to_string(tensor.end) + "]}";
    const auto bytes = file.bytes(tensor);
    data.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  header += "}";
  std::string out;
  for (int i = 0; i < 8; ++i)
    out += static_cast<char>((static_cast<std::uint64_t>(header.size()) >> (8 * i)) & 0xFF);
  return out + header + data;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  // The table costs a few times the header; converted tensors at most twice the data (F16 to float).
  const attnscope::fuzz::HeapBudget budget(16 * size + 64 * 1024);
  std::optional<SafetensorsFile> parsed;
  try {
    parsed.emplace(SafetensorsFile::parse(bytes, "fuzz.safetensors"));
  } catch (const attnscope::Error& error) {
    budget.check("parse");
    attnscope::fuzz::check_message(error.what(), "fuzz.safetensors: ");
    return 0;
  }
  const SafetensorsFile& file = *parsed;
  FUZZ_CHECK(size >= 8, "accepted a file without a header length");
  std::uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<std::uint64_t>(data[i]) << (8 * i);
  FUZZ_CHECK(header_size <= SafetensorsFile::kMaxHeaderBytes && header_size <= size - 8, "header length");
  const std::byte* data_area = bytes.data() + 8 + header_size;
  const std::uint64_t data_size = size - 8 - header_size;

  std::uint64_t expected_begin = 0;
  for (const auto& tensor : file.tensors()) {
    FUZZ_CHECK(tensor.begin == expected_begin, "the tensors do not tile the data: " + tensor.name);
    FUZZ_CHECK(tensor.end >= tensor.begin && tensor.end <= data_size,
               "span outside the data: " + tensor.name);
    FUZZ_CHECK(tensor.shape.size() <= SafetensorsFile::kMaxDimensions, "too many dimensions");
    // The element count without overflow, here in long double with the exact check below.
    long double count = 1;
    for (const auto d : tensor.shape) count *= static_cast<long double>(d);
    FUZZ_CHECK(
        count * attnscope::dtype_size(tensor.dtype) == static_cast<long double>(tensor.end - tensor.begin),
        "span length differs from dtype × shape: " + tensor.name);
    FUZZ_CHECK(tensor.element_count() * attnscope::dtype_size(tensor.dtype) == tensor.end - tensor.begin,
               "element_count: " + tensor.name);
    FUZZ_CHECK(file.find(tensor.name) == &tensor, "find does not return the tensor: " + tensor.name);
    const auto span = file.bytes(tensor);
    FUZZ_CHECK(span.data() == data_area + tensor.begin && span.size() == tensor.end - tensor.begin,
               "bytes() is not the tensor's span");
    expected_begin = tensor.end;

    const bool floating = tensor.dtype == SafetensorsDtype::F32 || tensor.dtype == SafetensorsDtype::F16 ||
                          tensor.dtype == SafetensorsDtype::BF16;
    try {
      const attnscope::FloatTensor values = file.to_float(tensor);
      FUZZ_CHECK(floating, "to_float accepted " + std::string(attnscope::to_string(tensor.dtype)));
      FUZZ_CHECK(values.size() == tensor.element_count() && values.shape() == tensor.shape, "to_float shape");
      for (std::size_t i = 0; i < values.size(); ++i) {
        float expected = 0;
        if (tensor.dtype == SafetensorsDtype::F32) {
          std::memcpy(&expected, span.data() + 4 * i, 4);
        } else {
          std::uint16_t bits = 0;
          std::memcpy(&bits, span.data() + 2 * i, 2);
          expected = tensor.dtype == SafetensorsDtype::F16 ? reference_half(bits)
                                                           : std::bit_cast<float>(std::uint32_t{bits} << 16);
        }
        FUZZ_CHECK(same_value(values.data()[i], expected),
                   "value " + std::to_string(i) + " of " + tensor.name);
      }
    } catch (const attnscope::Error& error) {
      FUZZ_CHECK(!floating, error.what());
      attnscope::fuzz::check_message(error.what(), "fuzz.safetensors: tensor ");
    }
  }
  FUZZ_CHECK(expected_begin == data_size, "bytes after the last tensor");
  budget.check("parse and to_float");

  // Written out again, the table reads back the same.
  const std::string again = rewrite(file);
  try {
    const SafetensorsFile reread = SafetensorsFile::parse(
        {reinterpret_cast<const std::byte*>(again.data()), again.size()}, "again.safetensors");
    FUZZ_CHECK(reread.metadata() == file.metadata(), "metadata differs when written again");
    FUZZ_CHECK(reread.tensors().size() == file.tensors().size(), "tensor count differs when written again");
    for (std::size_t i = 0; i < file.tensors().size(); ++i) {
      const auto& a = file.tensors()[i];
      const auto& b = reread.tensors()[i];
      FUZZ_CHECK(a.name == b.name && a.dtype == b.dtype && a.shape == b.shape && a.begin == b.begin &&
                     a.end == b.end,
                 "tensor differs when written again: " + a.name);
    }
  } catch (const attnscope::Error& error) {
    FUZZ_CHECK(false, std::string("written again, it is rejected: ") + error.what());
  }
  return 0;
}
