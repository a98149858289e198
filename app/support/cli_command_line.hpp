#pragma once
// attnscope-cli's command line as one parser, so that tests/fuzz parses exactly what attnscope-cli parses.

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

#include "bench/bench.hpp"
#include "support/compute_flags.hpp"

namespace attnscope::cli {

// compute --format and --output, and what to add to the result: --stats, --geometry, --probe, --rollout and
// --compare-text.
struct OutputOptions {
  std::string format = "json";
  std::optional<std::string> output;
  bool stats = false;
  bool geometry = false;             // JSON only
  std::optional<std::string> probe;  // QUERY:KEY, 0-based token indices
  bool rollout = false;
  std::optional<std::string> compare_text;  // input B, run with A's settings
};

// What the command line asks for. After a parse, exactly one of the subcommands is true.
struct CliCommandLine {
  ComputeFlags compute_flags;
  OutputOptions output_options;
  BenchOptions bench_options;
  CLI::App* compute = nullptr;
  CLI::App* devices = nullptr;
  CLI::App* bench = nullptr;
};

// attnscope-cli's parser: its description, --version, and the subcommands compute, devices and bench with
// their options, which write into `line`; `line` must outlive the parser.
std::unique_ptr<CLI::App> make_cli_app(CliCommandLine& line);

}  // namespace attnscope::cli
