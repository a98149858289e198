// The scrolling maps' colour range and token labels: a long text's weights span the colour bar, whose
// numbers are the range's actual ends; a few weights near 1 do not set its top; a shared range across very
// different maps is reported as flat (and
// the grid's hint switches to one range per map); maps of the same tokens label the same tokens, and zooming
// one map changes only its own labels; a new layout's first replot does not label every token of a long text;
// announcing the selection already drawn redraws nothing.

#include <QPushButton>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

#include "compute/attention_input.hpp"
#include "compute/attention_snapshot.hpp"
#include "plot/attention_color_map.hpp"
#include "plot/color_maps.hpp"
#include "plot/heatmap_grid.hpp"
#include "plot/heatmap_plot.hpp"
#include "ui_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;
using namespace attnscope::ui::testing;

namespace {

// A seeded text of `tokens` words, multi-head with 2 heads, masked by `masks`.
ViewSettings seededText(int tokens, std::vector<MaskSpec> masks) {
  ViewSettings settings = ViewSettings::defaults();
  QStringList words;
  for (int i = 0; i < tokens; ++i) words << QStringLiteral("w%1").arg(i);
  settings.text = words.join(QLatin1Char(' '));
  settings.embeddingSource = EmbeddingSource::seeded;
  settings.dIn = 3;
  settings.masks = std::move(masks);
  return settings;
}

SnapshotPointer snapshotOf(const ViewSettings& settings) {
  const auto backend = make_backend(Device::cpu);
  const CancelToken never;
  return computeSnapshot(AttentionInput::fromSettings(settings), *backend, never, PreparedMaps{});
}

MaskSpec none() {
  return MaskSpec::parse("none");
}
MaskSpec causal() {
  return MaskSpec::parse("causal");
}

// A grid on its own, subscribed to a model that holds `settings` and their snapshot.
// With `Snapshot::later`, the caller hands the model its snapshot (showSnapshot), after watching the grid.
struct Scene {
  enum class Snapshot { now, later };
  ScopeModel model;
  HeatmapGrid grid;

  explicit Scene(const ViewSettings& settings, Snapshot snapshot = Snapshot::now) {
    model.setSettings(settings);
    grid.setModel(&model);
    grid.resize(1300, 800);
    grid.show();
    if (snapshot == Snapshot::now) showSnapshot();
  }
  void showSnapshot() { model.setSnapshot(snapshotOf(model.settings())); }
};

}  // namespace

class TestHeatmapPlot : public QObject {
  Q_OBJECT

  QTemporaryDir m_settingsDirectory;

 private slots:
  void initTestCase() {
    QVERIFY(m_settingsDirectory.isValid());
    isolateSettings(m_settingsDirectory);
  }

  // On screen a map is drawn pixel by pixel (AttentionColorMap::drawPixels), each pixel the cell under its
  // centre: that cell's colour, or one of the hatch's two greys where the mask hides it. Large cells are
  // looked at a pixel in from their corners (their values are printed in the middle), the cells of a long
  // text (blocks of tokens smaller than two pixels) at every pixel. The selected query's row is outlined over
  // its cells: left out.
  void eachPixelOfAMapIsItsCellsColourOrTheHatch() {
    for (const int tokens : {12, 700}) {
      Scene scene(seededText(tokens, {causal()}));
      QVERIFY(QTest::qWaitForWindowExposed(&scene.grid));
      HeatmapPlot* plot = scene.grid.plot();
      QTRY_VERIFY(!std::isnan(plot->colorMap(0)->minimum()) && !plot->isRefining());
      plot->replot();  // the refined cells' own replot is queued
      const QImage shown = plot->grab().toImage().convertToFormat(QImage::Format_RGB32);
      const qreal ratio = shown.devicePixelRatio();
      const AttentionColorMap* map = plot->colorMap(0);
      const CellRegion& region = map->region();
      QCOMPARE(region.isReduced(), tokens > 100);
      QCPColorGradient gradient = map->gradient();
      const QCPRange range = map->dataRange();
      const QRgb background = ColorMaps::maskedBackground().rgb(), line = ColorMaps::maskedLine().rgb();
      const int selected = scene.model.selection().query;
      int checked = 0, hatched = 0;
      const auto check = [&](QPoint pixel, int query, int key) {
        if (query < 0 || query >= tokens || key < 0 || key >= tokens || std::abs(query - selected) <= 3)
          return true;
        const double value = map->cellValue(query, key);
        const QRgb shownColour = shown.pixel(pixel) | 0xff000000u;
        const QRgb expected = gradient.color(value, range) | 0xff000000u;
        ++checked;
        hatched += std::isnan(value) ? 1 : 0;
        const bool right =
            std::isnan(value) ? shownColour == background || shownColour == line : shownColour == expected;
        if (!right)
          qWarning("%d tokens, query %d key %d at pixel (%d, %d): %08x, not %s", tokens, query, key,
                   pixel.x(), pixel.y(), shownColour,
                   std::isnan(value) ? "the hatch" : qPrintable(QString::number(expected, 16)));
        return right;
      };
      if (!region.isReduced()) {
        for (int query = 0; query < tokens; ++query)
          for (int key = 0; key < tokens; ++key) {
            const double left = map->keyAxis()->coordToPixel(key - 0.5) + 1;
            const double right = map->keyAxis()->coordToPixel(key + 0.5) - 1;
            const double top = map->valueAxis()->coordToPixel(query - 0.5) + 1;
            const double bottom = map->valueAxis()->coordToPixel(query + 0.5) - 1;
            for (const QPointF& corner :
                 {QPointF(left, top), QPointF(right, top), QPointF(left, bottom), QPointF(right, bottom)})
              QVERIFY(check((corner * ratio).toPoint(), query, key));
          }
      } else {
        const QRect rect = map->keyAxis()->axisRect()->rect();
        for (int y = qCeil(rect.top() * ratio); y < qFloor(rect.bottom() * ratio); ++y)
          for (int x = qCeil(rect.left() * ratio); x < qFloor(rect.right() * ratio); ++x) {
            // QCustomPlot's painter is shifted half a pixel (for crisp lines): a pixel's centre is there.
            const auto tokenAt = [ratio](const QCPAxis* axis, int pixel) {
              return static_cast<int>(std::floor(axis->pixelToCoord((pixel + 0.5) / ratio - 0.5) + 0.5));
            };
            QVERIFY(check(QPoint(x, y), tokenAt(map->valueAxis(), y), tokenAt(map->keyAxis(), x)));
          }
      }
      QVERIFY2(checked > 100, qPrintable(QString::number(checked)));
      QVERIFY(hatched > 0);
    }
  }

  void aLongTextsWeightsSpanTheColourBar() {
    Scene scene(seededText(300, {none()}));
    QVERIFY(QTest::qWaitForWindowExposed(&scene.grid));
    HeatmapPlot* plot = scene.grid.plot();
    QCOMPARE(plot->mapCount(), 2);
    QTRY_VERIFY(!std::isnan(plot->colorMap(0)->minimum()) && !plot->isRefining());
    // The weights of 300 tokens are about 1/300: the bar runs from the smallest to the largest of them, not
    // from 0 to 1.
    const QCPRange range = plot->colorRange(0);
    QVERIFY2(range.upper < 0.1, qPrintable(QString::number(range.upper)));
    QVERIFY(range.lower > 0.0);
    double minimum = 2, maximum = -1, percentile = -1;
    for (int map = 0; map < plot->mapCount(); ++map) {
      minimum = std::min(minimum, plot->colorMap(map)->minimum());
      maximum = std::max(maximum, plot->colorMap(map)->maximum());
      percentile = std::max(percentile, plot->colorMap(map)->percentile99());
    }
    QCOMPARE(range.lower, minimum);
    // Its top: the largest weight, or the 99th percentile when that is under half of it.
    QCOMPARE(range.upper, percentile < 0.5 * maximum ? percentile : maximum);
    // So the cells are drawn in many colours, from the bottom of the bar to its top.
    QCPColorGradient gradient = ColorMaps::forQuantity(Quantity::weights, ColorMapId::viridis);
    QSet<QRgb> colours;
    for (int query = 0; query < 300; query += 3)
      for (int key = 0; key < 300; key += 3)
        colours.insert(gradient.color(plot->colorMap(0)->cellValue(query, key), range));
    QVERIFY2(colours.size() > 50, qPrintable(QString::number(colours.size())));
    // The colour bar prints the range's ends (and its middle).
    QCOMPARE(plot->colorScaleCount(), 1);
    QCOMPARE(plot->colorScaleLabels(0),
             (QStringList{ColorMaps::tickText(range.lower), ColorMaps::tickText(range.center()),
                          ColorMaps::tickTexts(range, maximum).last()}));
    QVERIFY(plot->flatMaps().empty());
    QVERIFY(scene.grid.rangeHint()->isHidden());
  }

  // And after an edit, which keeps the maps and their bars.
  void eachMapsBarPrintsItsOwnRange() {
    ViewSettings settings = seededText(12, {none(), causal()});
    settings.display.sharedRange = false;
    Scene scene(settings);
    HeatmapPlot* plot = scene.grid.plot();
    for (const int tokens : {12, 9}) {
      settings.text = seededText(tokens, {}).text;
      scene.model.setSettings(settings);
      scene.showSnapshot();
      QCOMPARE(plot->colorScaleCount(), 4);
      for (int map = 0; map < 4; ++map) {
        const QCPRange range = plot->colorRange(map);
        QCOMPARE(range.lower, plot->colorMap(map)->minimum());
        QCOMPARE(range.upper, plot->colorMap(map)->maximum());
        QCOMPARE(plot->colorScaleLabels(map).first(), ColorMaps::tickText(range.lower));
        QCOMPARE(plot->colorScaleLabels(map).last(), ColorMaps::tickText(range.upper));
      }
      // The causal maps' first query sees only itself: weight 1, the top of their bars.
      QCOMPARE(plot->colorScaleLabels(2).last(), QStringLiteral("1"));
    }
  }

  void aCausalMapsFirstRowsDoNotDarkenALongText() {
    // 300 tokens, causal beside none: the causal maps' first rows hold weights near 1 and the rest about
    // 1/300. The shared bar's top is the maps' 99th percentile, so the cells below it use the bar, the bar
    // says "≥" at its top.
    Scene scene(seededText(300, {none(), causal()}));
    QVERIFY(QTest::qWaitForWindowExposed(&scene.grid));
    HeatmapPlot* plot = scene.grid.plot();
    QCOMPARE(plot->mapCount(), 4);
    QTRY_VERIFY(!std::isnan(plot->colorMap(3)->minimum()) && !plot->isRefining());
    QCOMPARE(plot->colorScaleCount(), 1);
    const QCPRange range = plot->colorRange(0);
    double maximum = -1, percentile = -1;
    for (int map = 0; map < plot->mapCount(); ++map) {
      maximum = std::max(maximum, plot->colorMap(map)->maximum());
      percentile = std::max(percentile, plot->colorMap(map)->percentile99());
    }
    QCOMPARE(maximum, 1.0);  // the causal maps' first query sees only itself
    QCOMPARE(range.upper, percentile);
    QVERIFY2(range.upper < 0.2, qPrintable(QString::number(range.upper)));
    QCOMPARE(plot->colorScaleLabels(0).last(), QStringLiteral("\u2265 ") + ColorMaps::tickText(range.upper));
    // The maps without a mask (weights about 1/300, under the causal rows' 1/i) stay in the bar's darkest
    // quarter: the hint offers one range per map.
    QCOMPARE(plot->flatMaps(), (std::vector<int>{0, 1}));
    QVERIFY(scene.grid.rangeHint()->isVisible());
    // The causal map's cells are drawn in many colours; about 1 % of them reach the top colour.
    QCPColorGradient gradient = ColorMaps::forQuantity(Quantity::weights, ColorMapId::viridis);
    QSet<QRgb> colours;
    int cells = 0, atTop = 0;
    for (int query = 0; query < 300; query += 2)
      for (int key = 0; key <= query; key += 2) {
        const double value = plot->colorMap(2)->cellValue(query, key);
        if (std::isnan(value)) continue;
        colours.insert(gradient.color(value, range));
        ++cells;
        atTop += value >= range.upper ? 1 : 0;
      }
    QVERIFY2(colours.size() > 50, qPrintable(QString::number(colours.size())));
    QVERIFY2(atTop < cells / 20, qPrintable(QStringLiteral("%1 of %2").arg(atTop).arg(cells)));
  }

  void nearlyUniformWeightsAreNotCalledFlat() {
    // The launch view: the book's sentence without a mask has weights 0.15 to 0.17 beside the causal maps'
    // 1. They look alike under any range, so the hint does not offer another.
    Scene scene(ViewSettings::defaults());
    QVERIFY(QTest::qWaitForWindowExposed(&scene.grid));
    HeatmapPlot* plot = scene.grid.plot();
    QCOMPARE(plot->mapCount(), 4);
    QVERIFY(plot->colorMap(0)->maximum() < 2.0 * plot->colorMap(0)->minimum());
    QVERIFY(plot->flatMaps().empty());
    QVERIFY(scene.grid.rangeHint()->isHidden());
  }

  void aSharedRangeThatFlattensMapsOffersOnePerMap() {
    // window:1 beside none: each query of the window maps sees only itself (weight 1 in every visible cell),
    // so a shared bar runs to 1 and the maps without a mask (weights about 1/120) use under a quarter of it.
    Scene scene(seededText(120, {none(), MaskSpec::parse("window:1")}));
    QVERIFY(QTest::qWaitForWindowExposed(&scene.grid));
    HeatmapPlot* plot = scene.grid.plot();
    QCOMPARE(plot->mapCount(), 4);
    QCOMPARE(plot->colorScaleCount(), 1);
    QCOMPARE(plot->colorScaleLabels(0).last(), QStringLiteral("1"));
    QCOMPARE(plot->flatMaps(), (std::vector<int>{0, 1}));  // the two heads' maps without a mask
    QVERIFY(scene.grid.rangeHint()->isVisible());

    QTest::mouseClick(scene.grid.rangeHintButton(), Qt::LeftButton);
    QCOMPARE(scene.model.display().sharedRange, false);
    QCOMPARE(plot->colorScaleCount(), 4);
    QVERIFY(plot->flatMaps().empty());
    QVERIFY(scene.grid.rangeHint()->isHidden());
    // Each map now spans its own bar.
    QVERIFY(plot->colorRange(0).upper < 0.1);
  }

  // A grid's first replot of a new layout generates its ticks before the layout gives the maps a size. It
  // must not label every token then: measuring and drawing 4,096 labels on each of 48 axes held the GUI
  // thread for 0.85 s when a long text first arrived. (The settle pass after it thins them for the real
  // size.)
  void aNewLayoutsFirstReplotDoesNotLabelEveryToken() {
    Scene scene(seededText(2000, {none()}), Scene::Snapshot::later);
    HeatmapPlot* plot = scene.grid.plot();
    qsizetype mostLabels = 0;
    connect(plot, &QCustomPlot::afterReplot, plot, [&] {
      for (int map = 0; map < plot->mapCount(); ++map)
        for (const Qt::Orientation orientation : {Qt::Horizontal, Qt::Vertical})
          mostLabels = std::max(mostLabels, plot->shownLabels(map, orientation).size());
    });
    scene.showSnapshot();
    QTest::qWait(50);  // the settle passes
    QCOMPARE(plot->mapCount(), 2);
    // The plot is at most 1,300 pixels across: more than 200 labels could not be read.
    QVERIFY2(mostLabels > 0 && mostLabels < 200, qPrintable(QString::number(mostLabels)));
  }

  // The labels kept across an edit (those before its first changed token) and the ones made for it: after
  // each edit, the same labels, turned the same way, as a grid that shows the text from scratch, as a long
  // word comes (the widest label grows, then stays among the kept ones before and after an edit) and goes
  // (it shrinks), and tokens are added and taken away at either end.
  void editedLabelsAreAFreshGridsLabels() {
    QStringList words;
    for (int i = 0; i < 6; ++i) words << QStringLiteral("w%1").arg(i);
    ViewSettings settings = seededText(6, {none()});
    Scene edited(settings);
    QVERIFY(QTest::qWaitForWindowExposed(&edited.grid));
    const auto textWith = [&](int index, const QString& word) {
      QStringList changed = words;
      changed[index] = word;
      return changed.join(QLatin1Char(' '));
    };
    const QString longWord = textWith(1, QStringLiteral("extraordinarily"));
    // The long word among the labels kept after an edit before it ("x" replaces "w0").
    const QString longWordKept = QStringLiteral("x") + longWord.mid(2);
    for (const QString& text :
         {longWord, longWordKept, longWord + QStringLiteral(" more"), words.join(QLatin1Char(' ')),
          QStringList(words.mid(1)).join(QLatin1Char(' ')),
          textWith(0, QStringLiteral("incomprehensibilities"))}) {
      settings.text = text;
      edited.model.setSettings(settings);
      edited.showSnapshot();
      Scene fresh(settings);
      QVERIFY(QTest::qWaitForWindowExposed(&fresh.grid));
      QTest::qWait(50);  // the passes that settle the labels after a replot
      for (const Qt::Orientation orientation : {Qt::Horizontal, Qt::Vertical})
        QCOMPARE(edited.grid.plot()->shownLabels(0, orientation),
                 fresh.grid.plot()->shownLabels(0, orientation));
      // Rotated when the widest label does not fit a column: the same texts either way.
      const auto rotations = [](const HeatmapPlot* plot) {
        QList<double> angles;
        for (const QCPAxisRect* rect : plot->axisRects())
          angles << rect->axis(QCPAxis::atBottom)->tickLabelRotation();
        return angles;
      };
      QCOMPARE(rotations(edited.grid.plot()), rotations(fresh.grid.plot()));
    }
  }

  // Every snapshot announces the selection again, usually the one its replot has just drawn: that redraws
  // nothing. A new selection is drawn.
  void announcingTheSameSelectionRedrawsNothing() {
    Scene scene(seededText(12, {none(), causal()}));
    QVERIFY(QTest::qWaitForWindowExposed(&scene.grid));
    HeatmapPlot* plot = scene.grid.plot();
    const MapKey explained{0, 0, Quantity::weights};
    plot->setSelection(3, explained);
    QTest::qWait(100);  // its paint, and any settle pass
    PaintCounter counter(plot);
    plot->setSelection(3, explained);
    QTest::qWait(50);
    QCOMPARE(counter.paints, 0);
    plot->setSelection(4, explained);
    QTRY_VERIFY(counter.paints > 0);
  }

  void mapsOfTheSameTokensLabelTheSameTokens() {
    ViewSettings settings = seededText(40, {none(), causal()});
    settings.display.sharedRange = false;  // bars of different widths beside each map
    Scene scene(settings);
    QVERIFY(QTest::qWaitForWindowExposed(&scene.grid));
    HeatmapPlot* plot = scene.grid.plot();
    QCOMPARE(plot->mapCount(), 4);
    QTRY_VERIFY(plot->shownLabels(0, Qt::Horizontal).size() > 1);
    // At any width: the maps differ by a few pixels (the causal maps' bars print "1", the others' longer
    // numbers), which must not make them label other tokens.
    for (int width = 700; width <= 1300; width += 23) {
      scene.grid.resize(width, 800);
      QTest::qWait(20);  // the layout, and the passes that settle the labels after a replot
      plot->replot();
      const QString where = QStringLiteral("grid width %1").arg(width);
      for (const Qt::Orientation orientation : {Qt::Horizontal, Qt::Vertical}) {
        const QStringList first = plot->shownLabels(0, orientation);
        QVERIFY2(first.size() > 1 && first.size() < 40, qPrintable(where));
        for (int map = 1; map < 4; ++map)
          QVERIFY2(plot->shownLabels(map, orientation) == first,
                   qPrintable(where + QStringLiteral(", map %1: ").arg(map) +
                              plot->shownLabels(map, orientation).join(QLatin1Char(' ')) +
                              QStringLiteral(" / ") + first.join(QLatin1Char(' '))));
      }
    }

    // Zooming one map labels more of its tokens and leaves the others' labels as they were.
    const QStringList before = plot->shownLabels(1, Qt::Horizontal);
    const QStringList zoomedBefore = plot->shownLabels(0, Qt::Horizontal);
    plot->zoomMap(0, 0, 8, 0, 8);
    QTRY_VERIFY(plot->shownLabels(0, Qt::Horizontal) != zoomedBefore);
    QTest::qWait(50);  // the passes that settle the labels after a replot
    QCOMPARE(plot->shownLabels(0, Qt::Horizontal).first(), QStringLiteral("w0"));
    for (int map = 1; map < 4; ++map) {
      QCOMPARE(plot->shownLabels(map, Qt::Horizontal), before);
      QCOMPARE(plot->shownLabels(map, Qt::Vertical), plot->shownLabels(1, Qt::Vertical));
    }
  }
};

QTEST_MAIN(TestHeatmapPlot)
#include "test_heatmap_plot.moc"
