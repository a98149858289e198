// .attnscope sessions: every setting survives a round trip; a newer format, a damaged file or a bad value is
// refused with a clear message and nothing of it is applied.

#include <QDirIterator>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMenu>
#include <QTemporaryDir>
#include <QTest>

#include "main_window.hpp"
#include "panels/sentence_editor.hpp"
#include "plot/heatmap_grid.hpp"
#include "resources.hpp"
#include "session/session_file.hpp"
#include "ui_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;
using namespace attnscope::ui::testing;

namespace {

ViewSettings unusualSettings() {
  ViewSettings settings;
  settings.text = QStringLiteral("caf\u00e9, \U0001F600 and \"quotes\"\nnew line");
  settings.tokenizer = TokenizerKind::words;
  settings.embeddingSource = EmbeddingSource::seeded;
  settings.dIn = 7;
  settings.embeddingSeed = 42;
  settings.embeddingsFile = QStringLiteral("/tmp/e.npy");
  settings.mechanism = Mechanism::multihead_wrapper;
  settings.dOut = 3;
  settings.heads = 5;
  settings.seed = (std::uint64_t{1} << 60) + 7;  // beyond a double's exact integers
  settings.dropout = 0.35;
  settings.dropoutSeed = 18446744073709551615ULL;
  settings.qkvBias = true;
  settings.normalization = Normalization::sum;
  settings.masks = {MaskSpec::parse("prefix:2"), MaskSpec::parse("none"), MaskSpec::parse("window:4"),
                    MaskSpec::parse("file:/tmp/m.csv")};
  settings.display.quantities = {Quantity::scaledScores, Quantity::dropoutWeights};
  settings.display.colorMap = ColorMapId::cividis;
  settings.display.sharedRange = false;
  settings.display.statReadouts = false;
  settings.device = Device::automatic;
  return settings;
}

void writeFile(const QString& path, const QByteArray& contents) {
  QFile file(path);
  QVERIFY(file.open(QIODevice::WriteOnly));
  file.write(contents);
}

}  // namespace

class TestSession : public QObject {
  Q_OBJECT

  QTemporaryDir m_settingsDirectory;

 private slots:
  void initTestCase() {
    isolateSettings(m_settingsDirectory);
    initResources();
  }

  void everySettingSurvivesARoundTrip() {
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("s.attnscope"));
    const ViewSettings settings = unusualSettings();
    SessionFile::save(path, settings);
    QCOMPARE(SessionFile::load(path), settings);
    QCOMPARE(SessionFile::load(path).seed, (std::uint64_t{1} << 60) + 7);
    SessionFile::save(path, ViewSettings::defaults());
    QCOMPARE(SessionFile::load(path), ViewSettings::defaults());
  }

  // A session saved before the readouts existed has no stat_readouts: it opens with the default (on).
  void aMissingReadoutSettingIsTheDefault() {
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("old.attnscope"));
    writeFile(path, "{\"format\": \"attnscope-session\", \"version\": 1, \"settings\": {\"heads\": 3}}");
    const ViewSettings loaded = SessionFile::load(path);
    QCOMPARE(loaded.heads, 3);
    QCOMPARE(loaded.display.statReadouts, ViewSettings::defaults().display.statReadouts);
    QVERIFY(loaded.display.statReadouts);
  }

  void theWindowSavesAndOpensSessions() {
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("w.attnscope"));
    MainWindow window;
    QVERIFY(waitForIdle(window.controller()));
    window.editor()->setText(QStringLiteral("Sessions keep the text"));
    ViewSettings changed = window.model()->settings();
    changed.heads = 4;
    changed.masks = {MaskSpec::parse("window:2")};
    window.model()->setSettings(changed);
    QVERIFY(waitForIdle(window.controller()));
    QString error;
    QVERIFY2(window.saveSession(path, &error), qPrintable(error));
    QVERIFY(!window.isWindowModified());
    QCOMPARE(window.recentFiles().value(0), QFileInfo(path).absoluteFilePath());

    window.model()->setSettings(ViewSettings::defaults());
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(window.openSession(path, &error));
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(window.model()->settings(), changed);
    QCOMPARE(window.editor()->text(), QStringLiteral("Sessions keep the text"));
    QCOMPARE(window.grid()->plot()->mapCount(), 4);
    compareWithEngine(*window.grid()->plot(), changed);
    QVERIFY(window.windowTitle().contains(QStringLiteral("w.attnscope")));

    QVERIFY(!window.saveSession(QStringLiteral("/nonexistent-dir/s.attnscope"), &error));
    QVERIFY(error.contains(QStringLiteral("/nonexistent-dir/s.attnscope")));
  }

  void aNewerFormatIsRefusedAndNothingLoads() {
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("future.attnscope"));
    QJsonObject json = QJsonDocument::fromJson(SessionFile::toBytes(unusualSettings())).object();
    json[QStringLiteral("version")] = SessionFile::kFormatVersion + 1;
    writeFile(path, QJsonDocument(json).toJson());

    MainWindow window;
    QVERIFY(waitForIdle(window.controller()));
    const ViewSettings before = window.model()->settings();
    QString error;
    QVERIFY(!window.openSession(path, &error));
    QVERIFY(error.contains(QStringLiteral("newer AttnScope")));
    QVERIFY(error.contains(QStringLiteral("Nothing was loaded")));
    QCOMPARE(window.model()->settings(), before);
    QVERIFY(window.sessionPath().isEmpty());
  }

  void damagedFilesAreRefused_data() {
    QTest::addColumn<QByteArray>("contents");
    QTest::addColumn<QString>("reason");
    QTest::newRow("not JSON") << QByteArray("{ nope") << QStringLiteral("not a session file");
    QTest::newRow("another JSON") << QByteArray("{\"a\": 1}") << QStringLiteral("not an AttnScope session");
    QTest::newRow("no version") << QByteArray("{\"format\": \"attnscope-session\", \"settings\": {}}")
                                << QStringLiteral("version");
    QTest::newRow("bad heads") << QByteArray(
                                      "{\"format\": \"attnscope-session\", \"version\": 1, \"settings\": "
                                      "{\"text\": \"x\", \"heads\": 0}}")
                               << QStringLiteral("heads");
    QTest::newRow("bad mask") << QByteArray(
                                     "{\"format\": \"attnscope-session\", \"version\": 1, \"settings\": "
                                     "{\"masks\": [\"window:0\"]}}")
                              << QStringLiteral("masks");
    QTest::newRow("bad stat_readouts")
        << QByteArray(
               "{\"format\": \"attnscope-session\", \"version\": 1, \"settings\": "
               "{\"stat_readouts\": \"yes\"}}")
        << QStringLiteral("stat_readouts");
    QTest::newRow("bad seed") << QByteArray(
                                     "{\"format\": \"attnscope-session\", \"version\": 1, \"settings\": "
                                     "{\"seed\": -1}}")
                              << QStringLiteral("seed");
    QTest::newRow("version beyond int") << QByteArray(
                                               "{\"format\": \"attnscope-session\", \"version\": 3000000000, "
                                               "\"settings\": {}}")
                                        << QStringLiteral("format version 3000000000;");
    QTest::newRow("control characters in a name")
        << QByteArray(
               "{\"format\": \"attnscope-session\", \"version\": 1, \"settings\": "
               "{\"embeddings\": {\"source\": \"a\\nb\\u001b[2J\"}}}")
        << QStringLiteral("unknown embedding source 'a\\nb\\x1b[2J'");
    QTest::newRow("bidi override in a name")
        << QByteArray(
               "{\"format\": \"attnscope-session\", \"version\": 1, \"settings\": "
               "{\"mechanism\": \"causal\\u202e\"}}")
        << QStringLiteral("unknown mechanism 'causal\\u202e'");
  }

  void damagedFilesAreRefused() {
    QFETCH(QByteArray, contents);
    QFETCH(QString, reason);
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("bad.attnscope"));
    writeFile(path, contents);
    try {
      SessionFile::load(path);
      QFAIL("the file was accepted");
    } catch (const Error& error) {
      const QString message = QString::fromStdString(error.what());
      QVERIFY2(message.contains(reason), error.what());
      QVERIFY2(!message.contains(QLatin1Char('\n')) && !message.contains(QChar(0x1B)) &&
                   !message.contains(QChar(0x202E)),
               error.what());
    }
    QVERIFY_THROWS_EXCEPTION(Error,
                             SessionFile::load(directory.filePath(QStringLiteral("missing.attnscope"))));
  }

  void examplesAreInTheBooksOrder() {
    MainWindow window;
    QMenu* examples = nullptr;
    for (QMenu* menu : window.findChildren<QMenu*>())
      if (menu->title() == QStringLiteral("Open &Example")) examples = menu;
    QVERIFY(examples);
    QStringList titles;
    for (const QAction* action : examples->actions()) titles << action->text();
    QCOMPARE(titles.size(), 5);
    QVERIFY2(titles[0].startsWith(QStringLiteral("Book 3.3")) &&
                 titles[1].startsWith(QStringLiteral("Book 3.4")) &&
                 titles[2].startsWith(QStringLiteral("Book 3.5")) &&
                 titles[3].startsWith(QStringLiteral("Book 3.6")) &&
                 titles[4].startsWith(QStringLiteral("Masks compared")),
             qPrintable(titles.join(QStringLiteral(" | "))));
  }

  void everyPresetOpens() {
    QDirIterator presets(QStringLiteral(":/attnscope/presets"));
    int count = 0;
    while (presets.hasNext()) {
      const QString path = presets.next();
      const ViewSettings settings = SessionFile::load(path);
      QVERIFY2(!settings.text.isEmpty(), qPrintable(path));
      const AttentionInput input = AttentionInput::fromSettings(settings);
      QVERIFY(!input.tokens.empty());
      ++count;
    }
    QVERIFY(count >= 4);

    MainWindow window;
    QVERIFY(waitForIdle(window.controller()));
    QString error;
    QVERIFY2(window.openPreset(QStringLiteral(":/attnscope/presets/book-causal-dropout.attnscope"), &error),
             qPrintable(error));
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(window.model()->settings().mechanism == Mechanism::causal);
    QVERIFY(window.model()->snapshot()->hasDropout());
    QCOMPARE(window.grid()->plot()->mapCount(), 2);  // weights and weights after dropout, one head, causal
    compareWithEngine(*window.grid()->plot(), window.model()->settings());
    QVERIFY(window.sessionPath().isEmpty());  // an example opens untitled: saving asks for a name
  }
};

QTEST_MAIN(TestSession)
#include "test_session.moc"
