// attnscope-cli: compute attention without a display, list devices, measure speed.

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "attnscope/attention.hpp"
#include "attnscope/backend.hpp"
#include "attnscope/error.hpp"
#include "attnscope/gpt2.hpp"
#include "bench/bench.hpp"
#include "support/atomic_file.hpp"
#include "support/compute_options.hpp"
#include "support/parse_arguments.hpp"
#include "support/result_format.hpp"

namespace {

using namespace attnscope;

struct OutputOptions {
  std::string format = "json";
  std::optional<std::string> output;
};

void write_output(const std::string& text, const OutputOptions& output) {
  if (output.output)
    cli::write_file_atomically(*output.output, text);
  else
    std::cout << text;
}

// --model: the text through a GPT-2 folder's tokenizer and every layer.
int run_model(const cli::ComputeOptions& options, const OutputOptions& output) {
  const cli::PreparedModelInput input = cli::prepare_model_input(options);
  const Gpt2Result result = input.model.run(input.ids, input.run);
  write_output(
      output.format == "csv"
          ? cli::model_result_to_csv(input.tokens, result)
          : cli::model_result_to_json(input.tokens, input.model.config(), input.mask, result).dump() + "\n",
      output);
  return 0;
}

int run_compute(const cli::ComputeOptions& options, const OutputOptions& output) {
  if (options.model) return run_model(options, output);
  const cli::PreparedInput input = cli::prepare_input(options);
  const auto backend = make_backend(parse_device(options.device));
  const CancelToken never_cancelled;
  const AttentionResult result = compute_attention(input.config, input.embeddings, *backend, never_cancelled);
  if (!result.fallback_reason.empty())
    std::cerr << "attnscope-cli: warning: " << result.fallback_reason << "\n";
  write_output(output.format == "csv" ? cli::result_to_csv(input.tokens, result)
                                      : cli::result_to_json(input.tokens, input.config, result).dump() + "\n",
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

  CLI::App app{
      "attnscope-cli: the attention mechanisms of chapter 3 of Build a Large Language Model (From "
      "Scratch), computed exactly as PyTorch does",
      "attnscope-cli"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "attnscope-cli 0.1.0");

  cli::ComputeOptions compute_options;
  OutputOptions output_options;
  CLI::App* compute = app.add_subcommand("compute", "Compute one mechanism and print every intermediate");
  cli::add_compute_options(*compute, compute_options, true);
  cli::add_model_options(*compute, compute_options);
  compute->add_option("--format", output_options.format, "json or csv")
      ->check(CLI::IsMember({"json", "csv"}));
  compute->add_option("--output", output_options.output, "Write to FILE instead of standard output");

  CLI::App* devices = app.add_subcommand("devices", "List the compute backends and why one is unavailable");

  cli::BenchOptions bench_options;
  CLI::App* bench = app.add_subcommand(
      "bench",
      "Time the attention step (scores, mask, softmax, weights kept, context; no projections) per device");
  cli::add_bench_options(*bench, bench_options);

  if (const auto exit_status = cli::parse_command_line(app, argc, argv, "attnscope-cli")) return *exit_status;

  try {
    if (*compute) return run_compute(compute_options, output_options);
    if (*devices) return run_devices();
    if (*bench) return cli::run_bench(bench_options, std::cout, std::cerr);
  } catch (const Error& error) {
    cli::print_error("attnscope-cli", error.what());
    return 1;
  }
  return 0;
}
