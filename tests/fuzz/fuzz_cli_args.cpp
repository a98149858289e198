// attnscope-cli's command line: the input is its arguments, separated by NUL bytes (which no argument can
// hold), parsed by the parser attnscope-cli runs (cli::make_cli_app), then checked as attnscope-cli checks
// them before it computes: apply_flags and prepare_input for compute, prepare_model_input and parse_layers
// for compute
// --model, bench_masks for bench. Whatever the arguments, parsing returns or throws a CLI11 error that
// attnscope-cli prints on one line without control characters, and the checks return or throw
// attnscope::Error with a one-line message; nothing else escapes (an uncaught exception ends attnscope-cli
// without a message).
//
// Nothing is computed and no file is read: paths given to --embeddings and --model are replaced by a path
// that does not exist before the checks run (fuzz_npy, fuzz_csv and fuzz_gpt2_config cover those readers).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "attnscope/error.hpp"
#include "fuzz_support.hpp"
#include "support/cli_command_line.hpp"
#include "support/compute_flags.hpp"
#include "support/parse_arguments.hpp"

namespace {

using attnscope::fuzz::check_attention_input;
using attnscope::fuzz::check_message;

constexpr const char* kMissingPath = "/nonexistent/attnscope-fuzz/input";

std::vector<std::string> arguments_of(std::string_view input) {
  std::vector<std::string> arguments{"attnscope-cli"};
  if (input.empty()) return arguments;
  while (true) {
    const auto end = input.find('\0');
    arguments.emplace_back(input.substr(0, end));
    if (end == std::string_view::npos) return arguments;
    input.remove_prefix(end + 1);
  }
}

// Runs one of attnscope-cli's checks; it returns or throws attnscope::Error with a one-line message, which
// may repeat an argument (`size` bytes of arguments in all).
template <typename Check>
void expect_error_or_success(Check check, std::size_t size) {
  try {
    check();
  } catch (const attnscope::Error& error) {
    check_message(error.what(), "", 4 * size + 512);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> arguments =
      arguments_of(std::string_view(reinterpret_cast<const char*>(data), size));
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);

  attnscope::cli::CliCommandLine line;
  const std::unique_ptr<CLI::App> app = attnscope::cli::make_cli_app(line);
  try {
    app->parse(static_cast<int>(arguments.size()), argv.data());
  } catch (const CLI::Success&) {
    return 0;  // --help or --version: attnscope-cli prints the text and ends
  } catch (const CLI::ParseError& error) {
    // What attnscope-cli prints (parse_command_line); CLI11's messages name the arguments they refuse.
    check_message(attnscope::cli::error_line("attnscope-cli", error.what()),
                  "attnscope-cli: error: ", 4 * size + 512);
    return 0;
  }

  const int chosen = static_cast<int>(bool(*line.compute)) + static_cast<int>(bool(*line.devices)) +
                     static_cast<int>(bool(*line.bench));
  FUZZ_CHECK(chosen == 1, "a parse that chose no subcommand or more than one");
  attnscope::cli::ComputeFlags& flags = line.compute_flags;
  if (*line.compute) {
    if (flags.embeddings_file) flags.embeddings_file = kMissingPath;
    if (flags.model) flags.model = kMissingPath;
    attnscope::ComputeRequest request;
    try {
      request = attnscope::cli::apply_flags(flags, attnscope::ComputeRequest{});
    } catch (const attnscope::Error& error) {
      check_message(error.what(), "", 4 * size + 512);
      return 0;
    }
    if (flags.model) {
      expect_error_or_success([&] { attnscope::prepare_model_input(request, attnscope::cli::flag_name); },
                              size);
      // As for GPT-2 small's 12 layers, since the model is not read.
      if (flags.layers)
        expect_error_or_success(
            [&] { attnscope::parse_layers(*flags.layers, 12, attnscope::cli::flag_name); }, size);
    } else {
      attnscope::PreparedInput input;
      try {
        input = attnscope::prepare_input(request, attnscope::cli::flag_name);
      } catch (const attnscope::Error& error) {
        check_message(error.what(), "", 4 * size + 512);
        return 0;
      }
      if (!input.tokens.empty())
        check_attention_input(input.tokens.size(), input.embeddings, input.config, "prepare_input");
    }
  }
  if (*line.bench) expect_error_or_success([&] { attnscope::cli::bench_masks(line.bench_options); }, size);
  return 0;
}
