#pragma once
// Running attnscope-cli and asking it which devices it has, for the device suites (test_cli_devices, and
// test_cli_cuda for the parts that need a GPU).

#include <QByteArray>
#include <QProcess>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

namespace attnscope::testing {

struct CliRun {
  int exit_code = -1;
  QByteArray out, err;
};

inline CliRun run_cli(const QStringList& arguments,
                      const QProcessEnvironment& environment = QProcessEnvironment::systemEnvironment()) {
  QProcess process;
  process.setProcessEnvironment(environment);
  process.start(QStringLiteral(ATTNSCOPE_BIN_DIR "/attnscope-cli"), arguments);
  if (!process.waitForFinished(120000)) qFatal("attnscope-cli did not finish");
  CliRun run;
  run.exit_code = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
  run.out = process.readAllStandardOutput();
  run.err = process.readAllStandardError();
  return run;
}

// The `devices` line of a backend, split at tabs: name, available|unavailable, description.
inline QStringList device_line(const QString& name) {
  const CliRun run = run_cli({"devices"});
  for (const QString& line : QString::fromUtf8(run.out).split('\n'))
    if (line.startsWith(name + '\t')) return line.split('\t');
  return {};
}

inline bool cuda_available() {
  return device_line("cuda").value(1) == "available";
}

inline QString cuda_reason() {
  return device_line("cuda").value(2);
}

inline bool is_one_error_line(const QByteArray& err) {
  const QString text = QString::fromUtf8(err);
  return text.startsWith("attnscope-cli: error: ") && text.count('\n') == 1 && text.endsWith('\n');
}

}  // namespace attnscope::testing
