#include "result_format.hpp"

#include <charconv>
#include <sstream>

namespace attnscope::cli {
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
  for (const auto& head : result.heads) {
    Json entry;
    entry["queries"] = matrix_to_json(head.queries);
    entry["keys"] = matrix_to_json(head.keys);
    entry["values"] = matrix_to_json(head.values);
    entry["scale"] = head.scale;
    entry["scores"] = masked_scores_to_json(head.scores, result.mask);
    entry["weights"] = matrix_to_json(head.weights);
    if (head.dropout_weights) entry["dropout_weights"] = matrix_to_json(*head.dropout_weights);
    entry["context"] = matrix_to_json(head.context);
    heads.push_back(std::move(entry));
  }
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
  for (std::size_t h = 0; h < result.heads.size(); ++h) {
    const HeadResult& head = result.heads[h];
    for (Eigen::Index i = 0; i < head.weights.rows(); ++i)
      for (Eigen::Index j = 0; j < head.weights.cols(); ++j) {
        const bool masked = result.mask(i, j) != 0;
        csv << h << ',' << i << ',' << csv_field(tokens[i].text) << ',' << j << ','
            << csv_field(tokens[j].text) << ',' << (masked ? 1 : 0) << ','
            << (masked ? std::string() : format_float(head.scores(i, j))) << ','
            << (masked ? std::string() : format_float(head.scores(i, j) * head.scale)) << ','
            << format_float(head.weights(i, j));
        if (dropout) csv << ',' << format_float((*head.dropout_weights)(i, j));
        csv << '\n';
      }
  }
  return csv.str();
}

}  // namespace attnscope::cli
