// View ▸ Fit All Heads (Ctrl+0): every map of a 12-head snapshot inside the window, laid out by the export
// figure's code, with the hover, click and ↑/↓ of the scrolling maps; the key switches the mode and the next
// launch restores it; the hint and the problem banner show in both modes; a long text's figure is built on
// the worker.

#include <QLabel>
#include <QMenuBar>
#include <QScrollBar>
#include <QTemporaryDir>
#include <QTest>
#include <QToolTip>

#include "compute/attention_input.hpp"
#include "compute/attention_snapshot.hpp"
#include "main_window.hpp"
#include "panels/sentence_editor.hpp"
#include "plot/figure_view.hpp"
#include "plot/heatmap_grid.hpp"
#include "ui_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;
using namespace attnscope::ui::testing;

namespace {

ViewSettings twelveHeads(int tokens = 0) {
  ViewSettings settings = ViewSettings::defaults();
  settings.heads = 12;
  settings.dOut = 24;
  if (tokens > 0) {
    QStringList words;
    for (int i = 0; i < tokens; ++i) words << QStringLiteral("w%1").arg(i % 97);
    settings.text = words.join(QLatin1Char(' '));
    settings.embeddingSource = EmbeddingSource::seeded;
    settings.dIn = 8;
  }
  return settings;
}

SnapshotPointer snapshotOf(const ViewSettings& settings) {
  const auto backend = make_backend(Device::cpu);
  const CancelToken never;
  return computeSnapshot(AttentionInput::fromSettings(settings), *backend, never, PreparedMaps{});
}

// A grid on its own, subscribed to a model that holds `settings` and their snapshot.
struct Scene {
  ScopeModel model;
  HeatmapGrid grid;

  explicit Scene(const ViewSettings& settings, bool fit = true) {
    model.setSettings(settings);
    grid.setModel(&model);
    grid.setFitAllHeads(fit);
    grid.resize(1200, 700);
    grid.show();
    model.setSnapshot(snapshotOf(settings));
  }
};

}  // namespace

class TestFitAllHeads : public QObject {
  Q_OBJECT

  QTemporaryDir m_settingsDirectory;

 private slots:
  void initTestCase() {
    QVERIFY(m_settingsDirectory.isValid());
    isolateSettings(m_settingsDirectory);
  }

  void init() { QSettings(QStringLiteral("AttnScope"), QStringLiteral("AttnScope")).clear(); }

  void everyHeadFitsWithoutScrolling() {
    Scene scene(twelveHeads());
    QVERIFY(QTest::qWaitForWindowExposed(&scene.grid));
    FigureView* view = scene.grid.figureView();
    QTRY_VERIFY(view->isCurrent());
    QVERIFY(view->isVisible());
    QVERIFY(!scene.grid.plot()->isVisible());
    QVERIFY(view->problem().isEmpty());
    QCOMPARE(view->groupCount(), 2);  // masks none and causal
    QCOMPARE(view->headCount(), 12);
    const QImage shown = view->grab().toImage();
    for (int group = 0; group < view->groupCount(); ++group)
      for (int head = 0; head < view->headCount(); ++head) {
        const QRectF map = view->mapRect(group, head);
        QVERIFY2(QRectF(view->rect()).contains(map),
                 qPrintable(QStringLiteral("group %1 head %2 leaves the view").arg(group).arg(head)));
        QVERIFY(map.width() > 40.0);
        QCOMPARE(map.width(), map.height());
        // Painted where the layout says: a weight's colour, not the white page.
        const QPoint centre = view->cellCentre(group, head, 5, 0).toPoint();
        QVERIFY(shown.pixelColor(centre * shown.devicePixelRatio()) != QColor(Qt::white));
      }
    for (const QScrollBar* bar : scene.grid.findChildren<QScrollBar*>()) QVERIFY(!bar->isVisible());

    // The scrolling mode of the same grid needs a scroll bar for 12 heads; the fit mode none.
    scene.grid.fitAction()->trigger();
    QVERIFY(!scene.grid.fitsAllHeads());
    QVERIFY(scene.grid.plot()->isVisible());
    QVERIFY(!view->isVisible());
    bool scrolls = false;
    for (const QScrollBar* bar : scene.grid.findChildren<QScrollBar*>())
      scrolls = scrolls || bar->isVisible();
    QVERIFY(scrolls);
  }

  void hoverClickAndArrowsReachTheModel() {
    Scene scene(twelveHeads());
    QVERIFY(QTest::qWaitForWindowExposed(&scene.grid));
    FigureView* view = scene.grid.figureView();
    QTRY_VERIFY(view->isCurrent());
    const QImage before = view->grab().toImage();

    // Query 2 ("starts"), key 1 ("journey") in the causal map of head 7.
    const QPoint cell = view->cellCentre(1, 7, 2, 1).toPoint();
    QTest::mouseMove(view, cell);
    QTRY_COMPARE(scene.model.hoveredQuery(), 2);
    QCOMPARE(scene.model.hoveredKey(), 1);
    const MapKey key = view->mapKey(1, 7);
    QCOMPARE(key.maskRow, 1);
    QCOMPARE(key.head, 7);
    // The tooltip is the scrolling maps' own for that map and cell.
    int plotMap = -1;
    for (int map = 0; map < scene.grid.plot()->mapCount(); ++map)
      if (scene.grid.plot()->mapKey(map) == key) plotMap = map;
    QVERIFY(plotMap >= 0);
    const QString tip = scene.grid.toolTipFor(plotMap, 2, 1);
    QVERIFY(tip.contains(QStringLiteral("starts")) && tip.contains(QStringLiteral("journey")));
    QVERIFY(tip.contains(QStringLiteral("head 7")));
    QCOMPARE(QToolTip::text(), tip);
    // The hovered row, column and cell are drawn over the figure.
    QTRY_VERIFY(view->grab().toImage() != before);

    QTest::mouseClick(view, Qt::LeftButton, {}, view->cellCentre(1, 7, 4, 0).toPoint());
    QCOMPARE(scene.model.selection(), (QuerySelection{4, 1, 7}));
    QVERIFY(view->hasFocus());
    QTest::keyClick(view, Qt::Key_Up);
    QCOMPARE(scene.model.selection().query, 3);
    QTest::keyClick(view, Qt::Key_Down);
    QTest::keyClick(view, Qt::Key_Down);
    QCOMPARE(scene.model.selection(), (QuerySelection{5, 1, 7}));

    // Outside every map (the top-left corner holds no map): no hover.
    QTest::mouseMove(view, QPoint(3, 3));
    QTRY_COMPARE(scene.model.hoveredQuery(), -1);
    QCOMPARE(scene.model.hoveredKey(), -1);
  }

  void theHintAndTheBannerShowInBothModes() {
    Scene scene(twelveHeads());
    for (const bool fit : {true, false}) {
      scene.grid.setFitAllHeads(fit);
      scene.model.setSnapshot(nullptr);
      QVERIFY(scene.grid.isShowingHint());
      scene.grid.setFitAllHeads(!fit);  // switching keeps the hint
      QVERIFY(scene.grid.isShowingHint());
      scene.grid.setFitAllHeads(fit);
      scene.model.setSnapshot(snapshotOf(twelveHeads()));
      QVERIFY(!scene.grid.isShowingHint());
      QCOMPARE(scene.grid.figureView()->isVisible(), fit);
      scene.grid.showProblem(QStringLiteral("heads must divide d_out"));
      QVERIFY(scene.grid.problem().contains(QStringLiteral("d_out")));
      QVERIFY(scene.grid.findChild<QLabel*>(QStringLiteral("problemBanner"))->isVisible());
      scene.grid.clearProblem();
    }
  }

  // A long text's figure (cells reduced to its pixels) is built off the GUI thread; the newest one shows.
  void aLongTextIsLaidOutOnTheWorker() {
    const ViewSettings settings = twelveHeads(FigureView::kLargestPaintedHere + 200);
    Scene scene(settings);
    FigureView* view = scene.grid.figureView();
    QVERIFY(!view->isCurrent());  // not here and now
    QTRY_VERIFY(view->isBuilding());
    QTRY_VERIFY_WITH_TIMEOUT(view->isCurrent(), 30000);
    QVERIFY(!view->isBuilding());
    QCOMPARE(view->headCount(), 12);
    bool noted = false;
    for (const FigureText& text : view->layout()->texts())
      noted = noted || text.text.contains(QStringLiteral("each drawn cell is the max of"));
    QVERIFY(noted);
    // A resize asks for a new figure, which arrives the same way.
    scene.grid.resize(900, 600);
    QTRY_VERIFY(!view->isCurrent());
    QTRY_VERIFY_WITH_TIMEOUT(view->isCurrent(), 30000);
    QVERIFY(QRectF(view->rect()).contains(view->mapRect(1, 11)));
  }

  void theKeySwitchesTheModeAndTheNextLaunchRestoresIt() {
    {
      MainWindow window(twelveHeads());
      window.resize(1400, 900);
      window.show();
      window.activateWindow();
      QVERIFY(QTest::qWaitForWindowActive(&window));
      QVERIFY(waitForIdle(window.controller()));
      QVERIFY(!window.grid()->fitsAllHeads());
      QVERIFY(window.grid()->plot()->isVisible());
      // In the View menu, with its key.
      bool inViewMenu = false;
      for (QAction* menu : window.menuBar()->actions())
        if (menu->menu() && menu->text().remove(QLatin1Char('&')) == QStringLiteral("View"))
          inViewMenu = menu->menu()->actions().contains(window.grid()->fitAction());
      QVERIFY(inViewMenu);
      QCOMPARE(window.grid()->fitAction()->shortcut(), QKeySequence(Qt::CTRL | Qt::Key_0));
      window.editor()->setFocus();
      QTest::keyClick(window.editor(), Qt::Key_0, Qt::ControlModifier);
      QVERIFY(window.grid()->fitsAllHeads());
      QVERIFY(window.grid()->figureView()->isVisible());
      QVERIFY(!window.grid()->plot()->isVisible());
      QCOMPARE(window.grid()->mapsWidget(), window.grid()->figureView());
      window.close();
    }
    {
      MainWindow again(twelveHeads());
      QVERIFY(again.grid()->fitsAllHeads());
      again.show();
      QVERIFY(waitForIdle(again.controller()));
      QVERIFY(again.grid()->figureView()->isVisible());
      QTRY_VERIFY(again.grid()->figureView()->isCurrent());
      QCOMPARE(again.grid()->figureView()->headCount(), 12);
      again.grid()->fitAction()->trigger();  // back to scrolling, remembered too
      again.close();
    }
    MainWindow third;
    QVERIFY(!third.grid()->fitsAllHeads());
  }
};

QTEST_MAIN(TestFitAllHeads)
#include "test_fit_all_heads.moc"
