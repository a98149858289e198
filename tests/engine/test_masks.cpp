// Mask specifications: parsing, the shapes they build, mask files and every bad parameter.

#include <QTemporaryDir>
#include <QTest>

#include "attnscope/error.hpp"
#include "attnscope/mask.hpp"

using namespace attnscope;

namespace {

MaskMatrix from_rows(std::initializer_list<std::initializer_list<int>> rows) {
  MaskMatrix mask(static_cast<Eigen::Index>(rows.size()), static_cast<Eigen::Index>(rows.begin()->size()));
  Eigen::Index i = 0;
  for (const auto& row : rows) {
    Eigen::Index j = 0;
    for (const int value : row) mask(i, j++) = static_cast<std::uint8_t>(value);
    ++i;
  }
  return mask;
}

QString write_file(const QTemporaryDir& directory, const QString& name, const QByteArray& contents) {
  QFile file(directory.filePath(name));
  if (!file.open(QIODevice::WriteOnly)) qFatal("cannot write %s", qPrintable(file.fileName()));
  file.write(contents);
  return file.fileName();
}

}  // namespace

class TestMasks : public QObject {
  Q_OBJECT

 private slots:
  void parsesEverySpelling_data() {
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("kind");
    QTest::addColumn<int>("size");
    QTest::newRow("none") << "none" << int(MaskKind::none) << 0;
    QTest::newRow("causal") << "causal" << int(MaskKind::causal) << 0;
    QTest::newRow("window") << "window:3" << int(MaskKind::window) << 3;
    QTest::newRow("prefix") << "prefix:2" << int(MaskKind::prefix) << 2;
    QTest::newRow("prefix 0") << "prefix:0" << int(MaskKind::prefix) << 0;
    QTest::newRow("file") << "file:/tmp/m.csv" << int(MaskKind::file) << 0;
  }
  void parsesEverySpelling() {
    QFETCH(QString, text);
    QFETCH(int, kind);
    QFETCH(int, size);
    const MaskSpec spec = MaskSpec::parse(text.toStdString());
    QCOMPARE(int(spec.kind), kind);
    QCOMPARE(spec.size, size);
    QCOMPARE(QString::fromStdString(spec.to_string()), text);
  }

  void rejectsBadSpecs_data() {
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("message");
    QTest::newRow("unknown") << "diagonal"
                             << "unknown mask 'diagonal'";
    QTest::newRow("window without size") << "window"
                                         << "window needs";
    QTest::newRow("window 0") << "window:0"
                              << "W >= 1";
    QTest::newRow("window negative") << "window:-2"
                                     << "W >= 1";
    QTest::newRow("window text") << "window:abc"
                                 << "W >= 1";
    QTest::newRow("window trailing") << "window:3x"
                                     << "W >= 1";
    QTest::newRow("prefix negative") << "prefix:-1"
                                     << "P >= 0";
    QTest::newRow("prefix huge") << "prefix:99999999999999"
                                 << "P >= 0";
    QTest::newRow("file without path") << "file:"
                                       << "needs a path";
    QTest::newRow("empty") << ""
                           << "unknown mask ''";
  }
  void rejectsBadSpecs() {
    QFETCH(QString, text);
    QFETCH(QString, message);
    try {
      MaskSpec::parse(text.toStdString());
      QFAIL("no error");
    } catch (const Error& error) {
      QVERIFY2(QString(error.what()).contains(message), error.what());
    }
  }

  void buildsShapes() {
    QCOMPARE(build_mask(MaskSpec::parse("none"), 3), MaskMatrix::Zero(3, 3).eval());
    QCOMPARE(build_mask(MaskSpec::parse("causal"), 3), from_rows({{0, 1, 1}, {0, 0, 1}, {0, 0, 0}}));
    QCOMPARE(build_mask(MaskSpec::parse("window:2"), 4),
             from_rows({{0, 1, 1, 1}, {0, 0, 1, 1}, {1, 0, 0, 1}, {1, 1, 0, 0}}));
    QCOMPARE(build_mask(MaskSpec::parse("window:1"), 3), from_rows({{0, 1, 1}, {1, 0, 1}, {1, 1, 0}}));
    QCOMPARE(build_mask(MaskSpec::parse("prefix:2"), 4),
             from_rows({{0, 0, 1, 1}, {0, 0, 1, 1}, {0, 0, 0, 1}, {0, 0, 0, 0}}));
    QCOMPARE(build_mask(MaskSpec::parse("prefix:0"), 3), build_mask(MaskSpec::parse("causal"), 3));
    QCOMPARE(build_mask(MaskSpec::parse("window:10"), 3), build_mask(MaskSpec::parse("causal"), 3));
    QCOMPARE(build_mask(MaskSpec::parse("causal"), 1), MaskMatrix::Zero(1, 1).eval());
  }

  // any_hidden reads whole words and then the bytes past the last: one hidden cell anywhere in a mask of
  // any size is found, and a mask with none is not mistaken.
  void findsAnyHiddenCell() {
    for (Eigen::Index n = 1; n <= 12; ++n) {
      MaskMatrix mask = MaskMatrix::Zero(n, n);
      QVERIFY(!any_hidden(mask));
      for (Eigen::Index cell = 0; cell < mask.size(); ++cell) {
        mask.data()[cell] = 1;
        QVERIFY2(any_hidden(mask), qPrintable(QStringLiteral("n %1, cell %2").arg(n).arg(cell)));
        mask.data()[cell] = 0;
      }
    }
    QVERIFY(!any_hidden(build_mask(MaskSpec::parse("none"), 1024)));
    QVERIFY(any_hidden(build_mask(MaskSpec::parse("causal"), 1024)));
    QVERIFY(!any_hidden(build_mask(MaskSpec::parse("causal"), 1)));
    QVERIFY(!any_hidden(MaskMatrix()));
  }

  void readsMaskFiles() {
    QTemporaryDir directory;
    const QString path =
        write_file(directory, "mask.csv", "# 1 = hidden\n0,1,1,0\n0 0 1 0\n1;0;0;0\n0\t0\t0\t0\n");
    QCOMPARE(
        build_mask(MaskSpec::parse(("file:" + path).toStdString()), 3),
        from_rows({{0, 1, 1}, {0, 0, 1}, {1, 0, 0}}));  // the top-left block, as the book slices its mask
  }

  void rejectsBadMaskFiles_data() {
    QTest::addColumn<QByteArray>("contents");
    QTest::addColumn<QString>("message");
    QTest::newRow("too small") << QByteArray("0,1\n0,0\n") << "at least 3×3";
    QTest::newRow("not 0/1") << QByteArray("0,1,1\n0,0.5,1\n0,0,0\n") << "row 2, column 2";
    QTest::newRow("negative") << QByteArray("0,1,1\n0,0,1\n-1,0,0\n") << "row 3, column 1";
    QTest::newRow("empty") << QByteArray("") << "no rows";
    QTest::newRow("ragged") << QByteArray("0,1,1\n0,0\n0,0,0\n") << "line 2";
    QTest::newRow("NaN") << QByteArray("0,1,1\n0,nan,1\n0,0,0\n") << "mask";
  }
  void rejectsBadMaskFiles() {
    QFETCH(QByteArray, contents);
    QFETCH(QString, message);
    QTemporaryDir directory;
    const QString path = write_file(directory, "mask.csv", contents);
    try {
      build_mask(MaskSpec::parse(("file:" + path).toStdString()), 3);
      QFAIL("no error");
    } catch (const Error& error) {
      QVERIFY2(QString(error.what()).contains(message), error.what());
    }
  }

  void missingMaskFile() {
    try {
      build_mask(MaskSpec::parse("file:/nonexistent/mask.csv"), 2);
      QFAIL("no error");
    } catch (const Error& error) {
      QVERIFY2(QString(error.what()).contains("mask.csv"), error.what());
    }
  }
};

QTEST_GUILESS_MAIN(TestMasks)
#include "test_masks.moc"
