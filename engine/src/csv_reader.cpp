#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "attnscope/error.hpp"
#include "readers.hpp"

namespace attnscope::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

// Calls on_field(field) for each field of `line`, which is trimmed and not empty, and returns how many there
// are. A semicolon wins over a comma because files that separate with semicolons usually do so because their
// locale writes decimal commas; those then fail as "not a number" rather than being split into the wrong
// number of columns silently. Nothing is stored, so a line of a million fields costs no more than its bytes.
template <typename OnField>
std::size_t for_each_field(std::string_view line, OnField on_field) {
  std::size_t count = 0;
  const char delimiter = line.find(';') != std::string_view::npos   ? ';'
                         : line.find(',') != std::string_view::npos ? ','
                                                                    : '\0';
  if (delimiter != '\0') {
    for (std::size_t begin = 0;;) {
      const auto end = line.find(delimiter, begin);
      on_field(trim(line.substr(begin, end == std::string_view::npos ? end : end - begin)));
      ++count;
      if (end == std::string_view::npos) return count;
      begin = end + 1;
    }
  }
  std::size_t i = 0;
  while (i < line.size()) {
    const auto begin = i;
    while (i < line.size() && !is_blank(line[i])) ++i;
    on_field(line.substr(begin, i - begin));
    ++count;
    while (i < line.size() && is_blank(line[i])) ++i;
  }
  return count;
}

struct ParsedField {
  enum class Status { number, not_a_number, out_of_range } status;
  float value = 0;
};

// Parsed as double and then rounded to float, as numpy.loadtxt(dtype=float32) and torch.tensor(float(x))
// do, so that values match the Python reference bit for bit.
ParsedField parse_number(std::string_view field) {
  using Status = ParsedField::Status;
  // Python's float() accepts a leading '+'; std::from_chars does not.
  if (field.size() > 1 && field[0] == '+' && field[1] != '-') field.remove_prefix(1);
  double wide = 0;
  const auto* end_of_field = field.data() + field.size();
  const auto [end, error] = std::from_chars(field.data(), end_of_field, wide);
  if (error == std::errc::invalid_argument || end != end_of_field) return {Status::not_a_number};
  if (error == std::errc::result_out_of_range) return {Status::out_of_range};
  const auto narrow = static_cast<float>(wide);
  if (std::isinf(narrow) && std::isfinite(wide)) return {Status::out_of_range};
  return {Status::number, narrow};
}

// Reads a CSV a line at a time, into a matrix that grows by doubling its rows: at most about twice the
// values the file holds, however the file is laid out.
class CsvParser {
 public:
  explicit CsvParser(std::string name) : name_(std::move(name)) {}

  // `line` without its '\n'; `line_number` counts from 1.
  void add_line(std::string_view line, std::size_t line_number) {
    using Status = ParsedField::Status;
    if (line_number == 1 && line.starts_with(kByteOrderMark)) line.remove_prefix(kByteOrderMark.size());
    line = trim(line);
    if (line.empty() || line.front() == '#') return;

    if (header_possible_) {
      header_possible_ = false;
      bool is_header = false;
      for_each_field(line, [&](std::string_view field) {
        is_header = is_header || parse_number(field).status == Status::not_a_number;
      });
      if (is_header) return;
    }
    const auto count = for_each_field(line, [](std::string_view) {});
    if (rows_ > 0 && count != cols_)
      throw Error(name_ + ": line " + std::to_string(line_number) + ": expected " + std::to_string(cols_) +
                  " values, found " + std::to_string(count));
    if (rows_ == 0) cols_ = count;
    if (rows_ == static_cast<std::size_t>(values_.rows()))
      values_.conservativeResize(std::max<Eigen::Index>(1, 2 * values_.rows()),
                                 static_cast<Eigen::Index>(cols_));

    float* row = values_.data() + rows_ * cols_;
    std::size_t col = 0;
    for_each_field(line, [&](std::string_view field) {
      const auto field_error = [&](const std::string& problem) {
        return Error(name_ + ": line " + std::to_string(line_number) + ", column " + std::to_string(col + 1) +
                     ": " + problem);
      };
      const auto parsed = parse_number(field);
      switch (parsed.status) {
        case Status::number:
          row[col++] = parsed.value;
          return;
        case Status::not_a_number:
          throw field_error(field.empty() ? "empty value" : quote(field) + " is not a number");
        case Status::out_of_range:
          throw field_error(quote(field) + " is beyond the float32 range");
      }
    });
    ++rows_;
  }

  Matrix finish() {
    if (rows_ == 0) throw Error(name_ + ": holds no rows");
    values_.conservativeResize(static_cast<Eigen::Index>(rows_), static_cast<Eigen::Index>(cols_));
    return std::move(values_);
  }

 private:
  std::string name_;
  bool header_possible_ = true;
  std::size_t rows_ = 0, cols_ = 0;
  Matrix values_;  // rows_ rows in use, the rest spare
};

// Characters an error message shows as they are: printable, and no white space other than ' '.
bool is_shown(utf8proc_int32_t code_point) {
  switch (utf8proc_category(code_point)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      return false;
    case UTF8PROC_CATEGORY_ZS:
      return code_point == ' ';
    default:
      return true;
  }
}

void append_escape(std::string& out, char kind, std::uint32_t value, int digits) {
  constexpr std::string_view hex = "0123456789abcdef";
  out += '\\';
  out += kind;
  for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4) out += hex[(value >> shift) & 0xF];
}

// `text` with every character that is not shown escaped, and with `\` and `'` escaped too when `quoted`;
// "..." after the first `max_bytes` bytes.
std::string escape(std::string_view text, std::size_t max_bytes, bool quoted) {
  std::string out;
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  std::size_t offset = 0;
  while (offset < text.size() && offset < max_bytes) {
    utf8proc_int32_t code_point = 0;
    const auto length =
        utf8proc_iterate(bytes + offset, static_cast<utf8proc_ssize_t>(text.size() - offset), &code_point);
    if (length <= 0) {  // not UTF-8: the byte itself
      append_escape(out, 'x', bytes[offset], 2);
      ++offset;
      continue;
    }
    if (quoted && (code_point == '\\' || code_point == '\'')) {
      out += '\\';
      out += static_cast<char>(code_point);
    } else if (is_shown(code_point)) {
      out.append(text.substr(offset, static_cast<std::size_t>(length)));
    } else if (code_point == '\t' || code_point == '\n' || code_point == '\r') {
      out += code_point == '\t' ? "\\t" : code_point == '\n' ? "\\n" : "\\r";
    } else if (code_point < 0x80) {
      append_escape(out, 'x', static_cast<std::uint32_t>(code_point), 2);
    } else if (code_point < 0x10000) {
      append_escape(out, 'u', static_cast<std::uint32_t>(code_point), 4);
    } else {
      append_escape(out, 'U', static_cast<std::uint32_t>(code_point), 8);
    }
    offset += static_cast<std::size_t>(length);
  }
  if (offset < text.size()) out += "...";
  return out;
}

}  // namespace

std::string list_dimensions(const std::vector<std::uint64_t>& shape) {
  constexpr std::size_t kShown = 8;
  std::string text;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    if (i == kShown) return text + "... " + std::to_string(shape.size() - i) + " more";
    text += std::to_string(shape[i]);
  }
  return text;
}

std::string display_name(const fs::path& path) {
  const auto name = path.filename().string();
  return printable(name.empty() ? path.string() : name);
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

Matrix parse_csv(std::string_view bytes, std::string_view name) {
  CsvParser parser{std::string(name)};
  std::size_t line_number = 1;
  while (!bytes.empty()) {
    const auto end = bytes.find('\n');
    parser.add_line(bytes.substr(0, end), line_number++);
    if (end == std::string_view::npos) break;
    bytes.remove_prefix(end + 1);
  }
  return parser.finish();
}

Matrix read_csv(const fs::path& path) {
  const auto name = display_name(path);
  auto stream = open_regular_file(path, name);
  CsvParser parser(name);
  std::string line;
  for (std::size_t line_number = 1; std::getline(stream, line); ++line_number)
    parser.add_line(line, line_number);
  if (stream.bad()) throw Error(name + ": read failed");
  return parser.finish();
}

}  // namespace attnscope::detail

namespace attnscope {

std::string printable(std::string_view text) {
  return detail::escape(text, std::string_view::npos, false);
}

std::string quote(std::string_view text, std::size_t max_bytes) {
  std::string quoted = "'";
  quoted += detail::escape(text, max_bytes, true);
  quoted += '\'';
  return quoted;
}

}  // namespace attnscope
