#pragma once
// Text from a file, a command line or a session, made safe to show inside a one-line error message.

#include <cstddef>
#include <string>
#include <string_view>

namespace attnscope {

// `text` quoted: 'text'. At most `max_bytes` of it are shown (then "..."), never cutting a character in two;
// control and format characters (bidi overrides, zero-width characters), white space other than ' ', bytes
// that are not UTF-8, backslashes and quotes are escaped as \t, \xNN, \uXXXX or \UXXXXXXXX, so that the text
// cannot break the line or rewrite a terminal.
std::string quote(std::string_view text, std::size_t max_bytes = 40);
// All of `text`, with the characters quote() escapes escaped but for backslashes and quotes: for paths.
std::string printable(std::string_view text);

}  // namespace attnscope
