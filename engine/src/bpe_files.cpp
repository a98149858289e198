// BpeTokenizer::load and ::parse: vocab.json and merges.txt, checked completely.

#include <utf8proc.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>
#include <utility>

#include "attnscope/bpe_tokenizer.hpp"
#include "attnscope/error.hpp"
#include "bpe_impl.hpp"
#include "readers.hpp"
#include "utf8.hpp"

namespace attnscope {
namespace {

namespace fs = std::filesystem;
using detail::quote;

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
// At most this much of a piece or line is shown in a message (a line of merges.txt can be long).
constexpr std::size_t kQuoteBytes = 32;

std::string mebibytes(std::size_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

void check_size(std::size_t size, const std::string& name) {
  if (size > BpeTokenizer::kMaxFileBytes)
    throw Error(name + ": " + std::to_string(size) + " bytes, more than the " +
                mebibytes(BpeTokenizer::kMaxFileBytes) + " a tokenizer file may hold");
}

std::string utf8_of(char32_t code_point) {
  utf8proc_uint8_t buffer[4];
  const auto length = utf8proc_encode_char(static_cast<utf8proc_int32_t>(code_point), buffer);
  return std::string(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(length));
}

// nlohmann's message without the input it quotes ("last read: '...'"), which `quote` shows instead when
// it matters: "parse error at line 1, column 5: syntax error while parsing object key - invalid literal".
std::string json_problem(const std::string& what) {
  std::string problem = what;
  if (const auto start = problem.find("parse error"); start != std::string::npos) problem.erase(0, start);
  if (const auto last_read = problem.find("; last read: "); last_read != std::string::npos) {
    const auto expected = problem.find("; expected ", last_read);
    problem.erase(last_read, expected == std::string::npos ? std::string::npos : expected - last_read);
  }
  constexpr std::size_t kMaxBytes = 200;
  if (problem.size() > kMaxBytes) problem.resize(kMaxBytes);
  return detail::printable(problem);
}

// vocab.json, read as a stream of events: the whole file is never a DOM, duplicate keys are seen (a DOM keeps
// the last), and the first problem stops the parse.
class VocabReader {
 public:
  using json = nlohmann::json;

  std::string problem;                                      // the first one, without the file's name
  detail::StringMap<int> ids;                               // piece → id
  std::vector<std::pair<const std::string*, int>> entries;  // piece (a key of ids), id, in the file's order

  bool null() { return value("null"); }
  bool boolean(bool) { return value("a boolean"); }
  bool number_integer(json::number_integer_t id) {
    if (id < 0 || id > std::numeric_limits<int>::max()) return out_of_range(std::to_string(id));
    return add_entry(static_cast<int>(id));
  }
  bool number_unsigned(json::number_unsigned_t id) {
    if (id > static_cast<json::number_unsigned_t>(std::numeric_limits<int>::max()))
      return out_of_range(std::to_string(id));
    return add_entry(static_cast<int>(id));
  }
  bool number_float(json::number_float_t, const json::string_t& text) {
    if (depth_ == 0) return value("a number");
    auto shown = quote(text, 24);  // as written, e.g. 1.5 or an integer too large for 64 bits
    shown = shown.substr(1, shown.size() - 2);
    if (text.find_first_of(".eE") == std::string::npos) return out_of_range(shown);
    return fail("the id of " + quote(key_) + " is " + shown + ", not an integer");
  }
  bool string(json::string_t&) { return value("a string"); }
  bool binary(json::binary_t&) { return value("binary data"); }
  bool start_object(std::size_t) {
    if (depth_++ == 0) return true;
    return value("an object");
  }
  bool end_object() {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) { return value("an array"); }
  bool end_array() { return true; }
  bool key(json::string_t& key) {
    key_ = std::move(key);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const json::exception& error) {
    return fail("not valid JSON: " + json_problem(error.what()));
  }

 private:
  bool fail(std::string message) {
    if (problem.empty()) problem = std::move(message);
    return false;
  }

  bool value(const char* what) {
    if (depth_ == 0) return fail(std::string("holds ") + what + ", not an object of pieces and their ids");
    return fail("the id of " + quote(key_) + " is " + what + ", not an integer");
  }

  bool out_of_range(const std::string& id) {
    if (depth_ == 0) return value("a number");
    return fail("the id of " + quote(key_) + " is " + id + ", out of range");
  }

  bool add_entry(int id) {
    if (depth_ == 0) return value("a number");
    if (key_.empty()) return fail("holds an empty piece");
    const auto [entry, added] = ids.emplace(std::move(key_), id);
    if (!added) return fail("has the piece " + quote(entry->first) + " twice");
    entries.emplace_back(&entry->first, id);  // unordered_map keys stay where they are
    return true;
  }

  int depth_ = 0;
  std::string key_;
};

void read_vocab(std::string_view json_text, const std::string& name, BpeTokenizer::Impl& impl) {
  check_size(json_text.size(), name);
  VocabReader reader;
  // Strict: nothing but white space after the object.
  const bool parsed = nlohmann::json::sax_parse(json_text.begin(), json_text.end(), &reader);
  if (!parsed || !reader.problem.empty())
    throw Error(name + ": " + (reader.problem.empty() ? std::string("not valid JSON") : reader.problem));

  const auto count = reader.entries.size();
  if (count == 0) throw Error(name + ": holds no pieces");
  // count ids, each below count and none twice: each of 0 to count − 1 once.
  std::vector<const std::string*> piece_of(count, nullptr);
  for (const auto& [piece, id] : reader.entries) {
    const auto slot = static_cast<std::size_t>(id);
    if (slot >= count)
      throw Error(name + ": the id of " + quote(*piece) + " is " + std::to_string(id) +
                  ", out of range: the " + std::to_string(count) + " pieces must have the ids 0 to " +
                  std::to_string(count - 1));
    if (piece_of[slot])
      throw Error(name + ": the id " + std::to_string(id) + " is given to both " + quote(*piece_of[slot]) +
                  " and " + quote(*piece));
    piece_of[slot] = piece;
  }

  impl.pieces.resize(count);
  impl.bytes.resize(count);
  for (std::size_t id = 0; id < count; ++id) {
    impl.pieces[id] = *piece_of[id];
    auto bytes = detail::piece_bytes(impl.pieces[id]);
    impl.bytes[id] = bytes ? std::move(*bytes) : impl.pieces[id];
  }
  impl.ids = std::move(reader.ids);
  for (unsigned byte = 0; byte < 256; ++byte) {
    const auto piece = utf8_of(detail::kByteToCodePoint[byte]);
    const auto found = impl.ids.find(piece);
    if (found == impl.ids.end()) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", byte);
      throw Error(name + ": has no piece for the byte " + hex + " (" + quote(piece) +
                  "): a byte-level vocabulary has one for each of the 256 bytes");
    }
    impl.byte_ids[byte] = found->second;
  }
}

void read_merges(std::string_view text, const std::string& name, const std::string& vocab_name,
                 BpeTokenizer::Impl& impl) {
  check_size(text.size(), name);
  if (text.starts_with(kUtf8Bom)) text.remove_prefix(kUtf8Bom.size());
  std::size_t line_number = 0, first_merge_line = 0;  // merges are on consecutive lines: none may be blank
  while (!text.empty()) {
    ++line_number;
    const auto end = text.find('\n');
    auto line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line_number == 1 && line.starts_with("#version")) continue;
    if (first_merge_line == 0) first_merge_line = line_number;
    const auto fail = [&](const std::string& problem) {
      throw Error(name + ": line " + std::to_string(line_number) + ": " + problem);
    };

    if (const auto bad = detail::first_invalid_utf8(line); bad != std::string_view::npos)
      fail("not valid UTF-8 at byte " + std::to_string(bad) + " of the line");
    const auto space = line.find(' ');
    if (line.empty() || space == 0 || space == std::string_view::npos || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos)
      fail("expected two pieces and one space between them, not " + quote(line, kQuoteBytes));
    const auto left = line.substr(0, space), right = line.substr(space + 1);

    const auto id_of = [&](std::string_view piece) {
      const auto found = impl.ids.find(piece);
      return found == impl.ids.end() ? -1 : found->second;
    };
    const int left_id = id_of(left), right_id = id_of(right);
    if (left_id < 0) fail(quote(left, kQuoteBytes) + " is not in " + vocab_name);
    if (right_id < 0) fail(quote(right, kQuoteBytes) + " is not in " + vocab_name);
    std::string joined(left);
    joined += right;
    const int merged = id_of(joined);
    if (merged < 0)
      fail(quote(joined, kQuoteBytes) + ", the merge of " + quote(left, kQuoteBytes) + " and " +
           quote(right, kQuoteBytes) + ", is not in " + vocab_name);

    if (impl.merges.size() >= static_cast<std::size_t>(std::numeric_limits<int>::max()))
      fail("too many merges");
    const BpeTokenizer::Impl::Merge merge{static_cast<int>(impl.merges.size()), merged};
    if (const auto [previous, added] =
            impl.merges.emplace(BpeTokenizer::Impl::pair_key(left_id, right_id), merge);
        !added) {
      const auto previous_line = first_merge_line + static_cast<std::size_t>(previous->second.rank);
      fail("repeats the merge of line " + std::to_string(previous_line) + ", " + quote(line, kQuoteBytes));
    }
  }
}

std::string read_whole_file(const fs::path& path, const std::string& name) {
  auto stream = detail::open_regular_file(path, name);
  std::error_code error;
  const auto size = fs::file_size(path, error);
  if (error) throw Error(name + ": read failed");
  check_size(
      static_cast<std::size_t>(std::min<std::uintmax_t>(size, std::numeric_limits<std::size_t>::max())),
      name);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  stream.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<std::size_t>(stream.gcount()) != bytes.size() || stream.bad())
    throw Error(name + ": read failed");
  return bytes;
}

}  // namespace

namespace detail {

std::optional<std::string> piece_bytes(std::string_view piece) {
  std::string bytes;
  bytes.reserve(piece.size());
  const auto* data = reinterpret_cast<const utf8proc_uint8_t*>(piece.data());
  std::size_t offset = 0;
  while (offset < piece.size()) {
    utf8proc_int32_t code_point = 0;
    const auto length =
        utf8proc_iterate(data + offset, static_cast<utf8proc_ssize_t>(piece.size() - offset), &code_point);
    if (length <= 0) return std::nullopt;
    const auto byte = byte_of(static_cast<char32_t>(code_point));
    if (!byte) return std::nullopt;
    bytes += static_cast<char>(*byte);
    offset += static_cast<std::size_t>(length);
  }
  return bytes;
}

}  // namespace detail

BpeTokenizer::BpeTokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

BpeTokenizer BpeTokenizer::parse(std::string_view vocab_json, std::string_view merges_txt,
                                 std::string_view vocab_name, std::string_view merges_name) {
  auto impl = std::make_shared<Impl>();
  const auto vocab = detail::printable(vocab_name), merges = detail::printable(merges_name);
  read_vocab(vocab_json, vocab, *impl);
  read_merges(merges_txt, merges, vocab, *impl);
  return BpeTokenizer(std::move(impl));
}

BpeTokenizer BpeTokenizer::load(const fs::path& vocab_json, const fs::path& merges_txt) {
  const auto vocab_name = detail::display_name(vocab_json), merges_name = detail::display_name(merges_txt);
  const auto vocab = read_whole_file(vocab_json, vocab_name);
  const auto merges = read_whole_file(merges_txt, merges_name);
  return parse(vocab, merges, vocab_name, merges_name);
}

}  // namespace attnscope
