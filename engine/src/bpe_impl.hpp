#pragma once
// What a BpeTokenizer holds (bpe_files.cpp fills it, bpe_tokenizer.cpp encodes with it), and GPT-2's
// byte-to-Unicode alphabet.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "attnscope/bpe_tokenizer.hpp"

namespace attnscope {
namespace detail {

// GPT-2's bytes_to_unicode(): the printable bytes ! to ~, ¡ to ¬ and ® to ÿ stand for themselves, the other
// 68 bytes (control characters, space, DEL, NBSP, soft hyphen) for U+0100 to U+0143 in byte order.
constexpr std::array<char32_t, 256> kByteToCodePoint = [] {
  std::array<char32_t, 256> table{};
  char32_t next = 0x100;
  for (unsigned byte = 0; byte < 256; ++byte) {
    const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
    table[byte] = printable ? byte : next++;
  }
  return table;
}();

// The inverse: the byte each code point below U+0144 stands for, or -1.
constexpr std::array<std::int16_t, 0x144> kCodePointToByte = [] {
  std::array<std::int16_t, 0x144> table{};
  table.fill(-1);
  for (unsigned byte = 0; byte < 256; ++byte) table[kByteToCodePoint[byte]] = static_cast<std::int16_t>(byte);
  return table;
}();

// The byte a code point of the alphabet stands for; nullopt for any other code point.
constexpr std::optional<unsigned char> byte_of(char32_t code_point) {
  if (code_point >= kCodePointToByte.size() || kCodePointToByte[code_point] < 0) return std::nullopt;
  return static_cast<unsigned char>(kCodePointToByte[code_point]);
}

// The bytes a piece stands for; nullopt when the piece has a character outside the alphabet (an added token
// such as a tokenizer's own special tokens) or is not valid UTF-8.
std::optional<std::string> piece_bytes(std::string_view piece);

// std::string keys found by std::string_view without a copy.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
};
template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

}  // namespace detail

struct BpeTokenizer::Impl {
  struct Merge {
    int rank;    // the merge's place in merges.txt: lower merges first
    int merged;  // the id of the two pieces joined
  };
  static std::uint64_t pair_key(int left, int right) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) |
           static_cast<std::uint32_t>(right);
  }

  std::vector<std::string> pieces;  // by id
  std::vector<std::string> bytes;   // by id: the bytes each piece stands for (an added token: its own UTF-8)
  detail::StringMap<int> ids;       // piece → id
  std::array<int, 256> byte_ids{};  // the id of each byte's one-character piece
  std::unordered_map<std::uint64_t, Merge> merges;  // pair_key(left id, right id) → merge

  // The ids of pre-tokens already encoded, as GPT-2's encoder keeps them. Bounded: holds pre-tokens of at
  // most kMaxCachedBytes and is emptied when it reaches kMaxCacheEntries.
  static constexpr std::size_t kMaxCachedBytes = 256;
  static constexpr std::size_t kMaxCacheEntries = std::size_t{1} << 14;
  mutable std::mutex cache_mutex;
  mutable detail::StringMap<std::vector<int>> cache;
};

}  // namespace attnscope
