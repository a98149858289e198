#pragma once
// Helpers shared by the Qt Test suites: reading golden JSON into matrices and comparing with a tolerance.

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>
#include <QTest>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <type_traits>

#include "attnscope/error.hpp"
#include "attnscope/gpt2.hpp"
#include "attnscope/matrix.hpp"

namespace attnscope::testing {

inline QJsonObject read_json_object(const QString& path) {
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly)) qFatal("cannot open %s", qPrintable(path));
  QJsonParseError error;
  const QJsonDocument document = QJsonDocument::fromJson(file.readAll(), &error);
  if (error.error != QJsonParseError::NoError)
    qFatal("%s: %s", qPrintable(path), qPrintable(error.errorString()));
  return document.object();
}

// Writes `contents` to DIRECTORY/NAME (replacing it) and returns the file's path; stops the suite when it
// cannot.
inline QString write_test_file(const QDir& directory, const QString& name, const QByteArray& contents) {
  QFile file(directory.filePath(name));
  if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
    qFatal("cannot write %s", qPrintable(file.fileName()));
  file.write(contents);
  return file.fileName();
}

// The message of the attnscope::Error that `action` throws; empty when it throws none.
inline std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return {};
}

inline QString golden_path(const char* name) {
  return QStringLiteral(ATTNSCOPE_GOLDEN_DIR "/") + name;
}

// A JSON array of arrays of numbers; null cells (masked scores) become NaN so a comparison can skip them.
// A GPT-2 config as the golden scripts write it (config.json's fields).
inline Gpt2Config gpt2_config_of(const QJsonObject& json) {
  Gpt2Config config;
  config.vocab_size = json["vocab_size"].toInt();
  config.n_positions = json["n_positions"].toInt();
  config.n_embd = json["n_embd"].toInt();
  config.n_layer = json["n_layer"].toInt();
  config.n_head = json["n_head"].toInt();
  config.n_inner = json["n_inner"].isNull() ? 0 : json["n_inner"].toInt();
  config.layer_norm_epsilon = json["layer_norm_epsilon"].toDouble();
  return config;
}

inline Matrix to_matrix(const QJsonValue& value) {
  const QJsonArray rows = value.toArray();
  const Eigen::Index cols = rows.isEmpty() ? 0 : rows.first().toArray().size();
  Matrix matrix(rows.size(), cols);
  for (Eigen::Index i = 0; i < matrix.rows(); ++i) {
    const QJsonArray row = rows[static_cast<int>(i)].toArray();
    for (Eigen::Index j = 0; j < cols; ++j) {
      const QJsonValue cell = row[static_cast<int>(j)];
      matrix(i, j) = cell.isNull() ? std::nanf("") : static_cast<float>(cell.toDouble());
    }
  }
  return matrix;
}

inline Matrix to_row(const QJsonValue& value) {
  QJsonArray wrapped;
  wrapped.append(value);
  return to_matrix(wrapped);
}

// Largest |actual − expected| / (|expected| + floor) over the cells where expected is not NaN; reports the
// worst cell. `floor` keeps cells near zero from demanding impossible relative accuracy.
struct Comparison {
  double worst = 0.0;
  Eigen::Index row = -1, col = -1;
  float actual = 0, expected = 0;
  bool shape_ok = true;
};

// With `absolute` the error is |actual − expected| alone.
inline Comparison compare(const Matrix& actual, const Matrix& expected, double floor, bool absolute = false) {
  Comparison result;
  if (actual.rows() != expected.rows() || actual.cols() != expected.cols()) {
    result.shape_ok = false;
    return result;
  }
  for (Eigen::Index i = 0; i < expected.rows(); ++i)
    for (Eigen::Index j = 0; j < expected.cols(); ++j) {
      if (std::isnan(expected(i, j))) continue;
      const double difference = std::abs(double(actual(i, j)) - double(expected(i, j)));
      const double error = absolute ? difference : difference / (std::abs(double(expected(i, j))) + floor);
      if (!(error <= result.worst)) {
        result = Comparison{error, i, j, actual(i, j), expected(i, j), true};
        if (std::isnan(error)) return result;
      }
    }
  return result;
}

// QVERIFY-style check: fails the current test with the worst cell when the relative error exceeds
// `tolerance`.
#define ATTNSCOPE_COMPARE_MATRIX(actual_m, expected_m, tolerance, floor, what)                           \
  ATTNSCOPE_CHECK_COMPARISON(::attnscope::testing::compare((actual_m), (expected_m), (floor)), actual_m, \
                             expected_m, tolerance, what)
// Within `tolerance` absolutely, e.g. 5e-5 for "equal to 4 decimals as printed".
#define ATTNSCOPE_COMPARE_DECIMALS(actual_m, expected_m, tolerance, what)                                  \
  ATTNSCOPE_CHECK_COMPARISON(::attnscope::testing::compare((actual_m), (expected_m), 0.0, true), actual_m, \
                             expected_m, tolerance, what)
#define ATTNSCOPE_CHECK_COMPARISON(comparison, actual_m, expected_m, tolerance, what)         \
  do {                                                                                        \
    const auto comparison_ = (comparison);                                                    \
    if (!comparison_.shape_ok)                                                                \
      QFAIL(qPrintable(QStringLiteral("%1: shape %2×%3, expected %4×%5")                      \
                           .arg(what)                                                         \
                           .arg((actual_m).rows())                                            \
                           .arg((actual_m).cols())                                            \
                           .arg((expected_m).rows())                                          \
                           .arg((expected_m).cols())));                                       \
    if (!(comparison_.worst <= (tolerance)))                                                  \
      QFAIL(qPrintable(QStringLiteral("%1: cell (%2, %3) is %4, expected %5 (error %6 > %7)") \
                           .arg(what)                                                         \
                           .arg(comparison_.row)                                              \
                           .arg(comparison_.col)                                              \
                           .arg(double(comparison_.actual), 0, 'g', 9)                        \
                           .arg(double(comparison_.expected), 0, 'g', 9)                      \
                           .arg(comparison_.worst)                                            \
                           .arg(double(tolerance))));                                         \
  } while (false)

// ----------------------------------------------------------------------------------------------------------
// Exact comparison. QCOMPARE on two Eigen matrices uses their operator==, which compares no shapes in Release
// builds (an empty matrix can compare equal to a full one); ATTNSCOPE_COMPARE_EXACT checks the shape and then
// every cell's bits (so −0 differs from +0, and NaN equals only a NaN with the same bits).

struct ExactComparison {
  Eigen::Index actual_rows = 0, actual_cols = 0, expected_rows = 0, expected_cols = 0;
  bool shape_ok = true;
  Eigen::Index row = -1, col = -1;  // the first cell (row by row) whose bits differ; -1 when none
  double actual = 0, expected = 0;
};

template <typename Actual, typename Expected>
ExactComparison compare_exact(const Eigen::MatrixBase<Actual>& actual_expression,
                              const Eigen::MatrixBase<Expected>& expected_expression) {
  static_assert(std::is_same_v<typename Actual::Scalar, typename Expected::Scalar>,
                "compare matrices of the same scalar type");
  using Scalar = typename Actual::Scalar;
  // Evaluated once: an argument may be a draw from a generator.
  const typename Actual::PlainObject actual = actual_expression;
  const typename Expected::PlainObject expected = expected_expression;
  ExactComparison result;
  result.actual_rows = actual.rows();
  result.actual_cols = actual.cols();
  result.expected_rows = expected.rows();
  result.expected_cols = expected.cols();
  result.shape_ok = actual.rows() == expected.rows() && actual.cols() == expected.cols();
  if (!result.shape_ok) return result;
  for (Eigen::Index i = 0; i < expected.rows(); ++i)
    for (Eigen::Index j = 0; j < expected.cols(); ++j) {
      const Scalar a = actual(i, j), e = expected(i, j);
      if (std::memcmp(&a, &e, sizeof(Scalar)) != 0) {
        result.row = i;
        result.col = j;
        result.actual = double(a);
        result.expected = double(e);
        return result;
      }
    }
  return result;
}

// Fails the current test unless `actual_m` has the shape of `expected_m` and the same bits in every cell.
#define ATTNSCOPE_COMPARE_EXACT(actual_m, expected_m, what)                                           \
  do {                                                                                                \
    const auto exact_ = ::attnscope::testing::compare_exact((actual_m), (expected_m));                \
    if (!exact_.shape_ok)                                                                             \
      QFAIL(qPrintable(QStringLiteral("%1: shape %2×%3, expected %4×%5")                              \
                           .arg(what)                                                                 \
                           .arg(exact_.actual_rows)                                                   \
                           .arg(exact_.actual_cols)                                                   \
                           .arg(exact_.expected_rows)                                                 \
                           .arg(exact_.expected_cols)));                                              \
    if (exact_.row >= 0)                                                                              \
      QFAIL(qPrintable(QStringLiteral("%1: cell (%2, %3) is %4, expected %5 (not bit for bit equal)") \
                           .arg(what)                                                                 \
                           .arg(exact_.row)                                                           \
                           .arg(exact_.col)                                                           \
                           .arg(exact_.actual, 0, 'g', 17)                                            \
                           .arg(exact_.expected, 0, 'g', 17)));                                       \
  } while (false)

}  // namespace attnscope::testing
