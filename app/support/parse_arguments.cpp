#include "parse_arguments.hpp"

#include <iostream>
#include <string>

#include "attnscope/quote.hpp"

namespace attnscope::cli {

std::string error_line(std::string_view program, std::string_view message) {
  std::string line(message);
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  return std::string(program) + ": error: " + printable(line);
}

void print_error(std::string_view program, std::string_view message) {
  std::cerr << error_line(program, message) << "\n";
}

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv, std::string_view program) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForVersion& version) {
    return app.exit(version);
  } catch (const CLI::ParseError& error) {
    print_error(program, std::string(error.what()) + " (see " + std::string(program) + " --help)");
    return 2;
  }
  return std::nullopt;
}

}  // namespace attnscope::cli
