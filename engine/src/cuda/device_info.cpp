// What `attnscope-cli devices` and the registry say about CUDA on this machine.

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "cuda/cublas_library.hpp"
#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_support.hpp"
#include "cuda/kernels.hpp"

namespace attnscope::cuda {
namespace {

// The oldest architecture CMAKE_CUDA_ARCHITECTURES builds for by default: Turing.
constexpr int kOldestComputeCapability = 75;

std::string cuda_version(int version) {  // 13000 → "13.0"
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

std::string cublas_version(const CublasLibrary& library) {
  int major = 0, minor = 0, patch = 0;
  if (library.get_property(MAJOR_VERSION, &major) != CUBLAS_STATUS_SUCCESS ||
      library.get_property(MINOR_VERSION, &minor) != CUBLAS_STATUS_SUCCESS ||
      library.get_property(PATCH_LEVEL, &patch) != CUBLAS_STATUS_SUCCESS)
    return "unknown";
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::string reason_for(cudaError_t error, int driver, int runtime) {
  switch (error) {
    case cudaErrorInsufficientDriver:
      if (driver == 0) return "no NVIDIA driver: libcuda.so.1 cannot be loaded (install the NVIDIA driver)";
      return "the NVIDIA driver supports CUDA " + cuda_version(driver) +
             " but AttnScope was built with CUDA " + cuda_version(runtime) + ": update the driver";
    case cudaErrorNoDevice: {
      const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
      if (visible)
        return std::string("no CUDA device: CUDA_VISIBLE_DEVICES='") + visible + "' hides every GPU";
      return "no CUDA device: the NVIDIA driver " + cuda_version(driver) + " reports none";
    }
    default:
      return std::string("CUDA cannot start: ") + cudaGetErrorString(error) + " (" + cudaGetErrorName(error) +
             ")";
  }
}

BackendInfo probe() {
  BackendInfo info;
  info.device = Device::cuda;
  info.name = "cuda";
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);  // 0 when there is no driver
  const std::string built_with = " [built with CUDA runtime " + cuda_version(runtime) + "]";

  int count = 0;
  cudaError_t error = cudaGetDeviceCount(&count);
  if (error == cudaSuccess && count == 0) error = cudaErrorNoDevice;
  if (error != cudaSuccess) {
    cudaGetLastError();
    info.description = reason_for(error, driver, runtime) + built_with;
    return info;
  }

  cudaDeviceProp properties{};
  error = cudaGetDeviceProperties(&properties, 0);
  if (error != cudaSuccess) {
    cudaGetLastError();
    info.description = reason_for(error, driver, runtime) + built_with;
    return info;
  }
  const std::string name = properties.name;
  const std::string capability = std::to_string(properties.major) + "." + std::to_string(properties.minor);
  if (properties.major * 10 + properties.minor < kOldestComputeCapability) {
    info.description = name + " has compute capability " + capability +
                       "; AttnScope's CUDA backend needs 7.5 (Turing) or newer" + built_with;
    return info;
  }
  error = cudaSetDevice(0);
  if (error == cudaSuccess) error = probe_kernels();
  if (error != cudaSuccess) {
    cudaGetLastError();
    if (error == cudaErrorNoKernelImageForDevice || error == cudaErrorInvalidDeviceFunction)
      info.description = "this build has no code for " + name + " (compute capability " + capability +
                         "): add it to CMAKE_CUDA_ARCHITECTURES and rebuild";
    else
      info.description = reason_for(error, driver, runtime) + built_with;
    return info;
  }

  const CublasLibrary* library = nullptr;
  try {
    library = &cublas();
  } catch (const DeviceError& error) {
    info.description = error.what();
    return info;
  }

  info.available = true;
  info.device_name = name;
  info.description = name + ", " + format_bytes(properties.totalGlobalMem) + ", compute capability " +
                     capability + ", driver " + cuda_version(driver) + ", runtime " + cuda_version(runtime) +
                     ", cuBLAS " + cublas_version(*library);
  if (count > 1)
    info.description += " (device 0 of " + std::to_string(count) + "; CUDA_VISIBLE_DEVICES chooses)";
  return info;
}

}  // namespace

BackendInfo info() {
  static const BackendInfo probed = probe();
  return probed;
}

}  // namespace attnscope::cuda
