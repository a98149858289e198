#pragma once
// AttnScope's result format, shared by attnscope-cli compute and the app's exports: JSON (the schema in
// README) and CSV (one line per query-key cell).

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnscope/bpe_tokenizer.hpp"
#include "attnscope/compare.hpp"
#include "attnscope/config.hpp"
#include "attnscope/geometry.hpp"
#include "attnscope/gpt2.hpp"
#include "attnscope/head_stats.hpp"
#include "attnscope/result.hpp"
#include "attnscope/tokenizer.hpp"

namespace attnscope {

// float as the number type: dump() then prints the shortest text that reads back as the same float32.
using Json = nlohmann::basic_json<nlohmann::ordered_map, std::vector, std::string, bool, std::int64_t,
                                  std::uint64_t, float>;

Json result_to_json(const std::vector<Token>& tokens, const AttentionConfig& config,
                    const AttentionResult& result);
// Columns: head,query,query_token,key,key_token,masked,score,scaled_score,weight[,dropout_weight]; the
// scores of masked cells are empty.
std::string result_to_csv(const std::vector<Token>& tokens, const AttentionResult& result);

// A GPT-2 run in the same schema: "tokens" (the text each BPE token covers), "token_ids", "token_pieces" (the
// vocabulary pieces made readable, e.g. "·world"), "mechanism": "gpt2", "model" (its sizes), "mask"
// (`mask`), "device", "heads" layer by layer — each head object with "layer" and "head" added —, "output" =
// the final hidden state (after ln_f) and "empty_rows".
Json model_result_to_json(const std::vector<BpeToken>& tokens, const Gpt2Config& config,
                          const std::string& mask, const Gpt2Result& result);
// As result_to_csv with a first column "layer".
std::string model_result_to_csv(const std::vector<BpeToken>& tokens, const Gpt2Result& result);

// {"entropy_bits", "normalized_entropy", "effective_keys", "max_weight", "first_token", "self",
// "previous_token"}, null where a statistic has no row to average.
Json head_stats_to_json(const HeadStats& stats);

// {"queries_2d": [[x, y], …], "keys_2d": [[x, y], …], "explained": [r1, r2] or null (head_dim 2)}.
Json geometry_to_json(const HeadGeometry& geometry);

// One line per head and mask: a header `layer,head,mask,` and the seven statistics (empty where null).
struct HeadStatsRow {
  int layer = 0;
  int head = 0;
  std::string mask;
  HeadStats stats;
};
std::string head_stats_to_csv(const std::vector<HeadStatsRow>& rows);

// Compare (--compare-text): {"tokens": B's token texts, "aligned": m (the smaller token count), "heads":
// [{"layer", "head", "mask", "total_variation", "weights_diff": m × m, A − B}, …]}, the heads in `heads`'
// order, each labelled with the mask both inputs ran under (`mask`, as the result's "mask" names it).
Json comparison_to_json(const std::vector<std::string>& tokens, Eigen::Index aligned, const std::string& mask,
                        const std::vector<HeadComparison>& heads);
// One line per head: a header `layer,head,mask,total_variation`.
std::string comparison_to_csv(const std::string& mask, const std::vector<HeadComparison>& heads);

// [{"layer": l, "weights": R_l}, …] for each of `layers`, from attention_rollout's result over every layer.
Json rollout_to_json(const std::vector<int>& layers, const std::vector<Matrix>& rollout);

// [{"layer", "head", "weight", "rank"}, …] in the probe's order.
Json probe_to_json(const std::vector<ProbeHit>& hits);

}  // namespace attnscope
