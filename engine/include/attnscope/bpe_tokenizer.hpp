#pragma once
// GPT-2's byte-level BPE tokenizer, read from a Hugging Face GPT-2 folder's vocab.json and merges.txt (or
// from OpenAI's encoder.json and vocab.bpe, which have the same layout).
//
// Encoding is GPT-2's exactly: the text is split by GPT-2's pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (PCRE2; \s is Unicode's White_Space, as in Python's `regex` module that GPT-2 used), each piece's UTF-8
// bytes are written in GPT-2's byte-to-Unicode alphabet ("Ġ" for a space, "Ċ" for a newline, ...) and merged
// pair by pair, lowest merge rank first, every occurrence of a pair left to right, as GPT-2's encoder.py
// does. \p{L} and \p{N} follow PCRE2's Unicode tables (Unicode 14 in Debian 12's PCRE2 10.42): a letter
// assigned later counts as unassigned.
//
// Copies are cheap and share the vocabulary; every const method may be called from several threads at once.

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attnscope/tokenizer.hpp"

namespace attnscope {

struct BpeToken {
  // The source text this token covers. A byte-level piece may hold only part of a character (an emoji's
  // four bytes are often two or three tokens): then the spans are widened to the whole characters the piece
  // touches and `text` holds those characters, so that `text` is always valid UTF-8 and the spans always fall
  // on character boundaries; the tokens that share a character then have overlapping spans.
  Token token;
  int id = 0;         // the vocabulary id
  std::string piece;  // the vocabulary string, e.g. "Ġcat"
  // For chips and labels: bpe_display of the whole characters that start in this piece ("·cat"). A piece
  // that ends inside a character shows that whole character (the first of 👍's pieces shows "👍"), a piece
  // made only of the rest of a character shows kContinuedPiece ("⋯"); its own bytes are in bytes_display.
  std::string display;
  std::string bytes_display;  // bpe_display(piece): "·cat", or "<0xF0><0x9F>" for part of a character
  friend bool operator==(const BpeToken&, const BpeToken&) = default;
};

// The display of a piece that holds only the continuation bytes of a character begun by the piece before.
inline constexpr std::string_view kContinuedPiece = "\u22EF";  // ⋯

class BpeTokenizer {
 public:
  // The most bytes each of vocab.json and merges.txt may hold (GPT-2's are 1 MB and 0.5 MB).
  static constexpr std::size_t kMaxFileBytes = std::size_t{64} << 20;

  // Reads vocab.json (a JSON object: piece → id, ids 0 to N−1 each once, a piece for each of the 256 bytes)
  // and merges.txt (an optional first line "#version…", then one merge a line: two pieces and one space
  // between them, both in the vocabulary and so is their concatenation; no merge twice). Throws Error naming
  // the file and the problem (and the line of merges.txt).
  static BpeTokenizer load(const std::filesystem::path& vocab_json, const std::filesystem::path& merges_txt);
  // The same from the files' contents; the names start the error messages.
  static BpeTokenizer parse(std::string_view vocab_json, std::string_view merges_txt,
                            std::string_view vocab_name = "vocab.json",
                            std::string_view merges_name = "merges.txt");

  std::vector<int> encode(std::string_view text) const;  // throws Error on invalid UTF-8 (naming the byte)
  std::vector<BpeToken> tokenize(std::string_view text) const;  // the same ids, with spans and display forms
  // The bytes the ids stand for, as UTF-8: each maximal ill-formed byte sequence (ids that split a character)
  // becomes U+FFFD, as Python's bytes.decode("utf-8", errors="replace") in GPT-2's decoder. A piece that is
  // not in the byte alphabet (an added token) stands for its own UTF-8. Throws Error for an id out of range.
  std::string decode(const std::vector<int>& ids) const;

  // GPT-2's pre-tokens of `text` (the pattern's matches, which merges never cross), with their spans; throws
  // Error on invalid UTF-8.
  static std::vector<Token> pre_tokenize(std::string_view text);

  int vocab_size() const;
  const std::string& piece(int id) const;                 // throws Error for an id out of range
  std::optional<int> find(std::string_view piece) const;  // the id of a piece, e.g. "<|endoftext|>"

  struct Impl;  // the vocabulary and merges, defined inside the engine (engine/src/bpe_impl.hpp)

 private:
  explicit BpeTokenizer(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

// A vocabulary piece made readable for token chips and axis labels: its bytes as UTF-8, with a space shown
// as "·", a newline as "↵", a tab as "⇥", a carriage return as "␍", other control characters as their
// control pictures ("␀") or <U+0085>, line and paragraph separators and bidi controls as <U+2028>, a byte
// that does not complete a character as <0xF0>, and "◌" before a combining mark that starts the piece. A
// piece of invisible characters only (zero-width joiner, variation selector) is shown as their <U+XXXX>.
std::string bpe_display(std::string_view piece);

}  // namespace attnscope
