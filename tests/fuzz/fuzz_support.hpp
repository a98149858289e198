#pragma once
// Shared by the fuzz harnesses. A failed check prints what went wrong and aborts: a finding for libFuzzer, a
// failure for the replay tests. Under AddressSanitizer (the fuzz and asan builds) HeapBudget also bounds the
// memory one input may make the code under test allocate.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "attnscope/config.hpp"
#include "attnscope/error.hpp"
#include "attnscope/matrix.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define ATTNSCOPE_FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ATTNSCOPE_FUZZ_ASAN 1
#endif
#endif
#ifdef ATTNSCOPE_FUZZ_ASAN
// From <sanitizer/allocator_interface.h>, which GCC does not install (its libasan has the functions).
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             std::size_t),
                                                         void (*free_hook)(const volatile void*));
extern "C" std::size_t __sanitizer_get_allocated_size(const volatile void* pointer);
#endif

namespace attnscope::fuzz {

[[noreturn]] inline void fail(const char* file, int line, const char* condition, std::string_view detail) {
  std::fprintf(stderr, "%s:%d: check failed: %s\n  %.*s\n", file, line, condition,
               static_cast<int>(detail.size()), detail.data());
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_CHECK(condition, detail) \
  ((condition) ? void() : ::attnscope::fuzz::fail(__FILE__, __LINE__, #condition, (detail)))

// Decodes one UTF-8 sequence strictly (no overlong forms, surrogates or values past U+10FFFF), independently
// of utf8proc. Returns its length, 0 when `text` does not start with one.
inline std::size_t decode_utf8(std::string_view text, char32_t& code_point) {
  if (text.empty()) return 0;
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned lead = byte(0);
  std::size_t length = 0;
  char32_t minimum = 0;
  if (lead < 0x80) {
    code_point = lead;
    return 1;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, minimum = 0x80, code_point = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, minimum = 0x800, code_point = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, minimum = 0x10000, code_point = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i) & 0x3F);
  }
  if (code_point < minimum || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF))
    return 0;
  return length;
}

// The offset of the first byte that does not start a valid UTF-8 sequence; npos when there is none.
inline std::size_t first_invalid_byte(std::string_view text) {
  for (std::size_t offset = 0; offset < text.size();) {
    char32_t code_point = 0;
    const auto length = decode_utf8(text.substr(offset), code_point);
    if (length == 0) return offset;
    offset += length;
  }
  return std::string_view::npos;
}

inline bool is_valid_utf8(std::string_view text) {
  return first_invalid_byte(text) == std::string_view::npos;
}

// An error message a person reads on one line: it starts with `prefix`, is valid UTF-8 and not much longer
// than the prefix, and holds nothing that breaks the line or rewrites a terminal (C0 and C1 controls, DEL,
// line and paragraph separators, bidi embeddings, overrides and isolates). `max_problem_bytes` is for
// messages that list what was given, as a command line's do.
inline void check_message(std::string_view message, std::string_view prefix,
                          std::size_t max_problem_bytes = 512) {
  FUZZ_CHECK(message.starts_with(prefix), message);
  FUZZ_CHECK(message.size() <= prefix.size() + max_problem_bytes, message);
  for (std::size_t offset = 0; offset < message.size();) {
    char32_t c = 0;
    const auto length = decode_utf8(message.substr(offset), c);
    FUZZ_CHECK(length > 0, message);
    const bool control = c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x2028 || c == 0x2029;
    const bool bidi = c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
                      (c >= 0x2066 && c <= 0x2069);
    FUZZ_CHECK(!control && !bidi, message);
    offset += length;
  }
}

// Fails when the heap allocated between construction and check() peaks above `limit` bytes. Counts every
// malloc and free in the process through the sanitizer's hooks; without AddressSanitizer it checks nothing.
class HeapBudget {
 public:
  explicit HeapBudget(std::size_t limit) : limit_(limit) {
#ifdef ATTNSCOPE_FUZZ_ASAN
    static const bool installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) != 0;
    FUZZ_CHECK(installed, "cannot install the malloc hooks");
    start_ = live().load();
    peak().store(start_);
#endif
  }

  // `what` names the code measured.
  void check(const char* what) const {
#ifdef ATTNSCOPE_FUZZ_ASAN
    const auto used = peak().load() - start_;
    if (used > static_cast<std::int64_t>(limit_)) {
      char detail[160];
      std::snprintf(detail, sizeof detail, "%s allocated %lld bytes at its peak, more than its budget of %zu",
                    what, static_cast<long long>(used), limit_);
      fail(__FILE__, __LINE__, "heap within budget", detail);
    }
#else
    (void)what, (void)limit_;
#endif
  }

 private:
#ifdef ATTNSCOPE_FUZZ_ASAN
  static std::atomic<std::int64_t>& live() {
    static std::atomic<std::int64_t> bytes{0};
    return bytes;
  }
  static std::atomic<std::int64_t>& peak() {
    static std::atomic<std::int64_t> bytes{0};
    return bytes;
  }
  static void on_malloc(const volatile void*, std::size_t size) {
    const auto now = live().fetch_add(static_cast<std::int64_t>(size)) + static_cast<std::int64_t>(size);
    auto seen = peak().load();
    while (now > seen && !peak().compare_exchange_weak(seen, now)) {
    }
  }
  static void on_free(const volatile void* pointer) {
    live().fetch_sub(static_cast<std::int64_t>(__sanitizer_get_allocated_size(pointer)));
  }
  std::int64_t start_ = 0;
#endif
  std::size_t limit_;
};

// What every path to an attention input must give: one embeddings row per token, and a configuration that
// validate() accepts (`producer` names the path in the failure).
inline void check_attention_input(std::size_t tokens, const Matrix& embeddings, const AttentionConfig& config,
                                  std::string_view producer) {
  FUZZ_CHECK(embeddings.rows() == static_cast<Eigen::Index>(tokens), "not one embeddings row per token");
  try {
    config.validate(static_cast<int>(embeddings.cols()));
  } catch (const Error& error) {
    FUZZ_CHECK(false,
               std::string(producer) + " returned a configuration validate() rejects: " + error.what());
  }
}

}  // namespace attnscope::fuzz
