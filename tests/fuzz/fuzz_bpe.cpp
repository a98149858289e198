// attnscope::BpeTokenizer on arbitrary bytes, with a small vocabulary built here (every byte, merges into
// multi-byte characters, white space runs, contractions, and a merge ranked below the merge that makes its
// piece). encode, tokenize and pre_tokenize throw attnscope::Error exactly when the bytes are not valid UTF-8
// (naming the first bad byte, as an independent decoder finds it); otherwise:
// - tokenize gives encode's ids; each token's piece is its id's, its own bytes follow the previous token's,
//   and its span is those bytes widened to whole characters (at most 3 bytes each side), with `text` the
//   source's bytes there and code-point offsets that count the characters before;
// - the pre-tokens cover the text without gaps, and the ids are those of the pre-tokens encoded one by one
//   (merges never cross a pre-token);
// - decode(encode(text)) == text;
// - every display form (the chip's and the piece's own bytes') is non-empty, valid UTF-8 and holds no control
// character, line separator or bidi control; the chip is "⋯" exactly for a piece of continuation bytes.
// Memory stays linear in the input.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "attnscope/bpe_tokenizer.hpp"
#include "attnscope/error.hpp"
#include "fuzz_support.hpp"

namespace {

using attnscope::BpeToken;
using attnscope::BpeTokenizer;
namespace fuzz = attnscope::fuzz;

// GPT-2's bytes_to_unicode(), written out again rather than taken from the engine.
std::string byte_piece(unsigned byte) {
  const auto printable = [](unsigned b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
  };
  unsigned code_point = byte;
  if (!printable(byte)) {
    code_point = 0x100;
    for (unsigned b = 0; b < byte; ++b) code_point += !printable(b);
  }
  std::string utf8;
  if (code_point < 0x80) {
    utf8 += static_cast<char>(code_point);
  } else {
    utf8 += static_cast<char>(0xC0 | (code_point >> 6));
    utf8 += static_cast<char>(0x80 | (code_point & 0x3F));
  }
  return utf8;
}

std::string piece_of(std::string_view bytes) {
  std::string piece;
  for (const char c : bytes) piece += byte_piece(static_cast<unsigned char>(c));
  return piece;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

BpeTokenizer make_tokenizer() {
  // Merges by their bytes, in rank order.
  const std::vector<std::pair<std::string, std::string>> merges = {
      {" ", "t"},       {"h", "e"},           {" t", "he"},         {"a", "a"},
      {"aa", "aa"},     {"i", "n"},           {"in", "g"},          {" ", " "},
      {"  ", "  "},     {"\n", "\n"},         {"'", "s"},           {"'", "t"},
      {"r", "e"},       {"'", "re"},          {"p", "q"},           {"pq", "p"},
      {"\xC3", "\xA9"}, {"\xF0", "\x9F"},     {"\xF0\x9F", "\x91"}, {"\xF0\x9F\x91", "\x8B"},
      {"\xE2", "\x80"}, {"\xE2\x80", "\x8D"}, {"1", "2"},           {"12", "3"},
      {".", "."},       {"..", "."},          {" ", "\xC3"},        {"!", "!"},
      {"\r", "\n"},     {" ", "\n"},
  };
  std::vector<std::string> pieces;
  for (unsigned byte = 0; byte < 256; ++byte) pieces.push_back(byte_piece(byte));
  std::string merges_txt = "#version: 0.2\n";
  for (const auto& [left, right] : merges) {
    pieces.push_back(piece_of(left + right));
    merges_txt += piece_of(left) + " " + piece_of(right) + "\n";
  }
  pieces.push_back("<|endoftext|>");
  std::string vocab = "{";
  for (std::size_t id = 0; id < pieces.size(); ++id) {
    if (id > 0) vocab += ",";
    vocab += json_string(pieces[id]) + ":" + std::to_string(id);
  }
  vocab += "}";
  return BpeTokenizer::parse(vocab, merges_txt);
}

bool is_continuation(std::string_view text, std::size_t offset) {
  return offset < text.size() && (static_cast<unsigned char>(text[offset]) & 0xC0) == 0x80;
}

std::size_t count_code_points(std::string_view valid_utf8) {
  std::size_t count = 0;
  for (const char c : valid_utf8) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

void check_display(const std::string& display) {
  FUZZ_CHECK(!display.empty(), "empty display");
  for (std::size_t offset = 0; offset < display.size();) {
    char32_t c = 0;
    const auto length = fuzz::decode_utf8(std::string_view(display).substr(offset), c);
    FUZZ_CHECK(length > 0, display);
    const bool control = c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x2028 || c == 0x2029;
    const bool bidi = c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
                      (c >= 0x2066 && c <= 0x2069);
    FUZZ_CHECK(!control && !bidi, display);
    offset += length;
  }
}

// The bytes a piece stands for (every piece that encoding gives is in the byte alphabet).
std::string bytes_of(const std::string& piece) {
  static const auto table = [] {
    std::map<std::string, char, std::less<>> characters;
    for (unsigned byte = 0; byte < 256; ++byte) characters.emplace(byte_piece(byte), static_cast<char>(byte));
    return characters;
  }();
  std::string bytes;
  for (std::size_t offset = 0; offset < piece.size();) {
    const auto length = (static_cast<unsigned char>(piece[offset]) & 0x80) ? 2 : 1;  // U+0000 to U+0143
    const auto found = table.find(std::string_view(piece).substr(offset, length));
    FUZZ_CHECK(found != table.end(), piece);
    bytes += found->second;
    offset += length;
  }
  return bytes;
}

void check_tokens(const BpeTokenizer& tokenizer, std::string_view text, const std::vector<int>& ids,
                  const std::vector<BpeToken>& tokens) {
  FUZZ_CHECK(tokens.size() == ids.size(), "tokenize and encode give different counts");
  std::size_t exact = 0;  // where the token's own bytes start
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const auto& token = tokens[i];
    const auto& span = token.token;
    FUZZ_CHECK(token.id == ids[i], token.piece);
    FUZZ_CHECK(token.piece == tokenizer.piece(token.id), token.piece);
    const auto bytes = bytes_of(token.piece);
    FUZZ_CHECK(!bytes.empty() && text.substr(exact, bytes.size()) == bytes, token.piece);
    // The span: the piece's bytes widened to the characters they touch.
    const auto exact_end = exact + bytes.size();
    FUZZ_CHECK(span.byte_begin <= exact && exact - span.byte_begin <= 3, token.piece);
    FUZZ_CHECK(exact_end <= span.byte_end && span.byte_end - exact_end <= 3, token.piece);
    FUZZ_CHECK(span.byte_end <= text.size(), token.piece);
    FUZZ_CHECK(!is_continuation(text, span.byte_begin) && !is_continuation(text, span.byte_end), token.piece);
    for (auto offset = span.byte_begin + 1; offset <= exact; ++offset)
      FUZZ_CHECK(is_continuation(text, offset), token.piece);  // no wider than the characters touched
    for (auto offset = exact_end; offset < span.byte_end; ++offset)
      FUZZ_CHECK(is_continuation(text, offset), token.piece);
    FUZZ_CHECK(span.text == text.substr(span.byte_begin, span.byte_end - span.byte_begin), token.piece);
    FUZZ_CHECK(span.char_begin == count_code_points(text.substr(0, span.byte_begin)), token.piece);
    FUZZ_CHECK(span.char_end == span.char_begin + count_code_points(span.text), token.piece);
    FUZZ_CHECK(token.bytes_display == attnscope::bpe_display(token.piece), token.piece);
    check_display(token.bytes_display);
    check_display(token.display);
    // The chip: "⋯" exactly when every byte of the piece continues a character begun before it.
    bool continued = true;
    for (auto offset = exact; offset < exact_end; ++offset)
      continued = continued && is_continuation(text, offset);
    FUZZ_CHECK((token.display == attnscope::kContinuedPiece) == continued, token.piece);
    exact = exact_end;
  }
  FUZZ_CHECK(exact == text.size(), "the tokens stop early");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const BpeTokenizer tokenizer = [] {
    auto made = make_tokenizer();
    (void)made.encode("warm up");  // compiles the pattern outside the heap budget
    return made;
  }();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto invalid = fuzz::first_invalid_byte(text);

  const fuzz::HeapBudget budget(1024 * size + 65536);
  std::vector<int> ids;
  std::vector<BpeToken> tokens;
  std::vector<attnscope::Token> pre_tokens;
  try {
    ids = tokenizer.encode(text);
    tokens = tokenizer.tokenize(text);
    pre_tokens = BpeTokenizer::pre_tokenize(text);
  } catch (const attnscope::Error& error) {
    const std::string expected = "text is not valid UTF-8 at byte " + std::to_string(invalid);
    FUZZ_CHECK(invalid != std::string_view::npos, error.what());
    FUZZ_CHECK(error.what() == expected, error.what());
    // All three reject it.
    for (int which = 0; which < 3; ++which) {
      try {
        if (which == 0) (void)tokenizer.encode(text);
        if (which == 1) (void)tokenizer.tokenize(text);
        if (which == 2) (void)BpeTokenizer::pre_tokenize(text);
        FUZZ_CHECK(false, "invalid UTF-8 accepted");
      } catch (const attnscope::Error& again) {
        FUZZ_CHECK(again.what() == expected, again.what());
      }
    }
    return 0;
  }
  budget.check("encode, tokenize and pre_tokenize");
  FUZZ_CHECK(invalid == std::string_view::npos, "invalid UTF-8 accepted");

  FUZZ_CHECK(tokenizer.decode(ids) == text, "decode(encode(text)) is not the text");
  check_tokens(tokenizer, text, ids, tokens);

  std::size_t end = 0, code_points = 0;
  std::vector<int> piecewise;
  for (const auto& pre_token : pre_tokens) {
    FUZZ_CHECK(pre_token.byte_begin == end && pre_token.byte_end > end, pre_token.text);
    FUZZ_CHECK(pre_token.text == text.substr(pre_token.byte_begin, pre_token.byte_end - pre_token.byte_begin),
               pre_token.text);
    FUZZ_CHECK(pre_token.char_begin == code_points, pre_token.text);
    code_points += count_code_points(pre_token.text);
    FUZZ_CHECK(pre_token.char_end == code_points, pre_token.text);
    const auto own = tokenizer.encode(pre_token.text);
    piecewise.insert(piecewise.end(), own.begin(), own.end());
    end = pre_token.byte_end;
  }
  FUZZ_CHECK(end == text.size(), "the pre-tokens stop early");
  FUZZ_CHECK(piecewise == ids, "merges cross a pre-token");
  return 0;
}
