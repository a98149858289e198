#pragma once
// Parsing and error reporting shared by attnscope and attnscope-cli: every error is one line on stderr.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace attnscope::cli {

// "PROGRAM: error: MESSAGE" on one line: line breaks in MESSAGE become spaces, other control and format
// characters and bytes that are not UTF-8 are escaped (printable()), since a message may quote what was
// typed.
std::string error_line(std::string_view program, std::string_view message);
// Prints error_line and a line break to stderr.
void print_error(std::string_view program, std::string_view message);

// Parses the command line. --help and --version print and give exit status 0; a parse error prints one
// line and gives 2; std::nullopt means the program goes on.
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv, std::string_view program);

}  // namespace attnscope::cli
