#pragma once
// attnscope-cli bench: the attention step's median time on each device and shape, its speed against a plain
// SGEMM of the same work, and how far a GPU's context is from the CPU's.

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "attnscope/config.hpp"

namespace attnscope::cli {

struct BenchOptions {
  std::vector<std::string> devices;  // empty: cpu, and cuda when a device is present
  std::vector<int> tokens{512, 2048};
  int heads = 12;
  int head_dim = 64;
  std::vector<std::string> masks{"none", "causal"};
  int repeat = 5;
  bool json = false;
};

// Registers --device, --tokens, --heads, --head-dim, --mask, --repeat and --json.
void add_bench_options(CLI::App& app, BenchOptions& options);

// --mask as masks: none, causal, window:W or prefix:P (a mask file has no size of its own). Throws Error.
std::vector<MaskSpec> bench_masks(const BenchOptions& options);

// Prints a table (or with --json a JSON array, one object per run) to `out`, notes to `err`. Throws Error.
int run_bench(const BenchOptions& options, std::ostream& out, std::ostream& err);

}  // namespace attnscope::cli
