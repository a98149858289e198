// Embeddings from .npy and .csv files: the layouts numpy and spreadsheets write, and every way a file can be
// wrong, each reported with the file name first.

#include <QTemporaryDir>
#include <QTest>
#include <bit>
#include <cfloat>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <sstream>

#include "../support/test_support.hpp"
#include "attnscope/embeddings.hpp"
#include "attnscope/error.hpp"

using attnscope::Matrix;

namespace {

Matrix matrix_of(Eigen::Index rows, Eigen::Index cols, std::initializer_list<float> values) {
  Matrix matrix(rows, cols);
  std::copy(values.begin(), values.end(), matrix.data());
  return matrix;
}

QByteArray describe(const Matrix& matrix) {
  std::ostringstream text;
  text.precision(9);
  text << matrix.rows() << "x" << matrix.cols() << "\n" << matrix;
  return QByteArray::fromStdString(text.str());
}

// Bitwise, so that -0.0 differs from 0.0 and a rounding error does not hide.
bool identical(const Matrix& a, const Matrix& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    if (std::bit_cast<std::uint32_t>(a.data()[i]) != std::bit_cast<std::uint32_t>(b.data()[i])) return false;
  }
  return true;
}

#define COMPARE_MATRIX(actual, expected) \
  QVERIFY2(identical(actual, expected),  \
           QByteArray("actual\n" + describe(actual) + "\nexpected\n" + describe(expected)).constData())

template <typename Unsigned>
void append_little_endian(QByteArray& bytes, Unsigned value) {
  for (std::size_t i = 0; i < sizeof(Unsigned); ++i)
    bytes.append(static_cast<char>((value >> (8 * i)) & 0xFF));
}

QByteArray float32_bytes(std::initializer_list<float> values) {
  QByteArray bytes;
  for (const float value : values) append_little_endian(bytes, std::bit_cast<std::uint32_t>(value));
  return bytes;
}

QByteArray float64_bytes(std::initializer_list<double> values) {
  QByteArray bytes;
  for (const double value : values) append_little_endian(bytes, std::bit_cast<std::uint64_t>(value));
  return bytes;
}

// A .npy file as numpy writes it: magic, version, header length, then the dict padded with spaces and a
// newline so that the data starts at a multiple of 64 bytes.
QByteArray npy_file(const QByteArray& dict, const QByteArray& data, int major_version = 1) {
  const int length_bytes = major_version == 1 ? 2 : 4;
  const auto prefix_size = 8 + length_bytes;
  QByteArray header = dict;
  header.append(QByteArray((64 - (prefix_size + header.size() + 1) % 64) % 64, ' ')).append('\n');
  QByteArray file("\x93NUMPY");
  file.append(static_cast<char>(major_version)).append('\0');
  if (length_bytes == 2)
    append_little_endian(file, static_cast<std::uint16_t>(header.size()));
  else
    append_little_endian(file, static_cast<std::uint32_t>(header.size()));
  return file + header + data;
}

QByteArray dict(const char* descr, const char* shape, const char* fortran_order = "False") {
  return QByteArray("{'descr': '") + descr + "', 'fortran_order': " + fortran_order + ", 'shape': " + shape +
         ", }";
}

const QByteArray kSixFloats = float32_bytes({1, 2, 3, 4, 5, 6});
const Matrix kSixFloatsMatrix = matrix_of(2, 3, {1, 2, 3, 4, 5, 6});

Matrix load_file(const QString& path) {
  return attnscope::load_embeddings(path.toStdString());
}

QString error_of(const QString& path) {
  try {
    attnscope::load_embeddings(path.toStdString());
    return "no error";
  } catch (const attnscope::Error& error) {
    return QString::fromUtf8(error.what());
  } catch (const std::exception& error) {
    return QString("not an attnscope::Error: ") + error.what();
  }
}

QString test_data(const QString& name) {
  return QStringLiteral(ATTNSCOPE_TEST_DATA_DIR "/") + name;
}

}  // namespace

class TestEmbeddingsFile : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QVERIFY(directory_.isValid()); }

  void readsFloat32Npy() {
    COMPARE_MATRIX(load("a.npy", npy_file(dict("<f4", "(2, 3)"), kSixFloats)), kSixFloatsMatrix);
  }

  void readsFloat64NpyRoundingToFloat32() {
    const auto file = npy_file(dict("<f8", "(1, 4)"), float64_bytes({0.1, -1e-50, 3.4028235e38, -0.0}));
    COMPARE_MATRIX(load("a.npy", file), matrix_of(1, 4, {0.1f, -0.0f, FLT_MAX, -0.0f}));
  }

  void readsHeaderVariants_data() {
    QTest::addColumn<QByteArray>("file");
    QTest::newRow("version 1.0") << npy_file(dict("<f4", "(2, 3)"), kSixFloats, 1);
    QTest::newRow("version 2.0") << npy_file(dict("<f4", "(2, 3)"), kSixFloats, 2);
    QTest::newRow("version 3.0") << npy_file(dict("<f4", "(2, 3)"), kSixFloats, 3);
    QTest::newRow("double quotes, other key order, no trailing comma")
        << npy_file(R"({"shape":(2,3),"fortran_order":False,"descr":"<f4"})", kSixFloats);
    QTest::newRow("trailing comma in shape") << npy_file(dict("<f4", "(2, 3,)"), kSixFloats);
    QTest::newRow("generous spacing") << npy_file(
        "  {  'descr' :  '<f4' ,\n 'fortran_order' : False , 'shape' : ( 2 , 3 ) , }  ", kSixFloats);
    QByteArray unpadded("\x93NUMPY\x01");
    const QByteArray bare_dict = dict("<f4", "(2, 3)");
    unpadded.append('\0');
    append_little_endian(unpadded, static_cast<std::uint16_t>(bare_dict.size()));
    QTest::newRow("no padding and no newline") << unpadded + bare_dict + kSixFloats;
  }
  void readsHeaderVariants() {
    QFETCH(QByteArray, file);
    COMPARE_MATRIX(load("a.npy", file), kSixFloatsMatrix);
  }

  void readsNumpyFixtures() {
    // np.save of (np.arange(12, dtype=float32).reshape(3, 4) / 4 - 1)
    COMPARE_MATRIX(
        load_file(test_data("emb_float32_3x4.npy")),
        matrix_of(3, 4, {-1, -0.75f, -0.5f, -0.25f, 0, 0.25f, 0.5f, 0.75f, 1, 1.25f, 1.5f, 1.75f}));
    // np.lib.format.write_array(version=(2, 0)) of a float64 array
    COMPARE_MATRIX(load_file(test_data("emb_float64_2x5_v2.npy")),
                   matrix_of(2, 5, {0.1f, -2.5f, 3.0f, 1e-3f, 1e30f, 7.0f, 0.0f, -0.0f, 123.456f, -1e-7f}));
  }

  void readsBookCsvFixture() {
    COMPARE_MATRIX(load_file(test_data("emb_book.csv")),
                   matrix_of(6, 3,
                             {0.43f, 0.15f, 0.89f, 0.55f, 0.87f, 0.66f, 0.57f, 0.85f, 0.64f, 0.22f, 0.58f,
                              0.33f, 0.77f, 0.25f, 0.10f, 0.05f, 0.80f, 0.55f}));
  }

  void rejectsNumpyFixtures_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("message");
    QTest::newRow("fortran order")
        << "emb_fortran_2x3.npy"
        << "emb_fortran_2x3.npy: Fortran-order arrays are not supported (save it in C "
           "order)";
    QTest::newRow("int64")
        << "emb_int64_2x2.npy"
        << "emb_int64_2x2.npy: dtype '<i8' is not supported (expected little-endian float32 "
           "'<f4' or float64 '<f8')";
    QTest::newRow("big-endian")
        << "emb_bigendian_2x2.npy"
        << "emb_bigendian_2x2.npy: dtype '>f4' is not supported (expected little-endian "
           "float32 '<f4' or float64 '<f8')";
  }
  void rejectsNumpyFixtures() {
    QFETCH(QString, name);
    QFETCH(QString, message);
    QCOMPARE(error_of(test_data(name)), message);
  }

  void rejectsBadNpy_data() {
    QTest::addColumn<QByteArray>("file");
    QTest::addColumn<QString>("message");
    const auto valid = npy_file(dict("<f4", "(2, 3)"), kSixFloats);
    const auto with_dict = [](const char* text) { return npy_file(text, kSixFloats); };

    QTest::newRow("empty file") << QByteArray() << R"(bad.npy: not a .npy file (no \x93NUMPY magic))";
    QTest::newRow("wrong magic") << QByteArray(valid).replace(1, 5, "NUMPX")
                                 << R"(bad.npy: not a .npy file (no \x93NUMPY magic))";
    QTest::newRow("csv text") << QByteArray("1,2,3\n") << R"(bad.npy: not a .npy file (no \x93NUMPY magic))";
    QTest::newRow("magic only") << QByteArray("\x93NUMPY") << "bad.npy: truncated .npy header";
    QTest::newRow("no header length")
        << QByteArray("\x93NUMPY\x01") + '\0' + '\x10' << "bad.npy: truncated .npy header";
    QTest::newRow("truncated header") << valid.left(40) << "bad.npy: truncated .npy header";
    QByteArray oversized_header("\x93NUMPY\x02");
    oversized_header.append('\0');
    append_little_endian(oversized_header, std::uint32_t{70000});
    QTest::newRow("header too long") << oversized_header + QByteArray(70000, ' ')
                                     << "bad.npy: .npy header of 70000 bytes is too long";
    QTest::newRow("version 4.0") << npy_file(dict("<f4", "(2, 3)"), kSixFloats, 4)
                                 << "bad.npy: unsupported .npy version 4.0";
    QTest::newRow("version 1.1") << QByteArray(valid).replace(7, 1, "\x01")
                                 << "bad.npy: unsupported .npy version 1.1";
    QTest::newRow("truncated data")
        << valid.chopped(4) << "bad.npy: truncated data (shape (2, 3) needs 24 bytes, the file holds 20)";
    QTest::newRow("trailing data") << valid + QByteArray(5, '\0')
                                   << "bad.npy: 5 unexpected bytes after the data";
    QTest::newRow("big-endian")
        << npy_file(dict(">f4", "(2, 3)"), kSixFloats)
        << "bad.npy: dtype '>f4' is not supported (expected little-endian float32 '<f4' "
           "or float64 '<f8')";
    QTest::newRow("int32")
        << npy_file(dict("<i4", "(2, 3)"), kSixFloats)
        << "bad.npy: dtype '<i4' is not supported (expected little-endian float32 '<f4' or "
           "float64 '<f8')";
    QTest::newRow("float16")
        << npy_file(dict("<f2", "(2, 3)"), kSixFloats.left(12))
        << "bad.npy: dtype '<f2' is not supported (expected little-endian float32 '<f4' or "
           "float64 '<f8')";
    QTest::newRow("fortran order") << npy_file(dict("<f4", "(2, 3)", "True"), kSixFloats)
                                   << "bad.npy: Fortran-order arrays are not supported (save it in C order)";
    QTest::newRow("1-D") << npy_file(dict("<f4", "(6,)"), kSixFloats)
                         << "bad.npy: expected a 2-D array, found shape (6,)";
    QTest::newRow("3-D") << npy_file(dict("<f4", "(1, 2, 3)"), kSixFloats)
                         << "bad.npy: expected a 2-D array, found shape (1, 2, 3)";
    QTest::newRow("scalar") << npy_file(dict("<f4", "()"), kSixFloats.left(4))
                            << "bad.npy: expected a 2-D array, found shape ()";
    QTest::newRow("zero rows") << npy_file(dict("<f4", "(0, 3)"), QByteArray())
                               << "bad.npy: array of shape (0, 3) is empty";
    QTest::newRow("zero columns") << npy_file(dict("<f4", "(3, 0)"), QByteArray())
                                  << "bad.npy: array of shape (3, 0) is empty";
    QTest::newRow("product overflows") << npy_file(dict("<f4", "(4294967296, 4294967296)"), kSixFloats)
                                       << "bad.npy: shape (4294967296, 4294967296) is too large";
    QTest::newRow("bytes overflow") << npy_file(dict("<f8", "(1152921504606846976, 2)"), kSixFloats)
                                    << "bad.npy: shape (1152921504606846976, 2) is too large";
    QTest::newRow("dimension overflows")
        << npy_file(dict("<f4", "(99999999999999999999999, 2)"), kSixFloats)
        << "bad.npy: malformed .npy header: a dimension of 'shape' is too large";
    QTest::newRow("negative dimension")
        << npy_file(dict("<f4", "(-2, 3)"), kSixFloats)
        << "bad.npy: malformed .npy header: 'shape' must be a tuple of non-negative integers";
    QTest::newRow("shape not a tuple")
        << npy_file(dict("<f4", "[2, 3]"), kSixFloats) << "bad.npy: malformed .npy header: expected '('";
    QTest::newRow("missing shape") << with_dict("{'descr': '<f4', 'fortran_order': False}")
                                   << "bad.npy: malformed .npy header: no 'shape'";
    QTest::newRow("missing descr") << with_dict("{'fortran_order': False, 'shape': (2, 3)}")
                                   << "bad.npy: malformed .npy header: no 'descr'";
    QTest::newRow("missing fortran_order") << with_dict("{'descr': '<f4', 'shape': (2, 3)}")
                                           << "bad.npy: malformed .npy header: no 'fortran_order'";
    QTest::newRow("unexpected key")
        << with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}")
        << "bad.npy: malformed .npy header: unexpected key 'extra'";
    QTest::newRow("repeated key") << with_dict("{'descr': '<f4', 'descr': '<f4', 'shape': (2, 3)}")
                                  << "bad.npy: malformed .npy header: 'descr' appears twice";
    QTest::newRow("fortran_order not a bool")
        << npy_file(dict("<f4", "(2, 3)", "0"), kSixFloats)
        << "bad.npy: malformed .npy header: 'fortran_order' must be True or "
           "False";
    QTest::newRow("not a dict") << with_dict("[1, 2]") << "bad.npy: malformed .npy header: expected '{'";
    QTest::newRow("misplaced quote") << with_dict("{'descr: '<f4'}")
                                     << "bad.npy: malformed .npy header: expected ':'";
    QTest::newRow("unterminated string")
        << with_dict("{'descr: <f4}") << "bad.npy: malformed .npy header: unterminated string";
    QTest::newRow("unclosed dict") << with_dict("{'descr': '<f4'")
                                   << "bad.npy: malformed .npy header: expected '}'";
    QTest::newRow("text after the dict")
        << with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x")
        << "bad.npy: malformed .npy header: unexpected text after the closing '}'";
    QTest::newRow("float64 beyond float32")
        << npy_file(dict("<f8", "(2, 3)"), float64_bytes({1, 2, 3, 4, -1e300, 6}))
        << "bad.npy: row 2, column 2 holds -1e+300, beyond the float32 range";
    QTest::newRow("float64 just beyond float32")
        << npy_file(dict("<f8", "(1, 1)"), float64_bytes({3.5e38}))
        << "bad.npy: row 1, column 1 holds 3.5e+38, beyond the float32 range";
  }
  void rejectsBadNpy() {
    QFETCH(QByteArray, file);
    QFETCH(QString, message);
    QCOMPARE(error_of(write("bad.npy", file)), message);
  }

  void rejectsNonFinite_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<QByteArray>("file");
    QTest::addColumn<QString>("message");
    constexpr float nan32 = std::numeric_limits<float>::quiet_NaN();
    constexpr float inf32 = std::numeric_limits<float>::infinity();
    constexpr double nan64 = std::numeric_limits<double>::quiet_NaN();
    constexpr double inf64 = std::numeric_limits<double>::infinity();
    QTest::newRow("float32 NaN") << "e.npy"
                                 << npy_file(dict("<f4", "(2, 3)"), float32_bytes({1, 2, 3, nan32, 5, 6}))
                                 << "e.npy: row 2, column 1 is NaN";
    QTest::newRow("float32 Inf") << "e.npy"
                                 << npy_file(dict("<f4", "(2, 3)"), float32_bytes({1, inf32, 3, 4, 5, 6}))
                                 << "e.npy: row 1, column 2 is Inf";
    QTest::newRow("float32 -Inf") << "e.npy"
                                  << npy_file(dict("<f4", "(2, 3)"), float32_bytes({1, 2, 3, 4, 5, -inf32}))
                                  << "e.npy: row 2, column 3 is -Inf";
    QTest::newRow("float64 NaN") << "e.npy" << npy_file(dict("<f8", "(1, 2)"), float64_bytes({nan64, 1}))
                                 << "e.npy: row 1, column 1 is NaN";
    QTest::newRow("float64 Inf") << "e.npy" << npy_file(dict("<f8", "(1, 2)"), float64_bytes({1, inf64}))
                                 << "e.npy: row 1, column 2 is Inf";
    // Rows count data rows, not lines: the header and the comment are not rows.
    QTest::newRow("csv nan") << "e.csv" << QByteArray("x,y\n# note\n1,2\nnan,4\n")
                             << "e.csv: row 2, column 1 is NaN";
    QTest::newRow("csv inf") << "e.csv" << QByteArray("1 inf\n") << "e.csv: row 1, column 2 is Inf";
    QTest::newRow("csv -Infinity") << "e.csv" << QByteArray("1;2\n3;-Infinity\n")
                                   << "e.csv: row 2, column 2 is -Inf";
  }
  void rejectsNonFinite() {
    QFETCH(QString, name);
    QFETCH(QByteArray, file);
    QFETCH(QString, message);
    QCOMPARE(error_of(write(name, file)), message);
  }

  void readsCsv_data() {
    QTest::addColumn<QByteArray>("file");
    QTest::addColumn<Matrix>("expected");
    const auto two_by_two = matrix_of(2, 2, {1, 2, 3, 4});
    QTest::newRow("comma") << QByteArray("1,2\n3,4\n") << two_by_two;
    QTest::newRow("comma with spaces") << QByteArray(" 1 , 2\n3,\t4  \n") << two_by_two;
    QTest::newRow("semicolon, no final newline") << QByteArray("1;2\n3;4") << two_by_two;
    QTest::newRow("tabs") << QByteArray("1\t2\n3\t4\n") << two_by_two;
    QTest::newRow("runs of spaces") << QByteArray("  1    2 \n3 \t 4\n") << two_by_two;
    QTest::newRow("header") << QByteArray("x,y\n1,2\n3,4\n") << two_by_two;
    QTest::newRow("header with numbers in it") << QByteArray("dim1 dim2 3\n1 2\n3 4\n") << two_by_two;
    QTest::newRow("comments and blank lines")
        << QByteArray("# embeddings\n\n1,2\n   \n  # more\n3,4\n\n") << two_by_two;
    QTest::newRow("CRLF") << QByteArray("x,y\r\n1,2\r\n3,4\r\n") << two_by_two;
    QTest::newRow("byte order mark") << QByteArray("\xEF\xBB\xBFx,y\n1,2\n3,4\n") << two_by_two;
    QTest::newRow("number forms") << QByteArray("+1.5,-2e-3,.5,1.,1E2,-0\n")
                                  << matrix_of(1, 6, {1.5f, -2e-3f, 0.5f, 1.0f, 100.0f, -0.0f});
    QTest::newRow("single value") << QByteArray("42") << matrix_of(1, 1, {42});
    // Rounded through float64 as numpy.loadtxt(dtype=float32) does.
    QTest::newRow("float32 repr") << QByteArray("0.10000000149011612,0.1,3.4028235e38\n")
                                  << matrix_of(1, 3, {0.1f, 0.1f, FLT_MAX});
    QTest::newRow("underflow to zero") << QByteArray("1e-50,-1e-50\n") << matrix_of(1, 2, {0.0f, -0.0f});
  }
  void readsCsv() {
    QFETCH(QByteArray, file);
    QFETCH(Matrix, expected);
    COMPARE_MATRIX(load("e.csv", file), expected);
  }

  void rejectsBadCsv_data() {
    QTest::addColumn<QByteArray>("file");
    QTest::addColumn<QString>("message");
    QTest::newRow("empty file") << QByteArray() << "emb.csv: holds no rows";
    QTest::newRow("blank lines") << QByteArray("\n  \n\r\n") << "emb.csv: holds no rows";
    QTest::newRow("header only") << QByteArray("x,y,z\n") << "emb.csv: holds no rows";
    QTest::newRow("comments only") << QByteArray("# nothing here\n") << "emb.csv: holds no rows";
    QTest::newRow("short row") << QByteArray("a,b,c,d\n1,2,3,4\n5,6,7\n")
                               << "emb.csv: line 3: expected 4 values, found 3";
    QTest::newRow("long row") << QByteArray("1 2\n3 4\n\n5 6 7\n")
                              << "emb.csv: line 4: expected 2 values, found 3";
    QTest::newRow("word after the first line")
        << QByteArray("1,2\nabc,4\n") << "emb.csv: line 2, column 1: 'abc' is not a number";
    QTest::newRow("second header line")
        << QByteArray("x,y\nu,v\n1,2\n") << "emb.csv: line 2, column 1: 'u' is not a number";
    QTest::newRow("number with a suffix")
        << QByteArray("1,2\n3,4.5x\n") << "emb.csv: line 2, column 2: '4.5x' is not a number";
    QTest::newRow("hexadecimal") << QByteArray("1,2\n0x10,4\n")
                                 << "emb.csv: line 2, column 1: '0x10' is not a number";
    QTest::newRow("space inside a comma field")
        << QByteArray("1,2\n1 2,3\n") << "emb.csv: line 2, column 1: '1 2' is not a number";
    QTest::newRow("decimal comma") << QByteArray("1;2\n1,5;2,5\n")
                                   << "emb.csv: line 2, column 1: '1,5' is not a number";
    QTest::newRow("empty field") << QByteArray("1,2,3\n1,,3\n") << "emb.csv: line 2, column 2: empty value";
    QTest::newRow("trailing comma") << QByteArray("1,2\n3,4,\n")
                                    << "emb.csv: line 2: expected 2 values, found 3";
    QTest::newRow("beyond float32") << QByteArray("1,2\n1e39,4\n")
                                    << "emb.csv: line 2, column 1: '1e39' is beyond the float32 range";
    QTest::newRow("beyond float64") << QByteArray("-1e999\n")
                                    << "emb.csv: line 1, column 1: '-1e999' is beyond the float32 range";
    QTest::newRow("long field is cut")
        << QByteArray("1\n") + QByteArray(60, 'z') + "\n"
        << "emb.csv: line 2, column 1: '" + QString(40, 'z') + "...' is not a number";
  }
  void rejectsBadCsv() {
    QFETCH(QByteArray, file);
    QFETCH(QString, message);
    QCOMPARE(error_of(write("emb.csv", file)), message);
  }

  void dispatchesOnExtension_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<QByteArray>("file");
    QTest::newRow(".npy") << "e.npy" << npy_file(dict("<f4", "(2, 3)"), kSixFloats);
    QTest::newRow(".NPY") << "E.NPY" << npy_file(dict("<f4", "(2, 3)"), kSixFloats);
    QTest::newRow(".csv") << "e.csv" << QByteArray("1,2,3\n4,5,6\n");
    QTest::newRow(".tsv") << "e.tsv" << QByteArray("1\t2\t3\n4\t5\t6\n");
    QTest::newRow(".txt") << "e.txt" << QByteArray("1 2 3\n4 5 6\n");
    QTest::newRow(".Csv") << "f.Csv" << QByteArray("a;b;c\n1;2;3\n4;5;6\n");
  }
  void dispatchesOnExtension() {
    QFETCH(QString, name);
    QFETCH(QByteArray, file);
    COMPARE_MATRIX(load(name, file), kSixFloatsMatrix);
  }

  void rejectsUnusablePaths_data() {
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("message");
    const auto in_directory = [this](const char* name) { return directory_.filePath(name); };
    QTest::newRow("missing .npy") << in_directory("missing.npy") << "missing.npy: no such file";
    QTest::newRow("missing .csv") << in_directory("missing.csv") << "missing.csv: no such file";
    QTest::newRow("missing directory") << "/nonexistent/dir/x.npy"
                                       << "x.npy: no such file";
    QTest::newRow("unsupported extension")
        << write("x.bin", kSixFloats) << "x.bin: unsupported embeddings format (expected .npy or .csv)";
    QTest::newRow("no extension") << write("embeddings", "1,2\n")
                                  << "embeddings: unsupported embeddings format (expected .npy or .csv)";
    QVERIFY(QDir(directory_.path()).mkpath("folder.npy"));
    QTest::newRow("directory") << in_directory("folder.npy") << "folder.npy: not a regular file";
  }
  void rejectsUnusablePaths() {
    QFETCH(QString, path);
    QFETCH(QString, message);
    QCOMPARE(error_of(path), message);
  }

 private:
  QString write(const QString& name, const QByteArray& contents) {
    return attnscope::testing::write_test_file(QDir(directory_.path()), name, contents);
  }

  Matrix load(const QString& name, const QByteArray& contents) { return load_file(write(name, contents)); }

  QTemporaryDir directory_;
};

QTEST_GUILESS_MAIN(TestEmbeddingsFile)
#include "test_embeddings_file.moc"
