// What is computed is separate from how it is shown: changing a display option (colour map, colour range,
// reduction, quantities other than scores) never starts a computation, while changing any field of the
// request does. Counted with ComputeController::startedCount, each change made while the controller is idle
// (a request while idle starts at once).

#include <QTemporaryDir>
#include <QTest>
#include <functional>

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
        {"colour map", [](ViewSettings& s) { s.colorMap = ColorMapId::magma; }},
        {"colour map again", [](ViewSettings& s) { s.colorMap = ColorMapId::cividis; }},
        {"per-map range", [](ViewSettings& s) { s.sharedRange = false; }},
        {"reduction", [](ViewSettings& s) { s.reduction = Reduction::mean; }},
        {"dropout weights shown", [](ViewSettings& s) { s.quantities.push_back(Quantity::dropoutWeights); }},
        {"weights hidden", [](ViewSettings& s) { s.quantities = {Quantity::dropoutWeights}; }},
        {"weights back", [](ViewSettings& s) { s.quantities = {Quantity::weights}; }},
    };
    for (const auto& [what, change] : changes) {
      change(settings);
      controller.request(settings);
      QVERIFY2(controller.startedCount() == started, what);
      QVERIFY2(!controller.isBusy(), what);
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
        // Scores of a long text are kept only while a score map is shown (the existing rule).
        {"scores shown",
         [](ViewSettings& s) {
           s.quantities = {Quantity::rawScores, Quantity::weights};
         }},
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
