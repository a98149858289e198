#include "support/cli_command_line.hpp"

namespace attnscope::cli {

std::unique_ptr<CLI::App> make_cli_app(CliCommandLine& line) {
  auto app = std::make_unique<CLI::App>(
      "attnscope-cli: the attention mechanisms of chapter 3 of Build a Large Language Model (From "
      "Scratch), computed exactly as PyTorch does",
      "attnscope-cli");
  app->require_subcommand(1);
  app->set_version_flag("--version", std::string("attnscope-cli ") + ATTNSCOPE_VERSION);

  line.compute = app->add_subcommand("compute", "Compute one mechanism and print every intermediate");
  add_compute_options(*line.compute, line.compute_flags, true);
  add_model_options(*line.compute, line.compute_flags);
  line.compute->add_option("--format", line.output_options.format, "json or csv")
      ->check(CLI::IsMember({"json", "csv"}));
  line.compute->add_option("--output", line.output_options.output,
                           "Write to FILE instead of standard output");
  line.compute->add_flag("--stats", line.output_options.stats,
                         "Add each head's statistics (entropy, focus, first-token, self and previous-token "
                         "shares); with --format csv, print one line per head instead of the cells");
  line.compute->add_flag(
      "--geometry", line.output_options.geometry,
      "Add each head's queries and keys as 2-D points (the vectors themselves for head_dim 2, "
      "else their first two principal components) and the variance they explain; JSON only");
  line.compute->add_option("--probe", line.output_options.probe,
                           "QUERY:KEY (0-based tokens): add every head's weight from that query to that key, "
                           "strongest first");
  line.compute->add_option("--compare-text", line.output_options.compare_text,
                           "TEXT: add, per head, how the text's weights differ from TEXT's under the same "
                           "settings (A − B over the first min(n_A, n_B) tokens, and the total variation); "
                           "with --format csv, print one line per head instead of the cells");
  line.compute
      ->add_flag("--rollout", line.output_options.rollout,
                 "With --model: add attention rollout (Abnar & Zuidema, 2020) up to each printed layer")
      ->needs(line.compute->get_option("--model"));

  line.devices = app->add_subcommand("devices", "List the compute backends and why one is unavailable");

  line.bench = app->add_subcommand(
      "bench",
      "Time the attention step (scores, mask, softmax, weights kept, context; no projections) per device");
  add_bench_options(*line.bench, line.bench_options);
  return app;
}

}  // namespace attnscope::cli
