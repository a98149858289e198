// The CUDA backend's own kernels; the matrix products are cuBLAS's. Arithmetic follows the CPU backend
// operation by operation (IEEE division, no fast math), so only the order of the sums differs.

#include <climits>
#include <cmath>

#include "kernels.hpp"

namespace attnscope::cuda {
namespace {

constexpr int kMaxThreads = 256;
// Rows up to this many keys stay in shared memory between the passes (with `partial`, under the default 48
// KiB a block may use without opting in).
constexpr int kMaxCachedKeys = 12000;

// Butterfly reductions: every lane ends with the same value, and the order is fixed, so the result is
// deterministic.
__device__ float warp_max(float value) {
  for (int offset = 16; offset > 0; offset >>= 1)
    value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
  return value;
}

__device__ float warp_sum(float value) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

// blockDim.x is a multiple of 32. `partial` holds one value per warp.
template <bool kMax>
__device__ float block_reduce(float value, float* partial) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  const float identity = kMax ? -INFINITY : 0.0f;
  value = kMax ? warp_max(value) : warp_sum(value);
  __syncthreads();  // partial may still be read by a previous reduction
  if (lane == 0) partial[warp] = value;
  __syncthreads();
  value = lane < warps ? partial[lane] : identity;
  return kMax ? warp_max(value) : warp_sum(value);
}

__global__ void add_row_bias_kernel(float* data, const float* bias, long long count, int cols) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    data[i] = __fadd_rn(data[i], bias[i % cols]);
}

template <bool kCached>
__global__ void __launch_bounds__(kMaxThreads) normalize_rows_kernel(NormalizeRows args) {
  extern __shared__ float row[];  // n numbers when kCached
  __shared__ float partial[32];
  const int n = args.n, query = blockIdx.x, head = blockIdx.y;
  const long long offset = (static_cast<long long>(head) * n + query) * n;
  float* scores = args.scores + offset;
  float* weights = args.weights + offset;
  const std::uint8_t* hidden = args.mask + static_cast<long long>(query) * n;

  // Scale the visible scores and find their max; hidden scores become −∞, as masked_fill leaves them.
  float local_max = -INFINITY;
  int visible = 0;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    if (hidden[j]) {
      scores[j] = -INFINITY;
      continue;
    }
    const float scaled = __fdiv_rn(scores[j], args.divisor);
    if (kCached) row[j] = scaled;
    visible = 1;
    local_max = fmaxf(local_max, scaled);
  }
  if (!__syncthreads_or(visible)) {  // every key hidden: zero weights, as on the CPU
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
      weights[j] = 0.0f;
      if (args.noise) args.dropped[offset + j] = 0.0f;
    }
    return;
  }
  const float row_max = block_reduce<true>(local_max, partial);

  float local_sum = 0.0f;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    float value = 0.0f;
    if (!hidden[j]) {
      const float scaled = kCached ? row[j] : __fdiv_rn(scores[j], args.divisor);
      value = args.softmax ? expf(__fsub_rn(scaled, row_max)) : scaled;
    }
    if (kCached)
      row[j] = value;
    else
      weights[j] = value;
    local_sum = __fadd_rn(local_sum, value);
  }
  const float sum = block_reduce<false>(local_sum, partial);
  if (!args.softmax && (sum == 0.0f || !isfinite(sum))) {
    if (threadIdx.x == 0) atomicMin(args.bad_row, head * n + query);
    return;
  }

  const float inverse = __fdiv_rn(1.0f, sum);
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    const float weight = __fmul_rn(kCached ? row[j] : weights[j], inverse);
    weights[j] = weight;
    if (args.noise) args.dropped[offset + j] = __fmul_rn(weight, args.noise[offset + j]);
  }
}

}  // namespace

cudaError_t add_row_bias(float* data, const float* bias, int rows, int cols, cudaStream_t stream) {
  const long long count = static_cast<long long>(rows) * cols;
  if (count == 0) return cudaSuccess;
  const long long wanted = (count + kMaxThreads - 1) / kMaxThreads;
  const int blocks = static_cast<int>(wanted < 65536 ? wanted : 65536);
  add_row_bias_kernel<<<blocks, kMaxThreads, 0, stream>>>(data, bias, count, cols);
  return cudaGetLastError();
}

cudaError_t normalize_rows(const NormalizeRows& args, cudaStream_t stream) {
  if (args.n == 0 || args.heads == 0) return cudaSuccess;
  const int threads = args.n >= kMaxThreads ? kMaxThreads : (args.n + 31) / 32 * 32;
  const dim3 grid(static_cast<unsigned>(args.n), static_cast<unsigned>(args.heads));
  if (args.n <= kMaxCachedKeys)
    normalize_rows_kernel<true><<<grid, threads, args.n * sizeof(float), stream>>>(args);
  else
    normalize_rows_kernel<false><<<grid, threads, 0, stream>>>(args);
  return cudaGetLastError();
}

cudaError_t probe_kernels() {
  cudaFuncAttributes attributes;
  cudaError_t error = cudaFuncGetAttributes(&attributes, normalize_rows_kernel<true>);
  if (error == cudaSuccess) error = cudaFuncGetAttributes(&attributes, add_row_bias_kernel);
  return error;
}

}  // namespace attnscope::cuda
