// The export dialog a learner can trust: it remembers the format, preset, size and scale of the last export
// (QSettings, so across launches too), and a failed export brings it back as it was, with the reason in it.

#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QSettings>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <functional>

#include "export/export_dialog.hpp"
#include "export/figure_preset.hpp"
#include "main_window.hpp"
#include "plot/heatmap_grid.hpp"
#include "ui_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;
using namespace attnscope::ui::testing;

class TestExportDialog : public QObject {
  Q_OBJECT

  QTemporaryDir m_settingsDirectory;

  // Answers the next ExportDialog that opens (a progress dialog is let be).
  static void answerNextExportDialog(std::function<void(ExportDialog*)> answer) {
    auto* poll = new QTimer;
    QObject::connect(poll, &QTimer::timeout, poll, [poll, answer] {
      auto* dialog = qobject_cast<ExportDialog*>(QApplication::activeModalWidget());
      if (!dialog || !dialog->isVisible()) return;
      poll->stop();
      poll->deleteLater();
      answer(dialog);
    });
    poll->start(0);
  }

  static bool show(MainWindow& window) {
    window.resize(1024, 700);
    window.show();
    return QTest::qWaitForWindowExposed(&window) && waitForIdle(window.controller());
  }

 private slots:
  void initTestCase() {
    QVERIFY(m_settingsDirectory.isValid());
    isolateSettings(m_settingsDirectory);
  }

  void init() { QSettings(QStringLiteral("AttnScope"), QStringLiteral("AttnScope")).clear(); }

  void theLastChoicesAreRemembered() {
    MainWindow window;
    QVERIFY(show(window));
    const HeatmapPlot& plot = *window.grid()->plot();
    QTemporaryDir directory;
    {
      ExportDialog dialog(plot, QSize(800, 600), directory.path());
      QCOMPARE(dialog.request().format, ImageFormat::png);
      QCOMPARE(dialog.request().size, QSize(800, 600));
      dialog.setFormat(ImageFormat::svg);
      dialog.setPixelSize(QSize(1234, 567));
      dialog.setPath(directory.filePath(QStringLiteral("chosen.svg")));
      dialog.show();
      dialog.accept();
      QCOMPARE(dialog.result(), int(QDialog::Accepted));
    }
    {
      // Opened again (or on the next launch: the choices are in QSettings).
      ExportDialog dialog(plot, QSize(800, 600), directory.path());
      QCOMPARE(dialog.request().format, ImageFormat::svg);
      QCOMPARE(dialog.request().size, QSize(1234, 567));
      QVERIFY(dialog.path().endsWith(QStringLiteral(".svg")));
      // A preset is remembered too.
      auto* preset = dialog.findChild<QComboBox*>(QStringLiteral("preset"));
      preset->setCurrentIndex(preset->findData(int(FigurePreset::column)));
      dialog.setPath(directory.filePath(QStringLiteral("column.pdf")));
      dialog.setFormat(ImageFormat::pdf);
      dialog.show();
      dialog.accept();
      QCOMPARE(dialog.result(), int(QDialog::Accepted));
    }
    ExportDialog dialog(plot, QSize(800, 600), directory.path());
    QCOMPARE(dialog.request().format, ImageFormat::pdf);
    QVERIFY(dialog.request().inPoints);
    QCOMPARE(dialog.findChild<QComboBox*>(QStringLiteral("preset"))->currentData().toInt(),
             int(FigurePreset::column));
  }

  void aMissingFolderKeepsTheDialogOpen() {
    MainWindow window;
    QVERIFY(show(window));
    ExportDialog dialog(*window.grid()->plot(), QSize(800, 600), QDir::tempPath());
    dialog.show();
    dialog.setPath(QStringLiteral("/nonexistent-dir/x.png"));
    dialog.accept();
    QVERIFY(dialog.isVisible());
    QVERIFY(dialog.result() != QDialog::Accepted);
    QCOMPARE(dialog.path(), QStringLiteral("/nonexistent-dir/x.png"));
    QVERIFY2(dialog.problem().contains(QStringLiteral("nonexistent-dir")), qPrintable(dialog.problem()));
  }

  void aFailedExportReopensTheDialogAsItWas() {
    MainWindow window;
    QVERIFY(show(window));
    // /proc exists, but nothing can be written there: the export fails on the worker, after the dialog
    // closed.
    const QString unwritable = QStringLiteral("/proc/attnscope-export-test.png");
    QString firstProblem;
    bool keptOpen = false;
    answerNextExportDialog([&](ExportDialog* dialog) {
      dialog->setPixelSize(QSize(321, 234));
      dialog->setPath(QStringLiteral("/nonexistent-dir/x.png"));
      dialog->accept();
      keptOpen = dialog->isVisible();
      firstProblem = dialog->problem();
      dialog->setPath(unwritable);
      dialog->accept();
    });
    window.exports()->imageAction()->trigger();
    QVERIFY(keptOpen);
    QVERIFY2(firstProblem.contains(QStringLiteral("nonexistent-dir")), qPrintable(firstProblem));

    QString reopenedPath, reopenedProblem;
    QSize reopenedSize;
    bool reopened = false;
    answerNextExportDialog([&](ExportDialog* dialog) {
      reopened = true;
      reopenedPath = dialog->path();
      reopenedProblem = dialog->problem();
      reopenedSize = dialog->request().size;
      dialog->reject();
    });
    QTRY_VERIFY_WITH_TIMEOUT(reopened, 20000);
    QCOMPARE(reopenedPath, unwritable);
    QCOMPARE(reopenedSize, QSize(321, 234));
    QVERIFY2(reopenedProblem.contains(QStringLiteral("Nothing was written")), qPrintable(reopenedProblem));
    QVERIFY(!QFileInfo::exists(unwritable));
  }
};

QTEST_MAIN(TestExportDialog)
#include "test_export_dialog.moc"
