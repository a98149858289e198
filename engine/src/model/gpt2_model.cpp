// GPT-2's forward pass on the CPU: the big matrix products split across worker threads by output columns,
// each layer's heads through the CPU backend's blocked attention (causal blocks of keys skipped).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "attnscope/error.hpp"
#include "attnscope/gpt2.hpp"
#include "attnscope/mask.hpp"
#include "attnscope/safetensors.hpp"
#include "cpu/attention_step.hpp"
#include "cpu/ordered_product.hpp"
#include "cpu/parallel.hpp"
#include "finite.hpp"
#include "readers.hpp"

namespace attnscope {

// A Conv1D weight (in × out, row-major) laid out as the products read it: for each block of kDepthBlock
// input rows, the slices of cpu::kTileColumns output columns one after another, each slice's rows contiguous.
// Every product reads a slice as one sequential stream, where the checkpoint's layout has it take one cache
// line from each of 256 rows 3–12 KB apart. Packing the slices in every product instead was about a tenth
// of an edit that recomputes half of a 255-token text, and an edit of the last token read its weights
// ~10 % slower in place. Only the layout changes: every cell's sum is the same chain of FMAs, to the bit.
class PackedWeight {
 public:
  PackedWeight() = default;
  explicit PackedWeight(FloatTensor weight);

  Eigen::Index columns() const { return columns_; }
  // Whether the last columns (fewer than a tile: only small models' widths leave any) are read from the
  // checkpoint's layout: the tiles cover the others.
  bool has_tail() const { return tiled_columns_ < columns_; }
  Eigen::Index tiled_columns() const { return tiled_columns_; }
  // The slice of the tile starting at `column` (a multiple of cpu::kTileColumns, below tiled_columns()) for
  // the depth block starting at `depth_begin`: its rows cpu::kTileColumns floats apart.
  const float* slice(Eigen::Index depth_begin, Eigen::Index column) const {
    return tiles_.data() + offset(depth_begin, column);
  }
  // The checkpoint's layout, kept only for the tail.
  Eigen::Map<const Matrix> tail_source() const { return tail_source_.matrix(); }

  // The inner dimension is taken kDepthBlock at a time: a slice stays in L1/L2 while every row passes
  // through it, as in Eigen's GEMM. The tile's sums are stored between blocks and loaded again, so every cell
  // is still one chain of FMAs in the order k = 0, 1, …: blocking changes no bit.
  static constexpr Eigen::Index kDepthBlock = 256;

 private:
  Eigen::Index offset(Eigen::Index depth_begin, Eigen::Index column) const {
    return depth_begin * tiled_columns_ + column * std::min(kDepthBlock, rows_ - depth_begin);
  }

  Eigen::Index rows_ = 0, columns_ = 0, tiled_columns_ = 0;
  std::vector<float, Eigen::aligned_allocator<float>> tiles_;
  FloatTensor tail_source_;
};

PackedWeight::PackedWeight(FloatTensor weight) {
  const auto w = weight.matrix();
  rows_ = w.rows();
  columns_ = w.cols();
  tiled_columns_ = columns_ / cpu::kTileColumns * cpu::kTileColumns;
  tiles_.resize(static_cast<std::size_t>(rows_ * tiled_columns_));
  // A tile at a time, on every worker: 85 MB a layer of gpt2 (340 MB in all) as the model opens.
  cpu::parallel_for(static_cast<std::size_t>(tiled_columns_ / cpu::kTileColumns), cpu::worker_threads(),
                    [&](std::size_t tile) {
                      const auto column = static_cast<Eigen::Index>(tile) * cpu::kTileColumns;
                      for (Eigen::Index depth_begin = 0; depth_begin < rows_; depth_begin += kDepthBlock) {
                        float* slice = tiles_.data() + offset(depth_begin, column);
                        const Eigen::Index block = std::min(kDepthBlock, rows_ - depth_begin);
                        for (Eigen::Index k = 0; k < block; ++k)
                          std::copy_n(w.data() + (depth_begin + k) * columns_ + column, cpu::kTileColumns,
                                      slice + k * cpu::kTileColumns);
                      }
                    });
  if (has_tail()) tail_source_ = std::move(weight);
}

struct Gpt2LayerWeights {
  FloatTensor ln_1_weight, ln_1_bias;
  PackedWeight c_attn_weight;  // n_embd × 3·n_embd (Conv1D: in × out)
  FloatTensor c_attn_bias;     // 3·n_embd
  PackedWeight attn_proj_weight;
  FloatTensor attn_proj_bias;
  FloatTensor ln_2_weight, ln_2_bias;
  PackedWeight c_fc_weight;  // n_embd × n_inner
  FloatTensor c_fc_bias;
  PackedWeight mlp_proj_weight;
  FloatTensor mlp_proj_bias;
};

struct Gpt2Model::Impl {
  Gpt2Config config;
  BpeTokenizer tokenizer;
  FloatTensor wte, wpe;  // vocab_size × n_embd, n_positions × n_embd
  std::vector<Gpt2LayerWeights> layers;
  FloatTensor ln_f_weight, ln_f_bias;
};

namespace {

using cpu::parallel_for;
using detail::quote;
using Index = Eigen::Index;

// Rows per attention task, as in the CPU backend: an efficient product, and fine enough that a causal mask
// skips most hidden blocks of keys.
constexpr Index kRowBlock = 64;

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

// Finds the tensors of model.safetensors, checks their shapes against the configuration and converts them.
class WeightReader {
 public:
  WeightReader(const SafetensorsFile& file, const Gpt2Config& config, std::string config_name)
      : file_(file), config_(config), config_name_(std::move(config_name)) {
    if (file.find("wte.weight"))
      prefix_.clear();
    else if (file.find("transformer.wte.weight"))
      prefix_ = "transformer.";
    else
      fail("no tensor 'wte.weight' (nor 'transformer.wte.weight'): not a GPT-2 checkpoint");
    const std::string beyond = prefix_ + "h." + std::to_string(config.n_layer) + ".ln_1.weight";
    if (file.find(beyond))
      fail("holds " + quote(beyond) + ", a layer beyond the " + std::to_string(config.n_layer) + " that " +
           config_name_ + "'s n_layer gives");
  }

  [[noreturn]] void fail(const std::string& problem) const { throw Error(file_.name() + ": " + problem); }

  // A Conv1D weight (`get`, then packed). Its pages in the checkpoint's mapping are let go once it is packed,
  // so that it does not count twice: a weight without a tail is never read there again.
  PackedWeight get_packed(const std::string& name, std::vector<std::uint64_t> shape,
                          const std::string& why) const {
    FloatTensor values = get(name, std::move(shape), why);
    const bool zero_copy = values.zero_copy();
    PackedWeight packed(std::move(values));
    if (zero_copy && !packed.has_tail()) file_.release(*file_.find(prefix_ + name));
    return packed;
  }

  // The tensor `name` (without the prefix), which must have `shape`; `why` says which sizes make it so.
  FloatTensor get(const std::string& name, std::vector<std::uint64_t> shape, const std::string& why) const {
    const std::string full = prefix_ + name;
    const SafetensorsFile::Tensor* tensor = file_.find(full);
    if (!tensor)
      fail("no tensor " + quote(full) + ", which a GPT-2 model of " + config_name_ + "'s sizes has");
    if (tensor->shape != shape)
      fail("tensor " + quote(full) + " has shape " + shape_text(tensor->shape) + " but " + config_name_ +
           " (" + why + ") makes it " + shape_text(shape));
    FloatTensor values = file_.to_float(*tensor);
    // Every forward pass reads all of it: map it in now rather than a page fault at a time in the first pass.
    // (Of wte, a pass reads one row per token.)
    if (values.zero_copy() && name != "wte.weight") file_.prefault(*tensor);
    require_finite(full, values);
    return values;
  }

  // A NaN or infinite weight would flow silently into every result that reads it (and a NaN weight prints
  // as null, which the JSON schema keeps for hidden cells), so the checkpoint is refused when it opens.
  void require_finite(const std::string& name, const FloatTensor& values) const {
    const auto all = values.vector();
    if (all_finite(std::span(all.data(), static_cast<std::size_t>(all.size())))) return;
    std::size_t index = 0;
    while (std::isfinite(all[static_cast<Index>(index)])) ++index;
    const float value = all[static_cast<Index>(index)];
    std::string position;
    const std::vector<std::uint64_t>& shape = values.shape();
    for (std::size_t d = shape.size(), rest = index; d-- > 0;) {
      position = std::to_string(rest % shape[d]) + (position.empty() ? "" : ", ") + position;
      rest /= shape[d];
    }
    fail("tensor " + quote(name) + " holds " +
         (std::isnan(value) ? "NaN"
          : value > 0       ? "+Inf"
                            : "-Inf") +
         " at [" + position + "]: a checkpoint's weights must all be finite");
  }

  void check_lm_head() const {
    // Unused (no logits are computed), but a head of the wrong shape means the checkpoint is another model's.
    const auto* head = file_.find("lm_head.weight");
    const std::vector<std::uint64_t> expected{static_cast<std::uint64_t>(config_.vocab_size),
                                              static_cast<std::uint64_t>(config_.n_embd)};
    if (head && head->shape != expected)
      fail("tensor 'lm_head.weight' has shape " + shape_text(head->shape) + " but " + config_name_ +
           " (vocab_size, n_embd) makes it " + shape_text(expected));
  }

 private:
  const SafetensorsFile& file_;
  const Gpt2Config& config_;
  std::string config_name_;
  std::string prefix_;
};

using cpu::kLanes;
using cpu::kTileColumns;
using cpu::kTileRows;
using cpu::product_columns;

// A product of at most this many rows (an edit near the end of a text) is one pass over the weights, bound
// by reading them.
constexpr Index kFewRows = 2 * kTileRows;

// out's `rows` rows (+)= x's · one slice of a packed weight (`depth` of its rows). Out of line: inlined into
// product_rows' loops, GCC ran out of registers for the tile's rows and reloaded their addresses from the
// stack on every k (a forward pass took 40 % longer).
[[gnu::noinline]] void product_slice(const float* x, Index x_stride, Index rows, const float* slice,
                                     Index depth, float* out, Index out_stride, bool accumulate) {
  product_columns<cpu::kTilePackets>(x, x_stride, rows, slice, kTileColumns, depth, out, out_stride,
                                     accumulate);
}

// out[first_row, n)[begin, end) = x[first_row, n) · w[:, begin, end). Every output cell is Σ_k
// x[r][k]·w[k][c] accumulated with FMAs in the order k = 0, 1, …, whichever tile, block or row range computes
// it, so a row's result does not depend on the other rows computed with it: a run that reuses the rows before
// an edit gets the bits of a fresh one. (Eigen's product does not promise that: its kernels depend on the
// number of rows.)
void product_rows(const Matrix& x, const PackedWeight& w, Index begin, Index end, Index first_row, Index n,
                  Matrix& out) {
  const Index depth = x.cols();
  const Index rows = n - first_row;
  const float* x_rows = x.row(first_row).data();
  float* out_rows = out.row(first_row).data();
  for (Index k_begin = 0; k_begin < depth; k_begin += PackedWeight::kDepthBlock) {
    const Index block = std::min(PackedWeight::kDepthBlock, depth - k_begin);
    const bool accumulate = k_begin > 0;
    Index column = begin;
    for (; column + kTileColumns <= std::min(end, w.tiled_columns()); column += kTileColumns)
      product_slice(x_rows + k_begin, x.cols(), rows, w.slice(k_begin, column), block, out_rows + column,
                    out.cols(), accumulate);
    if (!w.has_tail()) continue;
    const auto source = w.tail_source();
    for (; column + kLanes <= end; column += kLanes)
      product_columns<1>(x_rows + k_begin, x.cols(), rows, source.data() + k_begin * source.cols() + column,
                         source.cols(), block, out_rows + column, out.cols(), accumulate);
  }
  // The last columns (fewer than a packet), one cell at a time.
  if (!w.has_tail()) return;
  const auto source = w.tail_source();
  for (Index column = begin + (end - begin) / kLanes * kLanes; column < end; ++column)
    for (Index r = first_row; r < n; ++r) {
      float sum = 0.0f;
      for (Index k = 0; k < depth; ++k) sum = std::fma(x(r, k), source(k, column), sum);
      out(r, column) = sum;
    }
}

// out[first_row, n) = x · weight + bias for those rows (a Conv1D: weight is in × out), then GELU (tanh) when
// `gelu`; out is given at least n rows and weight's columns, its other rows left as they are. The output
// columns are split into tasks across the threads, so each thread reads only its share of the weights: what
// bounds a short text, whose product is one pass over them.
void conv1d(const Matrix& x, const PackedWeight& weight, const FloatTensor& bias, Matrix& out, bool gelu,
            int threads, Index first_row, Index n) {
  const auto b = bias.vector();
  const Index columns = weight.columns();
  if (out.rows() < n || out.cols() != columns) out.resize(n, columns);
  if (first_row >= n) return;
  const Index quanta = (columns + kTileColumns - 1) / kTileColumns;
  // Two tasks a thread balance the load; a few rows' product is bound by reading the weights, where one
  // slab of columns a thread reads each depth block's slices as one stream.
  const Index tasks_per_thread = n - first_row <= kFewRows ? 1 : 2;
  const Index tasks =
      std::max<Index>(1, std::min<Index>(quanta, tasks_per_thread * static_cast<Index>(threads)));
  parallel_for(static_cast<std::size_t>(tasks), threads, [&](std::size_t task) {
    const Index begin = std::min(columns, quanta * static_cast<Index>(task) / tasks * kTileColumns);
    const Index end = std::min(columns, quanta * static_cast<Index>(task + 1) / tasks * kTileColumns);
    if (begin >= end) return;
    auto block = out.block(first_row, begin, n - first_row, end - begin);
    product_rows(x, weight, begin, end, first_row, n, out);
    block.rowwise() += b.segment(begin, end - begin);
    if (gelu) {
      // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as Hugging Face's NewGELUActivation. Row by row: each
      // row's cells sit at the same addresses (alignment) in every run, and so take the same packets.
      constexpr float kSqrt2OverPi = 0.7978845608028654f;
      for (Index i = 0; i < block.rows(); ++i) {
        auto a = block.row(i).array();
        a = 0.5f * a * (1.0f + (kSqrt2OverPi * (a + 0.044715f * a.cube())).tanh());
      }
    }
  });
}

// PyTorch's LayerNorm over x's rows [first_row, n): (x − mean) / √(var + ε) · weight + bias, var biased.
// out is given at least n rows and x's columns, its other rows left as they are.
void layer_norm(const Matrix& x, const FloatTensor& weight, const FloatTensor& bias, double epsilon,
                Matrix& out, int threads, Index first_row, Index n) {
  const auto w = weight.vector().array();
  const auto b = bias.vector().array();
  if (out.rows() < n || out.cols() != x.cols()) out.resize(n, x.cols());
  if (first_row >= n) return;
  const Index blocks = (n - first_row + kRowBlock - 1) / kRowBlock;
  parallel_for(static_cast<std::size_t>(blocks), threads, [&](std::size_t block) {
    const Index begin = first_row + static_cast<Index>(block) * kRowBlock;
    const Index end = std::min(n, begin + kRowBlock);
    for (Index i = begin; i < end; ++i) {
      const auto row = x.row(i).array();
      const double mean = row.cast<double>().mean();
      const double variance = (row.cast<double>() - mean).square().mean();
      const auto inverse_deviation = static_cast<float>(1.0 / std::sqrt(variance + epsilon));
      out.row(i).array() = (row - static_cast<float>(mean)) * inverse_deviation * w + b;
    }
  });
}

// A head's queries, keys and values (one layer's, the attention step's inputs; rows past n are spare).
struct HeadInputs {
  const Matrix &queries, &keys, &values;
};

// out's queries, keys and values: the inputs' first n rows, copying only those from first_row on.
void hand_inputs(const HeadInputs& inputs, Index n, Index first_row, HeadResult& out) {
  for (const auto& [from, to] : {std::pair(&inputs.queries, &out.queries), std::pair(&inputs.keys, &out.keys),
                                 std::pair(&inputs.values, &out.values)}) {
    if (to->rows() != n || to->cols() != from->cols()) to->resize(n, from->cols());
    to->bottomRows(n - first_row) = from->middleRows(first_row, n - first_row);
  }
}

// options.earlier_layers' layer l when it is what the last run with the cache handed out, n_earlier tokens
// long: the cache kept its first head's weights' address.
const AttentionResult* earlier_layer(const Gpt2RunOptions& options, int l,
                                     const std::map<int, const float*>& handed, Index n_earlier,
                                     std::size_t head_count) {
  const auto given = options.earlier_layers.find(l);
  const auto recorded = handed.find(l);
  if (given == options.earlier_layers.end() || recorded == handed.end() || !given->second) return nullptr;
  const AttentionResult& earlier = *given->second;
  if (earlier.heads.size() != head_count || earlier.heads.front().weights.data() != recorded->second)
    return nullptr;
  for (const HeadResult& head : earlier.heads)
    if (head.weights.rows() != n_earlier || head.weights.cols() != n_earlier ||
        head.context.rows() != n_earlier || (options.keep_scores && head.scores.rows() != n_earlier))
      return nullptr;
  return &earlier;
}

// `matrix` resized to rows × cols keeping its first `kept` rows (kept ≤ both row counts).
void resize_keeping(Matrix& matrix, Index rows, Index cols, Index kept) {
  if (matrix.rows() == rows && matrix.cols() == cols) return;
  if (kept == 0 || matrix.cols() != cols) {
    matrix.resize(rows, cols);
    return;
  }
  // A row-major matrix keeps its leading rows where they are: a realloc, which glibc does in place when the
  // text shrinks and often when it grows. A new matrix and a copy cost 6–7 ms per edit at 255 tokens.
  matrix.conservativeResize(rows, cols);
}

std::vector<bool> kept_layers(const std::vector<int>& selection, int layer_count) {
  std::vector<bool> kept(static_cast<std::size_t>(layer_count), selection.empty());
  for (const int layer : selection) {
    if (layer < 0 || layer >= layer_count)
      throw Error("layer " + std::to_string(layer) + " does not exist: the model's layers are 0 to " +
                  std::to_string(layer_count - 1));
    if (kept[static_cast<std::size_t>(layer)])
      throw Error("layer " + std::to_string(layer) + " is listed twice");
    kept[static_cast<std::size_t>(layer)] = true;
  }
  return kept;
}

}  // namespace

Gpt2Model Gpt2Model::open(const std::filesystem::path& directory) {
  const std::string folder = detail::display_name(directory);
  std::error_code ignored;
  if (!std::filesystem::exists(directory, ignored)) throw Error(folder + ": no such folder");
  if (!std::filesystem::is_directory(directory, ignored))
    throw Error(folder +
                ": not a folder (a GPT-2 model is a folder holding config.json, model.safetensors, "
                "vocab.json and merges.txt)");
  const std::string config_name = folder + "/config.json";
  const Gpt2Config config = Gpt2Config::load(directory / "config.json", config_name);
  const SafetensorsFile file =
      SafetensorsFile::open(directory / "model.safetensors", folder + "/model.safetensors");

  const WeightReader reader(file, config, config_name);
  const auto vocab = static_cast<std::uint64_t>(config.vocab_size);
  const auto positions = static_cast<std::uint64_t>(config.n_positions);
  const auto width = static_cast<std::uint64_t>(config.n_embd);
  const auto inner = static_cast<std::uint64_t>(config.inner_dim());
  const std::string inner_why = config.n_inner > 0 ? "n_embd, n_inner" : "n_embd, 4·n_embd";

  FloatTensor wte = reader.get("wte.weight", {vocab, width}, "vocab_size, n_embd");
  FloatTensor wpe = reader.get("wpe.weight", {positions, width}, "n_positions, n_embd");
  std::vector<Gpt2LayerWeights> layers;
  layers.reserve(static_cast<std::size_t>(config.n_layer));
  for (int l = 0; l < config.n_layer; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    Gpt2LayerWeights layer;
    layer.ln_1_weight = reader.get(h + "ln_1.weight", {width}, "n_embd");
    layer.ln_1_bias = reader.get(h + "ln_1.bias", {width}, "n_embd");
    layer.c_attn_weight = reader.get_packed(h + "attn.c_attn.weight", {width, 3 * width}, "n_embd, 3·n_embd");
    layer.c_attn_bias = reader.get(h + "attn.c_attn.bias", {3 * width}, "3·n_embd");
    layer.attn_proj_weight = reader.get_packed(h + "attn.c_proj.weight", {width, width}, "n_embd, n_embd");
    layer.attn_proj_bias = reader.get(h + "attn.c_proj.bias", {width}, "n_embd");
    layer.ln_2_weight = reader.get(h + "ln_2.weight", {width}, "n_embd");
    layer.ln_2_bias = reader.get(h + "ln_2.bias", {width}, "n_embd");
    layer.c_fc_weight = reader.get_packed(h + "mlp.c_fc.weight", {width, inner}, inner_why);
    layer.c_fc_bias = reader.get(h + "mlp.c_fc.bias", {inner}, config.n_inner > 0 ? "n_inner" : "4·n_embd");
    layer.mlp_proj_weight = reader.get_packed(h + "mlp.c_proj.weight", {inner, width},
                                              config.n_inner > 0 ? "n_inner, n_embd" : "4·n_embd, n_embd");
    layer.mlp_proj_bias = reader.get(h + "mlp.c_proj.bias", {width}, "n_embd");
    layers.push_back(std::move(layer));
  }
  FloatTensor ln_f_weight = reader.get("ln_f.weight", {width}, "n_embd");
  FloatTensor ln_f_bias = reader.get("ln_f.bias", {width}, "n_embd");
  reader.check_lm_head();

  BpeTokenizer tokenizer = BpeTokenizer::load(directory / "vocab.json", directory / "merges.txt");
  if (tokenizer.vocab_size() > config.vocab_size)
    throw Error(folder + "/vocab.json: holds " + std::to_string(tokenizer.vocab_size()) +
                " tokens, more than " + config_name + "'s vocab_size " + std::to_string(config.vocab_size));

  auto impl = std::make_shared<Impl>(Impl{config, std::move(tokenizer), std::move(wte), std::move(wpe),
                                          std::move(layers), std::move(ln_f_weight), std::move(ln_f_bias)});
  return Gpt2Model(std::move(impl));
}

const Gpt2Config& Gpt2Model::config() const {
  return impl_->config;
}

const BpeTokenizer& Gpt2Model::tokenizer() const {
  return impl_->tokenizer;
}

Gpt2Result Gpt2Model::run(const std::vector<int>& ids, const Gpt2RunOptions& options) const {
  const CancelToken never;
  return run(ids, options, never);
}

Gpt2Result Gpt2Model::run(const std::vector<int>& ids, const Gpt2RunOptions& options,
                          const CancelToken& cancel) const {
  const auto start = std::chrono::steady_clock::now();
  const Impl& model = *impl_;
  const Gpt2Config& config = model.config;
  if (ids.empty()) throw Error("no tokens: the text must give at least one");
  if (ids.size() > static_cast<std::size_t>(config.n_positions))
    throw Error(std::to_string(ids.size()) + " tokens are more than the model's " +
                std::to_string(config.n_positions) + " positions (n_positions)");
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= config.vocab_size)
      throw Error("token id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                  " is outside the vocabulary (0 to " + std::to_string(config.vocab_size - 1) + ")");
  const std::vector<bool> kept = kept_layers(options.layers, config.n_layer);

  const auto n = static_cast<Index>(ids.size());
  const Index width = config.n_embd, head_dim = config.head_dim();
  const auto head_count = static_cast<std::size_t>(config.n_head);
  MaskMatrix mask = build_mask(MaskSpec{MaskKind::causal, 0, {}}, n);
  if (options.extra_mask) mask = mask.cwiseMax(build_mask(*options.extra_mask, n));
  const std::vector<cpu::VisibleRange> ranges = cpu::visible_ranges(mask);
  std::vector<Index> empty_rows;
  for (Index i = 0; i < n; ++i)
    if (ranges[static_cast<std::size_t>(i)].begin >= ranges[static_cast<std::size_t>(i)].end)
      empty_rows.push_back(i);
  // The per-layer matrices a cache keeps have rows for whole blocks of 64 tokens, so that most edits that
  // change n keep them as they are: growing one by a row moved it (6–14 ms per edit at 255 tokens). Only the
  // first n rows are used.
  const Index capacity = (n + kRowBlock - 1) / kRowBlock * kRowBlock;
  // As Hugging Face: scores / torch.full([], head_dim ** 0.5), a float32 divisor.
  const auto scale_divisor = static_cast<float>(std::sqrt(static_cast<double>(head_dim)));
  const int threads = cpu::worker_threads();

  const auto layer_count = static_cast<std::size_t>(config.n_layer);

  // What the cache lets this run skip: positions before the first token or mask row that changed.
  Gpt2Cache* cache = options.cache;
  Index reused = 0;
  // What the last run with the cache handed out, to recognise it in options.earlier_layers.
  std::map<int, const float*> handed_before;
  Index n_before = 0;
  if (cache) {
    const bool valid = cache->model.lock() == impl_ && cache->threads == threads &&
                       cache->layer_input.size() == layer_count && cache->queries.size() == layer_count &&
                       cache->attention_output.size() == layer_count &&
                       cache->mask.rows() == static_cast<Index>(cache->ids.size());
    if (valid) {
      const Index common = std::min<Index>(n, static_cast<Index>(cache->ids.size()));
      while (reused < common &&
             cache->ids[static_cast<std::size_t>(reused)] == ids[static_cast<std::size_t>(reused)] &&
             cache->mask.row(reused).head(reused + 1) == mask.row(reused).head(reused + 1))
        ++reused;
      handed_before = std::move(cache->handed_weights);
      n_before = static_cast<Index>(cache->ids.size());
    } else {
      cache->clear();
    }
    // From here on the cache describes this run: were it to stop (cancelled, an error), the next run must
    // not trust the rows it had not finished.
    cache->ids.clear();
    cache->mask.resize(0, 0);
    cache->handed_weights.clear();
    cache->model = impl_;
    cache->threads = threads;
    cache->layer_input.resize(layer_count);
    cache->attention_output.resize(layer_count);
    for (auto* parts : {&cache->queries, &cache->keys, &cache->values}) {
      parts->resize(layer_count);
      for (std::vector<Matrix>& layer : *parts) layer.resize(head_count);
    }
  }
  // x is the residual stream for positions ≥ reused; rows before them are never read.
  Matrix x(n, width);
  const auto wte = model.wte.matrix();
  const auto wpe = model.wpe.matrix();
  for (Index i = reused; i < n; ++i) x.row(i) = wte.row(ids[static_cast<std::size_t>(i)]) + wpe.row(i);

  Gpt2Result result;
  result.reused_positions = static_cast<int>(reused);
  // Without a cache, one layer's state at a time.
  Matrix own_input, own_attention_output;
  std::vector<Matrix> own_queries(head_count), own_keys(head_count), own_values(head_count);
  Matrix qkv;  // the rows from `reused` on
  Matrix normed, merged(n, width), hidden, mlp_output;
  // Every layer's attention has the same mask: set once in the matrices reused from layer to layer.
  AttentionResult reused_layer;
  reused_layer.device = "cpu";
  reused_layer.mask = mask;
  reused_layer.empty_rows = empty_rows;
  for (int l = 0; l < config.n_layer; ++l) {
    cancel.throw_if_cancelled();
    const auto layer_start = std::chrono::steady_clock::now();
    const auto layer_index = static_cast<std::size_t>(l);
    const Gpt2LayerWeights& weights = model.layers[layer_index];
    Matrix& input = cache ? cache->layer_input[layer_index] : own_input;
    std::vector<Matrix>& queries = cache ? cache->queries[layer_index] : own_queries;
    std::vector<Matrix>& keys = cache ? cache->keys[layer_index] : own_keys;
    std::vector<Matrix>& values = cache ? cache->values[layer_index] : own_values;
    Matrix& attention_output = cache ? cache->attention_output[layer_index] : own_attention_output;
    resize_keeping(input, capacity, width, reused);
    resize_keeping(attention_output, capacity, width, reused);
    input.middleRows(reused, n - reused) = x.bottomRows(n - reused);

    layer_norm(input, weights.ln_1_weight, weights.ln_1_bias, config.layer_norm_epsilon, normed, threads,
               reused, n);
    conv1d(normed, weights.c_attn_weight, weights.c_attn_bias, qkv, false, threads, reused, n);

    const bool keep = kept[layer_index];
    // Attention handed out has every row: computed, or, for a kept layer the last run handed out too, copied
    // from it before the changed row. Otherwise only the rows from the changed one are computed.
    const bool every_row = keep || static_cast<bool>(options.on_layer);
    const AttentionResult* earlier =
        keep && reused > 0 ? earlier_layer(options, l, handed_before, n_before, head_count) : nullptr;
    // Attention works in matrices reused from layer to layer, so that an edit's layers fault in no fresh
    // pages (about 2 µs per 4 KiB page here), except a kept layer: its matrices are the result's.
    AttentionResult fresh_layer;
    AttentionResult& layer = keep ? fresh_layer : reused_layer;
    layer.heads.resize(head_count);
    std::vector<cpu::StepInput> inputs(head_count);
    // Sized on this thread: which helper runs which head changes with every parallel_for, and memory that a
    // thread allocates comes from its own malloc arena, so sizing there handed out fresh pages on every edit.
    for (std::size_t h = 0; h < head_count; ++h) {
      for (Matrix* part : {&queries[h], &keys[h], &values[h]})
        resize_keeping(*part, capacity, head_dim, reused);
      inputs[h] = cpu::StepInput{
          &queries[h], &keys[h],           &values[h], scale_divisor, &mask, Normalization::softmax,
          nullptr,     options.keep_scores};
      inputs[h].tokens = n;
      inputs[h].row_stats = options.row_stats;
      inputs[h].row_exact = true;
      cpu::allocate_head(inputs[h], layer.heads[h]);
    }
    // Each head's q, k and v are kept per layer: only the changed rows are split out of c_attn's output.
    parallel_for(head_count, threads, [&](std::size_t h) {
      const Index column = static_cast<Index>(h) * head_dim;
      for (const auto& [part, offset] :
           {std::pair(&queries[h], Index{0}), std::pair(&keys[h], width), std::pair(&values[h], 2 * width)}) {
        part->middleRows(reused, n - reused) = qkv.block(reused, offset + column, n - reused, head_dim);
      }
    });
    // Attention computes each row as if alone (StepInput::row_exact): the rows before the changed one are
    // copied from the kept layer's earlier result, or skipped.
    cpu::CopiedBlocks skipped;
    const bool skips = reused > 0 && (!every_row || earlier);
    if (skips) {
      skipped.rows_before = reused;
      if (earlier) skipped.earlier = earlier->heads;
    }
    cpu::attention_heads(inputs, ranges, layer.heads, threads, &cancel, skips ? &skipped : nullptr);
    for (std::size_t h = 0; h < head_count; ++h)
      merged.block(reused, static_cast<Index>(h) * head_dim, n - reused, head_dim) =
          layer.heads[h].context.middleRows(reused, n - reused);

    conv1d(merged, weights.attn_proj_weight, weights.attn_proj_bias, attention_output, false, threads, reused,
           n);
    x.bottomRows(n - reused) += attention_output.middleRows(reused, n - reused);
    layer_norm(x, weights.ln_2_weight, weights.ln_2_bias, config.layer_norm_epsilon, normed, threads, reused,
               n);
    conv1d(normed, weights.c_fc_weight, weights.c_fc_bias, hidden, true, threads, reused, n);
    conv1d(hidden, weights.mlp_proj_weight, weights.mlp_proj_bias, mlp_output, false, threads, reused, n);
    x.bottomRows(n - reused) += mlp_output.middleRows(reused, n - reused);
    // Finite weights can still overflow float32. A non-finite attention weight reaches its context row, and
    // anything else the residual stream, so these n × d checks catch it before the layer is handed out.
    // (Reused rows were checked when they were computed.)
    bool finite = all_finite_rows(x, reused, n - reused);
    for (const HeadResult& head : layer.heads)
      finite = finite && all_finite_rows(head.context, reused, n - reused);
    if (!finite)
      throw Error("layer " + std::to_string(l) +
                  " overflowed float32: the checkpoint's weights are too large for this text");

    if (keep || options.on_layer || options.on_layer_rows) {
      // Rows before `reused` are the last run's: a layer the run does not keep hands out only the others.
      parallel_for(head_count, threads, [&](std::size_t h) {
        hand_inputs(HeadInputs{queries[h], keys[h], values[h]}, n, every_row ? 0 : reused, layer.heads[h]);
      });
      if (keep) {
        layer.device = "cpu";
        layer.mask = mask;
        layer.empty_rows = empty_rows;
      }
      if (keep || options.on_layer) {
        layer.output = attention_output.topRows(n);
      } else {
        // Only the rows on_layer_rows is given: copying all of them was 37 MB per edit at 1,023 tokens.
        if (layer.output.rows() != n || layer.output.cols() != width) layer.output.resize(n, width);
        layer.output.bottomRows(n - reused) = attention_output.middleRows(reused, n - reused);
      }
      layer.compute_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - layer_start).count();
    }
    if (options.on_layer) options.on_layer(l, layer);
    if (options.on_layer_rows) options.on_layer_rows(l, layer, reused);
    if (keep) {
      result.layers.push_back(std::move(layer));
      result.layer_indices.push_back(l);
      if (cache) cache->handed_weights[l] = result.layers.back().heads.front().weights.data();
    }
  }
  if (cache) {
    resize_keeping(cache->final_hidden, capacity, width, reused);
    layer_norm(x, model.ln_f_weight, model.ln_f_bias, config.layer_norm_epsilon, cache->final_hidden, threads,
               reused, n);
    // The x rows before `reused` were never filled: ln_f's rows for them come from the cache.
    result.final_hidden = cache->final_hidden.topRows(n);
    cache->ids = ids;
    cache->mask = mask;
  } else {
    layer_norm(x, model.ln_f_weight, model.ln_f_bias, config.layer_norm_epsilon, result.final_hidden, threads,
               0, n);
  }
  result.compute_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace attnscope
