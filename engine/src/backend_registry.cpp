#include <string>

#include "attnscope/backend.hpp"
#include "attnscope/error.hpp"
#include "cpu/cpu_backend.hpp"

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
  throw Error("unknown device '" + std::string(name) + "' (expected cpu, cuda or auto)");
}

void CancelToken::throw_if_cancelled() const {
  if (cancelled()) throw Cancelled();
}

namespace {

BackendInfo cuda_info() {
  BackendInfo cuda;
  cuda.device = Device::cuda;
  cuda.name = "cuda";
  cuda.available = false;
  cuda.description = "not built: no CUDA toolkit was found when AttnScope was configured";
  return cuda;
}

}  // namespace

std::vector<BackendInfo> list_backends() {
  return {cpu::info(), cuda_info()};
}

std::unique_ptr<Backend> make_backend(Device device) {
  if (device == Device::cuda) {
    const BackendInfo cuda = cuda_info();
    throw Error("CUDA is not available: " + cuda.description);
  }
  return cpu::make_backend();
}

}  // namespace attnscope
