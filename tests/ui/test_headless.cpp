// attnscope --export as scripts use it: no display needed, the file has the requested size, and every bad
// flag or unwritable path ends with one line on stderr and a non-zero exit.

#include <QImage>
#include <QProcess>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QTest>
#include <algorithm>
#include <cmath>
#include <memory>

#include "attnscope/backend.hpp"
#include "compute/attention_input.hpp"
#include "compute/attention_snapshot.hpp"
#include "plot/color_maps.hpp"
#include "plot/figure_renderer.hpp"
#include "plot/heatmap_plot.hpp"
#include "plot/stat_readout.hpp"
#include "state/view_settings.hpp"
#include "ui_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;
using namespace attnscope::ui::testing;

namespace {

// Where the launch view's export puts its maps and colour bar at `size`: the figure's own layout, the one
// the export draws. The colours come from the file alone.
struct LaunchLayout {
  SnapshotPointer snapshot;
  std::unique_ptr<FigureRenderer> figure;
  FigureLayout layout;
};

LaunchLayout launchLayout(QSize size) {
  ViewSettings settings = ViewSettings::defaults();
  settings.display.statReadouts = false;  // an export without --stats has none
  LaunchLayout launch;
  const auto backend = make_backend(Device::cpu);
  const CancelToken never;
  launch.snapshot = computeSnapshot(AttentionInput::fromSettings(settings), *backend, never);
  launch.figure = std::make_unique<FigureRenderer>(launch.snapshot, settings.display);
  launch.layout = launch.figure->layout(QSizeF(size), FigureStyle{});
  return launch;
}

int channelDistance(QRgb a, QRgb b) {
  return std::max(
      {std::abs(qRed(a) - qRed(b)), std::abs(qGreen(a) - qGreen(b)), std::abs(qBlue(a) - qBlue(b))});
}

bool isGrey(QRgb c) {
  return qRed(c) == qGreen(c) && qGreen(c) == qBlue(c);
}

// The pixels of a band in the upper part of a cell of an n-token map drawn in `map`.
QList<QRgb> cellPatch(const QImage& image, const QRectF& map, int n, int query, int key) {
  const double cell = map.width() / n;
  const QPointF centre = map.topLeft() + QPointF((key + 0.5) * cell, (query + 0.5) * cell);
  QList<QRgb> pixels;
  for (double dy = -0.4; dy <= -0.25; dy += 0.05)
    for (double dx = -0.4; dx <= 0.4; dx += 0.05) {
      const QPoint point = (centre + QPointF(dx * cell, dy * cell)).toPoint();
      if (image.rect().contains(point)) pixels << image.pixel(point);
    }
  return pixels;
}

}  // namespace

class TestHeadless : public QObject {
  Q_OBJECT

 private slots:
  // README: "--figure slide|column|page" gives the preset's pixels, and a PDF page of its size in points.
  void figurePresets() {
    QTemporaryDir directory;
    const QString png = directory.filePath(QStringLiteral("column.png"));
    Run run = runApp({"--figure", "column", "--export", png});
    QVERIFY2(run.exitCode == 0, run.err.constData());
    QCOMPARE(QImage(png).size(), QSize(1050, 800));
    const QString pdf = directory.filePath(QStringLiteral("page.pdf"));
    run = runApp({"--figure", "page", "--export", pdf});
    QVERIFY2(run.exitCode == 0, run.err.constData());
    QFile file(pdf);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QVERIFY(file.readAll().contains("/MediaBox [0 0 504.000000 324.000000]"));
  }

  void exportsTheLaunchViewWithoutADisplay() {
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("grid.png"));
    const Run run = runApp({"--export", path, "--size", "1600x1000"});
    QVERIFY2(run.exitCode == 0, run.err.constData());
    QVERIFY(run.err.isEmpty());
    QCOMPARE(QImage(path).size(), QSize(1600, 1000));
  }

  // The launch view's PNG shows the maps, not just a file of the right size: every visible cell in the
  // colour the map gives its weight (so cells of different weights differ), the cells the causal mask hides
  // hatched grey, and the colour bar beside the maps.
  void theLaunchViewsPngShowsTheMaps() {
    const QSize size(1600, 1000);
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("grid.png"));
    const Run run = runApp({"--export", path, "--size", "1600x1000"});
    QVERIFY2(run.exitCode == 0, run.err.constData());
    const QImage image = QImage(path).convertToFormat(QImage::Format_RGB32);
    QCOMPARE(image.size(), size);

    const LaunchLayout launch = launchLayout(size);
    const FigureRenderer& figure = *launch.figure;
    const AttentionSnapshot& snapshot = *launch.snapshot;
    QCOMPARE(figure.groupCount(), 2);  // masks none and causal
    QCOMPARE(figure.headCount(), 2);   // heads 1 and 2
    const int n = snapshot.tokenCount();
    QCOMPARE(n, 6);
    // The maps share one range, the extremes of every visible weight.
    double minimum = 2, maximum = -1;
    for (int group = 0; group < 2; ++group)
      for (int head = 0; head < 2; ++head)
        for (int query = 0; query < n; ++query)
          for (int key = 0; key < n; ++key) {
            const MapKey map = figure.mapKey(group, head);
            if (snapshot.isMasked(map.maskRow, query, key)) continue;
            const double value = snapshot.value(map.maskRow, map.head, map.quantity, query, key);
            minimum = std::min(minimum, value);
            maximum = std::max(maximum, value);
          }
    // Six tokens have too few cells for a few large weights to stretch the bar: it runs to the largest.
    const QCPRange range = ColorMaps::rangeFor(Quantity::weights, minimum, maximum, maximum);
    QCPColorGradient gradient = ColorMaps::forQuantity(Quantity::weights, ColorMapId::viridis);
    int hatched = 0;
    double overallLowest = 2, overallHighest = -1;
    QRgb overallLowestColour = 0, overallHighestColour = 0;
    for (int group = 0; group < 2; ++group)
      for (int head = 0; head < 2; ++head) {
        const MapKey map = figure.mapKey(group, head);
        const QRectF rect = launch.layout.mapRect(group, head);
        // The cells are large enough to look into.
        QVERIFY(rect.width() / n >= 40);
        QCOMPARE(rect.width(), rect.height());  // square cells
        double lowest = 2, highest = -1;
        QRgb lowestColour = 0, highestColour = 0;
        for (int query = 0; query < n; ++query)
          for (int key = 0; key < n; ++key) {
            const QString where = QStringLiteral("head %1 · %2, query %3, key %4")
                                      .arg(map.head)
                                      .arg(snapshot.maskLabel(map.maskRow))
                                      .arg(query)
                                      .arg(key);
            const QList<QRgb> patch = cellPatch(image, rect, n, query, key);
            QVERIFY2(patch.size() > 40, qPrintable(where));
            if (snapshot.isMasked(map.maskRow, query, key)) {
              // Hatched: only the hatch's two greys, both of them, never a colour of the scale.
              bool background = false, line = false;
              for (const QRgb pixel : patch) {
                QVERIFY2(isGrey(pixel) && qRed(pixel) < 235, qPrintable(where));
                background = background || qRed(pixel) == ColorMaps::maskedBackground().red();
                line = line || qRed(pixel) == ColorMaps::maskedLine().red();
              }
              QVERIFY2(background && line, qPrintable(where));
              ++hatched;
              continue;
            }
            // Visible: one flat colour, the gradient's for this weight.
            const double value = snapshot.value(map.maskRow, map.head, map.quantity, query, key);
            const QRgb expected = gradient.color(value, range);
            for (const QRgb pixel : patch)
              QVERIFY2(channelDistance(pixel, expected) <= 3,
                       qPrintable(QStringLiteral("%1: pixel #%2, the map's colour for %3 is #%4")
                                      .arg(where)
                                      .arg(pixel & 0xffffff, 6, 16, QLatin1Char('0'))
                                      .arg(value)
                                      .arg(expected & 0xffffff, 6, 16, QLatin1Char('0'))));
            QVERIFY2(!isGrey(patch.first()), qPrintable(where));
            if (value < lowest) lowest = value, lowestColour = patch.first();
            if (value > highest) highest = value, highestColour = patch.first();
          }
        QVERIFY(highest > lowest);
        QVERIFY(channelDistance(lowestColour, highestColour) > 0);
        if (highest > overallHighest) overallHighest = highest, overallHighestColour = highestColour;
        if (lowest < overallLowest) overallLowest = lowest, overallLowestColour = lowestColour;
      }
    // The maps share one range: the causal maps' first query (weight 1) and the grid's smallest weight sit
    // far apart on it.
    QCOMPARE(overallHighest, 1.0);
    QVERIFY(overallLowest < 0.2);
    QVERIFY(channelDistance(overallLowestColour, overallHighestColour) > 100);
    QCOMPARE(hatched, 2 * n * (n - 1) / 2);  // the causal maps' upper triangles

    // The colour bar: one, a vertical strip beside the maps whose colour runs from the scale's low end at
    // the bottom to its high end at the top (viridis: green rises all the way).
    QCOMPARE(launch.layout.scaleBars().size(), std::size_t(1));
    const QRectF bar = launch.layout.scaleBars().front();
    QVERIFY(bar.left() > launch.layout.mapRect(0, 1).right());
    const int x = qRound(bar.center().x());
    const int top = int(std::ceil(bar.top())) + 2;
    const int bottom = int(std::floor(bar.bottom())) - 2;
    QVERIFY(bottom - top > 200);
    QVERIFY(channelDistance(image.pixel(x, bottom), gradient.color(range.lower, range)) <= 12);
    QVERIFY(channelDistance(image.pixel(x, top), gradient.color(range.upper, range)) <= 12);
    for (int y = bottom; y > top; --y) {
      const QRgb below = image.pixel(x, y), above = image.pixel(x, y - 1);
      QVERIFY2(!isGrey(above), qPrintable(QStringLiteral("colour bar at y %1").arg(y - 1)));
      QVERIFY2(qGreen(above) >= qGreen(below), qPrintable(QStringLiteral("colour bar at y %1").arg(y - 1)));
    }
    QVERIFY(qGreen(image.pixel(x, top)) - qGreen(image.pixel(x, bottom)) > 150);
  }

  void everyFormat_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<QStringList>("flags");
    QTest::newRow("png, three masks")
        << QStringLiteral("a.png") << QStringList{"--masks", "none,causal,window:3", "--show", "weights"};
    QTest::newRow("svg, both") << QStringLiteral("b.svg")
                               << QStringList{"--text", "The cat sat on the mat", "--show", "both"};
    QTest::newRow("pdf, simplified scores")
        << QStringLiteral("c.pdf") << QStringList{"--preset", "book", "--mechanism", "simplified",
                                                  "--masks",  "none", "--show",      "scores"};
    QTest::newRow("png, engine flags")
        << QStringLiteral("d.png") << QStringList{"--text",         "one two three four",
                                                  "--d-in",         "6",
                                                  "--heads",        "3",
                                                  "--d-out",        "6",
                                                  "--dropout",      "0.2",
                                                  "--dropout-seed", "1",
                                                  "--tokenizer",    "words",
                                                  "--seed",         "7"};
  }

  void everyFormat() {
    QFETCH(QString, name);
    QFETCH(QStringList, flags);
    QTemporaryDir directory;
    const QString path = directory.filePath(name);
    const Run run = runApp(flags + QStringList{"--export", path, "--size", "900x700"});
    QVERIFY2(run.exitCode == 0, run.err.constData());
    if (name.endsWith(QLatin1String(".png"))) {
      QCOMPARE(QImage(path).size(), QSize(900, 700));
    } else if (name.endsWith(QLatin1String(".svg"))) {
      QSvgRenderer svg(path);
      QVERIFY(svg.isValid());
      QCOMPARE(svg.defaultSize(), QSize(900, 700));
    } else {
      QFile pdf(path);
      QVERIFY(pdf.open(QIODevice::ReadOnly));
      const QByteArray bytes = pdf.readAll();
      QVERIFY(bytes.startsWith("%PDF-"));
      QVERIFY(bytes.contains("/MediaBox [0 0 900.000000 700.000000]"));
    }
  }

  // README: "--stats" prints each head's statistics under its map in an export; without it (and without a
  // session saying so) the export has none, as before readouts existed.
  void statsPrintsTheReadouts() {
    ViewSettings settings = ViewSettings::defaults();
    const auto backend = make_backend(Device::cpu);
    const CancelToken never;
    const SnapshotPointer snapshot = computeSnapshot(AttentionInput::fromSettings(settings), *backend, never);
    const QString readout = statReadout(*snapshot, 0, 0);
    QVERIFY(readout.startsWith(QStringLiteral("H ")));
    QTemporaryDir directory;
    const auto svgText = [&](const QStringList& flags) {
      const QString path = directory.filePath(QStringLiteral("stats.svg"));
      QFile::remove(path);
      const Run run = runApp(flags + QStringList{"--export", path, "--size", "1600x1000"});
      if (run.exitCode != 0) qWarning("%s", run.err.constData());
      QFile file(path);
      return file.open(QIODevice::ReadOnly) ? QString::fromUtf8(file.readAll()) : QString();
    };
    const QString with = svgText({"--stats"});
    QVERIFY(with.contains(QStringLiteral("<svg")));
    QVERIFY2(with.contains(readout.toHtmlEscaped()), qPrintable(readout));
    const QString without = svgText({});
    QVERIFY(without.contains(QStringLiteral("<svg")));
    QVERIFY(!without.contains(readout.toHtmlEscaped()));
    QVERIFY(!without.contains(QStringLiteral(" bits")));
  }

  void theDefaultSizeFitsTheGrid() {
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("natural.png"));
    const Run run = runApp({"--export", path, "--masks", "none,causal,window:2,prefix:1"});
    QVERIFY2(run.exitCode == 0, run.err.constData());
    const QImage image(path);
    QVERIFY(image.height() > image.width());  // four rows of two maps
  }

  void badInputEndsWithOneLine_data() {
    QTest::addColumn<QStringList>("flags");
    QTest::addColumn<int>("exitCode");
    QTest::addColumn<QString>("says");
    const QString out = QStringLiteral("OUT");
    QTest::newRow("unknown flag") << QStringList{"--bogus", "--export", out} << 2
                                  << QStringLiteral("--bogus");
    QTest::newRow("bad show") << QStringList{"--show", "everything", "--export", out} << 2
                              << QStringLiteral("--show");
    QTest::newRow("bad mask") << QStringList{"--masks", "window:0", "--export", out} << 1
                              << QStringLiteral("window");
    QTest::newRow("bad figure") << QStringList{"--figure", "poster", "--export", out} << 2
                                << QStringLiteral("--figure");
    QTest::newRow("figure and size") << QStringList{"--figure", "slide", "--size", "800x600", "--export", out}
                                     << 2 << QStringLiteral("--figure");
    QTest::newRow("bad size") << QStringList{"--size", "10x10", "--export", out} << 1
                              << QStringLiteral("--size");
    QTest::newRow("bad format") << QStringList{"--export", "grid.jpg"} << 1
                                << QStringLiteral(".png, .svg or .pdf");
    QTest::newRow("unwritable") << QStringList{"--export", "/nonexistent-dir/grid.png"} << 1
                                << QStringLiteral("/nonexistent-dir/grid.png");
    QTest::newRow("heads") << QStringList{"--heads", "3", "--export", out} << 1 << QStringLiteral("heads");
    QTest::newRow("empty text") << QStringList{"--text", "  ", "--export", out} << 1
                                << QStringLiteral("empty");
    QTest::newRow("preset and text") << QStringList{"--preset", "book", "--text", "x", "--export", out} << 1
                                     << QStringLiteral("--preset");
    QTest::newRow("max tokens") << QStringList{"--text", "a b c", "--max-tokens", "2", "--export", out} << 1
                                << QStringLiteral("--max-tokens 2");
    QTest::newRow("no display") << QStringList{"--text", "x"} << 1 << QStringLiteral("display");
  }

  void badInputEndsWithOneLine() {
    QFETCH(QStringList, flags);
    QFETCH(int, exitCode);
    QFETCH(QString, says);
    QTemporaryDir directory;
    flags.replaceInStrings(QStringLiteral("OUT"), directory.filePath(QStringLiteral("x.png")));
    const Run run = runApp(flags);
    QCOMPARE(run.exitCode, exitCode);
    const QList<QByteArray> lines = run.err.trimmed().split('\n');
    QCOMPARE(lines.size(), 1);
    QVERIFY2(lines.first().startsWith("attnscope: error: "), run.err.constData());
    QVERIFY2(QString::fromUtf8(lines.first()).contains(says), run.err.constData());
    QVERIFY(QDir(directory.path()).isEmpty());
  }

  void aFullDiskLeavesNothingBehind() {
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("big.png"));
    const Run run = runApp({"--export", path, "--size", "3000x3000"}, QStringLiteral("8"));
    QVERIFY(run.exitCode != 0);
    QVERIFY2(run.err.startsWith("attnscope: error: "), run.err.constData());
    QVERIFY(QDir(directory.path()).isEmpty());
  }

  void helpAndVersion() {
    const Run help = runApp({"--help"});
    QCOMPARE(help.exitCode, 0);
    QVERIFY(help.out.contains("--export"));
    QVERIFY(help.out.contains("--masks"));
    QVERIFY(help.out.contains("--mechanism"));
    const Run version = runApp({"--version"});
    QCOMPARE(version.exitCode, 0);
    QVERIFY(version.out.startsWith("attnscope "));
  }
};

QTEST_MAIN(TestHeadless)
#include "test_headless.moc"
