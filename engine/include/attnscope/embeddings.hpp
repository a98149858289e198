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

// Reads a 2-D float32/float64 .npy (little-endian, C order) or a .csv of numbers (one row per token, an
// optional non-numeric header line). Throws Error naming the file and the problem: missing, truncated,
// wrong dtype, rank or layout, ragged rows, NaN or Inf.
Matrix load_embeddings(const std::filesystem::path& path);

}  // namespace attnscope
