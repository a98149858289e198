// attnscope-cli on a GPU (label gpu): a device that fails falls back to the CPU with a warning, and the bench
// compares the GPU's numbers with the CPU's. Without a usable CUDA device the whole suite skips, with the
// reason `attnscope-cli devices` gives.

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

#include "cli_devices_support.hpp"

using namespace attnscope::testing;

class TestCliCuda : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    if (!cuda_available()) QSKIP(qPrintable("no CUDA device (" + cuda_reason() + ")"));
  }

  void deviceFailureFallsBackToTheCpu() {
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert("ATTNSCOPE_CUDA_MAX_BYTES", "1024");
    const CliRun run =
        run_cli({"compute", "--preset", "book", "--mechanism", "causal", "--device", "cuda"}, environment);
    QCOMPARE(run.exit_code, 0);
    QCOMPARE(QJsonDocument::fromJson(run.out).object()["device"].toString(), QString("cpu"));
    const QString warning = QString::fromUtf8(run.err);
    QVERIFY2(warning.startsWith("attnscope-cli: warning: ") &&
                 warning.contains("computed on the CPU instead") && warning.count('\n') == 1,
             qPrintable(warning));
  }

  void benchComparesTheGpuWithTheCpu() {
    const CliRun run = run_cli({"bench", "--tokens", "1,33", "--heads", "3", "--head-dim", "8", "--mask",
                                "causal", "--repeat", "1", "--json", "--device", "cpu,cuda"});
    QCOMPARE(run.exit_code, 0);
    const QJsonArray runs = QJsonDocument::fromJson(run.out).array();
    QCOMPARE(runs.size(), 4);
    int gpu_runs = 0;
    for (const auto& value : runs) {
      const QJsonObject object = value.toObject();
      if (object["device"].toString() == "cpu") continue;
      ++gpu_runs;
      QCOMPARE(object["device"].toString(), QString("cuda"));
      QVERIFY(object["mask_softmax_share"].isNull());
      QVERIFY(object["stats_vs_step"].isNull());
      QVERIFY(object["max_abs_diff_vs_cpu"].isDouble());
      QVERIFY2(object["max_abs_diff_vs_cpu"].toDouble() < 1e-5,
               qPrintable(QString::number(object["max_abs_diff_vs_cpu"].toDouble())));
    }
    QCOMPARE(gpu_runs, 2);
  }
};

QTEST_GUILESS_MAIN(TestCliCuda)
#include "test_cli_cuda.moc"
