// The readers under hostile input, one test per problem found while adding the fuzz harnesses (tests/fuzz):
// memory bounded by what a file holds, and error messages that stay one readable line whatever bytes the
// file puts in them.

#include <malloc.h>

#include <QTemporaryDir>
#include <QTest>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "../support/test_support.hpp"
#include "attnscope/config.hpp"
#include "attnscope/embeddings.hpp"
#include "attnscope/error.hpp"
#include "attnscope/mask.hpp"

// Every operator new of the process is counted, so that a test can see the most a reader held at once.
// (Eigen allocates matrices with malloc, which is not counted: the figures are what a reader needs besides
// the matrix it returns.)
namespace {

std::atomic<long long> live_bytes{0}, peak_bytes{0};

void count_allocation(void* pointer) {
  if (pointer == nullptr) return;
  const auto now = live_bytes += static_cast<long long>(malloc_usable_size(pointer));
  auto seen = peak_bytes.load();
  while (now > seen && !peak_bytes.compare_exchange_weak(seen, now)) {
  }
}

}  // namespace

void* operator new(std::size_t size) {
  void* pointer = std::malloc(size == 0 ? 1 : size);
  if (pointer == nullptr) throw std::bad_alloc();
  count_allocation(pointer);
  return pointer;
}

void operator delete(void* pointer) noexcept {
  if (pointer == nullptr) return;
  live_bytes -= static_cast<long long>(malloc_usable_size(pointer));
  std::free(pointer);
}

void operator delete(void* pointer, std::size_t) noexcept {
  operator delete(pointer);
}

using attnscope::Matrix;

namespace {

// The most bytes allocated with new at once while `action` ran, beyond what was allocated before.
template <typename Action>
long long peak_allocated_by(Action action) {
  const auto before = live_bytes.load();
  peak_bytes = before;
  action();
  return peak_bytes.load() - before;
}

template <typename Unsigned>
void append_little_endian(QByteArray& bytes, Unsigned value) {
  for (std::size_t i = 0; i < sizeof(Unsigned); ++i)
    bytes.append(static_cast<char>((value >> (8 * i)) & 0xFF));
}

QByteArray npy_file(const QByteArray& dict, const QByteArray& data) {
  QByteArray header = dict;
  header.append(QByteArray((64 - (10 + header.size() + 1) % 64) % 64, ' ')).append('\n');
  QByteArray file("\x93NUMPY\x01", 7);
  file.append('\0');
  append_little_endian(file, static_cast<std::uint16_t>(header.size()));
  return file + header + data;
}

QByteArray dict(const QByteArray& descr, const QByteArray& shape) {
  return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
}

}  // namespace

class TestReaderBounds : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(directory_.isValid()); }

  // Before: the dtype and an unexpected key were copied into the message whole, up to 64 KiB of any bytes.
  void npyHeaderTextIsEscapedAndCut_data() {
    QTest::addColumn<QByteArray>("file");
    QTest::addColumn<QString>("message");
    QTest::newRow("terminal escape, CR, NUL and bidi override in descr")
        << npy_file(dict(QByteArray("\x1b[2J\r\x00\xe2\x80\xae<f4", 12), "(1, 1)"), QByteArray(4, '\0'))
        << R"(e.npy: dtype '\x1b[2J\r\x00\u202e<f4' is not supported (expected little-endian float32 '<f4' )"
           R"(or float64 '<f8'))";
    QTest::newRow("long key") << npy_file("{'" + QByteArray(300, 'k') + "': 1}", {})
                              << "e.npy: malformed .npy header: unexpected key '" + QString(40, 'k') + "...'";
    QTest::newRow("bytes that are not UTF-8") << npy_file(dict("\xff\xfe\xc3", "(1, 1)"), QByteArray(4, '\0'))
                                              << R"(e.npy: dtype '\xff\xfe\xc3' is not supported (expected )"
                                                 R"(little-endian float32 '<f4' or float64 '<f8'))";
  }
  void npyHeaderTextIsEscapedAndCut() {
    QFETCH(QByteArray, file);
    QFETCH(QString, message);
    QCOMPARE(error_of("e.npy", file), message);
  }

  // Before: a shape of thousands of dimensions was printed whole, and parsed into a vector that large.
  void npyShapeIsBounded() {
    QCOMPARE(error_of("e.npy", npy_file(dict("<f4", "(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)"), {})),
             "e.npy: expected a 2-D array, found shape (1, 2, 3, 4, 5, 6, 7, 8, ... 2 more)");
    QCOMPARE(error_of("e.npy", npy_file(dict("<f4", "(" + QByteArray("1, ").repeated(65) + ")"), {})),
             "e.npy: malformed .npy header: 'shape' has more than 64 dimensions");
    QCOMPARE(error_of("e.npy", npy_file(dict("<f4", "(" + QByteArray("1, ").repeated(64) + ")"), {})),
             "e.npy: expected a 2-D array, found shape (1, 1, 1, 1, 1, 1, 1, 1, ... 56 more)");
  }

  // A header may claim any shape; nothing is allocated for it before the file is known to hold the data.
  void npyShapeBeyondTheFileAllocatesNothing() {
    const auto file = write("e.npy", npy_file(dict("<f4", "(16384, 16384)"), QByteArray(24, '\0')));
    QString message;
    const auto peak = peak_allocated_by([&] { message = error_of(file); });
    QCOMPARE(message,
             "e.npy: truncated data (shape (16384, 16384) needs 1073741824 bytes, the file holds 24)");
    QVERIFY2(peak < 256 * 1024, qPrintable(QString::number(peak)));
  }

  // Before: the data was read into a buffer as large as the file, then converted into the matrix.
  void npyDataIsReadInPieces() {
    QByteArray data;
    for (int i = 0; i < 1024 * 1024; ++i) append_little_endian(data, std::bit_cast<std::uint32_t>(float(i)));
    const auto file = write("big.npy", npy_file(dict("<f4", "(1024, 1024)"), data));
    Matrix matrix;
    const auto peak = peak_allocated_by([&] { matrix = attnscope::load_embeddings(file.toStdString()); });
    QCOMPARE(matrix.rows(), 1024);
    QCOMPARE(matrix.cols(), 1024);
    QCOMPARE(matrix(0, 1), 1.0f);
    QCOMPARE(matrix(1023, 1023), float(1024 * 1024 - 1));
    QVERIFY2(peak < 512 * 1024, qPrintable(QString::number(peak)));  // the file is 4 MiB
  }

  // Values and errors across the pieces the data is read in (64 KiB: 8192 float64 values).
  void npyFloat64AcrossPieces() {
    QByteArray data;
    for (int i = 0; i < 3 * 5000; ++i) append_little_endian(data, std::bit_cast<std::uint64_t>(i + 0.5));
    Matrix matrix =
        attnscope::load_embeddings(write("e.npy", npy_file(dict("<f8", "(3, 5000)"), data)).toStdString());
    for (int i = 0; i < 3 * 5000; ++i) QCOMPARE(matrix.data()[i], float(i + 0.5));

    const auto out_of_range = std::bit_cast<std::uint64_t>(1e300);
    for (int byte = 0; byte < 8; ++byte)
      data[8 * 12345 + byte] = static_cast<char>((out_of_range >> (8 * byte)) & 0xFF);
    QCOMPARE(error_of("e.npy", npy_file(dict("<f8", "(3, 5000)"), data)),
             "e.npy: row 3, column 2346 holds 1e+300, beyond the float32 range");
  }

  // Before: the field was copied raw (a terminal escape, a CR that rewrites the line, a bidi override) and
  // cut at 40 bytes, possibly inside a character.
  void csvFieldIsEscapedAndCut_data() {
    QTest::addColumn<QByteArray>("file");
    QTest::addColumn<QString>("message");
    QTest::newRow("terminal escape and CR") << QByteArray("1,2\n\x1b[31mred\rx,2\n")
                                            << R"(e.csv: line 2, column 1: '\x1b[31mred\rx' is not a number)";
    QTest::newRow("NUL") << QByteArray("1,2\nx\0y,2\n", 10)
                         << R"(e.csv: line 2, column 1: 'x\x00y' is not a number)";
    QTest::newRow("bidi override and isolate")
        << QByteArray(
               "1,2\n\xe2\x80\xae"
               "abc\xe2\x81\xa6,2\n")
        << R"(e.csv: line 2, column 1: '\u202eabc\u2066' is not a number)";
    QTest::newRow("not UTF-8") << QByteArray("1,2\n\xff\xc0\xaf,2\n")
                               << R"(e.csv: line 2, column 1: '\xff\xc0\xaf' is not a number)";
    QTest::newRow("no-break space") << QByteArray("1,2\n1\xc2\xa0,2\n")
                                    << R"(e.csv: line 2, column 1: '1\u00a0' is not a number)";
    QTest::newRow("backslash and quote")
        << QByteArray("1,2\nit's\\,2\n") << R"(e.csv: line 2, column 1: 'it\'s\\' is not a number)";
    QTest::newRow("letters of other scripts stay")
        << QByteArray("1,2\n\xce\xb1\xce\xb2,2\n") << "e.csv: line 2, column 1: 'αβ' is not a number";
    QTest::newRow("cut after a whole character")
        << "1\na" + QByteArray("\xc3\xa9").repeated(30) + "\n"
        << "e.csv: line 2, column 1: 'a" + QString("é").repeated(20) + "...' is not a number";
  }
  void csvFieldIsEscapedAndCut() {
    QFETCH(QByteArray, file);
    QFETCH(QString, message);
    QCOMPARE(error_of("e.csv", file), message);
  }

  // Before: every line was split into a vector of fields and one of parsed values, 24 bytes per field, and
  // the values then copied into the matrix.
  void csvWideLineNeedsLittleMemory() {
    const int fields = 500000;
    QByteArray line = QByteArray("1,").repeated(fields - 1) + "7\n";
    const auto file = write("wide.csv", line);
    Matrix matrix;
    const auto peak = peak_allocated_by([&] { matrix = attnscope::load_embeddings(file.toStdString()); });
    QCOMPARE(matrix.rows(), 1);
    QCOMPARE(matrix.cols(), fields);
    QCOMPARE(matrix(0, fields - 1), 7.0f);
    // The line itself, as std::getline grows it: at most about 3 times its size.
    QVERIFY2(peak < 4 * line.size(), qPrintable(QString::number(peak)));
  }

  void csvManyRows() {
    const auto file = write("tall.csv", QByteArray("x\n") + QByteArray("1 2\n").repeated(100000) + "3 4\n");
    const Matrix matrix = attnscope::load_embeddings(file.toStdString());
    QCOMPARE(matrix.rows(), 100001);
    QCOMPARE(matrix.cols(), 2);
    QCOMPARE(matrix(99999, 1), 2.0f);
    QCOMPARE(matrix(100000, 0), 3.0f);
  }

  // Before: a file's name went into messages as it is, control characters included.
  void fileNameIsEscaped() {
    QCOMPARE(error_of("bad\x1b[2J.csv", ""), R"(bad\x1b[2J.csv: holds no rows)");
    QCOMPARE(error_of("naïve.csv", ""), "naïve.csv: holds no rows");
    const auto mask = write("mask\x1b[2J.csv", "0\n");
    try {
      attnscope::build_mask(attnscope::MaskSpec::parse(("file:" + mask).toStdString()), 2);
      QFAIL("no error");
    } catch (const attnscope::Error& error) {
      QCOMPARE(QString::fromUtf8(error.what()),
               "mask file " + directory_.path() +
                   R"(/mask\x1b[2J.csv is 1×1 but the text has 2 tokens (it must )"
                   "be at least 2×2)");
    }
  }

  // Before: std::to_string showed 1e-07 as 0.000000, a value the mask accepts.
  void maskValueIsShownExactly_data() {
    QTest::addColumn<QByteArray>("file");
    QTest::addColumn<QString>("value");
    QTest::newRow("tiny") << QByteArray("0,1e-7\n0,0\n") << "1e-07";
    QTest::newRow("huge") << QByteArray("0,3e38\n0,0\n") << "3e+38";
    QTest::newRow("half") << QByteArray("0,0.5\n0,0\n") << "0.5";
  }
  void maskValueIsShownExactly() {
    QFETCH(QByteArray, file);
    QFETCH(QString, value);
    const auto path = write("mask.csv", file);
    try {
      attnscope::build_mask(attnscope::MaskSpec::parse(("file:" + path).toStdString()), 2);
      QFAIL("no error");
    } catch (const attnscope::Error& error) {
      QCOMPARE(QString::fromUtf8(error.what()), "mask file " + path + ": row 1, column 2 is " + value +
                                                    " (expected 0 = visible or 1 = masked)");
    }
  }

 private:
  QString write(const QString& name, const QByteArray& contents) {
    return attnscope::testing::write_test_file(QDir(directory_.path()), name, contents);
  }

  QString error_of(const QString& path) {
    try {
      attnscope::load_embeddings(path.toStdString());
      return "no error";
    } catch (const attnscope::Error& error) {
      return QString::fromUtf8(error.what());
    }
  }

  QString error_of(const QString& name, const QByteArray& contents) {
    return error_of(write(name, contents));
  }

  QTemporaryDir directory_;
};

QTEST_GUILESS_MAIN(TestReaderBounds)
#include "test_reader_bounds.moc"
