// GPT-2 speed on a synthetic checkpoint of gpt2's exact shapes (12 layers, 12 heads, n_embd 768, 1024
// positions, vocabulary 50257, F32 — and the attn.bias buffers the real file carries), written to a
// temporary folder with a 50257-piece vocabulary and 50000 merges: the time and resident memory of opening
// it, and the time of a forward pass over 20 and over 1024 tokens, every layer and head kept.
//
//   cmake --build BUILD --target gpt2_speed && BUILD/bin/gpt2_speed [--dtype F32|F16|BF16] [--tokens 20,1024]
//                                                                  [--repeat N] [--dir DIR] [--keep]
//
// Opening is timed with the file in the page cache (it was just written): opening maps it, reads the header
// and maps in the pages of every weight a forward pass reads (all but wte, of which it reads a row per
// token).

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "../support/gpt2_checkpoint.hpp"
#include "attnscope/gpt2.hpp"

namespace {

using namespace attnscope;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// CPU time of the whole process (every thread), in ms: what the run costs whatever else the machine runs.
double cpu_ms() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

struct Memory {
  long rss_kb = 0, anon_kb = 0, file_kb = 0, peak_kb = 0;
};

Memory memory() {
  Memory m;
  std::ifstream status("/proc/self/status");
  std::string key;
  long value = 0;
  std::string unit;
  while (status >> key) {
    if (key == "VmRSS:" && status >> value >> unit) m.rss_kb = value;
    if (key == "RssAnon:" && status >> value >> unit) m.anon_kb = value;
    if (key == "RssFile:" && status >> value >> unit) m.file_kb = value;
    if (key == "VmHWM:" && status >> value >> unit) m.peak_kb = value;
  }
  return m;
}

std::string describe(const Memory& m) {
  char text[160];
  std::snprintf(text, sizeof text, "RSS %.0f MB (anonymous %.0f, file-backed %.0f), peak %.0f MB",
                m.rss_kb / 1024.0, m.anon_kb / 1024.0, m.file_kb / 1024.0, m.peak_kb / 1024.0);
  return text;
}

std::uint64_t splitmix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// model.safetensors streamed to disk: the header, then each tensor's uniform random values.
void write_checkpoint(const std::filesystem::path& path, const Gpt2Config& config, const std::string& dtype) {
  struct Entry {
    testing::TensorRule rule;
    std::string dtype;
  };
  std::vector<Entry> entries;
  for (auto& rule : testing::gpt2_tensor_rules(config)) entries.push_back({rule, dtype});
  // The causal-mask buffers Hugging Face's gpt2 file holds (F32 [1, 1, 1024, 1024] per layer), unused.
  for (int l = 0; l < config.n_layer; ++l)
    entries.push_back({{"h." + std::to_string(l) + ".attn.bias",
                        {1, 1, std::uint64_t(config.n_positions), std::uint64_t(config.n_positions)},
                        0.0f,
                        1.0f},
                       "F32"});
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  std::uint64_t offset = 0;
  for (const auto& entry : entries) {
    const std::uint64_t bytes = testing::element_count(entry.rule.shape) * (entry.dtype == "F32" ? 4 : 2);
    header += ",\"" + entry.rule.name + "\":{\"dtype\":\"" + entry.dtype + "\",\"shape\":[";
    for (std::size_t d = 0; d < entry.rule.shape.size(); ++d) {
      if (d) header += ',';
      header += std::to_string(entry.rule.shape[d]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += "}";
  while ((8 + header.size()) % 8 != 0) header += ' ';
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::string prefix;
  testing::append_little_endian(prefix, static_cast<std::uint64_t>(header.size()));
  out << prefix << header;
  std::uint64_t state = 20240611;
  std::vector<float> chunk;
  for (const auto& entry : entries) {
    std::uint64_t left = testing::element_count(entry.rule.shape);
    while (left > 0) {
      const std::size_t count = static_cast<std::size_t>(std::min<std::uint64_t>(left, 1 << 20));
      chunk.resize(count);
      for (float& value : chunk)
        value = (static_cast<float>(splitmix(state) >> 40) * 0x1.0p-24f - 0.5f) * entry.rule.scale +
                entry.rule.offset;
      const std::string bytes = testing::encode_floats(chunk.data(), count, entry.dtype);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      left -= count;
    }
  }
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// 256 byte pieces, 50000 merges of pieces already there (each a new piece of at most 12 bytes), then
// <|endoftext|>: gpt2's 50257 entries.
void write_vocabulary(const std::filesystem::path& directory) {
  std::vector<std::string> pieces;
  for (const auto& [byte, piece] : testing::byte_pieces()) pieces.push_back(piece);
  std::set<std::string> known(pieces.begin(), pieces.end());
  std::string merges = "#version: 0.2\n";
  std::uint64_t state = 7;
  while (pieces.size() < 256 + 50000) {
    const std::string& left = pieces[splitmix(state) % pieces.size()];
    const std::string& right = pieces[splitmix(state) % std::min<std::size_t>(pieces.size(), 3000)];
    std::string merged = left + right;
    if (merged.size() > 12 || known.count(merged)) continue;
    merges += left + " " + right + "\n";
    known.insert(merged);
    pieces.push_back(std::move(merged));
  }
  pieces.push_back("<|endoftext|>");
  std::string vocab = "{";
  for (std::size_t id = 0; id < pieces.size(); ++id) {
    if (id) vocab += ", ";
    vocab += testing::json_string(pieces[id]) + ": " + std::to_string(id);
  }
  vocab += "}";
  testing::write_file(directory / "vocab.json", vocab);
  testing::write_file(directory / "merges.txt", merges);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string dtype = "F32";
  std::filesystem::path directory;
  bool keep = false;
  int repeat = 5;
  std::vector<int> lengths{20, 1024};
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--dtype" && i + 1 < argc) {
      dtype = argv[++i];
    } else if (argument == "--dir" && i + 1 < argc) {
      directory = argv[++i];
    } else if (argument == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (argument == "--tokens" && i + 1 < argc) {
      lengths.clear();
      for (std::string list = argv[++i]; !list.empty();) {
        const auto comma = list.find(',');
        lengths.push_back(std::max(1, std::atoi(list.substr(0, comma).c_str())));
        list = comma == std::string::npos ? std::string() : list.substr(comma + 1);
      }
    } else if (argument == "--keep") {
      keep = true;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--dtype F32|F16|BF16] [--tokens 20,1024] [--repeat N] [--dir DIR] [--keep]\n",
                   argv[0]);
      return 2;
    }
  }
  try {
    Gpt2Config config;  // gpt2's
    const bool temporary = directory.empty();
    if (temporary)
      directory =
          std::filesystem::temp_directory_path() / ("attnscope-gpt2-speed-" + std::to_string(::getpid()));
    std::filesystem::create_directories(directory);
    if (!std::filesystem::exists(directory / "model.safetensors")) {
      const auto start = Clock::now();
      testing::write_file(directory / "config.json", testing::config_json(config));
      write_checkpoint(directory / "model.safetensors", config, dtype);
      write_vocabulary(directory);
      std::printf("wrote %s (%s, %.0f MB) in %.1f s\n", directory.c_str(), dtype.c_str(),
                  std::filesystem::file_size(directory / "model.safetensors") / 1e6, ms_since(start) / 1000);
    }

    const Memory before = memory();
    auto start = Clock::now();
    const Gpt2Model model = Gpt2Model::open(directory);
    const double open_ms = ms_since(start);
    const Memory opened = memory();
    std::printf("open: %.0f ms; %s (before opening: %.0f MB)\n", open_ms, describe(opened).c_str(),
                before.rss_kb / 1024.0);

    std::uint64_t state = 99;
    const auto ids_of = [&](int count) {
      std::vector<int> ids;
      for (int i = 0; i < count; ++i) ids.push_back(static_cast<int>(splitmix(state) % 50257));
      return ids;
    };
    for (const int tokens : lengths) {
      const std::vector<int> ids = ids_of(tokens);
      std::vector<double> times, cpu_times;
      Gpt2Result result;
      for (int r = 0; r < (tokens <= 256 ? repeat + 1 : std::max(2, repeat / 2 + 1)); ++r) {
        result = Gpt2Result();
        start = Clock::now();
        const double cpu_start = cpu_ms();
        result = model.run(ids);
        times.push_back(ms_since(start));
        cpu_times.push_back(cpu_ms() - cpu_start);
      }
      std::size_t heads = 0;
      for (const auto& layer : result.layers) heads += layer.heads.size();
      const std::vector<double> warm(times.begin() + 1, times.end());
      const std::vector<double> warm_cpu(cpu_times.begin() + 1, cpu_times.end());
      std::printf(
          "%4d tokens: first run %.0f ms, then median %.0f ms, best %.0f ms over %zu "
          "(CPU time: median %.0f ms over the threads); %zu layers, %zu heads kept; %s\n",
          tokens, times.front(), median(warm), *std::min_element(warm.begin(), warm.end()), warm.size(),
          median(warm_cpu), result.layers.size(), heads, describe(memory()).c_str());
    }
    const std::vector<int> text_ids = model.tokenizer().encode("Your journey starts with one step");
    std::printf("tokenizer: %d pieces; 'Your journey starts with one step' is %zu tokens\n",
                model.tokenizer().vocab_size(), text_ids.size());
    if (temporary && !keep) std::filesystem::remove_all(directory);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "gpt2_speed: %s\n", error.what());
    return 1;
  }
  return 0;
}
