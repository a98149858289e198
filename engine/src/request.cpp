#include "attnscope/request.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include "attnscope/embeddings.hpp"
#include "attnscope/mask.hpp"
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
  texts.reserve(tokens.size());
  for (const auto& token : tokens) texts.push_back(token.text);
  return texts;
}

// Beyond these the embeddings and weights would not fit in memory, and the computation would end in
// std::bad_alloc instead of a message.
constexpr int kMaxWidth = 4096;
constexpr int kMaxHeads = 256;

void require_range(RequestField field, FieldNames names, int value, int minimum, int maximum) {
  if (value < minimum)
    throw RequestError(field, names(field) + " must be at least " + std::to_string(minimum) + " (got " +
                                  std::to_string(value) + ")");
  if (value > maximum)
    throw RequestError(field, names(field) + " must be at most " + std::to_string(maximum) + " (got " +
                                  std::to_string(value) + ")");
}

std::string divisors_of(int number) {
  std::string divisors;
  int listed = 0;
  for (int d = 1; d <= number && listed < 6; ++d)
    if (number % d == 0) divisors += (listed++ ? ", " : "") + std::to_string(d);
  return divisors;
}

Matrix load_embeddings_of(const ComputeRequest& request) {
  if (request.embeddings_file.empty())
    throw RequestError(RequestField::embeddings,
                       "choose an embeddings file (.npy or .csv, one row per token)");
  try {
    return load_embeddings(request.embeddings_file);
  } catch (const Error& error) {
    throw RequestError(RequestField::embeddings, error.what());
  }
}

// The tokens' embeddings as the request's source gives them; `from` says where they came from.
Matrix embeddings_for(const ComputeRequest& request, const std::vector<Token>& tokens, FieldNames names,
                      EmbeddingSource& from) {
  const std::uint64_t seed = request.embedding_seed.value_or(request.seed);
  if (request.compared_with && request.embedding_source != EmbeddingSource::file) {
    ComputeRequest base = request;
    base.text = *request.compared_with;
    base.compared_with.reset();
    std::vector<Token> base_tokens;
    try {
      base_tokens = tokenize(base.text, base.tokenizer);
    } catch (const Error& error) {
      throw RequestError(RequestField::text, error.what());
    }
    EmbeddingSource base_from = EmbeddingSource::seeded;
    const Matrix base_embeddings =
        base_tokens.empty() ? Matrix() : embeddings_for(base, base_tokens, names, base_from);
    if (!base_tokens.empty()) {
      from = EmbeddingSource::seeded;
      return compared_embeddings(texts_of(tokens), texts_of(base_tokens), base_embeddings,
                                 base_from == EmbeddingSource::seeded, seed);
    }
  }
  switch (request.embedding_source) {
    case EmbeddingSource::book: {
      const Preset& book = book_preset();
      if (texts_of(tokens) == book.tokens) {
        from = EmbeddingSource::book;
        return book.embeddings;
      }
      // The book's table covers only its sentence: any other text gets the table the book's width seeds.
      from = EmbeddingSource::seeded;
      return seeded_embeddings(texts_of(tokens), static_cast<int>(book.embeddings.cols()), seed);
    }
    case EmbeddingSource::seeded:
      require_range(RequestField::d_in, names, request.d_in, 1, kMaxWidth);
      from = EmbeddingSource::seeded;
      return seeded_embeddings(texts_of(tokens), request.d_in, seed);
    case EmbeddingSource::file: {
      Matrix embeddings = load_embeddings_of(request);
      if (embeddings.rows() != static_cast<Eigen::Index>(tokens.size()))
        throw RequestError(RequestField::embeddings,
                           printable(request.embeddings_file) + " has " + std::to_string(embeddings.rows()) +
                               " rows but the text has " + std::to_string(tokens.size()) +
                               " tokens: there must be one row per token");
      from = EmbeddingSource::file;
      return embeddings;
    }
  }
  return {};
}

AttentionConfig config_for(const ComputeRequest& request, int d_in, FieldNames names) {
  AttentionConfig config;
  config.mechanism = request.mechanism;
  config.d_out = request.d_out;
  config.heads = request.heads;
  config.qkv_bias = request.qkv_bias;
  // A mechanism without dropout keeps the value for when one with dropout is chosen again.
  config.dropout = has_dropout(request.mechanism) ? request.dropout : 0.0;
  config.seed = request.seed;
  config.dropout_seed = request.dropout_seed;
  config.normalization = request.normalization;
  config.max_tokens = request.max_tokens;
  if (request.masks.size() == 1) config.mask = request.masks.front();

  require_range(RequestField::d_out, names, request.d_out, 0, kMaxWidth);
  const bool multihead =
      request.mechanism == Mechanism::multihead || request.mechanism == Mechanism::multihead_wrapper;
  if (multihead && request.heads < 1)
    throw RequestError(RequestField::heads,
                       "heads must be at least 1 (got " + std::to_string(request.heads) + ")");
  if (multihead) require_range(RequestField::heads, names, request.heads, 1, kMaxHeads);
  const int d_out = config.effective_d_out(d_in);
  if (request.mechanism == Mechanism::multihead && d_out % request.heads != 0)
    throw RequestError(
        RequestField::heads,
        std::to_string(request.heads) + " heads do not divide d_out = " + std::to_string(d_out) +
            ": heads must divide d_out for multihead, which gives each head d_out / heads "
            "columns; choose " +
            divisors_of(d_out) + " heads, or a d_out that " + std::to_string(request.heads) + " divides");
  if (!(request.dropout >= 0.0 && request.dropout < 1.0))
    throw RequestError(RequestField::dropout,
                       "dropout must be in [0, 1) (got " + std::to_string(request.dropout) + ")");
  try {
    config.validate(d_in);
  } catch (const Error& error) {
    throw RequestError(RequestField::general, error.what());
  }
  return config;
}

}  // namespace

void check_token_limit(std::size_t count, const ComputeRequest& request, FieldNames names) {
  if (count <= static_cast<std::size_t>(request.max_tokens)) return;
  const std::string limit = std::to_string(request.max_tokens);
  const std::string flag = names(RequestField::max_tokens);
  // A front end without a way to raise the limit names no field for it.
  throw RequestError(RequestField::text,
                     std::to_string(count) + " tokens is more than the limit of " + limit +
                         (flag.empty() ? std::string() : " (" + flag + " " + limit + ")") +
                         ": each head keeps several n × n matrices; shorten the text" +
                         (flag.empty() ? " or choose a coarser tokenizer" : " or raise the limit"));
}

std::string_view to_string(EmbeddingSource source) {
  switch (source) {
    case EmbeddingSource::book:
      return "book";
    case EmbeddingSource::seeded:
      return "seeded";
    case EmbeddingSource::file:
      return "file";
  }
  return "seeded";
}

EmbeddingSource parse_embedding_source(std::string_view name) {
  for (const EmbeddingSource source : {EmbeddingSource::book, EmbeddingSource::seeded, EmbeddingSource::file})
    if (to_string(source) == name) return source;
  throw Error("unknown embedding source " + quote(name) + " (expected book, seeded or file)");
}

std::string setting_name(RequestField field) {
  switch (field) {
    case RequestField::text:
      return "text";
    case RequestField::tokenizer:
      return "tokenizer";
    case RequestField::embeddings:
      return "embeddings";
    case RequestField::d_in:
      return "d_in";
    case RequestField::mechanism:
      return "mechanism";
    case RequestField::d_out:
      return "d_out";
    case RequestField::heads:
      return "heads";
    case RequestField::seed:
      return "seed";
    case RequestField::dropout:
      return "dropout";
    case RequestField::normalization:
      return "normalize";
    case RequestField::masks:
      return "masks";
    case RequestField::device:
      return "device";
    case RequestField::max_tokens:
      return "";  // the window has no setting for it: its limit is the engine's default
    case RequestField::model:
      return "model";
    case RequestField::layers:
      return "layers";
    case RequestField::general:
      break;
  }
  return "settings";
}

PreparedInput prepare_input(const ComputeRequest& request, FieldNames names) {
  PreparedInput input;
  input.masks = request.masks;
  try {
    input.tokens = tokenize(request.text, request.tokenizer);
  } catch (const Error& error) {
    throw RequestError(RequestField::text, error.what());
  }
  Matrix file_rows;
  if (input.tokens.empty() && request.text.empty() && request.embedding_source == EmbeddingSource::file) {
    // Without a text an embeddings file names its own tokens.
    file_rows = load_embeddings_of(request);
    input.tokens = synthetic_tokens(file_rows.rows());
  }
  if (input.tokens.empty()) return input;
  check_token_limit(input.tokens.size(), request, names);

  if (file_rows.size() > 0) {
    input.embeddings = std::move(file_rows);
    input.embeddings_from = EmbeddingSource::file;
  } else {
    input.embeddings = embeddings_for(request, input.tokens, names, input.embeddings_from);
  }
  input.config = config_for(request, static_cast<int>(input.embeddings.cols()), names);
  // A mask file is read here, so that a bad file is reported against the masks rather than as a failure of
  // the computation.
  for (const MaskSpec& mask : input.masks) {
    if (mask.kind != MaskKind::file) continue;
    try {
      build_mask(mask, static_cast<Eigen::Index>(input.tokens.size()));
    } catch (const Error& error) {
      throw RequestError(RequestField::masks, error.what());
    }
  }
  return input;
}

std::vector<int> parse_layers(std::string_view text, int layer_count, FieldNames names) {
  const auto fail = [&](const std::string& problem) -> void {
    throw RequestError(RequestField::layers,
                       names(RequestField::layers) + " " + printable(text) + ": " + problem);
  };
  std::set<int> layers;
  if (text == "all" || text.empty()) {
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

std::string model_mask_name(const MaskSpec& mask) {
  if (mask.kind == MaskKind::none || mask.kind == MaskKind::causal) return "causal";
  return "causal+" + mask.to_string();
}

PreparedModelInput prepare_model_input(const ComputeRequest& request, FieldNames names) {
  if (request.device == Device::cuda)
    throw RequestError(RequestField::device, names(RequestField::model) + " computes on the CPU: drop " +
                                                 names(RequestField::device) + " cuda");
  if (request.masks.size() > 1)
    throw RequestError(RequestField::masks, "a model run takes one mask on top of its causal mask");
  PreparedModelInput input{Gpt2Model::open(request.model), {}, {}, {}, "causal"};
  if (!request.layers.empty())
    input.run.layers = parse_layers(request.layers, input.model.config().n_layer, names);
  input.run.keep_scores = true;
  if (!request.masks.empty()) {
    const MaskSpec& extra = request.masks.front();
    if (extra.kind != MaskKind::none && extra.kind != MaskKind::causal) input.run.extra_mask = extra;
    input.mask = model_mask_name(extra);
  }
  try {
    input.tokens = input.model.tokenizer().tokenize(request.text);
  } catch (const Error& error) {
    throw RequestError(RequestField::text, error.what());
  }
  if (input.tokens.empty())
    throw RequestError(RequestField::text, "the text is empty: type at least one word");
  const auto count = input.tokens.size();
  check_token_limit(count, request, names);
  const int positions = input.model.config().n_positions;
  if (count > static_cast<std::size_t>(positions))
    throw RequestError(RequestField::text, "the text is " + std::to_string(count) +
                                               " tokens, more than the model's " + std::to_string(positions) +
                                               " positions (n_positions): shorten it");
  for (const BpeToken& token : input.tokens) input.ids.push_back(token.id);
  return input;
}

}  // namespace attnscope
