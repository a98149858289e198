#pragma once
// File readers shared by embeddings and mask files. Each throws Error naming the file and the problem.

#include <filesystem>

#include "attnscope/matrix.hpp"

namespace attnscope::detail {

// A 2-D .npy array of little-endian float32 or float64 in C order, converted to float32.
Matrix read_npy(const std::filesystem::path& path);
// Comma-, semicolon-, tab- or space-separated numbers, one row per line; blank lines and lines starting with
// '#' are skipped; a first line that is not numeric is taken as a header. Rows must have equal length.
Matrix read_csv(const std::filesystem::path& path);
// NaN or Inf anywhere: Error naming the row and column.
void require_finite(const Matrix& matrix, const std::filesystem::path& path);

}  // namespace attnscope::detail
