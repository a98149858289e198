#pragma once
// The engine flags shared by attnscope-cli compute and the attnscope app, and the one translation of them
// into a ComputeRequest (engine/include/attnscope/request.hpp): attnscope-cli applies them to the request's
// own defaults, attnscope to the launch view's or a session's request, so a flag means the same in both.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "attnscope/request.hpp"

namespace attnscope::cli {

// The flags as given; unset: not given.
struct ComputeFlags {
  std::optional<std::string> text;
  std::optional<std::string> preset;
  std::optional<std::string> embeddings_file;
  std::optional<std::string> tokenizer;
  std::optional<int> d_in;
  std::optional<std::uint64_t> embedding_seed;
  std::optional<std::string> mechanism;
  std::optional<int> d_out;
  std::optional<int> heads;
  bool qkv_bias = false;
  std::optional<double> dropout;
  std::optional<std::uint64_t> seed;
  std::optional<std::uint64_t> dropout_seed;
  std::optional<std::string> mask;   // attnscope-cli: one mask
  std::optional<std::string> masks;  // attnscope: comma-separated, one grid row each
  std::optional<std::string> normalization;
  std::optional<std::string> device;
  std::optional<int> max_tokens;
  std::optional<std::string> model;
  std::optional<std::string> layers;
};

// Registers --text, --preset, --embeddings, --tokenizer, --d-in, --embedding-seed, --mechanism, --d-out,
// --heads, --qkv-bias, --dropout, --seed, --dropout-seed, --normalize, --max-tokens and --device; `with_mask`
// adds --mask.
void add_compute_options(CLI::App& app, ComputeFlags& flags, bool with_mask);

// Registers --model and --layers; call after add_compute_options. --model excludes the flags that describe a
// chapter 3 mechanism and its input (--preset, --embeddings, --tokenizer, --d-in, --embedding-seed,
// --mechanism, --d-out, --heads, --qkv-bias, --dropout, --seed, --dropout-seed, --normalize), --layers needs
// --model.
void add_model_options(CLI::App& app, ComputeFlags& flags);

// `request` with the given flags applied: --preset book is the book's sentence (whitespace tokens) with the
// book's embeddings; --text gives seeded embeddings, or the --embeddings file's; --embeddings alone names its
// rows t0, t1, …; --d-in turns the book source into a seeded table. Throws Error for values no request can
// hold (an unknown name, --d-out below 1, --preset with --text, dropout for a mechanism without it).
ComputeRequest apply_flags(const ComputeFlags& flags, ComputeRequest request);

// After prepare_input: a --d-in that the embeddings (the book's or a file's) do not have is an error rather
// than ignored. Throws Error.
void check_flags_against(const ComputeFlags& flags, const Matrix& embeddings);

// The request's fields as these flags name them (--d-in, --max-tokens, …), for prepare_input's messages.
std::string flag_name(RequestField field);

}  // namespace attnscope::cli
