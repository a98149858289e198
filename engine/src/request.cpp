#include "attnscope/request.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include "attnscope/backend.hpp"
#include "attnscope/embeddings.hpp"
#include "attnscope/error.hpp"
#include "attnscope/quote.hpp"

namespace attnscope {
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

AttentionConfig config_from(const ComputeRequest& request) {
  AttentionConfig config;
  config.mechanism = parse_mechanism(request.mechanism);
  if (request.d_out) {
    if (*request.d_out < 1)
      throw Error("--d-out must be at least 1 (got " + std::to_string(*request.d_out) + ")");
    require_at_most("--d-out", *request.d_out, kMaxWidth);
    config.d_out = *request.d_out;
  }
  if (request.heads) {
    require_at_most("--heads", *request.heads, kMaxHeads);
    config.heads = *request.heads;
  }
  config.qkv_bias = request.qkv_bias;
  config.dropout = request.dropout;
  config.seed = request.seed;
  config.dropout_seed = request.dropout_seed;
  if (request.mask) config.mask = MaskSpec::parse(*request.mask);
  config.normalization = parse_normalization(request.normalization);
  config.max_tokens = request.max_tokens;
  return config;
}

}  // namespace

PreparedInput prepare_input(const ComputeRequest& request) {
  PreparedInput input;
  input.config = config_from(request);
  if (request.preset && (request.text || request.embeddings_file))
    throw Error("--preset book brings its own text and embeddings: drop --text and --embeddings");
  if (request.d_in && *request.d_in < 1)
    throw Error("--d-in must be at least 1 (got " + std::to_string(*request.d_in) + ")");
  if (request.d_in) require_at_most("--d-in", *request.d_in, kMaxWidth);

  if (request.preset) {
    const Preset& book = book_preset();
    input.tokens = tokenize(book.text, TokenizerKind::whitespace);
    input.embeddings = book.embeddings;
  } else if (request.text) {
    input.tokens = tokenize(*request.text, parse_tokenizer(request.tokenizer));
    if (input.tokens.empty()) throw Error("the text is empty: type at least one word");
    if (request.embeddings_file) {
      input.embeddings = load_embeddings(*request.embeddings_file);
      if (input.embeddings.rows() != static_cast<Eigen::Index>(input.tokens.size()))
        throw Error("the embeddings file has " + std::to_string(input.embeddings.rows()) +
                    " rows but the text has " + std::to_string(input.tokens.size()) +
                    " tokens: there must be one row per token");
    } else {
      input.embeddings = seeded_embeddings(texts_of(input.tokens), request.d_in.value_or(3),
                                           request.embedding_seed.value_or(request.seed));
    }
  } else if (request.embeddings_file) {
    input.embeddings = load_embeddings(*request.embeddings_file);
    input.tokens = synthetic_tokens(input.embeddings.rows());
  } else {
    throw Error("nothing to attend over: give --text TEXT, --preset book or --embeddings FILE");
  }
  if (request.d_in && *request.d_in != input.embeddings.cols())
    throw Error("--d-in " + std::to_string(*request.d_in) + " does not match the embeddings, which are " +
                std::to_string(input.embeddings.cols()) + " wide");
  input.config.validate(static_cast<int>(input.embeddings.cols()));
  return input;
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

PreparedModelInput prepare_model_input(const ComputeRequest& request) {
  if (!request.text) throw Error("--model needs --text: the text to run through the model");
  if (parse_device(request.device) == Device::cuda)
    throw Error("--model computes on the CPU: drop --device cuda");
  PreparedModelInput input{Gpt2Model::open(*request.model), {}, {}, {}, "causal"};
  if (request.layers) input.run.layers = parse_layers(*request.layers, input.model.config().n_layer);
  input.run.keep_scores = true;
  if (request.mask) {
    const MaskSpec extra = MaskSpec::parse(*request.mask);
    if (extra.kind != MaskKind::none && extra.kind != MaskKind::causal) {
      input.run.extra_mask = extra;
      input.mask = "causal+" + extra.to_string();
    }
  }
  input.tokens = input.model.tokenizer().tokenize(*request.text);
  if (input.tokens.empty()) throw Error("the text is empty: type at least one word");
  const auto count = input.tokens.size();
  if (count > static_cast<std::size_t>(request.max_tokens))
    throw Error(std::to_string(count) + " tokens is more than the limit of " +
                std::to_string(request.max_tokens) +
                " (each head keeps several n × n matrices); shorten the text or raise the limit");
  const int positions = input.model.config().n_positions;
  if (count > static_cast<std::size_t>(positions))
    throw Error("the text is " + std::to_string(count) + " tokens, more than the model's " +
                std::to_string(positions) + " positions (n_positions): shorten it");
  for (const BpeToken& token : input.tokens) input.ids.push_back(token.id);
  return input;
}

}  // namespace attnscope
