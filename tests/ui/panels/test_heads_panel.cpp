// The Heads dock: every head's statistics as the engine computes them, sorting by a statistic, a click that
// shows the head (and switches a model's layer), a CSV export equal to attnscope-cli compute --stats, and the
// probe (Alt+click on a chip or a cell, or the probe field) that ranks every head by one query → key weight
// as attnscope-cli's --probe does, names the strongest in the status line and outlines them in the overview.

#include <QComboBox>
#include <QFile>
#include <QHeaderView>
#include <QProcess>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QStatusBar>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include "attnscope/head_stats.hpp"
#include "compute/model_snapshot.hpp"
#include "compute/snapshot_probe.hpp"
#include "main_window.hpp"
#include "panels/head_stats_model.hpp"
#include "panels/heads_panel.hpp"
#include "panels/model_overview.hpp"
#include "panels/token_chip_view.hpp"
#include "plot/heatmap_grid.hpp"
#include "support/gpt2_checkpoint.hpp"
#include "ui_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;
using namespace attnscope::ui::testing;

namespace {

// A tiny GPT-2 (3 layers × 2 heads) written to `folder` and opened in `window` on a three-word text.
bool openTinyModel(MainWindow& window, const QString& folder) {
  attnscope::testing::write_small_gpt2(folder.toStdString(), /*layers=*/3, /*heads=*/2, /*width=*/8, 16);
  window.show();
  if (!waitForIdle(window.controller())) return false;
  window.model()->setText(QStringLiteral("hello the world"));
  window.openModel(folder);
  return waitForIdle(window.controller());
}

// The rows of the table as shown (sorted), each the source model's row.
std::vector<int> shownOrder(const QTableView* table) {
  auto* sorted = static_cast<QSortFilterProxyModel*>(table->model());
  std::vector<int> rows;
  for (int row = 0; row < sorted->rowCount(); ++row)
    rows.push_back(sorted->mapToSource(sorted->index(row, 0)).row());
  return rows;
}

}  // namespace

class TestHeadsPanel : public QObject {
  Q_OBJECT

  QTemporaryDir m_settingsDirectory;
  QTemporaryDir m_directory;

 private slots:
  void initTestCase() {
    QVERIFY(m_settingsDirectory.isValid());
    isolateSettings(m_settingsDirectory);
  }

  void everyHeadHasTheEnginesStatistics() {
    MainWindow window;
    QVERIFY(waitForIdle(window.controller()));
    const SnapshotPointer snapshot = window.model()->snapshot();
    QTableView* table = window.heads()->table();
    QCOMPARE(table->model()->rowCount(), snapshot->maskCount() * snapshot->mechanismHeadCount());
    QCOMPARE(table->model()->rowCount(), 4);  // the launch view: 2 heads × masks none and causal
    QVERIFY(table->isColumnHidden(HeadStatsModel::layer));
    for (int row = 0; row < table->model()->rowCount(); ++row) {
      const int mask = row / 2, head = row % 2;
      const HeadResult& result = snapshot->rows[mask].result->heads[head];
      // The snapshot's own statistics, from the row terms the step computed with the weights.
      QCOMPARE(result.row_stats.size(), result.weights.rows());
      const HeadStats expected = head_stats(*snapshot->rows[mask].result)[std::size_t(head)];
      QCOMPARE(table->model()->index(row, HeadStatsModel::head).data().toInt(), head);
      QCOMPARE(table->model()->index(row, HeadStatsModel::mask).data().toString(), snapshot->maskLabel(mask));
      for (int i = 0; i < HeadStatsModel::kStatistics; ++i) {
        const QVariant shown =
            table->model()->index(row, HeadStatsModel::firstStatistic + i).data(Qt::UserRole);
        QCOMPARE(shown.toDouble(), *statisticOf(expected, i));
      }
    }
    // Causal heads put all of the first query's weight on itself; the unmasked ones spread it.
    QVERIFY(*snapshot->statsOf(1, 0, 0).self > *snapshot->statsOf(0, 0, 0).self);
  }

  void sortingOrdersTheHeadsByAStatistic() {
    MainWindow window;
    QVERIFY(waitForIdle(window.controller()));
    QTableView* table = window.heads()->table();
    const int column = HeadStatsModel::firstStatistic + 5;  // self
    table->horizontalHeader()->setSortIndicator(column, Qt::DescendingOrder);
    const std::vector<int> order = shownOrder(table);
    QCOMPARE(order.size(), std::size_t{4});
    const SnapshotPointer snapshot = window.model()->snapshot();
    for (std::size_t i = 1; i < order.size(); ++i) {
      const auto self = [&](int row) { return *snapshot->statsOf(row / 2, 0, row % 2).self; };
      QVERIFY2(self(order[i - 1]) >= self(order[i]), "sorted by self, largest first");
    }
    QVERIFY(order.front() >= 2);  // a causal head leads
  }

  void clickingARowShowsThatHead() {
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    QTableView* table = window.heads()->table();
    const QModelIndex last = table->model()->index(3, HeadStatsModel::mask);  // causal, head 1
    QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, table->visualRect(last).center());
    QCOMPARE(window.model()->selection().maskRow, 1);
    QCOMPARE(window.model()->selection().head, 1);
  }

  void aModelsTableCoversEveryLayerAndAClickSwitchesTheLayer() {
    const QString folder = m_directory.filePath(QStringLiteral("gpt2-tiny"));
    MainWindow window;
    QVERIFY(openTinyModel(window, folder));
    QTableView* table = window.heads()->table();
    QVERIFY(!table->isColumnHidden(HeadStatsModel::layer));
    QCOMPARE(table->model()->rowCount(), 2 * 3 * 2);  // masks × layers × heads
    const int row = 5;                                // mask 0, layer 2, head 1
    QCOMPARE(table->model()->index(row, HeadStatsModel::layer).data().toInt(), 2);
    QTest::mouseClick(table->viewport(), Qt::LeftButton, {},
                      table->visualRect(table->model()->index(row, HeadStatsModel::head)).center());
    QCOMPARE(window.model()->settings().layer, 2);
    QCOMPARE(window.model()->selection().head, 1);
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(window.model()->snapshot()->model->layer, 2);
  }

  void altClickingAChipProbesEveryHead() {
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    ViewSettings settings = window.model()->settings();
    settings.heads = 4;
    settings.dOut = 8;
    window.model()->setSettings(settings);
    QVERIFY(waitForIdle(window.controller()));
    window.model()->setSelection(QuerySelection{1, 1, 0});  // "journey", causal
    QTableView* table = window.heads()->table();
    QVERIFY(table->isColumnHidden(HeadStatsModel::kProbeWeight));

    // Alt+click on the chip of "Your" (key 0).
    auto* chips = window.findChild<TokenChipView*>();
    QVERIFY(chips);
    QTest::mouseClick(chips->viewport(), Qt::LeftButton, Qt::AltModifier, chips->chipRect(0).center());
    QCOMPARE(window.model()->probeKey(), 0);
    QCOMPARE(window.model()->selection().query, 1);  // Alt+click probes; it does not select
    QVERIFY(!table->isColumnHidden(HeadStatsModel::kProbeWeight));
    QCOMPARE(window.heads()->probeField()->currentIndex(), 1);

    // The table is sorted by the weight, as attnscope-cli --probe orders the heads.
    const SnapshotPointer snapshot = window.model()->snapshot();
    std::vector<ProbedRow> rows;
    for (int head = 0; head < 4; ++head)
      rows.push_back({0, head, snapshot->rows[1].result->heads[head].weights.row(1).transpose()});
    const std::vector<ProbeHit> expected = probe(rows, 0);
    const std::vector<int> order = shownOrder(table);
    for (std::size_t i = 0; i < expected.size(); ++i) {
      const HeadStatsModel::Place place =
          static_cast<HeadStatsModel*>(static_cast<QSortFilterProxyModel*>(table->model())->sourceModel())
              ->placeOf(order[i]);
      QCOMPARE(place.maskRow, 1);
      QCOMPARE(place.head, expected[i].head);
      const QModelIndex weight = table->model()->index(static_cast<int>(i), HeadStatsModel::kProbeWeight);
      QCOMPARE(weight.data(Qt::UserRole).toDouble(), double(expected[i].weight));
      QCOMPARE(table->model()->index(static_cast<int>(i), HeadStatsModel::kProbeRank).data().toInt(),
               expected[i].rank);
    }
    // The status line names the strongest: “journey” → “Your”: H2 0.62, …
    const QString status = window.statusBar()->currentMessage();
    QVERIFY2(
        status.startsWith(
            QStringLiteral("\u201cjourney\u201d \u2192 \u201cYour\u201d: H%1 ").arg(expected.front().head)),
        qPrintable(status));

    // The field clears it.
    window.heads()->probeField()->setCurrentIndex(0);
    emit window.heads()->probeField()->activated(0);
    QCOMPARE(window.model()->probeKey(), -1);
    QVERIFY(table->isColumnHidden(HeadStatsModel::kProbeWeight));
    // Alt+click on a cell selects its query (in that map) and probes its key.
    HeatmapPlot* plot = window.grid()->plot();
    window.grid()->ensureMapVisible(1, 2);
    int map = 0;
    while (map < plot->mapCount() && !(plot->mapKey(map).maskRow == 1 && plot->mapKey(map).head == 2)) ++map;
    QTest::mouseClick(plot, Qt::LeftButton, Qt::AltModifier, plot->cellCentre(map, 3, 2).toPoint());
    QCOMPARE(window.model()->probeKey(), 2);
    QCOMPARE(window.model()->selection(), (QuerySelection{3, 1, 2}));
    QVERIFY(!table->isColumnHidden(HeadStatsModel::kProbeWeight));
    // The field lists "none" and every token, numbered as the chips are, through edits that change (at either
    // end and in the middle), add and remove tokens.
    const auto items = [&] {
      QStringList texts;
      for (int i = 0; i < window.heads()->probeField()->count(); ++i)
        texts << window.heads()->probeField()->itemText(i);
      return texts;
    };
    const QString dot = QStringLiteral(" \u00b7 ");
    for (const auto& [text, tokens] : std::vector<std::pair<QString, QStringList>>{
             {QStringLiteral("Your journey starts with one step"),
              {"Your", "journey", "starts", "with", "one", "step"}},
             {QStringLiteral("Your trip starts with one step now"),
              {"Your", "trip", "starts", "with", "one", "step", "now"}},
             {QStringLiteral("Your trip"), {"Your", "trip"}},
             {QStringLiteral("A trip"), {"A", "trip"}},
             {QStringLiteral("A trip starts here"), {"A", "trip", "starts", "here"}},
             {QStringLiteral("A ride starts here"), {"A", "ride", "starts", "here"}}}) {
      window.model()->setText(text);
      QVERIFY(waitForIdle(window.controller()));
      QStringList expected{QStringLiteral("none")};
      for (int i = 0; i < tokens.size(); ++i) expected << QString::number(i + 1) + dot + tokens[i];
      QCOMPARE(items(), expected);
    }
    window.heads()->probeField()->setCurrentIndex(2);
    emit window.heads()->probeField()->activated(2);
    QCOMPARE(window.model()->probeKey(), 1);  // "trip"
    window.model()->setText(QStringLiteral("Your journey starts with one step"));
    QVERIFY(waitForIdle(window.controller()));

    // A key beyond a shorter text is dropped.
    window.model()->setProbeKey(5);
    QCOMPARE(window.model()->probeKey(), 5);
    window.model()->setText(QStringLiteral("Your journey"));
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(window.model()->probeKey(), -1);
  }

  // The table fits its columns to their contents on every change it hears of: without a probe before or
  // after, setting none tells it nothing.
  void settingNoProbeAgainChangesNothing() {
    MainWindow window;
    QVERIFY(waitForIdle(window.controller()));
    HeadStatsModel stats;
    stats.setSnapshot(window.model()->snapshot());
    QSignalSpy data(&stats, &QAbstractItemModel::dataChanged);
    QSignalSpy header(&stats, &QAbstractItemModel::headerDataChanged);
    stats.setProbe(std::nullopt);
    QCOMPARE(data.count(), 0);
    QCOMPARE(header.count(), 0);
    stats.setProbe(probeSnapshot(*window.model()->snapshot(), 1, 2, 0));
    QCOMPARE(data.count(), 1);
    QCOMPARE(header.count(), 1);
    stats.setProbe(std::nullopt);  // the probe goes: its columns empty
    QCOMPARE(data.count(), 2);
    QCOMPARE(header.count(), 2);
  }

  void aModelsProbeCoversEveryLayerAndOutlinesTheStrongest() {
    const QString folder = m_directory.filePath(QStringLiteral("gpt2-probe"));
    MainWindow window;
    QVERIFY(openTinyModel(window, folder));
    const SnapshotPointer snapshot = window.model()->snapshot();
    const int n = snapshot->tokenCount();
    window.model()->setSelection(QuerySelection{n - 1, 0, 0});
    window.model()->setProbeKey(1);
    // Every layer's heads, from the engine's own run.
    const Gpt2Model model = openModel(folder);
    std::vector<int> ids;
    for (const BpeToken& token : snapshot->model->tokens) ids.push_back(token.id);
    Gpt2RunOptions options;
    options.layers = {0, 1, 2};
    const Gpt2Result run = model.run(ids, options);
    std::vector<ProbedRow> rows;
    for (std::size_t layer = 0; layer < run.layers.size(); ++layer)
      for (int head = 0; head < 2; ++head)
        rows.push_back(
            {run.layer_indices[layer], head,
             run.layers[layer].heads[static_cast<std::size_t>(head)].weights.row(n - 1).transpose()});
    const std::vector<ProbeHit> expected = probe(rows, 1);
    const SnapshotProbe probed = probeSnapshot(*snapshot, 0, n - 1, 1);
    QVERIFY(probed.everyLayer);
    QCOMPARE(probed.hits.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      QCOMPARE(probed.hits[i].layer, expected[i].layer);
      QCOMPARE(probed.hits[i].head, expected[i].head);
      QCOMPARE(probed.hits[i].weight, expected[i].weight);
      QCOMPARE(probed.hits[i].rank, expected[i].rank);
    }
    const auto& outlined = window.overview()->probedHeads();
    QCOMPARE(outlined.size(), std::size_t{3});
    for (std::size_t i = 0; i < 3; ++i)
      QVERIFY(outlined[i] == std::make_pair(expected[i].layer, expected[i].head));
    QVERIFY(window.statusBar()->currentMessage().contains(
        QStringLiteral(": L%1 H%2 ").arg(expected.front().layer).arg(expected.front().head)));
    QVERIFY_THROWS_EXCEPTION(Error, probeSnapshot(*snapshot, 0, n, 1));
  }

  void theCsvIsAttnscopeClis() {
    MainWindow window;
    QVERIFY(waitForIdle(window.controller()));
    const QString path = m_directory.filePath(QStringLiteral("heads.csv"));
    QString error;
    QVERIFY2(window.heads()->exportCsv(path, &error), qPrintable(error));
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = file.readAll().split('\n');
    // The launch view as attnscope-cli computes it, one mask at a time.
    const QStringList launch{"compute", "--preset", "book", "--mechanism", "multihead", "--heads",
                             "2",       "--d-out",  "4",    "--stats",     "--format",  "csv"};
    QList<QByteArray> expected = cliOutput(launch + QStringList{"--mask", "none"}).split('\n');
    expected.removeLast();  // the final newline
    const QList<QByteArray> causal = cliOutput(launch + QStringList{"--mask", "causal"}).split('\n');
    expected += causal.mid(1);
    QCOMPARE(lines, expected);
    QCOMPARE(lines.size(), 1 + 4 + 1);
  }

  void anUnwritableCsvSaysWhy() {
    MainWindow window;
    QVERIFY(waitForIdle(window.controller()));
    QString error;
    QVERIFY(!window.heads()->exportCsv(QStringLiteral("/nonexistent/folder/heads.csv"), &error));
    QVERIFY2(error.contains(QStringLiteral("/nonexistent/folder/heads.csv")), qPrintable(error));
  }
};

QTEST_MAIN(TestHeadsPanel)
#include "test_heads_panel.moc"
