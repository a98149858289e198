// Head statistics, attention rollout and the probe against an independent NumPy oracle
// (tests/golden/head_stats.json, made by tests/golden/make_head_stats_golden.py from PyTorch's weights in
// mechanisms.json and gpt2_tiny.json, and from hand-made edge cases), and their errors.

#include <QTemporaryDir>
#include <QTest>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>

#include "../support/test_support.hpp"
#include "attnscope/attention.hpp"
#include "attnscope/error.hpp"
#include "attnscope/head_stats.hpp"
#include "attnscope/mask.hpp"

using namespace attnscope;
using namespace attnscope::testing;

namespace {

// float32 weights summed in float over up to 64 keys, against float64 sums: about 1e-6 relative.
constexpr double kTolerance = 1e-5;

MaskMatrix mask_of(const QJsonValue& value) {
  const Matrix cells = to_matrix(value);
  return cells.cast<std::uint8_t>();
}

void compare_stats(const HeadStats& actual, const QJsonObject& expected, const QString& what) {
  const std::map<QString, std::optional<double>> fields{
      {"entropy_bits", actual.entropy_bits},     {"normalized_entropy", actual.normalized_entropy},
      {"effective_keys", actual.effective_keys}, {"max_weight", actual.max_weight},
      {"first_token", actual.first_token},       {"self", actual.self},
      {"previous_token", actual.previous_token}};
  QCOMPARE(expected.size(), qsizetype(fields.size()));
  for (const auto& [name, value] : fields) {
    const QJsonValue want = expected[name];
    QVERIFY2(want.isNull() == !value.has_value(),
             qPrintable(what + " " + name + (want.isNull() ? ": expected null" : ": expected a number")));
    if (!value) continue;
    const double error = std::abs(*value - want.toDouble()) / (std::abs(want.toDouble()) + 1e-6);
    QVERIFY2(error <= kTolerance, qPrintable(QStringLiteral("%1 %2: %3, expected %4")
                                                 .arg(what, name)
                                                 .arg(*value, 0, 'g', 12)
                                                 .arg(want.toDouble(), 0, 'g', 12)));
  }
}

void compare_probe(const std::vector<ProbeHit>& actual, const QJsonArray& expected, const QString& what) {
  QCOMPARE(qsizetype(actual.size()), expected.size());
  for (qsizetype i = 0; i < expected.size(); ++i) {
    const QJsonObject want = expected[i].toObject();
    const ProbeHit& hit = actual[std::size_t(i)];
    const QString label = what + QStringLiteral(" hit %1").arg(i);
    QVERIFY2(hit.layer == want["layer"].toInt() && hit.head == want["head"].toInt(), qPrintable(label));
    QCOMPARE(hit.weight, float(want["weight"].toDouble()));
    QCOMPARE(hit.rank, want["rank"].toInt());
  }
}

}  // namespace

class TestHeadStats : public QObject {
  Q_OBJECT

  QJsonObject m_oracle;

 private slots:
  void initTestCase() { m_oracle = read_json_object(golden_path("head_stats.json")); }

  void mechanismsMatchNumPy() {
    std::map<QString, QJsonObject> cases;
    for (const auto& value : read_json_object(golden_path("mechanisms.json"))["cases"].toArray())
      cases[value.toObject()["name"].toString()] = value.toObject();
    const QJsonArray expected = m_oracle["mechanisms"].toArray();
    QVERIFY(expected.size() >= 20);
    for (const auto& entry : expected) {
      const QJsonObject oracle = entry.toObject();
      const QString name = oracle["case"].toString();
      QVERIFY2(cases.count(name), qPrintable(name));
      const QJsonObject testCase = cases[name];
      const MaskMatrix mask = mask_of(testCase["mask_matrix"]);
      const QJsonArray heads = testCase["expected"].toObject()["heads"].toArray();
      std::vector<Matrix> weights;
      for (const auto& head : heads) weights.push_back(to_matrix(head.toObject()["weights"]));
      for (const auto& head : oracle["heads"].toArray()) {
        const int h = head.toObject()["head"].toInt();
        compare_stats(head_stats(weights[std::size_t(h)], mask), head.toObject()["stats"].toObject(),
                      name + QStringLiteral(" head %1").arg(h));
      }
      for (const auto& value : oracle["probes"].toArray()) {
        const QJsonObject probed = value.toObject();
        std::vector<ProbedRow> rows;
        for (std::size_t h = 0; h < weights.size(); ++h)
          rows.push_back({0, int(h), weights[h].row(probed["query"].toInt())});
        compare_probe(probe(rows, probed["key"].toInt()), probed["order"].toArray(), name + " probe");
      }
    }
  }

  void gpt2MatchesNumPy() {
    std::map<QString, QJsonObject> checkpoints;
    for (const auto& value : read_json_object(golden_path("gpt2_tiny.json"))["cases"].toArray())
      checkpoints[value.toObject()["name"].toString()] = value.toObject();
    const QJsonArray expected = m_oracle["gpt2"].toArray();
    QVERIFY(expected.size() >= 10);
    for (const auto& entry : expected) {
      const QJsonObject oracle = entry.toObject();
      const QString name =
          oracle["checkpoint"].toString() + QStringLiteral(" run %1").arg(oracle["run"].toInt());
      const QJsonObject run =
          checkpoints[oracle["checkpoint"].toString()]["runs"].toArray()[oracle["run"].toInt()].toObject();
      const auto n = Eigen::Index(run["ids"].toArray().size());
      MaskMatrix mask = build_mask(MaskSpec{MaskKind::causal, 0, {}}, n);
      if (!run["extra_mask"].isNull())
        mask = mask.cwiseMax(build_mask(MaskSpec::parse(run["extra_mask"].toString().toStdString()), n));
      std::vector<std::vector<Matrix>> layers;
      for (const auto& layer : run["layers"].toArray()) {
        layers.emplace_back();
        for (const auto& head : layer.toObject()["heads"].toArray())
          layers.back().push_back(to_matrix(head.toObject()["weights"]));
      }
      for (const auto& head : oracle["heads"].toArray()) {
        const int l = head.toObject()["layer"].toInt(), h = head.toObject()["head"].toInt();
        compare_stats(head_stats(layers[std::size_t(l)][std::size_t(h)], mask),
                      head.toObject()["stats"].toObject(), name + QStringLiteral(" L%1 H%2").arg(l).arg(h));
      }
      std::vector<Matrix> means;
      for (const auto& heads : layers) {
        std::vector<const Matrix*> pointers;
        for (const Matrix& weights : heads) pointers.push_back(&weights);
        means.push_back(mean_of_heads(pointers));
      }
      const std::vector<Matrix> rollout = attention_rollout(means);
      const QJsonArray expected_rollout = oracle["rollout"].toArray();
      QCOMPARE(qsizetype(rollout.size()), expected_rollout.size());
      for (const auto& value : expected_rollout) {
        const int l = value.toObject()["layer"].toInt();
        ATTNSCOPE_COMPARE_MATRIX(rollout[std::size_t(l)], to_matrix(value.toObject()["weights"]), kTolerance,
                                 1e-6, name + QStringLiteral(" rollout L%1").arg(l));
      }
      for (const auto& value : oracle["probes"].toArray()) {
        const QJsonObject probed = value.toObject();
        std::vector<ProbedRow> rows;
        for (std::size_t l = 0; l < layers.size(); ++l)
          for (std::size_t h = 0; h < layers[l].size(); ++h)
            rows.push_back({int(l), int(h), layers[l][h].row(probed["query"].toInt())});
        compare_probe(probe(rows, probed["key"].toInt()), probed["order"].toArray(), name + " probe");
      }
    }
  }

  void edgeCasesMatchNumPy() {
    const QJsonArray cases = m_oracle["synthetic"].toArray();
    QVERIFY(cases.size() >= 10);
    for (const auto& value : cases) {
      const QJsonObject testCase = value.toObject();
      compare_stats(head_stats(to_matrix(testCase["weights"]), mask_of(testCase["mask"])),
                    testCase["stats"].toObject(), testCase["name"].toString());
    }
  }

  void theStepsRowTermsAgreeWithTheWeights() {
    // The CPU step computes each row's terms with its softmax (the entropy from ln Z − Σ e·d / Z, no
    // logarithm per weight): they agree with head_row_stats over the weights it returns within float
    // rounding, for every path through the step: dense and causal blocks, rows shorter than a packet and
    // with a ragged tail, a file mask with empty rows and holes (the non-contiguous path), sum
    // normalisation, dropout (the statistics stay before dropout).
    QTemporaryDir directory;
    std::string file_mask;
    for (int row = 0; row < 70; ++row) {
      for (int key = 0; key < 70; ++key)
        file_mask += std::string(key ? "," : "") + ((row % 9 == 4 || (key + row) % 3 == 0) ? "1" : "0");
      file_mask += "\n";
    }
    const std::string mask_path = directory.filePath("mask.csv").toStdString();
    std::ofstream(mask_path) << file_mask;
    struct Case {
      const char* mask;
      int tokens;
      Normalization normalization;
      double dropout;
    };
    for (const Case& c :
         {Case{"none", 1, Normalization::softmax, 0.0}, Case{"none", 5, Normalization::softmax, 0.0},
          Case{"none", 203, Normalization::softmax, 0.0}, Case{"causal", 203, Normalization::softmax, 0.0},
          Case{"window:3", 70, Normalization::softmax, 0.0},
          Case{"prefix:7", 70, Normalization::softmax, 0.0}, Case{"file", 70, Normalization::softmax, 0.0},
          Case{"causal", 70, Normalization::sum, 0.0}, Case{"causal", 70, Normalization::softmax, 0.5}}) {
      const QString what = QStringLiteral("%1, %2 tokens, %3, dropout %4")
                               .arg(c.mask)
                               .arg(c.tokens)
                               .arg(QString::fromStdString(std::string(to_string(c.normalization))))
                               .arg(c.dropout);
      AttentionConfig config;
      config.mechanism = Mechanism::multihead;
      config.heads = 2;
      config.d_out = 8;
      config.dropout = c.dropout;
      config.normalization = c.normalization;
      config.mask = MaskSpec::parse(std::string(c.mask) == "file" ? "file:" + mask_path : c.mask);
      config.row_stats = true;
      const Matrix input = Matrix::NullaryExpr(c.tokens, 4, [](Eigen::Index i, Eigen::Index j) {
        return static_cast<float>(std::sin(1.3 * i + 0.7 * j) * (1.0 + 0.5 * j));
      });
      const AttentionResult result = compute_attention(config, input);
      QVERIFY2(c.mask != std::string("file") || !result.empty_rows.empty(), qPrintable(what));
      for (const HeadResult& head : result.heads) {
        QCOMPARE(qsizetype(head.row_stats.size()), qsizetype(c.tokens));
        std::vector<HeadRowStats> expected;
        head_row_stats(head.weights, result.mask, 0, expected);
        for (int row = 0; row < c.tokens; ++row) {
          const HeadRowStats& fused = head.row_stats[std::size_t(row)];
          const HeadRowStats& want = expected[std::size_t(row)];
          const QString at = what + QStringLiteral(", row %1").arg(row);
          QVERIFY2(fused.visible == want.visible && fused.first_token == want.first_token &&
                       fused.self == want.self && fused.previous_token == want.previous_token &&
                       fused.max_weight == want.max_weight,
                   qPrintable(at));
          QVERIFY2(std::abs(fused.bits - want.bits) <= 1e-5 * (1.0 + std::abs(want.bits)),
                   qPrintable(at + QStringLiteral(": %1 bits, expected %2").arg(fused.bits).arg(want.bits)));
        }
      }
    }
  }

  void everyRowEmptyGivesNoNumbers() {
    const HeadStats stats = head_stats(Matrix::Zero(3, 3), MaskMatrix::Ones(3, 3));
    QVERIFY(!stats.entropy_bits && !stats.normalized_entropy && !stats.effective_keys && !stats.max_weight &&
            !stats.first_token && !stats.self && !stats.previous_token);
  }

  void badShapesAndIndicesAreErrors() {
    QCOMPARE(error_of([] { head_stats(Matrix::Zero(2, 3), MaskMatrix::Zero(2, 3)); }),
             std::string("head statistics need square weights and mask of one size, not 2 × 3 and 2 × 3"));
    QCOMPARE(error_of([] { head_stats(Matrix::Zero(2, 2), MaskMatrix::Zero(3, 3)); }),
             std::string("head statistics need square weights and mask of one size, not 2 × 2 and 3 × 3"));
    QCOMPARE(error_of([] {
               attention_rollout({Matrix::Zero(2, 2), Matrix::Zero(3, 3)});
             }),
             std::string("rollout needs every layer's weights n × n with one n, not 2 × 2 and 3 × 3"));
    const Matrix a = Matrix::Zero(2, 2), b = Matrix::Zero(3, 3);
    QCOMPARE(error_of([&] {
               mean_of_heads({&a, &b});
             }),
             std::string("the mean of heads needs weights of one size, not 2 × 2 and 3 × 3"));
    QCOMPARE(error_of([] { mean_of_heads({}); }), std::string("the mean of heads needs at least one head"));
    QCOMPARE(error_of([] {
               probe({{0, 0, Vector::Zero(4)}}, 4);
             }),
             std::string("the probe's key 4 is not a token: the text has tokens 0 to 3"));
    QCOMPARE(error_of([] {
               probe({{0, 0, Vector::Zero(4)}}, -1);
             }),
             std::string("the probe's key -1 is not a token: the text has tokens 0 to 3"));
  }
};

QTEST_GUILESS_MAIN(TestHeadStats)
#include "test_head_stats.moc"
