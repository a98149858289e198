#pragma once

#include <memory>

#include "attnscope/backend.hpp"

namespace attnscope::cpu {

std::unique_ptr<Backend> make_backend();
BackendInfo info();

}  // namespace attnscope::cpu
