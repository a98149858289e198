// The mechanisms against the numbers the book and the seed notebooks print, against PyTorch's own output
// (tests/golden/mechanisms.json, made by tests/golden/make_golden.py), and against their defining properties.

#include <QTemporaryDir>
#include <QTest>

#include "../support/test_support.hpp"
#include "attnscope/attention.hpp"
#include "attnscope/embeddings.hpp"
#include "attnscope/error.hpp"

using namespace attnscope;
using namespace attnscope::testing;

namespace {

constexpr double kDecimals4 = 5.01e-5;  // the book prints 4 decimals
constexpr double kTorchTolerance = 2e-5;

AttentionConfig config_of(Mechanism mechanism, std::uint64_t seed, int d_out) {
  AttentionConfig config;
  config.mechanism = mechanism;
  config.seed = seed;
  config.d_out = d_out;
  return config;
}

Matrix book_inputs() {
  return book_preset().embeddings;
}

void write_mask_csv(const QString& path, const QJsonArray& rows) {
  QFile file(path);
  QVERIFY(file.open(QIODevice::WriteOnly));
  for (const auto& row : rows) {
    QStringList cells;
    for (const auto& cell : row.toArray()) cells << QString::number(cell.toInt());
    file.write((cells.join(',') + "\n").toUtf8());
  }
}

}  // namespace

class TestMechanisms : public QObject {
  Q_OBJECT

 private slots:
  void bookSimplified() {
    const QJsonObject book = read_json_object(golden_path("book-chapter3.json"));
    const QJsonObject expected = book["simplified"].toObject();
    const AttentionResult result = compute_attention(config_of(Mechanism::simplified, 123, 0), book_inputs());
    QCOMPARE(result.heads.size(), std::size_t{1});
    const HeadResult& head = result.heads.front();
    QCOMPARE(head.scale, 1.0f);
    ATTNSCOPE_COMPARE_DECIMALS(Matrix(head.scores.row(1)), to_row(expected["scores_row_2"]), kDecimals4,
                               "scores row 2");
    ATTNSCOPE_COMPARE_DECIMALS(head.weights, to_matrix(expected["weights"]), kDecimals4, "weights");
    ATTNSCOPE_COMPARE_DECIMALS(head.context, to_matrix(expected["context"]), kDecimals4, "context");
    ATTNSCOPE_COMPARE_DECIMALS(result.output, to_matrix(expected["context"]), kDecimals4, "output");

    const QJsonObject seed = read_json_object(golden_path("book-scores-seed0.json"));
    ATTNSCOPE_COMPARE_DECIMALS(head.scores, to_matrix(seed["scores"]), kDecimals4, "seed notebook scores");
  }

  void bookSumNormalization() {
    const QJsonObject book = read_json_object(golden_path("book-chapter3.json"));
    AttentionConfig config = config_of(Mechanism::simplified, 123, 0);
    config.normalization = Normalization::sum;
    const AttentionResult result = compute_attention(config, book_inputs());
    ATTNSCOPE_COMPARE_DECIMALS(Matrix(result.heads.front().weights.row(1)),
                               to_row(book["simplified"]["sum_normalized_row_2"]), kDecimals4,
                               "sum-normalised row 2");
  }

  void bookSelfAttentionV1() {
    const QJsonObject expected =
        read_json_object(golden_path("book-chapter3.json"))["self_attention_v1_seed_123"].toObject();
    const AttentionResult result =
        compute_attention(config_of(Mechanism::self_attention_v1, 123, 2), book_inputs());
    const HeadResult& head = result.heads.front();
    QCOMPARE(head.scale, 1.0f / std::sqrt(2.0f));
    ATTNSCOPE_COMPARE_DECIMALS(Matrix(head.queries.row(1)), to_row(expected["query_2"]), kDecimals4,
                               "query 2");
    QVERIFY(std::abs(head.scores(1, 1) - expected["score_22"].toDouble()) <= kDecimals4);
    ATTNSCOPE_COMPARE_DECIMALS(Matrix(head.scores.row(1)), to_row(expected["scores_row_2"]), kDecimals4,
                               "scores row 2");
    ATTNSCOPE_COMPARE_DECIMALS(Matrix(head.weights.row(1)), to_row(expected["weights_row_2"]), kDecimals4,
                               "weights row 2");
    ATTNSCOPE_COMPARE_DECIMALS(Matrix(head.context.row(1)), to_row(expected["context_row_2"]), kDecimals4,
                               "context row 2");
    ATTNSCOPE_COMPARE_DECIMALS(head.context, to_matrix(expected["context"]), kDecimals4, "context");
  }

  void bookSelfAttentionV2AndCausal() {
    const QJsonObject expected =
        read_json_object(golden_path("book-chapter3.json"))["self_attention_v2_seed_789"].toObject();
    const AttentionResult v2 = compute_attention(config_of(Mechanism::self_attention, 789, 2), book_inputs());
    ATTNSCOPE_COMPARE_DECIMALS(v2.heads.front().weights, to_matrix(expected["weights"]), kDecimals4,
                               "v2 weights");
    ATTNSCOPE_COMPARE_DECIMALS(v2.output, to_matrix(expected["context"]), kDecimals4, "v2 context");

    // The book masks v2's scores; CausalAttention with seed 789 draws the same three Linear layers.
    const AttentionResult causal = compute_attention(config_of(Mechanism::causal, 789, 2), book_inputs());
    const Matrix masked_expected = to_matrix(expected["causal_masked_scores"]);
    Matrix masked_actual = causal.heads.front().scores;
    for (Eigen::Index i = 0; i < 6; ++i)
      for (Eigen::Index j = 0; j < 6; ++j) {
        QCOMPARE(causal.mask(i, j) != 0, std::isnan(masked_expected(i, j)));
      }
    ATTNSCOPE_COMPARE_DECIMALS(masked_actual, masked_expected, kDecimals4, "causal masked scores");
    ATTNSCOPE_COMPARE_DECIMALS(causal.heads.front().weights, to_matrix(expected["causal_weights"]),
                               kDecimals4, "causal weights");
  }

  void seedNotebookToyTutorial() {
    // The notebook printed its (unseeded) embeddings to 4 decimals; recomputing from the rounded values moves
    // the results by up to |x|·3·5e-5 ≈ 5e-4, so this compares at 1e-3 rather than the book's 5e-5.
    const QJsonObject toy = read_json_object(golden_path("seed-toy-tutorial.json"));
    const AttentionResult result =
        compute_attention(config_of(Mechanism::simplified, 0, 0), to_matrix(toy["embeddings"]));
    const HeadResult& head = result.heads.front();
    ATTNSCOPE_COMPARE_DECIMALS(Matrix(head.scores.row(3)), to_row(toy["scores_row_toy"]), 1e-3,
                               "scores of 'toy'");
    ATTNSCOPE_COMPARE_DECIMALS(Matrix(head.scores.topRows(2)), to_matrix(toy["scores_first_rows"]), 1e-3,
                               "scores");
    ATTNSCOPE_COMPARE_DECIMALS(Matrix(head.weights.topRows(2)), to_matrix(toy["weights_first_rows"]), 1e-3,
                               "weights");
    ATTNSCOPE_COMPARE_DECIMALS(head.context, to_matrix(toy["context"]), 1e-3, "context");
  }

  void matchesPyTorch_data() {
    QTest::addColumn<QJsonObject>("testCase");
    const QJsonObject golden = read_json_object(golden_path("mechanisms.json"));
    const QJsonArray cases = golden["cases"].toArray();
    QVERIFY(cases.size() >= 50);
    for (const auto& value : cases) {
      const QJsonObject testCase = value.toObject();
      QTest::newRow(qPrintable(testCase["name"].toString())) << testCase;
    }
  }

  void matchesPyTorch() {
    QFETCH(QJsonObject, testCase);
    const int d_in = testCase["d_in"].toInt();
    AttentionConfig config;
    config.mechanism = parse_mechanism(testCase["mechanism"].toString().toStdString());
    config.d_out = testCase["d_out"].toInt();
    config.heads = testCase["heads"].toInt();
    config.qkv_bias = testCase["qkv_bias"].toBool();
    config.dropout = testCase["dropout"].toDouble();
    config.seed = static_cast<std::uint64_t>(testCase["seed"].toInteger());
    if (!testCase["dropout_seed"].isNull())
      config.dropout_seed = static_cast<std::uint64_t>(testCase["dropout_seed"].toInteger());
    config.normalization = parse_normalization(testCase["normalization"].toString().toStdString());
    QTemporaryDir directory;
    const QString mask = testCase["mask"].toString();
    if (mask == "file") {
      const QString path = directory.filePath("mask.csv");
      write_mask_csv(path, testCase["mask_matrix"].toArray());
      config.mask = MaskSpec{MaskKind::file, 0, path.toStdString()};
    } else {
      config.mask = MaskSpec::parse(mask.toStdString());
    }

    Matrix input = to_matrix(testCase["input"]);
    QCOMPARE(input.cols(), Eigen::Index{d_in});
    if (testCase.contains("tokens")) {
      std::vector<std::string> tokens;
      for (const auto& token : testCase["tokens"].toArray()) tokens.push_back(token.toString().toStdString());
      const Matrix seeded =
          seeded_embeddings(tokens, d_in, static_cast<std::uint64_t>(testCase["embedding_seed"].toInteger()));
      // PyTorch's vectorised Box–Muller approximates log/sin/cos: about 1e-6 absolute (see
      // test_torch_random).
      ATTNSCOPE_COMPARE_MATRIX(seeded, input, 2e-6, 1.0, "seeded embeddings");
      input = seeded;
    }

    const AttentionResult result = compute_attention(config, input);
    QCOMPARE(result.mask.cast<int>(), to_matrix(testCase["mask_matrix"]).cast<int>());
    const QJsonObject expected = testCase["expected"].toObject();
    const QJsonArray heads = expected["heads"].toArray();
    QCOMPARE(result.heads.size(), std::size_t(heads.size()));
    for (int h = 0; h < heads.size(); ++h) {
      const QJsonObject head = heads[h].toObject();
      const HeadResult& actual = result.heads[std::size_t(h)];
      const QString label = QStringLiteral("head %1 ").arg(h);
      // Relative to each matrix's own magnitude: float32 sums of d products carry that much absolute error.
      const auto floor_of = [](const Matrix& m) {
        return std::max(1e-6, 1e-2 * double(m.cwiseAbs().maxCoeff()));
      };
      const Matrix queries = to_matrix(head["queries"]), keys = to_matrix(head["keys"]),
                   values = to_matrix(head["values"]);
      ATTNSCOPE_COMPARE_MATRIX(actual.queries, queries, kTorchTolerance, floor_of(queries),
                               label + "queries");
      ATTNSCOPE_COMPARE_MATRIX(actual.keys, keys, kTorchTolerance, floor_of(keys), label + "keys");
      ATTNSCOPE_COMPARE_MATRIX(actual.values, values, kTorchTolerance, floor_of(values), label + "values");
      QVERIFY(std::abs(actual.scale - head["scale"].toDouble()) <= 1e-7);
      const Matrix scores = to_matrix(head["scores_masked"]);  // masked cells null → skipped
      ATTNSCOPE_COMPARE_MATRIX(actual.scores, scores, kTorchTolerance, floor_of(to_matrix(head["scores"])),
                               label + "scores");
      for (Eigen::Index i = 0; i < scores.size(); ++i)
        if (std::isnan(scores.data()[i]))
          QCOMPARE(actual.scores.data()[i], -std::numeric_limits<float>::infinity());
      ATTNSCOPE_COMPARE_MATRIX(actual.weights, to_matrix(head["weights"]), kTorchTolerance, 1e-4,
                               label + "weights");
      QCOMPARE(actual.dropout_weights.has_value(), !head["dropout_weights"].isNull());
      if (actual.dropout_weights)
        ATTNSCOPE_COMPARE_MATRIX(*actual.dropout_weights, to_matrix(head["dropout_weights"]), kTorchTolerance,
                                 1e-4, label + "dropout weights");
      const Matrix context = to_matrix(head["context"]);
      ATTNSCOPE_COMPARE_MATRIX(actual.context, context, kTorchTolerance, floor_of(context),
                               label + "context");
    }
    const Matrix output = to_matrix(expected["output"]);
    ATTNSCOPE_COMPARE_MATRIX(result.output, output, kTorchTolerance,
                             std::max(1e-6, 1e-2 * double(output.cwiseAbs().maxCoeff())), "output");
  }
};

QTEST_GUILESS_MAIN(TestMechanisms)
#include "test_mechanisms.moc"
