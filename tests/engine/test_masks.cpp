// Mask specifications: parsing, the shapes they build, mask files and every bad parameter.

#include <QTemporaryDir>
#include <QTest>

#include "attnscope/error.hpp"
#include "attnscope/mask.hpp"
#include "cpu/attention_step.hpp"

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

  // The CPU step's visible range per query row (memchr and memrchr over the row) against a scan of every
  // cell: the first and last seen key, and whether every key between them is seen, for rows with nothing
  // hidden, hidden prefixes and suffixes, holes, one seen key and none.
  void visibleRangesMatchTheCells() {
    std::vector<MaskMatrix> masks;
    for (const char* spec : {"none", "causal", "window:3", "prefix:2"})
      for (const Eigen::Index n : {1, 2, 7, 33}) masks.push_back(build_mask(MaskSpec::parse(spec), n));
    MaskMatrix holes = MaskMatrix::Zero(9, 40);
    for (Eigen::Index i = 0; i < holes.rows(); ++i)
      for (Eigen::Index j = 0; j < holes.cols(); ++j) holes(i, j) = (i * 7 + j * 3) % (i + 2) == 0 ? 1 : 0;
    holes.row(0).setOnes();  // nothing seen
    holes.row(1).setOnes();  // one key seen, at the end
    holes(1, 39) = 0;
    holes.row(2).setZero();  // a hole in the middle only
    holes(2, 20) = 1;
    masks.push_back(holes);
    for (const MaskMatrix& mask : masks) {
      const std::vector<cpu::VisibleRange> ranges = cpu::visible_ranges(mask);
      QCOMPARE(static_cast<Eigen::Index>(ranges.size()), mask.rows());
      for (Eigen::Index i = 0; i < mask.rows(); ++i) {
        Eigen::Index first = -1, last = -1;
        for (Eigen::Index j = 0; j < mask.cols(); ++j)
          if (!mask(i, j)) {
            if (first < 0) first = j;
            last = j;
          }
        const cpu::VisibleRange range = ranges[static_cast<std::size_t>(i)];
        const QString where = QStringLiteral("%1 x %2 mask, row %3").arg(mask.rows()).arg(mask.cols()).arg(i);
        if (first < 0) {
          QVERIFY2(range.begin >= range.end, qPrintable(where));
          continue;
        }
        QVERIFY2(range.begin == first && range.end == last + 1, qPrintable(where));
        bool contiguous = true;
        for (Eigen::Index j = first; j <= last; ++j) contiguous = contiguous && !mask(i, j);
        QVERIFY2(range.contiguous == contiguous, qPrintable(where));
      }
    }
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
