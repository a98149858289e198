// Compare against hand-computed cases and an independent oracle (tests/golden/compare.json, made by
// tests/golden/make_compare_golden.py from PyTorch's weights for both texts and NumPy's differences), and its
// errors.

#include <QTemporaryDir>
#include <QTest>
#include <cmath>
#include <limits>

#include "../support/gpt2_checkpoint.hpp"
#include "../support/test_support.hpp"
#include "attnscope/attention.hpp"
#include "attnscope/compare.hpp"
#include "attnscope/error.hpp"
#include "attnscope/request.hpp"
#include "attnscope/torch_random.hpp"

using namespace attnscope;
using namespace attnscope::testing;

Q_DECLARE_METATYPE(attnscope::Matrix)

namespace {

// The engine's weights against PyTorch's differ by about 1e-7; a difference of two, by twice that.
constexpr double kDiffTolerance = 1e-6;
// GPT-2's attention products are not PyTorch's (each row is computed on its own, so that an edit recomputes
// only its rows), and its weights agree with PyTorch's to about 1e-6: their differences, to 1e-5.
constexpr double kGpt2DiffTolerance = 1e-5;
constexpr double kTotalVariationTolerance = 1e-6;

Matrix matrix_of(std::initializer_list<std::initializer_list<float>> rows) {
  Matrix matrix(static_cast<Eigen::Index>(rows.size()), static_cast<Eigen::Index>(rows.begin()->size()));
  Eigen::Index i = 0;
  for (const auto& row : rows) {
    Eigen::Index j = 0;
    for (const float value : row) matrix(i, j++) = value;
    ++i;
  }
  return matrix;
}

AttentionResult result_of(std::initializer_list<Matrix> weights) {
  AttentionResult result;
  for (const Matrix& head_weights : weights) {
    HeadResult head;
    head.weights = head_weights;
    result.heads.push_back(std::move(head));
  }
  return result;
}

void check_against_oracle(const std::vector<HeadComparison>& actual, const QJsonArray& expected,
                          const QString& what, double diff_tolerance = kDiffTolerance) {
  QCOMPARE(qsizetype(actual.size()), expected.size());
  for (qsizetype h = 0; h < expected.size(); ++h) {
    const QJsonObject want = expected[h].toObject();
    const HeadComparison& got = actual[std::size_t(h)];
    const QString label = what + QStringLiteral(" layer %1 head %2").arg(got.layer).arg(got.head);
    QCOMPARE(got.layer, want["layer"].toInt(0));
    QCOMPARE(got.head, want["head"].toInt());
    ATTNSCOPE_COMPARE_DECIMALS(got.weights_diff, to_matrix(want["weights_diff"]), diff_tolerance, label);
    const double total_variation = want["total_variation"].toDouble();
    QVERIFY2(std::abs(got.total_variation - total_variation) <= kTotalVariationTolerance,
             qPrintable(label + QStringLiteral(": total_variation %1, expected %2")
                                    .arg(got.total_variation, 0, 'g', 12)
                                    .arg(total_variation, 0, 'g', 12)));
  }
}

std::string joined(const QJsonArray& tokens) {
  std::string text;
  for (const auto& token : tokens) text += (text.empty() ? "" : " ") + token.toString().toStdString();
  return text;
}

std::vector<int> ids_of(const QJsonArray& values) {
  std::vector<int> ids;
  for (const auto& value : values) ids.push_back(value.toInt());
  return ids;
}

}  // namespace

class TestCompare : public QObject {
  Q_OBJECT

  QJsonObject m_oracle;

 private slots:
  void initTestCase() { m_oracle = read_json_object(golden_path("compare.json")); }

  void identicalInputsDifferNowhere() {
    ComputeRequest request;
    request.text = "Your journey starts with one step";
    request.mechanism = Mechanism::multihead;
    request.d_out = 4;
    const PreparedInput input = prepare_input(request);
    const AttentionResult result = compute_attention(input.config, input.embeddings);
    const std::vector<HeadComparison> heads = compare_heads(result, result);
    QCOMPARE(heads.size(), std::size_t(2));
    for (const HeadComparison& head : heads) {
      QCOMPARE(head.total_variation, 0.0);
      ATTNSCOPE_COMPARE_EXACT(head.weights_diff, Matrix::Zero(6, 6), "weights_diff");
    }
  }

  void handComputedCases_data() {
    QTest::addColumn<Matrix>("a");
    QTest::addColumn<Matrix>("b");
    QTest::addColumn<Matrix>("diff");
    QTest::addColumn<double>("totalVariation");
    // Row 0 moves all its weight: ½(1 + 1) = 1; row 1 is equal: 0. Mean 0.5.
    QTest::newRow("one row differs") << matrix_of({{1, 0}, {0, 1}}) << matrix_of({{0, 1}, {0, 1}})
                                     << matrix_of({{1, -1}, {0, 0}}) << 0.5;
    // m = 2: row 0 equal, row 1 ½(0.25 + 0.25); A's third row and column are left out. (0 + 0.25) / 2.
    QTest::newRow("A longer (causal)")
        << matrix_of({{1, 0, 0}, {0.5f, 0.5f, 0}, {0.25f, 0.25f, 0.5f}})
        << matrix_of({{1, 0}, {0.25f, 0.75f}}) << matrix_of({{0, 0}, {0.25f, -0.25f}}) << 0.125;
    // m = 2 over B's first two keys only: row 0 ½·0.25, row 1 ½(0.25 + 0.25). (0.125 + 0.25) / 2.
    QTest::newRow("B longer (no mask)")
        << matrix_of({{0.5f, 0.5f}, {0.25f, 0.75f}})
        << matrix_of({{0.5f, 0.25f, 0.25f}, {0.5f, 0.5f, 0}, {0.25f, 0.25f, 0.5f}})
        << matrix_of({{0, 0.25f}, {-0.25f, 0.25f}}) << 0.1875;
    // Row 0 is empty in both (every key hidden): 0, and it still counts. (0 + ½(0.5 + 0.5)) / 2.
    QTest::newRow("empty row in both") << matrix_of({{0, 0}, {0.5f, 0.5f}}) << matrix_of({{0, 0}, {1, 0}})
                                       << matrix_of({{0, 0}, {-0.5f, 0.5f}}) << 0.25;
    QTest::newRow("one token each") << matrix_of({{1}}) << matrix_of({{1}}) << matrix_of({{0}}) << 0.0;
    // Sum normalisation can give negative weights: row 0 ½(2 + 2) = 2, row 1 0. Mean 1.
    QTest::newRow("negative weights")
        << matrix_of({{2, -1}, {0, 1}}) << matrix_of({{0, 1}, {0, 1}}) << matrix_of({{2, -2}, {0, 0}}) << 1.0;
  }
  void handComputedCases() {
    QFETCH(Matrix, a);
    QFETCH(Matrix, b);
    QFETCH(Matrix, diff);
    QFETCH(double, totalVariation);
    const HeadComparison comparison = compare_weights(a, b);
    ATTNSCOPE_COMPARE_DECIMALS(comparison.weights_diff, diff, 0.0, "weights_diff");
    QCOMPARE(comparison.total_variation, totalVariation);
    // Swapping the inputs negates the difference and keeps the total variation.
    const HeadComparison swapped = compare_weights(b, a);
    ATTNSCOPE_COMPARE_DECIMALS(swapped.weights_diff, Matrix(-diff), 0.0, "swapped weights_diff");
    QCOMPARE(swapped.total_variation, totalVariation);
  }

  void headsAndLayersAreLabelled() {
    const Matrix one = matrix_of({{1, 0}, {0.5f, 0.5f}}), other = matrix_of({{1, 0}, {0, 1}});
    const std::vector<HeadComparison> heads =
        compare_heads(result_of({one, other}), result_of({other, one}), 3);
    QCOMPARE(heads.size(), std::size_t(2));
    QCOMPARE(heads[0].layer, 3);
    QCOMPARE(heads[0].head, 0);
    QCOMPARE(heads[1].layer, 3);
    QCOMPARE(heads[1].head, 1);
    QCOMPARE(heads[0].total_variation, 0.25);
    ATTNSCOPE_COMPARE_DECIMALS(heads[1].weights_diff, Matrix(-heads[0].weights_diff), 0.0, "head 1");

    Gpt2Result a, b;
    a.layers = {result_of({one, one}), result_of({one, other})};
    a.layer_indices = {0, 2};
    b.layers = {result_of({one, other}), result_of({one, one})};
    b.layer_indices = {0, 2};
    const std::vector<HeadComparison> layers = compare_layers(a, b);
    QCOMPARE(layers.size(), std::size_t(4));
    const std::vector<std::pair<int, int>> labels{{0, 0}, {0, 1}, {2, 0}, {2, 1}};
    const std::vector<double> total_variations{0.0, 0.25, 0.0, 0.25};
    for (std::size_t i = 0; i < layers.size(); ++i) {
      QCOMPARE(std::pair(layers[i].layer, layers[i].head), labels[i]);
      QCOMPARE(layers[i].total_variation, total_variations[i]);
    }
  }

  // Each text's own seeded table gives its words rows by first appearance, so "tired" in A and "wide" in B
  // (both the fifth word) would get the same vector and every difference would be 0. Compared with A, B's
  // words that A has keep A's rows and "wide" gets a row of a table drawn after A's.
  void aWordBothTextsHaveKeepsItsEmbedding() {
    ComputeRequest request;
    request.embedding_source = EmbeddingSource::seeded;
    request.d_in = 4;
    request.seed = 11;
    request.text = "the animal was too tired";
    const PreparedInput a = prepare_input(request);
    request.text = "the animal was too wide";
    const PreparedInput alone = prepare_input(request);
    QVERIFY(alone.embeddings == a.embeddings);  // why B must be compared with A
    request.compared_with = "the animal was too tired";
    const PreparedInput b = prepare_input(request);
    QVERIFY(b.embeddings.topRows(4) == a.embeddings.topRows(4));
    TorchGenerator generator(11);
    generator.embedding(5, 4);  // A's table: five distinct words
    QVERIFY(b.embeddings.row(4) == generator.embedding(1, 4).row(0));
    QVERIFY(b.embeddings.row(4) != a.embeddings.row(4));
    // So the attention of "wide" differs from that of "tired".
    const std::vector<HeadComparison> heads =
        compare_heads(compute_attention(a.config, a.embeddings), compute_attention(b.config, b.embeddings));
    QVERIFY(heads.front().total_variation > 0.0);
    // A file's rows are the file's: compared_with changes nothing there.
    QTemporaryDir directory;
    request.embedding_source = EmbeddingSource::file;
    request.embeddings_file =
        write_test_file(directory.path(), "e.csv", "1,0\n0,1\n1,1\n2,0\n0,2\n").toStdString();
    const PreparedInput file = prepare_input(request);
    QCOMPARE(file.embeddings(4, 1), 2.0f);
  }

  void badShapesThrow() {
    const Matrix square = matrix_of({{1, 0}, {0, 1}});
    const auto message = [](const std::function<void()>& action) { return error_of(action); };
    QCOMPARE(message([&] {
               compare_weights(matrix_of({{1, 0}}), square);
             }),
             std::string("compare: input A's weights are 1 × 2: expected one square n × n matrix per head, "
                         "n at least 1"));
    QCOMPARE(message([&] { compare_weights(square, Matrix()); }),
             std::string("compare: input B's weights are 0 × 0: expected one square n × n matrix per head, "
                         "n at least 1"));
    Matrix broken = square;
    broken(1, 0) = std::numeric_limits<float>::quiet_NaN();
    QCOMPARE(message([&] { compare_weights(square, broken); }),
             std::string("compare: input B's weights row 1 holds a NaN or an infinity"));
    broken(1, 0) = std::numeric_limits<float>::infinity();
    QCOMPARE(message([&] { compare_weights(broken, square); }),
             std::string("compare: input A's weights row 1 holds a NaN or an infinity"));
    QCOMPARE(
        message([&] {
          compare_heads(result_of({square, square}), result_of({square}));
        }),
        std::string("compare: input A has 2 heads but input B 1: both must come from the same settings"));
    Gpt2Result a, b;
    a.layers = {result_of({square})};
    a.layer_indices = {0};
    b.layers = {result_of({square})};
    b.layer_indices = {1};
    QCOMPARE(
        message([&] { compare_layers(a, b); }),
        std::string("compare: the two model runs kept different layers: both must run the same model and "
                    "layers"));
  }

  // Each oracle case through the engine as a front end runs it: A's request, then the same with B's text.
  void mechanismsMatchTheOracle() {
    const QJsonArray cases = m_oracle["mechanisms"].toArray();
    QVERIFY(cases.size() >= 7);
    QTemporaryDir directory;
    QVERIFY(directory.isValid());
    for (const auto& value : cases) {
      const QJsonObject oracle = value.toObject();
      const QString name = oracle["name"].toString();
      ComputeRequest request;
      request.embedding_source = EmbeddingSource::seeded;
      request.d_in = oracle["d_in"].toInt();
      request.embedding_seed = std::uint64_t(oracle["embedding_seed"].toInt());
      request.mechanism = parse_mechanism(oracle["mechanism"].toString().toStdString());
      request.d_out = oracle["d_out"].toInt();
      request.heads = oracle["n_heads"].toInt();
      request.qkv_bias = oracle["qkv_bias"].toBool();
      request.dropout = oracle["dropout"].toDouble();
      request.seed = std::uint64_t(oracle["seed"].toInt());
      if (!oracle["dropout_seed"].isNull())
        request.dropout_seed = std::uint64_t(oracle["dropout_seed"].toInt());
      const QString mask = oracle["mask"].toString();
      if (mask == "file") {
        QByteArray csv;
        for (const auto& row : oracle["mask_matrix"].toArray()) {
          QStringList cells;
          for (const auto& cell : row.toArray()) cells << QString::number(cell.toInt());
          csv += cells.join(',').toUtf8() + '\n';
        }
        request.masks = {
            MaskSpec::parse("file:" + write_test_file(directory.path(), name + ".csv", csv).toStdString())};
      } else {
        request.masks = {MaskSpec::parse(mask.toStdString())};
      }
      request.text = joined(oracle["a_tokens"].toArray());
      const PreparedInput a = prepare_input(request);
      request.compared_with = request.text;  // B's words that A has keep A's embeddings
      request.text = joined(oracle["b_tokens"].toArray());
      const PreparedInput b = prepare_input(request);
      QCOMPARE(std::min(a.tokens.size(), b.tokens.size()), std::size_t(oracle["aligned"].toInt()));
      const std::vector<HeadComparison> heads =
          compare_heads(compute_attention(a.config, a.embeddings), compute_attention(b.config, b.embeddings));
      check_against_oracle(heads, oracle["heads"].toArray(), name);
    }
  }

  void gpt2MatchesTheOracle() {
    const QJsonArray cases = m_oracle["gpt2"].toArray();
    QVERIFY(cases.size() >= 2);
    QTemporaryDir directory;
    QVERIFY(directory.isValid());
    for (const auto& value : cases) {
      const QJsonObject oracle = value.toObject();
      const QString name = oracle["name"].toString();
      const QJsonObject json = oracle["config"].toObject();
      const Gpt2Config config = gpt2_config_of(json);
      QVERIFY(json["n_inner"].isNull());
      const std::filesystem::path folder = directory.filePath(name).toStdString();
      write_gpt2_folder(folder, config,
                        draw_tensors(gpt2_tensor_rules(config), std::uint64_t(oracle["seed"].toInt()),
                                     oracle["dtype"].toString().toStdString()));
      const Gpt2Model model = Gpt2Model::open(folder);
      Gpt2RunOptions options;
      if (!oracle["extra_mask"].isNull())
        options.extra_mask = MaskSpec::parse(oracle["extra_mask"].toString().toStdString());
      const Gpt2Result a = model.run(ids_of(oracle["a_ids"].toArray()), options);
      const Gpt2Result b = model.run(ids_of(oracle["b_ids"].toArray()), options);
      check_against_oracle(compare_layers(a, b), oracle["heads"].toArray(), name, kGpt2DiffTolerance);
    }
  }
};

QTEST_GUILESS_MAIN(TestCompare)
#include "test_compare.moc"
