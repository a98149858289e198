// Compare in the window (issue 21): input B computed with A's settings, the grid of A − B per head (and A's
// and B's weights), the Heads table's total variation, B's problems beside its editor, sessions and the
// headless export. The numbers are checked against the engine's compare_heads on results computed here.

#include <QComboBox>
#include <QFileInfo>
#include <QHeaderView>
#include <QImage>
#include <QLineEdit>
#include <QProcess>
#include <QSortFilterProxyModel>
#include <QSvgRenderer>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <cmath>

#include "../support/gpt2_checkpoint.hpp"
#include "attnscope/compare.hpp"
#include "attnscope/gpt2.hpp"
#include "main_window.hpp"
#include "panels/compare_editor.hpp"
#include "panels/head_stats_model.hpp"
#include "panels/heads_panel.hpp"
#include "plot/compare_plot.hpp"
#include "plot/heatmap_grid.hpp"
#include "session/session_file.hpp"
#include "text.hpp"
#include "ui_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;
using namespace attnscope::ui::testing;

namespace {

const QString kTextA = QStringLiteral("Your journey starts with one step");  // 6 tokens
const QString kTextB = QStringLiteral("Your trip starts with one");          // 5 tokens

ViewSettings comparing(const QString& b) {
  ViewSettings settings = ViewSettings::defaults();
  settings.text = kTextA;
  settings.compareText = b;
  return settings;
}

// compare_heads on A's and B's results computed by the engine alone, for mask row `row` of `settings`.
std::vector<HeadComparison> expectedComparison(const ViewSettings& settings, int row) {
  ViewSettings b = settings;
  b.text = *settings.compareText;
  const MaskSpec& mask = settings.masks.at(static_cast<std::size_t>(row));
  return compare_heads(reference(settings, mask).result, reference(b, mask, settings.text).result);
}

}  // namespace

class TestCompareGrid : public QObject {
  Q_OBJECT

  QTemporaryDir m_settingsDirectory;

 private slots:
  void initTestCase() {
    QVERIFY(m_settingsDirectory.isValid());
    isolateSettings(m_settingsDirectory);
  }

  void differenceCellsAreAMinusBOfTheEngine() {
    const ViewSettings settings = comparing(kTextB);
    MainWindow window(settings);
    window.resize(1400, 900);
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(window.grid()->showsComparison());
    ComparePlot* plot = window.grid()->comparePlot();
    QVERIFY(window.grid()->mapsWidget() == plot);
    const int heads = settings.heads;
    QCOMPARE(plot->mapCount(), static_cast<int>(settings.masks.size()) * heads);
    for (int map = 0; map < plot->mapCount(); ++map) {
      const ComparePlot::MapKey key = plot->mapKey(map);
      QVERIFY(key.kind == ComparePlot::MapKind::difference);
      const HeadComparison expected = expectedComparison(settings, key.maskRow).at(key.head);
      const int m = 5;
      QCOMPARE(static_cast<int>(expected.weights_diff.rows()), m);
      QCOMPARE(plot->tokenCount(map), 6);
      int compared = 0;
      for (int query = 0; query < 6; ++query)
        for (int column = 0; column < 6; ++column) {
          const double cell = plot->cellValue(map, query, column);
          if (query >= m || column >= m) {
            QVERIFY2(std::isnan(cell), "a cell without a partner in B must be hatched (NaN)");
            continue;
          }
          if (settings.masks[key.maskRow].kind == MaskKind::causal && column > query) {
            QVERIFY2(std::isnan(cell), "a cell masked in both texts is hatched");
            continue;
          }
          QCOMPARE(cell, static_cast<double>(expected.weights_diff(query, column)));
          ++compared;
        }
      QVERIFY(compared >= 15);
      // The diverging range is symmetric around 0.
      QCOMPARE(plot->colorRange(map).lower, -plot->colorRange(map).upper);
      QVERIFY(plot->mapTitle(map).contains(QString::number(expected.total_variation, 'f', 3)));
      QVERIFY(plot->rowLabels(map).at(5).contains(QStringLiteral("A only")));
      QCOMPARE(plot->rowLabels(map).at(1), QStringLiteral("journey | trip"));
    }
    // One range shared by every difference map.
    QCOMPARE(plot->colorRange(0), plot->colorRange(plot->mapCount() - 1));
  }

  void headsTableSortsByTotalVariation() {
    const ViewSettings settings = comparing(kTextB);
    MainWindow window(settings);
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    QTableView* table = window.heads()->table();
    QVERIFY(!table->isColumnHidden(HeadStatsModel::kTotalVariation));
    auto* sorted = qobject_cast<QSortFilterProxyModel*>(table->model());
    auto* stats = qobject_cast<HeadStatsModel*>(sorted->sourceModel());
    QCOMPARE(stats->rowCount(), static_cast<int>(settings.masks.size()) * settings.heads);
    for (int row = 0; row < stats->rowCount(); ++row) {
      const HeadStatsModel::Place place = stats->placeOf(row);
      const double expected = expectedComparison(settings, place.maskRow).at(place.head).total_variation;
      QCOMPARE(stats->data(stats->index(row, HeadStatsModel::kTotalVariation), Qt::UserRole).toDouble(),
               expected);
    }
    table->sortByColumn(HeadStatsModel::kTotalVariation, Qt::DescendingOrder);
    double previous = 2.0;
    for (int row = 0; row < sorted->rowCount(); ++row) {
      const double value =
          sorted->data(sorted->index(row, HeadStatsModel::kTotalVariation), Qt::UserRole).toDouble();
      QVERIFY(value <= previous);
      previous = value;
    }
  }

  void aBAndDifferenceShowsBothTextsWeights() {
    ViewSettings settings = comparing(kTextB);
    settings.display.compareView = CompareView::aBAndDifference;
    MainWindow window(settings);
    window.resize(1400, 900);
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    ComparePlot* plot = window.grid()->comparePlot();
    QCOMPARE(plot->mapCount(), static_cast<int>(settings.masks.size()) * 3 * settings.heads);
    ViewSettings b = settings;
    b.text = kTextB;
    for (int map = 0; map < plot->mapCount(); ++map) {
      const ComparePlot::MapKey key = plot->mapKey(map);
      if (key.kind == ComparePlot::MapKind::difference) continue;
      const ViewSettings& side = key.kind == ComparePlot::MapKind::a ? settings : b;
      const bool isB = key.kind != ComparePlot::MapKind::a;
      const Reference expected =
          reference(side, settings.masks.at(key.maskRow), isB ? std::optional(settings.text) : std::nullopt);
      const int n = static_cast<int>(expected.tokens.size());
      QCOMPARE(plot->tokenCount(map), n);
      for (int query = 0; query < n; ++query)
        for (int column = 0; column < n; ++column) {
          const double cell = plot->cellValue(map, query, column);
          if (expected.result.mask(query, column))
            QVERIFY(std::isnan(cell));
          else
            QCOMPARE(cell, static_cast<double>(expected.result.heads.at(key.head).weights(query, column)));
        }
    }
    // The combo box switches back to the difference alone, without computing again.
    const quint64 started = window.controller()->startedCount();
    QComboBox* view = window.compareEditor()->viewField();
    view->setCurrentIndex(view->findData(static_cast<int>(CompareView::difference)));
    emit view->activated(view->currentIndex());
    QCOMPARE(plot->mapCount(), static_cast<int>(settings.masks.size()) * settings.heads);
    QCOMPARE(window.controller()->startedCount(), started);
  }

  void hoverShowsBothWeightsAndTheDifference() {
    const ViewSettings settings = comparing(kTextB);
    MainWindow window(settings);
    window.resize(1400, 900);
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    ComparePlot* plot = window.grid()->comparePlot();
    const HeadComparison expected = expectedComparison(settings, 0).at(1);
    ViewSettings b = settings;
    b.text = kTextB;
    const Reference referenceA = reference(settings, settings.masks[0]);
    const Reference referenceB = reference(b, settings.masks[0], settings.text);
    int map = -1;
    for (int index = 0; index < plot->mapCount(); ++index)
      if (plot->mapKey(index).maskRow == 0 && plot->mapKey(index).head == 1) map = index;
    QVERIFY(map >= 0);
    const QString tip = plot->toolTipFor(map, 2, 1);
    QVERIFY2(tip.contains(formatValue(referenceA.result.heads[1].weights(2, 1))), qPrintable(tip));
    QVERIFY2(tip.contains(formatValue(referenceB.result.heads[1].weights(2, 1))), qPrintable(tip));
    QVERIFY2(tip.contains(formatValue(expected.weights_diff(2, 1))), qPrintable(tip));
    QVERIFY(plot->toolTipFor(map, 5, 0).contains(QStringLiteral("no partner in B")));
    // The pointer finds the cell it is over.
    plot->replot();
    int hitMap = -1, query = -1, key = -1;
    QVERIFY(plot->cellAt(plot->cellCentre(map, 2, 1), &hitMap, &query, &key));
    QCOMPARE(hitMap, map);
    QCOMPARE(query, 2);
    QCOMPARE(key, 1);
    // The pointer there hovers A's cell everywhere (chips, editor); a click selects A's query in that map.
    QTest::mouseMove(plot, plot->cellCentre(map, 2, 1).toPoint());
    QTRY_COMPARE(window.model()->hoveredQuery(), 2);
    QCOMPARE(window.model()->hoveredKey(), 1);
    QTest::mouseClick(plot, Qt::LeftButton, {}, plot->cellCentre(map, 3, 0).toPoint());
    QCOMPARE(window.model()->selection(), (QuerySelection{3, 0, 1}));
    // The cell of a row A has and B has not: no partner, but still A's.
    QTest::mouseMove(plot, plot->cellCentre(map, 5, 0).toPoint());
    QTRY_COMPARE(window.model()->hoveredQuery(), 5);
  }

  void turningCompareOffRestoresTheGridWithoutComputing() {
    MainWindow window(comparing(kTextB));
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(window.grid()->showsComparison());
    QVERIFY(window.compareEditor()->isVisible());
    const quint64 started = window.controller()->startedCount();
    window.compareEditor()->toggleAction()->trigger();
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(!window.model()->settings().compareText);
    QVERIFY(!window.grid()->showsComparison());
    QVERIFY(!window.model()->comparison());
    QVERIFY(window.grid()->mapsWidget() != window.grid()->comparePlot());
    QVERIFY(window.grid()->plot()->mapCount() > 0);
    QVERIFY(!window.compareEditor()->isVisible());
    QVERIFY(window.heads()->table()->isColumnHidden(HeadStatsModel::kTotalVariation));
    QCOMPARE(window.controller()->startedCount(), started);
    // On again: B starts from the text it had.
    window.compareEditor()->toggleAction()->trigger();
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(window.model()->settings().compareText.value_or(QString()), kTextB);
    QVERIFY(window.grid()->showsComparison());
  }

  void turningCompareOnStartsFromText() {
    ViewSettings settings = ViewSettings::defaults();
    settings.text = kTextA;
    MainWindow window(settings);
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(!window.compareEditor()->isVisible());
    window.compareEditor()->toggleAction()->trigger();
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(window.model()->settings().compareText.value_or(QString()), kTextA);
    ComparePlot* plot = window.grid()->comparePlot();
    QVERIFY(plot->mapCount() > 0);
    QCOMPARE(plot->cellValue(0, 1, 0), 0.0);  // the same text: no difference
    // Typing in B's field computes the comparison again.
    QLineEdit* field = window.compareEditor()->textField();
    field->selectAll();
    QTest::keyClicks(field, kTextB);
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(window.model()->comparison()->b->tokenCount(), 5);
  }

  // README: "View ▸ Compare with Text B (Ctrl+Shift+B)".
  void theShortcutTurnsCompareOnAndOff() {
    MainWindow window;
    window.show();
    window.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    QVERIFY(waitForIdle(window.controller()));
    QTest::keyClick(&window, Qt::Key_B, Qt::ControlModifier | Qt::ShiftModifier);
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(window.model()->settings().compareText.has_value());
    QVERIFY(window.grid()->showsComparison());
    QTest::keyClick(&window, Qt::Key_B, Qt::ControlModifier | Qt::ShiftModifier);
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(!window.model()->settings().compareText.has_value());
  }

  void badTextBShowsItsProblemAndKeepsA() {
    ViewSettings settings = comparing(QStringLiteral("a b c d e f g h i j k l"));
    settings.maxTokens = 8;
    MainWindow window(settings);
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(window.model()->snapshot());
    QCOMPARE(window.model()->snapshot()->tokenCount(), 6);
    QVERIFY2(window.compareEditor()->problem().startsWith(QStringLiteral("Text B: ")),
             qPrintable(window.compareEditor()->problem()));
    QVERIFY(!window.grid()->showsComparison());
    QVERIFY(window.grid()->plot()->mapCount() > 0);
    QVERIFY(window.grid()->problem().isEmpty());

    // An empty B says so, and a good B clears it.
    ViewSettings empty = window.model()->settings();
    empty.compareText = QString();
    window.model()->setSettings(empty);
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(window.compareEditor()->problem().contains(QStringLiteral("empty")));
    QVERIFY(window.model()->snapshot());
    ViewSettings good = window.model()->settings();
    good.compareText = kTextB;
    window.model()->setSettings(good);
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(window.compareEditor()->problem().isEmpty());
    QVERIFY(window.grid()->showsComparison());
  }

  void sessionsKeepBothTexts() {
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("compare.attnscope"));
    ViewSettings settings = comparing(kTextB);
    settings.display.compareView = CompareView::aBAndDifference;
    {
      MainWindow window(settings);
      QVERIFY(waitForIdle(window.controller()));
      QString error;
      QVERIFY2(window.saveSession(path, &error), qPrintable(error));
    }
    const ViewSettings loaded = SessionFile::load(path);
    QCOMPARE(loaded.text, kTextA);
    QCOMPARE(loaded.compareText.value_or(QString()), kTextB);
    QVERIFY(loaded.display.compareView == CompareView::aBAndDifference);
    // Without Compare, the session says so.
    const ViewSettings plain = ViewSettings::fromJson(ViewSettings::defaults().toJson());
    QVERIFY(!plain.compareText);
    MainWindow reopened;
    QVERIFY(waitForIdle(reopened.controller()));
    QString error;
    QVERIFY2(reopened.openSession(path, &error), qPrintable(error));
    QVERIFY(waitForIdle(reopened.controller()));
    QVERIFY(reopened.grid()->showsComparison());
    QCOMPARE(reopened.compareEditor()->textField()->text(), kTextB);
  }

  // A GPT-2 model: the layer shown, compared as attnscope-cli compares it (compare_layers of two runs).
  void aModelsLayerIsComparedAsTheCliDoes() {
    QTemporaryDir directory;
    const QString folder = directory.filePath(QStringLiteral("gpt2-tiny"));
    attnscope::testing::write_small_gpt2(folder.toStdString(), /*layers=*/2, /*heads=*/3, /*width=*/12,
                                         /*positions=*/24);
    ViewSettings settings = ViewSettings::defaults();
    settings.modelFolder = QFileInfo(folder).absoluteFilePath();
    settings.layer = 1;
    settings.text = QStringLiteral("hello the world, the world");
    settings.compareText = QStringLiteral("hello the world");
    MainWindow window(settings);
    window.resize(1400, 900);
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY2(window.compareEditor()->problem().isEmpty(), qPrintable(window.compareEditor()->problem()));
    QVERIFY(window.grid()->showsComparison());

    const Gpt2Model model = Gpt2Model::open(folder.toStdString());
    const auto run = [&model](const QString& text) {
      return model.run(model.tokenizer().encode(text.toStdString()), Gpt2RunOptions{});
    };
    std::vector<HeadComparison> expected;
    for (const HeadComparison& head : compare_layers(run(settings.text), run(*settings.compareText)))
      if (head.layer == 1) expected.push_back(head);
    QCOMPARE(static_cast<int>(expected.size()), 3);
    ComparePlot* plot = window.grid()->comparePlot();
    QCOMPARE(plot->mapCount(), static_cast<int>(settings.masks.size()) * 3);
    for (int map = 0; map < plot->mapCount(); ++map) {
      const HeadComparison& head = expected.at(plot->mapKey(map).head);
      const auto m = static_cast<int>(head.weights_diff.rows());
      QVERIFY(m > 0 && m < plot->tokenCount(map));
      for (int query = 0; query < plot->tokenCount(map); ++query)
        for (int key = 0; key < plot->tokenCount(map); ++key) {
          const double cell = plot->cellValue(map, query, key);
          if (query >= m || key >= m || key > query)
            QVERIFY(std::isnan(cell));
          else
            QCOMPARE(cell, static_cast<double>(head.weights_diff(query, key)));
        }
    }
    // The Heads table: the layer shown has the total variation, the others none.
    auto* sorted = qobject_cast<QSortFilterProxyModel*>(window.heads()->table()->model());
    auto* stats = qobject_cast<HeadStatsModel*>(sorted->sourceModel());
    for (int row = 0; row < stats->rowCount(); ++row) {
      const HeadStatsModel::Place place = stats->placeOf(row);
      const std::optional<double> value = stats->totalVariationOf(place);
      QCOMPARE(value.has_value(), place.layer == 1);
      if (value) QCOMPARE(*value, expected.at(place.head).total_variation);
    }

    // Editing B reuses each text's own model states: A's run recomputes nothing, B's only what was added.
    ViewSettings edited = window.model()->settings();
    edited.compareText = QStringLiteral("hello the world, the");
    window.model()->setSettings(edited);
    QVERIFY(waitForIdle(window.controller()));
    const ComparisonPointer comparison = window.model()->comparison();
    QVERIFY(comparison && comparison->b);
    QCOMPARE(comparison->b->text, *edited.compareText);
    QCOMPARE(window.model()->snapshot()->model->recomputedPositions, 0);
    const int bTokens = comparison->b->tokenCount();
    QVERIFY2(comparison->b->model->recomputedPositions < bTokens,
             qPrintable(QString::number(comparison->b->model->recomputedPositions)));
  }

  void headlessExportWritesTheComparisonGrid() {
    QTemporaryDir directory;
    const QString compared = directory.filePath(QStringLiteral("diff.png"));
    const QString plain = directory.filePath(QStringLiteral("plain.png"));
    const QString plainAgain = directory.filePath(QStringLiteral("plain-again.png"));
    Run run =
        runApp({"--preset", "book", "--compare-text", kTextB, "--export", compared, "--size", "900x700"});
    QVERIFY2(run.exitCode == 0, run.err.constData());
    const QImage image(compared);
    QCOMPARE(image.size(), QSize(900, 700));
    run = runApp({"--text", kTextA, "--export", plain, "--size", "900x700"});
    QVERIFY2(run.exitCode == 0, run.err.constData());
    QVERIFY(QImage(plain) != image);
    // Without --compare-text the export is what it was: the same file twice.
    run = runApp({"--text", kTextA, "--export", plainAgain, "--size", "900x700"});
    QVERIFY(QImage(plain) == QImage(plainAgain));
    // SVG and PDF too, by the suffix.
    const QString svg = directory.filePath(QStringLiteral("diff.svg"));
    const QString pdf = directory.filePath(QStringLiteral("diff.pdf"));
    for (const QString& path : {svg, pdf}) {
      run = runApp({"--preset", "book", "--compare-text", kTextB, "--export", path});
      QVERIFY2(run.exitCode == 0, run.err.constData());
    }
    QVERIFY(QSvgRenderer(svg).isValid());
    QFile pdfFile(pdf);
    QVERIFY(pdfFile.open(QIODevice::ReadOnly));
    QVERIFY(pdfFile.read(5) == "%PDF-");
    // File ▸ Export Image in the window, while it compares the same texts, writes the same image; without
    // Compare, the heatmaps.
    MainWindow window(comparing(kTextB));
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(window.grid()->showsComparison());
    const QString here = directory.filePath(QStringLiteral("here.png"));
    QString error;
    QVERIFY2(window.exportImage(here, ImageRequest(ImageFormat::png, QSize(900, 700))), qPrintable(error));
    const QImage drawnHere = QImage(here).convertToFormat(QImage::Format_RGB32);
    const QImage exported = image.convertToFormat(QImage::Format_RGB32);
    QCOMPARE(drawnHere.size(), exported.size());
    int differing = 0;
    for (int y = 0; y < exported.height(); ++y)
      for (int x = 0; x < exported.width(); ++x) differing += drawnHere.pixel(x, y) != exported.pixel(x, y);
    QCOMPARE(differing, 0);
    window.compareEditor()->toggleAction()->trigger();
    QVERIFY(waitForIdle(window.controller()));
    const QString heatmaps = directory.filePath(QStringLiteral("heatmaps.png"));
    QVERIFY(window.exportImage(heatmaps, ImageRequest(ImageFormat::png, QSize(900, 700))));
    QVERIFY(QImage(heatmaps).convertToFormat(QImage::Format_RGB32) != exported);
  }

  void headlessCompareErrorsAreTheClis() {
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("diff.png"));
    Run run = runApp({"--text", kTextA, "--compare-text", "", "--export", path});
    QCOMPARE(run.exitCode, 1);
    QVERIFY2(run.err.contains("--compare-text: the text is empty: type at least one word"),
             run.err.constData());
    QVERIFY(!QFile::exists(path));
    run = runApp(
        {"--text", kTextA, "--compare-text", "a b c d e f g h i j", "--max-tokens", "8", "--export", path});
    QCOMPARE(run.exitCode, 1);
    QVERIFY2(run.err.contains("--compare-text: "), run.err.constData());
    QVERIFY(!QFile::exists(path));
  }
};

QTEST_MAIN(TestCompareGrid)
#include "test_compare_grid.moc"
