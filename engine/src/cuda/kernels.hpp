#pragma once
// Launchers of the CUDA backend's kernels. Each returns the launch's error and does not synchronise.

#include <cuda_runtime_api.h>

#include <cstdint>

namespace attnscope::cuda {

// Adds bias (cols numbers) to every row of `data` (rows × cols, row-major).
cudaError_t add_row_bias(float* data, const float* bias, int rows, int cols, cudaStream_t stream);

struct NormalizeRows {
  float* scores = nullptr;             // heads × n × n raw q·k, row-major; hidden cells become −∞
  float* weights = nullptr;            // heads × n × n, written: hidden cells and all-hidden rows exactly 0
  const float* noise = nullptr;        // heads × n × n dropout multipliers, or null without dropout
  float* dropped = nullptr;            // heads × n × n, written with weights ⊙ noise when noise is given
  const std::uint8_t* mask = nullptr;  // n × n, 1 = the key is hidden from the query
  int* bad_row = nullptr;              // sum only: atomicMin of head · n + query whose visible sum is 0 or
                                       // not finite; the caller sets it to INT_MAX first
  int n = 0, heads = 0;
  float divisor = 1.0f;  // scaled score = score / divisor
  bool softmax = true;   // false: divide the visible scaled scores by their sum
};

// One block per (query, head): scale, mask (hidden scores become −∞), then softmax (max, exp(x − max), times
// 1/sum) or sum.
cudaError_t normalize_rows(const NormalizeRows& args, cudaStream_t stream);

// Loads the kernels on the current device: cudaErrorNoKernelImageForDevice when this build has no code for
// its architecture.
cudaError_t probe_kernels();

}  // namespace attnscope::cuda
