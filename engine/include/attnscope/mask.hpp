#pragma once
// Builds the n × n mask a MaskSpec describes.

#include "attnscope/config.hpp"
#include "attnscope/matrix.hpp"

namespace attnscope {

// For file masks the file holds whitespace- or comma-separated 0/1 values, one row per query, and must be at
// least n × n (the top-left n × n block is used, as the book slices its context-length mask). Throws Error.
MaskMatrix build_mask(const MaskSpec& spec, Eigen::Index n);

}  // namespace attnscope
