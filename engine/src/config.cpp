#include "attnscope/config.hpp"

#include <array>
#include <string>
#include <utility>

#include "attnscope/error.hpp"
#include "attnscope/quote.hpp"
#include "parse_number.hpp"

namespace attnscope {
namespace {

constexpr std::array<std::pair<Mechanism, std::string_view>, 6> kMechanismNames{{
    {Mechanism::simplified, "simplified"},
    {Mechanism::self_attention_v1, "self-attention-v1"},
    {Mechanism::self_attention, "self-attention"},
    {Mechanism::causal, "causal"},
    {Mechanism::multihead_wrapper, "multihead-wrapper"},
    {Mechanism::multihead, "multihead"},
}};

bool is_multihead(Mechanism mechanism) {
  return mechanism == Mechanism::multihead_wrapper || mechanism == Mechanism::multihead;
}

}  // namespace

std::string_view to_string(Mechanism mechanism) {
  for (const auto& [value, name] : kMechanismNames)
    if (value == mechanism) return name;
  return "unknown";
}

const std::vector<std::string_view>& mechanism_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> result;
    for (const auto& entry : kMechanismNames) result.push_back(entry.second);
    return result;
  }();
  return names;
}

Mechanism parse_mechanism(std::string_view name) {
  for (const auto& [value, known] : kMechanismNames)
    if (known == name) return value;
  std::string expected;
  for (const auto& entry : kMechanismNames)
    expected += (expected.empty() ? "" : ", ") + std::string(entry.second);
  throw Error("unknown mechanism " + quote(name) + " (expected one of: " + expected + ")");
}

std::string_view to_string(Normalization normalization) {
  return normalization == Normalization::softmax ? "softmax" : "sum";
}

Normalization parse_normalization(std::string_view name) {
  if (name == "softmax") return Normalization::softmax;
  if (name == "sum") return Normalization::sum;
  throw Error("unknown normalization " + quote(name) + " (expected softmax or sum)");
}

MaskSpec default_mask(Mechanism mechanism) {
  const bool causal = mechanism == Mechanism::causal || is_multihead(mechanism);
  return MaskSpec{causal ? MaskKind::causal : MaskKind::none, 0, {}};
}

bool has_dropout(Mechanism mechanism) {
  return mechanism == Mechanism::causal || is_multihead(mechanism);
}

MaskSpec MaskSpec::parse(std::string_view text) {
  if (text == "none") return {MaskKind::none, 0, {}};
  if (text == "causal") return {MaskKind::causal, 0, {}};
  const auto colon = text.find(':');
  const std::string_view kind = text.substr(0, colon);
  const std::string_view argument =
      colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  if (kind == "file") {
    if (argument.empty()) throw Error("mask 'file:' needs a path, e.g. file:mask.csv");
    return {MaskKind::file, 0, std::string(argument)};
  }
  if (kind == "window" || kind == "prefix") {
    const auto size = detail::parse_integer<int>(argument);
    const bool window = kind == "window";
    if (!size || *size < (window ? 1 : 0))
      throw Error("mask " + quote(text) + ": " + std::string(kind) + " needs " +
                  (window ? "a whole number of keys W >= 1, e.g. window:3"
                          : "a prefix length P >= 0, e.g. prefix:2"));
    return {window ? MaskKind::window : MaskKind::prefix, *size, {}};
  }
  throw Error("unknown mask " + quote(text) + " (expected none, causal, window:W, prefix:P or file:PATH)");
}

std::string MaskSpec::to_string() const {
  switch (kind) {
    case MaskKind::none:
      return "none";
    case MaskKind::causal:
      return "causal";
    case MaskKind::window:
      return "window:" + std::to_string(size);
    case MaskKind::prefix:
      return "prefix:" + std::to_string(size);
    case MaskKind::file:
      return "file:" + path;
  }
  return "none";
}

MaskSpec AttentionConfig::effective_mask() const {
  return mask.value_or(default_mask(mechanism));
}

int AttentionConfig::head_count() const {
  return is_multihead(mechanism) ? heads : 1;
}

int AttentionConfig::head_dim(int d_in) const {
  if (mechanism == Mechanism::simplified) return d_in;
  if (mechanism == Mechanism::multihead) return effective_d_out(d_in) / heads;
  return effective_d_out(d_in);
}

void AttentionConfig::validate(int d_in) const {
  if (d_in < 1) throw Error("d_in must be at least 1 (got " + std::to_string(d_in) + ")");
  if (d_out < 0) throw Error("d_out must be at least 1 (got " + std::to_string(d_out) + ")");
  if (is_multihead(mechanism) && heads < 1)
    throw Error("heads must be at least 1 (got " + std::to_string(heads) + ")");
  if (mechanism == Mechanism::multihead && effective_d_out(d_in) % heads != 0)
    throw Error("heads (" + std::to_string(heads) + ") must divide d_out (" +
                std::to_string(effective_d_out(d_in)) +
                ") for multihead: each head gets d_out / heads columns");
  if (!(dropout >= 0.0 && dropout < 1.0))
    throw Error("dropout must be in [0, 1) (got " + std::to_string(dropout) + ")");
  if (dropout > 0.0 && !has_dropout(mechanism))
    throw Error("mechanism '" + std::string(to_string(mechanism)) +
                "' has no dropout (use causal, multihead-wrapper or multihead)");
}

}  // namespace attnscope
