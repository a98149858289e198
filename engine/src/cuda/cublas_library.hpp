#pragma once
// cuBLAS, opened when the CUDA backend is first set up rather than linked: linking it would cost every start
// of attnscope-cli and the app about 0.1 s and 200 MB of memory, with or without a GPU.

#include <cublas_v2.h>

namespace attnscope::cuda {

struct CublasLibrary {
  decltype(&cublasCreate_v2) create;
  decltype(&cublasDestroy_v2) destroy;
  decltype(&cublasSetStream_v2) set_stream;
  decltype(&cublasSetMathMode) set_math_mode;
  decltype(&cublasSgemm_v2) sgemm;
  decltype(&cublasSgemmStridedBatched) sgemm_strided_batched;
  decltype(&cublasGetStatusString) status_string;
  decltype(&cublasGetStatusName) status_name;
  decltype(&cublasGetProperty) get_property;
};

// Opens libcublas.so.<major it was built with> from the toolkit AttnScope was built with, else wherever the
// loader finds it (LD_LIBRARY_PATH, ld.so.conf), once per process. Throws DeviceError saying why it cannot.
const CublasLibrary& cublas();

}  // namespace attnscope::cuda
