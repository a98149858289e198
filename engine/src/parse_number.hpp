#pragma once
// Strict integer parsing for option values: the whole text must be a number.

#include <charconv>
#include <optional>
#include <string_view>

namespace attnscope::detail {

template <typename Integer>
std::optional<Integer> parse_integer(std::string_view text) {
  Integer value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace attnscope::detail
