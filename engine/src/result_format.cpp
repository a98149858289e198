#include "attnscope/result_format.hpp"

#include <charconv>
#include <sstream>

namespace attnscope {
namespace {

Json matrix_to_json(const Matrix& matrix) {
  Json rows = Json::array();
  for (Eigen::Index i = 0; i < matrix.rows(); ++i) {
    Json row = Json::array();
    for (Eigen::Index j = 0; j < matrix.cols(); ++j) row.push_back(matrix(i, j));
    rows.push_back(std::move(row));
  }
  return rows;
}

Json masked_scores_to_json(const Matrix& scores, const MaskMatrix& mask) {
  Json rows = Json::array();
  for (Eigen::Index i = 0; i < scores.rows(); ++i) {
    Json row = Json::array();
    for (Eigen::Index j = 0; j < scores.cols(); ++j)
      row.push_back(mask(i, j) ? Json(nullptr) : Json(scores(i, j)));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string format_float(float value) {
  char buffer[32];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, end);
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// Everything of one head; `entry` may already hold keys that go first ("layer", "head").
Json head_to_json(const HeadResult& head, const MaskMatrix& mask, Json entry = Json::object()) {
  entry["queries"] = matrix_to_json(head.queries);
  entry["keys"] = matrix_to_json(head.keys);
  entry["values"] = matrix_to_json(head.values);
  entry["scale"] = head.scale;
  entry["scores"] = masked_scores_to_json(head.scores, mask);
  entry["weights"] = matrix_to_json(head.weights);
  if (head.dropout_weights) entry["dropout_weights"] = matrix_to_json(*head.dropout_weights);
  entry["context"] = matrix_to_json(head.context);
  return entry;
}

// One line per head, query and key, each starting with `prefix` (the layer and a comma, or nothing).
void append_csv_cells(std::ostringstream& csv, const std::string& prefix,
                      const std::vector<std::string>& texts, const AttentionResult& result, bool dropout) {
  for (std::size_t h = 0; h < result.heads.size(); ++h) {
    const HeadResult& head = result.heads[h];
    for (Eigen::Index i = 0; i < head.weights.rows(); ++i)
      for (Eigen::Index j = 0; j < head.weights.cols(); ++j) {
        const bool masked = result.mask(i, j) != 0;
        csv << prefix << h << ',' << i << ',' << csv_field(texts[i]) << ',' << j << ',' << csv_field(texts[j])
            << ',' << (masked ? 1 : 0) << ',' << (masked ? std::string() : format_float(head.scores(i, j)))
            << ',' << (masked ? std::string() : format_float(head.scores(i, j) * head.scale)) << ','
            << format_float(head.weights(i, j));
        if (dropout) csv << ',' << format_float((*head.dropout_weights)(i, j));
        csv << '\n';
      }
  }
}

}  // namespace

Json result_to_json(const std::vector<Token>& tokens, const AttentionConfig& config,
                    const AttentionResult& result) {
  Json json;
  Json token_texts = Json::array();
  for (const auto& token : tokens) token_texts.push_back(token.text);
  json["tokens"] = std::move(token_texts);
  json["mechanism"] = std::string(to_string(config.mechanism));
  json["mask"] = config.effective_mask().to_string();
  json["device"] = result.device;
  Json heads = Json::array();
  for (const auto& head : result.heads) heads.push_back(head_to_json(head, result.mask));
  json["heads"] = std::move(heads);
  json["output"] = matrix_to_json(result.output);
  json["empty_rows"] = result.empty_rows;
  return json;
}

std::string result_to_csv(const std::vector<Token>& tokens, const AttentionResult& result) {
  std::ostringstream csv;
  const bool dropout = !result.heads.empty() && result.heads.front().dropout_weights.has_value();
  csv << "head,query,query_token,key,key_token,masked,score,scaled_score,weight"
      << (dropout ? ",dropout_weight" : "") << "\n";
  std::vector<std::string> texts;
  for (const auto& token : tokens) texts.push_back(token.text);
  append_csv_cells(csv, "", texts, result, dropout);
  return csv.str();
}

Json model_result_to_json(const std::vector<BpeToken>& tokens, const Gpt2Config& config,
                          const std::string& mask, const Gpt2Result& result) {
  Json json;
  Json texts = Json::array(), ids = Json::array(), pieces = Json::array();
  for (const auto& token : tokens) {
    texts.push_back(token.token.text);
    ids.push_back(token.id);
    pieces.push_back(token.bytes_display);  // the piece's own bytes, not its chip
  }
  json["tokens"] = std::move(texts);
  json["token_ids"] = std::move(ids);
  json["token_pieces"] = std::move(pieces);
  json["mechanism"] = "gpt2";
  json["model"] = Json{{"n_layer", config.n_layer},
                       {"n_head", config.n_head},
                       {"n_embd", config.n_embd},
                       {"n_positions", config.n_positions},
                       {"vocab_size", config.vocab_size}};
  json["mask"] = mask;
  json["device"] = "cpu";
  Json heads = Json::array();
  for (std::size_t l = 0; l < result.layers.size(); ++l) {
    const AttentionResult& layer = result.layers[l];
    for (std::size_t h = 0; h < layer.heads.size(); ++h)
      heads.push_back(head_to_json(layer.heads[h], layer.mask,
                                   Json{{"layer", result.layer_indices[l]}, {"head", static_cast<int>(h)}}));
  }
  json["heads"] = std::move(heads);
  json["output"] = matrix_to_json(result.final_hidden);
  json["empty_rows"] = result.layers.empty() ? std::vector<Eigen::Index>() : result.layers.front().empty_rows;
  return json;
}

std::string model_result_to_csv(const std::vector<BpeToken>& tokens, const Gpt2Result& result) {
  std::ostringstream csv;
  csv << "layer,head,query,query_token,key,key_token,masked,score,scaled_score,weight\n";
  std::vector<std::string> texts;
  for (const auto& token : tokens) texts.push_back(token.token.text);
  for (std::size_t l = 0; l < result.layers.size(); ++l)
    append_csv_cells(csv, std::to_string(result.layer_indices[l]) + ",", texts, result.layers[l], false);
  return csv.str();
}

namespace {

const char* const kStatNames[] = {"entropy_bits",  "normalized_entropy", "effective_keys",
                                  "max_weight",    "first_token",        "self",
                                  "previous_token"};

std::vector<std::optional<double>> stat_values(const HeadStats& stats) {
  return {stats.entropy_bits,  stats.normalized_entropy, stats.effective_keys,
          stats.max_weight,    stats.first_token,        stats.self,
          stats.previous_token};
}

}  // namespace

Json head_stats_to_json(const HeadStats& stats) {
  Json json = Json::object();
  const auto values = stat_values(stats);
  for (std::size_t i = 0; i < values.size(); ++i)
    json[kStatNames[i]] = values[i] ? Json(static_cast<float>(*values[i])) : Json(nullptr);
  return json;
}

Json geometry_to_json(const HeadGeometry& geometry) {
  Json json = Json::object();
  json["queries_2d"] = matrix_to_json(geometry.queries_2d);
  json["keys_2d"] = matrix_to_json(geometry.keys_2d);
  json["explained"] = geometry.explained ? Json::array({static_cast<float>((*geometry.explained)[0]),
                                                        static_cast<float>((*geometry.explained)[1])})
                                         : Json(nullptr);
  return json;
}

std::string head_stats_to_csv(const std::vector<HeadStatsRow>& rows) {
  std::ostringstream csv;
  csv << "layer,head,mask";
  for (const char* name : kStatNames) csv << ',' << name;
  csv << '\n';
  for (const HeadStatsRow& row : rows) {
    csv << row.layer << ',' << row.head << ',' << csv_field(row.mask);
    for (const auto& value : stat_values(row.stats))
      csv << ',' << (value ? format_float(static_cast<float>(*value)) : std::string());
    csv << '\n';
  }
  return csv.str();
}

Json comparison_to_json(const std::vector<std::string>& tokens, Eigen::Index aligned, const std::string& mask,
                        const std::vector<HeadComparison>& heads) {
  Json json;
  json["tokens"] = tokens;
  json["aligned"] = aligned;
  Json entries = Json::array();
  for (const HeadComparison& head : heads)
    entries.push_back(Json{{"layer", head.layer},
                           {"head", head.head},
                           {"mask", mask},
                           {"total_variation", static_cast<float>(head.total_variation)},
                           {"weights_diff", matrix_to_json(head.weights_diff)}});
  json["heads"] = std::move(entries);
  return json;
}

std::string comparison_to_csv(const std::string& mask, const std::vector<HeadComparison>& heads) {
  std::ostringstream csv;
  csv << "layer,head,mask,total_variation\n";
  for (const HeadComparison& head : heads)
    csv << head.layer << ',' << head.head << ',' << csv_field(mask) << ','
        << format_float(static_cast<float>(head.total_variation)) << '\n';
  return csv.str();
}

Json rollout_to_json(const std::vector<int>& layers, const std::vector<Matrix>& rollout) {
  Json json = Json::array();
  for (const int layer : layers)
    json.push_back(
        Json{{"layer", layer}, {"weights", matrix_to_json(rollout.at(static_cast<std::size_t>(layer)))}});
  return json;
}

Json probe_to_json(const std::vector<ProbeHit>& hits) {
  Json json = Json::array();
  for (const ProbeHit& hit : hits)
    json.push_back(
        Json{{"layer", hit.layer}, {"head", hit.head}, {"weight", hit.weight}, {"rank", hit.rank}});
  return json;
}

}  // namespace attnscope
