#pragma once
// UTF-8 validation shared by the readers and tokenizers that take text as bytes.

#include <utf8proc.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "attnscope/error.hpp"

namespace attnscope::detail {

// The offset of the first byte of `text` that does not start a valid UTF-8 sequence; npos when none does.
inline std::size_t first_invalid_utf8(std::string_view text) {
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  std::size_t offset = 0;
  while (offset < text.size()) {
    utf8proc_int32_t code_point = 0;
    const auto length =
        utf8proc_iterate(bytes + offset, static_cast<utf8proc_ssize_t>(text.size() - offset), &code_point);
    if (length <= 0) return offset;
    offset += static_cast<std::size_t>(length);
  }
  return std::string_view::npos;
}

// Throws Error "text is not valid UTF-8 at byte N" unless `text` is valid UTF-8.
inline void require_utf8(std::string_view text) {
  if (const std::size_t bad = first_invalid_utf8(text); bad != std::string_view::npos)
    throw Error("text is not valid UTF-8 at byte " + std::to_string(bad));
}

}  // namespace attnscope::detail
