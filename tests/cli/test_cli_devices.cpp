// attnscope-cli's devices: `devices`, `--device cpu|cuda|auto` and the fallback to the CPU, and `bench`. The
// parts that need a GPU skip with the reason `devices` gives when there is none.

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QProcessEnvironment>
#include <QTest>
#include <cmath>

namespace {

struct Run {
  int exit_code = -1;
  QByteArray out, err;
};

Run run_cli(const QStringList& arguments,
            const QProcessEnvironment& environment = QProcessEnvironment::systemEnvironment()) {
  QProcess process;
  process.setProcessEnvironment(environment);
  process.start(QStringLiteral(ATTNSCOPE_BIN_DIR "/attnscope-cli"), arguments);
  if (!process.waitForFinished(120000)) qFatal("attnscope-cli did not finish");
  Run run;
  run.exit_code = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
  run.out = process.readAllStandardOutput();
  run.err = process.readAllStandardError();
  return run;
}

// The `devices` line of a backend, split at tabs: name, available|unavailable, description.
QStringList device_line(const QString& name) {
  const Run run = run_cli({"devices"});
  for (const QString& line : QString::fromUtf8(run.out).split('\n'))
    if (line.startsWith(name + '\t')) return line.split('\t');
  return {};
}

bool cuda_available() {
  return device_line("cuda").value(1) == "available";
}

QString cuda_reason() {
  return device_line("cuda").value(2);
}

bool is_one_error_line(const QByteArray& err) {
  const QString text = QString::fromUtf8(err);
  return text.startsWith("attnscope-cli: error: ") && text.count('\n') == 1 && text.endsWith('\n');
}

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
    if (cuda_available()) QSKIP("a CUDA device is present here");
    const Run run = run_cli({"compute", "--preset", "book", "--device", "cuda"});
    QCOMPARE(run.exit_code, 1);
    QVERIFY(run.out.isEmpty());
    QVERIFY2(is_one_error_line(run.err), run.err.constData());
    QCOMPARE(QString::fromUtf8(run.err).trimmed(),
             "attnscope-cli: error: CUDA is not available: " + cuda_reason());
  }

  void deviceFailureFallsBackToTheCpu() {
    if (!cuda_available()) QSKIP(qPrintable("no CUDA device (" + cuda_reason() + ")"));
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert("ATTNSCOPE_CUDA_MAX_BYTES", "1024");
    const Run run =
        run_cli({"compute", "--preset", "book", "--mechanism", "causal", "--device", "cuda"}, environment);
    QCOMPARE(run.exit_code, 0);
    QCOMPARE(QJsonDocument::fromJson(run.out).object()["device"].toString(), QString("cpu"));
    const QString warning = QString::fromUtf8(run.err);
    QVERIFY2(warning.startsWith("attnscope-cli: warning: ") &&
                 warning.contains("computed on the CPU instead") && warning.count('\n') == 1,
             qPrintable(warning));
  }

  void benchPrintsATable() {
    const Run run = run_cli(kSmallBench + QStringList{"--device", "cpu"});
    QCOMPARE(run.exit_code, 0);
    QVERIFY2(run.err.isEmpty(), run.err.constData());
    const QStringList lines = QString::fromUtf8(run.out).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 5);
    QCOMPARE(lines[0].simplified(),
             QString("device tokens heads head_dim mask median_ms gflops sgemm_gflops vs_sgemm mask_softmax "
                     "max_abs_diff_vs_cpu"));
    const QStringList expected{"cpu 8 2 4 none", "cpu 8 2 4 causal", "cpu 16 2 4 none", "cpu 16 2 4 causal"};
    for (int i = 0; i < 4; ++i) {
      const QString row = lines[i + 1].simplified();
      QVERIFY2(row.startsWith(expected[i] + ' '), qPrintable(row));
      QVERIFY2(row.endsWith(" -"), qPrintable(row));
      const QStringList cells = row.split(' ');
      QCOMPARE(cells.size(), 11);
      QVERIFY2(cells[8].endsWith('x') && cells[8].chopped(1).toDouble() > 0, qPrintable(row));
      QVERIFY2(cells[9].endsWith('%') && cells[9].chopped(1).toDouble() > 0 &&
                   cells[9].chopped(1).toDouble() < 100,
               qPrintable(row));
    }
  }

  void benchPrintsJson() {
    const Run run = run_cli(kSmallBench + QStringList{"--device", "cpu", "--json"});
    QCOMPARE(run.exit_code, 0);
    QJsonParseError error;
    const QJsonArray runs = QJsonDocument::fromJson(run.out, &error).array();
    QCOMPARE(error.error, QJsonParseError::NoError);
    QCOMPARE(runs.size(), 4);
    const QStringList fields{
        "device",    "tokens", "heads",        "head_dim",           "mask",
        "median_ms", "gflops", "sgemm_gflops", "mask_softmax_share", "max_abs_diff_vs_cpu"};
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
    }
    QCOMPARE(runs[0].toObject()["tokens"].toInt(), 8);
    QCOMPARE(runs[1].toObject()["mask"].toString(), QString("causal"));
    QCOMPARE(runs[3].toObject()["tokens"].toInt(), 16);
  }

  void benchComparesTheGpuWithTheCpu() {
    const QStringList arguments{"bench", "--tokens", "1,33",   "--heads",  "3", "--head-dim",
                                "8",     "--mask",   "causal", "--repeat", "1", "--json"};
    if (!cuda_available()) {
      const Run defaults = run_cli(arguments);  // CPU only, and a note saying why
      QCOMPARE(defaults.exit_code, 0);
      QCOMPARE(QJsonDocument::fromJson(defaults.out).array().size(), 2);
      QVERIFY2(
          defaults.err.startsWith("attnscope-cli: note: bench runs on the CPU only; CUDA is not available: "),
          defaults.err.constData());
      const Run cuda = run_cli(arguments + QStringList{"--device", "cpu,cuda"});
      QCOMPARE(cuda.exit_code, 1);
      QVERIFY(cuda.out.isEmpty());
      QVERIFY2(is_one_error_line(cuda.err) && cuda.err.contains("CUDA is not available: "),
               cuda.err.constData());
      QSKIP(qPrintable("no CUDA device (" + cuda_reason() + ")"));
    }
    const Run run = run_cli(arguments + QStringList{"--device", "cpu,cuda"});
    QCOMPARE(run.exit_code, 0);
    const QJsonArray runs = QJsonDocument::fromJson(run.out).array();
    QCOMPARE(runs.size(), 4);
    for (const auto& value : runs) {
      const QJsonObject object = value.toObject();
      if (object["device"].toString() == "cpu") continue;
      QCOMPARE(object["device"].toString(), QString("cuda"));
      QVERIFY(object["mask_softmax_share"].isNull());
      QVERIFY(object["max_abs_diff_vs_cpu"].isDouble());
      QVERIFY2(object["max_abs_diff_vs_cpu"].toDouble() < 1e-5,
               qPrintable(QString::number(object["max_abs_diff_vs_cpu"].toDouble())));
    }
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
