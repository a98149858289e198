#include "compute_options.hpp"

#include <algorithm>

#include "attnscope/embeddings.hpp"
#include "attnscope/error.hpp"

namespace attnscope::cli {
namespace {

std::vector<Token> synthetic_tokens(Eigen::Index count) {
  std::vector<Token> tokens;
  for (Eigen::Index i = 0; i < count; ++i) tokens.push_back(Token{"t" + std::to_string(i), 0, 0, 0, 0});
  return tokens;
}

std::vector<std::string> texts_of(const std::vector<Token>& tokens) {
  std::vector<std::string> texts;
  for (const auto& token : tokens) texts.push_back(token.text);
  return texts;
}

AttentionConfig config_from(const ComputeOptions& options) {
  AttentionConfig config;
  config.mechanism = parse_mechanism(options.mechanism);
  if (options.d_out) {
    if (*options.d_out < 1)
      throw Error("--d-out must be at least 1 (got " + std::to_string(*options.d_out) + ")");
    config.d_out = *options.d_out;
  }
  if (options.heads) config.heads = *options.heads;
  config.qkv_bias = options.qkv_bias;
  config.dropout = options.dropout;
  config.seed = options.seed;
  config.dropout_seed = options.dropout_seed;
  if (options.mask) config.mask = MaskSpec::parse(*options.mask);
  config.normalization = parse_normalization(options.normalization);
  config.max_tokens = options.max_tokens;
  return config;
}

}  // namespace

void add_compute_options(CLI::App& app, ComputeOptions& options, bool with_mask) {
  app.add_option("--text", options.text, "Text to tokenize; its embeddings are seeded unless --embeddings");
  app.add_option("--preset", options.preset,
                 "A built-in example: book (\"Your journey starts with one step\")")
      ->check(CLI::IsMember({"book"}));
  app.add_option("--embeddings", options.embeddings_file,
                 "Embeddings file (.npy or .csv), one row per token");
  app.add_option("--tokenizer", options.tokenizer, "whitespace, words or chars")
      ->check(CLI::IsMember({"whitespace", "words", "chars"}));
  app.add_option("--d-in", options.d_in, "Width of seeded embeddings (default 3)");
  app.add_option("--embedding-seed", options.embedding_seed,
                 "Seed of the nn.Embedding table (default: --seed)");
  app.add_option(
      "--mechanism", options.mechanism,
      "simplified (default), self-attention-v1, self-attention, causal, multihead-wrapper or multihead");
  app.add_option("--d-out", options.d_out, "Output width (per head for multihead-wrapper; default d_in)");
  app.add_option("--heads", options.heads, "Number of heads for multihead* (default 2)");
  app.add_flag("--qkv-bias", options.qkv_bias, "Give the query, key and value projections a bias");
  app.add_option("--dropout", options.dropout, "Dropout probability on the attention weights, in [0, 1)");
  app.add_option("--seed", options.seed, "torch.manual_seed before constructing the module (default 123)");
  app.add_option("--dropout-seed", options.dropout_seed,
                 "torch.manual_seed right before the first dropout draw");
  if (with_mask)
    app.add_option("--mask", options.mask,
                   "none, causal, window:W, prefix:P or file:PATH (default: per mechanism)");
  app.add_option("--normalize", options.normalization, "softmax or sum")
      ->check(CLI::IsMember({"softmax", "sum"}));
  app.add_option("--max-tokens", options.max_tokens, "Refuse texts longer than this (default 16384)")
      ->check(CLI::PositiveNumber);
  app.add_option("--device", options.device, "cpu, cuda or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
}

PreparedInput prepare_input(const ComputeOptions& options) {
  PreparedInput input;
  input.config = config_from(options);
  if (options.preset && (options.text || options.embeddings_file))
    throw Error("--preset book brings its own text and embeddings: drop --text and --embeddings");
  if (options.d_in && *options.d_in < 1)
    throw Error("--d-in must be at least 1 (got " + std::to_string(*options.d_in) + ")");

  if (options.preset) {
    const Preset& book = book_preset();
    input.tokens = tokenize(book.text, TokenizerKind::whitespace);
    input.embeddings = book.embeddings;
  } else if (options.text) {
    input.tokens = tokenize(*options.text, parse_tokenizer(options.tokenizer));
    if (input.tokens.empty()) throw Error("the text is empty: type at least one word");
    if (options.embeddings_file) {
      input.embeddings = load_embeddings(*options.embeddings_file);
      if (input.embeddings.rows() != static_cast<Eigen::Index>(input.tokens.size()))
        throw Error("the embeddings file has " + std::to_string(input.embeddings.rows()) +
                    " rows but the text has " + std::to_string(input.tokens.size()) +
                    " tokens: there must be one row per token");
    } else {
      input.embeddings = seeded_embeddings(texts_of(input.tokens), options.d_in.value_or(3),
                                           options.embedding_seed.value_or(options.seed));
    }
  } else if (options.embeddings_file) {
    input.embeddings = load_embeddings(*options.embeddings_file);
    input.tokens = synthetic_tokens(input.embeddings.rows());
  } else {
    throw Error("nothing to attend over: give --text TEXT, --preset book or --embeddings FILE");
  }
  if (options.d_in && *options.d_in != input.embeddings.cols())
    throw Error("--d-in " + std::to_string(*options.d_in) + " does not match the embeddings, which are " +
                std::to_string(input.embeddings.cols()) + " wide");
  input.config.validate(static_cast<int>(input.embeddings.cols()));
  return input;
}

}  // namespace attnscope::cli
