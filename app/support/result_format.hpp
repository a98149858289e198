#pragma once
// The CLI's output contract: JSON (the schema in README) and CSV (one line per query-key cell).

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnscope/config.hpp"
#include "attnscope/result.hpp"
#include "attnscope/tokenizer.hpp"

namespace attnscope::cli {

// float as the number type: dump() then prints the shortest text that reads back as the same float32.
using Json = nlohmann::basic_json<nlohmann::ordered_map, std::vector, std::string, bool, std::int64_t,
                                  std::uint64_t, float>;

Json result_to_json(const std::vector<Token>& tokens, const AttentionConfig& config,
                    const AttentionResult& result);
// Columns: head,query,query_token,key,key_token,masked,score,scaled_score,weight[,dropout_weight]; the
// scores of masked cells are empty.
std::string result_to_csv(const std::vector<Token>& tokens, const AttentionResult& result);

}  // namespace attnscope::cli
