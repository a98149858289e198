#include "attnscope/mask.hpp"

#include <string>

#include "attnscope/error.hpp"
#include "readers.hpp"

namespace attnscope {
namespace {

MaskMatrix read_mask_file(const std::string& path, Eigen::Index n) {
  const Matrix values = detail::read_csv(path);
  if (values.rows() < n || values.cols() < n)
    throw Error("mask file " + path + " is " + std::to_string(values.rows()) + "×" +
                std::to_string(values.cols()) + " but the text has " + std::to_string(n) +
                " tokens (it must be at least " + std::to_string(n) + "×" + std::to_string(n) + ")");
  MaskMatrix mask(n, n);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < n; ++j) {
      const float value = values(i, j);
      if (value != 0.0f && value != 1.0f)
        throw Error("mask file " + path + ": row " + std::to_string(i + 1) + ", column " +
                    std::to_string(j + 1) + " is " + std::to_string(value) +
                    " (expected 0 = visible or 1 = masked)");
      mask(i, j) = value == 1.0f ? 1 : 0;
    }
  return mask;
}

}  // namespace

MaskMatrix build_mask(const MaskSpec& spec, Eigen::Index n) {
  MaskMatrix mask = MaskMatrix::Zero(n, n);
  switch (spec.kind) {
    case MaskKind::none:
      break;
    case MaskKind::causal:
      for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = i + 1; j < n; ++j) mask(i, j) = 1;
      break;
    case MaskKind::window:
      if (spec.size < 1) throw Error("window mask needs W >= 1");
      for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < n; ++j) mask(i, j) = (j > i || j <= i - spec.size) ? 1 : 0;
      break;
    case MaskKind::prefix:
      if (spec.size < 0) throw Error("prefix mask needs P >= 0");
      for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < n; ++j) mask(i, j) = (j >= spec.size && j > i) ? 1 : 0;
      break;
    case MaskKind::file:
      mask = read_mask_file(spec.path, n);
      break;
  }
  return mask;
}

}  // namespace attnscope
