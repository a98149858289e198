#include "compute_flags.hpp"

#include <limits>
#include <string_view>

#include "attnscope/embeddings.hpp"

namespace attnscope::cli {

void add_compute_options(CLI::App& app, ComputeFlags& flags, bool with_mask) {
  app.add_option("--text", flags.text, "Text to tokenize; its embeddings are seeded unless --embeddings");
  app.add_option("--preset", flags.preset, "A built-in example: book (\"Your journey starts with one step\")")
      ->check(CLI::IsMember({"book"}));
  app.add_option("--embeddings", flags.embeddings_file, "Embeddings file (.npy or .csv), one row per token");
  app.add_option("--tokenizer", flags.tokenizer, "whitespace, words or chars")
      ->check(CLI::IsMember({"whitespace", "words", "chars"}));
  app.add_option("--d-in", flags.d_in, "Width of seeded embeddings (default 3)");
  app.add_option("--embedding-seed", flags.embedding_seed,
                 "Seed of the nn.Embedding table (default: --seed)");
  app.add_option(
      "--mechanism", flags.mechanism,
      "simplified (default), self-attention-v1, self-attention, causal, multihead-wrapper or multihead");
  app.add_option("--d-out", flags.d_out, "Output width (per head for multihead-wrapper; default d_in)");
  app.add_option("--heads", flags.heads, "Number of heads for multihead* (default 2)");
  app.add_flag("--qkv-bias", flags.qkv_bias, "Give the query, key and value projections a bias");
  app.add_option("--dropout", flags.dropout, "Dropout probability on the attention weights, in [0, 1)");
  app.add_option("--seed", flags.seed, "torch.manual_seed before constructing the module (default 123)");
  app.add_option("--dropout-seed", flags.dropout_seed,
                 "torch.manual_seed right before the first dropout draw");
  if (with_mask)
    app.add_option("--mask", flags.mask,
                   "none, causal, window:W, prefix:P or file:PATH (default: per mechanism)");
  app.add_option("--normalize", flags.normalization, "softmax or sum")
      ->check(CLI::IsMember({"softmax", "sum"}));
  app.add_option("--max-tokens", flags.max_tokens, "Refuse texts longer than this (default 16384)")
      ->check(CLI::Range(1, std::numeric_limits<int>::max()));
  app.add_option("--device", flags.device, "cpu, cuda or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
}

void add_model_options(CLI::App& app, ComputeFlags& flags) {
  CLI::Option* model = app.add_option("--model", flags.model,
                                      "A GPT-2 folder (config.json, model.safetensors, vocab.json, "
                                      "merges.txt): run --text through it and show "
                                      "every layer's attention heads");
  CLI::Option* layers = app.add_option(
      "--layers", flags.layers, "With --model: the layers to show, e.g. 0,3,5-7 (0-based; default all)");
  layers->needs(model);
  for (const char* flag :
       {"--preset", "--embeddings", "--tokenizer", "--d-in", "--embedding-seed", "--mechanism", "--d-out",
        "--heads", "--qkv-bias", "--dropout", "--seed", "--dropout-seed", "--normalize"})
    if (CLI::Option* other = app.get_option_no_throw(flag)) model->excludes(other);
}

ComputeRequest apply_flags(const ComputeFlags& flags, ComputeRequest request) {
  if (flags.preset && (flags.text || flags.embeddings_file))
    throw Error("--preset book brings its own text and embeddings: drop --text and --embeddings");
  if (flags.preset) {
    const Preset& book = book_preset();
    request.text = book.text;
    request.tokenizer = TokenizerKind::whitespace;  // the book's tokens are its words
    request.embedding_source = EmbeddingSource::book;
  } else if (flags.text) {
    request.text = *flags.text;
    request.embedding_source = flags.embeddings_file ? EmbeddingSource::file : EmbeddingSource::seeded;
  } else if (flags.embeddings_file) {
    request.text.clear();  // the file's rows are the tokens t0, t1, …
    request.embedding_source = EmbeddingSource::file;
  }
  if (flags.embeddings_file) request.embeddings_file = *flags.embeddings_file;
  if (flags.tokenizer && !flags.preset) request.tokenizer = parse_tokenizer(*flags.tokenizer);
  if (flags.d_in) {
    request.d_in = *flags.d_in;
    // A width asks for a seeded table, unless the book's (or a file's) embeddings were asked for by name.
    if (request.embedding_source == EmbeddingSource::book && !flags.preset)
      request.embedding_source = EmbeddingSource::seeded;
  }
  if (flags.embedding_seed) request.embedding_seed = flags.embedding_seed;
  if (flags.mechanism) request.mechanism = parse_mechanism(*flags.mechanism);
  if (flags.d_out) {
    // The request's d_out 0 means "d_in"; the flag has no such value.
    if (*flags.d_out < 1)
      throw Error("--d-out must be at least 1 (got " + std::to_string(*flags.d_out) + ")");
    request.d_out = *flags.d_out;
  }
  if (flags.heads) request.heads = *flags.heads;
  if (flags.qkv_bias) request.qkv_bias = true;
  if (flags.dropout) {
    request.dropout = *flags.dropout;
    // The request keeps dropout for mechanisms without it (the window disables the field); a flag asking for
    // it is a mistake worth saying.
    if (request.dropout > 0.0 && request.dropout < 1.0 && !has_dropout(request.mechanism))
      throw Error("mechanism '" + std::string(to_string(request.mechanism)) +
                  "' has no dropout (use causal, multihead-wrapper or multihead)");
  }
  if (flags.seed) request.seed = *flags.seed;
  if (flags.dropout_seed) request.dropout_seed = flags.dropout_seed;
  if (flags.normalization) request.normalization = parse_normalization(*flags.normalization);
  if (flags.device) request.device = parse_device(*flags.device);
  if (flags.max_tokens) request.max_tokens = *flags.max_tokens;
  if (flags.mask) request.masks = {MaskSpec::parse(*flags.mask)};
  if (flags.masks) {
    request.masks.clear();
    std::string_view rest = *flags.masks;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      std::string_view part = rest.substr(0, comma);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
      if (!part.empty()) request.masks.push_back(MaskSpec::parse(part));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    if (request.masks.empty()) throw Error("--masks needs at least one mask, e.g. --masks none,causal");
  }
  if (flags.model) request.model = *flags.model;
  if (flags.layers) request.layers = *flags.layers;
  return request;
}

void check_flags_against(const ComputeFlags& flags, const Matrix& embeddings) {
  if (flags.d_in && embeddings.size() > 0 && *flags.d_in != embeddings.cols())
    throw Error("--d-in " + std::to_string(*flags.d_in) + " does not match the embeddings, which are " +
                std::to_string(embeddings.cols()) + " wide");
}

std::string flag_name(RequestField field) {
  switch (field) {
    case RequestField::text:
      return "--text";
    case RequestField::tokenizer:
      return "--tokenizer";
    case RequestField::embeddings:
      return "--embeddings";
    case RequestField::d_in:
      return "--d-in";
    case RequestField::mechanism:
      return "--mechanism";
    case RequestField::d_out:
      return "--d-out";
    case RequestField::heads:
      return "--heads";
    case RequestField::seed:
      return "--seed";
    case RequestField::dropout:
      return "--dropout";
    case RequestField::normalization:
      return "--normalize";
    case RequestField::masks:
      return "--mask";
    case RequestField::device:
      return "--device";
    case RequestField::max_tokens:
      return "--max-tokens";
    case RequestField::model:
      return "--model";
    case RequestField::layers:
      return "--layers";
    case RequestField::general:
      break;
  }
  return "the flags";
}

}  // namespace attnscope::cli
