#pragma once
// Products whose every cell is one chain of fused multiply-adds in the order k = 0, 1, …: a cell's bits
// depend on its own row and column alone, not on which other rows or columns are computed with it, nor on how
// the work is tiled. That lets a model recompute only the rows an edit changed and still get a fresh run's
// bits, which Eigen's product does not promise (its kernels depend on the product's shape).

#include <Eigen/Core>

namespace attnscope::cpu {

namespace packet = Eigen::internal;
using ProductPacket = packet::packet_traits<float>::type;
constexpr Eigen::Index kLanes = packet::packet_traits<float>::size;
// The register tile: 8 rows × 3 packets of accumulators with AVX-512's 32 registers, 6 × 2 with 16 (12
// accumulators, two packets of w and a broadcast: on the AVX2 VM, 1,024 × 64 by 64 × 1,024 products took
// 34 ms a dozen where 4 × 2 took 50 ms). The tile's shape never changes a cell's bits.
constexpr int kTileRows = kLanes >= 16 ? 8 : 6;
constexpr int kTilePackets = kLanes >= 16 ? 3 : 2;
constexpr Eigen::Index kTileColumns = kTilePackets * kLanes;

// out[r][0, V·kLanes) (+)= Σ_k x[r][k] · w[k][0, V·kLanes) for R rows and `depth` values of k, the sums in
// registers, starting from out's values when `accumulate` and from 0 otherwise.
template <int R, int V>
void product_tile(const float* x, Eigen::Index x_stride, const float* w, Eigen::Index w_stride,
                  Eigen::Index depth, float* out, Eigen::Index out_stride, bool accumulate) {
  ProductPacket sum[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v)
      sum[r][v] = accumulate ? packet::ploadu<ProductPacket>(out + r * out_stride + v * kLanes)
                             : packet::pset1<ProductPacket>(0.0f);
  for (Eigen::Index k = 0; k < depth; ++k) {
    const float* w_row = w + k * w_stride;
    ProductPacket w_packets[V];
    for (int v = 0; v < V; ++v) w_packets[v] = packet::ploadu<ProductPacket>(w_row + v * kLanes);
    for (int r = 0; r < R; ++r) {
      const ProductPacket x_value = packet::pset1<ProductPacket>(x[r * x_stride + k]);
      for (int v = 0; v < V; ++v) sum[r][v] = packet::pmadd(x_value, w_packets[v], sum[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) packet::pstoreu(out + r * out_stride + v * kLanes, sum[r][v]);
}

// product_tile for the last `rows` (< kTileRows) rows.
template <int V, int R = 1>
void product_last_rows(int rows, const float* x, Eigen::Index x_stride, const float* w, Eigen::Index w_stride,
                       Eigen::Index depth, float* out, Eigen::Index out_stride, bool accumulate) {
  if constexpr (R < kTileRows) {
    if (rows == R) return product_tile<R, V>(x, x_stride, w, w_stride, depth, out, out_stride, accumulate);
    product_last_rows<V, R + 1>(rows, x, x_stride, w, w_stride, depth, out, out_stride, accumulate);
  }
}

// product_tile over `rows` rows of x and out, for the V·kLanes columns of w and out they start at.
template <int V>
void product_columns(const float* x, Eigen::Index x_stride, Eigen::Index rows, const float* w,
                     Eigen::Index w_stride, Eigen::Index depth, float* out, Eigen::Index out_stride,
                     bool accumulate) {
  Eigen::Index r = 0;
  for (; r + kTileRows <= rows; r += kTileRows)
    product_tile<kTileRows, V>(x + r * x_stride, x_stride, w, w_stride, depth, out + r * out_stride,
                               out_stride, accumulate);
  if (r < rows)
    product_last_rows<V>(static_cast<int>(rows - r), x + r * x_stride, x_stride, w, w_stride, depth,
                         out + r * out_stride, out_stride, accumulate);
}

// out[r][c] = Σ_k x[r][k] · w[k][c] for r < rows, c < columns and k < depth, row-major operands given by
// their first cell and row stride. `columns` must be a multiple of kLanes: callers pad w (and out) with
// columns of zeros, so that no cell goes through a scalar path whose rounding (without FMA instructions)
// could differ.
inline void ordered_product(const float* x, Eigen::Index x_stride, Eigen::Index rows, const float* w,
                            Eigen::Index w_stride, Eigen::Index depth, Eigen::Index columns, float* out,
                            Eigen::Index out_stride) {
  eigen_assert(columns % kLanes == 0);
  Eigen::Index column = 0;
  // Column tiles outside, so that a tile's slice of w stays in cache while every row passes through it.
  for (; column + kTileColumns <= columns; column += kTileColumns)
    product_columns<kTilePackets>(x, x_stride, rows, w + column, w_stride, depth, out + column, out_stride,
                                  false);
  for (; column < columns; column += kLanes)
    product_columns<1>(x, x_stride, rows, w + column, w_stride, depth, out + column, out_stride, false);
}

// n rounded up to whole packets.
constexpr Eigen::Index whole_packets(Eigen::Index n) {
  return (n + kLanes - 1) / kLanes * kLanes;
}

}  // namespace attnscope::cpu
