// The settings panel never moves under the pointer: an error explained under its field, a longer Embeddings
// note or choosing the embeddings' source leaves every control where it was.

#include <QAbstractButton>
#include <QAbstractSpinBox>
#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTest>
#include <map>

#include "main_window.hpp"
#include "panels/settings_panel.hpp"
#include "ui_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;
using namespace attnscope::ui::testing;

namespace {

// Where each control of the panel is, in the panel's content (which scrolls).
std::map<QWidget*, int> controlTops(SettingsPanel* panel) {
  std::map<QWidget*, int> tops;
  QWidget* content = panel->widget();
  for (QWidget* child : content->findChildren<QWidget*>()) {
    const bool control = qobject_cast<QAbstractButton*>(child) || qobject_cast<QAbstractSpinBox*>(child) ||
                         qobject_cast<QComboBox*>(child) || qobject_cast<QLineEdit*>(child);
    if (control && child->isVisibleTo(content)) tops[child] = child->mapTo(content, QPoint(0, 0)).y();
  }
  return tops;
}

QString moved(const std::map<QWidget*, int>& before, const std::map<QWidget*, int>& after) {
  QStringList problems;
  for (const auto& [widget, top] : before) {
    const auto it = after.find(widget);
    if (it == after.end())
      problems << QStringLiteral("%1 disappeared").arg(widget->objectName());
    else if (std::abs(it->second - top) > 1)
      problems << QStringLiteral("%1 %2 moved from %3 to %4")
                      .arg(QString::fromLatin1(widget->metaObject()->className()), widget->objectName())
                      .arg(top)
                      .arg(it->second);
  }
  if (after.size() != before.size())
    problems << QStringLiteral("%1 controls, were %2").arg(after.size()).arg(before.size());
  return problems.join(QStringLiteral("; "));
}

void settle() {
  for (int i = 0; i < 5; ++i) QCoreApplication::processEvents();
  QTest::qWait(20);
}

}  // namespace

class TestSettingsPanel : public QObject {
  Q_OBJECT

  QTemporaryDir m_settingsDirectory;

  template <typename Widget>
  static Widget* field(MainWindow& window, const char* name) {
    auto* widget = window.settingsPanel()->findChild<Widget*>(QString::fromLatin1(name));
    if (!widget) qFatal("no settings field %s", name);
    return widget;
  }

  static bool show(MainWindow& window) {
    window.resize(1024, 700);
    window.show();
    if (!QTest::qWaitForWindowExposed(&window) || !waitForIdle(window.controller())) return false;
    settle();
    return true;
  }

 private slots:
  void initTestCase() {
    QVERIFY(m_settingsDirectory.isValid());
    isolateSettings(m_settingsDirectory);
  }

  void init() { QSettings(QStringLiteral("AttnScope"), QStringLiteral("AttnScope")).clear(); }

  void anErrorMovesNoControl() {
    MainWindow window;
    QVERIFY(show(window));
    SettingsPanel* panel = window.settingsPanel();
    const auto before = controlTops(panel);
    QVERIFY(before.size() > 20);

    field<QSpinBox>(window, "heads")->setValue(3);  // 3 does not divide d_out 4
    QVERIFY(waitForIdle(window.controller()));
    settle();
    QVERIFY(panel->fieldError(SettingsField::heads).contains(QStringLiteral("do not divide")));
    QLabel* note = panel->fieldErrorLabel(SettingsField::heads);
    QVERIFY(note->isVisible());
    // Under the heads field, readable.
    auto* heads = field<QSpinBox>(window, "heads");
    QVERIFY(note->geometry().top() >= heads->mapTo(panel->widget(), QPoint(0, heads->height())).y());
    QVERIFY(note->height() >= note->fontMetrics().height());
    QCOMPARE(moved(before, controlTops(panel)), QString());

    field<QSpinBox>(window, "heads")->setValue(2);
    QVERIFY(waitForIdle(window.controller()));
    settle();
    QVERIFY(!note->isVisible());
    QCOMPARE(moved(before, controlTops(panel)), QString());

    // A mask file asked for but not chosen.
    field<QCheckBox>(window, "maskFile")->click();
    settle();
    QVERIFY(!panel->fieldError(SettingsField::masks).isEmpty());
    QVERIFY(panel->fieldErrorLabel(SettingsField::masks)->isVisible());
    QCOMPARE(moved(before, controlTops(panel)), QString());
  }

  void aBadEmbeddingsFileMovesNoControl() {
    MainWindow window;
    QVERIFY(show(window));
    SettingsPanel* panel = window.settingsPanel();
    const auto before = controlTops(panel);
    auto* source = field<QComboBox>(window, "embeddingSource");
    source->setCurrentIndex(source->findData(int(EmbeddingSource::file)));
    settle();
    QCOMPARE(moved(before, controlTops(panel)), QString());
    auto* file = field<QLineEdit>(window, "embeddingsFile");
    QVERIFY(file->isEnabled());
    file->setText(QStringLiteral("/nonexistent-dir/embeddings.npy"));
    emit file->editingFinished();
    QVERIFY(waitForIdle(window.controller()));
    settle();
    QTRY_VERIFY(!panel->fieldError(SettingsField::embeddings).isEmpty());
    QVERIFY(panel->fieldErrorLabel(SettingsField::embeddings)->isVisible());
    QCOMPARE(moved(before, controlTops(panel)), QString());
  }

  void theEmbeddingsNoteMovesNoControl() {
    MainWindow window;
    QVERIFY(show(window));
    SettingsPanel* panel = window.settingsPanel();
    const QString shortNote = panel->embeddingsNote();
    const auto before = controlTops(panel);
    // Another sentence: the book's embeddings give way to a seeded table, and the note grows long.
    window.model()->setText(QStringLiteral("Your journey starts with one small step and then another"));
    QVERIFY(waitForIdle(window.controller()));
    settle();
    QVERIFY(panel->embeddingsNote().size() > shortNote.size() + 40);
    QCOMPARE(moved(before, controlTops(panel)), QString());
    auto* note = panel->findChild<QLabel*>(QStringLiteral("embeddingsNote"));
    QVERIFY(note->text().size() > 10);
    // A note longer than its three lines keeps them, elided, and is whole in its tooltip.
    panel->setEmbeddingsNote(
        QString(400, QLatin1Char('x')).replace(QLatin1Char('x'), QStringLiteral("word ")));
    settle();
    QCOMPARE(moved(before, controlTops(panel)), QString());
    QVERIFY(note->toolTip().size() >= 400);
    window.model()->setText(QStringLiteral("Your journey starts with one step"));
    QVERIFY(waitForIdle(window.controller()));
    settle();
    QCOMPARE(panel->embeddingsNote(), shortNote);
    QCOMPARE(moved(before, controlTops(panel)), QString());
  }
};

QTEST_MAIN(TestSettingsPanel)
#include "test_settings_panel.moc"
