#pragma once
// Checked, owning wrappers over the CUDA runtime and cuBLAS: every failure becomes a DeviceError whose
// message names the step that failed and CUDA's reason.

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

#include "cuda/cuda_backend.hpp"

namespace attnscope::cuda {

// Throw DeviceError "CUDA failed while <what>: <reason> (<name>)" unless the call succeeded.
void check(cudaError_t error, const char* what);
void check(cublasStatus_t status, const char* what);

std::string format_bytes(std::size_t bytes);  // "805.3 MiB", "2.4 GiB"

// Device memory that only grows, so that a problem no larger than an earlier one reuses its memory.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { release(); }

  // Keeps the allocation when it holds `bytes`; else allocates bytes plus a quarter (so that a few more
  // tokens fit too), or exactly `bytes` when that fails. Returns cudaErrorMemoryAllocation when neither fits.
  cudaError_t reserve(std::size_t bytes);
  void release();
  std::size_t capacity() const { return capacity_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  std::size_t capacity_ = 0;
};

class Stream {
 public:
  Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();
  cudaStream_t get() const { return stream_; }
  void synchronize(const char* what) const { check(cudaStreamSynchronize(stream_), what); }

 private:
  cudaStream_t stream_ = nullptr;
};

// A cuBLAS handle that runs on `stream` in full float32 (CUBLAS_DEFAULT_MATH never uses TF32).
class Blas {
 public:
  explicit Blas(const Stream& stream);
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;
  ~Blas();
  cublasHandle_t get() const { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
};

class Event {
 public:
  Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event();
  void record(const Stream& stream) {
    check(cudaEventRecord(event_, stream.get()), "recording a timing event");
  }
  float milliseconds_since(const Event& start) const;  // both recorded, this one completed

 private:
  cudaEvent_t event_ = nullptr;
};

// Row-major products on cuBLAS (column-major), batched over heads. Head h's queries, keys and values start
// `head_stride` floats after head h−1's, their rows `ld` floats apart; scores and context are contiguous.
// scores[h] = Q[h] · K[h]ᵀ (n × n).
void batched_scores(cublasHandle_t blas, const float* queries, const float* keys, int ld,
                    long long head_stride, float* scores, int n, int head_dim, int heads);
// context[h] = P[h] · V[h] (n × head_dim), P[h] the n × n weights.
void batched_context(cublasHandle_t blas, const float* weights, const float* values, int ld,
                     long long head_stride, float* context, int n, int head_dim, int heads);

}  // namespace attnscope::cuda
