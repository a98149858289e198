// The colour maps: viridis and the diverging map from their published control points, scores centred on 0,
// and a masked-cell style that no colour of any map can be mistaken for.

#include <QTest>
#include <cmath>
#include <limits>

#include "plot/color_maps.hpp"

using namespace attnscope::ui;

namespace {

int distance(QRgb a, QRgb b) {
  return std::abs(qRed(a) - qRed(b)) + std::abs(qGreen(a) - qGreen(b)) + std::abs(qBlue(a) - qBlue(b));
}

}  // namespace

class TestColorMaps : public QObject {
  Q_OBJECT

 private slots:
  void viridisEndsAsPublished() {
    QCPColorGradient viridis = ColorMaps::sequential(ColorMapId::viridis);
    const QCPRange unit(0, 1);
    QVERIFY(distance(viridis.color(0.0, unit), qRgb(0x44, 0x01, 0x54)) <= 6);
    QVERIFY(distance(viridis.color(1.0, unit), qRgb(0xfd, 0xe7, 0x25)) <= 6);
    QVERIFY(distance(viridis.color(0.5, unit), qRgb(0x21, 0x91, 0x8c)) <= 8);
  }

  void aRangesEndsGetTheMapsEnds() {
    QCPColorGradient viridis = ColorMaps::sequential(ColorMapId::viridis);
    const QRgb bottom = viridis.color(0.0, QCPRange(0, 1)), top = viridis.color(1.0, QCPRange(0, 1));
    // QCustomPlot's own lookup gives 0.1 on 0…0.1 the level under the top (0.1 · 349 / 0.1 < 349 in
    // doubles); the overview's most extreme head and a figure's largest weight were drawn so.
    for (const QCPRange& range : {QCPRange(0.0, 0.1), QCPRange(0.0, 0.2), QCPRange(-0.3, 0.7),
                                  QCPRange(0.001, 0.03), QCPRange(1e-9, 2e-9)}) {
      QCOMPARE(ColorMaps::colourOf(viridis, range.upper, range), top);
      QCOMPARE(ColorMaps::colourOf(viridis, range.lower, range), bottom);
      QCOMPARE(ColorMaps::colourOf(viridis, range.center(), range), viridis.color(0.5, QCPRange(0, 1)));
    }
  }

  void scoresAreCentredOnZero() {
    const QCPRange range = ColorMaps::rangeFor(Quantity::rawScores, -0.3, 1.7, 0.2);
    QCOMPARE(range.lower, -1.7);
    QCOMPARE(range.upper, 1.7);
    QCPColorGradient diverging = ColorMaps::diverging();
    const QRgb zero = diverging.color(0.0, range);
    QVERIFY(distance(zero, qRgb(0xf7, 0xf7, 0xf7)) <= 6);
    QVERIFY(qBlue(diverging.color(-1.7, range)) > qRed(diverging.color(-1.7, range)));
    QVERIFY(qRed(diverging.color(1.7, range)) > qBlue(diverging.color(1.7, range)));
    // Weights run from their smallest to their largest value (a one-value map from 0 to it).
    QCOMPARE(ColorMaps::rangeFor(Quantity::weights, 0.1, 0.4, 0.4).lower, 0.1);
    QCOMPARE(ColorMaps::rangeFor(Quantity::weights, 0.1, 0.4, 0.4).upper, 0.4);
    QCOMPARE(ColorMaps::rangeFor(Quantity::weights, 0.25, 0.25, 0.25).lower, 0.0);
    QCOMPARE(ColorMaps::rangeFor(Quantity::weights, 0.25, 0.25, 0.25).upper, 0.25);
    QCOMPARE(ColorMaps::rangeFor(Quantity::weights, 0.0, 0.0, 0.0).upper, 1.0);
    // A 99th percentile under half the largest weight is the top (a causal map's first rows, weight 1, do not
    // set it); one above half, or none, leaves the largest weight on top. Scores ignore it.
    const QCPRange clipped = ColorMaps::rangeFor(Quantity::weights, 0.001, 1.0, 0.03);
    QCOMPARE(clipped.lower, 0.001);
    QCOMPARE(clipped.upper, 0.03);
    QCOMPARE(ColorMaps::rangeFor(Quantity::weights, 0.1, 0.4, 0.35).upper, 0.4);
    QCOMPARE(ColorMaps::rangeFor(Quantity::weights, 0.1, 0.4, std::nan("")).upper, 0.4);
    QCOMPARE(ColorMaps::rangeFor(Quantity::weights, 0.1, 0.4, 0.05).upper, 0.4);  // under the smallest
    QCOMPARE(ColorMaps::rangeFor(Quantity::rawScores, -0.3, 1.7, 0.01).upper, 1.7);
    // Its bar says that larger values are drawn in the top colour.
    QCOMPARE(ColorMaps::tickTexts(clipped, 1.0),
             (QStringList{QStringLiteral("0.001"), QStringLiteral("0.0155"), QStringLiteral("\u2265 0.03")}));
    QCOMPARE(ColorMaps::tickTexts(clipped, 0.03).last(), QStringLiteral("0.03"));
    // The colour bar's numbers: 3 significant digits, a true minus, no "-0".
    QCOMPARE(ColorMaps::tickText(0.0033412), QStringLiteral("0.00334"));
    QCOMPARE(ColorMaps::tickText(-1.7), QStringLiteral("\u22121.7"));
    QCOMPARE(ColorMaps::tickText(-1e-17), QStringLiteral("0"));
    // A map whose values use under a quarter of its bar looks flat.
    QVERIFY(ColorMaps::shareOf(QCPRange(0.0, 1.0), 0.002, 0.006) < ColorMaps::kFlatShare);
    QCOMPARE(ColorMaps::shareOf(QCPRange(0.002, 0.006), 0.002, 0.006), 1.0);
  }

  void maskedCellsAreTransparentAndUnlikeAnyColour() {
    for (const ColorMapId id : {ColorMapId::viridis, ColorMapId::magma, ColorMapId::cividis}) {
      QCPColorGradient gradient = ColorMaps::sequential(id);
      const double nan = std::numeric_limits<double>::quiet_NaN();
      QRgb pixel = 0xffffffff;
      gradient.colorize(&nan, QCPRange(0, 1), &pixel, 1);
      QCOMPARE(qAlpha(pixel), 0);  // drawn over the hatch, never as a colour of the map
      // The hatch's grey is far from every colour of the map that a weight of 0 (or any) could take.
      for (int i = 0; i <= 100; ++i)
        QVERIFY(distance(gradient.color(i / 100.0, QCPRange(0, 1)), ColorMaps::maskedBackground().rgb()) >
                40);
    }
    QCPColorGradient diverging = ColorMaps::diverging();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    QRgb pixel = 0xffffffff;
    diverging.colorize(&nan, QCPRange(-1, 1), &pixel, 1);
    QCOMPARE(qAlpha(pixel), 0);
  }

  void textReadsOnEveryCell() {
    QCOMPARE(ColorMaps::textOn(QColor(0x44, 0x01, 0x54)), QColor(Qt::white));
    QVERIFY(ColorMaps::textOn(QColor(0xfd, 0xe7, 0x25)) != QColor(Qt::white));
  }
};

QTEST_MAIN(TestColorMaps)
#include "test_color_maps.moc"
