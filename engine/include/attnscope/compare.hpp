#pragma once
// Compare: how two texts' attention differs, head by head, under the same settings (issue 21).

#include <vector>

#include "attnscope/gpt2.hpp"
#include "attnscope/matrix.hpp"
#include "attnscope/result.hpp"

namespace attnscope {

// One head's attention weights for input A against the same head's for input B, A with n_A tokens and B
// with n_B. Positions align: query i and key j of A face query i and key j of B, over the common top-left
// block of m = min(n_A, n_B) rows and columns; A's or B's rows and keys beyond m are not compared.
//
//   weights_diff = A[0:m, 0:m] − B[0:m, 0:m]   (m × m, the weights before dropout, as each result stores
//                                                them)
//   total_variation = (1/m) · Σ_{i<m} ½ · Σ_{j<m} |A_ij − B_ij|
//
// Every one of the m aligned rows counts in the mean, whatever the masks hide:
//   - a masked cell has weight exactly 0 in the result that hides it; two results of the same settings hide
//     the same cells of the aligned block (a mask file's top-left corner, as the book slices its
//     context-length mask), so a masked cell contributes 0;
//   - a row whose every key is hidden (a mask file can do that) is all zero, as the engine stores it (see
//     AttentionResult::empty_rows): a row empty in both contributes 0 and still counts among the m, so that
//     total_variation stays the mean over the same rows whatever the mask; a row empty in only one (possible
//     only under different masks) contributes half the other's weights over the keys j < m.
// It is 0 exactly when the aligned blocks are equal. With softmax weights (non-negative, a row's summing to
// at most 1 over the keys j < m) each row's term, and so total_variation, lies in [0, 1]; the chapter's sum
// normalisation can give negative weights, and then larger values. Where both texts have m tokens and every
// row sees a key, it is the mean total variation distance between the two rows' distributions; where one
// text is longer, its aligned rows may also weigh keys beyond m (without a causal mask), which the block
// leaves out.
struct HeadComparison {
  int layer = 0;  // 0 for the chapter-3 mechanisms
  int head = 0;
  Matrix weights_diff;           // m × m, A − B, in float32 as the weights are
  double total_variation = 0.0;  // computed in double from the float32 weights
};

// `a` n_A × n_A, `b` n_B × n_B, both at least 1 × 1 and finite. Throws Error naming the problem (a matrix
// that is empty, not square, or holds NaN or ±∞).
HeadComparison compare_weights(const Matrix& a, const Matrix& b);

// Head h of `a` against head h of `b`, for every head, each labelled (layer, h). Throws Error when the head
// counts differ, or as compare_weights.
std::vector<HeadComparison> compare_heads(const AttentionResult& a, const AttentionResult& b, int layer = 0);

// Every kept layer of two GPT-2 runs (the same model and layers, different texts), layer by layer in their
// order, each layer's heads labelled with its index. Throws Error when the runs kept different layers, or as
// compare_heads.
std::vector<HeadComparison> compare_layers(const Gpt2Result& a, const Gpt2Result& b);

}  // namespace attnscope
