#pragma once
// Text tokenizers. Every token keeps where it came from in the source text, in bytes and in code points.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace attnscope {

enum class TokenizerKind {
  whitespace,  // runs of non-white-space, like str.split()
  words,       // words (letters, marks, digits, connector punctuation) and each other symbol on its own
  chars,       // extended grapheme clusters (an emoji with modifiers or a letter with accents is one token)
};

struct Token {
  std::string text;                          // UTF-8
  std::size_t byte_begin = 0, byte_end = 0;  // [begin, end) in the source's bytes
  std::size_t char_begin = 0, char_end = 0;  // [begin, end) in the source's code points
  friend bool operator==(const Token&, const Token&) = default;
};

std::string_view to_string(TokenizerKind kind);
TokenizerKind parse_tokenizer(std::string_view name);  // whitespace | words | chars; throws Error

// Throws Error when `text` is not valid UTF-8 (naming the byte offset).
std::vector<Token> tokenize(std::string_view text, TokenizerKind kind);

}  // namespace attnscope
