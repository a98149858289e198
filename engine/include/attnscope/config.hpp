#pragma once
// What to compute: the mechanism of chapter 3, its sizes and seeds, the mask and the normalisation.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attnscope {

enum class Mechanism {
  simplified,         // scores = x·xᵀ, no trainable weights, no scaling
  self_attention_v1,  // SelfAttention_v1: W_q, W_k, W_v = torch.rand(d_in, d_out)
  self_attention,     // SelfAttention_v2: three nn.Linear(d_in, d_out, bias=qkv_bias)
  causal,             // CausalAttention: v2 + causal mask + dropout
  multihead_wrapper,  // MultiHeadAttentionWrapper: H CausalAttention heads, each d_out wide, concatenated
  multihead,          // MultiHeadAttention: heads split d_out, then out_proj
};

enum class Normalization { softmax, sum };

enum class MaskKind {
  none,
  causal,  // key j hidden from query i when j > i
  window,  // causal, and only the `size` most recent keys (the query's own included)
  prefix,  // prefix-LM: keys before `size` visible to every query, the rest causal
  file,    // a 0/1 matrix read from `path`, 1 = hidden
};

struct MaskSpec {
  MaskKind kind = MaskKind::none;
  int size = 0;      // W for window, P for prefix
  std::string path;  // for file

  // Parses none | causal | window:W | prefix:P | file:PATH; throws Error with the reason.
  static MaskSpec parse(std::string_view text);
  std::string to_string() const;
  friend bool operator==(const MaskSpec&, const MaskSpec&) = default;
};

struct AttentionConfig {
  Mechanism mechanism = Mechanism::multihead;
  int d_out = 0;  // 0: the same as d_in. For multihead_wrapper each head's width, for multihead the total.
  int heads = 2;  // used by multihead_wrapper and multihead
  bool qkv_bias = false;
  double dropout = 0.0;                       // in [0, 1)
  std::uint64_t seed = 123;                   // torch.manual_seed before constructing the module
  std::optional<std::uint64_t> dropout_seed;  // torch.manual_seed right before the first dropout draw
  std::optional<MaskSpec> mask;               // default: causal for causal and multihead*, else none
  Normalization normalization = Normalization::softmax;
  // What the result keeps: raw scores are n² floats per head that a viewer can recompute from Q and K.
  bool keep_scores = true;
  // Also return each head's per-row statistics terms (HeadResult::row_stats), which a viewer that shows the
  // head statistics needs: the CPU backend computes them with the weights, at a fraction of a later pass.
  bool row_stats = false;
  // More tokens than this is an error (the result holds several n × n matrices per head).
  int max_tokens = 16384;

  // Throws Error naming the first invalid field for an input of `d_in` columns.
  void validate(int d_in) const;
  MaskSpec effective_mask() const;
  int effective_d_out(int d_in) const { return d_out > 0 ? d_out : d_in; }
  int head_count() const;        // 1 for the single-head mechanisms
  int head_dim(int d_in) const;  // width of each head's queries, keys and values
};

std::string_view to_string(Mechanism mechanism);
std::string_view to_string(Normalization normalization);
// Parse the names used on the command line; throw Error listing the accepted names.
Mechanism parse_mechanism(std::string_view name);
Normalization parse_normalization(std::string_view name);
const std::vector<std::string_view>& mechanism_names();

// The mechanism's default mask when none is given: causal for causal, multihead_wrapper and multihead.
MaskSpec default_mask(Mechanism mechanism);
bool has_dropout(Mechanism mechanism);

}  // namespace attnscope
