// attnscope::tokenize on arbitrary bytes with each tokenizer. It throws attnscope::Error exactly when the
// bytes are not valid UTF-8 (naming the first bad byte, as an independent decoder finds it); otherwise every
// token is a non-empty run of whole characters, in order, whose text is the source's bytes at its span and
// whose code-point span counts the code points before and in it. Besides:
// - whitespace: no token holds white space and only white space lies between tokens;
// - words: the tokens split each whitespace token into consecutive pieces, leaving nothing out;
// - chars: the tokens follow each other with no gap and cover the whole text.
// Memory stays linear in the input (a Token is about 64 bytes, one per byte at most).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attnscope/error.hpp"
#include "attnscope/tokenizer.hpp"
#include "fuzz_support.hpp"

namespace {

using attnscope::Token;
using attnscope::TokenizerKind;
namespace fuzz = attnscope::fuzz;

std::size_t count_code_points(std::string_view valid_utf8) {
  std::size_t count = 0;
  for (const char c : valid_utf8) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

// attnscope::tokenize within a heap budget.
std::vector<Token> measured_tokenize(std::string_view text, TokenizerKind kind) {
  const fuzz::HeapBudget budget(256 * text.size() + 4096);
  auto tokens = attnscope::tokenize(text, kind);
  budget.check("tokenize");
  return tokens;
}

void check_spans(std::string_view text, const std::vector<Token>& tokens) {
  std::size_t previous_end = 0, code_points = 0;  // code points in text[0, previous_end)
  for (const auto& token : tokens) {
    FUZZ_CHECK(token.byte_begin < token.byte_end && token.byte_end <= text.size(), token.text);
    FUZZ_CHECK(token.byte_begin >= previous_end, token.text);
    FUZZ_CHECK(token.text == text.substr(token.byte_begin, token.byte_end - token.byte_begin), token.text);
    FUZZ_CHECK(fuzz::is_valid_utf8(token.text), token.text);
    code_points += count_code_points(text.substr(previous_end, token.byte_begin - previous_end));
    FUZZ_CHECK(token.char_begin == code_points, token.text);
    code_points += count_code_points(token.text);
    FUZZ_CHECK(token.char_end == code_points, token.text);
    previous_end = token.byte_end;
  }
}

bool is_all_white_space(std::string_view text) {
  return attnscope::tokenize(text, TokenizerKind::whitespace).empty();
}

void check_whitespace(std::string_view text, const std::vector<Token>& tokens) {
  std::size_t previous_end = 0;
  for (const auto& token : tokens) {
    FUZZ_CHECK(is_all_white_space(text.substr(previous_end, token.byte_begin - previous_end)), token.text);
    const auto again = attnscope::tokenize(token.text, TokenizerKind::whitespace);
    FUZZ_CHECK(again.size() == 1 && again[0].text == token.text, token.text);
    previous_end = token.byte_end;
  }
  FUZZ_CHECK(is_all_white_space(text.substr(previous_end)), "text after the last token");
}

void check_words(const std::vector<Token>& words, const std::vector<Token>& runs) {
  std::size_t next = 0;
  for (const auto& run : runs) {
    std::size_t end = run.byte_begin;
    while (end < run.byte_end) {
      FUZZ_CHECK(next < words.size(), run.text);
      FUZZ_CHECK(words[next].byte_begin == end, words[next].text);
      end = words[next++].byte_end;
    }
    FUZZ_CHECK(end == run.byte_end, run.text);
  }
  FUZZ_CHECK(next == words.size(), "words outside every whitespace token");
}

void check_chars(std::string_view text, const std::vector<Token>& chars) {
  std::size_t end = 0;
  for (const auto& token : chars) {
    FUZZ_CHECK(token.byte_begin == end, token.text);
    end = token.byte_end;
  }
  FUZZ_CHECK(end == text.size(), "text after the last character");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto invalid = fuzz::first_invalid_byte(text);
  std::vector<Token> runs, words, chars;
  try {
    runs = measured_tokenize(text, TokenizerKind::whitespace);
    words = measured_tokenize(text, TokenizerKind::words);
    chars = measured_tokenize(text, TokenizerKind::chars);
  } catch (const attnscope::Error& error) {
    const std::string expected = "text is not valid UTF-8 at byte " + std::to_string(invalid);
    FUZZ_CHECK(invalid != std::string_view::npos, error.what());
    FUZZ_CHECK(error.what() == expected, error.what());
    fuzz::check_message(error.what(), "text is not valid UTF-8");
    return 0;
  }
  FUZZ_CHECK(invalid == std::string_view::npos, "invalid UTF-8 accepted");

  for (const auto* tokens : {&runs, &words, &chars}) check_spans(text, *tokens);
  check_whitespace(text, runs);
  check_words(words, runs);
  check_chars(text, chars);
  return 0;
}
