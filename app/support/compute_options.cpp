#include "compute_options.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include "attnscope/backend.hpp"
#include "attnscope/embeddings.hpp"
#include "attnscope/error.hpp"
#include "attnscope/quote.hpp"

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

// The desktop app's bounds: beyond them the embeddings and weights would not fit in memory, and attnscope-cli
// would end in std::bad_alloc instead of a message.
constexpr int kMaxWidth = 4096;
constexpr int kMaxHeads = 256;

void require_at_most(const char* flag, int value, int maximum) {
  if (value > maximum)
    throw Error(std::string(flag) + " must be at most " + std::to_string(maximum) + " (got " +
                std::to_string(value) + ")");
}

AttentionConfig config_from(const ComputeOptions& options) {
  AttentionConfig config;
  config.mechanism = parse_mechanism(options.mechanism);
  if (options.d_out) {
    if (*options.d_out < 1)
      throw Error("--d-out must be at least 1 (got " + std::to_string(*options.d_out) + ")");
    require_at_most("--d-out", *options.d_out, kMaxWidth);
    config.d_out = *options.d_out;
  }
  if (options.heads) {
    require_at_most("--heads", *options.heads, kMaxHeads);
    config.heads = *options.heads;
  }
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
  if (options.d_in) require_at_most("--d-in", *options.d_in, kMaxWidth);

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

void add_model_options(CLI::App& app, ComputeOptions& options) {
  CLI::Option* model = app.add_option("--model", options.model,
                                      "A GPT-2 folder (config.json, model.safetensors, vocab.json, "
                                      "merges.txt): run --text through it and show "
                                      "every layer's attention heads");
  CLI::Option* layers = app.add_option(
      "--layers", options.layers, "With --model: the layers to show, e.g. 0,3,5-7 (0-based; default all)");
  layers->needs(model);
  for (const char* flag :
       {"--preset", "--embeddings", "--tokenizer", "--d-in", "--embedding-seed", "--mechanism", "--d-out",
        "--heads", "--qkv-bias", "--dropout", "--seed", "--dropout-seed", "--normalize"})
    if (CLI::Option* other = app.get_option_no_throw(flag)) model->excludes(other);
}

std::vector<int> parse_layers(std::string_view text, int layer_count) {
  const auto fail = [&](const std::string& problem) -> void {
    throw Error("--layers " + printable(text) + ": " + problem);
  };
  std::set<int> layers;
  if (text == "all") {
    for (int l = 0; l < layer_count; ++l) layers.insert(l);
    return {layers.begin(), layers.end()};
  }
  const auto number = [&](std::string_view part) {
    int value = -1;
    const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || error != std::errc() || end != part.data() + part.size() || value < 0)
      fail(quote(part) + " is not a layer number (0-based) or a range like 5-7");
    if (value >= layer_count)
      fail("layer " + std::to_string(value) + " does not exist: the model's layers are 0 to " +
           std::to_string(layer_count - 1));
    return value;
  };
  std::string_view rest = text;
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view part = rest.substr(0, comma);
    const auto dash = part.find('-');
    const int first = number(part.substr(0, dash));
    const int last = dash == std::string_view::npos ? first : number(part.substr(dash + 1));
    if (last < first) fail("the range " + printable(part) + " runs backwards");
    for (int l = first; l <= last; ++l)
      if (!layers.insert(l).second) fail("layer " + std::to_string(l) + " is listed twice");
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return {layers.begin(), layers.end()};
}

PreparedModelInput prepare_model_input(const ComputeOptions& options) {
  if (!options.text) throw Error("--model needs --text: the text to run through the model");
  if (parse_device(options.device) == Device::cuda)
    throw Error("--model computes on the CPU: drop --device cuda");
  PreparedModelInput input{Gpt2Model::open(*options.model), {}, {}, {}, "causal"};
  if (options.layers) input.run.layers = parse_layers(*options.layers, input.model.config().n_layer);
  input.run.keep_scores = true;
  if (options.mask) {
    const MaskSpec extra = MaskSpec::parse(*options.mask);
    if (extra.kind != MaskKind::none && extra.kind != MaskKind::causal) {
      input.run.extra_mask = extra;
      input.mask = "causal+" + extra.to_string();
    }
  }
  input.tokens = input.model.tokenizer().tokenize(*options.text);
  if (input.tokens.empty()) throw Error("the text is empty: type at least one word");
  const auto count = input.tokens.size();
  if (count > static_cast<std::size_t>(options.max_tokens))
    throw Error(std::to_string(count) + " tokens is more than the limit of " +
                std::to_string(options.max_tokens) +
                " (each head keeps several n × n matrices); shorten the text or raise the limit");
  const int positions = input.model.config().n_positions;
  if (count > static_cast<std::size_t>(positions))
    throw Error("the text is " + std::to_string(count) + " tokens, more than the model's " +
                std::to_string(positions) + " positions (n_positions): shorten it");
  for (const BpeToken& token : input.tokens) input.ids.push_back(token.id);
  return input;
}

}  // namespace attnscope::cli
