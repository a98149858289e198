#pragma once
// The engine flags shared by attnscope-cli compute and the attnscope app, and turning them into an input.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "attnscope/config.hpp"
#include "attnscope/matrix.hpp"
#include "attnscope/tokenizer.hpp"

namespace attnscope::cli {

struct ComputeOptions {
  std::optional<std::string> text;
  std::optional<std::string> preset;
  std::optional<std::string> embeddings_file;
  std::string tokenizer = "whitespace";
  std::optional<int> d_in;
  std::optional<std::uint64_t> embedding_seed;
  std::string mechanism = "simplified";  // the chapter's first example, which the book preset reproduces
  std::optional<int> d_out;
  std::optional<int> heads;
  bool qkv_bias = false;
  double dropout = 0.0;
  std::uint64_t seed = 123;
  std::optional<std::uint64_t> dropout_seed;
  std::optional<std::string> mask;
  std::string normalization = "softmax";
  std::string device = "cpu";
  int max_tokens = AttentionConfig{}.max_tokens;
};

// What the flags describe: the tokens (with their spans when they come from text) and their embeddings.
struct PreparedInput {
  std::vector<Token> tokens;
  Matrix embeddings;
  AttentionConfig config;
};

// Registers --text, --preset, --embeddings, --tokenizer, --d-in, --embedding-seed, --mechanism, --d-out,
// --heads, --qkv-bias, --dropout, --seed, --dropout-seed, --normalize and --device; `with_mask` adds --mask.
void add_compute_options(CLI::App& app, ComputeOptions& options, bool with_mask);

// Validates the combination and builds the input. Throws Error with a one-line reason.
PreparedInput prepare_input(const ComputeOptions& options);

}  // namespace attnscope::cli
