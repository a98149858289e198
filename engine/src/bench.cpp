// The bench's attention step: on the CPU the CPU backend's own step code, blocked and threaded as CpuBackend
// runs it; on a GPU the CUDA backend's. And the dispatch between them.

#include "attnscope/bench.hpp"

#include <algorithm>
#include <chrono>
#include <string>

#include "attnscope/error.hpp"
#include "attnscope/head_stats.hpp"
#include "cpu/attention_step.hpp"
#include "cpu/parallel.hpp"
#if ATTNSCOPE_HAVE_CUDA
#include "cuda/cuda_backend.hpp"
#endif

namespace attnscope {
namespace {

using Clock = std::chrono::steady_clock;

using cpu::kRowBlock;  // the SGEMM baseline splits its work as the step does

double elapsed_ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// `repeat` == 0: the step once, untimed. Else the step and the plain products (per row block, S = Q·Kᵀ and
// S·V, spread over the same threads) once each to warm up, then `repeat` times each, alternating (the step's
// blocks clocking their scale + mask + softmax).
StepTiming time_step_on_cpu(const StepProblem& problem, int repeat) {
  const Eigen::Index n = problem.tokens, d = problem.head_dim;
  const auto heads = static_cast<std::size_t>(problem.heads);
  const auto head_matrix = [&](const std::vector<float>& data, std::size_t h) {
    return Matrix(Eigen::Map<const Matrix>(data.data() + h * n * d, n, d));
  };
  std::vector<Matrix> queries, keys, values;
  for (std::size_t h = 0; h < heads; ++h) {
    queries.push_back(head_matrix(problem.queries, h));
    keys.push_back(head_matrix(problem.keys, h));
    values.push_back(head_matrix(problem.values, h));
  }
  std::vector<cpu::StepInput> inputs(heads);
  std::vector<HeadResult> results(heads);
  for (std::size_t h = 0; h < heads; ++h) {
    inputs[h] = cpu::StepInput{&queries[h],   &keys[h],
                               &values[h],    problem.scale_divisor,
                               &problem.mask, Normalization::softmax,
                               nullptr,       problem.keep_scores};
    inputs[h].ordered_scores = true;  // as the window's backend computes
    cpu::allocate_head(inputs[h], results[h]);
  }
  const std::vector<cpu::VisibleRange> ranges = cpu::visible_ranges(problem.mask);
  const int threads = cpu::worker_threads();
  const std::size_t blocks = static_cast<std::size_t>((n + kRowBlock - 1) / kRowBlock);
  const auto block_rows = [&](std::size_t task) {
    const Eigen::Index begin = static_cast<Eigen::Index>(task % blocks) * kRowBlock;
    return std::pair{begin, std::min(n, begin + kRowBlock) - begin};
  };

  for (HeadResult& result : results) result.row_stats.resize(static_cast<std::size_t>(n));
  const auto step = [&](bool row_stats) {
    for (cpu::StepInput& input : inputs) input.row_stats = row_stats;
    cpu::attention_heads(inputs, ranges, results, threads, nullptr);
  };
  const auto sgemm = [&] {  // results' weights and context serve as the products' outputs
    cpu::parallel_for(heads * blocks, threads, [&](std::size_t task) {
      const std::size_t h = task / blocks;
      const auto [begin, rows] = block_rows(task);
      auto scores = results[h].weights.middleRows(begin, rows);
      scores.noalias() = queries[h].middleRows(begin, rows) * keys[h].transpose();
      results[h].context.middleRows(begin, rows).noalias() = scores * values[h];
    });
  };

  StepTiming timing;
  step(false);
  if (repeat > 0) sgemm();
  cpu::StepClock clock;
  for (cpu::StepInput& input : inputs) input.clock = &clock;
  const auto keep_context = [&] {
    timing.context.resize(heads * n * d);
    for (std::size_t h = 0; h < heads; ++h)
      Eigen::Map<Matrix>(timing.context.data() + h * n * d, n, d) = results[h].context;
  };
  if (repeat == 0) keep_context();
  // Step and SGEMM alternate, so that a machine slowing down or speeding up during the run (a shared VM)
  // moves both alike and their ratio stays fair.
  for (int r = 0; r < repeat; ++r) {
    auto start = Clock::now();
    step(false);
    timing.step_ms.push_back(elapsed_ms(start));
    start = Clock::now();
    step(true);
    timing.step_with_stats_ms.push_back(elapsed_ms(start));
    if (r + 1 == repeat) keep_context();  // before the SGEMM overwrites the contexts
    start = Clock::now();
    sgemm();
    timing.sgemm_ms.push_back(elapsed_ms(start));
  }
  if (clock.block_ns > 0)
    timing.mask_softmax_share = static_cast<double>(clock.normalize_ns) / static_cast<double>(clock.block_ns);
  return timing;
}

void validate(const StepProblem& problem, int repeat) {
  if (problem.heads < 1 || problem.tokens < 1 || problem.head_dim < 1)
    throw Error("bench: heads, tokens and head_dim must be at least 1");
  if (repeat < 1) throw Error("bench: --repeat must be at least 1 (got " + std::to_string(repeat) + ")");
  const std::size_t size = static_cast<std::size_t>(problem.heads) * problem.tokens * problem.head_dim;
  if (problem.queries.size() != size || problem.keys.size() != size || problem.values.size() != size)
    throw Error("bench: queries, keys and values must each hold heads × tokens × head_dim numbers");
  if (problem.mask.rows() != problem.tokens || problem.mask.cols() != problem.tokens)
    throw Error("bench: the mask must be tokens × tokens");
}

}  // namespace

double step_flops(const StepProblem& problem) {
  return 4.0 * problem.heads * static_cast<double>(problem.tokens) * problem.tokens * problem.head_dim;
}

std::vector<float> cpu_step_context(const StepProblem& problem) {
  validate(problem, 1);
  return time_step_on_cpu(problem, 0).context;
}

StepTiming time_attention_step(Device device, const StepProblem& problem, int repeat) {
  validate(problem, repeat);
  switch (device) {
    case Device::cpu:
      return time_step_on_cpu(problem, repeat);
    case Device::cuda:
      for (const BackendInfo& backend : list_backends())
        if (backend.device == Device::cuda && !backend.available)
          throw Error("CUDA is not available: " + backend.description);
#if ATTNSCOPE_HAVE_CUDA
      return cuda::time_step(problem, repeat);
#else
      break;
#endif
    case Device::automatic:
      break;
  }
  throw Error("bench: pick cpu or cuda, not " + std::string(to_string(device)));
}

}  // namespace attnscope
