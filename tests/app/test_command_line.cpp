// attnscope's own command line (app/gui/command_line.*): flags given on top of a session file change only
// what they name.

#include <QTemporaryDir>
#include <QTest>

#include "attnscope/error.hpp"
#include "gui/command_line.hpp"
#include "session/session_file.hpp"

using namespace attnscope;
using namespace attnscope::ui;
using attnscope::app::CommandLine;

class TestCommandLine : public QObject {
  Q_OBJECT

 private slots:
  void theCommandLineStartsFromASession() {
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("cli.attnscope"));
    ViewSettings saved = ViewSettings::defaults();
    saved.text = QStringLiteral("From a session");
    saved.masks = {MaskSpec::parse("window:2")};
    saved.display.quantities = {Quantity::rawScores};
    SessionFile::save(path, saved);

    const auto parse = [](const QStringList& arguments) {
      CLI::App app;
      auto commandLine = std::make_unique<CommandLine>();
      commandLine->addOptions(app);
      std::vector<std::string> reversed;
      for (auto it = arguments.rbegin(); it != arguments.rend(); ++it) reversed.push_back(it->toStdString());
      app.parse(reversed);
      commandLine->noteGiven(app);
      return commandLine;
    };
    const auto only = parse({path});
    QVERIFY(only->onlySession());
    QCOMPARE(only->settings(), saved);

    const auto flags = parse({path, QStringLiteral("--heads"), QStringLiteral("1"), QStringLiteral("--show"),
                              QStringLiteral("both")});
    QVERIFY(!flags->onlySession());
    ViewSettings expected = saved;
    expected.heads = 1;
    expected.display.quantities = {Quantity::rawScores, Quantity::weights};
    QCOMPARE(flags->settings(), expected);

    const auto missing = parse({directory.filePath(QStringLiteral("missing.attnscope"))});
    QVERIFY_THROWS_EXCEPTION(Error, missing->settings());
  }
};

QTEST_MAIN(TestCommandLine)
#include "test_command_line.moc"
