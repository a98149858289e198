#pragma once
// A computation as attnscope-cli compute describes it: text, preset or embeddings file, tokenizer, mechanism,
// sizes, seeds, dropout, bias, normalisation, mask, model, layers, device; and the functions that turn it
// into the engine's input. The field names follow attnscope-cli's flags, and so do the error messages.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "attnscope/bpe_tokenizer.hpp"
#include "attnscope/config.hpp"
#include "attnscope/gpt2.hpp"
#include "attnscope/matrix.hpp"
#include "attnscope/tokenizer.hpp"

namespace attnscope {

struct ComputeRequest {
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
  std::optional<std::string> model;   // --model DIR: a GPT-2 folder; the text goes through its tokenizer
  std::optional<std::string> layers;  // --layers LIST: which of its layers to show (default all)
};

// What the flags describe: the tokens (with their spans when they come from text) and their embeddings.
struct PreparedInput {
  std::vector<Token> tokens;
  Matrix embeddings;
  AttentionConfig config;
};

// Validates the combination and builds the input. Throws Error with a one-line reason.
PreparedInput prepare_input(const ComputeRequest& request);

// What --model and --text describe: the model, the text's BPE tokens and how to run it.
struct PreparedModelInput {
  Gpt2Model model;
  std::vector<BpeToken> tokens;
  std::vector<int> ids;
  Gpt2RunOptions run;  // keep_scores on, the --layers selection, --mask on top of the causal mask
  std::string mask;    // as the JSON names it: "causal", or "causal+window:3"
};

// Opens --model, tokenizes --text and checks --layers, --mask, --device and --max-tokens. Throws Error.
PreparedModelInput prepare_model_input(const ComputeRequest& request);

// "all", or layer numbers and ranges separated by commas, e.g. "0,3,5-7" (0-based, each in [0, layer_count)),
// in ascending order without repeats. Throws Error naming --layers.
std::vector<int> parse_layers(std::string_view text, int layer_count);

}  // namespace attnscope
