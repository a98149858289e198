// The Geometry dock: the selected head's queries and keys as points (the vectors themselves for head_dim 2,
// head_geometry's principal components otherwise), lines from the selected query weighted by its weights,
// the hover tooltip's numbers, live updates, a long text, a GPT-2 model, and the PNG/SVG/PDF export.

#include <QDockWidget>
#include <QFile>
#include <QPushButton>
#include <QTemporaryDir>
#include <QTest>
#include <algorithm>

#include "../support/gpt2_checkpoint.hpp"
#include "attnscope/geometry.hpp"
#include "main_window.hpp"
#include "panels/geometry_panel.hpp"
#include "panels/sentence_editor.hpp"
#include "text.hpp"
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

// The Geometry dock brought in front of its tab group, once the window has computed `settings`.
bool showGeometry(MainWindow& window, const ViewSettings& settings) {
  window.resize(1400, 900);
  window.show();
  if (!QTest::qWaitForWindowExposed(&window) || !waitForIdle(window.controller())) return false;
  window.model()->setSettings(settings);
  if (!waitForIdle(window.controller())) return false;
  window.findChild<QDockWidget*>(QStringLiteral("geometryDock"))->raise();
  return QTest::qWaitFor([&] { return window.geometry()->isCurrent(); }, 20000);
}

// Row i of `points` is the curve's point i.
void compareCurve(QCPCurve* curve, const Matrix& points) {
  QCOMPARE(curve->dataCount(), static_cast<int>(points.rows()));
  for (int i = 0; i < points.rows(); ++i) {
    QCOMPARE(curve->data()->at(i)->t, double(i));
    QCOMPARE(curve->data()->at(i)->key, double(points(i, 0)));
    QCOMPARE(curve->data()->at(i)->value, double(points(i, 1)));
  }
}

QString percent(double share) {
  return QStringLiteral("%1\u00a0%").arg(share * 100.0, 0, 'f', share < 0.1 ? 1 : 0);
}

QByteArray fileStart(const QString& path, int bytes) {
  QFile file(path);
  return file.open(QIODevice::ReadOnly) ? file.read(bytes) : QByteArray();
}

}  // namespace

class TestGeometryPanel : public QObject {
  Q_OBJECT

  QTemporaryDir m_settingsDirectory;

 private slots:
  void initTestCase() {
    QVERIFY(m_settingsDirectory.isValid());
    isolateSettings(m_settingsDirectory);
  }

  void init() { QSettings(QStringLiteral("AttnScope"), QStringLiteral("AttnScope")).clear(); }

  void headDim2PointsAreTheVectorsThemselves() {
    MainWindow window;
    ViewSettings settings = ViewSettings::defaults();  // multi-head, 2 heads of d_out 4: head_dim 2
    QVERIFY(showGeometry(window, settings));
    window.model()->setSelection(QuerySelection{1, 0, 1});
    GeometryPanel* panel = window.geometry();
    QTRY_VERIFY(panel->isCurrent());
    const HeadResult& head = window.model()->snapshot()->head(0, 1);
    QCOMPARE(head.queries.cols(), 2);
    compareCurve(panel->plot()->queryCurve(), head.queries);
    compareCurve(panel->plot()->keyCurve(), head.keys);
    QCOMPARE(panel->plot()->xAxis->label(), QStringLiteral("dim 1"));
    QCOMPARE(panel->plot()->yAxis->label(), QStringLiteral("dim 2"));
    QVERIFY2(panel->heading().contains(QStringLiteral("head 1")), qPrintable(panel->heading()));
    QVERIFY(panel->note().contains(QStringLiteral("vectors themselves")));
    // Six tokens: each one's query and key are labelled, in two marker styles.
    // Six tokens: each names one query label and one key label (points that coincide share one).
    const QStringList labels = panel->plot()->labelTexts();
    for (const QString& token : window.model()->snapshot()->tokenTexts) {
      int naming = 0;
      for (const QString& label : labels) naming += label.split(QStringLiteral(", ")).contains(token);
      QVERIFY2(naming == 2, qPrintable(token + QStringLiteral(": ") + labels.join(QLatin1Char('|'))));
    }
    int shown = 0;
    for (int i = 0; i < panel->plot()->itemCount(); ++i)
      shown += qobject_cast<QCPItemText*>(panel->plot()->item(i)) && panel->plot()->item(i)->visible();
    QCOMPARE(shown, labels.size());
    QVERIFY(panel->plot()->queryCurve()->scatterStyle().shape() !=
            panel->plot()->keyCurve()->scatterStyle().shape());
  }

  void otherHeadDimsAreProjectedOnPrincipalComponents() {
    MainWindow window;
    ViewSettings settings = ViewSettings::defaults();
    settings.heads = 1;  // d_out 4: head_dim 4
    QVERIFY(showGeometry(window, settings));
    GeometryPanel* panel = window.geometry();
    const HeadResult& head = window.model()->snapshot()->head(0, 0);
    QCOMPARE(head.queries.cols(), 4);
    const HeadGeometry expected = head_geometry(head.queries, head.keys);
    QVERIFY(expected.explained.has_value());
    compareCurve(panel->plot()->queryCurve(), expected.queries_2d);
    compareCurve(panel->plot()->keyCurve(), expected.keys_2d);
    const auto [first, second] = *expected.explained;
    QVERIFY(first >= second && first + second <= 1.0 + 1e-9);
    QVERIFY2(panel->plot()->xAxis->label().startsWith(QStringLiteral("PC1 (") + percent(first)),
             qPrintable(panel->plot()->xAxis->label()));
    QVERIFY2(panel->plot()->yAxis->label().startsWith(QStringLiteral("PC2 (") + percent(second)),
             qPrintable(panel->plot()->yAxis->label()));
    QVERIFY(panel->note().contains(QStringLiteral("principal components")));
  }

  void linesFollowTheSelectedQueryAndItsWeights() {
    MainWindow window;
    QVERIFY(showGeometry(window, ViewSettings::defaults()));  // masks none and causal
    GeometryPanel* panel = window.geometry();
    GeometryPlot* plot = panel->plot();
    const SnapshotPointer snapshot = window.model()->snapshot();
    const HeadResult& head = snapshot->head(1, 0);
    for (const int query : {3, 5}) {
      window.model()->setSelection(QuerySelection{query, 1, 0});  // the causal row
      QTRY_COMPARE(plot->highlight().query, query);
      // A line to each key the causal mask leaves the query, none to the hidden ones.
      const auto& lines = plot->highlight().lines;
      QCOMPARE(static_cast<int>(lines.size()), query + 1);
      QCOMPARE(static_cast<int>(plot->lineItems().size()), query + 1);
      for (std::size_t i = 0; i < lines.size(); ++i) {
        const int key = lines[i].key;
        QVERIFY(key <= query);
        QCOMPARE(lines[i].weight, head.weights(query, key));
        const QCPItemLine* item = plot->lineItems()[i];
        QCOMPARE(item->start->coords(), QPointF(head.queries(query, 0), head.queries(query, 1)));
        QCOMPARE(item->end->coords(), QPointF(head.keys(key, 0), head.keys(key, 1)));
      }
      // Wider and more opaque with the weight.
      for (std::size_t i = 0; i < lines.size(); ++i)
        for (std::size_t j = 0; j < lines.size(); ++j)
          if (lines[i].weight < lines[j].weight) {
            QVERIFY(plot->lineItems()[i]->pen().widthF() < plot->lineItems()[j]->pen().widthF());
            QVERIFY(plot->lineItems()[i]->pen().color().alphaF() <
                    plot->lineItems()[j]->pen().color().alphaF());
          }
      const auto heaviest = std::max_element(
          lines.begin(), lines.end(), [](const auto& a, const auto& b) { return a.weight < b.weight; });
      QCOMPARE(plot->lineItems()[heaviest - lines.begin()]->pen().widthF(), 5.0);
    }
    // Clicking a query's point selects it.
    const QPointF point = plot->pixelOf({false, 2});
    QVERIFY(plot->pointAt(point).has_value() && !plot->pointAt(point)->key);
    QTest::mouseClick(plot, Qt::LeftButton, {}, point.toPoint());
    QTRY_COMPARE(window.model()->selection().query, 2);
    QTRY_COMPARE(plot->highlight().query, 2);
  }

  void hoveringAKeyGivesItsScoresAndWeight() {
    MainWindow window;
    QVERIFY(showGeometry(window, ViewSettings::defaults()));
    window.model()->setSelection(QuerySelection{2, 1, 0});
    GeometryPanel* panel = window.geometry();
    QTRY_COMPARE(panel->plot()->highlight().query, 2);
    const SnapshotPointer snapshot = window.model()->snapshot();
    const HeadResult& head = snapshot->head(1, 0);
    for (const int key : {1, 4}) {
      const QPointF pixel = panel->plot()->pixelOf({true, key});
      QVERIFY(panel->plot()->pointAt(pixel).has_value());
      const QString tip = panel->toolTipAt(pixel);
      QVERIFY2(tip.startsWith(QStringLiteral("key %1 ").arg(key + 1)), qPrintable(tip));
      const float dot = head.queries.row(2).dot(head.keys.row(key));
      QVERIFY2(tip.contains(QStringLiteral("q\u00b7k = ") + formatValue(dot)), qPrintable(tip));
      QVERIFY2(tip.contains(QStringLiteral("scaled score = ") + formatValue(dot * head.scale)),
               qPrintable(tip));
      if (key <= 2)
        QVERIFY2(tip.contains(QStringLiteral("weight = ") + formatValue(head.weights(2, key))),
                 qPrintable(tip));
      else
        QVERIFY2(tip.contains(QStringLiteral("masked")), qPrintable(tip));
    }
    QVERIFY(panel->toolTipAt(QPointF(-50, -50)).isEmpty());
  }

  void typingMovesThePoints() {
    MainWindow window;
    QVERIFY(showGeometry(window, ViewSettings::defaults()));
    GeometryPanel* panel = window.geometry();
    QCOMPARE(panel->plot()->queryCurve()->dataCount(), 6);
    window.editor()->setFocus();
    window.editor()->moveCursor(QTextCursor::End);
    QTest::keyClicks(window.editor(), QStringLiteral(" now"));
    QTRY_COMPARE(panel->plot()->queryCurve()->dataCount(), 7);
    QVERIFY(waitForIdle(window.controller()));
    QTRY_VERIFY(panel->isCurrent());
    const SnapshotPointer snapshot = window.model()->snapshot();
    QCOMPARE(snapshot->tokenCount(), 7);
    const QuerySelection selection = window.model()->selection();
    compareCurve(panel->plot()->queryCurve(), snapshot->head(selection.maskRow, selection.head).queries);
    compareCurve(panel->plot()->keyCurve(), snapshot->head(selection.maskRow, selection.head).keys);
  }

  void aDockBehindAnotherCatchesUpWhenShown() {
    MainWindow window;
    QVERIFY(showGeometry(window, ViewSettings::defaults()));
    GeometryPanel* panel = window.geometry();
    window.findChild<QDockWidget*>(QStringLiteral("detailDock"))->raise();
    // Qt keeps a dock tabbed behind another visible, out of the window.
    QTRY_VERIFY(panel->visibleRegion().isEmpty());
    window.model()->setText(QStringLiteral("Your journey"));
    QVERIFY(waitForIdle(window.controller()));
    QTest::qWait(20);
    QVERIFY(!panel->isCurrent());  // no work out of view
    window.findChild<QDockWidget*>(QStringLiteral("geometryDock"))->raise();
    QTRY_VERIFY(panel->isCurrent());
    QCOMPARE(panel->plot()->queryCurve()->dataCount(), 2);
  }

  void aSummaryHasNoGeometry() {
    MainWindow window;
    ViewSettings settings = ViewSettings::defaults();
    settings.display.headSummary = HeadSummary::mean;
    QVERIFY(showGeometry(window, settings));
    GeometryPanel* panel = window.geometry();
    window.model()->setSelection(QuerySelection{1, 0, 2});  // after the two heads: their mean
    QTRY_VERIFY(!panel->isCurrent());
    QVERIFY(!panel->plot()->isVisible());
    QVERIFY(panel->toolTipAt(QPointF(10, 10)).isEmpty());
    window.model()->setSelection(QuerySelection{1, 0, 1});
    QTRY_VERIFY(panel->isCurrent());
    QVERIFY(panel->plot()->isVisible());
  }

  void aLongTextIsLabelledSparingly() {
    MainWindow window;
    ViewSettings settings = ViewSettings::defaults();
    settings.text = words(1500);
    settings.dIn = 64;
    settings.dOut = 64;
    settings.heads = 1;  // head_dim 64: computed off the GUI thread
    settings.masks = {MaskSpec{MaskKind::causal, 0, {}}};
    QVERIFY(showGeometry(window, settings));
    constexpr int query = 1200;
    window.model()->setSelection(QuerySelection{query, 0, 0});
    GeometryPanel* panel = window.geometry();
    GeometryPlot* plot = panel->plot();
    QTRY_COMPARE(plot->highlight().query, query);
    const SnapshotPointer snapshot = window.model()->snapshot();
    const HeadResult& head = snapshot->head(0, 0);
    const HeadGeometry expected = head_geometry(head.queries, head.keys);
    compareCurve(plot->queryCurve(), expected.queries_2d);
    compareCurve(plot->keyCurve(), expected.keys_2d);
    // The heaviest keys only, each at least as heavy as any key left out.
    const auto& lines = plot->highlight().lines;
    QCOMPARE(static_cast<int>(lines.size()), GeometryPanel::kTopLines);
    float lightest = 1.0f;
    QSet<int> drawn;
    for (const auto& line : lines) {
      QVERIFY(line.key <= query);
      lightest = std::min(lightest, line.weight);
      drawn.insert(line.key);
    }
    for (int key = 0; key <= query; ++key)
      if (!drawn.contains(key)) QVERIFY(snapshot->value(0, 0, Quantity::weights, query, key) <= lightest);
    QCOMPARE(static_cast<int>(plot->highlight().labelled.size()), 1 + GeometryPanel::kTopLabels);
    QVERIFY(plot->labelTexts().size() >= 2 &&
            plot->labelTexts().size() <= 2 * (1 + GeometryPanel::kTopLabels));
    QVERIFY(plot->labelTexts().front().split(QStringLiteral(", ")).contains(snapshot->tokenTexts[query]));
    QCOMPARE(plot->highlight().labelled.front(), query);
    QVERIFY2(panel->note().contains(QStringLiteral("32 heaviest of 1201")), qPrintable(panel->note()));
    QVERIFY(panel->note().contains(QStringLiteral("Labels on the query and its heaviest keys only")));
    // Another query redraws its lines and labels alone, not the 3,000 points.
    QTest::qWait(50);
    QSignalSpy fullReplots(plot, &QCustomPlot::beforeReplot);
    window.model()->setSelection(QuerySelection{900, 0, 0});
    QTRY_COMPARE(plot->highlight().query, 900);
    QCOMPARE(static_cast<int>(plot->lineItems().size()), GeometryPanel::kTopLines);
    QCOMPARE(plot->lineItems().front()->start->coords(),
             QPointF(expected.queries_2d(900, 0), expected.queries_2d(900, 1)));
    QTest::qWait(50);
    QCOMPARE(fullReplots.count(), 0);
  }

  void aModelHeadIsItsLayersHead() {
    QTemporaryDir directory;
    const QString folder = directory.filePath(QStringLiteral("gpt2-tiny"));
    attnscope::testing::write_small_gpt2(folder.toStdString(), 2, 3, /*width=*/12, 24);
    MainWindow window;
    ViewSettings settings = ViewSettings::defaults();
    settings.text = QStringLiteral("hello the world, the world");  // in the tiny model's vocabulary
    QVERIFY(showGeometry(window, settings));
    window.openModel(folder);
    QVERIFY(waitForIdle(window.controller()));
    settings = window.model()->settings();
    settings.layer = 1;
    window.model()->setSettings(settings);
    QTRY_VERIFY(window.model()->snapshot()->model && window.model()->snapshot()->model->layer == 1);
    window.model()->setSelection(QuerySelection{3, 0, 2});
    GeometryPanel* panel = window.geometry();
    QTRY_VERIFY(panel->isCurrent() && panel->plot()->highlight().query == 3);
    const SnapshotPointer snapshot = window.model()->snapshot();
    const HeadResult& head = snapshot->head(0, 2);
    QCOMPARE(head.queries.cols(), 4);  // 12 wide, 3 heads
    const HeadGeometry expected = head_geometry(head.queries, head.keys);
    compareCurve(panel->plot()->queryCurve(), expected.queries_2d);
    compareCurve(panel->plot()->keyCurve(), expected.keys_2d);
    // The model's causal mask: lines to the query's own key and those before it.
    QCOMPARE(static_cast<int>(panel->plot()->highlight().lines.size()), 4);
  }

  void exportsPngSvgAndPdf() {
    MainWindow window;
    QVERIFY(showGeometry(window, ViewSettings::defaults()));
    GeometryPanel* panel = window.geometry();
    QVERIFY(panel->exportButton()->isVisible());
    QTemporaryDir directory;
    QVERIFY(directory.isValid());
    QString error;
    const QString png = directory.filePath(QStringLiteral("geometry.png"));
    QVERIFY2(panel->exportImage(png, &error), qPrintable(error));
    QCOMPARE(fileStart(png, 8), QByteArray("\x89PNG\r\n\x1a\n", 8));
    const QImage image(png);
    QCOMPARE(image.size(), panel->plot()->size().expandedTo(QSize(480, 400)) * 2);
    const QString svg = directory.filePath(QStringLiteral("geometry.svg"));
    QVERIFY2(panel->exportImage(svg, &error), qPrintable(error));
    const QByteArray svgStart = fileStart(svg, 400);
    QVERIFY(svgStart.startsWith("<?xml") || svgStart.startsWith("<svg"));
    QVERIFY(svgStart.contains("<svg"));
    // Titled like the dock: which head, mask and query.
    QVERIFY(fileStart(svg, 1 << 22).contains("head 0 \xc2\xb7 none mask \xc2\xb7 head_dim 2"));
    QVERIFY(fileStart(svg, 1 << 22).contains("query 2 \xe2\x80\x9cjourney\xe2\x80\x9d"));
    const QString pdf = directory.filePath(QStringLiteral("geometry.pdf"));
    QVERIFY2(panel->exportImage(pdf, &error), qPrintable(error));
    QVERIFY(fileStart(pdf, 4) == "%PDF");
    // Another suffix is refused, and nothing is written.
    const QString bmp = directory.filePath(QStringLiteral("geometry.bmp"));
    QVERIFY(!panel->exportImage(bmp, &error));
    QVERIFY2(error.contains(QStringLiteral(".png, .svg or .pdf")), qPrintable(error));
    QVERIFY(!QFile::exists(bmp));
  }
};

QTEST_MAIN(TestGeometryPanel)
#include "test_geometry_panel.moc"
