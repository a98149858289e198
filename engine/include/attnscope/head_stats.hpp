#pragma once
// Numbers that tell heads apart without looking at every map: how focused a head is, where its weight
// goes (the first token, the query itself, the previous token), how attention flows through a model's
// layers (rollout), and which heads link one query to one key (the probe).

#include <cstdint>
#include <optional>
#include <vector>

#include "attnscope/matrix.hpp"
#include "attnscope/result.hpp"

namespace attnscope {

// One head's statistics, from its weights before dropout, over the query rows that see at least one key
// (a row whose every key is hidden is left out). For row i with visible keys V_i and entropy
// H_i = −Σ_{j∈V_i} w_ij·log2 w_ij (0·log 0 = 0). Each is a mean over those rows, and empty when no row
// counts.
struct HeadStats {
  std::optional<double> entropy_bits;        // mean H_i
  std::optional<double> normalized_entropy;  // mean H_i / log2|V_i| over rows with |V_i| ≥ 2
  std::optional<double> effective_keys;      // mean 2^H_i
  std::optional<double> max_weight;          // mean max_j w_ij
  std::optional<double> first_token;         // mean w_i0: the share parked on the first token
  std::optional<double> self;                // mean w_ii
  std::optional<double> previous_token;      // mean w_i,i−1 over rows i ≥ 1
};

// `weights` is n × n with hidden cells 0, `mask` n × n with 1 for a hidden cell. Throws Error when the
// shapes differ or are not square.
HeadStats head_stats(const Matrix& weights, const MaskMatrix& mask);

// The terms of one query row (HeadRowStats), so that a viewer can keep them and recompute only the rows an
// edit changed: head_stats(rows) over the rows of head_row_stats(weights, mask, 0, …) is head_stats(weights,
// mask) bit for bit. Each row's terms are summed in an order fixed by the row's visible span alone, so they
// do not depend on where the row lies in memory.
// Fills rows[i] for i in [row_begin, n) (rows is resized to n; the rows before row_begin are left as they
// are and weights' rows before row_begin are not read). Throws Error as head_stats.
void head_row_stats(const Matrix& weights, const MaskMatrix& mask, Eigen::Index row_begin,
                    std::vector<HeadRowStats>& rows);
// Row `row`'s terms from `weights`, its weights for the keys [key_begin, key_end) (every weight outside that
// span is 0, as every hidden one is), and `hidden`, its n mask bytes (1 = hidden).
HeadRowStats head_row_stats(const float* weights, Eigen::Index key_begin, Eigen::Index key_end,
                            const std::uint8_t* hidden, Eigen::Index n, Eigen::Index row);
HeadStats head_stats(const std::vector<HeadRowStats>& rows);
// Every head of `result`, from its weights before dropout (from HeadResult::row_stats where the backend
// computed them), the heads spread over the CPU's threads.
std::vector<HeadStats> head_stats(const AttentionResult& result);

// Attention rollout (Abnar & Zuidema, 2020) from each layer's mean head weights Ā_l (n × n, in layer order):
// Ã_l = 0.5·Ā_l + 0.5·I with each row renormalised to sum 1, R_0 = Ã_0 and R_l = Ã_l · R_{l−1}. Returns R_l
// for every layer. Throws Error when the matrices are not all n × n.
std::vector<Matrix> attention_rollout(const std::vector<Matrix>& layer_mean_weights);
// R_layer alone, from the first layer + 1 matrices (the same numbers as attention_rollout's). Throws Error
// as attention_rollout, or when there are not that many.
Matrix attention_rollout(const std::vector<Matrix>& layer_mean_weights, std::size_t layer);

// The mean of a layer's head weights, the Ā_l that attention_rollout takes.
Matrix mean_of_heads(const std::vector<const Matrix*>& head_weights);

// One head's answer to "how much does query q attend to key k".
struct ProbeHit {
  int layer = 0;  // 0 for the chapter-3 mechanisms
  int head = 0;
  float weight = 0.0f;  // w_qk
  int rank = 1;         // 1 + the number of keys with a strictly larger weight in row q
};

// One head's row of weights for the probed query.
struct ProbedRow {
  int layer = 0;
  int head = 0;
  Vector weights;  // w_q·, over every key
};

// Every head's weight from the probed query to `key`, sorted by weight (largest first), then layer, then
// head. Throws Error naming the key when it is outside 0…n−1.
std::vector<ProbeHit> probe(const std::vector<ProbedRow>& rows, Eigen::Index key);

}  // namespace attnscope
