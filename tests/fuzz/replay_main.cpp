// Replays fuzz inputs without libFuzzer: feeds each file of the given directories (in name order), or each
// given file, to the harness's LLVMFuzzerTestOneInput. Built with the normal compiler, so CTest runs every
// corpus in every configuration; a failing input is named on stderr before the process dies.
//   fuzz_replay_<harness> CORPUS_DIR|FILE...

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define ATTNSCOPE_REPLAY_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define ATTNSCOPE_REPLAY_SANITIZER 1
#endif
#endif
#ifdef ATTNSCOPE_REPLAY_SANITIZER
#include <sanitizer/common_interface_defs.h>
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

// The input being replayed, for the crash handlers; written before each input, read only when dying.
char current_input[4096] = "";

void name_current_input() {
  std::fputs("fuzz_replay: failing input: ", stderr);
  std::fputs(current_input, stderr);
  std::fputs("\n", stderr);
  std::fflush(stderr);
}

extern "C" void on_fatal_signal(int signal) {
  name_current_input();
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

std::vector<fs::path> inputs_of(const std::vector<std::string>& arguments) {
  std::vector<fs::path> inputs;
  for (const auto& argument : arguments) {
    std::error_code error;
    if (fs::is_directory(argument, error)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(argument, error))
        if (entry.is_regular_file(error)) files.push_back(entry.path());
      std::sort(files.begin(), files.end());
      if (files.empty()) std::fprintf(stderr, "fuzz_replay: %s holds no inputs\n", argument.c_str());
      inputs.insert(inputs.end(), files.begin(), files.end());
    } else if (fs::is_regular_file(argument, error)) {
      inputs.emplace_back(argument);
    } else {
      std::fprintf(stderr, "fuzz_replay: %s: no such file or directory\n", argument.c_str());
      return {};
    }
  }
  return inputs;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
    return 2;
  }
  const auto inputs = inputs_of(std::vector<std::string>(argv + 1, argv + argc));
  if (inputs.empty()) return 1;

  // SIGABRT: failed checks, uncaught exceptions, sanitizer reports with abort_on_error. The sanitizers handle
  // SIGSEGV themselves and report through the death callback.
  std::signal(SIGABRT, on_fatal_signal);
#ifdef ATTNSCOPE_REPLAY_SANITIZER
  __sanitizer_set_death_callback(name_current_input);
#else
  std::signal(SIGSEGV, on_fatal_signal);
  std::signal(SIGBUS, on_fatal_signal);
  std::signal(SIGFPE, on_fatal_signal);
#endif

  for (const auto& input : inputs) {
    const auto name = input.string();
    std::snprintf(current_input, sizeof current_input, "%s", name.c_str());
    std::ifstream stream(input, std::ios::binary);
    // Exactly the input's size, so that AddressSanitizer sees a read past its end.
    const std::vector<std::uint8_t> data{std::istreambuf_iterator<char>(stream),
                                         std::istreambuf_iterator<char>()};
    if (!stream.is_open() || stream.bad()) {
      std::fprintf(stderr, "fuzz_replay: %s: cannot be read\n", name.c_str());
      return 1;
    }
    LLVMFuzzerTestOneInput(data.data(), data.size());
  }
  std::printf("fuzz_replay: %zu inputs replayed without a finding\n", inputs.size());
  return 0;
}
