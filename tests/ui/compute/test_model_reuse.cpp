// The window's GPT-2 computation keeps the model's states between edits (ModelCache, held by the
// ComputeController's worker): an edit recomputes only the positions from the first changed token, showing
// another layer recomputes none, and every snapshot equals a fresh computation's bit for bit.

#include <qcustomplot.h>

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <algorithm>
#include <cmath>
#include <cstring>

#include "../support/gpt2_checkpoint.hpp"
#include "compute/compute_controller.hpp"
#include "compute/model_snapshot.hpp"
#include "ui_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;
using attnscope::testing::write_small_gpt2;

namespace {

bool sameBits(const Matrix& a, const Matrix& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.size())) == 0;
}

bool sameOverview(const OverviewMap& a, const OverviewMap& b) {
  return a.size == b.size && a.cells.size() == b.cells.size() &&
         std::memcmp(a.cells.data(), b.cells.data(), sizeof(float) * a.cells.size()) == 0 &&
         a.maximum == b.maximum;
}

// Everything the model computed for the two snapshots agrees bit for bit.
void compareSnapshots(const AttentionSnapshot& actual, const AttentionSnapshot& expected, const char* what) {
  QVERIFY2(actual.rows.size() == expected.rows.size(), what);
  for (std::size_t r = 0; r < actual.rows.size(); ++r) {
    const AttentionResult& a = *actual.rows[r].result;
    const AttentionResult& b = *expected.rows[r].result;
    QVERIFY2(a.heads.size() == b.heads.size(), what);
    QVERIFY2(sameBits(a.output, b.output), what);
    for (std::size_t h = 0; h < a.heads.size(); ++h) {
      QVERIFY2(sameBits(a.heads[h].weights, b.heads[h].weights), what);
      QVERIFY2(sameBits(a.heads[h].context, b.heads[h].context), what);
    }
    QVERIFY2(sameBits(actual.model->finalHidden[r], expected.model->finalHidden[r]), what);
  }
  QVERIFY2(actual.overview.size() == expected.overview.size(), what);
  for (std::size_t i = 0; i < actual.overview.size(); ++i)
    QVERIFY2(sameOverview(actual.overview[i], expected.overview[i]), what);
  QVERIFY2(actual.headStats.size() == expected.headStats.size(), what);
  for (std::size_t i = 0; i < actual.headStats.size(); ++i) {
    const HeadStats& a = actual.headStats[i];
    const HeadStats& b = expected.headStats[i];
    QVERIFY2(a.entropy_bits == b.entropy_bits && a.normalized_entropy == b.normalized_entropy &&
                 a.effective_keys == b.effective_keys && a.max_weight == b.max_weight &&
                 a.first_token == b.first_token && a.self == b.self && a.previous_token == b.previous_token,
             what);
  }
  QVERIFY2(actual.model->layerMeans.size() == expected.model->layerMeans.size(), what);
  for (std::size_t r = 0; r < actual.model->layerMeans.size(); ++r) {
    const LayerMeans& a = *actual.model->layerMeans[r];
    const LayerMeans& b = *expected.model->layerMeans[r];
    QVERIFY2(a.layers() == b.layers(), what);
    for (int l = 0; l < a.layers(); ++l) QVERIFY2(sameBits(a.matrix(l), b.matrix(l)), what);
  }
}

}  // namespace

class TestModelReuse : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QVERIFY(m_directory.isValid());
    m_model = m_directory.filePath(QStringLiteral("gpt2-small"));
    write_small_gpt2(m_model.toStdString(), 3, 2, 16, 256);
  }

  void editsRecomputeOnlyFromTheChange() {
    const Gpt2Model model = openModel(m_model);
    ViewSettings settings = ViewSettings::defaults();
    settings.modelFolder = m_model;
    settings.layer = 1;
    QString text;
    for (int i = 0; i < 20; ++i) text += QStringLiteral("hello the world, ");
    settings.text = text;
    const CancelToken never;
    ModelCache cache;
    int runs = 1;  // distinct masks: the model runs once for each
    const auto both = [&](const char* what) -> int {
      const SnapshotPointer reused = computeModelSnapshot(settings, model, never, {}, setting_name, &cache);
      const SnapshotPointer fresh = computeModelSnapshot(settings, model, never);
      compareSnapshots(*reused, *fresh, what);
      if (QTest::currentTestFailed()) return -1;
      // The layer on screen's means, kept in shared blocks of rows, are mean_of_heads' (the CLI's).
      std::vector<const Matrix*> shown;
      for (const HeadResult& head : reused->rows.front().result->heads) shown.push_back(&head.weights);
      if (!sameBits(reused->model->layerMeans.front()->matrix(settings.layer), mean_of_heads(shown))) {
        QTest::qFail("the layer's means are not mean_of_heads'", __FILE__, __LINE__);
        return -1;
      }
      if (fresh->model->recomputedPositions != runs * fresh->tokenCount()) {  // no cache: every position
        QTest::qFail("a fresh computation must compute every position", __FILE__, __LINE__);
        return -1;
      }
      return reused->model->recomputedPositions;
    };
    const int n = both("first");
    QVERIFY(n > 100);
    QCOMPARE(both("the same text"), 0);
    settings.text += QStringLiteral("w");
    QCOMPARE(both("a character typed at the end"), 1);  // " w" is one new token
    settings.text += QStringLiteral("or");
    QCOMPARE(both("typed into the last token"), 1);
    // An edit at the end summarises only the rows it changed again, also when it changes n: the overview's
    // blocks of tokens stay where they were (n stays within one power of two).
    int tokens = n + 1;
    const auto atTheEnd = [&](const char* what) {
      const SnapshotPointer reused = computeModelSnapshot(settings, model, never, {}, setting_name, &cache);
      compareSnapshots(*reused, *computeModelSnapshot(settings, model, never), what);
      QVERIFY2(reused->tokenCount() != tokens, what);  // n changed
      QCOMPARE(overviewBlock(reused->tokenCount()), overviewBlock(tokens));
      tokens = reused->tokenCount();
      QCOMPARE(reused->model->summarizedRows, reused->model->recomputedPositions);
    };
    settings.text += QStringLiteral(", the");
    atTheEnd("tokens added at the end");
    if (QTest::currentTestFailed()) return;
    settings.text.chop(5);
    atTheEnd("the tokens taken away");
    if (QTest::currentTestFailed()) return;
    settings.layer = 2;
    QCOMPARE(both("another layer"), 0);
    settings.text.insert(text.size() / 2, QStringLiteral("the"));
    const int middle = both("typed in the middle");
    QVERIFY2(middle > 0 && middle < n / 2 + 8, qPrintable(QString::number(middle)));
    settings.masks.push_back(MaskSpec::parse("window:4"));
    runs = 2;
    const int window = both("a window mask on top");
    QVERIFY2(window > 0 && window <= settings.text.size(), qPrintable(QString::number(window)));
    settings.text.chop(3);
    QVERIFY(both("deleted at the end under two masks") <= 2 * 2);
    QCOMPARE(cache.runs.size(), std::size_t(2));
    settings.masks.pop_back();
    runs = 1;
    QCOMPARE(both("the window taken away"), 0);
    QCOMPARE(cache.runs.size(), std::size_t(1));
  }

  // Masks none and causal are one run (the model's causal mask alone): they share its result, their maps'
  // cells are built once, and each row gets its own, equal to what buildMapCells makes for that row; window:2
  // is a run of its own.
  void rowsOfOneRunGetTheSameCells() {
    const Gpt2Model model = openModel(m_model);
    ViewSettings settings = ViewSettings::defaults();
    settings.modelFolder = m_model;
    settings.text = QStringLiteral("hello the world, the world, the world");
    settings.masks = {MaskSpec::parse("none"), MaskSpec::parse("causal"), MaskSpec::parse("window:2")};
    PreparedMaps prepare;
    prepare.quantities = {Quantity::weights};
    prepare.keyPixels = prepare.queryPixels = 4;  // reduced: 2 tokens a cell
    const SnapshotPointer snapshot = computeModelSnapshot(settings, model, CancelToken(), prepare);
    QCOMPARE(snapshot->prepared.maps.size(), std::size_t(3 * snapshot->headCount()));
    QCOMPARE(&*snapshot->rows[1].result, &*snapshot->rows[0].result);  // one result, not a copy
    QVERIFY(&*snapshot->rows[2].result != &*snapshot->rows[0].result);
    std::vector<const QCPColorMapData*> seen;
    std::vector<std::vector<double>> cellsOfRow(3);
    for (int row = 0; row < 3; ++row)
      for (int head = 0; head < snapshot->headCount(); ++head) {
        const std::optional<MapCells> cells = snapshot->takePreparedCells(row, head, Quantity::weights);
        QVERIFY(cells && cells->cells);
        QVERIFY(std::find(seen.begin(), seen.end(), cells->cells.get()) == seen.end());
        seen.push_back(cells->cells.get());
        const MapCells want = buildMapCells(*snapshot, row, head, Quantity::weights, cells->region);
        QCOMPARE(cells->cells->keySize(), want.cells->keySize());
        QCOMPARE(cells->cells->valueSize(), want.cells->valueSize());
        QVERIFY(cells->cells->keySize() < snapshot->tokenCount());
        for (int key = 0; key < want.cells->keySize(); ++key)
          for (int query = 0; query < want.cells->valueSize(); ++query) {
            const double got = cells->cells->cell(key, query), expected = want.cells->cell(key, query);
            QVERIFY(got == expected || (std::isnan(got) && std::isnan(expected)));
            cellsOfRow[static_cast<std::size_t>(row)].push_back(got);
          }
        QCOMPARE(cells->maximum, want.maximum);
        QCOMPARE(cells->anyMasked, want.anyMasked);
        QCOMPARE(cells->percentile99, want.percentile99);
      }
    const auto same = [](const std::vector<double>& a, const std::vector<double>& b) {
      return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                        [](double x, double y) { return x == y || (std::isnan(x) && std::isnan(y)); });
    };
    QVERIFY(same(cellsOfRow[0], cellsOfRow[1]));
    QVERIFY(!same(cellsOfRow[0], cellsOfRow[2]));
  }

  // The window's worker keeps the cache: the second edit's snapshot recomputed only the edited token.
  void theWorkerKeepsTheCache() {
    ComputeController controller;
    QSignalSpy ready(&controller, &ComputeController::snapshotReady);
    ViewSettings settings = ViewSettings::defaults();
    settings.modelFolder = m_model;
    settings.text = QStringLiteral("hello the world, the world, the world");
    controller.requestNow(settings);
    QVERIFY(!ready.isEmpty() || ready.wait(20000));  // it may have come already
    const auto first = ready.takeFirst().at(0).value<SnapshotPointer>();
    settings.text.chop(2);  // " world" becomes " wor": the last token replaced
    controller.requestNow(settings);
    QVERIFY(!ready.isEmpty() || ready.wait(20000));  // it may have come already
    const auto second = ready.takeFirst().at(0).value<SnapshotPointer>();
    QCOMPARE(first->model->recomputedPositions, first->tokenCount());
    QCOMPARE(second->model->recomputedPositions, 1);
    const Gpt2Model model = openModel(m_model);
    const SnapshotPointer fresh = computeModelSnapshot(settings, model, CancelToken());
    compareSnapshots(*second, *fresh, "through the worker");
  }

 private:
  QTemporaryDir m_directory;
  QString m_model;
};

QTEST_MAIN(TestModelReuse)
#include "test_model_reuse.moc"
