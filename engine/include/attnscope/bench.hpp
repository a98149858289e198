#pragma once
// Timing the attention step a viewer needs, for attnscope-cli bench: scores = Q·Kᵀ, scale, mask, softmax with
// the weights kept in memory, context = weights·V. Projections are excluded, and on a GPU so are the
// transfers to and from the host.

#include <optional>
#include <vector>

#include "attnscope/backend.hpp"
#include "attnscope/matrix.hpp"

namespace attnscope {

struct StepProblem {
  int heads = 1, tokens = 1, head_dim = 1;
  std::vector<float> queries, keys, values;  // heads × tokens × head_dim each, row-major, head after head
  MaskMatrix mask;                           // tokens × tokens, 1 = hidden
  float scale_divisor = 1.0f;                // scaled score = score / scale_divisor
  bool keep_scores = false;                  // as AttentionProblem::keep_scores; the weights are always kept
};

struct StepTiming {
  std::vector<double> step_ms;  // one per repetition, in milliseconds
  // The fraction of the timed steps' block time spent scaling, masking and normalising (CPU only).
  std::optional<double> mask_softmax_share;
  std::vector<double> sgemm_ms;  // plain SGEMMs of the step's two products (the same FLOPs), per repetition
  // CPU only: the step again with the head statistics' row terms (head_stats.hpp), as the window's worker
  // computes it (AttentionConfig::row_stats), per repetition.
  std::vector<double> step_with_stats_ms;
  std::vector<float> context;  // heads × tokens × head_dim from the last repetition
};

// Floating-point operations of the step's two products: 4 · heads · tokens² · head_dim (masked cells count).
double step_flops(const StepProblem& problem);

// Runs the step once to warm up, then `repeat` times, on `device` (cpu or cuda; not automatic). Throws Error
// when the device is unavailable or fails (e.g. out of memory).
StepTiming time_attention_step(Device device, const StepProblem& problem, int repeat);

// The step's context (heads × tokens × head_dim) computed once on the CPU: the reference for the GPU's.
std::vector<float> cpu_step_context(const StepProblem& problem);

}  // namespace attnscope
