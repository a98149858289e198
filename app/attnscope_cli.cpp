// attnscope-cli: compute attention without a display, list devices, measure speed.

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <memory>

#include "attnscope/atomic_file.hpp"
#include "attnscope/attention.hpp"
#include "attnscope/backend.hpp"
#include "attnscope/error.hpp"
#include "attnscope/gpt2.hpp"
#include "attnscope/result_format.hpp"
#include "support/cli_command_line.hpp"
#include "support/compute_flags.hpp"
#include "support/parse_arguments.hpp"

namespace {

using namespace attnscope;

void write_output(const std::string& text, const cli::OutputOptions& output) {
  if (output.output)
    write_file_atomically(*output.output, text);
  else
    std::cout << text;
}

// --model: the text through a GPT-2 folder's tokenizer and every layer.
int run_model(const ComputeRequest& request, const cli::OutputOptions& output) {
  const PreparedModelInput input = prepare_model_input(request, cli::flag_name);
  const Gpt2Result result = input.model.run(input.ids, input.run);
  write_output(
      output.format == "csv"
          ? model_result_to_csv(input.tokens, result)
          : model_result_to_json(input.tokens, input.model.config(), input.mask, result).dump() + "\n",
      output);
  return 0;
}

// The flags on top of the request's defaults (simplified attention, seeded embeddings, the mechanism's own
// mask), through the same prepare_input as the window.
int run_compute(const cli::ComputeFlags& flags, const cli::OutputOptions& output) {
  const ComputeRequest request = cli::apply_flags(flags, ComputeRequest{});
  if (flags.model) {
    if (!flags.text) throw Error("--model needs --text: the text to run through the model");
    return run_model(request, output);
  }
  if (!flags.text && !flags.preset && !flags.embeddings_file)
    throw Error("nothing to attend over: give --text TEXT, --preset book or --embeddings FILE");
  const PreparedInput input = prepare_input(request, cli::flag_name);
  if (input.tokens.empty()) throw Error("the text is empty: type at least one word");
  cli::check_flags_against(flags, input.embeddings);
  const auto backend = make_backend(request.device);
  const CancelToken never_cancelled;
  const AttentionResult result = compute_attention(input.config, input.embeddings, *backend, never_cancelled);
  if (!result.fallback_reason.empty())
    std::cerr << "attnscope-cli: warning: " << result.fallback_reason << "\n";
  write_output(output.format == "csv" ? result_to_csv(input.tokens, result)
                                      : result_to_json(input.tokens, input.config, result).dump() + "\n",
               output);
  return 0;
}

// One line per backend: name, available or unavailable, then the device, its memory and the driver and
// runtime versions, or the reason it cannot be used.
int run_devices() {
  for (const BackendInfo& backend : list_backends())
    std::cout << backend.name << "\t" << (backend.available ? "available" : "unavailable") << "\t"
              << backend.description << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A write beyond the file-size limit must fail with EFBIG and a message, not kill the process.
  std::signal(SIGXFSZ, SIG_IGN);

  cli::CliCommandLine line;
  const std::unique_ptr<CLI::App> app = cli::make_cli_app(line);
  if (const auto exit_status = cli::parse_command_line(*app, argc, argv, "attnscope-cli"))
    return *exit_status;

  try {
    if (*line.compute) return run_compute(line.compute_flags, line.output_options);
    if (*line.devices) return run_devices();
    if (*line.bench) return cli::run_bench(line.bench_options, std::cout, std::cerr);
  } catch (const Error& error) {
    cli::print_error("attnscope-cli", error.what());
    return 1;
  }
  return 0;
}
