#include "cuda/cublas_library.hpp"

#include <dlfcn.h>

#include <string>

#include "cuda/cuda_backend.hpp"

namespace attnscope::cuda {
namespace {

const std::string kSoname = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);

struct Loaded {
  CublasLibrary library{};
  std::string error;  // empty when loaded
};

template <class Function>
void find(void* handle, const char* name, Function& function, std::string& error) {
  function = reinterpret_cast<Function>(dlsym(handle, name));
  if (!function && error.empty()) error = kSoname + " has no " + name + ": it is older than AttnScope needs";
}

Loaded load() {
  Loaded loaded;
  void* handle =
      dlopen((std::string(ATTNSCOPE_CUDA_LIBRARY_DIR "/") + kSoname).c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) handle = dlopen(kSoname.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* reason = dlerror();
    loaded.error = "cuBLAS cannot be loaded (" + std::string(reason ? reason : kSoname) +
                   "): install the CUDA toolkit's cuBLAS " + std::to_string(CUBLAS_VER_MAJOR) +
                   " or add its directory to LD_LIBRARY_PATH";
    return loaded;
  }
  // Kept open for the rest of the process: cuBLAS handles may live until exit.
  CublasLibrary& library = loaded.library;
  find(handle, "cublasCreate_v2", library.create, loaded.error);
  find(handle, "cublasDestroy_v2", library.destroy, loaded.error);
  find(handle, "cublasSetStream_v2", library.set_stream, loaded.error);
  find(handle, "cublasSetMathMode", library.set_math_mode, loaded.error);
  find(handle, "cublasSgemm_v2", library.sgemm, loaded.error);
  find(handle, "cublasSgemmStridedBatched", library.sgemm_strided_batched, loaded.error);
  find(handle, "cublasGetStatusString", library.status_string, loaded.error);
  find(handle, "cublasGetStatusName", library.status_name, loaded.error);
  find(handle, "cublasGetProperty", library.get_property, loaded.error);
  return loaded;
}

}  // namespace

const CublasLibrary& cublas() {
  static const Loaded loaded = load();
  if (!loaded.error.empty()) throw DeviceError(loaded.error);
  return loaded.library;
}

}  // namespace attnscope::cuda
