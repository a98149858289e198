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

inline QString golden_path(const char* name) {
  return QStringLiteral(ATTNSCOPE_GOLDEN_DIR "/") + name;
}

// A JSON array of arrays of numbers; null cells (masked scores) become NaN so a comparison can skip them.
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

}  // namespace attnscope::testing
