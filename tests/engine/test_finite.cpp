// all_finite (engine/src/finite.hpp), the check every result and checkpoint passes: it must agree with
// std::isfinite for every kind of float at every position, the vector loop's tail included.

#include <QTest>
#include <cmath>
#include <limits>
#include <vector>

#include "finite.hpp"

using namespace attnscope;

class TestFinite : public QObject {
  Q_OBJECT

 private slots:
  void finiteExtremesAreFinite() {
    const std::vector<float> values{0.0f,
                                    -0.0f,
                                    std::numeric_limits<float>::max(),
                                    std::numeric_limits<float>::lowest(),
                                    std::numeric_limits<float>::min(),
                                    std::numeric_limits<float>::denorm_min(),
                                    -std::numeric_limits<float>::denorm_min()};
    QVERIFY(all_finite(values));
    QVERIFY(all_finite(std::span<const float>{}));
  }

  void everyNonFiniteValueAtEveryPositionIsFound_data() {
    QTest::addColumn<float>("value");
    QTest::newRow("NaN") << std::numeric_limits<float>::quiet_NaN();
    QTest::newRow("-NaN") << -std::numeric_limits<float>::quiet_NaN();
    QTest::newRow("signalling NaN") << std::numeric_limits<float>::signaling_NaN();
    QTest::newRow("+Inf") << std::numeric_limits<float>::infinity();
    QTest::newRow("-Inf") << -std::numeric_limits<float>::infinity();
  }

  void everyNonFiniteValueAtEveryPositionIsFound() {
    QFETCH(float, value);
    for (std::size_t size = 1; size <= 67; ++size)
      for (std::size_t position = 0; position < size; ++position) {
        std::vector<float> values(size, std::numeric_limits<float>::max());
        values[position] = value;
        QVERIFY2(!all_finite(values), qPrintable(QStringLiteral("%1 of %2").arg(position).arg(size)));
      }
  }

  void rowsOutsideTheRangeAreNotRead() {
    Matrix matrix = Matrix::Ones(5, 3);
    matrix(0, 2) = std::numeric_limits<float>::quiet_NaN();
    matrix(4, 0) = std::numeric_limits<float>::infinity();
    QVERIFY(all_finite_rows(matrix, 1, 3));
    QVERIFY(!all_finite_rows(matrix, 0, 2));
    QVERIFY(!all_finite_rows(matrix, 3, 2));
    QVERIFY(!all_finite(matrix));
  }
};

QTEST_APPLESS_MAIN(TestFinite)
#include "test_finite.moc"
