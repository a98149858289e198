// The window as a person uses it: the launch view, typing, reshaping the grid from the settings, hover and
// selection, bad and long input, and what QSettings restores.

#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDockWidget>
#include <QFileDialog>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <functional>

#include "attnscope/embeddings.hpp"
#include "export/export_dialog.hpp"
#include "main_window.hpp"
#include "panels/busy_indicator.hpp"
#include "panels/detail_panel.hpp"
#include "panels/query_steps_model.hpp"
#include "panels/sentence_editor.hpp"
#include "panels/settings_panel.hpp"
#include "panels/token_chip_view.hpp"
#include "panels/token_strip.hpp"
#include "plot/attention_color_map.hpp"
#include "plot/heatmap_grid.hpp"
#include "session/session_file.hpp"
#include "support/test_support.hpp"
#include "ui_test_support.hpp"
#include "window_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;
using namespace attnscope::ui::testing;

class TestMainWindow : public QObject {
  Q_OBJECT

  QTemporaryDir m_settingsDirectory;

  static void typeText(MainWindow& window, const QString& text) {
    window.editor()->setFocus();
    window.editor()->selectAll();
    QTest::keyClick(window.editor(), Qt::Key_Delete);
    QTest::keyClicks(window.editor(), text);
  }

  template <typename Widget>
  static Widget* field(MainWindow& window, const char* name) {
    return settingsField<Widget>(window, name);
  }

  // A window that has the keyboard, as after a click on it: shortcuts reach only the active window.
  static bool activate(MainWindow& window) {
    window.resize(1400, 900);
    window.show();
    window.activateWindow();
    return QTest::qWaitForWindowActive(&window) && waitForIdle(window.controller());
  }

  // Answers the next modal dialog with `answer` (checked until one opens, so the key press that opens it
  // never waits forever); `seen` says which class it was.
  static void answerNextDialog(std::function<void(QDialog*)> answer, QString* seen) {
    auto* poll = new QTimer;
    QObject::connect(poll, &QTimer::timeout, poll, [poll, answer, seen] {
      auto* dialog = qobject_cast<QDialog*>(QApplication::activeModalWidget());
      if (!dialog) return;
      poll->stop();
      poll->deleteLater();
      *seen = QString::fromLatin1(dialog->metaObject()->className());
      answer(dialog);
    });
    poll->start(0);
  }

 private slots:
  void initTestCase() {
    QVERIFY(m_settingsDirectory.isValid());
    isolateSettings(m_settingsDirectory);
  }

  void init() { QSettings(QStringLiteral("AttnScope"), QStringLiteral("AttnScope")).clear(); }

  // Every plot of the window paints in Qt's paint event. QCustomPlot's default paints a replotted plot at
  // once, inside whatever changed it, together with every other panel that change had touched.
  void everyPlotPaintsInThePaintEvent() {
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    const QList<QCustomPlot*> plots = window.findChildren<QCustomPlot*>();
    QVERIFY(plots.size() >= 4);  // the maps, the comparison, the bars, the geometry
    for (const QCustomPlot* plot : plots)
      QVERIFY2(!plot->plottingHints().testFlag(QCP::phImmediateRefresh), plot->metaObject()->className());
  }

  void launchShowsTheBookSentence() {
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    const ViewSettings& settings = window.model()->settings();
    QCOMPARE(settings.text, QStringLiteral("Your journey starts with one step"));
    QVERIFY(settings.mechanism == Mechanism::multihead);
    QCOMPARE(settings.heads, 2);
    QCOMPARE(settings.dOut, 4);
    QVERIFY(settings.embeddingSource == EmbeddingSource::book);
    HeatmapPlot* plot = window.grid()->plot();
    QCOMPARE(plot->mapCount(), 4);  // masks none and causal, 2 heads
    QCOMPARE(plot->mapTitle(0), QStringLiteral("head 0 \u00b7 none"));
    QCOMPARE(plot->mapTitle(1), QStringLiteral("head 1 \u00b7 none"));
    QCOMPARE(plot->mapTitle(2), QStringLiteral("head 0 \u00b7 causal"));
    QCOMPARE(plot->mapTitle(3), QStringLiteral("head 1 \u00b7 causal"));
    QVERIFY(!window.grid()->isShowingHint());
    compareWithEngine(*plot, settings);
    QVERIFY(window.settingsPanel()->embeddingsNote().contains(QStringLiteral("book")));
    QVERIFY(window.statusSummary().contains(QStringLiteral("6 tokens")));
    QVERIFY(window.statusSummary().contains(QStringLiteral("2 heads")));
    QVERIFY(window.statusSummary().contains(QStringLiteral("cpu")));
    QCOMPARE(window.tokenStrip()->chips()->tokenCount(), 6);
    // The detail panel explains "journey" (query 2) at launch, as the seed notebook does.
    QVERIFY(window.detailPanel()->heading().contains(QStringLiteral("journey")));
  }

  void typingUpdatesTheHeatmaps() {
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    typeText(window, QStringLiteral("The cat sat on the mat"));
    QCOMPARE(window.editor()->text(), QStringLiteral("The cat sat on the mat"));
    QVERIFY(waitForIdle(window.controller()));
    HeatmapPlot* plot = window.grid()->plot();
    QCOMPARE(plot->mapCount(), 4);
    QCOMPARE(plot->rowLabels(0), QStringList({"The", "cat", "sat", "on", "the", "mat"}));
    compareWithEngine(*plot, window.model()->settings());
    // The book's embeddings do not cover this text: a seeded table stands in, and the panel says so.
    QVERIFY(window.settingsPanel()->embeddingsNote().contains(QStringLiteral("seeded")));
    QCOMPARE(window.tokenStrip()->chips()->tokenCount(), 6);
    QCOMPARE(window.tokenStrip()->chips()->chipText(5), QStringLiteral("mat"));
  }

  void maskedKeysAreNotBars() {
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    // Query 2 ("journey") in the causal row: keys 3 to 6 are hidden from it.
    window.model()->setSelection(QuerySelection{1, 1, 0});
    QTRY_VERIFY(window.detailPanel()->barChart()->itemCount() > 0);
    QCustomPlot* chart = window.detailPanel()->barChart();
    const double top = chart->yAxis->range().upper;
    int hatched = 0;
    for (int i = 0; i < chart->itemCount(); ++i) {
      auto* rect = qobject_cast<QCPItemRect*>(chart->item(i));
      if (!rect) continue;
      ++hatched;
      // A foot at the base, far below the real bars (0.484 and 0.516 here).
      QVERIFY2(rect->topLeft->coords().y() <= 0.06 * top,
               qPrintable(QString::number(rect->topLeft->coords().y())));
      QCOMPARE(rect->bottomRight->coords().y(), 0.0);
    }
    QCOMPARE(hatched, 4);
    const auto pixelOf = [&](int key) { return chart->xAxis->coordToPixel(key); };
    QVERIFY2(window.detailPanel()->barToolTip(pixelOf(3)).contains(QStringLiteral("masked")),
             qPrintable(window.detailPanel()->barToolTip(pixelOf(3))));
    QVERIFY2(window.detailPanel()->barToolTip(pixelOf(1)).startsWith(QStringLiteral("2 journey: weight 0.5")),
             qPrintable(window.detailPanel()->barToolTip(pixelOf(1))));
  }

  void fitsA1024By700Screen() {
    MainWindow window;
    window.resize(1024, 700);
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY2(window.width() <= 1024 && window.height() <= 700,
             qPrintable(QStringLiteral("%1 × %2").arg(window.width()).arg(window.height())));
    const QRect inside = window.rect();
    for (const QDockWidget* dock : window.findChildren<QDockWidget*>()) {
      // A dock behind another's tab is not on screen (its geometry is left wherever Qt parked it).
      if (!dock->isVisible() || dock->isFloating() || dock->visibleRegion().isEmpty()) continue;
      QVERIFY2(inside.contains(dock->geometry()), qPrintable(dock->objectName()));
    }
    QVERIFY(inside.contains(window.statusBar()->geometry()));
    QVERIFY(inside.contains(window.centralWidget()->geometry()));
    QVERIFY(window.grid()->width() > 200);
  }

  void theEmbeddingsBoxSaysWhatIsUsed() {
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    SettingsPanel* panel = window.settingsPanel();
    auto* useBook = panel->findChild<QPushButton*>(QStringLiteral("useBookSentence"));
    QVERIFY(useBook);
    QCOMPARE(panel->embeddingsShown(), QStringLiteral("Book preset"));
    QVERIFY(!useBook->isEnabled());
    const int noteTop = panel->findChild<QLabel*>(QStringLiteral("embeddingsNote"))->geometry().top();
    const int seedTop = panel->findChild<QLineEdit*>(QStringLiteral("embeddingSeed"))->geometry().top();

    // One more word: the book's embeddings no longer apply, and the box says what stands in.
    typeText(window, QStringLiteral("Your journey starts with one small step"));
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(panel->embeddingsShown(),
             QStringLiteral("Seeded table \u2014 the book's embeddings need the book's sentence"));
    QVERIFY(useBook->isEnabled());
    QCOMPARE(window.model()->snapshot()->embeddings.cols(), Eigen::Index{3});
    // The longer note keeps its place and moves nothing above or below it.
    QCOMPARE(panel->findChild<QLabel*>(QStringLiteral("embeddingsNote"))->geometry().top(), noteTop);
    QCOMPARE(panel->findChild<QLineEdit*>(QStringLiteral("embeddingSeed"))->geometry().top(), seedTop);

    // One click puts the book's sentence, and its embeddings, back.
    QTest::mouseClick(useBook, Qt::LeftButton);
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(window.editor()->text(), QStringLiteral("Your journey starts with one step"));
    QCOMPARE(panel->embeddingsShown(), QStringLiteral("Book preset"));
    QVERIFY(!useBook->isEnabled());
    ATTNSCOPE_COMPARE_EXACT(window.model()->snapshot()->embeddings, book_preset().embeddings,
                            "book embeddings");
  }

  void changingHeadsAndMasksReshapesTheGrid() {
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    HeatmapPlot* plot = window.grid()->plot();

    field<QSpinBox>(window, "heads")->setValue(4);
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(plot->mapCount(), 8);
    QCOMPARE(plot->mapTitle(3), QStringLiteral("head 3 \u00b7 none"));
    compareWithEngine(*plot, window.model()->settings());

    field<QSpinBox>(window, "heads")->setValue(1);
    field<QCheckBox>(window, "maskWindow")->setChecked(true);
    field<QSpinBox>(window, "windowSize")->setValue(2);
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(plot->mapCount(), 3);
    QCOMPARE(plot->mapTitle(2), QStringLiteral("head 0 \u00b7 window:2"));
    compareWithEngine(*plot, window.model()->settings());

    field<QCheckBox>(window, "maskNone")->setChecked(false);
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(plot->mapCount(), 2);
    QCOMPARE(plot->mapTitle(0), QStringLiteral("head 0 \u00b7 causal"));

    // Two quantities: a block of rows each, with a colour bar each.
    field<QCheckBox>(window, "show-scores")->setChecked(true);
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(plot->mapCount(), 4);
    QVERIFY(plot->mapKey(0).quantity == Quantity::rawScores);
    QCOMPARE(plot->colorScaleCount(), 2);
    // Scores are drawn symmetric around 0, so white means 0.
    const QCPRange scores = plot->colorRange(0);
    QCOMPARE(scores.lower, -scores.upper);
    compareWithEngine(*plot, window.model()->settings());

    // Per-map ranges: one colour bar per map.
    auto* range = window.settingsPanel()->findChild<QComboBox*>(QStringLiteral("colorRange"));
    range->setCurrentIndex(1);
    QCOMPARE(plot->colorScaleCount(), 4);
  }

  // A grid wider than the window draws only the maps in view; scrolling to one draws it before it shows.
  void onlyTheMapsInViewAreDrawn() {
    MainWindow window;
    window.resize(1000, 700);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY(showTwelveHeads(window));
    HeatmapPlot* plot = window.grid()->plot();
    QCOMPARE(plot->mapCount(), 24);
    const int last = plot->mapCount() - 1;
    QVERIFY(plot->isMapDrawn(0));
    QVERIFY(!plot->isMapDrawn(last));
    window.grid()->ensureMapVisible(plot->mapKey(last).maskRow, plot->mapKey(last).head);
    QVERIFY(plot->isMapDrawn(last));
    QVERIFY(!plot->isMapDrawn(0));
    // On screen: a map's cells in their colours (a cell's corner, clear of its printed value).
    auto* scroll = window.findChild<QScrollArea*>(QStringLiteral("heatmapScroll"));
    const auto showsItsCells = [&](int map) {
      const QImage shown = scroll->viewport()->grab().toImage();
      const QPointF centre = plot->cellCentre(map, 2, 1);
      const QPointF corner = centre - (plot->cellCentre(map, 3, 2) - centre) * 0.4;
      const QPoint inView = plot->mapTo(scroll->viewport(), corner.toPoint());
      QVERIFY(shown.rect().contains(inView));
      const QRgb expected =
          plot->colorMap(map)->gradient().color(plot->colorMap(map)->cellValue(2, 1), plot->colorRange(map));
      const QRgb pixel = shown.pixel(inView);
      QVERIFY2(
          std::abs(qRed(pixel) - qRed(expected)) <= 3 && std::abs(qGreen(pixel) - qGreen(expected)) <= 3 &&
              std::abs(qBlue(pixel) - qBlue(expected)) <= 3,
          qPrintable(
              QStringLiteral("map %1: %2 instead of %3").arg(map).arg(pixel, 0, 16).arg(expected, 0, 16)));
    };
    showsItsCells(last);
    // An edit while the first map is out of view: scrolled back, it shows the new text's cells.
    const double before = plot->colorMap(0)->cellValue(2, 1);
    window.model()->setText(QStringLiteral("Every effort moves you forward today"));
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(plot->colorMap(0)->cellValue(2, 1) != before);
    window.grid()->ensureMapVisible(plot->mapKey(0).maskRow, plot->mapKey(0).head);
    QVERIFY(plot->isMapDrawn(0));
    showsItsCells(0);
  }

  void invalidSettingsAreExplainedAndTheLastMapsStay() {
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    HeatmapPlot* plot = window.grid()->plot();
    const double before = plot->colorMap(0)->cellValue(1, 1);

    field<QSpinBox>(window, "heads")->setValue(3);  // 3 does not divide d_out 4
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(
        window.settingsPanel()->fieldError(SettingsField::heads).contains(QStringLiteral("do not divide")));
    QVERIFY(window.grid()->problem().contains(QStringLiteral("do not divide")));
    QCOMPARE(plot->mapCount(), 4);
    QCOMPARE(plot->colorMap(0)->cellValue(1, 1), before);
    QVERIFY(!QApplication::activeModalWidget());

    field<QSpinBox>(window, "heads")->setValue(2);
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(window.settingsPanel()->fieldError(SettingsField::heads).isEmpty());
    QVERIFY(window.grid()->problem().isEmpty());
  }

  void hoverHighlightsRowColumnAndText() {
    MainWindow window;
    window.resize(1400, 900);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY(waitForIdle(window.controller()));
    HeatmapPlot* plot = window.grid()->plot();
    plot->replot();
    // Query 3 ("starts"), key 2 ("journey") in the causal map of head 1.
    const QPoint cell = plot->cellCentre(3, 2, 1).toPoint();
    QTest::mouseMove(plot, cell);
    QTRY_COMPARE(window.model()->hoveredQuery(), 2);
    QCOMPARE(window.model()->hoveredKey(), 1);
    const auto span = window.editor()->highlightedSpan();
    QCOMPARE(window.editor()->text().mid(span.first, span.second - span.first), QStringLiteral("starts"));
    const QString tip = window.grid()->toolTipFor(3, 2, 1);
    QVERIFY(tip.contains(QStringLiteral("starts")));
    QVERIFY(tip.contains(QStringLiteral("journey")));
    QVERIFY(tip.contains(QStringLiteral("raw score")));
    QVERIFY(tip.contains(QStringLiteral("scaled score")));
    const HeadResult& head = window.model()->snapshot()->rows[1].result->heads[1];
    QVERIFY(tip.contains(QString::number(head.weights(2, 1), 'f', 4)));
    QVERIFY(window.grid()->toolTipFor(3, 1, 4).contains(QStringLiteral("masked")));

    // Hovering a chip hovers its row and column.
    TokenChipView* chips = window.tokenStrip()->chips();
    QTest::mouseMove(chips->viewport(), chips->chipRect(4).center());
    QTRY_COMPARE(window.model()->hoveredQuery(), 4);
    QCOMPARE(window.model()->hoveredKey(), 4);
  }

  void clickSelectsTheQueryInEveryMap() {
    MainWindow window;
    window.resize(1400, 900);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY(waitForIdle(window.controller()));
    HeatmapPlot* plot = window.grid()->plot();
    plot->replot();
    QTest::mouseClick(plot, Qt::LeftButton, {}, plot->cellCentre(2, 4, 0).toPoint());
    const QuerySelection selection = window.model()->selection();
    QCOMPARE(selection.query, 4);
    QCOMPARE(selection.maskRow, 1);
    QCOMPARE(selection.head, 0);
    QVERIFY(window.detailPanel()->heading().contains(QStringLiteral("one")));
    // The steps table has the engine's numbers for that query.
    QueryStepsModel* steps = window.detailPanel()->stepsModel();
    QCOMPARE(steps->rowCount(), 6);
    const HeadResult& head = window.model()->snapshot()->rows[1].result->heads[0];
    QCOMPARE(steps->data(steps->index(2, QueryStepsModel::weightColumn)).toString(),
             QString::number(head.weights(4, 2), 'f', 4));
    QCOMPARE(steps->data(steps->index(5, QueryStepsModel::maskedColumn)).toString(),
             QStringLiteral("\u2212\u221e"));
    QCOMPARE(window.tokenStrip()->chips()->tokenCount(), 6);
    // Arrow keys move the selection.
    plot->setFocus();
    QTest::keyClick(plot, Qt::Key_Up);
    QCOMPARE(window.model()->selection().query, 3);
    // A chip click selects too.
    TokenChipView* chips = window.tokenStrip()->chips();
    QTest::mouseClick(chips->viewport(), Qt::LeftButton, {}, chips->chipRect(0).center());
    QCOMPARE(window.model()->selection().query, 0);
  }

  // README: "↑/↓ move the selected query".
  void arrowKeysMoveTheSelectedQuery() {
    MainWindow window;
    QVERIFY(activate(window));
    HeatmapPlot* plot = window.grid()->plot();
    plot->replot();
    QTest::mouseClick(plot, Qt::LeftButton, {}, plot->cellCentre(2, 4, 0).toPoint());
    QCOMPARE(window.model()->selection().query, 4);
    QTest::keyClick(plot, Qt::Key_Down);
    QCOMPARE(window.model()->selection().query, 5);
    QTest::keyClick(plot, Qt::Key_Down);  // the last query stays selected
    QCOMPARE(window.model()->selection().query, 5);
    QVERIFY(window.detailPanel()->heading().contains(QStringLiteral("step")));
    for (int expected = 4; expected >= 0; --expected) {
      QTest::keyClick(plot, Qt::Key_Up);
      QCOMPARE(window.model()->selection().query, expected);
    }
    QTest::keyClick(plot, Qt::Key_Up);  // and the first
    QCOMPARE(window.model()->selection().query, 0);
    QCOMPARE(window.model()->selection().maskRow, 1);  // the map clicked stays the one explained
  }

  void arrowKeysWorkAfterAChipClickAndFocusIsVisible() {
    MainWindow window;
    QVERIFY(activate(window));
    TokenChipView* chips = window.tokenStrip()->chips();
    QTest::mouseClick(chips->viewport(), Qt::LeftButton, {}, chips->chipRect(2).center());
    QCOMPARE(window.model()->selection().query, 2);
    QVERIFY(chips->hasFocus());
    QTest::keyClick(chips, Qt::Key_Down);
    QCOMPARE(window.model()->selection().query, 3);
    QTest::keyClick(chips, Qt::Key_Up);
    QTest::keyClick(chips, Qt::Key_Up);
    QCOMPARE(window.model()->selection().query, 1);

    // The chips draw a frame while they have the focus, and lose it with the focus.
    const auto corner = [&] { return chips->viewport()->grab().toImage().pixelColor(1, 1); };
    const QColor focused = corner();
    window.editor()->setFocus();
    QTRY_VERIFY(!chips->hasFocus());
    QVERIFY2(corner() != focused, qPrintable(focused.name()));

    // Tab runs editor → chips → maps → settings; the maps show the focus around them, and ↓ moves there too.
    window.editor()->setFocus();
    QTRY_VERIFY(QApplication::focusWidget() != chips);
    QTest::keyClick(QApplication::focusWidget(), Qt::Key_Tab);
    QTRY_VERIFY(chips->hasFocus());
    QTest::keyClick(chips, Qt::Key_Tab);
    HeatmapPlot* plot = window.grid()->plot();
    QTRY_VERIFY(plot->hasFocus());
    QVERIFY(window.grid()
                ->findChild<QScrollArea*>(QStringLiteral("heatmapScroll"))
                ->styleSheet()
                .contains(QStringLiteral("highlight")));
    QTest::keyClick(plot, Qt::Key_Down);
    QCOMPARE(window.model()->selection().query, 2);
    QTest::keyClick(plot, Qt::Key_Tab);
    QTRY_VERIFY(window.settingsPanel()->isAncestorOf(QApplication::focusWidget()) ||
                QApplication::focusWidget() == window.settingsPanel());
    QVERIFY(window.grid()->findChild<QScrollArea*>(QStringLiteral("heatmapScroll"))->styleSheet().isEmpty());
  }

  // A computation a person would notice shows the busy indicator, animated, opaque (the status bar behind it
  // is not repainted with each frame), until its result is on screen.
  void aLongComputationShowsTheBusyIndicator() {
    MainWindow window;
    QVERIFY(activate(window));
    auto* busy = window.findChild<BusyIndicator*>(QStringLiteral("busyIndicator"));
    QVERIFY(busy);
    QVERIFY(busy->testAttribute(Qt::WA_OpaquePaintEvent));
    QVERIFY(!busy->isVisible());
    ViewSettings settings = window.model()->settings();
    QStringList words;
    for (int i = 0; i < 3000; ++i) words << QStringLiteral("w%1").arg(i % 397);
    settings.text = words.join(QLatin1Char(' '));
    settings.embeddingSource = EmbeddingSource::seeded;
    settings.dIn = 64;
    settings.heads = 12;
    settings.dOut = 768;
    window.model()->setSettings(settings);
    QTRY_VERIFY_WITH_TIMEOUT(busy->isVisible(), 5000);
    QVERIFY(busy->isAnimating());
    QTRY_VERIFY_WITH_TIMEOUT(busy->frame() > 0, 5000);  // it moves
    QVERIFY(waitForIdle(window.controller(), 60000));
    QTRY_VERIFY(!busy->isVisible());
    QVERIFY(!busy->isAnimating());
    QCOMPARE(window.model()->snapshot()->tokenCount(), 3000);
  }

  // README: "Esc cancels a long computation (the previous heatmaps stay)".
  void escapeCancelsTheComputationInFlight() {
    MainWindow window;
    QVERIFY(activate(window));
    QStringList words;
    for (int i = 0; i < 2000; ++i) words << QStringLiteral("w%1").arg(i % 397);
    QSignalSpy ready(window.controller(), &ComputeController::snapshotReady);
    QSignalSpy cancelled(window.controller(), &ComputeController::cancelled);
    window.editor()->setFocus();
    window.editor()->setText(words.join(QLatin1Char(' ')));
    // Its result can arrive only through the event loop, which has not run since.
    QVERIFY(window.controller()->isBusy());
    QTest::keyClick(window.editor(), Qt::Key_Escape);
    QCOMPARE(cancelled.count(), 1);
    QVERIFY(!window.controller()->isBusy());
    QCOMPARE(window.model()->snapshot()->tokenCount(), 6);
    QVERIFY(window.lastStatusMessage().contains(QStringLiteral("Cancelled")));
    // Esc with nothing running does nothing.
    QTest::keyClick(window.editor(), Qt::Key_Escape);
    QCOMPARE(cancelled.count(), 1);
    // The cancelled text never shows: the next edit's result is the first and only one to arrive (the
    // worker runs one job at a time, in order).
    window.editor()->setText(QStringLiteral("after the cancel"));
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(ready.count(), 1);
    QCOMPARE(ready.at(0).at(0).value<SnapshotPointer>()->text, QStringLiteral("after the cancel"));
    QCOMPARE(window.model()->snapshot()->tokenCount(), 3);
  }

  // README: "Ctrl+E exports an image, Ctrl+Shift+C copies it, Ctrl+S/Ctrl+O save and open sessions".
  void ctrlShortcutsReachTheirActions() {
    QApplication::setAttribute(Qt::AA_DontUseNativeDialogs, true);
    MainWindow window;
    QVERIFY(activate(window));
    QTemporaryDir directory;
    QWidget* keys = window.editor();
    keys->setFocus();

    // Ctrl+Shift+C: the grid as an image on the clipboard.
    QGuiApplication::clipboard()->clear();
    QVERIFY(QGuiApplication::clipboard()->image().isNull());
    QSignalSpy copiedSpy(window.exports(), &ExportController::imageCopied);
    QTest::keyClick(keys, Qt::Key_C, Qt::ControlModifier | Qt::ShiftModifier);
    QVERIFY(!copiedSpy.isEmpty() || copiedSpy.wait(20000));  // it may have come already
    const QImage copied = QGuiApplication::clipboard()->image();
    QCOMPARE(copied.size(), window.grid()->plot()->size() * window.grid()->plot()->devicePixelRatioF());

    // Ctrl+E: the export dialog, whose answer is written.
    const QString png = directory.filePath(QStringLiteral("keys.png"));
    QString seen;
    answerNextDialog(
        [png](QDialog* dialog) {
          auto* exportDialog = qobject_cast<ExportDialog*>(dialog);
          if (!exportDialog) return dialog->reject();
          exportDialog->setTarget(ExportDialog::Target::grid);
          exportDialog->setFormat(ImageFormat::png);
          exportDialog->setPixelSize(QSize(640, 480));
          exportDialog->setPath(png);
          exportDialog->accept();
        },
        &seen);
    QTest::keyClick(keys, Qt::Key_E, Qt::ControlModifier);
    QCOMPARE(seen, QStringLiteral("attnscope::ui::ExportDialog"));
    QVERIFY(window.exports()->waitForFinished());  // written in the background
    QCOMPARE(QImage(png).size(), QSize(640, 480));

    // Ctrl+S: the session saved to the file it came from (no dialog once it has one).
    const QString session = directory.filePath(QStringLiteral("keys.attnscope"));
    QVERIFY(window.saveSession(session));
    typeText(window, QStringLiteral("saved by the key"));
    QVERIFY(waitForIdle(window.controller()));
    // The offscreen platform leaves no window active after a dialog closes; a person clicks back into it.
    window.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    keys->setFocus();
    QCOMPARE(SessionFile::load(session).text, QStringLiteral("Your journey starts with one step"));
    QTest::keyClick(keys, Qt::Key_S, Qt::ControlModifier);
    QCOMPARE(SessionFile::load(session).text, QStringLiteral("saved by the key"));

    // Ctrl+O: the open dialog; the session chosen there is shown.
    ViewSettings other = ViewSettings::defaults();
    other.text = QStringLiteral("opened by the key");
    other.heads = 1;
    const QString otherPath = directory.filePath(QStringLiteral("other.attnscope"));
    SessionFile::save(otherPath, other);
    seen.clear();
    QVERIFY(QApplication::activeWindow() == &window);
    answerNextDialog(
        [otherPath](QDialog* dialog) {
          auto* files = qobject_cast<QFileDialog*>(dialog);
          if (!files) return dialog->reject();
          files->selectFile(otherPath);
          dialog->accept();  // QFileDialog::accept, through QDialog's public slot
        },
        &seen);
    QTest::keyClick(keys, Qt::Key_O, Qt::ControlModifier);
    QCOMPARE(seen, QStringLiteral("QFileDialog"));
    QCOMPARE(window.model()->settings().text, QStringLiteral("opened by the key"));
    QCOMPARE(window.model()->settings().heads, 1);
    QCOMPARE(window.sessionPath(), otherPath);
  }

  // README: "recomputed off the GUI thread as you type (50 ms debounce; a newer edit cancels the older
  // computation)". The timer is driven here, not waited for.
  void editsDuringAComputationCoalesceIntoOne() {
    ComputeController controller;
    QTimer* debounce = controller.debounceTimer();
    QCOMPARE(debounce->interval(), 50);
    QVERIFY(debounce->isSingleShot());
    controller.setDebounceInterval(24 * 3600 * 1000);  // never fires by itself in this test
    QSignalSpy ready(&controller, &ComputeController::snapshotReady);

    // An edit while idle starts at once.
    ViewSettings settings = ViewSettings::defaults();
    controller.request(settings);
    QCOMPARE(controller.startedCount(), quint64{1});
    QVERIFY(!debounce->isActive());
    QVERIFY(controller.isBusy());
    // Edits while it runs wait for the debounce, each restarting it; none starts a computation.
    for (const QString& text : {QStringLiteral("a"), QStringLiteral("a b"), QStringLiteral("a b c")}) {
      settings.text = text;
      controller.request(settings);
      QVERIFY(debounce->isActive());
      QCOMPARE(controller.startedCount(), quint64{1});
    }
    // The interval elapses (a new interval restarts the timer): one computation, of the last edit.
    controller.setDebounceInterval(0);
    QVERIFY(waitForIdle(&controller));
    QCOMPARE(controller.startedCount(), quint64{2});
    QCOMPARE(ready.count(), 1);
    QCOMPARE(ready.at(0).at(0).value<SnapshotPointer>()->text, QStringLiteral("a b c"));

    // Idle again: the next edit does not wait.
    controller.setDebounceInterval(24 * 3600 * 1000);
    settings.text = QStringLiteral("idle again");
    controller.request(settings);
    QCOMPARE(controller.startedCount(), quint64{3});
    QVERIFY(!debounce->isActive());
    QVERIFY(waitForIdle(&controller));
    QCOMPARE(ready.count(), 2);
  }

  // The window types through the same debounce: its controller keeps the 50 ms, and keystrokes made while a
  // computation runs become one computation.
  // Display ▸ Statistics under each map: each head's readout is its statsOf values as stat_readout.hpp
  // formats them (summary maps have none), and the checkbox hides and shows them without a computation.
  void statReadoutsFollowTheCheckbox() {
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    HeatmapPlot* plot = window.grid()->plot();
    field<QComboBox>(window, "headSummary")->setCurrentIndex(1);
    QVERIFY(waitForIdle(window.controller()));
    const SnapshotPointer snapshot = plot->snapshot();
    QVERIFY(snapshot && !snapshot->headStats.empty());
    QVERIFY(window.model()->settings().display.statReadouts);  // on by default
    for (int index = 0; index < plot->mapCount(); ++index) {
      const MapKey key = plot->mapKey(index);
      if (snapshot->isSummary(key.head)) {
        QVERIFY(plot->mapReadout(index).isEmpty());
        continue;
      }
      const HeadStats& stats = snapshot->statsOf(key.maskRow, 0, key.head);
      const QString expected = QStringLiteral("H %1 bits \u00b7 self %2 \u00b7 prev %3 \u00b7 first %4")
                                   .arg(*stats.entropy_bits, 0, 'f', 1)
                                   .arg(*stats.self, 0, 'f', 2)
                                   .arg(stats.previous_token ? QString::number(*stats.previous_token, 'f', 2)
                                                             : QStringLiteral("\u2013"))
                                   .arg(*stats.first_token, 0, 'f', 2);
      QCOMPARE(plot->mapReadout(index), expected);
      QVERIFY(plot->mapReadoutToolTip(index).contains(QStringLiteral("entropy")));
    }
    const quint64 started = window.controller()->startedCount();
    const int mapHeight = plot->mapRect(0)->rect().height();
    auto* box = field<QCheckBox>(window, "statReadouts");
    box->setChecked(false);
    QVERIFY(!window.model()->settings().display.statReadouts);
    for (int index = 0; index < plot->mapCount(); ++index) QVERIFY(plot->mapReadout(index).isEmpty());
    QVERIFY(plot->mapRect(0)->rect().height() >= mapHeight);  // the line's room goes to the maps
    box->setChecked(true);
    QVERIFY(!plot->mapReadout(0).isEmpty());
    QCOMPARE(window.controller()->startedCount(), started);
    QVERIFY(!window.controller()->isBusy());
  }

  void typingInTheWindowIsDebounced() {
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    // A computation long enough to be in flight while the keys arrive (1,500 tokens, 12 heads): a short one
    // can end between two keystrokes, and the next one then starts at once as well, as it should.
    ViewSettings settings = window.model()->settings();
    settings.heads = 12;
    settings.dOut = 768;
    QString text;
    for (int i = 0; i < 250; ++i) text += QStringLiteral("Your journey starts with one step ");
    text.chop(1);
    settings.text = text;
    window.model()->setSettings(settings);
    QVERIFY(waitForIdle(window.controller()));
    ComputeController* controller = window.controller();
    QCOMPARE(controller->debounceTimer()->interval(), 50);
    controller->setDebounceInterval(24 * 3600 * 1000);
    const quint64 before = controller->startedCount();
    window.editor()->setFocus();
    window.editor()->moveCursor(QTextCursor::End);
    QTest::keyClicks(window.editor(), QStringLiteral(" now"));  // 4 edits; the first starts at once
    QCOMPARE(controller->startedCount(), before + 1);
    QVERIFY(controller->debounceTimer()->isActive());
    controller->setDebounceInterval(0);
    QVERIFY(waitForIdle(controller));
    QCOMPARE(controller->startedCount(), before + 2);
    QCOMPARE(window.model()->snapshot()->text, text + QStringLiteral(" now"));
  }

  void emptyTextShowsAHint() {
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    window.editor()->clear();
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(window.grid()->isShowingHint());
    QVERIFY(window.grid()->hint().contains(QStringLiteral("Type a sentence")));
    QVERIFY(window.grid()->problem().isEmpty());
    QVERIFY(!QApplication::activeModalWidget());
    QCOMPARE(window.tokenStrip()->chips()->tokenCount(), 0);
    typeText(window, QStringLiteral("Hello"));
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(!window.grid()->isShowingHint());
  }

  void unicodeTokensReachChipsAndLabels() {
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    const QString text = QStringLiteral("caf\u00e9 \U0001F600 \u05E9\u05DC\u05D5\u05DD na\u00efve");
    window.editor()->setText(text);
    QVERIFY(waitForIdle(window.controller()));
    const QStringList expected{QStringLiteral("caf\u00e9"), QStringLiteral("\U0001F600"),
                               QStringLiteral("\u05E9\u05DC\u05D5\u05DD"), QStringLiteral("na\u00efve")};
    QCOMPARE(window.grid()->plot()->rowLabels(0), expected);
    QCOMPARE(window.tokenStrip()->chips()->chipText(1), expected[1]);
    // The span of the emoji (a surrogate pair) is found in UTF-16.
    window.model()->setHover(1, 1);
    const auto span = window.editor()->highlightedSpan();
    QCOMPARE(text.mid(span.first, span.second - span.first), expected[1]);
    window.model()->setHover(2, 2);
    const auto hebrew = window.editor()->highlightedSpan();
    QCOMPARE(text.mid(hebrew.first, hebrew.second - hebrew.first), expected[2]);
  }

  void longPastesStayResponsiveAndCancellable() {
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    QStringList words;
    for (int i = 0; i < 2000; ++i) words << QStringLiteral("w%1").arg(i % 397);
    const QString text = words.join(QLatin1Char(' '));

    // The edit returns with the computation still in flight, whatever the machine's speed: results arrive
    // only through the event loop, and the previous heatmaps stay until the new ones are ready.
    window.editor()->setText(text);
    QCOMPARE(window.model()->snapshot()->tokenCount(), 6);
    QVERIFY(window.controller()->isBusy());
    QVERIFY(waitForIdle(window.controller(), 120000));
    QCOMPARE(window.model()->snapshot()->tokenCount(), 2000);
    QCOMPARE(window.grid()->plot()->mapCount(), 4);

    // A newer edit during a long computation: cancel it, keep the last heatmaps.
    window.editor()->setText(text + QStringLiteral(" more"));
    // An edit while idle starts computing at once; its result cannot arrive before the event loop runs.
    QVERIFY(window.controller()->isBusy());
    QSignalSpy cancelled(window.controller(), &ComputeController::cancelled);
    window.controller()->cancel();
    QCOMPARE(cancelled.count(), 1);
    QVERIFY(!window.controller()->isBusy());
    QTest::qWait(200);
    QCOMPARE(window.model()->snapshot()->tokenCount(), 2000);
  }

  void textsTooLargeToHoldAreExplained() {
    QStringList words;
    for (int i = 0; i < 16000; ++i) words << QStringLiteral("w");
    ViewSettings settings = ViewSettings::defaults();
    settings.text = words.join(QLatin1Char(' '));
    settings.heads = 16;
    settings.dOut = 16;
    try {
      AttentionInput::fromSettings(settings);
      QFAIL("16,000 tokens with 16 heads were accepted");
    } catch (const FieldError& error) {
      QVERIFY(error.field() == SettingsField::text);
      QVERIFY(QString::fromUtf8(error.what()).contains(QStringLiteral("fewer heads")));
      QVERIFY(QString::fromUtf8(error.what()).contains(QStringLiteral("16 heads")));
    }
    settings.heads = 1;
    settings.masks = {MaskSpec::parse("causal")};
    QCOMPARE(AttentionInput::fromSettings(settings).tokens.size(), std::size_t{16000});
    // Dropout weights cannot be recomputed, so every mask's matrices are held: two masks count twice.
    settings.heads = 4;
    settings.dOut = 4;
    settings.masks = {MaskSpec::parse("none"), MaskSpec::parse("causal")};
    QCOMPARE(AttentionInput::fromSettings(settings).tokens.size(), std::size_t{16000});
    settings.dropout = 0.1;
    QVERIFY_THROWS_EXCEPTION(FieldError, AttentionInput::fromSettings(settings));
  }

  void staleResultsAreDropped() {
    ComputeController controller;
    controller.setDebounceInterval(0);
    QSignalSpy ready(&controller, &ComputeController::snapshotReady);
    ViewSettings first = ViewSettings::defaults();
    ViewSettings second = first;
    second.text = QStringLiteral("a newer edit");
    controller.requestNow(first);
    controller.request(second);
    QVERIFY(waitForIdle(&controller));
    QCOMPARE(ready.count(), 1);
    const auto snapshot = ready.at(0).at(0).value<SnapshotPointer>();
    QCOMPARE(snapshot->text, second.text);

    // Only the drawing changed: nothing to compute.
    ViewSettings redrawn = second;
    redrawn.display.colorMap = ColorMapId::magma;
    controller.request(redrawn);
    QVERIFY(!controller.isBusy());
  }

  void settingsAreRestoredOnTheNextLaunch() {
    {
      MainWindow window;
      window.show();
      QVERIFY(waitForIdle(window.controller()));
      typeText(window, QStringLiteral("Remember me"));
      field<QSpinBox>(window, "heads")->setValue(1);
      QVERIFY(waitForIdle(window.controller()));
      window.resize(1400, 850);
      window.close();
    }
    MainWindow again;
    QCOMPARE(again.model()->settings().text, QStringLiteral("Remember me"));
    QCOMPARE(again.model()->settings().heads, 1);
    QCOMPARE(again.editor()->text(), QStringLiteral("Remember me"));
    QCOMPARE(again.size(), QSize(1400, 850));
  }

  void aCorruptSettingsFileFallsBackToDefaults() {
    {
      QSettings store(QStringLiteral("AttnScope"), QStringLiteral("AttnScope"));
      store.setValue(QStringLiteral("session/settings"), QStringLiteral("{\"heads\": \"many\""));
      store.setValue(QStringLiteral("window/geometry"), QByteArray("garbage"));
    }
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(window.model()->settings(), ViewSettings::defaults());
    QVERIFY(window.lastStatusMessage().contains(QStringLiteral("could not be read")));
    QCOMPARE(window.grid()->plot()->mapCount(), 4);
  }

  void aBadFieldInSavedSettingsFallsBackToDefaults() {
    {
      QSettings store(QStringLiteral("AttnScope"), QStringLiteral("AttnScope"));
      store.setValue(QStringLiteral("session/settings"), QStringLiteral("{\"mechanism\": \"transformer\"}"));
    }
    MainWindow window;
    QCOMPARE(window.model()->settings(), ViewSettings::defaults());
    QVERIFY(window.lastStatusMessage().contains(QStringLiteral("mechanism")));
  }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
