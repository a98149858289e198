// Query/key geometry against an independent NumPy oracle (tests/golden/geometry.json, made by
// tests/golden/make_geometry_golden.py through the SVD from PyTorch's queries and keys in mechanisms.json and
// from its own inputs), signs included, and its errors.

#include <QTest>
#include <cmath>
#include <limits>
#include <map>

#include "../support/test_support.hpp"
#include "attnscope/error.hpp"
#include "attnscope/geometry.hpp"

using namespace attnscope;
using namespace attnscope::testing;

namespace {

// float32 coordinates of double computations: within 1e-5 of the oracle, relative to the cloud's size when
// that is larger than 1.
constexpr double kTolerance = 1e-5;

void compare_points(const Matrix& actual, const QJsonValue& expected, const QString& what) {
  const QJsonArray rows = expected.toArray();
  QCOMPARE(actual.rows(), Eigen::Index(rows.size()));
  QCOMPARE(actual.cols(), Eigen::Index(2));
  double scale = 1.0;
  for (const auto& row : rows)
    for (const auto& cell : row.toArray()) scale = std::max(scale, std::abs(cell.toDouble()));
  for (Eigen::Index i = 0; i < actual.rows(); ++i)
    for (Eigen::Index c = 0; c < 2; ++c) {
      const double want = rows[i].toArray()[c].toDouble();
      QVERIFY2(std::isfinite(actual(i, c)) && std::abs(actual(i, c) - want) <= kTolerance * scale,
               qPrintable(QStringLiteral("%1 row %2 coordinate %3: %4, expected %5")
                              .arg(what)
                              .arg(i)
                              .arg(c)
                              .arg(actual(i, c), 0, 'g', 9)
                              .arg(want, 0, 'g', 9)));
    }
}

void compare_geometry(const HeadGeometry& actual, const QJsonObject& expected, const QString& what) {
  compare_points(actual.queries_2d, expected["queries_2d"], what + " queries");
  compare_points(actual.keys_2d, expected["keys_2d"], what + " keys");
  const QJsonValue explained = expected["explained"];
  QVERIFY2(explained.isNull() == !actual.explained.has_value(), qPrintable(what + " explained"));
  if (!actual.explained) return;
  for (int c = 0; c < 2; ++c) {
    const double want = explained.toArray()[c].toDouble(), got = (*actual.explained)[std::size_t(c)];
    QVERIFY2(
        std::abs(got - want) <= kTolerance,
        qPrintable(QStringLiteral("%1 explained[%2]: %3, expected %4").arg(what).arg(c).arg(got).arg(want)));
  }
}

}  // namespace

class TestGeometry : public QObject {
  Q_OBJECT

  QJsonObject m_oracle;

 private slots:
  void initTestCase() { m_oracle = read_json_object(golden_path("geometry.json")); }

  void mechanismsMatchNumPy() {
    std::map<QString, QJsonObject> cases;
    for (const auto& value : read_json_object(golden_path("mechanisms.json"))["cases"].toArray())
      cases[value.toObject()["name"].toString()] = value.toObject();
    const QJsonArray expected = m_oracle["mechanisms"].toArray();
    QVERIFY(expected.size() >= 10);
    for (const auto& entry : expected) {
      const QJsonObject oracle = entry.toObject();
      const QString name = oracle["case"].toString();
      QVERIFY2(cases.count(name), qPrintable(name));
      const QJsonArray heads = cases[name]["expected"].toObject()["heads"].toArray();
      for (const auto& value : oracle["heads"].toArray()) {
        const QJsonObject head = value.toObject();
        const QJsonObject input = heads[head["head"].toInt()].toObject();
        compare_geometry(head_geometry(to_matrix(input["queries"]), to_matrix(input["keys"])), head,
                         name + QStringLiteral(" head %1").arg(head["head"].toInt()));
      }
    }
  }

  void syntheticMatchNumPy() {
    const QJsonArray expected = m_oracle["synthetic"].toArray();
    QVERIFY(expected.size() >= 15);
    for (const auto& entry : expected) {
      const QJsonObject oracle = entry.toObject();
      compare_geometry(head_geometry(to_matrix(oracle["queries"]), to_matrix(oracle["keys"])), oracle,
                       oracle["name"].toString());
    }
  }

  void headDim2IsTheVectorsThemselves() {
    Matrix q(3, 2), k(3, 2);
    q << 1, 2, -3, 4.5f, 0, 1e-7f;
    k << 7, 8, 9, -10, 11, 12;
    const HeadGeometry geometry = head_geometry(q, k);
    QVERIFY(geometry.queries_2d == q && geometry.keys_2d == k);
    QVERIFY(!geometry.explained);
  }

  void zeroVarianceIsZerosNotNaN() {
    const Matrix same = Matrix::Constant(4, 5, 0.3f);
    const HeadGeometry geometry = head_geometry(same, same);
    QVERIFY(geometry.queries_2d.isZero(0) && geometry.keys_2d.isZero(0));
    QVERIFY(geometry.explained && (*geometry.explained)[0] == 0.0 && (*geometry.explained)[1] == 0.0);
  }

  void headDim1HasASecondCoordinateOfZero() {
    Matrix q(2, 1), k(2, 1);
    q << 1, 2;
    k << 3, 6;
    const HeadGeometry geometry = head_geometry(q, k);  // mean 3
    Matrix expected_q(2, 2), expected_k(2, 2);
    expected_q << -2, 0, -1, 0;
    expected_k << 0, 0, 3, 0;
    QVERIFY(geometry.queries_2d == expected_q && geometry.keys_2d == expected_k);
    QCOMPARE((*geometry.explained)[0], 1.0);
    QCOMPARE((*geometry.explained)[1], 0.0);
  }

  void mirroredInputsGiveTheSamePicture() {
    // Negating every vector keeps the covariance, so the signed components stay and the points mirror
    // through the origin: the sign rule, not the solver, picks the orientation.
    const QJsonObject oracle = m_oracle["synthetic"].toArray()[7].toObject();  // d64-n6
    QCOMPARE(oracle["name"].toString(), QString("d64-n6"));
    const Matrix q = to_matrix(oracle["queries"]), k = to_matrix(oracle["keys"]);
    const HeadGeometry plain = head_geometry(q, k), mirrored = head_geometry(-q, -k);
    QVERIFY((plain.queries_2d + mirrored.queries_2d).cwiseAbs().maxCoeff() < 1e-4f);
    QVERIFY((plain.keys_2d + mirrored.keys_2d).cwiseAbs().maxCoeff() < 1e-4f);
  }

  void errorsSayWhatIsWrong() {
    Matrix nan = Matrix::Zero(3, 4);
    nan(2, 1) = std::numeric_limits<float>::quiet_NaN();
    Matrix infinite = Matrix::Zero(3, 4);
    infinite(0, 3) = std::numeric_limits<float>::infinity();
    const Matrix zeros = Matrix::Zero(3, 4);
    const struct {
      Matrix queries, keys;
      const char* message;
    } cases[] = {
        {zeros, Matrix::Zero(2, 4), "the queries are 3 × 4 but the keys 2 × 4"},
        {zeros, Matrix::Zero(3, 2), "the queries are 3 × 4 but the keys 3 × 2"},
        {Matrix::Zero(0, 4), Matrix::Zero(0, 4), "at least one token"},
        {Matrix::Zero(3, 0), Matrix::Zero(3, 0), "head_dim at least 1"},
        {nan, zeros, "query 2 holds a NaN or an infinity"},
        {zeros, infinite, "key 0 holds a NaN or an infinity"},
        {nan.leftCols(2), zeros.leftCols(2), "query 2 holds a NaN"},
    };
    for (const auto& c : cases) {
      const std::string error = error_of([&] { head_geometry(c.queries, c.keys); });
      QVERIFY2(error.find(c.message) != std::string::npos, (error + " — expected " + c.message).c_str());
    }
  }
};

QTEST_GUILESS_MAIN(TestGeometry)
#include "test_geometry.moc"
