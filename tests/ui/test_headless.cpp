// attnscope --export as scripts use it: no display needed, the file has the requested size, and every bad
// flag or unwritable path ends with one line on stderr and a non-zero exit.

#include <QImage>
#include <QProcess>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QTest>

namespace {

struct Run {
  int exitCode = -1;
  QByteArray out, err;
};

// Runs attnscope without any display and without a platform chosen for it, as on a server.
Run runApp(const QStringList& arguments, const QString& fileSizeLimitBlocks = {}) {
  QProcess process;
  QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
  environment.remove(QStringLiteral("DISPLAY"));
  environment.remove(QStringLiteral("WAYLAND_DISPLAY"));
  environment.remove(QStringLiteral("QT_QPA_PLATFORM"));
  process.setProcessEnvironment(environment);
  const QString program = QStringLiteral(ATTNSCOPE_BIN_DIR "/attnscope");
  if (fileSizeLimitBlocks.isEmpty()) {
    process.start(program, arguments);
  } else {
    process.start(QStringLiteral("/bin/sh"),
                  QStringList{"-c", "ulimit -f " + fileSizeLimitBlocks + " && exec \"$0\" \"$@\"", program} +
                      arguments);
  }
  if (!process.waitForFinished(60000)) qFatal("attnscope did not finish");
  Run run;
  run.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
  run.out = process.readAllStandardOutput();
  run.err = process.readAllStandardError();
  return run;
}

}  // namespace

class TestHeadless : public QObject {
  Q_OBJECT

 private slots:
  void exportsTheLaunchViewWithoutADisplay() {
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("grid.png"));
    const Run run = runApp({"--export", path, "--size", "1600x1000"});
    QVERIFY2(run.exitCode == 0, run.err.constData());
    QVERIFY(run.err.isEmpty());
    QCOMPARE(QImage(path).size(), QSize(1600, 1000));
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
