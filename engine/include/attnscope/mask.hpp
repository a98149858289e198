#pragma once
// Builds the n × n mask a MaskSpec describes.

#include "attnscope/config.hpp"
#include "attnscope/matrix.hpp"

namespace attnscope {

// For file masks the file holds whitespace- or comma-separated 0/1 values, one row per query, and must be at
// least n × n (the top-left n × n block is used, as the book slices its context-length mask). Throws Error.
MaskMatrix build_mask(const MaskSpec& spec, Eigen::Index n);

// Whether any cell of `mask` is hidden. Eigen's any() tests a byte at a time: 2 ms for a 1,024-token mask
// with nothing hidden, on every edit; this or-reduces whole words.
bool any_hidden(const MaskMatrix& mask);

}  // namespace attnscope
