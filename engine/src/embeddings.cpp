#include "attnscope/embeddings.hpp"

#include <string>
#include <unordered_map>

#include "attnscope/error.hpp"
#include "attnscope/torch_random.hpp"

namespace attnscope {

const Preset& book_preset() {
  static const Preset preset = [] {
    Preset book;
    book.text = "Your journey starts with one step";
    book.tokens = {"Your", "journey", "starts", "with", "one", "step"};
    book.embeddings.resize(6, 3);
    book.embeddings << 0.43f, 0.15f, 0.89f,  // Your
        0.55f, 0.87f, 0.66f,                 // journey
        0.57f, 0.85f, 0.64f,                 // starts
        0.22f, 0.58f, 0.33f,                 // with
        0.77f, 0.25f, 0.10f,                 // one
        0.05f, 0.80f, 0.55f;                 // step
    return book;
  }();
  return preset;
}

Matrix seeded_embeddings(const std::vector<std::string>& tokens, int d_in, std::uint64_t seed) {
  if (d_in < 1) throw Error("d_in must be at least 1 (got " + std::to_string(d_in) + ")");
  std::unordered_map<std::string, Eigen::Index> vocabulary;
  std::vector<Eigen::Index> ids;
  ids.reserve(tokens.size());
  for (const auto& token : tokens) {
    const auto [entry, inserted] =
        vocabulary.try_emplace(token, static_cast<Eigen::Index>(vocabulary.size()));
    ids.push_back(entry->second);
  }
  TorchGenerator generator(seed);
  const Matrix table = generator.embedding(static_cast<Eigen::Index>(vocabulary.size()), d_in);
  Matrix embeddings(static_cast<Eigen::Index>(tokens.size()), d_in);
  for (std::size_t i = 0; i < ids.size(); ++i)
    embeddings.row(static_cast<Eigen::Index>(i)) = table.row(ids[i]);
  return embeddings;
}

Matrix compared_embeddings(const std::vector<std::string>& tokens,
                           const std::vector<std::string>& base_tokens, const Matrix& base_embeddings,
                           bool base_seeded, std::uint64_t seed) {
  std::unordered_map<std::string, Eigen::Index> base_rows, base_vocabulary, new_words;
  for (std::size_t i = 0; i < base_tokens.size(); ++i) {
    base_rows.try_emplace(base_tokens[i], static_cast<Eigen::Index>(i));
    base_vocabulary.try_emplace(base_tokens[i], static_cast<Eigen::Index>(base_vocabulary.size()));
  }
  for (const auto& token : tokens)
    if (!base_rows.count(token)) new_words.try_emplace(token, static_cast<Eigen::Index>(new_words.size()));
  const auto d = base_embeddings.cols();
  Matrix table;
  if (!new_words.empty()) {
    TorchGenerator generator(seed);
    if (base_seeded) generator.embedding(static_cast<Eigen::Index>(base_vocabulary.size()), d);
    table = generator.embedding(static_cast<Eigen::Index>(new_words.size()), d);
  }
  Matrix embeddings(static_cast<Eigen::Index>(tokens.size()), d);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const auto row = static_cast<Eigen::Index>(i);
    if (const auto base = base_rows.find(tokens[i]); base != base_rows.end())
      embeddings.row(row) = base_embeddings.row(base->second);
    else
      embeddings.row(row) = table.row(new_words.at(tokens[i]));
  }
  return embeddings;
}

}  // namespace attnscope
