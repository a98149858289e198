// GPT-2's byte-level BPE: pre-tokenisation with GPT-2's pattern (PCRE2), merges by rank, decoding, display.

#define PCRE2_CODE_UNIT_WIDTH 8
#include "attnscope/bpe_tokenizer.hpp"

#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <queue>
#include <string>
#include <utility>

#include "attnscope/error.hpp"
#include "bpe_impl.hpp"
#include "utf8.hpp"

namespace attnscope {
namespace {

// GPT-2's pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// with \s spelled out as Unicode's White_Space, which is what Python's `regex` module (GPT-2's) matches:
// PCRE2's \s also matches U+180E MONGOLIAN VOWEL SEPARATOR, no longer white space since Unicode 6.3.
// clang-format off
#define ATTNSCOPE_WHITE_SPACE \
  "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}" \
  "\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
constexpr const char* kPattern =
    "'s|'t|'re|'ve|'m|'ll|'d"
    "| ?\\p{L}+"
    "| ?\\p{N}+"
    "| ?[^" ATTNSCOPE_WHITE_SPACE "\\p{L}\\p{N}]+"
    "|[" ATTNSCOPE_WHITE_SPACE "]+(?![^" ATTNSCOPE_WHITE_SPACE "])"
    "|[" ATTNSCOPE_WHITE_SPACE "]+";
// clang-format on
#undef ATTNSCOPE_WHITE_SPACE

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0) return "PCRE2 error " + std::to_string(code);
  return reinterpret_cast<const char*>(buffer);
}

struct CodeDeleter {
  void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};
struct MatchDataDeleter {
  void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};

// Compiled once for the process (and JIT-compiled where PCRE2 can); pcre2_code is read-only while matching,
// so threads share it.
const pcre2_code* gpt2_pattern() {
  static const std::unique_ptr<pcre2_code, CodeDeleter> code = [] {
    int error = 0;
    PCRE2_SIZE offset = 0;
    std::unique_ptr<pcre2_code, CodeDeleter> compiled(
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kPattern), PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                      &error, &offset, nullptr));
    if (!compiled) throw Error("GPT-2's pre-tokenisation pattern does not compile: " + pcre2_message(error));
    pcre2_jit_compile(compiled.get(), PCRE2_JIT_COMPLETE);  // the interpreter matches the same without it
    return compiled;
  }();
  return code.get();
}

// Calls on_pre_token(begin, end) for each of GPT-2's pre-tokens of valid UTF-8 `text`, in order; they cover
// the text without gaps (every character matches one of the pattern's alternatives).
template <typename OnPreToken>
void for_each_pre_token(std::string_view text, OnPreToken on_pre_token) {
  if (text.empty()) return;
  const auto* pattern = gpt2_pattern();
  const std::unique_ptr<pcre2_match_data, MatchDataDeleter> match(
      pcre2_match_data_create_from_pattern(pattern, nullptr));
  if (!match) throw std::bad_alloc();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::size_t offset = 0;
  while (offset < text.size()) {
    const int result = pcre2_match(pattern, subject, text.size(), offset, PCRE2_ANCHORED | PCRE2_NO_UTF_CHECK,
                                   match.get(), nullptr);
    if (result < 0) {
      throw Error("GPT-2 pre-tokenisation failed at byte " + std::to_string(offset) + ": " +
                  (result == PCRE2_ERROR_NOMATCH ? std::string("no match") : pcre2_message(result)));
    }
    const auto* ovector = pcre2_get_ovector_pointer(match.get());
    const std::size_t end = ovector[1];
    if (ovector[0] != offset || end <= offset || end > text.size())
      throw Error("GPT-2 pre-tokenisation failed at byte " + std::to_string(offset) + ": an empty match");
    on_pre_token(offset, end);
    offset = end;
  }
}

// Byte-pair merging of one pre-token, as GPT-2's encoder.py does it: while some adjacent pair has a merge,
// take the pair of lowest rank and merge each of its occurrences, left to right; then look again. Here a heap
// of (rank, position) finds the pairs in O(n log n) rather than GPT-2's O(n²) per merge: it takes every
// occurrence of one rank in turn (a "round"), and only after the round adds the pairs its merges made, which
// may have a lower rank than the round's (merges.txt need not be in the order GPT-2's training wrote it).
void merge_pairs(const BpeTokenizer::Impl& impl, std::string_view bytes, std::vector<int>& ids) {
  struct Symbol {
    int id;
    int prev, next;  // neighbours' indices, -1 at the ends
  };
  struct Candidate {
    int rank, left, right;  // left, right: symbol indices
    int left_id, right_id, merged;
    bool operator>(const Candidate& other) const {
      return rank != other.rank ? rank > other.rank : left > other.left;
    }
  };

  const int n = static_cast<int>(bytes.size());
  std::vector<Symbol> symbols(bytes.size());
  for (int i = 0; i < n; ++i)
    symbols[i] = {impl.byte_ids[static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)])], i - 1,
                  i + 1 < n ? i + 1 : -1};

  std::vector<Candidate> made;
  const auto candidate = [&](int left, int right) {
    const int left_id = symbols[static_cast<std::size_t>(left)].id;
    const int right_id = symbols[static_cast<std::size_t>(right)].id;
    const auto found = impl.merges.find(BpeTokenizer::Impl::pair_key(left_id, right_id));
    if (found != impl.merges.end())
      made.push_back({found->second.rank, left, right, left_id, right_id, found->second.merged});
  };
  for (int i = 0; i + 1 < n; ++i) candidate(i, i + 1);
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap(std::greater<>(),
                                                                              std::move(made));

  while (!heap.empty()) {
    const int rank = heap.top().rank;
    made.clear();
    while (!heap.empty() && heap.top().rank == rank) {
      const auto pair = heap.top();
      heap.pop();
      auto& left = symbols[static_cast<std::size_t>(pair.left)];
      // Gone stale: the left symbol was merged into its neighbour, or merged with another, or has a new
      // neighbour. (A merged symbol never gets its old id back: it only grows.)
      if (left.id != pair.left_id || left.next != pair.right ||
          symbols[static_cast<std::size_t>(pair.right)].id != pair.right_id)
        continue;
      const auto& right = symbols[static_cast<std::size_t>(pair.right)];
      left.id = pair.merged;
      left.next = right.next;
      if (right.next >= 0) symbols[static_cast<std::size_t>(right.next)].prev = pair.left;
      symbols[static_cast<std::size_t>(pair.right)].id = -1;
      // The new pairs hold the merged piece, longer than either half: never this round's pair.
      if (left.prev >= 0) candidate(left.prev, pair.left);
      if (left.next >= 0) candidate(pair.left, left.next);
    }
    for (const auto& pair : made) heap.push(pair);
  }
  for (int i = 0; i >= 0; i = symbols[static_cast<std::size_t>(i)].next)
    ids.push_back(symbols[static_cast<std::size_t>(i)].id);
}

// Appends the ids of one pre-token, through the cache.
void encode_pre_token(const BpeTokenizer::Impl& impl, std::string_view bytes, std::vector<int>& ids) {
  if (bytes.size() == 1) {
    ids.push_back(impl.byte_ids[static_cast<unsigned char>(bytes[0])]);
    return;
  }
  const bool cacheable = bytes.size() <= BpeTokenizer::Impl::kMaxCachedBytes;
  if (cacheable) {
    const std::lock_guard lock(impl.cache_mutex);
    if (const auto found = impl.cache.find(bytes); found != impl.cache.end()) {
      ids.insert(ids.end(), found->second.begin(), found->second.end());
      return;
    }
  }
  const auto first = ids.size();
  merge_pairs(impl, bytes, ids);
  if (cacheable) {
    std::vector<int> result(ids.begin() + static_cast<std::ptrdiff_t>(first), ids.end());
    const std::lock_guard lock(impl.cache_mutex);
    // Room for every entry at the first, so that the cache never rehashes; emptied when full.
    if (impl.cache.bucket_count() < BpeTokenizer::Impl::kMaxCacheEntries)
      impl.cache.reserve(BpeTokenizer::Impl::kMaxCacheEntries);
    if (impl.cache.size() >= BpeTokenizer::Impl::kMaxCacheEntries) impl.cache.clear();
    impl.cache.emplace(std::string(bytes), std::move(result));
  }
}

// Appends `bytes` to `out` with each maximal ill-formed subsequence replaced by U+FFFD, as Python's
// errors="replace" (and the WHATWG decoder) do.
void append_replacing_invalid(std::string& out, std::string_view bytes) {
  const auto* data = reinterpret_cast<const utf8proc_uint8_t*>(bytes.data());
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    utf8proc_int32_t code_point = 0;
    const auto length =
        utf8proc_iterate(data + offset, static_cast<utf8proc_ssize_t>(bytes.size() - offset), &code_point);
    if (length > 0) {
      out.append(bytes.substr(offset, static_cast<std::size_t>(length)));
      offset += static_cast<std::size_t>(length);
      continue;
    }
    // The lead byte and the continuation bytes that could still have completed it.
    const unsigned lead = data[offset];
    std::size_t needed = 0;
    unsigned low = 0x80, high = 0xBF;  // the second byte's range
    if (lead >= 0xC2 && lead <= 0xDF) {
      needed = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      needed = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      needed = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    }
    std::size_t subpart = 1;
    if (needed > 0 && offset + 1 < bytes.size() && data[offset + 1] >= low && data[offset + 1] <= high) {
      subpart = 2;
      while (subpart < needed && offset + subpart < bytes.size() && (data[offset + subpart] & 0xC0) == 0x80)
        ++subpart;
    }
    out += "\xEF\xBF\xBD";
    offset += subpart;
  }
}

void append_code_point_name(std::string& out, char32_t code_point) {
  char name[16];
  std::snprintf(name, sizeof name, "<U+%04X>", static_cast<unsigned>(code_point));
  out += name;
}

bool is_bidi_control(char32_t c) {
  return c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
         (c >= 0x2066 && c <= 0x2069);
}

// Shows nothing on its own: format characters (zero-width joiner, BOM, tags), variation selectors, the
// combining grapheme joiner and white space other than the space (which shows as "·").
bool is_invisible(char32_t c) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_ZS:
      return c != ' ';
    default:
      return (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xE0100 && c <= 0xE01EF) || c == 0x034F || c == 0x180B ||
             c == 0x180C || c == 0x180D || c == 0x180F;
  }
}

bool is_combining(char32_t c) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
      return true;
    default:
      return false;
  }
}

// bpe_display of the bytes a piece stands for.
std::string display_bytes(std::string_view bytes) {
  std::string out;
  bool visible = false;
  const auto* data = reinterpret_cast<const utf8proc_uint8_t*>(bytes.data());
  for (int pass = 0; pass < 2 && !visible; ++pass) {  // a second pass names every invisible character
    out.clear();
    std::size_t offset = 0;
    while (offset < bytes.size()) {
      utf8proc_int32_t value = 0;
      const auto length =
          utf8proc_iterate(data + offset, static_cast<utf8proc_ssize_t>(bytes.size() - offset), &value);
      if (length <= 0) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "<0x%02X>", static_cast<unsigned>(data[offset]));
        out += hex;
        visible = true;
        ++offset;
        continue;
      }
      const auto c = static_cast<char32_t>(value);
      if (c == ' ') {
        out += "\u00B7";
      } else if (c == '\n') {
        out += "\u21B5";
      } else if (c == '\t') {
        out += "\u21E5";
      } else if (c < 0x20) {
        utf8proc_uint8_t picture[4];  // U+2400 CONTROL PICTURE FOR NULL and on
        out.append(reinterpret_cast<const char*>(picture),
                   static_cast<std::size_t>(
                       utf8proc_encode_char(static_cast<utf8proc_int32_t>(0x2400 + c), picture)));
      } else if (c == 0x7F) {
        out += "\u2421";
      } else if ((c >= 0x80 && c <= 0x9F) || c == 0x2028 || c == 0x2029 || is_bidi_control(c) ||
                 (pass == 1 && is_invisible(c))) {
        append_code_point_name(out, c);
      } else {
        if (offset == 0 && is_combining(c)) out += "\u25CC";
        out.append(bytes.substr(offset, static_cast<std::size_t>(length)));
        if (!is_invisible(c)) {
          visible = true;
        }
        offset += static_cast<std::size_t>(length);
        continue;
      }
      visible = true;
      offset += static_cast<std::size_t>(length);
    }
    if (bytes.empty()) visible = true;
  }
  return out;
}

}  // namespace

std::vector<int> BpeTokenizer::encode(std::string_view text) const {
  detail::require_utf8(text);
  std::vector<int> ids;
  ids.reserve(text.size() / 3 + 1);
  for_each_pre_token(text, [&](std::size_t begin, std::size_t end) {
    encode_pre_token(*impl_, text.substr(begin, end - begin), ids);
  });
  return ids;
}

std::vector<BpeToken> BpeTokenizer::tokenize(std::string_view text) const {
  detail::require_utf8(text);
  std::vector<BpeToken> tokens;
  std::vector<int> ids;
  std::size_t counted = 0, code_points = 0;  // code points in text[0, counted)
  const auto is_continuation = [&](std::size_t offset) {
    return offset < text.size() && (static_cast<unsigned char>(text[offset]) & 0xC0) == 0x80;
  };
  const auto code_points_before = [&](std::size_t offset) {  // offsets never go down
    for (; counted < offset; ++counted) code_points += !is_continuation(counted);
    return code_points;
  };
  for_each_pre_token(text, [&](std::size_t begin, std::size_t end) {
    ids.clear();
    encode_pre_token(*impl_, text.substr(begin, end - begin), ids);
    std::size_t exact_begin = begin;
    for (const int id : ids) {
      const auto exact_end = exact_begin + impl_->bytes[static_cast<std::size_t>(id)].size();
      // Widened to whole characters: back to the lead byte, on past the continuation bytes.
      auto byte_begin = exact_begin;
      while (byte_begin > 0 && is_continuation(byte_begin)) --byte_begin;
      auto byte_end = exact_end;
      while (is_continuation(byte_end)) ++byte_end;
      const auto char_begin = code_points_before(exact_begin) - (byte_begin < exact_begin ? 1 : 0);
      const auto char_end = code_points_before(exact_end);  // [exact_end, byte_end) holds no lead byte

      BpeToken token;
      token.token = {std::string(text.substr(byte_begin, byte_end - byte_begin)), byte_begin, byte_end,
                     char_begin, char_end};
      token.id = id;
      token.piece = impl_->pieces[static_cast<std::size_t>(id)];
      token.bytes_display = display_bytes(impl_->bytes[static_cast<std::size_t>(id)]);
      // The characters that start in this piece, whole: the bytes before the first lead byte belong to the
      // previous piece's character, and a character cut at the end is completed from the text.
      auto lead = exact_begin;
      while (lead < exact_end && is_continuation(lead)) ++lead;
      if (lead == exact_end)
        token.display = kContinuedPiece;
      else if (lead == exact_begin && byte_end == exact_end)
        token.display = token.bytes_display;
      else
        token.display = display_bytes(text.substr(lead, byte_end - lead));
      tokens.push_back(std::move(token));
      exact_begin = exact_end;
    }
  });
  return tokens;
}

std::vector<Token> BpeTokenizer::pre_tokenize(std::string_view text) {
  detail::require_utf8(text);
  std::vector<Token> tokens;
  std::size_t code_points = 0;
  for_each_pre_token(text, [&](std::size_t begin, std::size_t end) {
    const auto piece = text.substr(begin, end - begin);
    const auto first = code_points;
    for (const char c : piece) code_points += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    tokens.push_back({std::string(piece), begin, end, first, code_points});
  });
  return tokens;
}

std::string BpeTokenizer::decode(const std::vector<int>& ids) const {
  std::string bytes;
  for (const int id : ids) {
    if (id < 0 || id >= vocab_size())
      throw Error("token id " + std::to_string(id) + " is out of range: the vocabulary has ids 0 to " +
                  std::to_string(vocab_size() - 1));
    bytes += impl_->bytes[static_cast<std::size_t>(id)];
  }
  std::string text;
  text.reserve(bytes.size());
  append_replacing_invalid(text, bytes);
  return text;
}

int BpeTokenizer::vocab_size() const {
  return static_cast<int>(impl_->pieces.size());
}

const std::string& BpeTokenizer::piece(int id) const {
  if (id < 0 || id >= vocab_size())
    throw Error("token id " + std::to_string(id) + " is out of range: the vocabulary has ids 0 to " +
                std::to_string(vocab_size() - 1));
  return impl_->pieces[static_cast<std::size_t>(id)];
}

std::optional<int> BpeTokenizer::find(std::string_view piece) const {
  const auto found = impl_->ids.find(piece);
  if (found == impl_->ids.end()) return std::nullopt;
  return found->second;
}

std::string bpe_display(std::string_view piece) {
  if (auto bytes = detail::piece_bytes(piece)) return display_bytes(*bytes);
  return display_bytes(piece);
}

}  // namespace attnscope
