// The .npy format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
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
// The magic, the version, a header length of up to 4 bytes and the longest header accepted: the most a file
// has to be read before its layout is known.
constexpr std::size_t kMaxPrefixBytes = kMagic.size() + 2 + 4 + kMaxHeaderBytes;
// Data is read and converted this many bytes at a time (a multiple of every item size).
constexpr std::size_t kChunkBytes = 64 * 1024;
// numpy 2 allows 64 dimensions (numpy 1: 32); a longer 'shape' is a malformed header.
constexpr std::size_t kMaxDimensions = 64;

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

// As Python prints a tuple; a header can hold thousands of dimensions, so only the first few are listed.
std::string format_shape(const std::vector<std::uint64_t>& shape) {
  return "(" + list_dimensions(shape) + (shape.size() == 1 ? ",)" : ")");
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
        fail("unexpected key " + quote(key));
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
      if (shape.size() == kMaxDimensions)
        fail("'shape' has more than " + std::to_string(kMaxDimensions) + " dimensions");
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
  throw Error(name + ": dtype " + quote(header.descr) +
              " is not supported (expected little-endian float32 '<f4' or float64 '<f8')");
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

struct Layout {
  std::uint64_t rows = 0, cols = 0;
  std::size_t item_size = 0;
  std::uint64_t data_offset = 0;  // the data runs from here to the end of the file
};

// Checks everything but the values: `prefix` is the start of a file of `file_size` bytes and holds at least
// its first kMaxPrefixBytes (all of it when shorter).
Layout parse_layout(std::string_view prefix, std::uint64_t file_size, const std::string& name) {
  // A shorter prefix means that the file shrank while it was being read.
  if (prefix.size() < std::min<std::uint64_t>(file_size, kMaxPrefixBytes))
    throw Error(name + ": read failed");
  const auto* bytes = reinterpret_cast<const unsigned char*>(prefix.data());
  // Magic, major and minor version, then a 2-byte (version 1) or 4-byte (versions 2 and 3) header length.
  if (file_size < kMagic.size() || !prefix.starts_with(kMagic))
    throw Error(name + ": not a .npy file (no \\x93NUMPY magic)");
  if (file_size < kMagic.size() + 2) throw Error(name + ": truncated .npy header");
  const unsigned major = bytes[6], minor = bytes[7];
  if (major < 1 || major > 3 || minor != 0)
    throw Error(name + ": unsupported .npy version " + std::to_string(major) + "." + std::to_string(minor));
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  const std::uint64_t header_begin = kMagic.size() + 2 + length_bytes;
  if (file_size < header_begin) throw Error(name + ": truncated .npy header");
  const std::uint64_t header_size = major == 1 ? load_little_endian<std::uint16_t>(bytes + 8)
                                               : load_little_endian<std::uint32_t>(bytes + 8);
  if (header_size > kMaxHeaderBytes)
    throw Error(name + ": .npy header of " + std::to_string(header_size) + " bytes is too long");
  const auto data_begin = header_begin + header_size;
  if (file_size < data_begin) throw Error(name + ": truncated .npy header");
  const auto header = HeaderParser(prefix.substr(header_begin, header_size), name).parse();

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
  // The data fits in the file, so the matrix fits in memory as well as the file does.
  return {rows, cols, size_of_item, data_begin};
}

// Converts `count` items starting with item number `first` (for error messages) from `bytes` into `values`.
void convert(const unsigned char* bytes, std::size_t first, std::size_t count, const Layout& layout,
             float* values, const std::string& name) {
  for (std::size_t i = 0; i < count; ++i, bytes += layout.item_size) {
    if (layout.item_size == 4) {
      values[i] = std::bit_cast<float>(load_little_endian<std::uint32_t>(bytes));
      continue;
    }
    const auto wide = std::bit_cast<double>(load_little_endian<std::uint64_t>(bytes));
    values[i] = static_cast<float>(wide);
    // NaN and Inf pass through for require_finite to report; a finite value must stay finite.
    if (std::isinf(values[i]) && std::isfinite(wide)) {
      const auto index = first + i;
      const auto row = index / layout.cols, col = index % layout.cols;
      throw Error(name + ": row " + std::to_string(row + 1) + ", column " + std::to_string(col + 1) +
                  " holds " + format_number(wide) + ", beyond the float32 range");
    }
  }
}

}  // namespace

Matrix parse_npy(std::string_view bytes, std::string_view name_view) {
  const std::string name(name_view);
  const auto layout = parse_layout(bytes, bytes.size(), name);
  Matrix matrix(static_cast<Eigen::Index>(layout.rows), static_cast<Eigen::Index>(layout.cols));
  convert(reinterpret_cast<const unsigned char*>(bytes.data()) + layout.data_offset, 0,
          static_cast<std::size_t>(matrix.size()), layout, matrix.data(), name);
  return matrix;
}

Matrix read_npy(const fs::path& path) {
  const auto name = display_name(path);
  auto stream = open_regular_file(path, name);
  std::error_code error;
  const std::uint64_t file_size = fs::file_size(path, error);
  if (error) throw Error(name + ": read failed");

  std::string prefix(static_cast<std::size_t>(std::min<std::uint64_t>(file_size, kMaxPrefixBytes)), '\0');
  stream.read(prefix.data(), static_cast<std::streamsize>(prefix.size()));
  prefix.resize(static_cast<std::size_t>(stream.gcount()));
  const auto layout = parse_layout(prefix, file_size, name);

  // Straight into the matrix, a chunk at a time: no copy of the whole file.
  Matrix matrix(static_cast<Eigen::Index>(layout.rows), static_cast<Eigen::Index>(layout.cols));
  const auto count = static_cast<std::size_t>(matrix.size());
  const auto chunk_items = kChunkBytes / layout.item_size;
  std::vector<unsigned char> chunk(std::min(count, chunk_items) * layout.item_size);
  stream.clear();
  stream.seekg(static_cast<std::streamoff>(layout.data_offset));
  for (std::size_t first = 0; first < count; first += chunk_items) {
    const auto items = std::min(chunk_items, count - first);
    stream.read(reinterpret_cast<char*>(chunk.data()),
                static_cast<std::streamsize>(items * layout.item_size));
    if (!stream) throw Error(name + ": read failed");
    convert(chunk.data(), first, items, layout, matrix.data() + first, name);
  }
  return matrix;
}

void require_finite(const Matrix& matrix, const fs::path& path) {
  require_finite_named(matrix, display_name(path));
}

void require_finite_named(const Matrix& matrix, std::string_view name) {
  for (Eigen::Index row = 0; row < matrix.rows(); ++row) {
    for (Eigen::Index col = 0; col < matrix.cols(); ++col) {
      const float value = matrix(row, col);
      if (std::isfinite(value)) continue;
      const char* what = std::isnan(value) ? "NaN" : value > 0 ? "Inf" : "-Inf";
      throw Error(std::string(name) + ": row " + std::to_string(row + 1) + ", column " +
                  std::to_string(col + 1) + " is " + what);
    }
  }
}

}  // namespace attnscope::detail
