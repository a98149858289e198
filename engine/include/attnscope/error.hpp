#pragma once
// Errors that a person can act on cross the engine's API as attnscope::Error with a one-line message.

#include <stdexcept>
#include <string>

namespace attnscope {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Thrown when a computation is abandoned because a newer request superseded it.
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("computation cancelled") {}
};

}  // namespace attnscope
