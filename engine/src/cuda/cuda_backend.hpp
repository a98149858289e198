#pragma once
// The CUDA backend as the registry sees it. No CUDA header here: the registry compiles without the toolkit's.

#include <memory>

#include "attnscope/backend.hpp"
#include "attnscope/bench.hpp"
#include "attnscope/error.hpp"

namespace attnscope::cuda {

// The device failed (out of memory, a failed launch or copy, a cuBLAS error): the registry then computes on
// the CPU. Errors in the input itself stay attnscope::Error, as on the CPU.
class DeviceError : public Error {
 public:
  using Error::Error;
};

// Device 0 (as CUDA_VISIBLE_DEVICES orders them): name, memory, versions; or why CUDA cannot be used here.
// Probed once per process.
BackendInfo info();

// Throws DeviceError when the device cannot be set up (e.g. cuBLAS cannot be initialised).
std::unique_ptr<Backend> make_backend();

// bench's step on the device; see attnscope/bench.hpp. Throws DeviceError.
StepTiming time_step(const StepProblem& problem, int repeat);

}  // namespace attnscope::cuda
