// attnscope-cli: compute attention without a display, list devices, measure speed.

#include <CLI/CLI.hpp>
#include <charconv>
#include <csignal>
#include <iostream>
#include <memory>

#include "attnscope/atomic_file.hpp"
#include "attnscope/attention.hpp"
#include "attnscope/backend.hpp"
#include "attnscope/compare.hpp"
#include "attnscope/error.hpp"
#include "attnscope/geometry.hpp"
#include "attnscope/gpt2.hpp"
#include "attnscope/head_stats.hpp"
#include "attnscope/quote.hpp"
#include "attnscope/result_format.hpp"
#include "support/cli_command_line.hpp"
#include "support/compute_flags.hpp"
#include "support/parse_arguments.hpp"

namespace {

using namespace attnscope;

void write_output(const std::string& text, const cli::OutputOptions& output) {
  if (output.output)
    write_file_atomically(*output.output, text);
  else
    std::cout << text;
}

// --probe QUERY:KEY as two token indices, the query checked against the `tokens` of the text (the key is
// checked by probe()).
std::optional<std::pair<Eigen::Index, Eigen::Index>> parse_probe(const cli::OutputOptions& output,
                                                                 std::size_t tokens) {
  if (!output.probe) return std::nullopt;
  const std::string& text = *output.probe;
  const auto colon = text.find(':');
  const auto number = [&](std::string_view part) {
    long long value = -1;
    const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || error != std::errc() || end != part.data() + part.size() || value < 0)
      throw Error("--probe " + quote(text) +
                  ": expected QUERY:KEY, two token indices counted from 0, e.g. --probe 5:1");
    return static_cast<Eigen::Index>(value);
  };
  if (colon == std::string::npos) number("");
  const Eigen::Index query = number(std::string_view(text).substr(0, colon));
  const Eigen::Index key = number(std::string_view(text).substr(colon + 1));
  for (const Eigen::Index index : {query, key})
    if (index >= static_cast<Eigen::Index>(tokens))
      throw Error("--probe " + quote(text) + ": token " + std::to_string(index) +
                  " does not exist: the text has tokens 0 to " + std::to_string(tokens - 1));
  return std::pair{query, key};
}

void refuse_csv_extras(const cli::OutputOptions& output) {
  if (output.format == "csv" && (output.probe || output.rollout))
    throw Error("--probe and --rollout add to the JSON: drop --format csv");
  if (output.format == "csv" && output.geometry)
    throw Error("--geometry adds to the JSON (2-D points per head): drop --format csv");
  if (output.format == "csv" && output.stats && output.compare_text)
    throw Error(
        "--stats and --compare-text each print one line per head with --format csv: drop one of them, "
        "or --format csv");
}

constexpr const char* kCompareTextEmpty = "--compare-text: the text is empty: type at least one word";

// Input B of --compare-text: A's request with only the text replaced.
ComputeRequest compare_request(const ComputeRequest& request, const std::string& text) {
  // Without a text an embeddings file would name its own tokens, and B would silently be A.
  if (text.empty()) throw Error(kCompareTextEmpty);
  ComputeRequest compared = request;
  compared.text = text;
  compared.compared_with = request.text;  // the words B shares with A keep A's embeddings
  return compared;
}

// Runs a step of input B; the message of an Error it throws names the flag, so that it does not read as a
// fault of --text.
template <typename Step>
auto blaming_compare_text(Step&& step) {
  try {
    return step();
  } catch (const Error& error) {
    throw Error(std::string("--compare-text: ") + error.what());
  }
}

// --model: the text through a GPT-2 folder's tokenizer and every layer.
int run_model(const ComputeRequest& request, const cli::OutputOptions& output) {
  refuse_csv_extras(output);
  PreparedModelInput input = prepare_model_input(request, cli::flag_name);
  const auto probed = parse_probe(output, input.tokens.size());
  // Rollout and the probe read every layer as it is computed, not only the printed ones.
  std::vector<Matrix> layer_means;
  std::vector<ProbedRow> probed_rows;
  if (output.rollout || probed)
    input.run.on_layer = [&](int layer, const AttentionResult& attention) {
      std::vector<const Matrix*> weights;
      for (std::size_t h = 0; h < attention.heads.size(); ++h) {
        weights.push_back(&attention.heads[h].weights);
        if (probed)
          probed_rows.push_back({layer, static_cast<int>(h), attention.heads[h].weights.row(probed->first)});
      }
      if (output.rollout) layer_means.push_back(mean_of_heads(weights));
    };
  std::optional<PreparedModelInput> compared;
  if (output.compare_text) {
    const ComputeRequest request_b = compare_request(request, *output.compare_text);
    compared = blaming_compare_text([&] { return prepare_model_input(request_b, cli::flag_name); });
    compared->run.keep_scores = false;  // only its weights are compared
  }
  input.run.row_stats = output.stats;  // the statistics as the window computes them, with the weights
  const Gpt2Result result = input.model.run(input.ids, input.run);
  std::vector<HeadComparison> comparison;
  if (compared) comparison = compare_layers(result, compared->model.run(compared->ids, compared->run));
  if (output.format == "csv") {
    if (compared) {
      write_output(comparison_to_csv(input.mask, comparison), output);
      return 0;
    }
    if (!output.stats) {
      write_output(model_result_to_csv(input.tokens, result), output);
      return 0;
    }
    std::vector<HeadStatsRow> rows;
    for (std::size_t l = 0; l < result.layers.size(); ++l) {
      std::vector<HeadStats> stats = head_stats(result.layers[l]);
      for (std::size_t h = 0; h < stats.size(); ++h)
        rows.push_back({result.layer_indices[l], static_cast<int>(h), input.mask, std::move(stats[h])});
    }
    write_output(head_stats_to_csv(rows), output);
    return 0;
  }
  Json json = model_result_to_json(input.tokens, input.model.config(), input.mask, result);
  if (output.stats || output.geometry) {
    std::size_t index = 0;
    for (const AttentionResult& layer : result.layers) {
      const std::vector<HeadStats> stats = output.stats ? head_stats(layer) : std::vector<HeadStats>{};
      for (std::size_t h = 0; h < layer.heads.size(); ++h) {
        const HeadResult& head = layer.heads[h];
        Json& entry = json["heads"][index++];
        if (output.stats) entry["stats"] = head_stats_to_json(stats[h]);
        if (output.geometry) entry["geometry"] = geometry_to_json(head_geometry(head.queries, head.keys));
      }
    }
  }
  if (output.rollout) {
    json["rollout"] = rollout_to_json(result.layer_indices, attention_rollout(layer_means));
  }
  if (probed) json["probe"] = probe_to_json(probe(probed_rows, probed->second));
  if (compared) {
    std::vector<std::string> texts;
    for (const BpeToken& token : compared->tokens) texts.push_back(token.token.text);
    const auto aligned = static_cast<Eigen::Index>(std::min(input.tokens.size(), compared->tokens.size()));
    json["compare"] = comparison_to_json(texts, aligned, input.mask, comparison);
  }
  write_output(json.dump() + "\n", output);
  return 0;
}

// The flags on top of the request's defaults (simplified attention, seeded embeddings, the mechanism's own
// mask), through the same prepare_input as the window.
int run_compute(const cli::ComputeFlags& flags, const cli::OutputOptions& output) {
  const ComputeRequest request = cli::apply_flags(flags, ComputeRequest{});
  if (flags.model) {
    if (!flags.text) throw Error("--model needs --text: the text to run through the model");
    return run_model(request, output);
  }
  refuse_csv_extras(output);
  if (!flags.text && !flags.preset && !flags.embeddings_file)
    throw Error("nothing to attend over: give --text TEXT, --preset book or --embeddings FILE");
  const PreparedInput input = prepare_input(request, cli::flag_name);
  if (input.tokens.empty()) throw Error("the text is empty: type at least one word");
  cli::check_flags_against(flags, input.embeddings);
  const auto probed = parse_probe(output, input.tokens.size());
  std::optional<PreparedInput> compared;
  if (output.compare_text) {
    const ComputeRequest request_b = compare_request(request, *output.compare_text);
    compared = blaming_compare_text([&] { return prepare_input(request_b, cli::flag_name); });
    if (compared->tokens.empty()) throw Error(kCompareTextEmpty);
  }
  const auto backend = make_backend(request.device);
  const CancelToken never_cancelled;
  const auto compute = [&](const PreparedInput& prepared) {
    AttentionConfig config = prepared.config;
    config.row_stats = output.stats;  // the statistics as the window computes them, with the weights
    AttentionResult result = compute_attention(config, prepared.embeddings, *backend, never_cancelled);
    if (!result.fallback_reason.empty())
      std::cerr << "attnscope-cli: warning: " << result.fallback_reason << "\n";
    return result;
  };
  const AttentionResult result = compute(input);
  const std::vector<HeadStats> stats = output.stats ? head_stats(result) : std::vector<HeadStats>{};
  std::vector<HeadComparison> comparison;
  // B's own failure (a row whose scores add up to 0 under sum normalisation) names the flag too.
  if (compared) comparison = compare_heads(result, blaming_compare_text([&] { return compute(*compared); }));
  const std::string mask = input.config.effective_mask().to_string();
  if (output.format == "csv") {
    if (compared) {
      write_output(comparison_to_csv(mask, comparison), output);
      return 0;
    }
    if (!output.stats) {
      write_output(result_to_csv(input.tokens, result), output);
      return 0;
    }
    std::vector<HeadStatsRow> rows;
    for (std::size_t h = 0; h < result.heads.size(); ++h)
      rows.push_back({0, static_cast<int>(h), mask, stats[h]});
    write_output(head_stats_to_csv(rows), output);
    return 0;
  }
  Json json = result_to_json(input.tokens, input.config, result);
  if (output.stats)
    for (std::size_t h = 0; h < result.heads.size(); ++h)
      json["heads"][h]["stats"] = head_stats_to_json(stats[h]);
  if (output.geometry)
    for (std::size_t h = 0; h < result.heads.size(); ++h)
      json["heads"][h]["geometry"] =
          geometry_to_json(head_geometry(result.heads[h].queries, result.heads[h].keys));
  if (probed) {
    std::vector<ProbedRow> rows;
    for (std::size_t h = 0; h < result.heads.size(); ++h)
      rows.push_back({0, static_cast<int>(h), result.heads[h].weights.row(probed->first)});
    json["probe"] = probe_to_json(probe(rows, probed->second));
  }
  if (compared) {
    std::vector<std::string> texts;
    for (const Token& token : compared->tokens) texts.push_back(token.text);
    const auto aligned = static_cast<Eigen::Index>(std::min(input.tokens.size(), compared->tokens.size()));
    json["compare"] = comparison_to_json(texts, aligned, mask, comparison);
  }
  write_output(json.dump() + "\n", output);
  return 0;
}

// One line per backend: name, available or unavailable, then the device, its memory and the driver and
// runtime versions, or the reason it cannot be used.
int run_devices() {
  for (const BackendInfo& backend : list_backends())
    std::cout << backend.name << "\t" << (backend.available ? "available" : "unavailable") << "\t"
              << backend.description << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A write beyond the file-size limit must fail with EFBIG and a message, not kill the process.
  std::signal(SIGXFSZ, SIG_IGN);

  cli::CliCommandLine line;
  const std::unique_ptr<CLI::App> app = cli::make_cli_app(line);
  if (const auto exit_status = cli::parse_command_line(*app, argc, argv, "attnscope-cli"))
    return *exit_status;

  try {
    if (*line.compute) return run_compute(line.compute_flags, line.output_options);
    if (*line.devices) return run_devices();
    if (*line.bench) return cli::run_bench(line.bench_options, std::cout, std::cerr);
  } catch (const Error& error) {
    cli::print_error("attnscope-cli", error.what());
    return 1;
  }
  return 0;
}
