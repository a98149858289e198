// The "Selected query" panel on a long text: the weights bar chart shows the largest keys (all of them on
// request, remembered) and is painted in Qt's paint event, and the step table keeps the masked and softmax
// columns in view at any length.

#include <QCheckBox>
#include <QHeaderView>
#include <QScrollBar>
#include <QSettings>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include "main_window.hpp"
#include "panels/detail_panel.hpp"
#include "panels/query_steps_model.hpp"
#include "ui_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;
using namespace attnscope::ui::testing;

namespace {

QString words(int count) {
  const QStringList pool{"the", "cat", "sat", "on", "a", "warm", "mat", "and", "watched", "birds"};
  QStringList text;
  for (int i = 0; i < count; ++i) text << pool[i % pool.size()];
  return text.join(QLatin1Char(' '));
}

// The window at the size of a small screen, on `count` words with `masks`.
bool showText(MainWindow& window, int count, const std::vector<MaskSpec>& masks) {
  window.resize(1024, 700);
  window.show();
  if (!QTest::qWaitForWindowExposed(&window) || !waitForIdle(window.controller())) return false;
  ViewSettings settings = window.model()->settings();
  settings.text = words(count);
  settings.masks = masks;
  window.model()->setSettings(settings);
  return waitForIdle(window.controller()) && window.model()->snapshot() &&
         window.model()->snapshot()->tokenCount() == count;
}

// The pixels a bar of the chart is wide.
double barPixels(QCustomPlot* chart) {
  return chart->xAxis->coordToPixel(0.35) - chart->xAxis->coordToPixel(-0.35);
}

}  // namespace

class TestDetailPanel : public QObject {
  Q_OBJECT

  QTemporaryDir m_settingsDirectory;

 private slots:
  void initTestCase() {
    QVERIFY(m_settingsDirectory.isValid());
    isolateSettings(m_settingsDirectory);
  }

  void init() { QSettings(QStringLiteral("AttnScope"), QStringLiteral("AttnScope")).clear(); }

  void aWindowMaskOfALongTextShowsItsTwoBars() {
    MainWindow window;
    QVERIFY(showText(window, 174, {MaskSpec::parse("window:2")}));
    constexpr int query = 100;
    window.model()->setSelection(QuerySelection{query, 0, 0});
    DetailPanel* panel = window.detailPanel();
    QTRY_VERIFY(panel->shownKeys().contains(query));
    QVERIFY(panel->allKeysButton()->isVisible());
    QVERIFY(!panel->allKeysButton()->isChecked());
    // The two keys the window lets the query see, wide enough to read.
    const SnapshotPointer snapshot = window.model()->snapshot();
    QVector<int> visible;
    for (int key = 0; key < 174; ++key)
      if (!snapshot->isMasked(0, query, key)) visible << key;
    QCOMPARE(visible.size(), 2);
    QCOMPARE(panel->shownKeys(), visible);
    QVERIFY2(barPixels(panel->barChart()) >= 12, qPrintable(QString::number(barPixels(panel->barChart()))));
    const double first = snapshot->value(0, 0, Quantity::weights, query, visible[0]);
    QVERIFY(first > 0.05 && first < 0.95);
    const auto pixel = [&](int slot) { return panel->barChart()->xAxis->coordToPixel(slot); };
    QVERIFY2(panel->barToolTip(pixel(1)).startsWith(QStringLiteral("%1 ").arg(visible[1] + 1)),
             qPrintable(panel->barToolTip(pixel(1))));
    QVERIFY2(panel->barsNote().contains(QStringLiteral("172 masked")), qPrintable(panel->barsNote()));

    // "All keys" shows every key (the hidden ones as hatched feet), and is remembered.
    panel->allKeysButton()->click();
    QCOMPARE(panel->shownKeys().size(), 174);
    QVERIFY(panel->barChart()->itemCount() > 0);
    QVERIFY(panel->barToolTip(pixel(0)).contains(QStringLiteral("masked")));
    QVERIFY(QSettings(QStringLiteral("AttnScope"), QStringLiteral("AttnScope"))
                .value(QStringLiteral("detailPanel/allKeys"))
                .toBool());
    DetailPanel another;
    QVERIFY(another.allKeysButton()->isChecked());
    panel->allKeysButton()->click();
    QVERIFY(panel->shownKeys().size() <= DetailPanel::kTopKeys + 1);
  }

  void theLargestWeightsAndTheQueryAreAlwaysShown() {
    MainWindow window;
    QVERIFY(showText(window, 174, {MaskSpec::parse("none")}));
    constexpr int query = 37;
    window.model()->setSelection(QuerySelection{query, 0, 0});
    DetailPanel* panel = window.detailPanel();
    QTRY_VERIFY(panel->shownKeys().contains(query));
    QCOMPARE(panel->shownKeys().size() <= DetailPanel::kTopKeys + 1, true);
    QVERIFY(std::is_sorted(panel->shownKeys().begin(), panel->shownKeys().end()));
    // Every key left out weighs no more than the lightest key shown (the query's own aside).
    const SnapshotPointer snapshot = window.model()->snapshot();
    const auto weight = [&](int key) { return snapshot->value(0, 0, Quantity::weights, query, key); };
    float lightest = 1.0f;
    for (const int key : panel->shownKeys())
      if (key != query) lightest = std::min(lightest, weight(key));
    for (int key = 0; key < 174; ++key)
      if (!panel->shownKeys().contains(key)) QVERIFY(weight(key) <= lightest);
    QVERIFY(barPixels(panel->barChart()) >= 5);
    // A short text shows every key and no toggle.
    QVERIFY(showText(window, 12, {MaskSpec::parse("causal")}));
    window.model()->setSelection(QuerySelection{3, 0, 0});
    QTRY_COMPARE(panel->shownKeys().size(), 12);
    QVERIFY(!panel->allKeysButton()->isVisible());
  }

  // A new selection redraws the chart, which is painted in Qt's paint event with the rest of the window.
  // Painted at once, inside the change, it painted every panel the change had touched there too (7–13 ms of
  // the GUI thread after each 4,096-token snapshot).
  void theChartIsPaintedInThePaintEventNotInTheChange() {
    MainWindow window;
    QVERIFY(showText(window, 40, {MaskSpec::parse("none")}));
    DetailPanel* panel = window.detailPanel();
    QVERIFY(panel->barChart()->isVisible());
    window.model()->setSelection(QuerySelection{3, 0, 0});
    QTRY_VERIFY(panel->shownKeys().contains(3));
    QTest::qWait(50);  // its paint
    PaintCounter counter(panel->barChart());
    window.model()->setSelection(QuerySelection{5, 0, 0});
    QVERIFY(panel->shownKeys().contains(5));
    QCOMPARE(counter.paints, 0);
    QTRY_VERIFY(counter.paints > 0);
  }

  void theStepTableKeepsTheSoftmaxColumnInView() {
    MainWindow window;
    QVERIFY(showText(window, 60, {MaskSpec::parse("causal")}));
    window.model()->setSelection(QuerySelection{40, 0, 0});
    DetailPanel* panel = window.detailPanel();
    QTRY_COMPARE(panel->stepsModel()->rowCount(), 60);
    QTableView* view = panel->stepsView();
    QVERIFY(view->isVisible());
    QCoreApplication::processEvents();
    QHeaderView* header = view->horizontalHeader();
    for (const int column : {int(QueryStepsModel::weightColumn), int(QueryStepsModel::maskedColumn)}) {
      const int left = header->sectionViewportPosition(column);
      const int right = left + header->sectionSize(column);
      QVERIFY2(left >= 0 && right <= view->viewport()->width(),
               qPrintable(QStringLiteral("column %1 at %2 to %3, viewport %4 wide")
                              .arg(column)
                              .arg(left)
                              .arg(right)
                              .arg(view->viewport()->width())));
    }
    QCOMPARE(panel->stepsModel()->headerData(QueryStepsModel::weightColumn, Qt::Horizontal).toString(),
             QStringLiteral("softmax"));
    // Rows scroll: the last key is reached by the vertical scroll bar.
    QVERIFY(view->verticalScrollBar()->maximum() > 0);
  }
};

QTEST_MAIN(TestDetailPanel)
#include "test_detail_panel.moc"
