#pragma once
// Writing JSON by hand in tests and fuzz harnesses, where the exact bytes of a file matter.

#include <cstdio>
#include <string>
#include <string_view>

namespace attnscope::testing {

// `text` as a JSON string literal: quotes and backslashes escaped, control characters as \u00XX.
inline std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
      out += escape;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace attnscope::testing
