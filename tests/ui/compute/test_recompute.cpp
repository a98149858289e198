// What is computed is separate from how it is shown: changing a display option (colour map, colour range,
// reduction, quantities, head summary) never starts a computation, while changing any field of the request
// does. Counted with ComputeController::startedCount, each change made while the controller is idle (a
// request while idle starts at once). A new head summary is made from the snapshot on screen, sharing its
// rows.

#include <QTemporaryDir>
#include <QTest>
#include <functional>
#include <limits>

#include "compute/compute_controller.hpp"
#include "support/test_support.hpp"
#include "ui_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;

namespace {

using Change = std::function<void(ViewSettings&)>;

}  // namespace

class TestRecompute : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QVERIFY(m_directory.isValid());
    m_embeddings = attnscope::testing::write_test_file(QDir(m_directory.path()), QStringLiteral("emb.csv"),
                                                       "1,0\n0,1\n1,1\n0.5,0.5\n1,2\n2,1\n");
  }

  void displayOptionsNeverRecompute() {
    ComputeController controller;
    ViewSettings settings = ViewSettings::defaults();
    controller.requestNow(settings);
    QVERIFY(attnscope::ui::testing::waitForIdle(&controller));
    const quint64 started = controller.startedCount();
    const std::vector<std::pair<const char*, Change>> changes{
        {"colour map", [](ViewSettings& s) { s.display.colorMap = ColorMapId::magma; }},
        {"colour map again", [](ViewSettings& s) { s.display.colorMap = ColorMapId::cividis; }},
        {"per-map range", [](ViewSettings& s) { s.display.sharedRange = false; }},
        {"reduction", [](ViewSettings& s) { s.display.reduction = Reduction::mean; }},
        {"dropout weights shown",
         [](ViewSettings& s) { s.display.quantities.push_back(Quantity::dropoutWeights); }},
        {"weights hidden", [](ViewSettings& s) { s.display.quantities = {Quantity::dropoutWeights}; }},
        {"weights back", [](ViewSettings& s) { s.display.quantities = {Quantity::weights}; }},
        {"scores shown",
         [](ViewSettings& s) {
           s.display.quantities = {Quantity::rawScores, Quantity::weights};
         }},
        {"scaled scores only", [](ViewSettings& s) { s.display.quantities = {Quantity::scaledScores}; }},
        {"readouts off", [](ViewSettings& s) { s.display.statReadouts = false; }},
        {"readouts on", [](ViewSettings& s) { s.display.statReadouts = true; }},
    };
    for (const auto& [what, change] : changes) {
      change(settings);
      controller.request(settings);
      QVERIFY2(controller.startedCount() == started, what);
      QVERIFY2(!controller.isBusy(), what);
    }
  }

  void aHeadSummaryIsMadeFromTheSnapshotOnScreen() {
    ComputeController controller;
    SnapshotPointer shown;
    connect(&controller, &ComputeController::snapshotReady, this,
            [&shown](const SnapshotPointer& snapshot) { shown = snapshot; });
    ViewSettings settings = ViewSettings::defaults();
    settings.heads = 3;
    settings.dOut = 6;
    settings.masks = {MaskSpec::parse("none"), MaskSpec::parse("causal")};
    controller.requestNow(settings);
    QVERIFY(attnscope::ui::testing::waitForIdle(&controller));
    QVERIFY(shown);
    const SnapshotPointer computed = shown;
    QCOMPARE(computed->headCount(), 3);
    const quint64 started = controller.startedCount();

    for (const HeadSummary summary : {HeadSummary::mean, HeadSummary::max}) {
      settings.display.headSummary = summary;
      controller.request(settings);
      QVERIFY(attnscope::ui::testing::waitForIdle(&controller));
      QCOMPARE(controller.startedCount(), started);
      QCOMPARE(shown->headCount(), 4);
      QVERIFY(shown->headSummary == summary);
      // The rows are the computed snapshot's own, not a copy.
      QCOMPARE(shown->rows[1].result->heads[2].weights.data(),
               computed->rows[1].result->heads[2].weights.data());
      for (int row = 0; row < 2; ++row)
        for (const Quantity quantity : {Quantity::rawScores, Quantity::weights})
          for (int query = 0; query < computed->tokenCount(); ++query)
            for (int key = 0; key < computed->tokenCount(); ++key) {
              float mean = 0.0f, largest = -std::numeric_limits<float>::infinity();
              for (int head = 0; head < 3; ++head) {
                const float value = computed->value(row, head, quantity, query, key);
                mean += value / 3.0f;
                largest = std::max(largest, value);
              }
              const float expected = summary == HeadSummary::mean ? mean : largest;
              QVERIFY(qAbs(shown->value(row, 3, quantity, query, key) - expected) <=
                      1e-6f * (1 + qAbs(expected)));
            }
    }
    settings.display.headSummary = HeadSummary::none;
    controller.request(settings);
    QVERIFY(attnscope::ui::testing::waitForIdle(&controller));
    QCOMPARE(shown->headCount(), 3);
    QCOMPARE(controller.startedCount(), started);
    QCOMPARE(controller.summarizedCount(), quint64{3});
  }

  void aSeededTableIsDescribedByItsDistinctTokens() {
    ViewSettings settings = ViewSettings::defaults();
    settings.text = QStringLiteral("a b a c b");
    settings.embeddingSource = EmbeddingSource::seeded;
    settings.dIn = 4;
    settings.embeddingSeed = 7;
    const AttentionInput input = AttentionInput::fromSettings(settings);
    QCOMPARE(input.tokens.size(), std::size_t{5});
    QCOMPARE(input.embeddingsNote,
             QStringLiteral(
                 "A seeded table: torch.manual_seed(7); nn.Embedding(3, 4) for the 3 distinct tokens."));
  }

  void aSummaryOfLetGoMatricesRecomputesTheHeads() {
    // A long text's matrices are let go once its maps are prepared; a summary asked later is made from q and
    // k and equals the one made while they were kept.
    ViewSettings settings = ViewSettings::defaults();
    settings.text = QString(QStringLiteral("word ")).repeated(40).trimmed();
    settings.embeddingSource = EmbeddingSource::seeded;
    settings.heads = 2;
    settings.masks = {MaskSpec::parse("causal")};
    AttentionInput input = AttentionInput::fromSettings(settings);
    const auto backend = make_backend(Device::cpu);
    const CancelToken never;
    PreparedMaps letGo;
    letGo.quantities = {Quantity::weights};
    letGo.keptBytes = 0;
    const SnapshotPointer compact = computeSnapshot(input, *backend, never, letGo);
    QVERIFY(!compact->keepsMatrices());
    input.headSummary = HeadSummary::mean;
    const SnapshotPointer kept = computeSnapshot(input, *backend, never, {});
    const SnapshotPointer summarized = withHeadSummary(compact, HeadSummary::mean, never);
    QCOMPARE(summarized->headCount(), 3);
    for (int query = 0; query < 40; ++query)
      for (int key = 0; key < 40; ++key)
        for (const Quantity quantity : {Quantity::rawScores, Quantity::weights}) {
          const float expected = kept->value(0, 2, quantity, query, key);
          QVERIFY(qAbs(summarized->value(0, 2, quantity, query, key) - expected) <=
                  1e-6f * (1 + qAbs(expected)));
        }
  }

  void everyRequestFieldRecomputes() {
    ComputeController controller;
    controller.setDebounceInterval(0);
    ViewSettings settings = ViewSettings::defaults();
    controller.requestNow(settings);
    QVERIFY(attnscope::ui::testing::waitForIdle(&controller));
    const QString embeddings = m_embeddings;
    const std::vector<std::pair<const char*, Change>> changes{
        {"text", [](ViewSettings& s) { s.text = QStringLiteral("Your journey starts with one step now"); }},
        {"tokenizer", [](ViewSettings& s) { s.tokenizer = TokenizerKind::words; }},
        {"embedding source", [](ViewSettings& s) { s.embeddingSource = EmbeddingSource::seeded; }},
        {"d_in", [](ViewSettings& s) { s.dIn = 4; }},
        {"embedding seed", [](ViewSettings& s) { s.embeddingSeed = 5; }},
        {"mechanism", [](ViewSettings& s) { s.mechanism = Mechanism::multihead_wrapper; }},
        {"d_out", [](ViewSettings& s) { s.dOut = 2; }},
        {"heads", [](ViewSettings& s) { s.heads = 3; }},
        {"qkv bias", [](ViewSettings& s) { s.qkvBias = true; }},
        {"dropout", [](ViewSettings& s) { s.dropout = 0.5; }},
        {"seed", [](ViewSettings& s) { s.seed = 9; }},
        {"dropout seed", [](ViewSettings& s) { s.dropoutSeed = 11; }},
        {"normalisation", [](ViewSettings& s) { s.normalization = Normalization::sum; }},
        {"masks", [](ViewSettings& s) { s.masks.push_back(MaskSpec::parse("window:2")); }},
        {"device", [](ViewSettings& s) { s.device = Device::automatic; }},
        {"max tokens", [](ViewSettings& s) { s.maxTokens = 100; }},
        {"embeddings file",
         [embeddings](ViewSettings& s) {
           s.text = QStringLiteral("Your journey starts with one step");
           s.tokenizer = TokenizerKind::whitespace;
           s.embeddingSource = EmbeddingSource::file;
           s.embeddingsFile = embeddings;
         }},
        {"model folder", [](ViewSettings& s) { s.modelFolder = QStringLiteral("/nonexistent/gpt2"); }},
        {"layer", [](ViewSettings& s) { s.layer = 1; }},
    };
    for (const auto& [what, change] : changes) {
      const quint64 before = controller.startedCount();
      change(settings);
      controller.request(settings);
      QVERIFY2(controller.startedCount() == before + 1, what);
      QVERIFY2(attnscope::ui::testing::waitForIdle(&controller), what);
    }
  }

 private:
  QTemporaryDir m_directory;
  QString m_embeddings;
};

QTEST_MAIN(TestRecompute)
#include "test_recompute.moc"
