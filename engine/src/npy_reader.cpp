// The .npy format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attnscope/error.hpp"
#include "readers.hpp"

namespace attnscope::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

std::string display_name(const fs::path& path) {
  auto name = path.filename().string();
  return name.empty() ? path.string() : name;
}

std::ifstream open_regular_file(const fs::path& path, const std::string& name) {
  std::error_code ignored;
  const auto status = fs::status(path, ignored);
  if (!fs::exists(status)) throw Error(name + ": no such file");
  if (!fs::is_regular_file(status)) throw Error(name + ": not a regular file");
  std::ifstream stream(path, std::ios::binary);
  if (!stream) throw Error(name + ": cannot be opened");
  return stream;
}

template <typename Unsigned>
Unsigned load_little_endian(const unsigned char* bytes) {
  Unsigned value = 0;
  for (std::size_t i = 0; i < sizeof(Unsigned); ++i) value |= static_cast<Unsigned>(bytes[i]) << (8 * i);
  return value;
}

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
};

std::string format_shape(const std::vector<std::uint64_t>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + (shape.size() == 1 ? ",)" : ")");
}

// Parses the Python dict literal numpy writes, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4),
// } — numpy itself reads it with ast.literal_eval, so any spacing, quoting and key order is accepted here
// too.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string name) : text_(text), name_(std::move(name)) {}

  Header parse() {
    Header header;
    bool has_descr = false, has_fortran_order = false, has_shape = false;
    expect('{');
    while (!try_consume('}')) {
      const auto key = parse_string();
      expect(':');
      if (key == "descr") {
        mark_seen(has_descr, key);
        header.descr = parse_string();
      } else if (key == "fortran_order") {
        mark_seen(has_fortran_order, key);
        header.fortran_order = parse_bool();
      } else if (key == "shape") {
        mark_seen(has_shape, key);
        header.shape = parse_shape();
      } else {
        fail("unexpected key '" + key + "'");
      }
      if (!try_consume(',')) {
        expect('}');
        break;
      }
    }
    skip_space();
    if (position_ != text_.size()) fail("unexpected text after the closing '}'");
    if (!has_descr) fail("no 'descr'");
    if (!has_fortran_order) fail("no 'fortran_order'");
    if (!has_shape) fail("no 'shape'");
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw Error(name_ + ": malformed .npy header: " + problem);
  }

  void mark_seen(bool& seen, const std::string& key) const {
    if (seen) fail("'" + key + "' appears twice");
    seen = true;
  }

  void skip_space() {
    while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\n' ||
                                        text_[position_] == '\t' || text_[position_] == '\r'))
      ++position_;
  }

  bool try_consume(char expected) {
    skip_space();
    if (position_ < text_.size() && text_[position_] == expected) {
      ++position_;
      return true;
    }
    return false;
  }

  void expect(char expected) {
    if (!try_consume(expected)) fail(std::string("expected '") + expected + "'");
  }

  bool try_consume_word(std::string_view word) {
    skip_space();
    if (text_.substr(position_, word.size()) != word) return false;
    position_ += word.size();
    return true;
  }

  std::string parse_string() {
    skip_space();
    if (position_ >= text_.size() || (text_[position_] != '\'' && text_[position_] != '"'))
      fail("expected a quoted string");
    const char quote = text_[position_++];
    const auto end = text_.find(quote, position_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string value(text_.substr(position_, end - position_));
    position_ = end + 1;
    return value;
  }

  bool parse_bool() {
    if (try_consume_word("True")) return true;
    if (try_consume_word("False")) return false;
    fail("'fortran_order' must be True or False");
  }

  std::vector<std::uint64_t> parse_shape() {
    std::vector<std::uint64_t> shape;
    expect('(');
    while (!try_consume(')')) {
      skip_space();
      std::uint64_t dimension = 0;
      const auto* begin = text_.data() + position_;
      const auto [end, error] = std::from_chars(begin, text_.data() + text_.size(), dimension);
      if (error == std::errc::result_out_of_range) fail("a dimension of 'shape' is too large");
      if (error != std::errc()) fail("'shape' must be a tuple of non-negative integers");
      position_ += static_cast<std::size_t>(end - begin);
      shape.push_back(dimension);
      if (!try_consume(',')) {
        expect(')');
        break;
      }
    }
    return shape;
  }

  std::string_view text_;
  std::string name_;
  std::size_t position_ = 0;
};

std::size_t item_size(const Header& header, const std::string& name) {
  if (header.descr == "<f4") return 4;
  if (header.descr == "<f8") return 8;
  throw Error(name + ": dtype '" + header.descr +
              "' is not supported (expected little-endian float32 '<f4' or float64 '<f8')");
}

// Product of the dimensions times the item size, or nothing when it would not fit in memory anyway.
std::optional<std::uint64_t> data_bytes(std::uint64_t rows, std::uint64_t cols, std::size_t item_size) {
  constexpr auto limit = static_cast<std::uint64_t>(std::numeric_limits<std::ptrdiff_t>::max());
  if (rows > limit / cols) return std::nullopt;
  const auto count = rows * cols;
  if (count > limit / item_size) return std::nullopt;
  return count * item_size;
}

std::string format_number(double value) {
  std::array<char, 32> buffer{};
  const auto [end, error] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return std::string(buffer.data(), error == std::errc() ? end : buffer.data());
}

Matrix convert(const std::vector<unsigned char>& data, Eigen::Index rows, Eigen::Index cols,
               std::size_t item_size, const std::string& name) {
  Matrix matrix(rows, cols);
  float* values = matrix.data();
  const auto count = static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
  for (std::size_t i = 0; i < count; ++i) {
    const unsigned char* bytes = data.data() + i * item_size;
    if (item_size == 4) {
      values[i] = std::bit_cast<float>(load_little_endian<std::uint32_t>(bytes));
      continue;
    }
    const auto wide = std::bit_cast<double>(load_little_endian<std::uint64_t>(bytes));
    values[i] = static_cast<float>(wide);
    // NaN and Inf pass through for require_finite to report; a finite value must stay finite.
    if (std::isinf(values[i]) && std::isfinite(wide)) {
      const auto row = i / static_cast<std::size_t>(cols), col = i % static_cast<std::size_t>(cols);
      throw Error(name + ": row " + std::to_string(row + 1) + ", column " + std::to_string(col + 1) +
                  " holds " + format_number(wide) + ", beyond the float32 range");
    }
  }
  return matrix;
}

}  // namespace

Matrix read_npy(const fs::path& path) {
  const auto name = display_name(path);
  auto stream = open_regular_file(path, name);
  const auto file_size = fs::file_size(path);

  // Magic, major and minor version, then a 2-byte (version 1) or 4-byte (versions 2 and 3) header length.
  std::array<unsigned char, 12> preamble{};
  stream.read(reinterpret_cast<char*>(preamble.data()),
              static_cast<std::streamsize>(std::min<std::uintmax_t>(preamble.size(), file_size)));
  if (file_size < kMagic.size() ||
      std::string_view(reinterpret_cast<const char*>(preamble.data()), kMagic.size()) != kMagic)
    throw Error(name + ": not a .npy file (no \\x93NUMPY magic)");
  if (file_size < kMagic.size() + 2) throw Error(name + ": truncated .npy header");
  const unsigned major = preamble[6], minor = preamble[7];
  if (major < 1 || major > 3 || minor != 0)
    throw Error(name + ": unsupported .npy version " + std::to_string(major) + "." + std::to_string(minor));
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  const std::uintmax_t header_begin = kMagic.size() + 2 + length_bytes;
  if (file_size < header_begin) throw Error(name + ": truncated .npy header");
  const std::uint64_t header_size = major == 1 ? load_little_endian<std::uint16_t>(preamble.data() + 8)
                                               : load_little_endian<std::uint32_t>(preamble.data() + 8);
  if (header_size > kMaxHeaderBytes)
    throw Error(name + ": .npy header of " + std::to_string(header_size) + " bytes is too long");
  const auto data_begin = header_begin + header_size;
  if (file_size < data_begin) throw Error(name + ": truncated .npy header");

  std::string header_text(header_size, '\0');
  stream.seekg(static_cast<std::streamoff>(header_begin));
  stream.read(header_text.data(), static_cast<std::streamsize>(header_size));
  if (!stream) throw Error(name + ": read failed");
  const auto header = HeaderParser(header_text, name).parse();

  const auto size_of_item = item_size(header, name);
  if (header.fortran_order)
    throw Error(name + ": Fortran-order arrays are not supported (save it in C order)");
  if (header.shape.size() != 2)
    throw Error(name + ": expected a 2-D array, found shape " + format_shape(header.shape));
  const auto rows = header.shape[0], cols = header.shape[1];
  if (rows == 0 || cols == 0)
    throw Error(name + ": array of shape " + format_shape(header.shape) + " is empty");
  const auto expected_data = data_bytes(rows, cols, size_of_item);
  if (!expected_data) throw Error(name + ": shape " + format_shape(header.shape) + " is too large");
  const auto actual_data = file_size - data_begin;
  if (actual_data < *expected_data)
    throw Error(name + ": truncated data (shape " + format_shape(header.shape) + " needs " +
                std::to_string(*expected_data) + " bytes, the file holds " + std::to_string(actual_data) +
                ")");
  if (actual_data > *expected_data)
    throw Error(name + ": " + std::to_string(actual_data - *expected_data) +
                " unexpected bytes after the data");

  std::vector<unsigned char> data(*expected_data);
  stream.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!stream) throw Error(name + ": read failed");
  return convert(data, static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols), size_of_item, name);
}

void require_finite(const Matrix& matrix, const fs::path& path) {
  for (Eigen::Index row = 0; row < matrix.rows(); ++row) {
    for (Eigen::Index col = 0; col < matrix.cols(); ++col) {
      const float value = matrix(row, col);
      if (std::isfinite(value)) continue;
      const char* what = std::isnan(value) ? "NaN" : value > 0 ? "Inf" : "-Inf";
      throw Error(display_name(path) + ": row " + std::to_string(row + 1) + ", column " +
                  std::to_string(col + 1) + " is " + what);
    }
  }
}

}  // namespace attnscope::detail
