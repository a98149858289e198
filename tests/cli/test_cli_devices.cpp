// attnscope-cli's devices: `devices`, `--device cpu|cuda|auto` and `bench`, on whatever this machine has.
// What needs a GPU (the fallback from a failing device, the GPU bench) is test_cli_cuda, label gpu.

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>
#include <cmath>

#include "cli_devices_support.hpp"

namespace {

using namespace attnscope::testing;
using Run = CliRun;

// Largest |a − b| / (|b| + m) over two arrays of arrays of numbers, m the largest |b|.
double matrix_error(const QJsonArray& actual, const QJsonArray& expected) {
  double scale = 0.0, worst = 0.0;
  for (const auto& row : expected)
    for (const auto& cell : row.toArray()) scale = std::max(scale, std::abs(cell.toDouble()));
  if (actual.size() != expected.size()) return INFINITY;
  for (qsizetype i = 0; i < expected.size(); ++i) {
    const QJsonArray a = actual[i].toArray(), b = expected[i].toArray();
    if (a.size() != b.size()) return INFINITY;
    for (qsizetype j = 0; j < b.size(); ++j) {
      if (a[j].isNull() != b[j].isNull()) return INFINITY;
      if (b[j].isNull()) continue;
      const double error = std::abs(a[j].toDouble() - b[j].toDouble()) / (std::abs(b[j].toDouble()) + scale);
      if (!(error <= worst)) worst = error;
    }
  }
  return worst;
}

const QStringList kSmallBench{"bench", "--tokens", "8,16",        "--heads",  "2", "--head-dim",
                              "4",     "--mask",   "none,causal", "--repeat", "2"};

}  // namespace

class TestCliDevices : public QObject {
  Q_OBJECT

 private slots:
  void devicesGivesDeviceOrReason() {
    const Run run = run_cli({"devices"});
    QCOMPARE(run.exit_code, 0);
    QVERIFY(run.err.isEmpty());
    const QStringList lines = QString::fromUtf8(run.out).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 2);
    for (const QString& line : lines) {
      const QStringList fields = line.split('\t');
      QCOMPARE(fields.size(), 3);
      QVERIFY2(fields[1] == "available" || fields[1] == "unavailable", qPrintable(line));
      QVERIFY2(!fields[2].isEmpty(), qPrintable(line));
    }
    QCOMPARE(lines[0].section('\t', 0, 1), QString("cpu\tavailable"));
    const QStringList cuda = lines[1].split('\t');
    QCOMPARE(cuda[0], QString("cuda"));
    if (cuda[1] == "available") {
      for (const char* part : {"GiB", "compute capability", "driver ", "runtime ", "cuBLAS "})
        QVERIFY2(cuda[2].contains(part), qPrintable(cuda[2]));
    } else {
      const QStringList reasons{
          "not built:",        "no NVIDIA driver",       "no CUDA device",        "the NVIDIA driver",
          "CUDA cannot start", "has compute capability", "this build has no code"};
      bool known = false;
      for (const QString& reason : reasons) known = known || cuda[2].contains(reason);
      QVERIFY2(known, qPrintable(cuda[2]));
    }
  }

  void autoPicksCudaOnlyWithADevice() {
    const QStringList arguments{"compute", "--preset", "book",      "--mechanism", "multihead",
                                "--d-out", "4",        "--dropout", "0.5"};
    const Run on_cpu = run_cli(arguments + QStringList{"--device", "cpu"});
    const Run automatic = run_cli(arguments + QStringList{"--device", "auto"});
    QCOMPARE(automatic.exit_code, 0);
    QVERIFY2(automatic.err.isEmpty(), automatic.err.constData());
    const QJsonObject expected = QJsonDocument::fromJson(on_cpu.out).object();
    const QJsonObject actual = QJsonDocument::fromJson(automatic.out).object();
    QCOMPARE(actual["device"].toString(), QString(cuda_available() ? "cuda" : "cpu"));
    const QJsonArray expected_heads = expected["heads"].toArray(), actual_heads = actual["heads"].toArray();
    QCOMPARE(actual_heads.size(), expected_heads.size());
    for (qsizetype h = 0; h < expected_heads.size(); ++h)
      for (const char* field :
           {"queries", "keys", "values", "scores", "weights", "dropout_weights", "context"}) {
        const double error = matrix_error(actual_heads[h].toObject()[field].toArray(),
                                          expected_heads[h].toObject()[field].toArray());
        QVERIFY2(error <= 1e-5, qPrintable(QString("head %1 %2: error %3").arg(h).arg(field).arg(error)));
      }
    QVERIFY(matrix_error(actual["output"].toArray(), expected["output"].toArray()) <= 1e-5);
  }

  void cudaWithoutDeviceFailsWithTheReason() {
    const Run run = run_cli({"compute", "--preset", "book", "--device", "cuda"});
    if (cuda_available()) {  // a GPU machine: the same request succeeds there
      QCOMPARE(run.exit_code, 0);
      QCOMPARE(QJsonDocument::fromJson(run.out).object()["device"].toString(), QString("cuda"));
      return;
    }
    QCOMPARE(run.exit_code, 1);
    QVERIFY(run.out.isEmpty());
    QVERIFY2(is_one_error_line(run.err), run.err.constData());
    QCOMPARE(QString::fromUtf8(run.err).trimmed(),
             "attnscope-cli: error: CUDA is not available: " + cuda_reason());
  }

  void benchPrintsATable() {
    const Run run = run_cli(kSmallBench + QStringList{"--device", "cpu"});
    QCOMPARE(run.exit_code, 0);
    QVERIFY2(run.err.isEmpty(), run.err.constData());
    const QStringList lines = QString::fromUtf8(run.out).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 5);
    QCOMPARE(lines[0].simplified(),
             QString("device tokens heads head_dim mask median_ms gflops sgemm_gflops vs_sgemm mask_softmax "
                     "stats_vs_step max_abs_diff_vs_cpu"));
    const QStringList expected{"cpu 8 2 4 none", "cpu 8 2 4 causal", "cpu 16 2 4 none", "cpu 16 2 4 causal"};
    for (int i = 0; i < 4; ++i) {
      const QString row = lines[i + 1].simplified();
      QVERIFY2(row.startsWith(expected[i] + ' '), qPrintable(row));
      QVERIFY2(row.endsWith(" -"), qPrintable(row));
      const QStringList cells = row.split(' ');
      QCOMPARE(cells.size(), 12);
      QVERIFY2(cells[8].endsWith('x') && cells[8].chopped(1).toDouble() > 0, qPrintable(row));
      QVERIFY2(cells[9].endsWith('%') && cells[9].chopped(1).toDouble() > 0 &&
                   cells[9].chopped(1).toDouble() < 100,
               qPrintable(row));
      // What the statistics add: a percentage, slightly negative at times on tiny steps (two medians' noise).
      bool number = false;
      const double added = cells[10].chopped(1).toDouble(&number);
      QVERIFY2(cells[10].endsWith('%') && number && added > -100, qPrintable(row));
    }
  }

  void benchPrintsJson() {
    const Run run = run_cli(kSmallBench + QStringList{"--device", "cpu", "--json"});
    QCOMPARE(run.exit_code, 0);
    QJsonParseError error;
    const QJsonArray runs = QJsonDocument::fromJson(run.out, &error).array();
    QCOMPARE(error.error, QJsonParseError::NoError);
    QCOMPARE(runs.size(), 4);
    const QStringList fields{"device",
                             "tokens",
                             "heads",
                             "head_dim",
                             "mask",
                             "median_ms",
                             "gflops",
                             "sgemm_gflops",
                             "mask_softmax_share",
                             "stats_vs_step",
                             "max_abs_diff_vs_cpu"};
    for (const auto& value : runs) {
      const QJsonObject object = value.toObject();
      QCOMPARE(object.keys().size(), fields.size());
      for (const QString& field : fields) QVERIFY2(object.contains(field), qPrintable(field));
      QCOMPARE(object["device"].toString(), QString("cpu"));
      QCOMPARE(object["heads"].toInt(), 2);
      QCOMPARE(object["head_dim"].toInt(), 4);
      QVERIFY(object["median_ms"].toDouble() > 0);
      QVERIFY(object["gflops"].toDouble() > 0);
      QVERIFY(object["sgemm_gflops"].toDouble() > 0);
      // Scaling, masking and normalising take part of the step's time, never all of it.
      const double share = object["mask_softmax_share"].toDouble();
      QVERIFY2(share > 0 && share < 1, qPrintable(QString::number(share)));
      QVERIFY(object["max_abs_diff_vs_cpu"].isNull());
      // What the head statistics add to the step: a fraction of its time (a difference of two medians, so
      // noise can make it slightly negative on tiny steps, but never −100 % or more).
      QVERIFY(object["stats_vs_step"].isDouble());
      QVERIFY2(object["stats_vs_step"].toDouble() > -1.0,
               qPrintable(QString::number(object["stats_vs_step"].toDouble())));
    }
    QCOMPARE(runs[0].toObject()["tokens"].toInt(), 8);
    QCOMPARE(runs[1].toObject()["mask"].toString(), QString("causal"));
    QCOMPARE(runs[3].toObject()["tokens"].toInt(), 16);
  }

  void benchDevicesDefaultToWhatIsAvailable() {
    const QStringList arguments{"bench", "--tokens", "1,33",   "--heads",  "3", "--head-dim",
                                "8",     "--mask",   "causal", "--repeat", "1", "--json"};
    const Run defaults = run_cli(arguments);
    QCOMPARE(defaults.exit_code, 0);
    if (cuda_available()) {  // both devices, each size
      QCOMPARE(QJsonDocument::fromJson(defaults.out).array().size(), 4);
      return;
    }
    // CPU only, and a note saying why.
    QCOMPARE(QJsonDocument::fromJson(defaults.out).array().size(), 2);
    QVERIFY2(
        defaults.err.startsWith("attnscope-cli: note: bench runs on the CPU only; CUDA is not available: "),
        defaults.err.constData());
    const Run cuda = run_cli(arguments + QStringList{"--device", "cpu,cuda"});
    QCOMPARE(cuda.exit_code, 1);
    QVERIFY(cuda.out.isEmpty());
    QVERIFY2(is_one_error_line(cuda.err) && cuda.err.contains("CUDA is not available: "),
             cuda.err.constData());
  }

  void benchRefusesBadArguments_data() {
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("message");
    QTest::addColumn<int>("exit_code");
    QTest::newRow("zero tokens") << QStringList{"--tokens", "0"} << "--tokens" << 2;
    QTest::newRow("tokens not a number") << QStringList{"--tokens", "8,x"} << "--tokens" << 2;
    QTest::newRow("zero heads") << QStringList{"--heads", "0"} << "--heads" << 2;
    QTest::newRow("zero head-dim") << QStringList{"--head-dim", "0"} << "--head-dim" << 2;
    QTest::newRow("zero repeat") << QStringList{"--repeat", "0"} << "--repeat" << 2;
    QTest::newRow("unknown device") << QStringList{"--device", "cpu,tpu"} << "--device" << 2;
    QTest::newRow("auto device") << QStringList{"--device", "auto"} << "--device" << 2;
    QTest::newRow("unknown mask") << QStringList{"--mask", "upper"} << "unknown mask" << 1;
    QTest::newRow("file mask") << QStringList{"--mask", "file:m.csv"} << "--mask takes" << 1;
  }
  void benchRefusesBadArguments() {
    QFETCH(QStringList, arguments);
    QFETCH(QString, message);
    QFETCH(int, exit_code);
    const Run run = run_cli(QStringList{"bench"} + arguments);  // each fails before anything runs
    QCOMPARE(run.exit_code, exit_code);
    QVERIFY(run.out.isEmpty());
    QVERIFY2(is_one_error_line(run.err), run.err.constData());
    QVERIFY2(run.err.contains(message.toUtf8()), run.err.constData());
  }
};

QTEST_GUILESS_MAIN(TestCliDevices)
#include "test_cli_devices.moc"
