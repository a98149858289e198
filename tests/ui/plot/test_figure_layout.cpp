// The figure layout of every export: for 1 to 25 heads, 1 to 4 masks, scores, weights or both, a short and a
// 60-token text, with and without statistics readouts, and each physical preset (and the pixel sizes
// 1600×1000 and 1050×700), every text lies inside
// the page, no two texts intersect and no text covers a map or a colour bar. Laid out without painting; one
// painted export per preset checks that the PNG has exactly the preset's pixels and that the maps are where
// the layout says.

#include <QImage>
#include <QTemporaryDir>
#include <QTest>

#include "attnscope/backend.hpp"
#include "compute/attention_input.hpp"
#include "export/exporter.hpp"
#include "export/figure_preset.hpp"
#include "plot/figure_layout.hpp"
#include "plot/figure_renderer.hpp"
#include "ui_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;

namespace {

QStringList tokens(int count) {
  const QStringList book{"Your", "journey", "starts", "with", "one", "step"};
  QStringList words;
  for (int i = 0; i < count; ++i)
    words << (count <= book.size() ? book[i] : book[i % book.size()] + QString::number(i));
  return words;
}

FigureSpec specFor(int heads, int masks, int quantities, int tokenCount, const ImageRequest& request) {
  static const QStringList maskNames{"none", "causal", "window:3", "prefix:2"};
  static const QStringList quantityNames{"raw scores", "weights"};
  FigureSpec spec;
  spec.page = QSizeF(request.size);
  spec.style = request.style;
  for (int head = 0; head < heads; ++head) {
    spec.columnHeaders << QStringLiteral("head %1").arg(head);
    spec.shortColumnHeaders << QString::number(head);
  }
  const int firstQuantity = quantities == 1 ? 1 : 0;  // weights alone, or scores and weights
  const int lastQuantity = quantities == 0 ? 0 : 1;   // 0: scores alone
  for (int quantity = quantities == 0 ? 0 : firstQuantity; quantity <= lastQuantity; ++quantity) {
    const int scale = static_cast<int>(spec.scales.size());
    spec.scales.push_back({quantity == 0 ? QStringLiteral("score q\u00b7k") : QStringLiteral("weight"),
                           quantityNames[quantity],
                           {QStringLiteral("\u22120.438"), QStringLiteral("0"), QStringLiteral("1")}});
    for (int mask = 0; mask < masks; ++mask) spec.groups.push_back({maskNames[mask], scale});
  }
  spec.scaleHeaders = spec.scales.size() > 1;
  spec.tokens = tokens(tokenCount);
  spec.maskedKey = masks > 1;
  return spec;
}

// Readouts as FigureRenderer makes them: the last of several heads is a summary map, without one.
void addReadouts(FigureSpec& spec) {
  const int heads = static_cast<int>(spec.columnHeaders.size());
  for (std::size_t group = 0; group < spec.groups.size(); ++group) {
    QStringList readouts;
    for (int head = 0; head < heads; ++head)
      readouts << (heads > 1 && head == heads - 1
                       ? QString()
                       : QStringLiteral("H 1.7 bits \u00b7 self 0.41 \u00b7 prev 0.05 \u00b7 first \u2013"));
    spec.readouts.push_back(readouts);
  }
}

bool overlaps(const QRectF& a, const QRectF& b) {
  const QRectF common = a.intersected(b);
  return common.width() > 1e-6 && common.height() > 1e-6;
}

QString describe(const FigureText& text) {
  return QStringLiteral("'%1' at %2,%3 %4x%5")
      .arg(text.text)
      .arg(text.rect.x())
      .arg(text.rect.y())
      .arg(text.rect.width())
      .arg(text.rect.height());
}

}  // namespace

class TestFigureLayout : public QObject {
  Q_OBJECT

  QTemporaryDir m_settingsDirectory;

 private slots:
  void initTestCase() { testing::isolateSettings(m_settingsDirectory); }

  void noTextLeavesThePageOrCollides_data() {
    QTest::addColumn<int>("heads");
    QTest::addColumn<int>("masks");
    QTest::addColumn<int>("quantities");  // 0 scores, 1 weights, 2 both
    QTest::addColumn<int>("tokenCount");
    QTest::addColumn<int>("preset");
    QTest::addColumn<bool>("readouts");
    for (const int heads : {1, 2, 12, 16, 25})
      for (int masks = 1; masks <= 4; ++masks)
        for (int quantities = 0; quantities <= 2; ++quantities)
          for (const int tokenCount : {6, 60})
            // The presets, and the pixel sizes: 1600×1000 and 1050×700.
            for (int preset = 0; preset < 5; ++preset)
              for (const bool readouts : {false, true})
                QTest::addRow("%d heads, %d masks, %s, %d tokens, %s%s", heads, masks,
                              quantities == 0   ? "scores"
                              : quantities == 1 ? "weights"
                                                : "both",
                              tokenCount,
                              preset == 3   ? "1600x1000"
                              : preset == 4 ? "1050x700"
                                            : qPrintable(FigurePresets::names().at(preset)),
                              readouts ? ", readouts" : "")
                    << heads << masks << quantities << tokenCount << preset << readouts;
  }

  void noTextLeavesThePageOrCollides() {
    QFETCH(int, heads);
    QFETCH(int, masks);
    QFETCH(int, quantities);
    QFETCH(int, tokenCount);
    QFETCH(int, preset);
    QFETCH(bool, readouts);
    const ImageRequest request =
        preset < 3 ? FigurePresets::request(static_cast<FigurePreset>(preset), ImageFormat::png)
                   : ImageRequest(ImageFormat::png, preset == 3 ? QSize(1600, 1000) : QSize(1050, 700));
    FigureSpec spec = specFor(heads, masks, quantities, tokenCount, request);
    if (readouts) addReadouts(spec);
    const FigureLayout layout = FigureLayout::compute(spec);
    const QRectF page(QPointF(0, 0), spec.page);
    std::vector<QRectF> shapes;  // maps and colour bars
    for (int group = 0; group < static_cast<int>(spec.groups.size()); ++group)
      for (int head = 0; head < heads; ++head) {
        const QRectF map = layout.mapRect(group, head);
        QVERIFY(page.contains(map));
        QCOMPARE(map.width(), map.height());  // square cells
        QVERIFY(map.width() >= 1.0);
        shapes.push_back(map);
      }
    for (const QRectF& bar : layout.scaleBars()) {
      QVERIFY(page.contains(bar));
      shapes.push_back(bar);
    }
    const std::vector<FigureText>& texts = layout.texts();
    QVERIFY(!texts.empty());
    for (std::size_t i = 0; i < texts.size(); ++i) {
      QVERIFY2(page.contains(texts[i].rect),
               qPrintable(QStringLiteral("off the page: ") + describe(texts[i])));
      QVERIFY2(!texts[i].text.isEmpty(), qPrintable(describe(texts[i])));
      for (std::size_t j = i + 1; j < texts.size(); ++j)
        QVERIFY2(!overlaps(texts[i].rect, texts[j].rect),
                 qPrintable(describe(texts[i]) + QStringLiteral(" overlaps ") + describe(texts[j])));
      for (const QRectF& shape : shapes)
        QVERIFY2(!overlaps(texts[i].rect, shape),
                 qPrintable(QStringLiteral("covers a map: ") + describe(texts[i])));
    }
    // Each map with a readout has it, just over the map; or none has, and a note says why.
    int readoutTexts = 0;
    bool readoutsNoted = false;
    for (const FigureText& text : texts) {
      readoutsNoted = readoutsNoted || text.text.contains(QStringLiteral("statistics left off"));
      if (text.role != FigureTextRole::readout) continue;
      ++readoutTexts;
      QVERIFY(text.text.startsWith(QStringLiteral("H 1.7 bits")));
    }
    if (!readouts) {
      QCOMPARE(readoutTexts, 0);
    } else if (layout.readoutPixels() > 0) {
      QCOMPARE(readoutTexts, static_cast<int>(spec.groups.size()) * (heads > 1 ? heads - 1 : 1));
      QVERIFY(layout.readoutPixels() >= spec.style.minimumTickPixels);
      QVERIFY(!readoutsNoted);
    } else {
      QCOMPARE(readoutTexts, 0);
      QVERIFY(readoutsNoted);
    }
    // Labelled once: the query labels left of the first column, the key labels under the bottom row.
    const int labelled = layout.labelStep();
    int queryLabels = 0, keyLabels = 0;
    for (const FigureText& text : texts) {
      queryLabels += text.role == FigureTextRole::queryLabel;
      keyLabels += text.role == FigureTextRole::keyLabel;
    }
    const int gridRows = static_cast<int>(spec.groups.size()) * layout.gridRowsPerGroup();
    if (labelled == 0) {
      QCOMPARE(queryLabels, 0);
      bool said = false;
      for (const FigureText& text : texts)
        said = said || text.text.startsWith(QStringLiteral("token labels left off"));
      QVERIFY(said);
    } else {
      QVERIFY(queryLabels <= gridRows * tokenCount);
      QVERIFY(queryLabels >= gridRows * 2 || tokenCount == 1);
      QVERIFY(keyLabels <= layout.gridColumns() * tokenCount);
    }
  }

  // 12 heads on a 16:9 slide with one mask row: two rows of six give larger maps than one row of twelve.
  void headsWrapWhenThatGivesLargerMaps() {
    const ImageRequest request = FigurePresets::request(FigurePreset::slide, ImageFormat::png);
    const FigureLayout wrapped = FigureLayout::compute(specFor(12, 1, 1, 6, request));
    QVERIFY(wrapped.gridRowsPerGroup() > 1);
    QCOMPARE(wrapped.gridColumns(), (12 + wrapped.gridRowsPerGroup() - 1) / wrapped.gridRowsPerGroup());
    // Four masks: one row of twelve per mask.
    QCOMPARE(FigureLayout::compute(specFor(12, 4, 2, 6, request)).gridRowsPerGroup(), 1);
  }

  // Each preset's PNG has exactly its pixels, and its maps are where the layout says: the centre of the
  // causal map's first cell (weight 1, viridis yellow) in each head's map.
  void presetsPaintWhereTheLayoutSays_data() {
    QTest::addColumn<int>("preset");
    QTest::addColumn<QSize>("pixels");
    QTest::newRow("slide") << 0 << QSize(1920, 1080);
    QTest::newRow("column") << 1 << QSize(1050, 800);
    QTest::newRow("page") << 2 << QSize(2100, 1350);
  }

  void presetsPaintWhereTheLayoutSays() {
    QFETCH(int, preset);
    QFETCH(QSize, pixels);
    const ViewSettings settings = ViewSettings::defaults();
    const auto backend = make_backend(Device::cpu);
    const CancelToken never;
    const SnapshotPointer snapshot = computeSnapshot(AttentionInput::fromSettings(settings), *backend, never);
    const DisplayOptions options = settings.display;
    const ImageRequest request = FigurePresets::request(static_cast<FigurePreset>(preset), ImageFormat::png);
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("figure.png"));
    Exporter::exportImage(snapshot, options, std::nullopt, request, path);
    const QImage image(path);
    QCOMPARE(image.size(), pixels);
    FigureRenderer figure(snapshot, options);
    const FigureLayout layout = figure.layout(QSizeF(request.size), request.style, request.scale);
    QCOMPARE(figure.groupCount(), 2);
    const int n = snapshot->tokenCount();
    for (int head = 0; head < figure.headCount(); ++head) {
      QCOMPARE(snapshot->maskLabel(figure.mapKey(1, head).maskRow), QStringLiteral("causal"));
      const QRectF map = layout.mapRect(1, head);
      const QPointF firstCell =
          (map.topLeft() + QPointF(map.width() / n / 2, map.height() / n / 2)) * request.scale;
      const QColor colour = image.pixelColor(firstCell.toPoint());
      QVERIFY2(colour.red() > 230 && colour.green() > 210 && colour.blue() < 80, qPrintable(colour.name()));
      // Just outside the map's left edge: the page, not the map.
      const QPointF outside = QPointF(map.left() - 0.75, map.center().y()) * request.scale;
      QVERIFY(image.pixelColor(outside.toPoint()) != colour);
    }
  }
};

QTEST_MAIN(TestFigureLayout)
#include "test_figure_layout.moc"
