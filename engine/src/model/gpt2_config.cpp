// config.json of a Hugging Face GPT-2 folder: GPT2Config's fields that shape the forward pass.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "attnscope/error.hpp"
#include "attnscope/gpt2.hpp"
#include "model/model_files.hpp"
#include "readers.hpp"

namespace attnscope {
namespace {

using detail::quote;
using nlohmann::json;

// config.json is a few hundred bytes; fine-tunes with label maps stay far below this.
constexpr std::size_t kMaxConfigBytes = std::size_t{4} << 20;

// Limits no real model nears: they keep every product of sizes well inside 64 bits.
constexpr int kMaxVocabulary = 10'000'000;
constexpr int kMaxPositions = 1'000'000;
constexpr int kMaxWidth = 1'000'000;
constexpr int kMaxLayers = 10'000;

const char* kind_of(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    default:
      return "a number";
  }
}

class ConfigReader {
 public:
  ConfigReader(const json& object, std::string_view name) : object_(object), name_(name) {}

  [[noreturn]] void fail(const std::string& problem) const {
    throw Error(std::string(name_) + ": " + problem);
  }

  const json* find(const char* key) const {
    const auto found = object_.find(key);
    return found == object_.end() ? nullptr : &*found;
  }

  // The integer field `key`, which must be there and in [minimum, maximum].
  int integer(const char* key, int minimum, int maximum) const {
    const json* value = find(key);
    if (!value) fail(std::string("no ") + key + " (a GPT-2 config.json has it)");
    if (value->is_number_float()) fail(std::string(key) + " is " + value->dump() + ", not an integer");
    if (!value->is_number_integer()) fail(std::string(key) + " is " + kind_of(*value) + ", not an integer");
    // Unsigned past `maximum` is clamped to maximum + 1 before the range check, so nothing overflows.
    const long long number = value->is_number_unsigned()
                                 ? static_cast<long long>(std::min<std::uint64_t>(
                                       value->get<std::uint64_t>(), static_cast<std::uint64_t>(maximum) + 1))
                                 : static_cast<long long>(value->get<std::int64_t>());
    if (number < minimum || number > maximum)
      fail(std::string(key) + " is " + value->dump() + ", outside " + std::to_string(minimum) + " to " +
           std::to_string(maximum));
    return static_cast<int>(number);
  }

 private:
  const json& object_;
  std::string_view name_;
};

}  // namespace

Gpt2Config Gpt2Config::parse(std::string_view text, std::string_view name) {
  const auto fail = [&](const std::string& problem) -> void {
    throw Error(std::string(name) + ": " + problem);
  };
  if (text.size() > kMaxConfigBytes)
    fail("is " + std::to_string(text.size()) + " bytes, more than the " + std::to_string(kMaxConfigBytes) +
         " a config.json may be");
  json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) fail("not valid JSON");
  if (!document.is_object()) fail(std::string("holds ") + kind_of(document) + ", not a JSON object");
  const ConfigReader reader(document, name);

  if (const json* type = reader.find("model_type"); type && (!type->is_string() || *type != "gpt2"))
    fail("model_type is " +
         (type->is_string() ? quote(type->get<std::string>()) : std::string(kind_of(*type))) +
         ", not 'gpt2': only GPT-2-family models can be opened");
  if (const json* activation = reader.find("activation_function"); activation) {
    if (!activation->is_string())
      fail(std::string("activation_function is ") + kind_of(*activation) + ", not a string");
    const auto& function = activation->get_ref<const std::string&>();
    if (function != "gelu_new" && function != "gelu_pytorch_tanh" && function != "gelu_fast")
      fail("activation_function " + quote(function) +
           " is not supported: AttnScope computes GPT-2's tanh GELU (gelu_new)");
  }
  if (const json* scale = reader.find("scale_attn_weights");
      scale && !(scale->is_boolean() && scale->get<bool>()))
    fail("scale_attn_weights other than true is not supported");
  if (const json* inverse = reader.find("scale_attn_by_inverse_layer_idx");
      inverse && !(inverse->is_boolean() && !inverse->get<bool>()))
    fail("scale_attn_by_inverse_layer_idx other than false is not supported");

  Gpt2Config config;
  config.vocab_size = reader.integer("vocab_size", 1, kMaxVocabulary);
  if (reader.find("n_positions") || !reader.find("n_ctx"))
    config.n_positions = reader.integer("n_positions", 1, kMaxPositions);
  else
    config.n_positions = reader.integer("n_ctx", 1, kMaxPositions);  // older configs
  config.n_embd = reader.integer("n_embd", 1, kMaxWidth);
  config.n_layer = reader.integer("n_layer", 1, kMaxLayers);
  config.n_head = reader.integer("n_head", 1, kMaxWidth);
  if (const json* inner = reader.find("n_inner"); inner && !inner->is_null())
    config.n_inner = reader.integer("n_inner", 1, 4 * kMaxWidth);
  if (const json* epsilon = reader.find("layer_norm_epsilon")) {
    if (!epsilon->is_number())
      fail(std::string("layer_norm_epsilon is ") + kind_of(*epsilon) + ", not a number");
    config.layer_norm_epsilon = epsilon->get<double>();
  }
  config.validate(name);
  return config;
}

void Gpt2Config::validate(std::string_view name) const {
  const auto fail = [&](const std::string& problem) { throw Error(std::string(name) + ": " + problem); };
  const auto check = [&](const char* field, long long value, long long maximum) {
    if (value < 1 || value > maximum)
      fail(std::string(field) + " is " + std::to_string(value) + ", outside 1 to " + std::to_string(maximum));
  };
  check("vocab_size", vocab_size, kMaxVocabulary);
  check("n_positions", n_positions, kMaxPositions);
  check("n_embd", n_embd, kMaxWidth);
  check("n_layer", n_layer, kMaxLayers);
  check("n_head", n_head, kMaxWidth);
  if (n_inner != 0) check("n_inner", n_inner, 4LL * kMaxWidth);
  if (n_embd % n_head != 0)
    fail("n_embd " + std::to_string(n_embd) + " is not divisible by n_head " + std::to_string(n_head));
  if (!(std::isfinite(layer_norm_epsilon) && layer_norm_epsilon > 0.0 && layer_norm_epsilon <= 1.0))
    fail("layer_norm_epsilon must be a number in (0, 1]");
}

namespace detail {

std::string read_small_file(const std::filesystem::path& path, const std::string& name, std::size_t limit) {
  auto stream = open_regular_file(path, name);
  std::string text;
  char buffer[64 * 1024];
  while (stream.read(buffer, sizeof buffer) || stream.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(stream.gcount()));
    if (text.size() > limit)
      throw Error(name + ": larger than the " + std::to_string(limit) + " bytes such a file may be");
  }
  if (stream.bad()) throw Error(name + ": read failed");
  return text;
}

}  // namespace detail

Gpt2Config Gpt2Config::load(const std::filesystem::path& config_json, std::string_view name) {
  const std::string shown = name.empty() ? detail::display_name(config_json) : std::string(name);
  return parse(detail::read_small_file(config_json, shown, kMaxConfigBytes), shown);
}

}  // namespace attnscope
