// config.json as Gpt2Model::open reads it: Gpt2Config::parse. Whatever the bytes, it returns a configuration
// or throws attnscope::Error with a one-line message naming the file. A configuration it returns passes
// validate() (sizes in range, n_embd divisible by n_head, ε in (0, 1]), and written out as config.json it
// parses back the same.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "attnscope/error.hpp"
#include "attnscope/gpt2.hpp"
#include "fuzz_support.hpp"

namespace {

std::string to_json(const attnscope::Gpt2Config& config) {
  char epsilon[40];
  std::snprintf(epsilon, sizeof epsilon, "%.17g", config.layer_norm_epsilon);
  return "{\"vocab_size\": " + std::to_string(config.vocab_size) +
         ", \"n_positions\": " + std::to_string(config.n_positions) +
         ", \"n_embd\": " + std::to_string(config.n_embd) +
         ", \"n_layer\": " + std::to_string(config.n_layer) +
         ", \"n_head\": " + std::to_string(config.n_head) +
         ", \"n_inner\": " + (config.n_inner ? std::to_string(config.n_inner) : std::string("null")) +
         ", \"layer_norm_epsilon\": " + epsilon + ", \"activation_function\": \"gelu_new\"}";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // nlohmann's tree costs a few tens of bytes per byte of deeply nested input.
  const attnscope::fuzz::HeapBudget budget(128 * size + 64 * 1024);
  attnscope::Gpt2Config config;
  try {
    config = attnscope::Gpt2Config::parse(text, "config.json");
  } catch (const attnscope::Error& error) {
    budget.check("Gpt2Config::parse");
    attnscope::fuzz::check_message(error.what(), "config.json: ");
    return 0;
  }
  budget.check("Gpt2Config::parse");
  try {
    config.validate();
  } catch (const attnscope::Error& error) {
    FUZZ_CHECK(false, std::string("parse returned a configuration validate() rejects: ") + error.what());
  }
  FUZZ_CHECK(config.n_embd % config.n_head == 0 && config.head_dim() * config.n_head == config.n_embd,
             "head_dim");
  FUZZ_CHECK(config.inner_dim() >= 1, "inner_dim");
  FUZZ_CHECK(std::isfinite(config.layer_norm_epsilon) && config.layer_norm_epsilon > 0, "epsilon");

  const attnscope::Gpt2Config again = attnscope::Gpt2Config::parse(to_json(config), "again.json");
  FUZZ_CHECK(again.vocab_size == config.vocab_size && again.n_positions == config.n_positions &&
                 again.n_embd == config.n_embd && again.n_layer == config.n_layer &&
                 again.n_head == config.n_head && again.n_inner == config.n_inner &&
                 again.layer_norm_epsilon == config.layer_norm_epsilon,
             "written out and read again, the configuration differs");
  return 0;
}
