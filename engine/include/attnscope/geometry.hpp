#pragma once
// Query/key geometry: every token's query and key of one head as points in a plane, so that a viewer can
// show which keys lie close to which queries (issue 21).

#include <array>
#include <optional>

#include "attnscope/matrix.hpp"

namespace attnscope {

// One head's queries and keys as 2-D points: row i of queries_2d is token i's query, row i of keys_2d its
// key.
//
// head_dim 2 (the chapter's d_out = 2 examples): the vectors themselves, and `explained` is empty.
//
// Any other head_dim: the 2n points (queries and keys together) centred on their mean m and projected on the
// first two principal components of that union, v1 and v2 (unit eigenvectors of the union's covariance,
// largest eigenvalue first): query i → ((q_i − m)·v1, (q_i − m)·v2), likewise each key. Sign: each v_c, a
// vector of head_dim loadings, is flipped so that its largest-magnitude loading (the first such index on an
// exact tie) is positive, so that the picture does not mirror from one edit to the next. explained = (λ1, λ2)
// / Σλ, the two components' shares of the union's total variance (independent of the covariance's 1/(2n) or
// 1/(2n − 1)). Special cases, none of which gives NaN:
//   - a component whose variance is at most 1e-12 of the total (its spread under a millionth of the cloud's,
//     rounding rather than shape: n = 1 beyond the first component, points on a line) gets coordinates 0 and
//     explained 0, so that a flat cloud draws on the axis instead of in noise;
//   - head_dim 1: the first coordinate is q_i − m (k_i − m), the second 0, explained (1, 0);
//   - zero variance (every query and key the same vector, e.g. n = 1 with q = k): every coordinate 0 and
//     explained (0, 0): there is no variance to share out.
// Where two eigenvalues are (nearly) equal the components within their plane are not unique (a round cloud
// has no preferred direction); the coordinates are then one valid choice.
struct HeadGeometry {
  Matrix queries_2d;                               // n × 2
  Matrix keys_2d;                                  // n × 2
  std::optional<std::array<double, 2>> explained;  // empty for head_dim 2
};

// `queries` and `keys` n × head_dim (a HeadResult's), n ≥ 1, head_dim ≥ 1, computed in double. Throws Error
// when the shapes differ or are empty, or when a value is NaN or infinite.
HeadGeometry head_geometry(const Matrix& queries, const Matrix& keys);

}  // namespace attnscope
