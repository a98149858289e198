#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "attnscope/error.hpp"
#include "readers.hpp"

namespace attnscope::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
constexpr std::size_t kMaxQuotedField = 40;

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

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

// `line` is trimmed and not empty. A semicolon wins over a comma because files that separate with semicolons
// usually do so because their locale writes decimal commas; those then fail as "not a number" rather than
// being split into the wrong number of columns silently.
std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  const char delimiter = line.find(';') != std::string_view::npos   ? ';'
                         : line.find(',') != std::string_view::npos ? ','
                                                                    : '\0';
  if (delimiter != '\0') {
    for (std::size_t begin = 0;;) {
      const auto end = line.find(delimiter, begin);
      fields.push_back(trim(line.substr(begin, end == std::string_view::npos ? end : end - begin)));
      if (end == std::string_view::npos) return fields;
      begin = end + 1;
    }
  }
  std::size_t i = 0;
  while (i < line.size()) {
    const auto begin = i;
    while (i < line.size() && !is_blank(line[i])) ++i;
    fields.push_back(line.substr(begin, i - begin));
    while (i < line.size() && is_blank(line[i])) ++i;
  }
  return fields;
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

std::string quote(std::string_view field) {
  if (field.size() <= kMaxQuotedField) return "'" + std::string(field) + "'";
  return "'" + std::string(field.substr(0, kMaxQuotedField)) + "...'";
}

}  // namespace

Matrix read_csv(const fs::path& path) {
  using Status = ParsedField::Status;
  const auto name = display_name(path);
  auto stream = open_regular_file(path, name);

  std::vector<float> values;
  std::size_t rows = 0, cols = 0;
  bool header_possible = true;
  std::string line;
  for (std::size_t line_number = 1; std::getline(stream, line); ++line_number) {
    std::string_view content = line;
    if (line_number == 1 && content.starts_with(kByteOrderMark)) content.remove_prefix(kByteOrderMark.size());
    content = trim(content);
    if (content.empty() || content.front() == '#') continue;

    const auto fields = split_fields(content);
    std::vector<ParsedField> parsed;
    parsed.reserve(fields.size());
    for (const auto field : fields) parsed.push_back(parse_number(field));
    const bool is_header = header_possible && std::ranges::any_of(parsed, [](const auto& f) {
                             return f.status == Status::not_a_number;
                           });
    header_possible = false;
    if (is_header) continue;

    const auto line_error = [&](const std::string& problem) {
      return Error(name + ": line " + std::to_string(line_number) + ": " + problem);
    };
    if (rows > 0 && fields.size() != cols)
      throw line_error("expected " + std::to_string(cols) + " values, found " +
                       std::to_string(fields.size()));
    for (std::size_t col = 0; col < fields.size(); ++col) {
      const auto field_error = [&](const std::string& problem) {
        return Error(name + ": line " + std::to_string(line_number) + ", column " + std::to_string(col + 1) +
                     ": " + problem);
      };
      switch (parsed[col].status) {
        case Status::number:
          values.push_back(parsed[col].value);
          break;
        case Status::not_a_number:
          throw field_error(fields[col].empty() ? "empty value" : quote(fields[col]) + " is not a number");
        case Status::out_of_range:
          throw field_error(quote(fields[col]) + " is beyond the float32 range");
      }
    }
    cols = fields.size();
    ++rows;
  }
  if (stream.bad()) throw Error(name + ": read failed");
  if (rows == 0) throw Error(name + ": holds no rows");

  Matrix matrix(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  std::copy(values.begin(), values.end(), matrix.data());
  return matrix;
}

}  // namespace attnscope::detail
