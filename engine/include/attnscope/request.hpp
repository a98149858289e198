#pragma once
// One computation, as every front end describes it: attnscope-cli compute fills it from its flags, the
// headless `attnscope --export` from the same flags on top of the window's settings, and the window from its
// settings panel. prepare_input is the only place that turns it into the engine's input, so the three agree
// on every default and meaning.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attnscope/backend.hpp"
#include "attnscope/bpe_tokenizer.hpp"
#include "attnscope/config.hpp"
#include "attnscope/error.hpp"
#include "attnscope/gpt2.hpp"
#include "attnscope/matrix.hpp"
#include "attnscope/tokenizer.hpp"

namespace attnscope {

// Where the token embeddings come from.
enum class EmbeddingSource {
  book,  // the book's 6 × 3 embeddings while the tokens are the book's sentence, else a seeded table, d_in 3
  seeded,  // torch.manual_seed(embedding_seed); nn.Embedding(V, d_in)
  file,    // a .npy or .csv with one row per token; without a text its rows are the tokens t0, t1, …
};

// The values are attnscope-cli's defaults; the window starts from a named request of its own (the launch
// view: multihead, 2 heads, d_out 4, masks none and causal).
struct ComputeRequest {
  std::string text;  // UTF-8
  TokenizerKind tokenizer = TokenizerKind::whitespace;
  EmbeddingSource embedding_source = EmbeddingSource::seeded;
  int d_in = 3;                                 // seeded tables only
  std::optional<std::uint64_t> embedding_seed;  // default: seed
  std::string embeddings_file;                  // EmbeddingSource::file only
  // Compare: the text this one is compared with (A's). With a book or seeded table, the words A has then keep
  // A's embeddings and the others get a table drawn after A's (compared_embeddings), so that "tired" and
  // "wide" differ while the words both texts share do not.
  std::optional<std::string> compared_with;

  Mechanism mechanism =
      Mechanism::simplified;  // the chapter's first example, which the book preset reproduces
  int d_out = 0;              // 0: the same as d_in
  int heads = 2;              // multihead-wrapper and multihead
  bool qkv_bias = false;
  double dropout = 0.0;  // used by the mechanisms that have dropout, kept (unused) by the others
  std::uint64_t seed = 123;
  std::optional<std::uint64_t> dropout_seed;
  Normalization normalization = Normalization::softmax;
  // One result each, in this order; none: the mechanism's own (causal for causal and multihead*, else none).
  std::vector<MaskSpec> masks;

  Device device = Device::cpu;
  int max_tokens = AttentionConfig{}.max_tokens;

  // A GPT-2 folder; empty: a chapter 3 mechanism. With a model the text goes through its BPE and the
  // tokenizer, embeddings, mechanism, sizes, seeds, dropout and normalisation do not apply.
  std::string model;
  std::string layers;  // the model's layers to run: "all" (or empty) or e.g. "0,3,5-7" (0-based)

  friend bool operator==(const ComputeRequest&, const ComputeRequest&) = default;
};

std::string_view to_string(EmbeddingSource source);             // book | seeded | file
EmbeddingSource parse_embedding_source(std::string_view name);  // throws Error listing the names

// The field of a request a problem is about, so that a front end can show it where that field is set.
enum class RequestField {
  text,
  tokenizer,
  embeddings,
  d_in,
  mechanism,
  d_out,
  heads,
  seed,
  dropout,
  normalization,
  masks,
  device,
  max_tokens,
  model,
  layers,
  general,  // not tied to one field
};

// How a front end names the fields in its messages: attnscope-cli by its flags (--d-in), the window by its
// settings (d_in). Only the fields whose names appear in messages are asked for.
using FieldNames = std::string (*)(RequestField field);
std::string setting_name(RequestField field);  // d_in, d_out, heads, …; "" for max_tokens (no setting)

// An Error that knows which field of the request can fix it.
class RequestError : public Error {
 public:
  RequestError(RequestField field, const std::string& message) : Error(message), m_field(field) {}
  RequestField field() const { return m_field; }

 private:
  RequestField m_field;
};

// What a request describes: the tokens (with their spans in the text) and their embeddings.
struct PreparedInput {
  std::vector<Token> tokens;  // empty when the text has none (and no embeddings file names them)
  Matrix embeddings;          // tokens × d_in
  // Where the embeddings came from: book, or seeded also where the book source fell back to a seeded table.
  EmbeddingSource embeddings_from = EmbeddingSource::seeded;
  AttentionConfig config;       // mask: the request's only mask, unset with none or several
  std::vector<MaskSpec> masks;  // the request's masks, each checked (a mask file read) against the tokens
};

// Validates the request and builds its input; throws RequestError naming the field at fault (`names` says
// how). A text without tokens gives an input without tokens: the window shows a hint, attnscope-cli an error.
PreparedInput prepare_input(const ComputeRequest& request, FieldNames names = setting_name);

// Throws RequestError(text) when `count` tokens are more than request.max_tokens, naming the limit's field as
// `names` does (a front end without one suggests a coarser tokenizer instead).
void check_token_limit(std::size_t count, const ComputeRequest& request, FieldNames names = setting_name);

// What a model request describes: the model, the text's BPE tokens and how to run it.
struct PreparedModelInput {
  Gpt2Model model;
  std::vector<BpeToken> tokens;
  std::vector<int> ids;
  Gpt2RunOptions run;  // keep_scores on, the layers, the request's mask on top of the causal mask
  std::string mask;    // as the JSON names it: "causal", or "causal+window:3"
};

// A model run's mask as results name it: "causal" (none and causal are both the model's own), or the mask on
// top of it, "causal+window:3".
std::string model_mask_name(const MaskSpec& mask);

// Opens request.model, tokenizes the text and checks layers, masks (at most one), device and max_tokens.
// Throws Error.
PreparedModelInput prepare_model_input(const ComputeRequest& request, FieldNames names = setting_name);

// "all", or layer numbers and ranges separated by commas, e.g. "0,3,5-7" (0-based, each in [0, layer_count)),
// in ascending order without repeats. Throws RequestError(layers), naming the field as `names` does.
std::vector<int> parse_layers(std::string_view text, int layer_count, FieldNames names = setting_name);

}  // namespace attnscope
