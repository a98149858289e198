// Every export writes a valid file of the requested size, independent of the window; a failed export writes
// nothing; the matrices follow the CLI's contract.

#include <QClipboard>
#include <QComboBox>
#include <QDirIterator>
#include <QGuiApplication>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLineEdit>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QTest>

#include "attnscope/result_format.hpp"
#include "export/export_dialog.hpp"
#include "export/exporter.hpp"
#include "export/figure_preset.hpp"
#include "main_window.hpp"
#include "plot/figure_renderer.hpp"
#include "plot/heatmap_grid.hpp"
#include "ui_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;
using namespace attnscope::ui::testing;

namespace {

SnapshotPointer bookSnapshot(ViewSettings settings = ViewSettings::defaults()) {
  const AttentionInput input = AttentionInput::fromSettings(settings);
  const auto backend = make_backend(Device::cpu);
  const CancelToken never;
  return computeSnapshot(input, *backend, never);
}

QByteArray readAll(const QString& path) {
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly)) return {};
  return file.readAll();
}

// The page size a PDF declares: "/MediaBox [0 0 W H]".
QSizeF pdfPageSize(const QByteArray& pdf) {
  static const QRegularExpression mediaBox(
      QStringLiteral("/MediaBox\\s*\\[\\s*0\\s+0\\s+([\\d.]+)\\s+([\\d.]+)\\s*\\]"));
  const QRegularExpressionMatch match = mediaBox.match(QString::fromLatin1(pdf));
  return match.hasMatch() ? QSizeF(match.captured(1).toDouble(), match.captured(2).toDouble()) : QSizeF();
}

QStringList filesIn(const QString& folder) {
  return QDir(folder).entryList(QDir::Files | QDir::Hidden | QDir::NoDotAndDotDot, QDir::Name);
}

}  // namespace

class TestExport : public QObject {
  Q_OBJECT

  QTemporaryDir m_settingsDirectory;

 private slots:
  void initTestCase() { isolateSettings(m_settingsDirectory); }

  void pngHasTheRequestedSize_data() {
    QTest::addColumn<QSize>("size");
    QTest::addColumn<double>("scale");
    QTest::newRow("1600x1000") << QSize(1600, 1000) << 1.0;
    QTest::newRow("small") << QSize(420, 300) << 1.0;
    QTest::newRow("800x600 at 2x") << QSize(800, 600) << 2.0;
  }

  void pngHasTheRequestedSize() {
    QFETCH(QSize, size);
    QFETCH(double, scale);
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("grid.png"));
    Exporter::exportImage(bookSnapshot(), DisplayOptions{}, std::nullopt, {ImageFormat::png, size, scale},
                          path);
    QImage image(path);
    QVERIFY(!image.isNull());
    QCOMPARE(image.size(), (QSizeF(size) * scale).toSize());
    // Rendered, not blank: the viridis yellow of the causal map's first cell (weight 1) is in there.
    bool yellow = false;
    for (int y = 0; y < image.height() && !yellow; y += 2)
      for (int x = 0; x < image.width() && !yellow; x += 2) {
        const QColor c = image.pixelColor(x, y);
        yellow = c.red() > 230 && c.green() > 210 && c.blue() < 80;
      }
    QVERIFY(yellow);
    QCOMPARE(filesIn(directory.path()), QStringList{QStringLiteral("grid.png")});
  }

  void svgHasTheRequestedSize() {
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("grid.svg"));
    Exporter::exportImage(bookSnapshot(), DisplayOptions{}, std::nullopt,
                          {ImageFormat::svg, QSize(1200, 800), 1.0}, path);
    QSvgRenderer renderer(path);
    QVERIFY(renderer.isValid());
    QCOMPARE(renderer.defaultSize(), QSize(1200, 800));
    QCOMPARE(renderer.viewBox(), QRect(0, 0, 1200, 800));
    const QByteArray svg = readAll(path);
    // Headers are text, not pixels: a column header per head and a row header per mask, no title per map.
    QVERIFY(svg.contains(">head 0<"));
    QVERIFY(svg.contains(">causal<"));
    QVERIFY(!svg.contains("head 0 \xc2\xb7 causal"));
    QVERIFY(svg.contains("journey"));
  }

  void pdfHasTheRequestedSize() {
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("grid.pdf"));
    Exporter::exportImage(bookSnapshot(), DisplayOptions{}, std::nullopt,
                          {ImageFormat::pdf, QSize(1000, 700), 1.0}, path);
    const QByteArray pdf = readAll(path);
    QVERIFY(pdf.startsWith("%PDF-"));
    QVERIFY(pdf.trimmed().endsWith("%%EOF"));
    const QSizeF page = pdfPageSize(pdf);
    QCOMPARE(qRound(page.width()), 1000);
    QCOMPARE(qRound(page.height()), 700);
  }

  void oneMapAndEachMapToAFolder() {
    QTemporaryDir directory;
    const SnapshotPointer snapshot = bookSnapshot();
    const QString single = directory.filePath(QStringLiteral("one.png"));
    Exporter::exportImage(snapshot, DisplayOptions{}, MapKey{1, 1, Quantity::weights},
                          {ImageFormat::png, QSize(500, 480), 1.0}, single);
    QCOMPARE(QImage(single).size(), QSize(500, 480));

    QTemporaryDir folder;
    const QStringList written = Exporter::exportEachMap(
        snapshot, DisplayOptions{}, {ImageFormat::png, QSize(400, 380), 1.0}, folder.path());
    QCOMPARE(filesIn(folder.path()), QStringList({"head0-causal-weights.png", "head0-none-weights.png",
                                                  "head1-causal-weights.png", "head1-none-weights.png"}));
    QCOMPARE(written.size(), 4);
    for (const QString& path : written) QCOMPARE(QImage(path).size(), QSize(400, 380));

    DisplayOptions both;
    both.quantities = {Quantity::rawScores, Quantity::weights};
    QTemporaryDir svgFolder;
    Exporter::exportEachMap(snapshot, both, {ImageFormat::svg, QSize(400, 380), 1.0}, svgFolder.path());
    QCOMPARE(filesIn(svgFolder.path()).size(), 8);
    QVERIFY(filesIn(svgFolder.path()).contains(QStringLiteral("head1-none-scores.svg")));
  }

  // With a model, masks none and causal are both its own causal mask: one row, said to be the model's own.
  void identicalModelRowsCollapse() {
    // The book's rows marked as a model's (a snapshot is not copyable; this one is ours alone).
    const auto snapshot = std::const_pointer_cast<AttentionSnapshot>(bookSnapshot());
    snapshot->model = ModelInfo{};
    const FigureRenderer figure(snapshot, DisplayOptions{});
    QCOMPARE(figure.groupCount(), 1);
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("model.svg"));
    Exporter::exportImage(snapshot, DisplayOptions{}, std::nullopt, {ImageFormat::svg, QSize(900, 500), 1.0},
                          path);
    const QByteArray svg = readAll(path);
    QVERIFY(svg.contains("causal (the model&apos;s own)") || svg.contains("causal (the model's own)"));
    QVERIFY(!svg.contains(">none<"));
    // Without a model the two rows differ and both are drawn.
    QCOMPARE(FigureRenderer(bookSnapshot(), DisplayOptions{}).groupCount(), 2);
  }

  // A preset's PDF and SVG pages have its physical size in points: a paper column is 3.5 in = 252 pt wide.
  void presetsHavePhysicalSizes() {
    const QByteArray pdf =
        Exporter::renderImage(bookSnapshot(), DisplayOptions{}, std::nullopt,
                              FigurePresets::request(FigurePreset::column, ImageFormat::pdf));
    QCOMPARE(qRound(pdfPageSize(pdf).width()), 252);
    const QByteArray svg =
        Exporter::renderImage(bookSnapshot(), DisplayOptions{}, std::nullopt,
                              FigurePresets::request(FigurePreset::page, ImageFormat::svg));
    QVERIFY(svg.contains("width=\"504pt\""));
  }

  // With each map's own range, a map's largest value is the top of the scale (viridis yellow) even where it
  // is small next to the other maps' (the none row's weights, about 0.2 against the causal row's 1).
  void eachMapsOwnRange() {
    const SnapshotPointer snapshot = bookSnapshot();
    DisplayOptions options;
    options.sharedRange = false;
    const QImage image = Exporter::renderRaster(snapshot, options, std::nullopt, QSize(1200, 800), 1.0);
    FigureRenderer figure(snapshot, options);
    const FigureLayout layout = figure.layout(QSizeF(1200, 800), FigureStyle{});
    const MapKey key = figure.mapKey(0, 0);
    QCOMPARE(key.maskRow, 0);  // none
    const int n = snapshot->tokenCount();
    int query = 0, column = 0;
    for (int q = 0; q < n; ++q)
      for (int k = 0; k < n; ++k)
        if (snapshot->value(0, 0, Quantity::weights, q, k) >
            snapshot->value(0, 0, Quantity::weights, query, column))
          query = q, column = k;
    QVERIFY(snapshot->value(0, 0, Quantity::weights, query, column) < 0.5);
    const QRectF map = layout.mapRect(0, 0);
    const double cell = map.width() / n;
    const QColor colour =
        image.pixelColor((map.topLeft() + QPointF((column + 0.5) * cell, (query + 0.5) * cell)).toPoint());
    QVERIFY2(colour.red() > 230 && colour.green() > 210 && colour.blue() < 80, qPrintable(colour.name()));
  }

  // The colour bar of figures with each map's own range says what its top is: "max" for the book's sentence;
  // "≥ top" once a long causal map's 99th percentile cuts the range under its largest weight (its first
  // rows, near 1).
  void eachMapsRangeSaysWhatItsTopIs() {
    DisplayOptions options;
    options.sharedRange = false;
    const auto svgOf = [&](const SnapshotPointer& snapshot) {
      return Exporter::renderImage(snapshot, options, std::nullopt,
                                   {ImageFormat::svg, QSize(1200, 800), 1.0});
    };
    const QByteArray book = svgOf(bookSnapshot());
    QVERIFY(book.contains(">max<"));
    QVERIFY(!book.contains("\u2265 top") && !book.contains("&#8805; top"));
    ViewSettings settings = ViewSettings::defaults();
    QStringList words;
    for (int i = 0; i < 300; ++i) words << QStringLiteral("w%1").arg(i);
    settings.text = words.join(QLatin1Char(' '));
    settings.embeddingSource = EmbeddingSource::seeded;
    settings.dIn = 3;
    const QByteArray long300 = svgOf(bookSnapshot(settings));
    QVERIFY(QString::fromUtf8(long300).contains(QStringLiteral("\u2265 top")) ||
            long300.contains("&#8805; top"));
  }

  // The export dialog offers the presets beside a custom size.
  void dialogOffersThePresets() {
    HeatmapPlot plot;
    plot.setContent(bookSnapshot(), DisplayOptions{});
    ExportDialog dialog(plot, QSize(800, 600), QDir::tempPath());
    auto* preset = dialog.findChild<QComboBox*>(QStringLiteral("preset"));
    QVERIFY(preset);
    QCOMPARE(preset->count(), 4);
    dialog.setFormat(ImageFormat::png);
    QCOMPARE(dialog.request().size, QSize(800, 600));
    preset->setCurrentIndex(preset->findData(int(FigurePreset::column)));
    const ImageRequest request = dialog.request();
    QCOMPARE((QSizeF(request.size) * request.scale).toSize(), QSize(1050, 800));
    QVERIFY(request.inPoints);
  }

  // The format follows the typed extension; an extension of no format is refused, and the dialog stays open.
  void theFormatFollowsTheTypedFileName() {
    HeatmapPlot plot;
    plot.setContent(bookSnapshot(), DisplayOptions{});
    QTemporaryDir directory;
    ExportDialog dialog(plot, QSize(800, 600), directory.path());
    auto* path = dialog.findChild<QLineEdit*>(QStringLiteral("path"));
    QVERIFY(path);
    QCOMPARE(dialog.request().format, ImageFormat::png);
    path->clear();
    QTest::keyClicks(path, directory.filePath(QStringLiteral("typed.svg")));
    QCOMPARE(dialog.request().format, ImageFormat::svg);
    QCOMPARE(dialog.path(), directory.filePath(QStringLiteral("typed.svg")));
    path->clear();
    QTest::keyClicks(path, directory.filePath(QStringLiteral("typed.pdf")));
    QCOMPARE(dialog.request().format, ImageFormat::pdf);

    path->clear();
    QTest::keyClicks(path, directory.filePath(QStringLiteral("typed.jpg")));
    dialog.show();
    dialog.accept();
    QVERIFY(dialog.isVisible());  // refused: still open, with the path as typed
    QCOMPARE(dialog.path(), directory.filePath(QStringLiteral("typed.jpg")));
    QVERIFY(dialog.result() != QDialog::Accepted);
  }

  void maskNamesInFileNames() {
    ViewSettings settings = ViewSettings::defaults();
    settings.masks = {MaskSpec::parse("window:3"), MaskSpec::parse("prefix:2")};
    settings.heads = 1;
    QTemporaryDir folder;
    Exporter::exportEachMap(bookSnapshot(settings), DisplayOptions{},
                            {ImageFormat::pdf, QSize(300, 300), 1.0}, folder.path());
    QCOMPARE(filesIn(folder.path()), QStringList({"head0-prefix2-weights.pdf", "head0-window3-weights.pdf"}));
  }

  void failedExportsWriteNothing() {
    QTemporaryDir directory;
    const SnapshotPointer snapshot = bookSnapshot();
    // A folder that does not exist.
    const QString missing = directory.filePath(QStringLiteral("no/such/folder/grid.png"));
    QVERIFY_THROWS_EXCEPTION(Error, Exporter::exportImage(snapshot, DisplayOptions{}, std::nullopt,
                                                          {ImageFormat::png, QSize(300, 200), 1.0}, missing));
    // A target that cannot be replaced (a folder of that name): the temporary file is removed again.
    QVERIFY(QDir(directory.path()).mkdir(QStringLiteral("taken.svg")));
    QVERIFY_THROWS_EXCEPTION(Error, Exporter::exportImage(snapshot, DisplayOptions{}, std::nullopt,
                                                          {ImageFormat::svg, QSize(300, 200), 1.0},
                                                          directory.filePath(QStringLiteral("taken.svg"))));
    QCOMPARE(filesIn(directory.path()), QStringList());
    // An existing file survives a failed export over it.
    const QString existing = directory.filePath(QStringLiteral("keep.png"));
    Exporter::writeFile(existing, "old contents");
    QVERIFY_THROWS_EXCEPTION(Error, Exporter::exportImage(snapshot, DisplayOptions{}, std::nullopt,
                                                          {ImageFormat::png, QSize(5, 5), 1.0}, existing));
    QCOMPARE(readAll(existing), QByteArray("old contents"));
    QVERIFY_THROWS_EXCEPTION(Error, Exporter::formatFor(QStringLiteral("grid.jpg")));
  }

  void matricesFollowTheCliContract() {
    ViewSettings settings = ViewSettings::defaults();
    settings.dropout = 0.25;
    settings.dropoutSeed = 123;
    const SnapshotPointer snapshot = bookSnapshot(settings);
    const QJsonDocument json = QJsonDocument::fromJson(Exporter::toJson(*snapshot));
    QVERIFY(json.isArray());
    QCOMPARE(json.array().size(), 2);
    for (int row = 0; row < 2; ++row) {
      const Reference expected = reference(settings, settings.masks[row]);
      AttentionConfig config = snapshot->rows[row].config;
      const QByteArray cli =
          QByteArray::fromStdString(result_to_json(expected.tokens, config, expected.result).dump());
      QCOMPARE(QJsonDocument(json.array().at(row).toObject()).toJson(QJsonDocument::Compact),
               QJsonDocument::fromJson(cli).toJson(QJsonDocument::Compact));
    }
    QCOMPARE(json.array().at(1).toObject().value(QStringLiteral("mask")).toString(),
             QStringLiteral("causal"));

    const QList<QByteArray> lines = Exporter::toCsv(*snapshot).trimmed().split('\n');
    QCOMPARE(
        lines.first(),
        QByteArray(
            "mask,head,query,query_token,key,key_token,masked,score,scaled_score,weight,dropout_weight"));
    QCOMPARE(lines.size(), 1 + 2 * 2 * 6 * 6);
    QVERIFY(lines.at(1).startsWith("none,0,0,Your,0,Your,0,"));
    QVERIFY(lines.last().startsWith("causal,1,5,step,5,step,0,"));

    MainWindow window;
    QVERIFY(waitForIdle(window.controller()));
    QTemporaryDir directory;
    QString error;
    QVERIFY(window.exportData(directory.filePath(QStringLiteral("m.csv")), &error));
    QVERIFY(window.exportData(directory.filePath(QStringLiteral("m.json")), &error));
    QVERIFY(!window.exportData(directory.filePath(QStringLiteral("m.txt")), &error));
    QVERIFY(error.contains(QStringLiteral(".csv or .json")));
  }

  void windowExportsIndependentOfItsSize() {
    MainWindow window;
    window.resize(700, 500);
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    QTemporaryDir directory;
    QString error;
    const QString path = directory.filePath(QStringLiteral("big.png"));
    QVERIFY2(window.exportImage(path, {ImageFormat::png, QSize(2000, 1400), 1.0}, std::nullopt, &error),
             qPrintable(error));
    QCOMPARE(QImage(path).size(), QSize(2000, 1400));
    QVERIFY(window.exportEachMap(directory.path(), {ImageFormat::svg, QSize(500, 500), 1.0}, &error));
    QVERIFY(QFileInfo::exists(directory.filePath(QStringLiteral("head1-causal-weights.svg"))));
    QVERIFY(!window.exportImage(QStringLiteral("/nonexistent-dir/x.png"),
                                {ImageFormat::png, QSize(300, 300), 1.0}, std::nullopt, &error));
    QVERIFY(error.contains(QStringLiteral("/nonexistent-dir/x.png")));

    QSignalSpy copiedSpy(window.exports(), &ExportController::imageCopied);
    QVERIFY(window.copyImage());
    QVERIFY(!copiedSpy.isEmpty() || copiedSpy.wait(20000));  // it may have come already
    const QImage copied = QGuiApplication::clipboard()->image();
    QVERIFY(!copied.isNull());
    QCOMPARE(copied.size(), window.grid()->plot()->size() * window.grid()->plot()->devicePixelRatioF());
  }
};

QTEST_MAIN(TestExport)
#include "test_export.moc"
