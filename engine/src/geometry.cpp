#include "attnscope/geometry.hpp"

#include <Eigen/Eigenvalues>
#include <string>

#include "attnscope/error.hpp"
#include "finite.hpp"

namespace attnscope {

namespace {

// Components whose share of the variance is at most this are rounding, not shape (header).
constexpr double kFlatShare = 1e-12;

std::string shape(const Matrix& matrix) {
  return std::to_string(matrix.rows()) + " × " + std::to_string(matrix.cols());
}

void check_finite(const Matrix& matrix, const char* what) {
  for (Eigen::Index i = 0; i < matrix.rows(); ++i)
    if (!all_finite_rows(matrix, i, 1))
      throw Error(std::string("head geometry: ") + what + " " + std::to_string(i) +
                  " holds a NaN or an infinity: the head's projections overflowed or the weights are broken");
}

}  // namespace

HeadGeometry head_geometry(const Matrix& queries, const Matrix& keys) {
  if (queries.rows() != keys.rows() || queries.cols() != keys.cols())
    throw Error("head geometry: the queries are " + shape(queries) + " but the keys " + shape(keys) +
                ": both must be n × head_dim of the same head");
  if (queries.rows() == 0 || queries.cols() == 0)
    throw Error("head geometry: the queries are " + shape(queries) +
                ": there must be at least one token and head_dim at least 1");
  check_finite(queries, "query");
  check_finite(keys, "key");

  const Eigen::Index n = queries.rows(), dim = queries.cols();
  if (dim == 2) return {queries, keys, std::nullopt};

  // Double throughout: a float32 value squared cannot overflow a double, and 2n copies of one float32 value
  // sum exactly (2n·x needs fewer than 53 bits), so identical points centre to exactly 0.
  Eigen::MatrixXd points(2 * n, dim);
  points << queries.cast<double>(), keys.cast<double>();
  const Eigen::RowVectorXd mean = points.colwise().mean();
  points.rowwise() -= mean;
  const Eigen::MatrixXd covariance = points.transpose() * points / static_cast<double>(2 * n);
  const double total = covariance.trace();

  HeadGeometry geometry{Matrix::Zero(n, 2), Matrix::Zero(n, 2), std::array<double, 2>{0.0, 0.0}};
  if (total == 0.0) return geometry;

  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(covariance);
  if (solver.info() != Eigen::Success)
    throw Error("head geometry: the eigen-decomposition of the " + std::to_string(dim) + " × " +
                std::to_string(dim) + " covariance did not converge");
  for (Eigen::Index c = 0; c < std::min<Eigen::Index>(2, dim); ++c) {
    const Eigen::Index column = dim - 1 - c;  // eigenvalues come in increasing order
    const double share = std::max(0.0, solver.eigenvalues()(column)) / total;
    if (share <= kFlatShare) continue;
    Eigen::VectorXd component = solver.eigenvectors().col(column);
    Eigen::Index largest = 0;
    component.cwiseAbs().maxCoeff(&largest);  // the first index on an exact tie
    if (component(largest) < 0) component = -component;
    const Eigen::VectorXd coordinates = points * component;
    geometry.queries_2d.col(c) = coordinates.head(n).cast<float>();
    geometry.keys_2d.col(c) = coordinates.tail(n).cast<float>();
    (*geometry.explained)[static_cast<std::size_t>(c)] = share;
  }
  return geometry;
}

}  // namespace attnscope
