#include "compute_flags.hpp"

#include <limits>

namespace attnscope::cli {

void add_compute_options(CLI::App& app, ComputeRequest& request, bool with_mask) {
  app.add_option("--text", request.text, "Text to tokenize; its embeddings are seeded unless --embeddings");
  app.add_option("--preset", request.preset,
                 "A built-in example: book (\"Your journey starts with one step\")")
      ->check(CLI::IsMember({"book"}));
  app.add_option("--embeddings", request.embeddings_file,
                 "Embeddings file (.npy or .csv), one row per token");
  app.add_option("--tokenizer", request.tokenizer, "whitespace, words or chars")
      ->check(CLI::IsMember({"whitespace", "words", "chars"}));
  app.add_option("--d-in", request.d_in, "Width of seeded embeddings (default 3)");
  app.add_option("--embedding-seed", request.embedding_seed,
                 "Seed of the nn.Embedding table (default: --seed)");
  app.add_option(
      "--mechanism", request.mechanism,
      "simplified (default), self-attention-v1, self-attention, causal, multihead-wrapper or multihead");
  app.add_option("--d-out", request.d_out, "Output width (per head for multihead-wrapper; default d_in)");
  app.add_option("--heads", request.heads, "Number of heads for multihead* (default 2)");
  app.add_flag("--qkv-bias", request.qkv_bias, "Give the query, key and value projections a bias");
  app.add_option("--dropout", request.dropout, "Dropout probability on the attention weights, in [0, 1)");
  app.add_option("--seed", request.seed, "torch.manual_seed before constructing the module (default 123)");
  app.add_option("--dropout-seed", request.dropout_seed,
                 "torch.manual_seed right before the first dropout draw");
  if (with_mask)
    app.add_option("--mask", request.mask,
                   "none, causal, window:W, prefix:P or file:PATH (default: per mechanism)");
  app.add_option("--normalize", request.normalization, "softmax or sum")
      ->check(CLI::IsMember({"softmax", "sum"}));
  app.add_option("--max-tokens", request.max_tokens, "Refuse texts longer than this (default 16384)")
      ->check(CLI::Range(1, std::numeric_limits<int>::max()));
  app.add_option("--device", request.device, "cpu, cuda or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
}

void add_model_options(CLI::App& app, ComputeRequest& request) {
  CLI::Option* model = app.add_option("--model", request.model,
                                      "A GPT-2 folder (config.json, model.safetensors, vocab.json, "
                                      "merges.txt): run --text through it and show "
                                      "every layer's attention heads");
  CLI::Option* layers = app.add_option(
      "--layers", request.layers, "With --model: the layers to show, e.g. 0,3,5-7 (0-based; default all)");
  layers->needs(model);
  for (const char* flag :
       {"--preset", "--embeddings", "--tokenizer", "--d-in", "--embedding-seed", "--mechanism", "--d-out",
        "--heads", "--qkv-bias", "--dropout", "--seed", "--dropout-seed", "--normalize"})
    if (CLI::Option* other = app.get_option_no_throw(flag)) model->excludes(other);
}

}  // namespace attnscope::cli
