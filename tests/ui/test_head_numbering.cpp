// One numbering convention for heads and layers everywhere, counted from 0: the window's map headers, the
// Heads table, the model overview, the exported figure's file names and attnscope-cli's JSON name the same
// head with the same number (the last of 3 heads is "head 2" and "head": 2).

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <algorithm>

#include "main_window.hpp"
#include "panels/head_stats_model.hpp"
#include "panels/heads_panel.hpp"
#include "panels/model_overview.hpp"
#include "plot/heatmap_grid.hpp"
#include "support/gpt2_checkpoint.hpp"
#include "ui_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;
using namespace attnscope::ui::testing;

namespace {

QJsonObject cliJson(const QStringList& arguments) {
  return QJsonDocument::fromJson(cliOutput(arguments)).object();
}

// The numbers the Heads table shows in its head column, in the snapshot's order.
QList<int> tableHeads(MainWindow& window) {
  QAbstractItemModel* model = window.heads()->table()->model();
  QList<int> heads;
  for (int row = 0; row < model->rowCount(); ++row)
    heads << model->index(row, HeadStatsModel::head).data(Qt::DisplayRole).toInt();
  return heads;
}

}  // namespace

class TestHeadNumbering : public QObject {
  Q_OBJECT

  QTemporaryDir m_settingsDirectory;
  QTemporaryDir m_directory;

 private slots:
  void initTestCase() {
    QVERIFY(m_settingsDirectory.isValid());
    isolateSettings(m_settingsDirectory);
  }

  void theBooksMechanismsCountHeadsFromZeroEverywhere() {
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    ViewSettings settings = window.model()->settings();
    settings.heads = 3;
    settings.dOut = 6;
    window.model()->setSettings(settings);
    QVERIFY(waitForIdle(window.controller()));

    HeatmapPlot* plot = window.grid()->plot();
    QCOMPARE(plot->mapCount(), 6);  // masks none and causal × 3 heads
    QCOMPARE(plot->mapTitle(0), QStringLiteral("head 0 \u00b7 none"));
    QCOMPARE(plot->mapTitle(2), QStringLiteral("head 2 \u00b7 none"));
    QCOMPARE(plot->mapKey(2).head, 2);
    QCOMPARE(plot->mapFileStem(2), QStringLiteral("head2-none-weights"));
    QVERIFY(window.grid()->toolTipFor(2, 0, 0).contains(QStringLiteral("head 2")));
    QCOMPARE(tableHeads(window), (QList<int>{0, 1, 2, 0, 1, 2}));

    // attnscope-cli names the same head 2: the probe lists heads by index, and the JSON's heads array has
    // three entries (indices 0, 1, 2).
    const QJsonObject json =
        cliJson({"compute", "--preset", "book", "--mechanism", "multihead", "--heads", "3", "--d-out", "6",
                 "--mask", "none", "--format", "json", "--probe", "1:0"});
    QCOMPARE(json.value("heads").toArray().size(), 3);
    int largest = -1;
    for (const QJsonValue& hit : json.value("probe").toArray())
      largest = std::max(largest, hit.toObject().value("head").toInt(-1));
    QCOMPARE(largest, 2);
  }

  void aModelsLayersAndHeadsCountFromZeroEverywhere() {
    const QString folder = m_directory.filePath(QStringLiteral("gpt2-3heads"));
    attnscope::testing::write_small_gpt2(folder.toStdString(), /*layers=*/2, /*heads=*/3, /*width=*/12, 16);
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    window.model()->setText(QStringLiteral("hello the world"));
    window.openModel(folder);
    QVERIFY(waitForIdle(window.controller()));
    ViewSettings settings = window.model()->settings();
    settings.layer = 1;
    window.model()->setSettings(settings);
    QVERIFY(waitForIdle(window.controller()));

    HeatmapPlot* plot = window.grid()->plot();
    QVERIFY(plot->mapCount() >= 3);
    QVERIFY2(plot->mapTitle(2).startsWith(QStringLiteral("head 2 \u00b7 ")), qPrintable(plot->mapTitle(2)));
    QVERIFY2(plot->mapFileStem(2).startsWith(QStringLiteral("layer1-head2-")),
             qPrintable(plot->mapFileStem(2)));
    // The table: every layer's heads, 0 to 2, layers 0 and 1.
    QAbstractItemModel* table = window.heads()->table()->model();
    const int last = table->rowCount() - 1;
    QCOMPARE(table->index(last, HeadStatsModel::head).data().toInt(), 2);
    QCOMPARE(table->index(last, HeadStatsModel::layer).data().toInt(), 1);
    QCOMPARE(table->index(0, HeadStatsModel::head).data().toInt(), 0);
    QCOMPARE(table->index(0, HeadStatsModel::layer).data().toInt(), 0);
    // The overview's columns.
    QCOMPARE(window.overview()->headCount(), 3);
    QCOMPARE(ModelOverview::headLabel(0), QStringLiteral("0"));
    QCOMPARE(ModelOverview::headLabel(2), QStringLiteral("2"));

    const QJsonObject json =
        cliJson({"compute", "--model", folder, "--text", "hello the world", "--format", "json"});
    const QJsonArray heads = json.value("heads").toArray();
    QCOMPARE(heads.size(), 2 * 3);
    QCOMPARE(heads.first().toObject().value("layer").toInt(-1), 0);
    QCOMPARE(heads.first().toObject().value("head").toInt(-1), 0);
    QCOMPARE(heads.last().toObject().value("layer").toInt(-1), 1);
    QCOMPARE(heads.last().toObject().value("head").toInt(-1), 2);
  }
};

QTEST_MAIN(TestHeadNumbering)
#include "test_head_numbering.moc"
