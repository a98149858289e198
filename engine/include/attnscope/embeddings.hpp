#pragma once
// Where token embeddings come from: the book's preset, a seeded nn.Embedding table, or a file.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "attnscope/matrix.hpp"
#include "attnscope/tokenizer.hpp"

namespace attnscope {

// "Your journey starts with one step" and its 6 × 3 embeddings from chapter 3.
struct Preset {
  std::string text;
  std::vector<std::string> tokens;
  Matrix embeddings;
};
const Preset& book_preset();

// torch.manual_seed(seed); nn.Embedding(V, d_in) where V is the number of distinct token texts in order of
// first appearance; row i of the result is the embedding of tokens[i] (repeated tokens share a row).
Matrix seeded_embeddings(const std::vector<std::string>& tokens, int d_in, std::uint64_t seed);

// The embeddings of a text compared with another (Compare, B against A), so that a word means the same in
// both: each token that A has takes A's row (`base_embeddings`, one per token of `base_tokens`); the tokens A
// lacks, in order of first appearance, take the rows of nn.Embedding(V_new, d) drawn after A's own table:
// torch.manual_seed(seed); [nn.Embedding(V_A, d) when A's table is seeded]; nn.Embedding(V_new, d).
Matrix compared_embeddings(const std::vector<std::string>& tokens,
                           const std::vector<std::string>& base_tokens, const Matrix& base_embeddings,
                           bool base_seeded, std::uint64_t seed);

// Reads a 2-D float32/float64 .npy (little-endian, C order) or a .csv of numbers (one row per token, an
// optional non-numeric header line). Throws Error naming the file and the problem: missing, truncated,
// wrong dtype, rank or layout, ragged rows, NaN or Inf.
Matrix load_embeddings(const std::filesystem::path& path);

}  // namespace attnscope
