#pragma once
// Writes GPT-2 folders for tests and benchmarks (no Qt): safetensors files built byte by byte, config.json
// and a byte-level BPE vocabulary (the 256 byte pieces plus a few merges).

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "attnscope/gpt2.hpp"
#include "attnscope/safetensors.hpp"
#include "attnscope/torch_random.hpp"
#include "json_text.hpp"

namespace attnscope::testing {

// float32 to IEEE half, rounding to nearest even (as torch's Tensor.half()).
inline std::uint16_t float_to_half(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  const std::uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7E00u);   // NaN
  if (magnitude >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // rounds to Inf
  if (magnitude < 0x38800000u) {
    // Subnormal half (or zero): add the magic number that puts the half's last bit at float's last bit.
    const float shifted = std::bit_cast<float>(magnitude) + 0.5f;
    return static_cast<std::uint16_t>(sign | (std::bit_cast<std::uint32_t>(shifted) - 0x3F000000u));
  }
  const std::uint32_t odd = (magnitude >> 13) & 1u;
  const std::uint32_t rounded = magnitude + 0xC8000FFFu + odd;  // rebias exponent (−112 << 23) and round
  return static_cast<std::uint16_t>(sign | (rounded >> 13));
}

// float32 to bfloat16, rounding to nearest even (as torch's Tensor.bfloat16()).
inline std::uint16_t float_to_bfloat16(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x40u);  // NaN
  const std::uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

struct TensorBytes {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16", or any other name the test wants in the header
  std::vector<std::uint64_t> shape;
  std::string bytes;
};

template <typename Unsigned>
void append_little_endian(std::string& out, Unsigned value) {
  for (std::size_t i = 0; i < sizeof(Unsigned); ++i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
}

// `values` in `dtype` (F32, F16 or BF16); `rounded` receives the float32 each value becomes.
inline std::string encode_floats(const float* values, std::size_t count, const std::string& dtype,
                                 std::vector<float>* rounded = nullptr) {
  std::string out;
  if (rounded) rounded->resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    float value = values[i];
    if (dtype == "F32") {
      append_little_endian(out, std::bit_cast<std::uint32_t>(value));
    } else if (dtype == "F16") {
      const auto bits = float_to_half(value);
      append_little_endian(out, bits);
      value = attnscope::half_to_float(bits);
    } else if (dtype == "BF16") {
      const auto bits = float_to_bfloat16(value);
      append_little_endian(out, bits);
      value = attnscope::bfloat16_to_float(bits);
    } else {
      throw std::invalid_argument("encode_floats: dtype " + dtype);
    }
    if (rounded) (*rounded)[i] = value;
  }
  return out;
}

// A whole .safetensors file: the tensors' data in the given order, the header padded with spaces to a
// multiple of `alignment` (the Python writer uses 8) so that the data starts aligned.
inline std::string safetensors_file(const std::vector<TensorBytes>& tensors,
                                    const std::map<std::string, std::string>& metadata = {},
                                    std::size_t alignment = 8) {
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      if (!first) header += ',';
      header += json_string(key) + ":" + json_string(value);
      first = false;
    }
    header += "}";
  }
  std::uint64_t offset = 0;
  std::string data;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorBytes& tensor = tensors[i];
    if (header.size() > 1) header += ",";
    header += json_string(tensor.name) + ":{\"dtype\":\"" + tensor.dtype + "\",\"shape\":[";
    for (std::size_t d = 0; d < tensor.shape.size(); ++d) {
      if (d) header += ',';
      header += std::to_string(tensor.shape[d]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + tensor.bytes.size()) + "]}";
    offset += tensor.bytes.size();
    data += tensor.bytes;
  }
  header += "}";
  if (alignment > 1)
    while ((8 + header.size()) % alignment != 0) header += ' ';
  std::string file;
  append_little_endian(file, static_cast<std::uint64_t>(header.size()));
  return file + header + data;
}

inline void write_file(const std::filesystem::path& path, const std::string& contents) {
  std::ofstream stream(path, std::ios::binary | std::ios::trunc);
  stream.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (!stream) throw std::runtime_error("cannot write " + path.string());
}

inline std::string config_json(const Gpt2Config& config) {
  char epsilon[32];
  std::snprintf(epsilon, sizeof epsilon, "%.17g", config.layer_norm_epsilon);
  return std::string(
             "{\n  \"activation_function\": \"gelu_new\",\n  \"architectures\": [\"GPT2LMHeadModel\"],\n") +
         "  \"layer_norm_epsilon\": " + epsilon +
         ",\n  \"model_type\": \"gpt2\",\n  \"n_embd\": " + std::to_string(config.n_embd) +
         ",\n  \"n_head\": " + std::to_string(config.n_head) +
         ",\n  \"n_inner\": " + (config.n_inner > 0 ? std::to_string(config.n_inner) : std::string("null")) +
         ",\n  \"n_layer\": " + std::to_string(config.n_layer) +
         ",\n  \"n_positions\": " + std::to_string(config.n_positions) +
         ",\n  \"vocab_size\": " + std::to_string(config.vocab_size) + "\n}\n";
}

// GPT-2's byte alphabet (bytes_to_unicode): the piece standing for each byte, in GPT-2's id order (the
// printable bytes first).
inline std::vector<std::pair<int, std::string>> byte_pieces() {
  const auto utf8 = [](char32_t c) {
    std::string out;
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
    return out;
  };
  std::vector<std::pair<int, std::string>> pieces;
  std::vector<bool> printable(256, false);
  for (int b = '!'; b <= '~'; ++b) printable[b] = true;
  for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
  for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
  for (int b = 0; b < 256; ++b)
    if (printable[b]) pieces.emplace_back(b, utf8(static_cast<char32_t>(b)));
  int next = 0;
  for (int b = 0; b < 256; ++b)
    if (!printable[b]) pieces.emplace_back(b, utf8(static_cast<char32_t>(256 + next++)));
  return pieces;
}

// A byte-level vocabulary: the 256 byte pieces (ids 0–255) and then, id 256 on, one piece per merge. The
// default merges make " the", "he" and " world" single tokens.
struct TinyVocabulary {
  std::string vocab_json;
  std::string merges_txt;
  int size = 0;
};

inline TinyVocabulary tiny_vocabulary(const std::vector<std::pair<std::string, std::string>>& merges = {
                                          {"h", "e"},
                                          {"\xC4\xA0", "t"},
                                          {"\xC4\xA0t", "he"},
                                          {"o", "r"},
                                          {"\xC4\xA0", "w"},
                                          {"\xC4\xA0w", "or"},
                                          {"\xC4\xA0wor", "l"},
                                          {"\xC4\xA0worl", "d"}}) {
  TinyVocabulary vocabulary;
  std::vector<std::string> pieces;
  for (const auto& [byte, piece] : byte_pieces()) pieces.push_back(piece);
  vocabulary.merges_txt = "#version: 0.2\n";
  for (const auto& [left, right] : merges) {
    pieces.push_back(left + right);
    vocabulary.merges_txt += left + " " + right + "\n";
  }
  vocabulary.vocab_json = "{";
  for (std::size_t id = 0; id < pieces.size(); ++id) {
    if (id) vocabulary.vocab_json += ", ";
    vocabulary.vocab_json += json_string(pieces[id]) + ": " + std::to_string(id);
  }
  vocabulary.vocab_json += "}";
  vocabulary.size = static_cast<int>(pieces.size());
  return vocabulary;
}

// The tensors of a GPT-2 checkpoint in the order make_gpt2_golden.py draws them: name (without prefix),
// shape, scale and offset of (torch.rand(shape) − 0.5) · scale + offset.
struct TensorRule {
  std::string name;
  std::vector<std::uint64_t> shape;
  float scale = 1.0f, offset = 0.0f;
};

inline std::vector<TensorRule> gpt2_tensor_rules(const Gpt2Config& config) {
  const auto V = static_cast<std::uint64_t>(config.vocab_size),
             P = static_cast<std::uint64_t>(config.n_positions),
             E = static_cast<std::uint64_t>(config.n_embd),
             I = static_cast<std::uint64_t>(config.inner_dim());
  const auto matrix = [](std::uint64_t fan_in) {
    return static_cast<float>(3.0 * std::sqrt(3.0 / static_cast<double>(fan_in)));
  };
  std::vector<TensorRule> rules{{"wte.weight", {V, E}, 2.0f, 0.0f}, {"wpe.weight", {P, E}, 1.0f, 0.0f}};
  for (int l = 0; l < config.n_layer; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    rules.push_back({h + "ln_1.weight", {E}, 0.5f, 1.0f});
    rules.push_back({h + "ln_1.bias", {E}, 0.25f, 0.0f});
    rules.push_back({h + "attn.c_attn.weight", {E, 3 * E}, matrix(E), 0.0f});
    rules.push_back({h + "attn.c_attn.bias", {3 * E}, 0.25f, 0.0f});
    rules.push_back({h + "attn.c_proj.weight", {E, E}, matrix(E), 0.0f});
    rules.push_back({h + "attn.c_proj.bias", {E}, 0.25f, 0.0f});
    rules.push_back({h + "ln_2.weight", {E}, 0.5f, 1.0f});
    rules.push_back({h + "ln_2.bias", {E}, 0.25f, 0.0f});
    rules.push_back({h + "mlp.c_fc.weight", {E, I}, matrix(E), 0.0f});
    rules.push_back({h + "mlp.c_fc.bias", {I}, 0.25f, 0.0f});
    rules.push_back({h + "mlp.c_proj.weight", {I, E}, matrix(I), 0.0f});
    rules.push_back({h + "mlp.c_proj.bias", {E}, 0.25f, 0.0f});
  }
  rules.push_back({"ln_f.weight", {E}, 0.5f, 1.0f});
  rules.push_back({"ln_f.bias", {E}, 0.25f, 0.0f});
  return rules;
}

inline std::uint64_t element_count(const std::vector<std::uint64_t>& shape) {
  std::uint64_t count = 1;
  for (const auto d : shape) count *= d;
  return count;
}

// Draws each rule's tensor as torch.manual_seed(seed) then (torch.rand(shape) − 0.5) · scale + offset, in
// order, and encodes it in `dtype`. `prefix` goes before every name; `lm_head` adds lm_head.weight = wte.
inline std::vector<TensorBytes> draw_tensors(const std::vector<TensorRule>& rules, std::uint64_t seed,
                                             const std::string& dtype, const std::string& prefix = "",
                                             bool lm_head = false,
                                             std::map<std::string, std::vector<float>>* rounded = nullptr) {
  TorchGenerator generator(seed);
  std::vector<TensorBytes> tensors;
  for (const TensorRule& rule : rules) {
    const auto count = static_cast<Eigen::Index>(element_count(rule.shape));
    Matrix values = generator.rand(1, count);
    for (Eigen::Index i = 0; i < count; ++i) values(0, i) = (values(0, i) - 0.5f) * rule.scale + rule.offset;
    std::vector<float> as_stored;
    tensors.push_back({prefix + rule.name, dtype, rule.shape,
                       encode_floats(values.data(), static_cast<std::size_t>(count), dtype, &as_stored)});
    if (rounded) (*rounded)[rule.name] = std::move(as_stored);
  }
  if (lm_head) {
    TensorBytes head = tensors.front();
    head.name = "lm_head.weight";
    tensors.push_back(std::move(head));
  }
  return tensors;
}

// Writes DIR/config.json, DIR/model.safetensors, DIR/vocab.json and DIR/merges.txt.
inline void write_gpt2_folder(const std::filesystem::path& directory, const Gpt2Config& config,
                              const std::vector<TensorBytes>& tensors,
                              const TinyVocabulary& vocabulary = tiny_vocabulary()) {
  std::filesystem::create_directories(directory);
  write_file(directory / "config.json", config_json(config));
  write_file(directory / "model.safetensors", safetensors_file(tensors, {{"format", "pt"}}));
  write_file(directory / "vocab.json", vocabulary.vocab_json);
  write_file(directory / "merges.txt", vocabulary.merges_txt);
}

// A small random GPT-2 (seed 1) in `directory`: what the CLI tests and the error tests start from.
inline Gpt2Config write_small_gpt2(const std::filesystem::path& directory, int layers = 2, int heads = 2,
                                   int width = 16, int positions = 32, const std::string& dtype = "F32") {
  Gpt2Config config;
  config.vocab_size = tiny_vocabulary().size + 4;
  config.n_positions = positions;
  config.n_embd = width;
  config.n_layer = layers;
  config.n_head = heads;
  write_gpt2_folder(directory, config, draw_tensors(gpt2_tensor_rules(config), 1, dtype));
  return config;
}

}  // namespace attnscope::testing
