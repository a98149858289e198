#include "attnscope/tokenizer.hpp"

#include <utf8proc.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "attnscope/error.hpp"
#include "attnscope/quote.hpp"

namespace attnscope {
namespace {

struct CodePoint {
  utf8proc_int32_t value;
  std::size_t byte_begin, byte_end;
};

std::vector<CodePoint> decode(std::string_view text) {
  std::vector<CodePoint> code_points;
  code_points.reserve(text.size());
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  std::size_t offset = 0;
  while (offset < text.size()) {
    utf8proc_int32_t value = 0;
    const auto length =
        utf8proc_iterate(bytes + offset, static_cast<utf8proc_ssize_t>(text.size() - offset), &value);
    if (length <= 0) throw Error("text is not valid UTF-8 at byte " + std::to_string(offset));
    const auto next = offset + static_cast<std::size_t>(length);
    code_points.push_back({value, offset, next});
    offset = next;
  }
  return code_points;
}

// Unicode's White_Space property, which is what Python's str.split() breaks on.
bool is_white_space(utf8proc_int32_t code_point) {
  switch (utf8proc_category(code_point)) {
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      return true;
    default:
      return (code_point >= 0x09 && code_point <= 0x0D) || code_point == 0x85;
  }
}

bool starts_word(utf8proc_int32_t code_point) {
  switch (utf8proc_category(code_point)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

class TokenBuilder {
 public:
  TokenBuilder(std::string_view text, const std::vector<CodePoint>& code_points)
      : text_(text), code_points_(code_points) {}

  // Appends the token made of code points [first, last).
  void add(std::size_t first, std::size_t last) {
    const auto byte_begin = code_points_[first].byte_begin;
    const auto byte_end = code_points_[last - 1].byte_end;
    tokens_.push_back(
        {std::string(text_.substr(byte_begin, byte_end - byte_begin)), byte_begin, byte_end, first, last});
  }

  std::vector<Token> take() { return std::move(tokens_); }

 private:
  std::string_view text_;
  const std::vector<CodePoint>& code_points_;
  std::vector<Token> tokens_;
};

// Calls on_cluster(first, last) for each extended grapheme cluster of code points [begin, end).
template <typename OnCluster>
void for_each_grapheme(const std::vector<CodePoint>& code_points, std::size_t begin, std::size_t end,
                       OnCluster on_cluster) {
  if (begin == end) return;
  utf8proc_int32_t state = 0;  // carries emoji ZWJ sequences and regional-indicator pairs across calls
  std::size_t cluster_begin = begin;
  for (std::size_t i = begin + 1; i < end; ++i) {
    if (utf8proc_grapheme_break_stateful(code_points[i - 1].value, code_points[i].value, &state)) {
      on_cluster(cluster_begin, i);
      cluster_begin = i;
    }
  }
  on_cluster(cluster_begin, end);
}

// Calls on_run(first, last) for each maximal run of non-white-space code points.
template <typename OnRun>
void for_each_non_space_run(const std::vector<CodePoint>& code_points, OnRun on_run) {
  std::size_t i = 0;
  while (i < code_points.size()) {
    while (i < code_points.size() && is_white_space(code_points[i].value)) ++i;
    const auto run_begin = i;
    while (i < code_points.size() && !is_white_space(code_points[i].value)) ++i;
    if (run_begin < i) on_run(run_begin, i);
  }
}

// Splitting on white space first keeps a combining mark that follows a space (which grapheme rules would
// attach to the space) in the word after it, as str.split() does.
void split_words(const std::vector<CodePoint>& code_points, TokenBuilder& tokens) {
  for_each_non_space_run(code_points, [&](std::size_t run_begin, std::size_t run_end) {
    bool in_word = false;
    std::size_t word_begin = 0;
    for_each_grapheme(code_points, run_begin, run_end, [&](std::size_t first, std::size_t last) {
      if (starts_word(code_points[first].value)) {
        if (!in_word) word_begin = first;
        in_word = true;
        return;
      }
      if (in_word) tokens.add(word_begin, first);
      in_word = false;
      tokens.add(first, last);
    });
    if (in_word) tokens.add(word_begin, run_end);
  });
}

}  // namespace

std::string_view to_string(TokenizerKind kind) {
  switch (kind) {
    case TokenizerKind::whitespace:
      return "whitespace";
    case TokenizerKind::words:
      return "words";
    case TokenizerKind::chars:
      return "chars";
  }
  return "unknown";
}

TokenizerKind parse_tokenizer(std::string_view name) {
  for (const auto kind : {TokenizerKind::whitespace, TokenizerKind::words, TokenizerKind::chars}) {
    if (name == to_string(kind)) return kind;
  }
  throw Error("unknown tokenizer " + quote(name) + " (expected whitespace, words or chars)");
}

std::vector<Token> tokenize(std::string_view text, TokenizerKind kind) {
  const auto code_points = decode(text);
  TokenBuilder tokens(text, code_points);
  switch (kind) {
    case TokenizerKind::whitespace:
      for_each_non_space_run(code_points,
                             [&](std::size_t first, std::size_t last) { tokens.add(first, last); });
      break;
    case TokenizerKind::words:
      split_words(code_points, tokens);
      break;
    case TokenizerKind::chars:
      for_each_grapheme(code_points, 0, code_points.size(),
                        [&](std::size_t first, std::size_t last) { tokens.add(first, last); });
      break;
  }
  return tokens.take();
}

}  // namespace attnscope
