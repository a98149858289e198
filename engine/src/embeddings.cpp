#include "attnscope/embeddings.hpp"

#include <deque>
#include <memory>
#include <mutex>
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

namespace {

// torch.manual_seed(seed); nn.Embedding(rows, d_in).weight, remembered for the last few shapes: a viewer
// re-embeds its text on every keystroke, and drawing the table is most of that (5 ms for 443 × 768 normals),
// while an edit leaves the number of distinct tokens as it was or moves it by one.
std::shared_ptr<const Matrix> embedding_table(std::uint64_t seed, Eigen::Index rows, int d_in) {
  struct Entry {
    std::uint64_t seed;
    Eigen::Index rows;
    int d_in;
    std::shared_ptr<const Matrix> table;
  };
  constexpr std::size_t kKept = 4;
  constexpr Eigen::Index kLargestKept = Eigen::Index{4} << 20;  // floats: a table of 16 MiB
  static std::mutex mutex;
  static std::deque<Entry> recent;  // the most recent first
  {
    const std::lock_guard lock(mutex);
    for (auto entry = recent.begin(); entry != recent.end(); ++entry)
      if (entry->seed == seed && entry->rows == rows && entry->d_in == d_in) {
        Entry found = *entry;
        recent.erase(entry);
        recent.push_front(found);
        return found.table;
      }
  }
  TorchGenerator generator(seed);
  auto table = std::make_shared<const Matrix>(generator.embedding(rows, d_in));
  if (rows * d_in <= kLargestKept) {
    const std::lock_guard lock(mutex);
    recent.push_front(Entry{seed, rows, d_in, table});
    if (recent.size() > kKept) recent.pop_back();
  }
  return table;
}

}  // namespace

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
  const std::shared_ptr<const Matrix> table =
      embedding_table(seed, static_cast<Eigen::Index>(vocabulary.size()), d_in);
  Matrix embeddings(static_cast<Eigen::Index>(tokens.size()), d_in);
  for (std::size_t i = 0; i < ids.size(); ++i)
    embeddings.row(static_cast<Eigen::Index>(i)) = table->row(ids[i]);
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
