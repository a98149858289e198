#pragma once
// GPT-2 from a Hugging Face GPT-2-family folder (gpt2, distilgpt2, gpt2-medium/large/xl and fine-tunes with
// the same layout): config.json, model.safetensors, vocab.json and merges.txt. The forward pass runs as far
// as the final layer norm — every layer's attention, per head, is what it is for; no logits are computed.
//
// Per block, as Hugging Face's GPT2Model computes it (eval mode, no dropout):
//   h = ln_1(x); q|k|v = h·c_attn.weight + c_attn.bias (Conv1D: weight stored in × out), split into heads;
//   weights = softmax((q·kᵀ / √d_head) with hidden keys at −∞); context = weights·v, heads concatenated;
//   a = context·attn.c_proj.weight + bias; x += a;
//   x += gelu_tanh(ln_2(x)·mlp.c_fc.weight + bias)·mlp.c_proj.weight + bias,
//   gelu_tanh(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)));
// with x = wte[ids] + wpe[0..n) before the first block and ln_f after the last.

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "attnscope/backend.hpp"
#include "attnscope/bpe_tokenizer.hpp"
#include "attnscope/config.hpp"
#include "attnscope/matrix.hpp"
#include "attnscope/result.hpp"

namespace attnscope {

struct Gpt2Config {
  int vocab_size = 50257;
  int n_positions = 1024;
  int n_embd = 768;
  int n_layer = 12;
  int n_head = 12;
  int n_inner = 0;  // the MLP's width; 0 (config.json's null or absent) means 4·n_embd
  double layer_norm_epsilon = 1e-5;

  int head_dim() const { return n_embd / n_head; }
  int inner_dim() const { return n_inner > 0 ? n_inner : 4 * n_embd; }

  // Reads config.json's GPT-2 fields: vocab_size, n_positions (or n_ctx), n_embd, n_layer, n_head,
  // layer_norm_epsilon (default 1e-5), n_inner (null or absent: 4·n_embd); activation_function must be
  // gelu_new (the tanh GELU, also spelled gelu_pytorch_tanh) or absent, model_type gpt2 or absent. Other
  // fields are ignored. Throws Error "NAME: problem" (`name` starts the message).
  static Gpt2Config parse(std::string_view json, std::string_view name = "config.json");
  static Gpt2Config load(const std::filesystem::path& config_json,
                         std::string_view name = {});  // name: file's
  // Throws Error naming the first field out of range (sizes from 1 up to limits no real model nears).
  void validate(std::string_view name = "config.json") const;
};

// What a run leaves for the next one to reuse (an editor's next keystroke): the token ids and effective mask
// it was computed for and, per layer, the hidden state entering it, its q|k|v and its attention's c_proj
// output (each n × width, row-major; about 5·n_embd·n_layer floats per token: 190 MB for gpt2 at 1,023
// tokens), and the final hidden state. Under the causal mask position i depends only on tokens 0…i, so a
// run given this finds the first position k whose token or mask row changed and computes only positions ≥ k
// in every layer (attention too: only the rows from k), with the same bits as a fresh run: every product,
// attention's included, is one FMA chain per cell, and each row's softmax runs over its own visible keys.
// Tied to the model that filled it (another model's, or one run with other threads, is ignored and refilled).
struct Gpt2Cache {
  std::vector<int> ids;
  MaskMatrix mask;  // causal and the extra mask, n × n, 1 = hidden
  // Rows for whole blocks of 64 tokens (the first n are the states; the others are spare), so that most
  // edits that change n keep the matrices in place.
  std::vector<Matrix> layer_input, attention_output;       // per layer: × n_embd
  std::vector<std::vector<Matrix>> queries, keys, values;  // per layer and head: × head_dim
  Matrix final_hidden;                                     // × n_embd, after ln_f
  // The kept layers the run handed out, by layer: their first head's weights' address, by which the next run
  // recognises them in Gpt2RunOptions::earlier_layers.
  std::map<int, const float*> handed_weights;
  std::weak_ptr<const void> model;
  int threads = 0;

  void clear() { *this = Gpt2Cache{}; }
};

struct Gpt2RunOptions {
  // Applied on top of the causal mask (a key is hidden when either hides it), e.g. window:W.
  std::optional<MaskSpec> extra_mask;
  bool keep_scores = false;  // raw q·k per head (n² floats each); weights and context are always kept
  // Also fill each head's row_stats (HeadResult) for the rows its weights were computed in, from the
  // softmax's own sums while they are in cache (what head_stats(AttentionResult) then uses).
  bool row_stats = false;
  // Which layers' attention Gpt2Result::layers keeps (0-based, any order, no repeats); empty: every layer.
  // Every layer is computed either way, the final hidden state needs them all.
  std::vector<int> layers;
  // Called on the running thread with every layer's attention (kept or not, in order, mask set) as soon as it
  // is computed: a viewer summarises the layers it does not keep without holding n_layer · n_head · n²
  // weights at once. An exception it throws ends the run.
  std::function<void(int layer, const AttentionResult& attention)> on_layer;
  // on_layer for a viewer that keeps per-row summaries of every layer between edits: called the same way,
  // with the first row that changed since the run that last used options.cache (0 without a cache). The
  // rows before it equal that run's; a layer that is not kept, while on_layer is unset, leaves them unset in
  // each head's weights, scores, context and row_stats, and in the layer's output.
  std::function<void(int layer, const AttentionResult& attention, Eigen::Index first_row)> on_layer_rows;
  // The kept layers as the run that last used options.cache handed them out (Gpt2Result::layers), by layer:
  // a kept layer copies its rows before the changed row from them instead of computing them.
  // Ignored unless they are that run's, unchanged (the cache knows what it handed out).
  std::map<int, const AttentionResult*> earlier_layers;
  // When set, the run reuses what it holds and leaves its own state in it (see Gpt2Cache). Only attention the
  // run hands out (kept layers, on_layer) is computed for every row; other layers' only from the changed one.
  Gpt2Cache* cache = nullptr;
};

struct Gpt2Result {
  // The kept layers in ascending order, and their indices. Each holds its heads (queries, keys, values, scale
  // 1/√d_head, scores when kept, weights, context), the mask (causal and the extra mask), the queries whose
  // every key is hidden (only possible with an extra mask), output = the attention's c_proj output (n ×
  // n_embd) and device "cpu".
  std::vector<AttentionResult> layers;
  std::vector<int> layer_indices;
  Matrix final_hidden;  // n × n_embd, after ln_f
  double compute_ms = 0.0;
  int reused_positions = 0;  // the leading positions whose hidden states came from options.cache
};

class Gpt2Model {
 public:
  // Opens DIR/config.json, DIR/model.safetensors (memory-mapped; tensor names with or without the
  // "transformer." prefix; lm_head.weight absent or tied and unused), DIR/vocab.json and DIR/merges.txt.
  // F32 tensors stay in the mapping where aligned; F16 and BF16 ones are converted to float32 once, here.
  // Throws Error naming the file and the problem: a missing tensor, a shape that disagrees with the
  // configuration, a malformed file.
  static Gpt2Model open(const std::filesystem::path& directory);

  const Gpt2Config& config() const;
  const BpeTokenizer& tokenizer() const;

  // The forward pass for `ids` (1 to n_positions of them, each in [0, vocab_size)). Throws Error for bad ids
  // or options, Cancelled when `cancel` is set (checked between layers and between heads). Uses
  // worker_threads() threads (ATTNSCOPE_THREADS). The model may run on several threads at once.
  Gpt2Result run(const std::vector<int>& ids, const Gpt2RunOptions& options, const CancelToken& cancel) const;
  Gpt2Result run(const std::vector<int>& ids, const Gpt2RunOptions& options = {}) const;

 private:
  struct Impl;
  explicit Gpt2Model(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace attnscope
