#include "bench/bench.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "attnscope/backend.hpp"
#include "attnscope/bench.hpp"
#include "attnscope/error.hpp"
#include "attnscope/mask.hpp"
#include "attnscope/torch_random.hpp"

namespace attnscope::cli {
namespace {

struct Row {
  std::string device;
  int tokens = 0, heads = 0, head_dim = 0;
  std::string mask;
  double median_ms = 0, gflops = 0, sgemm_gflops = 0;
  std::optional<double> mask_softmax_share;   // of the step's time; CPU rows
  std::optional<double> stats_share;          // the time the head statistics add to the step; CPU rows
  std::optional<double> max_abs_diff_vs_cpu;  // GPU rows
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2.0;
}

// Queries, keys and values uniform in [−1, 1) from torch.manual_seed(123), the same for every device.
StepProblem make_step_problem(int tokens, int heads, int head_dim, const MaskSpec& mask) {
  StepProblem problem;
  problem.heads = heads;
  problem.tokens = tokens;
  problem.head_dim = head_dim;
  TorchGenerator generator(123);
  const Eigen::Index rows = static_cast<Eigen::Index>(heads) * tokens;
  for (std::vector<float>* data : {&problem.queries, &problem.keys, &problem.values}) {
    const Matrix values = (generator.rand(rows, head_dim).array() * 2.0f - 1.0f).matrix();
    data->assign(values.data(), values.data() + values.size());
  }
  problem.mask = build_mask(mask, tokens);
  problem.scale_divisor = static_cast<float>(std::sqrt(static_cast<double>(head_dim)));
  return problem;
}

double max_abs_diff(const std::vector<float>& actual, const std::vector<float>& expected) {
  double worst = 0.0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double difference = std::abs(static_cast<double>(actual[i]) - expected[i]);
    if (!(difference <= worst)) worst = difference;  // NaN wins
  }
  return worst;
}

std::vector<Device> pick_devices(const BenchOptions& options, std::ostream& err) {
  const std::vector<BackendInfo> backends = list_backends();
  const auto info = [&](Device device) {
    return *std::find_if(backends.begin(), backends.end(),
                         [&](const BackendInfo& b) { return b.device == device; });
  };
  std::vector<Device> devices;
  if (options.devices.empty()) {
    devices.push_back(Device::cpu);
    const BackendInfo cuda = info(Device::cuda);
    if (cuda.available)
      devices.push_back(Device::cuda);
    else
      err << "attnscope-cli: note: bench runs on the CPU only; CUDA is not available: " << cuda.description
          << "\n";
    return devices;
  }
  for (const std::string& name : options.devices) {
    const Device device = parse_device(name);
    if (device == Device::automatic) throw Error("bench: --device takes cpu and cuda, not auto");
    const BackendInfo backend = info(device);
    if (!backend.available) throw Error("CUDA is not available: " + backend.description);
    if (std::find(devices.begin(), devices.end(), device) == devices.end()) devices.push_back(device);
  }
  return devices;
}

void print_header(std::ostream& out) {
  out << "device  tokens  heads  head_dim  mask        median_ms      gflops  sgemm_gflops  vs_sgemm  "
         "mask_softmax  stats_vs_step  max_abs_diff_vs_cpu\n";
}

void print_row(std::ostream& out, const Row& row) {
  char diff[32] = "-", share[32] = "-", stats[32] = "-";
  if (row.max_abs_diff_vs_cpu) std::snprintf(diff, sizeof diff, "%.3g", *row.max_abs_diff_vs_cpu);
  if (row.mask_softmax_share) std::snprintf(share, sizeof share, "%.1f%%", 100.0 * *row.mask_softmax_share);
  if (row.stats_share) std::snprintf(stats, sizeof stats, "%.1f%%", 100.0 * *row.stats_share);
  // vs_sgemm to 3 significant digits: a tiny problem under a sanitizer runs at a few thousandths of SGEMM.
  char line[288];
  std::snprintf(line, sizeof line,
                "%-6s  %6d  %5d  %8d  %-10s  %9.3f  %10.1f  %12.1f  %7.3gx  %12s  %13s  %19s\n",
                row.device.c_str(), row.tokens, row.heads, row.head_dim, row.mask.c_str(), row.median_ms,
                row.gflops, row.sgemm_gflops, row.gflops / row.sgemm_gflops, share, stats, diff);
  out << line << std::flush;
}

nlohmann::ordered_json to_json(const Row& row) {
  nlohmann::ordered_json json;
  json["device"] = row.device;
  json["tokens"] = row.tokens;
  json["heads"] = row.heads;
  json["head_dim"] = row.head_dim;
  json["mask"] = row.mask;
  json["median_ms"] = row.median_ms;
  json["gflops"] = row.gflops;
  json["sgemm_gflops"] = row.sgemm_gflops;
  json["mask_softmax_share"] = row.mask_softmax_share ? nlohmann::ordered_json(*row.mask_softmax_share)
                                                      : nlohmann::ordered_json(nullptr);
  json["stats_vs_step"] =
      row.stats_share ? nlohmann::ordered_json(*row.stats_share) : nlohmann::ordered_json(nullptr);
  json["max_abs_diff_vs_cpu"] = row.max_abs_diff_vs_cpu ? nlohmann::ordered_json(*row.max_abs_diff_vs_cpu)
                                                        : nlohmann::ordered_json(nullptr);
  return json;
}

}  // namespace

void add_bench_options(CLI::App& app, BenchOptions& options) {
  app.add_option("--device", options.devices,
                 "Devices, comma-separated: cpu, cuda (default: cpu and cuda when present)")
      ->delimiter(',')
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--tokens", options.tokens, "Token counts, comma-separated (default 512,2048)")
      ->delimiter(',')
      ->check(CLI::Range(1, 65536));
  app.add_option("--heads", options.heads, "Heads (default 12)")->check(CLI::Range(1, 4096));
  app.add_option("--head-dim", options.head_dim, "Width of each head (default 64)")
      ->check(CLI::Range(1, 65536));
  app.add_option("--mask", options.masks,
                 "Masks, comma-separated: none, causal, window:W, prefix:P (default none,causal)")
      ->delimiter(',');
  app.add_option("--repeat", options.repeat, "Timed runs per device and shape, after one warm-up (default 5)")
      ->check(CLI::Range(1, 100000));
  app.add_flag(
      "--json", options.json,
      "Print a JSON array, one object per run: device, tokens, heads, head_dim, mask, median_ms, gflops, "
      "sgemm_gflops, mask_softmax_share (fraction of the step spent scaling, masking and normalising; null "
      "on a GPU), stats_vs_step (what computing the window's head statistics with the step adds to its time, "
      "as a fraction of it: the median step with them over the median step without, minus 1, measured in "
      "alternation; null on a GPU), max_abs_diff_vs_cpu (null on the CPU)");
}

std::vector<MaskSpec> bench_masks(const BenchOptions& options) {
  std::vector<MaskSpec> masks;
  for (const std::string& text : options.masks) {
    MaskSpec mask = MaskSpec::parse(text);
    if (mask.kind == MaskKind::file) throw Error("bench: --mask takes none, causal, window:W and prefix:P");
    masks.push_back(std::move(mask));
  }
  return masks;
}

int run_bench(const BenchOptions& options, std::ostream& out, std::ostream& err) {
  const std::vector<MaskSpec> masks = bench_masks(options);
  const std::vector<Device> devices = pick_devices(options, err);

  nlohmann::ordered_json json = nlohmann::ordered_json::array();
  if (!options.json) print_header(out);
  std::vector<std::vector<Row>> rows_by_mask(masks.size());  // printed by mask, then device, as before
  for (const int tokens : options.tokens) {
    std::vector<StepProblem> problems;
    for (const MaskSpec& mask : masks)
      problems.push_back(make_step_problem(tokens, options.heads, options.head_dim, mask));
    for (const Device device : devices) {
      // The masks' repetitions alternate (each after its own warm-up), so that a machine that slows down or
      // speeds up during the run (a shared VM) moves every mask alike and the causal speed-up stays fair.
      std::vector<StepTiming> timings(problems.size());
      std::vector<double> shares(problems.size());
      for (int r = 0; r < options.repeat; ++r)
        for (std::size_t m = 0; m < problems.size(); ++m) {
          StepTiming once = time_attention_step(device, problems[m], 1);
          timings[m].step_ms.push_back(once.step_ms.front());
          timings[m].sgemm_ms.push_back(once.sgemm_ms.front());
          if (!once.step_with_stats_ms.empty())
            timings[m].step_with_stats_ms.push_back(once.step_with_stats_ms.front());
          if (once.mask_softmax_share) shares[m] += *once.mask_softmax_share / options.repeat;
          timings[m].mask_softmax_share = once.mask_softmax_share ? std::optional(shares[m]) : std::nullopt;
          timings[m].context = std::move(once.context);
        }
      for (std::size_t m = 0; m < problems.size(); ++m) {
        const StepProblem& problem = problems[m];
        const StepTiming& timing = timings[m];
        const double flops = step_flops(problem);
        Row row;
        row.device = std::string(to_string(device));
        row.tokens = tokens;
        row.heads = options.heads;
        row.head_dim = options.head_dim;
        row.mask = masks[m].to_string();
        row.median_ms = median(timing.step_ms);
        row.gflops = flops / (row.median_ms * 1e6);
        row.sgemm_gflops = flops / (median(timing.sgemm_ms) * 1e6);
        row.mask_softmax_share = timing.mask_softmax_share;
        if (!timing.step_with_stats_ms.empty())
          row.stats_share = median(timing.step_with_stats_ms) / row.median_ms - 1.0;
        if (device != Device::cpu)
          row.max_abs_diff_vs_cpu = max_abs_diff(timing.context, cpu_step_context(problem));
        rows_by_mask[m].push_back(std::move(row));
      }
    }
    for (std::vector<Row>& rows : rows_by_mask) {
      for (const Row& row : rows) {
        if (options.json)
          json.push_back(to_json(row));
        else
          print_row(out, row);
      }
      rows.clear();
    }
  }
  if (options.json) out << json.dump(2) << "\n";
  return 0;
}

}  // namespace attnscope::cli
