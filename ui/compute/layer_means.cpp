#include "compute/layer_means.hpp"

#include <algorithm>

namespace attnscope::ui {

LayerMeans::LayerMeans(int layers, int tokens)
    : m_tokens(tokens),
      m_blocks(static_cast<std::size_t>(layers),
               std::vector<std::shared_ptr<const Matrix>>(
                   static_cast<std::size_t>((tokens + kBlockRows - 1) / kBlockRows))) {}

void LayerMeans::setLayer(int layer, const std::vector<HeadResult>& heads, int firstRow,
                          const LayerMeans* earlier) {
  if (!earlier) firstRow = 0;
  auto& blocks = m_blocks[static_cast<std::size_t>(layer)];
  const std::vector<std::shared_ptr<const Matrix>>* before =
      earlier ? &earlier->m_blocks[static_cast<std::size_t>(layer)] : nullptr;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    const int rowBegin = static_cast<int>(b) * kBlockRows;
    const int rowEnd = std::min(m_tokens, rowBegin + kBlockRows);
    // A whole block before the change: the earlier run's, as it is.
    if (rowEnd <= firstRow && before && b < before->size() && (*before)[b] &&
        (*before)[b]->rows() == rowEnd - rowBegin && (*before)[b]->cols() == rowEnd) {
      blocks[b] = (*before)[b];
      continue;
    }
    auto block = std::make_shared<Matrix>(rowEnd - rowBegin, rowEnd);
    const int copied = std::clamp(firstRow - rowBegin, 0, rowEnd - rowBegin);
    if (copied > 0) {
      const Matrix& from = *(*before)[b];
      const Eigen::Index keys = std::min(from.cols(), block->cols());
      block->topLeftCorner(copied, keys) = from.topLeftCorner(copied, keys);
      block->topRightCorner(copied, block->cols() - keys).setZero();
    }
    const int computed = rowEnd - rowBegin - copied;
    if (computed > 0) {
      // Row-major as the weights, so that the sums read them in order.
      Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> sum =
          heads.front().weights.block(rowBegin + copied, 0, computed, rowEnd).cast<double>();
      for (std::size_t h = 1; h < heads.size(); ++h)
        sum += heads[h].weights.block(rowBegin + copied, 0, computed, rowEnd).cast<double>();
      block->bottomRows(computed) = (sum / static_cast<double>(heads.size())).cast<float>();
    }
    blocks[b] = std::move(block);
  }
}

Matrix LayerMeans::matrix(int layer) const {
  Matrix means = Matrix::Zero(m_tokens, m_tokens);
  const auto& blocks = m_blocks[static_cast<std::size_t>(layer)];
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    const Matrix& block = *blocks[b];
    means.block(static_cast<Eigen::Index>(b) * kBlockRows, 0, block.rows(), block.cols()) = block;
  }
  return means;
}

std::vector<Matrix> LayerMeans::matrices(int lastLayer) const {
  std::vector<Matrix> means;
  for (int layer = 0; layer <= lastLayer; ++layer) means.push_back(matrix(layer));
  return means;
}

}  // namespace attnscope::ui
