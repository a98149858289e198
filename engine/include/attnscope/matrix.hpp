#pragma once
// Dense matrices used across the API: float32, row-major, as PyTorch lays out a 2-D tensor.

#include <Eigen/Core>
#include <cstdint>

namespace attnscope {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::Matrix<float, 1, Eigen::Dynamic, Eigen::RowMajor>;
// n_queries × n_keys; 1 = the key is hidden from the query (its score becomes −∞ before softmax).
using MaskMatrix = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace attnscope
