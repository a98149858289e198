#pragma once

#include <memory>
#include <vector>

#include "attnscope/matrix.hpp"
#include "attnscope/result.hpp"

namespace attnscope::ui {

// One model run's mean head weights Ā_l for every layer (mean_of_heads: what the rollout summary is made
// from), held in blocks of kBlockRows query rows that the snapshots of successive edits share: an edit makes
// only the blocks from its first changed row, where a set of n × n matrices was copied whole (50 MB per edit
// at 1,023 tokens). Under GPT-2's causal mask row i has no weight past key i, so a block stops at its last
// row's key.
class LayerMeans {
 public:
  static constexpr int kBlockRows = 64;

  LayerMeans(int layers, int tokens);

  int layers() const { return static_cast<int>(m_blocks.size()); }
  int tokens() const { return m_tokens; }

  // Layer `layer`'s means: the rows before firstRow are `earlier`'s (a run over the same tokens up to
  // there; null: none, firstRow is then 0), the others the mean of the heads' weights, summed in double
  // head by head as mean_of_heads does.
  void setLayer(int layer, const std::vector<HeadResult>& heads, int firstRow, const LayerMeans* earlier);

  // Ā_layer, n × n.
  Matrix matrix(int layer) const;
  // Ā_0 … Ā_lastLayer, as attention_rollout takes them.
  std::vector<Matrix> matrices(int lastLayer) const;

 private:
  int m_tokens = 0;
  std::vector<std::vector<std::shared_ptr<const Matrix>>> m_blocks;  // per layer, per block of rows
};

}  // namespace attnscope::ui
