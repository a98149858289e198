// attnscope-gpu-check: the CUDA backend against the CPU backend, without Qt. Every mechanism, mask, dropout,
// bias and normalisation combination, n from 1 to 4,096 and 1 to 16 heads, the workspace reused across
// shapes, the sum-normalisation error, the fallback to the CPU and the bench's step.
//
// Exit status: 0 when everything agrees, 1 when something differs, 77 (CTest: skipped) when this machine has
// no usable CUDA device, with the reason on standard output (1 with --require-device, for GPU machines, where
// a missing device is a failure). Usage: attnscope-gpu-check [--max-tokens N] [--require-device]

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "attnscope/attention.hpp"
#include "attnscope/backend.hpp"
#include "attnscope/bench.hpp"
#include "attnscope/error.hpp"
#include "attnscope/torch_random.hpp"

namespace {

using namespace attnscope;

// |gpu − cpu| / (|cpu| + m), m the largest |cpu| of the matrix: float32 products err relative to their
// operands, so a cell that cancels to near 0 is held to the matrix's scale, every other cell to its own.
constexpr double kTolerance = 1e-5;
constexpr int kSkip = 77;

struct Check {
  int cases = 0, failures = 0;
  double worst = 0.0;

  void fail(const std::string& what) {
    ++failures;
    std::printf("FAIL: %s\n", what.c_str());
  }

  template <class Derived>
  void compare(const Eigen::MatrixBase<Derived>& gpu, const Eigen::MatrixBase<Derived>& cpu,
               const std::string& what) {
    if (gpu.rows() != cpu.rows() || gpu.cols() != cpu.cols()) {
      fail(what + ": shape " + std::to_string(gpu.rows()) + "×" + std::to_string(gpu.cols()) + ", CPU " +
           std::to_string(cpu.rows()) + "×" + std::to_string(cpu.cols()));
      return;
    }
    double scale = 0.0;  // over the finite cells: hidden scores are −∞ on both sides
    for (Eigen::Index i = 0; i < cpu.rows(); ++i)
      for (Eigen::Index j = 0; j < cpu.cols(); ++j)
        if (std::isfinite(cpu(i, j))) scale = std::max(scale, std::abs(static_cast<double>(cpu(i, j))));
    for (Eigen::Index i = 0; i < cpu.rows(); ++i)
      for (Eigen::Index j = 0; j < cpu.cols(); ++j) {
        const double expected = cpu(i, j), actual = gpu(i, j);
        double error = 0.0;
        if (expected != actual)
          error =
              std::isfinite(expected) ? std::abs(actual - expected) / (std::abs(expected) + scale) : INFINITY;
        if (!(error <= kTolerance)) {
          char text[160];
          std::snprintf(text, sizeof text,
                        ": cell (%ld, %ld) is %.9g on the GPU, %.9g on the CPU (error %.3g)",
                        static_cast<long>(i), static_cast<long>(j), actual, expected, error);
          fail(what + text);
          return;
        }
        worst = std::max(worst, error);
      }
  }
};

struct Case {
  AttentionConfig config;
  Matrix input;
  std::string label;
};

std::string describe(const AttentionConfig& config, Eigen::Index n) {
  std::string text = std::string(to_string(config.mechanism)) + " n=" + std::to_string(n);
  if (config.mechanism == Mechanism::multihead || config.mechanism == Mechanism::multihead_wrapper)
    text += " heads=" + std::to_string(config.heads);
  text += " mask=" + config.effective_mask().to_string();
  if (config.dropout > 0) text += " dropout=" + std::to_string(config.dropout).substr(0, 4);
  if (config.qkv_bias) text += " bias";
  if (config.normalization == Normalization::sum) text += " sum";
  if (!config.keep_scores) text += " without scores";
  return text;
}

void compare_results(Check& check, const AttentionResult& gpu, const AttentionResult& cpu,
                     const std::string& label) {
  ++check.cases;
  if (gpu.device != "cuda" || !gpu.fallback_reason.empty()) {
    check.fail(label + ": computed on " + gpu.device + " (" + gpu.fallback_reason + ")");
    return;
  }
  if (gpu.heads.size() != cpu.heads.size()) return check.fail(label + ": head count differs");
  if (gpu.empty_rows != cpu.empty_rows) return check.fail(label + ": empty_rows differ");
  if (gpu.mask != cpu.mask) return check.fail(label + ": masks differ");
  for (std::size_t h = 0; h < cpu.heads.size(); ++h) {
    const HeadResult &g = gpu.heads[h], &c = cpu.heads[h];
    const std::string head = label + " head " + std::to_string(h) + " ";
    if (g.scale != c.scale) check.fail(head + "scale differs");
    check.compare(g.queries, c.queries, head + "queries");
    check.compare(g.keys, c.keys, head + "keys");
    check.compare(g.values, c.values, head + "values");
    check.compare(g.scores, c.scores, head + "scores");
    check.compare(g.weights, c.weights, head + "weights");
    if (g.dropout_weights.has_value() != c.dropout_weights.has_value())
      check.fail(head + "dropout weights present on one side only");
    else if (c.dropout_weights)
      check.compare(*g.dropout_weights, *c.dropout_weights, head + "dropout weights");
    check.compare(g.context, c.context, head + "context");
    // Hidden cells are exactly 0, and dropout drops exactly the cells it drops on the CPU.
    for (Eigen::Index i = 0; i < c.weights.rows(); ++i)
      for (Eigen::Index j = 0; j < c.weights.cols(); ++j) {
        if (cpu.mask(i, j) && g.weights(i, j) != 0.0f) return check.fail(head + "a hidden cell is not 0");
        if (c.dropout_weights && c.weights(i, j) != 0.0f && g.weights(i, j) != 0.0f &&
            ((*c.dropout_weights)(i, j) == 0.0f) != ((*g.dropout_weights)(i, j) == 0.0f))
          return check.fail(head + "dropout dropped another cell");
      }
  }
  check.compare(gpu.output, cpu.output, label + " output");
}

void run_case(Check& check, Backend& cuda, Backend& cpu, const Case& c) {
  const CancelToken never;
  try {
    const AttentionResult expected = compute_attention(c.config, c.input, cpu, never);
    const AttentionResult actual = compute_attention(c.config, c.input, cuda, never);
    compare_results(check, actual, expected, c.label);
  } catch (const std::exception& error) {
    check.fail(c.label + ": " + error.what());
  }
}

// Uniform in [0, 1) (every score positive, so sum normalisation is defined) or in [−1, 1).
Matrix make_input(Eigen::Index n, int d_in, std::uint64_t seed, bool positive) {
  TorchGenerator generator(seed);
  const Matrix uniform = generator.rand(n, d_in);
  return positive ? uniform : Matrix((uniform.array() * 2.0f - 1.0f).matrix());
}

std::filesystem::path write_mask_file(int size) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("attnscope-gpu-check-mask-" + std::to_string(std::random_device{}()) + ".txt");
  std::mt19937 random(7);
  std::ofstream file(path);
  for (int i = 0; i < size; ++i) {
    for (int j = 0; j < size; ++j)
      file << (i == 1 ? 1 : random() % 3 == 0 ? 1 : 0) << (j + 1 < size ? " " : "\n");
  }
  return path;
}

// Every mechanism × mask × dropout × bias × normalisation at a few small n.
void every_combination(Check& check, Backend& cuda, Backend& cpu, const std::string& mask_file) {
  const std::vector<Mechanism> mechanisms = {Mechanism::simplified,        Mechanism::self_attention_v1,
                                             Mechanism::self_attention,    Mechanism::causal,
                                             Mechanism::multihead_wrapper, Mechanism::multihead};
  const std::vector<std::string> masks = {"none", "causal", "window:3", "prefix:2", "file:" + mask_file};
  for (const Mechanism mechanism : mechanisms) {
    const bool linear = mechanism != Mechanism::simplified && mechanism != Mechanism::self_attention_v1;
    const bool multi = mechanism == Mechanism::multihead || mechanism == Mechanism::multihead_wrapper;
    for (const Eigen::Index n : {1, 6, 33})
      for (const std::string& mask : masks)
        for (const int heads : multi ? std::vector<int>{1, 3} : std::vector<int>{1})
          for (const double dropout :
               has_dropout(mechanism) ? std::vector<double>{0.0, 0.25} : std::vector<double>{0.0})
            for (const bool bias : linear ? std::vector<bool>{false, true} : std::vector<bool>{false})
              for (const Normalization normalization : {Normalization::softmax, Normalization::sum}) {
                if (normalization == Normalization::sum && linear) continue;  // signed scores: sums near 0
                Case c;
                c.config.mechanism = mechanism;
                c.config.heads = heads;
                c.config.qkv_bias = bias;
                c.config.dropout = dropout;
                c.config.dropout_seed = dropout > 0 ? std::optional<std::uint64_t>(123) : std::nullopt;
                c.config.mask = MaskSpec::parse(mask);
                c.config.normalization = normalization;
                c.config.d_out = mechanism == Mechanism::multihead ? 12 : 4;
                c.input = make_input(n, 12, 1000 + n, normalization == Normalization::sum);
                c.label = describe(c.config, n);
                run_case(check, cuda, cpu, c);
              }
  }
}

// n from 1 to 4,096 and 1 to 16 heads: multihead with causal mask, dropout and bias; the larger single heads.
void every_size(Check& check, Backend& cuda, Backend& cpu, int max_tokens) {
  for (const Eigen::Index n : {1, 2, 31, 64, 255, 256, 257, 1000, 2048, 4096}) {
    if (n > max_tokens) continue;
    for (const int heads : {1, 4, 16}) {
      Case c;
      c.config.mechanism = Mechanism::multihead;
      c.config.heads = heads;
      c.config.d_out = 64;
      c.config.qkv_bias = true;
      c.config.dropout = 0.1;
      c.input = make_input(n, 32, 2000 + n, false);
      c.label = describe(c.config, n);
      run_case(check, cuda, cpu, c);
    }
    Case single;  // without its scores, as a viewer that does not show them computes it
    single.config.mechanism = Mechanism::self_attention;
    single.config.d_out = 64;
    single.config.mask = MaskSpec::parse("window:100");
    single.config.keep_scores = false;
    single.input = make_input(n, 48, 3000 + n, false);
    single.label = describe(single.config, n);
    run_case(check, cuda, cpu, single);
  }
}

// One backend, the shape changing as the user types: the workspace grows, is reused, and stays correct.
void workspace_reuse(Check& check, Backend& cpu) {
  const auto cuda = make_backend(Device::cuda);
  for (const Eigen::Index n : {5, 6, 7, 6, 300, 5, 1, 301, 300}) {
    Case c;
    c.config.mechanism = Mechanism::multihead;
    c.config.heads = 2;
    c.config.d_out = 8;
    c.config.dropout = n % 2 ? 0.5 : 0.0;
    c.input = make_input(n, 8, 4000 + n, false);
    c.label = "workspace reuse: " + describe(c.config, n);
    run_case(check, *cuda, cpu, c);
  }
}

void sum_error(Check& check, Backend& cuda, Backend& cpu) {
  ++check.cases;
  AttentionConfig config;
  config.mechanism = Mechanism::simplified;
  config.normalization = Normalization::sum;
  Matrix input(3, 2);
  input << 1, 0, 0, 1, -1, 0;  // token 1's visible scores: 1, 0, −1
  const CancelToken never;
  std::string cpu_message, gpu_message;
  try {
    compute_attention(config, input, cpu, never);
  } catch (const Error& error) {
    cpu_message = error.what();
  }
  try {
    compute_attention(config, input, cuda, never);
  } catch (const Error& error) {
    gpu_message = error.what();
  }
  if (cpu_message.empty() || gpu_message != cpu_message)
    check.fail("sum normalisation error: CPU says '" + cpu_message + "', GPU says '" + gpu_message + "'");
}

void fallback(Check& check, Backend& cpu) {
  ++check.cases;
  setenv("ATTNSCOPE_CUDA_MAX_BYTES", "4096", 1);
  const auto cuda = make_backend(Device::cuda);
  unsetenv("ATTNSCOPE_CUDA_MAX_BYTES");
  AttentionConfig config;
  config.mechanism = Mechanism::causal;
  const Matrix input = make_input(64, 4, 5000, false);
  const CancelToken never;
  try {
    const AttentionResult result = compute_attention(config, input, *cuda, never);
    const AttentionResult expected = compute_attention(config, input, cpu, never);
    if (result.device != "cpu" ||
        result.fallback_reason.find("ATTNSCOPE_CUDA_MAX_BYTES") == std::string::npos)
      check.fail("fallback: device '" + result.device + "', reason '" + result.fallback_reason + "'");
    else if (result.heads.front().weights != expected.heads.front().weights)
      check.fail("fallback: the CPU's result differs from the CPU's");
    else
      std::printf("fallback: %s\n", result.fallback_reason.c_str());
  } catch (const std::exception& error) {
    check.fail(std::string("fallback threw: ") + error.what());
  }
}

void bench_step(Check& check) {
  for (const int n : {1, 100, 1000}) {
    ++check.cases;
    StepProblem problem;
    problem.heads = 3;
    problem.tokens = n;
    problem.head_dim = 16;
    TorchGenerator generator(n);
    for (std::vector<float>* data : {&problem.queries, &problem.keys, &problem.values}) {
      const Matrix values = generator.rand(3 * n, 16);
      data->assign(values.data(), values.data() + values.size());
    }
    problem.mask = MaskMatrix::Zero(n, n);
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j) problem.mask(i, j) = 1;
    if (n > 1) problem.mask.row(n / 2).setOnes();  // an empty row
    problem.scale_divisor = 4.0f;
    try {
      const StepTiming timing = time_attention_step(Device::cuda, problem, 2);
      const std::vector<float> expected = cpu_step_context(problem);
      const Eigen::Map<const Matrix> gpu(timing.context.data(), 3 * n, 16), cpu(expected.data(), 3 * n, 16);
      check.compare(gpu, cpu, "bench step n=" + std::to_string(n));
      if (timing.step_ms.size() != 2 || timing.sgemm_ms.size() != 2)
        check.fail("bench step: timings missing");
    } catch (const std::exception& error) {
      check.fail(std::string("bench step threw: ") + error.what());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int max_tokens = 4096;
  bool require_device = false;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--max-tokens" && i + 1 < argc) {
      max_tokens = std::atoi(argv[++i]);
    } else if (argument == "--require-device") {
      require_device = true;
    } else {
      std::fprintf(stderr, "usage: attnscope-gpu-check [--max-tokens N] [--require-device]\n");
      return 2;
    }
  }
  for (const BackendInfo& backend : list_backends())
    if (backend.device == Device::cuda) {
      if (!backend.available) {
        std::printf("%s: no CUDA device (%s)\n", require_device ? "FAIL" : "SKIP",
                    backend.description.c_str());
        return require_device ? 1 : kSkip;
      }
      std::printf("CUDA: %s\n", backend.description.c_str());
    }

  Check check;
  const std::filesystem::path mask_file = write_mask_file(64);
  try {
    const auto cuda = make_backend(Device::cuda);
    const auto cpu = make_backend(Device::cpu);
    every_combination(check, *cuda, *cpu, mask_file.string());
    std::printf("every combination: %d cases, worst error %.3g\n", check.cases, check.worst);
    every_size(check, *cuda, *cpu, max_tokens);
    std::printf("every size up to %d tokens: %d cases, worst error %.3g\n", max_tokens, check.cases,
                check.worst);
    workspace_reuse(check, *cpu);
    sum_error(check, *cuda, *cpu);
    fallback(check, *cpu);
    bench_step(check);
  } catch (const std::exception& error) {
    check.fail(std::string("unexpected error: ") + error.what());
  }
  std::filesystem::remove(mask_file);
  std::printf("%d cases, %d failures, worst error %.3g (tolerance %.0e)\n", check.cases, check.failures,
              check.worst, kTolerance);
  return check.failures ? 1 : 0;
}
