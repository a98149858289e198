#pragma once
// File readers shared by embeddings and mask files. Each throws Error naming the file and the problem.
//
// Every reader has an in-memory form (parse_*) that the file form shares its checks with; the fuzz harnesses
// in tests/fuzz call those. Memory stays proportional to the data a file holds: a header cannot make a
// reader allocate what the file does not contain, and files are read a line or 64 KiB at a time, not whole.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "attnscope/matrix.hpp"
#include "attnscope/quote.hpp"

namespace attnscope::detail {

// A 2-D .npy array of little-endian float32 or float64 in C order, converted to float32. The header may be
// at most 64 KiB; the file must hold exactly the data its shape needs.
Matrix read_npy(const std::filesystem::path& path);
// The same from the bytes of a whole .npy file; `name` starts every error message.
Matrix parse_npy(std::string_view bytes, std::string_view name);

// Comma-, semicolon-, tab- or space-separated numbers, one row per line; blank lines and lines starting with
// '#' are skipped; a first line that is not numeric is taken as a header. Rows must have equal length.
Matrix read_csv(const std::filesystem::path& path);
// The same from the bytes of a whole file; `name` starts every error message.
Matrix parse_csv(std::string_view bytes, std::string_view name);

// NaN or Inf anywhere: Error naming the row and column.
void require_finite(const Matrix& matrix, const std::filesystem::path& path);
void require_finite_named(const Matrix& matrix, std::string_view name);

// The n × n mask in the top-left corner of a 0/1 CSV (1 = masked), as build_mask reads a mask file;
// `path` names the file in error messages.
MaskMatrix parse_mask(std::string_view csv_bytes, Eigen::Index n, const std::string& path);

// A shape's dimensions as error messages list them, "3, 4"; after the first 8, "... N more" (a header can
// hold thousands). The caller adds the brackets of its format.
std::string list_dimensions(const std::vector<std::uint64_t>& shape);

// The file name of `path` (the whole path when it has none), as error messages name files: printable().
std::string display_name(const std::filesystem::path& path);
// Opens a regular file for binary reading (not a directory, FIFO or device, which could be endless); Error
// "NAME: no such file", "not a regular file" or "cannot be opened" otherwise.
std::ifstream open_regular_file(const std::filesystem::path& path, const std::string& name);

// The readers' messages quote what a file holds (attnscope/quote.hpp).
using ::attnscope::printable;
using ::attnscope::quote;

}  // namespace attnscope::detail
