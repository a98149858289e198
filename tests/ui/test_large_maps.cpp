// Long texts: maps reduced to their pixels (max or mean of each block, NaN where a whole block is masked,
// said in a note), zoom rebuilding the cells in view down to one per token, tooltips and hit tests exact
// under a reduction, exports reduced for their own size, the matrices of a long text let go once drawn,
// scores kept only while shown, and a first edit computed without waiting for the debounce.

#include <sys/mman.h>
#include <unistd.h>

#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonObject>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QTemporaryDir>
#include <QTest>
#include <QThreadPool>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <thread>

#include "compute/freed_memory.hpp"
#include "export/exporter.hpp"
#include "panels/settings_panel.hpp"
#include "plot/figure_renderer.hpp"
#include "plot/heatmap_grid.hpp"
#include "plot/text_width_cache.hpp"
#include "support/test_support.hpp"
#include "text.hpp"
#include "ui_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;
using namespace attnscope::ui::testing;

namespace {

// n seeded tokens, 2 heads, masks none and causal.
ViewSettings longSettings(int n) {
  ViewSettings settings = ViewSettings::defaults();
  QStringList words;
  for (int i = 0; i < n; ++i) words << QStringLiteral("w%1").arg(i % 97);
  settings.text = words.join(QLatin1Char(' '));
  settings.embeddingSource = EmbeddingSource::seeded;
  settings.dIn = 8;
  settings.dOut = 8;
  return settings;
}

SnapshotPointer snapshotOf(const ViewSettings& settings, const PreparedMaps& prepare = {}) {
  const AttentionInput input = AttentionInput::fromSettings(settings);
  const auto backend = make_backend(Device::cpu);
  const CancelToken never;
  return computeSnapshot(input, *backend, never, prepare);
}

// The block's max or mean of the engine's own weights, NaN when the block is all masked.
double expectedBlock(const AttentionResult& result, int head, const CellRegion& region, int cellRow,
                     int cellColumn) {
  const int n = static_cast<int>(result.mask.rows());
  double total = region.reduction == Reduction::mean ? 0.0 : -std::numeric_limits<double>::infinity();
  int count = 0;
  for (int q = region.queryBegin + cellRow * region.queryBlock;
       q < std::min(n, region.queryBegin + (cellRow + 1) * region.queryBlock); ++q)
    for (int k = region.keyBegin + cellColumn * region.keyBlock;
         k < std::min(n, region.keyBegin + (cellColumn + 1) * region.keyBlock); ++k) {
      if (result.mask(q, k)) continue;
      const double value = result.heads[head].weights(q, k);
      total = region.reduction == Reduction::mean ? total + value : std::max(total, value);
      ++count;
    }
  if (count == 0) return std::numeric_limits<double>::quiet_NaN();
  return region.reduction == Reduction::mean ? total / count : total;
}

bool sameCell(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

bool sameValue(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || std::abs(a - b) <= 1e-12 * std::max(1.0, std::abs(b));
}

}  // namespace

class TestLargeMaps : public QObject {
  Q_OBJECT

  QTemporaryDir m_settingsDirectory;

 private slots:
  void initTestCase() {
    QVERIFY(m_settingsDirectory.isValid());
    isolateSettings(m_settingsDirectory);
  }

  // Token label widths are remembered between edits, and measured again in another font.
  void labelWidthsAreRememberedPerFont() {
    TextWidthCache widths;
    QFont small = QApplication::font();
    small.setPixelSize(10);
    QFont large = small;
    large.setPixelSize(24);
    const QStringList labels{QStringLiteral("journey"), QStringLiteral("·the"), QStringLiteral("שלום"),
                             QStringLiteral("😀"), QString()};
    for (int pass = 0; pass < 2; ++pass)
      for (const QString& label : labels) {
        QCOMPARE(widths.width(small, label), QFontMetrics(small).horizontalAdvance(label));
        QCOMPARE(widths.width(large, label), QFontMetrics(large).horizontalAdvance(label));
      }
    QVERIFY(widths.width(large, QStringLiteral("journey")) > widths.width(small, QStringLiteral("journey")));
  }

  void regionsFitThePixels_data() {
    QTest::addColumn<int>("n");
    QTest::addColumn<int>("pixels");
    QTest::addColumn<int>("block");
    QTest::addColumn<int>("cells");
    QTest::newRow("fits") << 6 << 100 << 1 << 6;
    QTest::newRow("exactly") << 100 << 100 << 1 << 100;
    QTest::newRow("twice") << 200 << 100 << 2 << 100;
    QTest::newRow("a partial last block") << 10 << 4 << 3 << 4;
    QTest::newRow("no limit") << 4096 << 0 << 1 << 4096;
    QTest::newRow("long text, small map") << 4096 << 80 << 52 << 79;
  }

  void regionsFitThePixels() {
    QFETCH(int, n);
    QFETCH(int, pixels);
    QFETCH(int, block);
    QFETCH(int, cells);
    const CellRegion region = CellRegion::whole(n, pixels, Reduction::max);
    QCOMPARE(region.keyBlock, block);
    QCOMPARE(region.queryBlock, block);
    QCOMPARE(region.keyCells(), cells);
    QCOMPARE(region.keyEnd, n);
    QVERIFY(pixels == 0 || region.keyCells() <= pixels);
    QCOMPARE(region.isReduced(), block > 1);
    QCOMPARE(region.note().isEmpty(), block == 1);
  }

  void aZoomedRegionStartsOnABlockBoundary() {
    const CellRegion region = CellRegion::fitting(1000, 105, 305, 0, 1000, 50, 1000, Reduction::mean);
    QCOMPARE(region.keyBlock, 4);
    QCOMPARE(region.keyBegin, 104);
    QCOMPARE(region.keyEnd, 308);
    QCOMPARE(region.queryBlock, 1);
    QVERIFY(region.serves(CellRegion::fitting(1000, 110, 300, 10, 900, 50, 1000, Reduction::mean)));
    // Coarser than wanted, the wrong reduction, or not covering the view: rebuild.
    QVERIFY(!region.serves(CellRegion::fitting(1000, 105, 305, 0, 1000, 200, 1000, Reduction::mean)));
    QVERIFY(!region.serves(CellRegion::fitting(1000, 105, 305, 0, 1000, 50, 1000, Reduction::max)));
    QVERIFY(!region.serves(CellRegion::fitting(1000, 0, 305, 0, 1000, 50, 1000, Reduction::mean)));
    // Much finer than wanted wastes memory: rebuild too.
    QVERIFY(
        !CellRegion::whole(1000, 1000, Reduction::max).serves(CellRegion::whole(1000, 100, Reduction::max)));
  }

  void reducedCellsAreTheMaxOrMeanOfTheirBlock_data() {
    QTest::addColumn<int>("reduction");
    QTest::newRow("max") << int(Reduction::max);
    QTest::newRow("mean") << int(Reduction::mean);
  }

  // Every kind of mask row: all seen (none), a seen prefix (causal, prefix), a seen run inside hidden keys
  // (window) and seen keys in several runs (a file's), which the fold reads key by key.
  void reducedCellsAreTheMaxOrMeanOfTheirBlock() {
    QFETCH(int, reduction);
    QTemporaryDir directory;
    QStringList lines;
    for (int query = 0; query < 10; ++query) {
      QStringList cells;
      for (int key = 0; key < 10; ++key)
        cells << ((key != query && (query * 3 + key) % 4 == 0) ? QStringLiteral("1") : QStringLiteral("0"));
      lines << cells.join(QLatin1Char(','));
    }
    const QString holes = attnscope::testing::write_test_file(
        QDir(directory.path()), QStringLiteral("holes.csv"), lines.join(QLatin1Char('\n')).toUtf8());
    ViewSettings settings = longSettings(10);
    settings.masks = {MaskSpec::parse("none"), MaskSpec::parse("causal"), MaskSpec::parse("window:3"),
                      MaskSpec::parse("prefix:4"), MaskSpec::parse(("file:" + holes).toStdString())};
    const SnapshotPointer snapshot = snapshotOf(settings);
    QCOMPARE(snapshot->maskCount(), 5);
    const CellRegion region = CellRegion::whole(10, 4, static_cast<Reduction>(reduction));
    QCOMPARE(region.keyBlock, 3);
    for (int row = 0; row < snapshot->maskCount(); ++row) {
      const MapCells map = buildMapCells(*snapshot, row, 1, Quantity::weights, region);
      QCOMPARE(map.cells->keySize(), 4);
      QCOMPARE(map.cells->valueSize(), 4);
      int masked = 0;
      for (int cellRow = 0; cellRow < 4; ++cellRow)
        for (int column = 0; column < 4; ++column) {
          const double expected = expectedBlock(*snapshot->rows[row].result, 1, region, cellRow, column);
          const double cell = map.cells->cell(column, cellRow);
          masked += std::isnan(cell);
          if (!sameValue(cell, expected))
            QFAIL(qPrintable(QStringLiteral("mask %1, cell (%2, %3): %4, expected %5")
                                 .arg(row)
                                 .arg(cellRow)
                                 .arg(column)
                                 .arg(cell)
                                 .arg(expected)));
        }
      // Causal: the blocks above the diagonal (keys 3+ for queries 0-2, ...) are wholly masked.
      if (row <= 1) QCOMPARE(masked, row == 0 ? 0 : 6);
      QCOMPARE(map.anyMasked, masked > 0);  // so a plot needs no scan of its cells to know
    }
  }

  void theMeanIsNotTheMax() {
    const SnapshotPointer snapshot = snapshotOf(longSettings(10));
    const MapCells max =
        buildMapCells(*snapshot, 0, 0, Quantity::weights, CellRegion::whole(10, 4, Reduction::max));
    const MapCells mean =
        buildMapCells(*snapshot, 0, 0, Quantity::weights, CellRegion::whole(10, 4, Reduction::mean));
    QVERIFY(mean.cells->cell(0, 0) < max.cells->cell(0, 0));
  }

  void aLongMapIsReducedToItsPixelsWithANote() {
    const ViewSettings settings = longSettings(600);
    const SnapshotPointer snapshot = snapshotOf(settings);
    HeatmapGrid grid;
    grid.resize(700, 500);
    grid.show();
    DisplayOptions options = settings.display;
    // One range per map: a shared one leaves the maps without a mask flat beside the causal ones, and the
    // hint that says so appears above the maps once their cells are built, making them a little smaller than
    // the cells (which then still serve, being at most twice as fine as the pixels).
    options.sharedRange = false;
    grid.setContent(snapshot, options);
    HeatmapPlot* plot = grid.plot();
    QTRY_VERIFY(!plot->isRefining() && plot->mapRect(0)->width() > 0 && !plot->reductionNote(0).isEmpty());
    QTRY_VERIFY(!plot->isRefining());
    for (int map = 0; map < plot->mapCount(); ++map) {
      const CellRegion& region = plot->colorMap(map)->region();
      QVERIFY(region.isReduced());
      QVERIFY(region.keyCells() <= plot->mapRect(map)->width() * plot->devicePixelRatioF());
      QVERIFY(region.queryCells() <= plot->mapRect(map)->height() * plot->devicePixelRatioF());
      QCOMPARE(plot->reductionNote(map), region.note());
    }
    QVERIFY(plot->reductionNote(0).startsWith(QStringLiteral("max of ")));
    QVERIFY(plot->gridNote().contains(plot->reductionNote(0)));

    // The drawn value of a token is its block's max; the hit test and the tooltip still name the token.
    const CellRegion region = plot->colorMap(3)->region();
    const int query = 250, key = 17;
    const int cellRow = (query - region.queryBegin) / region.queryBlock;
    const int column = (key - region.keyBegin) / region.keyBlock;
    const MapKey causal = plot->mapKey(3);
    QCOMPARE(causal.maskRow, 1);
    QVERIFY(sameValue(plot->colorMap(3)->cellValue(query, key),
                      expectedBlock(*snapshot->rows[1].result, causal.head, region, cellRow, column)));
    const QString tip = grid.toolTipFor(3, query, key);
    QVERIFY(tip.contains(QStringLiteral("query %1, key %2").arg(query + 1).arg(key + 1)));
    QVERIFY(tip.contains(formatValue(snapshot->rows[1].result->heads[causal.head].weights(query, key))));

    // Mean instead of max: rebuilt off the GUI thread, the note says so.
    options.reduction = Reduction::mean;
    grid.setContent(snapshot, options);
    QTRY_VERIFY(plot->reductionNote(0).startsWith(QStringLiteral("mean of ")) && !plot->isRefining());
    QVERIFY(sameValue(
        plot->colorMap(3)->cellValue(query, key),
        expectedBlock(*snapshot->rows[1].result, causal.head, plot->colorMap(3)->region(), cellRow, column)));
  }

  void zoomRevealsEveryCell() {
    const ViewSettings settings = longSettings(600);
    const SnapshotPointer snapshot = snapshotOf(settings);
    HeatmapGrid grid;
    grid.resize(700, 500);
    grid.show();
    grid.setContent(snapshot, settings.display);
    HeatmapPlot* plot = grid.plot();
    QTRY_VERIFY(!plot->isRefining() && plot->colorMap(0)->region().isReduced());

    plot->zoomMap(0, 300, 320, 100, 120);
    QTRY_VERIFY(!plot->isRefining() && !plot->colorMap(0)->region().isReduced());
    QVERIFY(plot->reductionNote(0).isEmpty());
    const HeadResult& head = snapshot->rows[0].result->heads[plot->mapKey(0).head];
    for (int query = 100; query < 120; ++query)
      for (int key = 300; key < 320; ++key)
        QCOMPARE(plot->colorMap(0)->cellValue(query, key), double(head.weights(query, key)));
    // The hit test names the cell under the pointer in the zoomed map.
    int map = -1, query = -1, key = -1;
    QVERIFY(plot->cellAt(plot->cellCentre(0, 111, 307), &map, &query, &key));
    QCOMPARE(map, 0);
    QCOMPARE(query, 111);
    QCOMPARE(key, 307);
    // The other maps kept their whole view; double-click (resetZoom) brings the whole map back.
    QVERIFY(plot->colorMap(1)->region().isReduced());
    plot->resetZoom(0);
    QTRY_VERIFY(!plot->isRefining() && plot->colorMap(0)->region().isReduced());
  }

  void zoomStaysInsideTheMap() {
    const ViewSettings settings = longSettings(600);
    HeatmapPlot plot;
    plot.resize(500, 400);
    plot.setContent(snapshotOf(settings), settings.display);
    plot.zoomMap(0, -300, 100, 550, 900);
    const QCPRange keys = plot.mapRect(0)->axis(QCPAxis::atBottom)->range();
    const QCPRange queries = plot.mapRect(0)->axis(QCPAxis::atLeft)->range();
    QCOMPARE(keys.lower, -0.5);
    QCOMPARE(queries.upper, 599.5);
    plot.zoomMap(0, 10, 10.2, 10, 10.2);  // less than a token: one token
    QCOMPARE(plot.mapRect(0)->axis(QCPAxis::atBottom)->range().size(), 1.0);
  }

  // Exports draw through FigureRenderer, which reduces each map to the pixels it has in that image: a small
  // PNG of a long text says under the grid which block each drawn cell is, twice the pixels per unit give
  // finer blocks on the same page, and a page with room for every cell draws them one by one, without a note.
  void exportsAreReducedForTheirOwnSize() {
    const ViewSettings settings = longSettings(600);
    const SnapshotPointer snapshot = snapshotOf(settings);
    const DisplayOptions options = settings.display;
    // The key block of the note for that page and pixels per unit (0: no note, the cells are not reduced).
    const auto keyBlock = [&](QSize page, double pixelsPerUnit, double* mapPixels) {
      FigureRenderer figure(snapshot, options);
      const FigureLayout layout = figure.layout(QSizeF(page), FigureStyle{}, pixelsPerUnit);
      *mapPixels = layout.mapSide() * pixelsPerUnit;
      for (const FigureText& text : layout.texts()) {
        const QRegularExpressionMatch match =
            QRegularExpression(QStringLiteral("each drawn cell is the max of (\\d+)\u00d7(\\d+) cells"))
                .match(text.text);
        if (text.role == FigureTextRole::note && match.hasMatch()) return match.captured(1).toInt();
      }
      return 0;
    };
    double pixels = 0.0;
    const int block = keyBlock(QSize(400, 300), 1.0, &pixels);
    QVERIFY(block > 1);
    QVERIFY(600.0 / block <= std::ceil(pixels) + 1);  // no more cells than the map has pixels
    const int sharper = keyBlock(QSize(400, 300), 2.0, &pixels);
    QVERIFY2(sharper > 0 && sharper < block,
             qPrintable(QStringLiteral("%1 then %2").arg(block).arg(sharper)));
    QCOMPARE(keyBlock(QSize(4000, 3000), 1.0, &pixels), 0);
    QVERIFY(pixels >= 600);

    // The files say so: the small export has the note (an SVG keeps several cells per unit, so its blocks are
    // finer than the PNG's), the large one has none.
    const auto svg = [&](QSize size) {
      return QString::fromUtf8(
          Exporter::renderImage(snapshot, options, std::nullopt, ImageRequest{ImageFormat::svg, size}));
    };
    QVERIFY(svg(QSize(400, 300)).contains(QStringLiteral("each drawn cell is the max of")));
    QVERIFY(!svg(QSize(4000, 3000)).contains(QStringLiteral("each drawn cell")));
  }

  void aLongTextLetsGoOfItsMatricesOnceDrawn() {
    const ViewSettings settings = longSettings(40);
    PreparedMaps prepare;
    prepare.quantities = {Quantity::weights};
    prepare.keyPixels = prepare.queryPixels = 16;
    const SnapshotPointer kept = snapshotOf(settings, prepare);
    QVERIFY(kept->keepsMatrices());
    prepare.keptBytes = 0;  // as if 40 tokens were a very long text
    const SnapshotPointer compact = snapshotOf(settings, prepare);
    QVERIFY(!compact->keepsMatrices());
    QCOMPARE(compact->rows[1].result->heads[0].weights.size(), Eigen::Index{0});
    // Its prepared maps were built before: the same as the kept snapshot's.
    for (int head = 0; head < 2; ++head) {
      const auto a = kept->takePreparedCells(1, head, Quantity::weights);
      const auto b = compact->takePreparedCells(1, head, Quantity::weights);
      QVERIFY(a && b);
      for (int row = 0; row < a->cells->valueSize(); ++row)
        for (int column = 0; column < a->cells->keySize(); ++column)
          QVERIFY(sameValue(a->cells->cell(column, row), b->cells->cell(column, row)));
    }
    // Every value is recomputed from q and k to float rounding, the masked ones included.
    for (int row = 0; row < 2; ++row)
      for (int query = 0; query < 40; ++query)
        for (int key = 0; key < 40; ++key)
          for (const Quantity quantity : {Quantity::rawScores, Quantity::scaledScores, Quantity::weights}) {
            const float expected = kept->value(row, 0, quantity, query, key);
            const float actual = compact->value(row, 0, quantity, query, key);
            if (std::abs(actual - expected) > 1e-5f * std::max(1.0f, std::abs(expected)))
              QFAIL(qPrintable(QStringLiteral("%1 (%2, %3) of mask %4: %5, kept %6")
                                   .arg(toString(quantity))
                                   .arg(query)
                                   .arg(key)
                                   .arg(row)
                                   .arg(actual)
                                   .arg(expected)));
          }
    // A zoom rebuilds cells from q and k too.
    const MapCells cells =
        buildMapCells(*compact, 1, 1, Quantity::weights, CellRegion::whole(40, 0, Reduction::max));
    const HeadResult& head = kept->rows[1].result->heads[1];
    for (int query = 0; query < 40; ++query)
      for (int key = 0; key < 40; ++key) {
        const double cell = cells.cells->cell(key, query);
        if (kept->isMasked(1, query, key))
          QVERIFY(std::isnan(cell));
        else
          QVERIFY(std::abs(cell - head.weights(query, key)) < 1e-6);
      }
    // The matrices are gone, so they cannot be exported; the error says where to get them.
    try {
      Exporter::toCsv(*compact);
      QFAIL("the CSV of let-go matrices was written");
    } catch (const Error& error) {
      QVERIFY(QString::fromUtf8(error.what()).contains(QStringLiteral("attnscope-cli")));
    }
    QVERIFY_THROWS_EXCEPTION(Error, Exporter::toJson(*compact));
    QVERIFY(!Exporter::toCsv(*kept).isEmpty());
  }

  // A long text computed with drawn parameters lets go of each group of heads as the engine computes it: the
  // snapshot has the maps, summary, softmax rows and statistics of one that let go of the whole result, bit
  // for bit, having held a group of heads (as many as the threads) at a time.
  void aLongTextsHeadsAreLetGoAsTheyAreComputed_data() {
    QTest::addColumn<HeadSummary>("summary");
    QTest::newRow("no summary") << HeadSummary::none;
    QTest::newRow("mean") << HeadSummary::mean;
    QTest::newRow("max") << HeadSummary::max;
  }
  void aLongTextsHeadsAreLetGoAsTheyAreComputed() {
    QFETCH(HeadSummary, summary);
    qputenv("ATTNSCOPE_THREADS", "2");
    const auto restoreThreads = qScopeGuard([] { qunsetenv("ATTNSCOPE_THREADS"); });
    ViewSettings settings = longSettings(150);
    settings.heads = 5;
    settings.dOut = 10;
    settings.masks = {MaskSpec::parse("none"), MaskSpec::parse("causal"), MaskSpec::parse("window:3")};
    settings.display.headSummary = summary;
    AttentionInput input = AttentionInput::fromSettings(settings);
    input.headSummary = summary;
    PreparedMaps prepare;
    prepare.quantities = {Quantity::weights, Quantity::scaledScores};
    prepare.keyPixels = prepare.queryPixels = 40;
    prepare.keptBytes = 0;
    const CancelToken never;
    ParameterCache parameters;
    const auto backend = make_backend(Device::cpu);
    const SnapshotPointer streamed = computeSnapshot(input, *backend, never, prepare, &parameters);
    const SnapshotPointer whole = computeSnapshot(input, *make_backend(Device::cpu), never, prepare);
    QCOMPARE(streamed->mostHeadsHeld, 2);
    QCOMPARE(whole->mostHeadsHeld, 5);
    QVERIFY(!streamed->keepsMatrices());
    const int heads = summary == HeadSummary::none ? 5 : 6;
    QCOMPARE(streamed->headCount(), heads);
    QCOMPARE(streamed->headStats.size(), whole->headStats.size());
    for (std::size_t i = 0; i < whole->headStats.size(); ++i) {
      QCOMPARE(streamed->headStats[i].entropy_bits, whole->headStats[i].entropy_bits);
      QCOMPARE(streamed->headStats[i].previous_token, whole->headStats[i].previous_token);
    }
    for (int row = 0; row < 3; ++row) {
      for (int head = 0; head < 5; ++head) {
        QCOMPARE(streamed->rows[row].result->heads[head].weights.size(), Eigen::Index{0});
        ATTNSCOPE_COMPARE_EXACT(streamed->rows[row].softmaxRows[head].maximum,
                                whole->rows[row].softmaxRows[head].maximum, "maximum");
        ATTNSCOPE_COMPARE_EXACT(streamed->rows[row].softmaxRows[head].inverseSum,
                                whole->rows[row].softmaxRows[head].inverseSum, "inverseSum");
      }
      if (summary != HeadSummary::none) {
        ATTNSCOPE_COMPARE_EXACT(streamed->summaries[row].weights, whole->summaries[row].weights, "weights");
        ATTNSCOPE_COMPARE_EXACT(streamed->summaries[row].scores, whole->summaries[row].scores, "scores");
      }
      for (int head = 0; head < heads; ++head)
        for (const Quantity quantity : prepare.quantities) {
          const auto a = streamed->takePreparedCells(row, head, quantity);
          const auto b = whole->takePreparedCells(row, head, quantity);
          QVERIFY(a && b);
          QCOMPARE(a->cells->keySize(), b->cells->keySize());
          QCOMPARE(a->cells->valueSize(), b->cells->valueSize());
          QVERIFY(a->cells->keySize() < 150);  // reduced
          QCOMPARE(a->percentile99, b->percentile99);
          for (int cellRow = 0; cellRow < a->cells->valueSize(); ++cellRow)
            for (int column = 0; column < a->cells->keySize(); ++column)
              QVERIFY(sameValue(a->cells->cell(column, cellRow), b->cells->cell(column, cellRow)));
        }
    }
  }

  void aLongTextRecomputesItsScoresFromQAndK() {
    ViewSettings settings = longSettings(1100);
    settings.masks = {MaskSpec::parse("causal")};
    settings.heads = 1;
    settings.display.quantities = {Quantity::rawScores, Quantity::weights};
    // Shown or not, a long text's n² scores are not kept: ticking a score map must not run the engine again.
    const SnapshotPointer withoutScores = snapshotOf(settings);
    QCOMPARE(withoutScores->rows[0].result->heads[0].scores.size(), Eigen::Index{0});
    ViewSettings weightsOnly = settings;
    weightsOnly.display.quantities = {Quantity::weights};
    QVERIFY(settings.sameComputation(weightsOnly));
    // The engine's own scores, for comparison.
    AttentionInput input = AttentionInput::fromSettings(settings);
    input.config.keep_scores = true;
    const auto backend = make_backend(Device::cpu);
    const CancelToken never;
    const SnapshotPointer scored = computeSnapshot(input, *backend, never, {});
    QCOMPARE(scored->rows[0].result->heads[0].scores.size(), Eigen::Index{1100 * 1100});
    // Hover and the exports recompute them from q and k.
    QCOMPARE(withoutScores->value(0, 0, Quantity::rawScores, 700, 300),
             scored->value(0, 0, Quantity::rawScores, 700, 300));
    QCOMPARE(withoutScores->value(0, 0, Quantity::rawScores, 300, 700),
             scored->value(0, 0, Quantity::rawScores, 300, 700));  // masked: q·k before masked_fill
    const QByteArray csv = Exporter::toCsv(*withoutScores);
    QVERIFY(csv.size() > 1100 * 1100 * 10);
    QVERIFY(csv.startsWith("mask,"));
    // A short text keeps them whatever is shown.
    QVERIFY(snapshotOf(longSettings(12))->rows[0].result->heads[0].scores.size() != 0);
    ViewSettings mean = settings;
    mean.display.reduction = Reduction::mean;
    QVERIFY(settings.sameComputation(mean));
  }

  void theReductionIsASavedDisplaySetting() {
    ViewSettings settings = ViewSettings::defaults();
    QVERIFY(settings.display.reduction == Reduction::max);
    settings.display.reduction = Reduction::mean;
    const QJsonObject json = settings.toJson();
    QCOMPARE(json[QStringLiteral("reduction")].toString(), QStringLiteral("mean"));
    QVERIFY(ViewSettings::fromJson(json).display.reduction == Reduction::mean);
    QJsonObject bad = json;
    bad[QStringLiteral("reduction")] = QStringLiteral("median");
    try {
      ViewSettings::fromJson(bad);
      QFAIL("an unknown reduction was accepted");
    } catch (const Error& error) {
      QVERIFY(QString::fromUtf8(error.what()).contains(QStringLiteral("reduction")));
      QVERIFY(QString::fromUtf8(error.what()).contains(QStringLiteral("max or mean")));
    }

    SettingsPanel panel;
    panel.setSettings(ViewSettings::defaults());
    QSignalSpy changed(&panel, &SettingsPanel::settingsChanged);
    auto* combo = panel.findChild<QComboBox*>(QStringLiteral("reduction"));
    QVERIFY(combo);
    combo->setCurrentIndex(combo->findData(int(Reduction::mean)));
    QCOMPARE(changed.count(), 1);
    QVERIFY(changed.at(0).at(0).value<ViewSettings>().display.reduction == Reduction::mean);
  }

  void anEditWhileIdleComputesAtOnce() {
    ComputeController controller;
    controller.setDebounceInterval(60000);
    QSignalSpy ready(&controller, &ComputeController::snapshotReady);
    controller.request(ViewSettings::defaults());
    QVERIFY(ready.wait(20000));  // long before the debounce interval
    // While one computes (3,000 tokens take a while), a newer edit waits for the debounce and cancels it.
    const ViewSettings first = longSettings(3000);
    ViewSettings second = first;
    second.text += QStringLiteral(" more");
    controller.request(first);
    QVERIFY(controller.isBusy());
    controller.request(second);
    QTest::qWait(300);
    QCOMPARE(ready.count(), 1);
    QVERIFY(controller.isBusy());
    controller.cancel();
  }

  // The worker hands the engine the snapshot the window still shows: an edit copies the causal rows before
  // the first token whose embedding changed (in blocks of 64 queries), and its numbers are a fresh
  // computation's. A snapshot nothing holds any more is not kept for it.
  void anEditCopiesTheRowsItLeftAlone() {
    ComputeController controller;
    QSignalSpy ready(&controller, &ComputeController::snapshotReady);
    const ViewSettings before = longSettings(300);
    ViewSettings after = before;
    after.text += QStringLiteral("x");  // the last token changes
    controller.requestNow(before);
    QVERIFY(ready.wait(20000));
    controller.requestNow(after);
    QVERIFY(ready.wait(20000));
    auto edited = ready.at(1).at(0).value<SnapshotPointer>();

    const Matrix old = AttentionInput::fromSettings(before).embeddings;
    const Matrix now = AttentionInput::fromSettings(after).embeddings;
    Eigen::Index firstChanged = 0;
    while (firstChanged < now.rows() && old.row(firstChanged) == now.row(firstChanged)) ++firstChanged;
    QVERIFY(firstChanged >= 64);  // else the check below would prove nothing
    const SnapshotPointer fresh = snapshotOf(after);
    QCOMPARE(edited->maskCount(), 2);
    for (int row = 0; row < edited->maskCount(); ++row) {
      const bool causal = edited->rows[row].mask.kind == MaskKind::causal;
      QCOMPARE(edited->rows[row].result->copied_rows, causal ? firstChanged / 64 * 64 : Eigen::Index{0});
      ATTNSCOPE_COMPARE_EXACT(edited->rows[row].result->output, fresh->rows[row].result->output,
                              "edited->rows[row].result->output");
      for (int head = 0; head < edited->mechanismHeadCount(); ++head) {
        ATTNSCOPE_COMPARE_EXACT(edited->rows[row].result->heads[head].weights,
                                fresh->rows[row].result->heads[head].weights,
                                "edited->rows[row].result->heads[head].weights");
        ATTNSCOPE_COMPARE_EXACT(edited->rows[row].result->heads[head].context,
                                fresh->rows[row].result->heads[head].context,
                                "edited->rows[row].result->heads[head].context");
      }
    }

    edited.reset();  // nothing holds the snapshots now
    ready.clear();
    controller.requestNow(before);
    QVERIFY(ready.wait(20000));
    for (const MaskedResult& row : ready.at(0).at(0).value<SnapshotPointer>()->rows)
      QCOMPARE(row.result->copied_rows, Eigen::Index{0});
  }

  // An edit's maps take the rows of cells whose query rows the engine copied from the earlier snapshot's
  // kept copies, and equal a fresh computation's maps cell for cell, reduced or not, at each place of edit.
  void anEditsMapsTakeTheCellRowsItLeftAlone_data() {
    QTest::addColumn<int>("pixels");
    QTest::addColumn<int>("editedWord");
    for (const int pixels : {0, 60})
      for (const auto& [place, word] :
           {std::pair{"end", 299}, std::pair{"middle", 150}, std::pair{"start", 0}})
        QTest::newRow(qPrintable(QStringLiteral("%1 px, %2").arg(pixels).arg(QLatin1String(place))))
            << pixels << word;
  }
  // Typing: once the window shows an edit's snapshot, the one before it is held by the worker alone, and the
  // next edit's results take its matrices over (the same memory) instead of allocating and copying, with a
  // fresh computation's numbers.
  void anEditReusesTheMatricesOfTheSnapshotBeforeTheLast() {
    ComputeController controller;
    QSignalSpy ready(&controller, &ComputeController::snapshotReady);
    ViewSettings settings = longSettings(300);
    const auto next = [&] {
      ready.clear();
      controller.requestNow(settings);
      if (!ready.wait(20000)) qFatal("no snapshot");
      SnapshotPointer snapshot = ready.at(0).at(0).value<SnapshotPointer>();
      ready.clear();
      return snapshot;
    };
    const auto causalWeights = [](const SnapshotPointer& snapshot) {
      for (const MaskedResult& row : snapshot->rows)
        if (row.mask.kind == MaskKind::causal) return row.result->heads.front().weights.data();
      return static_cast<const float*>(nullptr);
    };
    SnapshotPointer shown = next();
    const float* first = causalWeights(shown);
    settings.text += QStringLiteral("x");  // the last token changes
    shown = next();                        // the window lets the first go: the worker alone holds it
    settings.text += QStringLiteral("y");
    shown = next();
    QCOMPARE(causalWeights(shown), first);

    const SnapshotPointer fresh = snapshotOf(settings);
    for (int row = 0; row < shown->maskCount(); ++row)
      for (int head = 0; head < shown->mechanismHeadCount(); ++head) {
        const HeadResult& edited = shown->rows[row].result->heads[head];
        const HeadResult& expected = fresh->rows[row].result->heads[head];
        ATTNSCOPE_COMPARE_EXACT(edited.scores, expected.scores, "edited.scores");
        ATTNSCOPE_COMPARE_EXACT(edited.weights, expected.weights, "edited.weights");
        ATTNSCOPE_COMPARE_EXACT(edited.context, expected.context, "edited.context");
      }
  }

  void anEditsMapsTakeTheCellRowsItLeftAlone() {
    QFETCH(int, pixels);
    QFETCH(int, editedWord);
    ViewSettings before = longSettings(300);
    before.heads = 3;
    before.dOut = 6;
    before.masks = {MaskSpec::parse("none"), MaskSpec::parse("causal"), MaskSpec::parse("window:3")};
    ViewSettings after = before;
    QStringList words = after.text.split(QLatin1Char(' '));
    words[editedWord] = QStringLiteral("edited");
    after.text = words.join(QLatin1Char(' '));
    PreparedMaps prepare;
    prepare.quantities = {Quantity::weights, Quantity::rawScores};
    prepare.keyPixels = prepare.queryPixels = pixels;
    const CancelToken never;
    ParameterCache parameters;
    const auto backend = make_backend(Device::cpu);
    const SnapshotPointer earlier =
        computeSnapshot(AttentionInput::fromSettings(before), *backend, never, prepare, &parameters);
    QCOMPARE(earlier->reusable.maps.size(), std::size_t{3 * 3 * 2});  // masks × heads × quantities
    const SnapshotPointer edited = computeSnapshot(AttentionInput::fromSettings(after), *backend, never,
                                                   prepare, &parameters, earlier.get());
    // Every row of cells inside the rows the engine copied is taken: the causal mask's before the edit, the
    // window's before and after it.
    int copiedCellRows = 0;
    for (const MapCells& map : edited->prepared.maps)
      for (int cellRow = 0; cellRow < map.region.queryCells(); ++cellRow) {
        const int begin = map.region.queryBegin + cellRow * map.region.queryBlock;
        const int end = std::min(map.region.queryEnd, begin + map.region.queryBlock);
        for (const auto& [first, last] : edited->rows[map.maskRow].result->copied_ranges)
          copiedCellRows += first <= begin && end <= last ? 1 : 0;
      }
    QVERIFY(copiedCellRows > 0);
    QCOMPARE(edited->reusedCellRows, copiedCellRows);
    const SnapshotPointer fresh = snapshotOf(after, prepare);
    QCOMPARE(edited->prepared.maps.size(), fresh->prepared.maps.size());
    for (std::size_t i = 0; i < fresh->prepared.maps.size(); ++i) {
      const MapCells& got = edited->prepared.maps[i];
      const MapCells& want = fresh->prepared.maps[i];
      QCOMPARE(got.maskRow, want.maskRow);
      QCOMPARE(got.head, want.head);
      QVERIFY(got.quantity == want.quantity);
      QVERIFY(got.region == want.region);
      QCOMPARE(got.anyMasked, want.anyMasked);
      QVERIFY(sameCell(got.minimum, want.minimum) && sameCell(got.maximum, want.maximum));
      QVERIFY(sameCell(got.percentile99, want.percentile99));
      for (int row = 0; row < want.cells->valueSize(); ++row)
        for (int column = 0; column < want.cells->keySize(); ++column)
          QVERIFY2(sameCell(got.cells->cell(column, row), want.cells->cell(column, row)),
                   qPrintable(QStringLiteral("map %1, cell (%2, %3)").arg(i).arg(row).arg(column)));
    }
  }

  // The window's background work (the computation, its maps, freeing the snapshot it replaces) leaves Qt's
  // global pool alone: QPainter borrows that pool to fill large areas, and a repaint waited for our work
  // whenever it held the pool's threads.
  void aComputationLeavesQtsGlobalPoolFree() {
    ComputeController controller;
    controller.setMapPixels([](const ViewSettings&) { return QSize(60, 60); });
    QSignalSpy ready(&controller, &ComputeController::snapshotReady);
    ViewSettings settings = longSettings(1200);
    settings.heads = 8;
    settings.dOut = 64;
    QThreadPool* global = QThreadPool::globalInstance();
    int mostActive = 0, polls = 0;
    for (int edit = 0; edit < 3; ++edit) {
      settings.text += QStringLiteral(" w%1").arg(edit);  // each snapshot replaces (and frees) the one before
      controller.requestNow(settings);
      QElapsedTimer waited;
      waited.start();
      while (ready.count() <= edit && waited.elapsed() < 60000) {
        mostActive = std::max(mostActive, global->activeThreadCount());
        ++polls;
        QTest::qWait(1);
      }
      QCOMPARE(ready.count(), edit + 1);
    }
    QVERIFY(polls >= 10);  // the loop looked while the work ran
    QCOMPARE(mostActive, 0);
  }

  // The computation runs below the GUI thread's priority, so that painting and typing get a core when the
  // computation fills them all.
  void computationsRunBelowTheGuiThreadsPriority() {
#if !defined(__linux__)
    QSKIP("thread priorities are set on Linux only");
#endif
    const auto niceOf = [](const QString& task) {
      QFile stat(QStringLiteral("/proc/self/task/%1/stat").arg(task));
      if (!stat.open(QIODevice::ReadOnly)) return -100;
      // After "pid (comm) ": state is field 3, nice field 19.
      const QString text = QString::fromLatin1(stat.readAll());
      const QStringList fields = text.mid(text.lastIndexOf(QLatin1Char(')')) + 2).split(QLatin1Char(' '));
      return fields.size() > 16 ? fields[16].toInt() : -100;
    };
    const auto nices = [&] {
      std::map<QString, int> byTask;
      for (const QString& task :
           QDir(QStringLiteral("/proc/self/task")).entryList(QDir::Dirs | QDir::NoDotAndDotDot))
        byTask[task] = niceOf(task);
      return byTask;
    };
    const std::map<QString, int> before = nices();
    ComputeController controller;
    QSignalSpy ready(&controller, &ComputeController::snapshotReady);
    controller.requestNow(longSettings(300));
    QVERIFY(ready.wait(20000));
    const std::map<QString, int> after = nices();
    QCOMPARE(after.at(QString::number(QCoreApplication::applicationPid())), 0);  // the GUI thread
    int lowered = 0;
    for (const auto& [task, nice] : after)
      if (!before.contains(task) && nice == 5) ++lowered;
    // The controller's worker, and the helpers started from it (the engine's; the pool's for map cells).
    QVERIFY(lowered >= 1);
  }

  // Between edits, freed blocks (n × n matrices, from any thread, of any size) stay mapped for the next
  // edit's matrices, and go back to the kernel once the edits stop. Counted on the blocks' own pages
  // (mincore): the process's resident size also moves with whatever other threads free meanwhile.
  void freedMemoryStaysMappedUntilReleased() {
    if (!keepFreedMemoryMapped())
      QSKIP("the allocator is not glibc's (a sanitizer's, or another C library's): nothing to keep");
    const long page = sysconf(_SC_PAGESIZE);
    std::vector<std::pair<std::uintptr_t, std::uintptr_t>> pages;  // each block's whole pages
    const auto residentMiB = [&] {
      std::size_t resident = 0;
      for (const auto& [begin, end] : pages) {
        std::vector<unsigned char> inCore((end - begin) / page);
        // An unmapped range (the heap shrunk) fails with ENOMEM: none of it is resident.
        if (mincore(reinterpret_cast<void*>(begin), end - begin, inCore.data()) != 0) continue;
        for (const unsigned char flags : inCore) resident += flags & 1;
      }
      return static_cast<double>(resident) * page / double(1 << 20);
    };
    releaseFreedMemory();
    const auto allocate = [&](std::vector<std::vector<float>>& matrices, std::size_t floats) {
      matrices.emplace_back(floats, 1.0f);  // written
      const auto address = reinterpret_cast<std::uintptr_t>(matrices.back().data());
      const std::uintptr_t bytes = matrices.back().size() * sizeof(float);
      pages.emplace_back((address + page - 1) / page * page, (address + bytes) / page * page);
    };
    {
      std::vector<std::vector<float>> matrices;
      for (int i = 0; i < 8; ++i) allocate(matrices, std::size_t{2} << 20);  // 8 MiB each
      // And on another thread, as the worker allocates, a block larger than a thread arena's heap: one
      // head's weights at 4,096 tokens.
      double withLarge = 0;
      std::thread([&] {
        std::vector<std::vector<float>> large;
        allocate(large, std::size_t{4096} * 4096);  // 64 MiB
        withLarge = residentMiB();
      }).join();
      QVERIFY2(withLarge >= 126.0, qPrintable(QStringLiteral("%1 MiB").arg(withLarge)));
      QVERIFY(residentMiB() >= 62.0);
    }
    const double kept = residentMiB();
    QVERIFY2(kept >= 112.0, qPrintable(QStringLiteral("%1 MiB kept").arg(kept)));
    releaseFreedMemory();
    const double released = kept - residentMiB();
    QVERIFY2(released >= 112.0, qPrintable(QStringLiteral("%1 MiB released").arg(released)));
  }

  void theWorkerPreparesMapsAtTheSizeAsked() {
    ComputeController controller;
    controller.setMapPixels([](const ViewSettings&) { return QSize(50, 30); });
    QSignalSpy ready(&controller, &ComputeController::snapshotReady);
    controller.requestNow(longSettings(300));
    QVERIFY(ready.wait(20000));
    const auto snapshot = ready.at(0).at(0).value<SnapshotPointer>();
    const auto cells = snapshot->takePreparedCells(0, 0, Quantity::weights);
    QVERIFY(cells);
    QCOMPARE(cells->region.keyBlock, 6);
    QCOMPARE(cells->region.queryBlock, 10);
    QCOMPARE(cells->cells->keySize(), 50);
    QCOMPARE(cells->cells->valueSize(), 30);
  }
};

QTEST_MAIN(TestLargeMaps)
#include "test_large_maps.moc"
