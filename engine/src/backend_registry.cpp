#include <string>

#include "attnscope/backend.hpp"
#include "attnscope/error.hpp"
#include "attnscope/quote.hpp"
#include "cpu/cpu_backend.hpp"
#if ATTNSCOPE_HAVE_CUDA
#include "cuda/cuda_backend.hpp"
#endif

namespace attnscope {

std::string_view to_string(Device device) {
  switch (device) {
    case Device::cpu:
      return "cpu";
    case Device::cuda:
      return "cuda";
    case Device::automatic:
      return "auto";
  }
  return "cpu";
}

Device parse_device(std::string_view name) {
  if (name == "cpu") return Device::cpu;
  if (name == "cuda") return Device::cuda;
  if (name == "auto") return Device::automatic;
  throw Error("unknown device " + quote(name) + " (expected cpu, cuda or auto)");
}

void Backend::compute_masks(const AttentionProblem& problem, const std::vector<MaskMatrix>& masks,
                            const CancelToken& cancel, const MaskResultSink& each) {
  AttentionProblem masked = problem;
  for (std::size_t m = 0; m < masks.size(); ++m) {
    masked.mask = masks[m];
    masked.each_heads = nullptr;
    AttentionResult result = compute(masked, cancel);
    if (problem.each_heads) problem.each_heads(m, 0, result.heads, result.mask);
    each(m, std::move(result));
  }
}

void CancelToken::throw_if_cancelled() const {
  if (cancelled()) throw Cancelled();
}

namespace {

BackendInfo cpu_info() {
  BackendInfo cpu = cpu::info();
  if (cpu.device_name.empty()) cpu.device_name = "CPU";
  return cpu;
}

BackendInfo cuda_info() {
#if ATTNSCOPE_HAVE_CUDA
  return cuda::info();
#else
  BackendInfo cuda;
  cuda.device = Device::cuda;
  cuda.name = "cuda";
  cuda.available = false;
  cuda.description = "not built: no CUDA toolkit was found when AttnScope was configured";
  return cuda;
#endif
}

#if ATTNSCOPE_HAVE_CUDA
// The CUDA backend, and the CPU when the device fails: the result then says why in fallback_reason. Errors in
// the input (an attnscope::Error that is not a DeviceError) and cancellation pass through. Without `cuda`
// (it could not be set up) every result comes from the CPU with `broken` as the reason.
class CudaWithFallback final : public Backend {
 public:
  CudaWithFallback(std::unique_ptr<Backend> cuda, std::string broken)
      : cuda_(std::move(cuda)), broken_(std::move(broken)) {}

  std::string_view name() const override { return cuda_ ? "cuda" : "cpu"; }

  AttentionResult compute(const AttentionProblem& problem, const CancelToken& cancel) override {
    std::string reason = broken_;
    if (cuda_) {
      try {
        return cuda_->compute(problem, cancel);
      } catch (const cuda::DeviceError& error) {
        reason = error.what();
      }
    }
    if (!cpu_) cpu_ = cpu::make_backend();
    AttentionResult result = cpu_->compute(problem, cancel);
    result.fallback_reason = reason + "; computed on the CPU instead";
    return result;
  }

 private:
  std::unique_ptr<Backend> cuda_;
  std::string broken_;
  std::unique_ptr<Backend> cpu_;
};
#endif

}  // namespace

std::vector<BackendInfo> list_backends() {
  return {cpu_info(), cuda_info()};
}

std::unique_ptr<Backend> make_backend(Device device) {
  if (device == Device::cpu) return cpu::make_backend();
  const BackendInfo cuda = cuda_info();
  if (!cuda.available) {
    if (device == Device::automatic) return cpu::make_backend();
    throw Error("CUDA is not available: " + cuda.description);
  }
#if ATTNSCOPE_HAVE_CUDA
  try {
    return std::make_unique<CudaWithFallback>(cuda::make_backend(), std::string());
  } catch (const cuda::DeviceError& error) {
    if (device == Device::cuda) throw Error("CUDA is not available: " + std::string(error.what()));
    return std::make_unique<CudaWithFallback>(nullptr, error.what());
  }
#else
  return cpu::make_backend();  // unreachable: without the toolkit CUDA is never available
#endif
}

}  // namespace attnscope
