#include "attnscope/attention.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "attnscope/error.hpp"
#include "attnscope/mask.hpp"
#include "cpu/parallel.hpp"
#include "finite.hpp"

namespace attnscope {
namespace {

HeadProjection identity_projection(int d_in) {
  HeadProjection projection;
  projection.w_query = projection.w_key = projection.w_value = Matrix::Identity(d_in, d_in);
  return projection;
}

// Columns [first, first + count) of a Linear layer, as x · Wᵀ + b restricted to those outputs.
void take_columns(const LinearLayer& layer, Eigen::Index first, Eigen::Index count, Matrix& w,
                  std::optional<Vector>& b) {
  w = layer.weight.transpose().middleCols(first, count);
  if (layer.bias) b = layer.bias->middleCols(first, count);
}

HeadProjection split_head(const LinearLayer& query, const LinearLayer& key, const LinearLayer& value,
                          Eigen::Index first, Eigen::Index count) {
  HeadProjection head;
  take_columns(query, first, count, head.w_query, head.b_query);
  take_columns(key, first, count, head.w_key, head.b_key);
  take_columns(value, first, count, head.w_value, head.b_value);
  return head;
}

// Checks the n × d matrices only, not the n × n ones: a NaN or infinite weight (or dropped weight) reaches
// its row of the context, as NaN · v, ∞ · v and ∞ · 0 are none of them finite. A scan of every head's n²
// weights would cost more than the rest of a long text's checks together.
void require_finite_result(const AttentionResult& result) {
  // Head by head on every worker: a long text's matrices are megabytes.
  std::atomic<bool> finite = all_finite(result.output);
  cpu::parallel_for(result.heads.size(), cpu::worker_threads(), [&](std::size_t h) {
    const HeadResult& head = result.heads[h];
    if (!(all_finite(head.queries) && all_finite(head.keys) && all_finite(head.values) &&
          all_finite(head.context)))
      finite = false;
  });
  if (!finite)
    throw Error("the computation overflowed float32 (the embeddings are too large); scale them down");
}

void check_input(const AttentionConfig& config, const Matrix& input) {
  if (input.rows() < 1) throw Error("there are no tokens to attend over: the text is empty");
  if (input.rows() > config.max_tokens)
    throw Error(std::to_string(input.rows()) + " tokens is more than the limit of " +
                std::to_string(config.max_tokens) +
                " (each head keeps several n × n matrices); shorten the text or raise the limit");
  config.validate(static_cast<int>(input.cols()));
}

// The problem without dropout noise (and without its mask, for a caller that brings its own).
AttentionProblem problem_with(const AttentionConfig& config, const Matrix& input,
                              const ModuleParameters& parameters, bool with_mask = true) {
  AttentionProblem problem;
  problem.input = input;
  problem.heads = parameters.heads;
  if (config.mechanism != Mechanism::simplified)
    problem.scale_divisor =
        static_cast<float>(std::sqrt(static_cast<double>(config.head_dim(static_cast<int>(input.cols())))));
  if (with_mask) problem.mask = build_mask(config.effective_mask(), input.rows());
  problem.normalization = config.normalization;
  problem.keep_scores = config.keep_scores;
  problem.row_stats = config.row_stats;
  problem.parameters_id = parameters.id;
  return problem;
}

// Whether rows [begin, begin + rows) of `earlier`'s output are what out_proj gives for `result`'s: the same
// parameters, the same contexts in those rows, and the same row block (so the same product).
bool output_rows_unchanged(const AttentionResult& result, const AttentionResult* earlier,
                           const ModuleParameters& parameters, Eigen::Index begin, Eigen::Index rows,
                           Eigen::Index block_rows) {
  if (!earlier || earlier->device != result.device || parameters.id == 0 ||
      earlier->parameters_id != parameters.id || earlier->heads.size() != result.heads.size() ||
      earlier->output.cols() != parameters.out_proj->weight.rows())
    return false;
  const Eigen::Index earlier_rows = earlier->output.rows();
  if (begin >= earlier_rows || std::min(earlier_rows - begin, block_rows) != rows) return false;
  for (std::size_t h = 0; h < result.heads.size(); ++h) {
    const Matrix& before = earlier->heads[h].context;
    const Matrix& now = result.heads[h].context;
    if (before.rows() != earlier_rows || before.cols() != now.cols() ||
        before.middleRows(begin, rows) != now.middleRows(begin, rows))
      return false;
  }
  return true;
}

// The heads' contexts side by side (then out_proj for multihead) as the module's output, the rows of
// `earlier` (may be null) whose contexts did not change copied; checks the result is finite and stamps its
// provenance and its time since `start`.
AttentionResult finish(AttentionResult result, const ModuleParameters& parameters,
                       Normalization normalization, Eigen::Index tokens,
                       std::chrono::steady_clock::time_point start,
                       const AttentionResult* earlier = nullptr) {
  result.parameters_id = parameters.id;
  result.normalization = normalization;
  if (result.heads.size() == 1) {
    result.output = result.heads.front().context;
  } else {
    std::vector<Eigen::Index> columns{0};  // where each head's columns start
    for (const auto& head : result.heads) columns.push_back(columns.back() + head.context.cols());
    result.output.resize(tokens, columns.back());
    cpu::parallel_for(result.heads.size(), cpu::worker_threads(), [&](std::size_t h) {
      result.output.middleCols(columns[h], result.heads[h].context.cols()) = result.heads[h].context;
    });
  }
  if (parameters.out_proj) {
    // Eigen multiplies on one thread: a long text's rows are split over the workers. In blocks of 64 rows, an
    // edit that changed one block of contexts recomputes 64 rows on one thread (1.2 ms at 768 wide on the
    // AVX2 VM, 2.4 ms in blocks of 128), for 4 % more time over a whole text.
    const Matrix& weight = parameters.out_proj->weight;
    Matrix projected(tokens, weight.rows());
    constexpr Eigen::Index kRowsPerTask = 64;
    const auto tasks = static_cast<std::size_t>((tokens + kRowsPerTask - 1) / kRowsPerTask);
    cpu::parallel_for(tasks, cpu::worker_threads(), [&](std::size_t task) {
      const Eigen::Index begin = static_cast<Eigen::Index>(task) * kRowsPerTask;
      const Eigen::Index rows = std::min(tokens - begin, kRowsPerTask);
      auto block = projected.middleRows(begin, rows);
      if (output_rows_unchanged(result, earlier, parameters, begin, rows, kRowsPerTask)) {
        block = earlier->output.middleRows(begin, rows);
        return;
      }
      block.noalias() = result.output.middleRows(begin, rows) * weight.transpose();
      block.rowwise() += *parameters.out_proj->bias;
    });
    result.output = std::move(projected);
  }
  require_finite_result(result);
  static std::atomic<std::uint64_t> results{0};
  result.id = ++results;
  result.compute_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace

ModuleParameters draw_parameters(const AttentionConfig& config, int d_in, TorchGenerator& generator) {
  static std::atomic<std::uint64_t> draws{0};
  const int d_out = config.effective_d_out(d_in);
  std::vector<HeadProjection> heads;
  std::optional<LinearLayer> out_proj;
  generator.manual_seed(config.seed);
  switch (config.mechanism) {
    case Mechanism::simplified:
      heads.push_back(identity_projection(d_in));
      break;
    case Mechanism::self_attention_v1: {
      HeadProjection head;
      head.w_query = generator.rand(d_in, d_out);
      head.w_key = generator.rand(d_in, d_out);
      head.w_value = generator.rand(d_in, d_out);
      heads.push_back(std::move(head));
      break;
    }
    case Mechanism::self_attention:
    case Mechanism::causal:
    case Mechanism::multihead_wrapper:
      for (int h = 0; h < config.head_count(); ++h) {
        const LinearLayer query = generator.linear(d_in, d_out, config.qkv_bias);
        const LinearLayer key = generator.linear(d_in, d_out, config.qkv_bias);
        const LinearLayer value = generator.linear(d_in, d_out, config.qkv_bias);
        heads.push_back(split_head(query, key, value, 0, d_out));
      }
      break;
    case Mechanism::multihead: {
      const LinearLayer query = generator.linear(d_in, d_out, config.qkv_bias);
      const LinearLayer key = generator.linear(d_in, d_out, config.qkv_bias);
      const LinearLayer value = generator.linear(d_in, d_out, config.qkv_bias);
      out_proj = generator.linear(d_out, d_out, true);
      const int head_dim = d_out / config.heads;
      for (int h = 0; h < config.heads; ++h)
        heads.push_back(split_head(query, key, value, h * head_dim, head_dim));
      break;
    }
  }
  ModuleParameters parameters;
  parameters.heads = std::make_shared<const std::vector<HeadProjection>>(std::move(heads));
  parameters.out_proj = std::move(out_proj);
  parameters.id = ++draws;
  return parameters;
}

AttentionProblem make_problem(const AttentionConfig& config, const Matrix& input,
                              ModuleParameters* parameters_out) {
  check_input(config, input);
  TorchGenerator generator;
  ModuleParameters parameters = draw_parameters(config, static_cast<int>(input.cols()), generator);
  AttentionProblem problem = problem_with(config, input, parameters);

  if (config.dropout > 0.0) {
    if (config.dropout_seed) generator.manual_seed(*config.dropout_seed);
    const auto cells = static_cast<std::size_t>(input.rows() * input.rows());
    for (int h = 0; h < config.head_count(); ++h)
      problem.dropout_noise.push_back(generator.dropout_noise(cells, config.dropout));
  }
  if (parameters_out) *parameters_out = std::move(parameters);
  return problem;
}

AttentionResult compute_attention(const AttentionConfig& config, const Matrix& input, Backend& backend,
                                  const CancelToken& cancel) {
  const auto start = std::chrono::steady_clock::now();
  ModuleParameters parameters;
  const AttentionProblem problem = make_problem(config, input, &parameters);
  return finish(backend.compute(problem, cancel), parameters, config.normalization, input.rows(), start);
}

AttentionResult compute_attention(const AttentionConfig& config, const Matrix& input,
                                  const ModuleParameters& parameters, Backend& backend,
                                  const CancelToken& cancel) {
  const auto start = std::chrono::steady_clock::now();
  check_input(config, input);
  if (config.dropout > 0.0)
    throw Error("dropout draws its noise after the parameters: compute it with the parameters drawn anew");
  return finish(backend.compute(problem_with(config, input, parameters), cancel), parameters,
                config.normalization, input.rows(), start);
}

void compute_attention_masks(const AttentionConfig& config, const Matrix& input,
                             const ModuleParameters& parameters, const std::vector<MaskSpec>& masks,
                             Backend& backend, const CancelToken& cancel,
                             const std::function<void(std::size_t, AttentionResult)>& each,
                             const std::vector<const AttentionResult*>& earlier, const HeadSink& each_heads,
                             const std::vector<AttentionResult*>& recycled) {
  if (config.dropout > 0.0)
    throw Error("dropout draws its noise after the parameters: compute it with the parameters drawn anew");
  std::vector<MaskMatrix> matrices;
  for (const MaskSpec& mask : masks) {
    AttentionConfig masked = config;
    masked.mask = mask;
    check_input(masked, input);
    matrices.push_back(build_mask(masked.effective_mask(), input.rows()));
  }
  if (masks.empty()) return;
  AttentionProblem problem = problem_with(config, input, parameters, false);  // `matrices` are its masks
  problem.earlier = earlier;
  problem.earlier.resize(masks.size(), nullptr);
  problem.recycled = recycled;
  problem.recycled.resize(masks.size(), nullptr);
  problem.each_heads = each_heads;
  auto start = std::chrono::steady_clock::now();
  backend.compute_masks(problem, matrices, cancel, [&](std::size_t index, AttentionResult result) {
    each(index, finish(std::move(result), parameters, config.normalization, input.rows(), start,
                       problem.earlier[index]));
    start = std::chrono::steady_clock::now();  // the caller's time with the result is not the next mask's
  });
}

AttentionResult compute_attention(const AttentionConfig& config, const Matrix& input) {
  const auto backend = make_backend(Device::cpu);
  const CancelToken never_cancelled;
  return compute_attention(config, input, *backend, never_cancelled);
}

}  // namespace attnscope
