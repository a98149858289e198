#pragma once
// The engine flags shared by attnscope-cli compute and the attnscope app: CLI11 options that fill a
// ComputeRequest (engine/include/attnscope/request.hpp), which prepare_input turns into the engine's input.

#include <CLI/CLI.hpp>

#include "attnscope/request.hpp"

namespace attnscope::cli {

// Registers --text, --preset, --embeddings, --tokenizer, --d-in, --embedding-seed, --mechanism, --d-out,
// --heads, --qkv-bias, --dropout, --seed, --dropout-seed, --normalize and --device; `with_mask` adds --mask.
void add_compute_options(CLI::App& app, ComputeRequest& request, bool with_mask);

// Registers --model and --layers; call after add_compute_options. --model excludes the flags that describe a
// chapter 3 mechanism and its input (--preset, --embeddings, --tokenizer, --d-in, --embedding-seed,
// --mechanism, --d-out, --heads, --qkv-bias, --dropout, --seed, --dropout-seed, --normalize), --layers needs
// --model.
void add_model_options(CLI::App& app, ComputeRequest& request);

}  // namespace attnscope::cli
