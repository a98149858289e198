// attnscope: the desktop app. Without --export it opens the window (with the engine flags applied when
// given); with --export it renders the heatmap grid to a PNG, SVG or PDF and exits, needing no display.

#include <CLI/CLI.hpp>
#include <QApplication>
#include <QIcon>
#include <QMessageBox>
#include <csignal>
#include <iostream>
#include <string>

#include "attnscope/error.hpp"
#include "gui/command_line.hpp"
#include "main_window.hpp"
#include "resources.hpp"
#include "support/parse_arguments.hpp"

namespace {

void printError(const std::string& message) {
  attnscope::cli::print_error("attnscope", message);
}

// A headless export reports in one line; Qt's notes about the environment (no XDG_RUNTIME_DIR, fonts) would
// bury it.
void quietMessages(QtMsgType type, const QMessageLogContext&, const QString& message) {
  if (type == QtCriticalMsg || type == QtFatalMsg)
    std::cerr << "attnscope: " << message.toStdString() << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  // A write beyond the file-size limit must fail with EFBIG and a message, not kill the process.
  std::signal(SIGXFSZ, SIG_IGN);

  CLI::App app{
      "attnscope: type a sentence and watch the attention mechanisms of chapter 3 of Build a Large Language "
      "Model "
      "(From Scratch) work, or a GPT-2 folder's attention (--model DIR). Without --export it opens the "
      "window; "
      "with --export it renders the heatmap grid "
      "and "
      "exits, without a display. The engine flags are attnscope-cli compute's; those not given keep the "
      "session's "
      "settings or the launch view's: the book's sentence and embeddings, multihead, 2 heads, d_out 4, masks "
      "none,causal, weights.",
      "attnscope"};
  app.set_version_flag("--version", std::string("attnscope ") + ATTNSCOPE_VERSION);
  attnscope::app::CommandLine commandLine;
  commandLine.addOptions(app);
  if (const auto exitStatus = attnscope::cli::parse_command_line(app, argc, argv, "attnscope"))
    return *exitStatus;
  commandLine.noteGiven(app);

  // Without a display (or for a headless export) render offscreen, unless the user chose a platform.
  const bool noDisplay =
      qEnvironmentVariableIsEmpty("DISPLAY") && qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY");
  const bool platformChosen = qEnvironmentVariableIsSet("QT_QPA_PLATFORM");
  if ((commandLine.wantsExport() || noDisplay) && !platformChosen) {
    if (!commandLine.wantsExport()) {
      printError(
          "there is no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset); "
          "render without one with --export FILE.png|.svg|.pdf");
      return 1;
    }
    qputenv("QT_QPA_PLATFORM", "offscreen");
  }
  if (commandLine.wantsExport()) qInstallMessageHandler(quietMessages);

  // Qt sees only the program name: every flag is ours, and a text like "-reverse" must not reach Qt.
  int qtArgc = 1;
  char* qtArgv[] = {argv[0], nullptr};
  QApplication application(qtArgc, qtArgv);
  QApplication::setOrganizationName(QString::fromLatin1(attnscope::ui::MainWindow::kOrganization));
  QApplication::setApplicationName(QString::fromLatin1(attnscope::ui::MainWindow::kApplication));
  QApplication::setApplicationVersion(QString::fromLatin1(ATTNSCOPE_VERSION));
  QApplication::setDesktopFileName(QStringLiteral("attnscope"));
  attnscope::ui::initResources();
  QApplication::setWindowIcon(QIcon(QStringLiteral(":/attnscope/icons/attnscope.svg")));

  try {
    if (commandLine.wantsExport()) {
      commandLine.exportImage();
      return 0;
    }
    std::optional<attnscope::ui::ViewSettings> initial;
    if (commandLine.anyGiven() && !commandLine.onlySession()) initial = commandLine.settings();
    attnscope::ui::MainWindow window(initial);
    window.show();
    if (commandLine.onlySession()) {
      QString error;
      if (!window.openSession(commandLine.sessionPath(), &error))
        QMessageBox::warning(&window, QObject::tr("Cannot Open Session"), error);
    }
    return application.exec();
  } catch (const attnscope::Error& error) {
    printError(error.what());
    return 1;
  }
}
