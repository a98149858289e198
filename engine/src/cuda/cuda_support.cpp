#include "cuda/cuda_support.hpp"

#include <cstdio>

#include "cuda/cublas_library.hpp"

namespace attnscope::cuda {

void check(cudaError_t error, const char* what) {
  if (error == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so that the next call does not report it again
  throw DeviceError(std::string("CUDA failed while ") + what + ": " + cudaGetErrorString(error) + " (" +
                    cudaGetErrorName(error) + ")");
}

void check(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw DeviceError(std::string("cuBLAS failed while ") + what + ": " + cublas().status_string(status) +
                    " (" + cublas().status_name(status) + ")");
}

std::string format_bytes(std::size_t bytes) {
  char text[32];
  const double mib = static_cast<double>(bytes) / (1024.0 * 1024.0);
  if (mib >= 1024.0)
    std::snprintf(text, sizeof text, "%.1f GiB", mib / 1024.0);
  else
    std::snprintf(text, sizeof text, "%.1f MiB", mib);
  return text;
}

cudaError_t DeviceBuffer::reserve(std::size_t bytes) {
  if (bytes <= capacity_) return cudaSuccess;
  release();
  const std::size_t roomy = bytes + bytes / 4;
  cudaError_t error = cudaMalloc(&data_, roomy);
  if (error == cudaSuccess) {
    capacity_ = roomy;
    return error;
  }
  if (error != cudaErrorMemoryAllocation) return error;
  cudaGetLastError();
  error = cudaMalloc(&data_, bytes);
  if (error == cudaSuccess) {
    capacity_ = bytes;
    return error;
  }
  data_ = nullptr;
  cudaGetLastError();
  return error;
}

void DeviceBuffer::release() {
  if (data_) cudaFree(data_);  // nothing to do about a failure here: the context is gone with it
  data_ = nullptr;
  capacity_ = 0;
}

Stream::Stream() {
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "creating a stream");
}

Stream::~Stream() {
  cudaStreamDestroy(stream_);
}

Blas::Blas(const Stream& stream) {
  check(cublas().create(&handle_), "initialising cuBLAS");
  try {
    check(cublas().set_stream(handle_, stream.get()), "binding cuBLAS to a stream");
    check(cublas().set_math_mode(handle_, CUBLAS_DEFAULT_MATH), "asking cuBLAS for float32 math");
  } catch (...) {
    cublas().destroy(handle_);
    throw;
  }
}

Blas::~Blas() {
  cublas().destroy(handle_);
}

Event::Event() {
  check(cudaEventCreate(&event_), "creating a timing event");
}

Event::~Event() {
  cudaEventDestroy(event_);
}

float Event::milliseconds_since(const Event& start) const {
  check(cudaEventSynchronize(event_), "waiting for a timed run");
  float milliseconds = 0.0f;
  check(cudaEventElapsedTime(&milliseconds, start.event_, event_), "reading a timing event");
  return milliseconds;
}

// Row-major M (r × c, rows ld apart) is column-major Mᵀ with leading dimension ld. So S = Q·Kᵀ is
// column-major Sᵀ = K·Qᵀ = (Kᵀ)ᵀ·Qᵀ, and C = P·V is Cᵀ = Vᵀ·Pᵀ.
void batched_scores(cublasHandle_t blas, const float* queries, const float* keys, int ld,
                    long long head_stride, float* scores, int n, int head_dim, int heads) {
  const float one = 1.0f, zero = 0.0f;
  check(cublas().sgemm_strided_batched(blas, CUBLAS_OP_T, CUBLAS_OP_N, n, n, head_dim, &one, keys, ld,
                                       head_stride, queries, ld, head_stride, &zero, scores, n,
                                       static_cast<long long>(n) * n, heads),
        "multiplying queries by keys");
}

void batched_context(cublasHandle_t blas, const float* weights, const float* values, int ld,
                     long long head_stride, float* context, int n, int head_dim, int heads) {
  const float one = 1.0f, zero = 0.0f;
  check(cublas().sgemm_strided_batched(blas, CUBLAS_OP_N, CUBLAS_OP_N, head_dim, n, n, &one, values, ld,
                                       head_stride, weights, n, static_cast<long long>(n) * n, &zero, context,
                                       head_dim, static_cast<long long>(n) * head_dim, heads),
        "multiplying weights by values");
}

}  // namespace attnscope::cuda
