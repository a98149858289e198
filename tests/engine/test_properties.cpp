// Properties every result must have, whatever the configuration, and every configuration error.

#include <QScopeGuard>
#include <QTemporaryDir>
#include <QTest>
#include <cmath>
#include <limits>
#include <random>
#include <span>
#include <tuple>

#include "../support/test_support.hpp"
#include "attnscope/attention.hpp"
#include "attnscope/backend.hpp"
#include "attnscope/embeddings.hpp"
#include "attnscope/error.hpp"
#include "attnscope/torch_random.hpp"

using namespace attnscope;

namespace {

Matrix random_input(int n, int d_in, unsigned seed) {
  std::mt19937 engine(seed);
  std::normal_distribution<float> normal;
  Matrix input(n, d_in);
  for (Eigen::Index i = 0; i < input.size(); ++i) input.data()[i] = normal(engine);
  return input;
}

AttentionConfig multihead(int heads, int d_out, const char* mask, double dropout = 0.0) {
  AttentionConfig config;
  config.mechanism = Mechanism::multihead;
  config.heads = heads;
  config.d_out = d_out;
  config.mask = MaskSpec::parse(mask);
  config.dropout = dropout;
  return config;
}

// The edit tests' rows: with every head's scores kept, and with its weights only.
void add_keep_scores_rows() {
  QTest::addColumn<bool>("keepScores");
  QTest::newRow("scores kept") << true;
  QTest::newRow("weights only") << false;
}

// What the edit tests compute: three heads over 64 inputs, their parameters, and four kinds of mask.
struct EditSetup {
  AttentionConfig config;
  ModuleParameters parameters;
  std::vector<MaskSpec> masks{MaskSpec::parse("none"), MaskSpec::parse("causal"), MaskSpec::parse("window:3"),
                              MaskSpec::parse("prefix:3")};
};

EditSetup edit_setup(bool keep_scores) {
  EditSetup setup;
  setup.config = multihead(3, 96, "none");
  setup.config.keep_scores = keep_scores;
  TorchGenerator generator;
  setup.parameters = draw_parameters(setup.config, 64, generator);
  return setup;
}

// Each mask's result of `input` from a backend that has seen no other text.
std::vector<AttentionResult> fresh_results(const EditSetup& setup, const Matrix& input) {
  std::vector<AttentionResult> fresh(setup.masks.size());
  const auto backend = make_backend(Device::cpu);
  compute_attention_masks(setup.config, input, setup.parameters, setup.masks, *backend, CancelToken(),
                          [&](std::size_t m, AttentionResult result) { fresh[m] = std::move(result); });
  return fresh;
}

// Each mask's output and every head's scores, weights and context, bit for bit.
void compare_exactly(const std::vector<AttentionResult>& edited, const std::vector<AttentionResult>& fresh) {
  QCOMPARE(edited.size(), fresh.size());
  for (std::size_t m = 0; m < fresh.size(); ++m) {
    ATTNSCOPE_COMPARE_EXACT(edited[m].output, fresh[m].output, "edited[m].output");
    for (std::size_t h = 0; h < fresh[m].heads.size(); ++h) {
      ATTNSCOPE_COMPARE_EXACT(edited[m].heads[h].scores, fresh[m].heads[h].scores,
                              "edited[m].heads[h].scores");
      ATTNSCOPE_COMPARE_EXACT(edited[m].heads[h].weights, fresh[m].heads[h].weights,
                              "edited[m].heads[h].weights");
      ATTNSCOPE_COMPARE_EXACT(edited[m].heads[h].context, fresh[m].heads[h].context,
                              "edited[m].heads[h].context");
    }
  }
}

void expect_error(const AttentionConfig& config, const Matrix& input, const QString& message) {
  try {
    compute_attention(config, input);
    QFAIL("no error");
  } catch (const Error& error) {
    QVERIFY2(QString(error.what()).contains(message), error.what());
  }
}

// A mask with hidden cells between visible ones, inside the softmax's rows (the others' hidden cells lie
// at a row's ends).
QString write_checkerboard_mask(const QTemporaryDir& directory) {
  const QString path = directory.filePath("checkerboard.csv");
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly)) qFatal("cannot write %s", qPrintable(path));
  for (int query = 0; query < 9; ++query) {
    QStringList row;
    for (int key = 0; key < 9; ++key) row << ((query + key) % 2 == 0 ? "0" : "1");
    file.write(row.join(',').toUtf8() + '\n');
  }
  return path;
}

}  // namespace

class TestProperties : public QObject {
  Q_OBJECT
  QTemporaryDir m_files;

 private slots:
  void rowsSumToOneAndMaskedCellsAreZero_data() {
    QTest::addColumn<QString>("mechanism");
    QTest::addColumn<QString>("mask");
    for (const auto mechanism : mechanism_names())
      for (const QString& mask : {QString("none"), QString("causal"), QString("window:2"),
                                  QString("prefix:3"), "file:" + write_checkerboard_mask(m_files)}) {
        const QString name = QString::fromUtf8(mechanism.data(), int(mechanism.size()));
        QTest::newRow(qPrintable(name + ' ' + mask.left(mask.startsWith("file:") ? 4 : mask.size())))
            << name << mask;
      }
  }
  void rowsSumToOneAndMaskedCellsAreZero() {
    QFETCH(QString, mechanism);
    QFETCH(QString, mask);
    AttentionConfig config;
    config.mechanism = parse_mechanism(mechanism.toStdString());
    config.mask = MaskSpec::parse(mask.toStdString());
    config.heads = 3;
    config.d_out = 6;
    const AttentionResult result = compute_attention(config, random_input(9, 5, 1));
    QVERIFY(result.empty_rows.empty());
    for (const HeadResult& head : result.heads)
      for (Eigen::Index i = 0; i < 9; ++i) {
        QVERIFY(std::abs(head.weights.row(i).sum() - 1.0f) < 1e-5f);
        for (Eigen::Index j = 0; j < 9; ++j) {
          if (result.mask(i, j))  // exactly, as PyTorch's (QCOMPARE's fuzzy compare takes 3e-39 for 0)
            QVERIFY2(head.weights(i, j) == 0.0f, qPrintable(QString::number(head.weights(i, j))));
          else
            QVERIFY(head.weights(i, j) > 0.0f);
        }
      }
  }

  // Past one row block (64 queries) and its sub-blocks, with sizes that divide into neither: the blocked,
  // threaded step against the formula evaluated directly in double from the same Q, K and V.
  void blockedStepMatchesTheFormula_data() {
    QTest::addColumn<QString>("mask");
    QTest::addColumn<int>("dOut");  // 2 heads: head_dim 16 (divisor 4, a power of two) or 12 (divisor √12)
    QTest::addColumn<bool>("keepScores");
    QTest::addColumn<double>("dropout");
    QTest::addColumn<bool>("sum");
    for (const char* mask : {"none", "causal", "window:20", "window:90", "prefix:70", "file"})
      for (const int d_out : {32, 24})
        QTest::newRow(qPrintable(QString("%1 d_out %2").arg(mask).arg(d_out)))
            << QString(mask) << d_out << true << 0.0 << false;
    QTest::newRow("causal lean") << "causal" << 32 << false << 0.0 << false;
    QTest::newRow("causal dropout") << "causal" << 24 << true << 0.3 << false;
    QTest::newRow("file lean dropout") << "file" << 32 << false << 0.2 << false;
    QTest::newRow("causal sum") << "causal" << 32 << true << 0.0 << true;
  }
  void blockedStepMatchesTheFormula() {
    QFETCH(QString, mask);
    QFETCH(int, dOut);
    QFETCH(bool, keepScores);
    QFETCH(double, dropout);
    QFETCH(bool, sum);
    constexpr int n = 150;
    QTemporaryDir directory;
    AttentionConfig config = multihead(2, dOut, "none", dropout);
    config.keep_scores = keepScores;
    if (sum) {  // Q = K = V = the input, all positive: positive scores
      config.mechanism = Mechanism::simplified;
      config.normalization = Normalization::sum;
    }
    if (mask == "file") {  // scattered hidden keys, some rows all hidden, some all visible
      std::mt19937 engine(11);
      std::bernoulli_distribution hidden(0.4);
      QFile file(directory.filePath("mask.csv"));
      QVERIFY(file.open(QIODevice::WriteOnly));
      for (int i = 0; i < n; ++i) {
        QStringList cells;
        for (int j = 0; j < n; ++j) cells << ((i % 37 == 5) || (i % 41 != 3 && hidden(engine)) ? "1" : "0");
        file.write((cells.join(',') + "\n").toUtf8());
      }
      file.close();
      config.mask = MaskSpec{MaskKind::file, 0, file.fileName().toStdString()};
    } else {
      config.mask = MaskSpec::parse(mask.toStdString());
    }
    Matrix input = random_input(n, 8, 12);
    if (sum) input = input.cwiseAbs();
    const AttentionResult result = compute_attention(config, input);
    for (const HeadResult& head : result.heads) {
      using MatrixD = Eigen::MatrixXd;
      const MatrixD q = head.queries.cast<double>(), k = head.keys.cast<double>(),
                    v = head.values.cast<double>();
      const MatrixD raw = q * k.transpose();
      MatrixD weights = MatrixD::Zero(n, n);
      for (Eigen::Index i = 0; i < n; ++i) {
        double top = -std::numeric_limits<double>::infinity(), total = 0.0;
        for (Eigen::Index j = 0; j < n; ++j)
          if (!result.mask(i, j)) top = std::max(top, raw(i, j) * head.scale);
        for (Eigen::Index j = 0; j < n; ++j)
          if (!result.mask(i, j)) {
            weights(i, j) = sum ? raw(i, j) * head.scale : std::exp(raw(i, j) * head.scale - top);
            total += weights(i, j);
          }
        if (total > 0.0) weights.row(i) /= total;
      }
      if (keepScores) {
        QCOMPARE(head.scores.rows(), Eigen::Index{n});
        for (Eigen::Index i = 0; i < n; ++i)
          for (Eigen::Index j = 0; j < n; ++j)
            if (result.mask(i, j))
              QCOMPARE(head.scores(i, j), -std::numeric_limits<float>::infinity());
            else
              QVERIFY2(std::abs(head.scores(i, j) - raw(i, j)) <= 1e-5 * (1.0 + std::abs(raw(i, j))),
                       qPrintable(QString("score (%1, %2)").arg(i).arg(j)));
      } else {
        QCOMPARE(head.scores.size(), Eigen::Index{0});
      }
      for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < n; ++j) {
          if (result.mask(i, j)) QCOMPARE(head.weights(i, j), 0.0f);
          QVERIFY2(std::abs(head.weights(i, j) - weights(i, j)) <= 1e-6,
                   qPrintable(QString("weight (%1, %2)").arg(i).arg(j)));
        }
      const MatrixD applied = head.dropout_weights ? head.dropout_weights->cast<double>() : weights;
      QCOMPARE(head.dropout_weights.has_value(), dropout > 0.0);
      const MatrixD context = applied * v;
      const double error = (head.context.cast<double>() - context).cwiseAbs().maxCoeff();
      QVERIFY2(error <= 1e-5 * std::max(1.0, v.cwiseAbs().maxCoeff()), qPrintable(QString::number(error)));
    }
  }

  void dropoutScalesKeptCellsAndZeroesTheRest() {
    const AttentionResult result = compute_attention(multihead(2, 4, "causal", 0.25), random_input(12, 3, 2));
    for (const HeadResult& head : result.heads) {
      QVERIFY(head.dropout_weights);
      int kept = 0, dropped = 0;
      for (Eigen::Index i = 0; i < head.weights.size(); ++i) {
        const float after = head.dropout_weights->data()[i];
        if (after == 0.0f)
          ++dropped;
        else {
          ++kept;
          QCOMPARE(after, head.weights.data()[i] * (1.0f / 0.75f));
        }
      }
      QVERIFY(kept > 0 && dropped > 0);
    }
  }

  // Seeded embeddings are nn.Embedding(V, d_in) drawn after torch.manual_seed(seed), whatever was asked
  // before: the tables a viewer keeps between keystrokes (the last few shapes) change no number. Texts whose
  // vocabularies alternate, grow past what is kept, change seed and width, one table too large to keep.
  void seededEmbeddingsAreTheTableDrawnForTheirShape() {
    const auto words = [](int distinct, int count, const char* prefix) {
      std::vector<std::string> tokens;
      for (int i = 0; i < count; ++i) tokens.push_back(prefix + std::to_string(i % distinct));
      return tokens;
    };
    const auto expected = [](const std::vector<std::string>& tokens, int distinct, int dIn,
                             std::uint64_t seed) {
      TorchGenerator generator(seed);
      const Matrix table = generator.embedding(distinct, dIn);
      Matrix rows(static_cast<Eigen::Index>(tokens.size()), dIn);
      for (std::size_t i = 0; i < tokens.size(); ++i)
        rows.row(static_cast<Eigen::Index>(i)) = table.row(static_cast<Eigen::Index>(i) % distinct);
      return rows;
    };
    struct Ask {
      int distinct, count, dIn;
      std::uint64_t seed;
      const char* prefix;
    };
    const std::vector<Ask> asks{{5, 12, 8, 123, "a"},     {6, 12, 8, 123, "a"},  {5, 12, 8, 123, "b"},
                                {6, 13, 8, 123, "b"},     {5, 7, 8, 7, "a"},     {5, 9, 16, 123, "a"},
                                {9, 9, 8, 123, "a"},      {10, 10, 8, 123, "a"}, {11, 11, 8, 123, "a"},
                                {5, 12, 8, 123, "c"},     {5, 12, 8, 123, "a"},  {6000, 6001, 768, 1, "d"},
                                {6000, 6000, 768, 1, "e"}};
    for (const Ask& ask : asks) {
      const std::vector<std::string> tokens = words(ask.distinct, ask.count, ask.prefix);
      ATTNSCOPE_COMPARE_EXACT(seeded_embeddings(tokens, ask.dIn, ask.seed),
                              expected(tokens, ask.distinct, ask.dIn, ask.seed), "seeded_embeddings");
    }
  }

  void sameInputsGiveBitIdenticalResults() {
    const AttentionConfig config = multihead(4, 8, "window:3", 0.1);
    const Matrix input = random_input(40, 6, 3);
    const AttentionResult first = compute_attention(config, input);
    const AttentionResult second = compute_attention(config, input);
    ATTNSCOPE_COMPARE_EXACT(first.output, second.output, "first.output");
    for (std::size_t h = 0; h < first.heads.size(); ++h) {
      ATTNSCOPE_COMPARE_EXACT(first.heads[h].weights, second.heads[h].weights, "first.heads[h].weights");
      ATTNSCOPE_COMPARE_EXACT(*first.heads[h].dropout_weights, *second.heads[h].dropout_weights,
                              "dropout weights");
      ATTNSCOPE_COMPARE_EXACT(first.heads[h].context, second.heads[h].context, "first.heads[h].context");
    }
  }

  void parametersDrawnOnceGiveTheSameResult() {
    const auto backend = make_backend(Device::cpu);
    const CancelToken never;
    for (const Mechanism mechanism :
         {Mechanism::self_attention_v1, Mechanism::causal, Mechanism::multihead}) {
      AttentionConfig config = multihead(2, 8, "causal");
      config.mechanism = mechanism;
      config.seed = 7;
      TorchGenerator generator;
      const ModuleParameters parameters = draw_parameters(config, 6, generator);
      for (const int tokens : {1, 9, 40}) {  // one draw serves every text
        const Matrix input = random_input(tokens, 6, static_cast<unsigned>(tokens));
        const AttentionResult drawn = compute_attention(config, input);
        const AttentionResult reused = compute_attention(config, input, parameters, *backend, never);
        ATTNSCOPE_COMPARE_EXACT(reused.output, drawn.output, "reused.output");
        QCOMPARE(reused.heads.size(), drawn.heads.size());
        for (std::size_t h = 0; h < drawn.heads.size(); ++h)
          ATTNSCOPE_COMPARE_EXACT(reused.heads[h].weights, drawn.heads[h].weights, "reused.heads[h].weights");
      }
    }
    // Dropout continues the parameters' random stream, which drawn parameters no longer carry.
    const AttentionConfig dropout = multihead(2, 8, "causal", 0.5);
    TorchGenerator generator;
    const ModuleParameters parameters = draw_parameters(dropout, 6, generator);
    QVERIFY_THROWS_EXCEPTION(Error,
                             compute_attention(dropout, random_input(4, 6, 1), parameters, *backend, never));
    AttentionConfig limited = multihead(2, 8, "causal");
    limited.max_tokens = 3;
    QVERIFY_THROWS_EXCEPTION(Error,
                             compute_attention(limited, random_input(4, 6, 1), parameters, *backend, never));
  }

  // One projection for several masks gives each mask exactly what computing it alone gives, in order.
  void masksComputedTogetherEqualEachAlone() {
    const auto backend = make_backend(Device::cpu);
    const CancelToken never;
    const std::vector<MaskSpec> masks{MaskSpec::parse("none"), MaskSpec::parse("causal"),
                                      MaskSpec::parse("window:2"), MaskSpec::parse("prefix:3")};
    for (const Mechanism mechanism : {Mechanism::self_attention_v1, Mechanism::self_attention,
                                      Mechanism::multihead_wrapper, Mechanism::multihead}) {
      AttentionConfig config = multihead(2, 8, "causal");
      config.mechanism = mechanism;
      TorchGenerator generator;
      const ModuleParameters parameters = draw_parameters(config, 6, generator);
      const Matrix input = random_input(11, 6, 3);
      std::vector<std::size_t> order;
      compute_attention_masks(
          config, input, parameters, masks, *backend, never,
          [&](std::size_t index, AttentionResult together) {
            order.push_back(index);
            AttentionConfig alone = config;
            alone.mask = masks[index];
            const AttentionResult expected = compute_attention(alone, input, parameters, *backend, never);
            ATTNSCOPE_COMPARE_EXACT(together.output, expected.output, "together.output");
            ATTNSCOPE_COMPARE_EXACT(together.mask, expected.mask, "together.mask");
            QCOMPARE(together.heads.size(), expected.heads.size());
            for (std::size_t h = 0; h < expected.heads.size(); ++h) {
              ATTNSCOPE_COMPARE_EXACT(together.heads[h].scores, expected.heads[h].scores,
                                      "together.heads[h].scores");
              ATTNSCOPE_COMPARE_EXACT(together.heads[h].weights, expected.heads[h].weights,
                                      "together.heads[h].weights");
              ATTNSCOPE_COMPARE_EXACT(together.heads[h].context, expected.heads[h].context,
                                      "together.heads[h].context");
            }
          });
      QCOMPARE(order, (std::vector<std::size_t>{0, 1, 2, 3}));
    }
  }

  // Heads handed to each_heads as they are computed are the heads the result would carry, a group of as
  // many as there are threads at a time, each once, before their mask's result; letting go of their n × n
  // matrices there changes nothing else (contexts, output, the rows an edit copies).
  void headsHandedAsComputedEqualTheResultAndMayBeLetGo() {
    qputenv("ATTNSCOPE_THREADS", "2");
    const auto restoreThreads = qScopeGuard([] { qunsetenv("ATTNSCOPE_THREADS"); });
    AttentionConfig config = multihead(5, 40, "none");
    config.row_stats = true;
    TorchGenerator generator;
    const ModuleParameters parameters = draw_parameters(config, 16, generator);
    const std::vector<MaskSpec> masks{MaskSpec::parse("none"), MaskSpec::parse("causal"),
                                      MaskSpec::parse("window:2")};
    const CancelToken never;
    const auto computeAll = [&](Backend& backend, const Matrix& input,
                                const std::vector<const AttentionResult*>& earlier, const HeadSink& sink) {
      std::vector<AttentionResult> results(masks.size());
      compute_attention_masks(
          config, input, parameters, masks, backend, never,
          [&](std::size_t m, AttentionResult result) { results[m] = std::move(result); }, earlier, sink);
      return results;
    };
    const auto streamed = make_backend(Device::cpu), kept = make_backend(Device::cpu);
    Matrix text = random_input(150, 16, 5);  // three blocks of query rows
    std::vector<AttentionResult> earlierKept;
    for (int edit = 0; edit < 2; ++edit) {
      if (edit == 1) text(149, 3) += 0.25f;  // the last block changes; a causal row before it is copied
      const auto pointers = [](const std::vector<AttentionResult>& results) {
        std::vector<const AttentionResult*> out;
        for (const AttentionResult& result : results) out.push_back(&result);
        return out;
      };
      // Kept: the earlier results still hold their weights, so the edit may copy from them.
      const std::vector<AttentionResult> expected = computeAll(*kept, text, pointers(earlierKept), {});
      using Group = std::tuple<std::size_t, std::size_t, std::size_t>;  // mask, first head, heads
      std::vector<Group> groups;
      const std::vector<AttentionResult> handed = computeAll(
          *streamed, text, pointers(earlierKept),
          [&](std::size_t m, std::size_t first, std::span<HeadResult> heads, const MaskMatrix& mask) {
            groups.emplace_back(m, first, heads.size());
            ATTNSCOPE_COMPARE_EXACT(mask, expected[m].mask, "mask");
            for (std::size_t h = 0; h < heads.size(); ++h) {
              const HeadResult& want = expected[m].heads[first + h];
              ATTNSCOPE_COMPARE_EXACT(heads[h].weights, want.weights, "heads[h].weights");
              ATTNSCOPE_COMPARE_EXACT(heads[h].scores, want.scores, "heads[h].scores");
              QCOMPARE(heads[h].row_stats.size(), want.row_stats.size());
              heads[h].weights = Matrix();
              heads[h].scores = Matrix();
            }
          });
      std::vector<Group> everyHead;
      for (std::size_t m = 0; m < masks.size(); ++m)
        everyHead.insert(everyHead.end(), {Group{m, 0, 2}, Group{m, 2, 2}, Group{m, 4, 1}});
      QCOMPARE(groups, everyHead);
      for (std::size_t m = 0; m < masks.size(); ++m) {
        ATTNSCOPE_COMPARE_EXACT(handed[m].output, expected[m].output, "handed[m].output");
        QCOMPARE(handed[m].copied_rows, expected[m].copied_rows);
        for (std::size_t h = 0; h < expected[m].heads.size(); ++h) {
          QCOMPARE(handed[m].heads[h].weights.size(), Eigen::Index{0});
          ATTNSCOPE_COMPARE_EXACT(handed[m].heads[h].context, expected[m].heads[h].context,
                                  "handed[m].heads[h].context");
        }
      }
      earlierKept = expected;
    }
    QCOMPARE(earlierKept[1].copied_rows, Eigen::Index{128});  // the causal mask's first two blocks
    QCOMPARE(earlierKept[0].copied_rows, Eigen::Index{0});
  }

  // A backend reused across edits re-projects only the blocks of rows an edit changed, and gives the numbers
  // a fresh backend gives for the new text, bit for bit, whatever the edits before it.
  void editsReprojectOnlyTheChangedRowsWithFreshNumbers() {
    AttentionConfig config = multihead(3, 96, "causal");
    config.qkv_bias = true;
    TorchGenerator generator;
    const ModuleParameters parameters = draw_parameters(config, 64, generator);
    const auto reused = make_backend(Device::cpu);
    const CancelToken never;
    const auto compareWithFresh = [&](const Matrix& input, Eigen::Index expectedProjected) {
      const auto fresh = make_backend(Device::cpu);
      const AttentionResult expected = compute_attention(config, input, parameters, *fresh, never);
      const AttentionResult edited = compute_attention(config, input, parameters, *reused, never);
      QCOMPARE(expected.projected_rows, input.rows());
      QCOMPARE(edited.projected_rows, expectedProjected);
      ATTNSCOPE_COMPARE_EXACT(edited.output, expected.output, "edited.output");
      for (std::size_t h = 0; h < expected.heads.size(); ++h) {
        ATTNSCOPE_COMPARE_EXACT(edited.heads[h].queries, expected.heads[h].queries,
                                "edited.heads[h].queries");
        ATTNSCOPE_COMPARE_EXACT(edited.heads[h].keys, expected.heads[h].keys, "edited.heads[h].keys");
        ATTNSCOPE_COMPARE_EXACT(edited.heads[h].values, expected.heads[h].values, "edited.heads[h].values");
        ATTNSCOPE_COMPARE_EXACT(edited.heads[h].weights, expected.heads[h].weights,
                                "edited.heads[h].weights");
      }
    };
    Matrix text = random_input(300, 64, 11);  // blocks of 16 rows: [0, 16), …, [272, 288), [288, 300)
    compareWithFresh(text, 300);
    compareWithFresh(text, 0);  // the same text again
    text(299, 5) += 1.0f;       // the last token changes
    compareWithFresh(text, 12);
    text(130, 0) -= 1.0f;  // one in the middle
    compareWithFresh(text, 16);
    Matrix longer(301, 64);  // a token appended: the last block grows
    longer << text, random_input(1, 64, 12);
    compareWithFresh(longer, 13);
    compareWithFresh(text, 12);         // and taken away again
    const Matrix pasted = text * 2.0f;  // every token replaced, the length kept
    compareWithFresh(pasted, 300);
    compareWithFresh(text, 300);
    text(5, 1) += 1.0f;  // the blocks kept after those are still the fresh ones
    compareWithFresh(text, 16);

    // Parameters drawn anew (another seed) are not mistaken for the cached ones.
    AttentionConfig reseeded = config;
    reseeded.seed = 99;
    TorchGenerator other;
    const ModuleParameters redrawn = draw_parameters(reseeded, 64, other);
    const AttentionResult afterRedraw = compute_attention(reseeded, text, redrawn, *reused, never);
    QCOMPARE(afterRedraw.projected_rows, text.rows());
    ATTNSCOPE_COMPARE_EXACT(afterRedraw.output, compute_attention(reseeded, text).output,
                            "afterRedraw.output");
  }

  // A recycled result (the text two edits back, given up by the caller) lends its matrices to the new one,
  // and the rows the earlier result had copied from it are not written again; every edit still gives a fresh
  // computation's numbers, bit for bit, under every mask, whether or not the earlier result copied from the
  // recycled one.
  void recycledMatricesGiveFreshNumbers_data() { add_keep_scores_rows(); }
  void recycledMatricesGiveFreshNumbers() {
    QFETCH(bool, keepScores);
    const EditSetup setup = edit_setup(keepScores);
    const auto& [config, parameters, masks] = setup;
    const auto reused = make_backend(Device::cpu);
    const CancelToken never;
    std::vector<AttentionResult> previous, beforePrevious;
    const auto pointers = [](std::vector<AttentionResult>& results) {
      std::vector<AttentionResult*> out;
      for (AttentionResult& result : results) out.push_back(&result);
      return out;
    };
    // `recycle`: hand the results two edits back (or `instead`) to the computation; `taken`: whether their
    // matrices should be taken (the same length); `withEarlier`: hand the last results as the earlier ones.
    const auto edit = [&](const Matrix& input, bool recycle, bool taken, bool withEarlier = true,
                          std::vector<AttentionResult>* instead = nullptr) {
      std::vector<AttentionResult> edited(masks.size());
      std::vector<const AttentionResult*> earlier;
      if (withEarlier)
        for (const AttentionResult& result : previous) earlier.push_back(&result);
      std::vector<AttentionResult>& recycled = instead ? *instead : beforePrevious;
      compute_attention_masks(
          config, input, parameters, masks, *reused, never,
          [&](std::size_t m, AttentionResult result) { edited[m] = std::move(result); }, earlier, {},
          recycle ? pointers(recycled) : std::vector<AttentionResult*>{});
      compare_exactly(edited, fresh_results(setup, input));
      if (recycle)
        for (std::size_t m = 0; m < masks.size(); ++m)
          QCOMPARE(recycled[m].heads.front().weights.size() == 0, taken);
      beforePrevious = std::move(previous);
      previous = std::move(edited);
    };
    Matrix text = random_input(300, 64, 31);
    edit(text, false, false);
    edit(text, false, false);
    text(299, 2) += 0.5f;  // the last token, twice: the second edit's copied rows are the recycled ones'
    edit(text, true, true);
    text(299, 2) -= 0.25f;
    edit(text, true, true);
    text(140, 1) += 0.5f;  // one in the middle: causal rows [0, 128) are still the recycled ones' …
    edit(text, true, true);
    text(299, 3) += 0.5f;  // … and then [128, 256) are not: the earlier result computed them itself
    edit(text, true, true);
    text(2, 4) -= 0.5f;  // near the start: every causal and prefix row sees it
    edit(text, true, true);
    text(299, 0) += 0.5f;
    edit(text, true, true);
    Matrix longer(301, 64);  // a token appended: nothing of the length before is taken
    longer << text, random_input(1, 64, 32);
    edit(longer, true, false);
    edit(text, true, true);   // two edits back had this length …
    edit(text, true, false);  // … and then the longer one
    edit(text, true, true);
    text(100, 3) += 0.5f;  // computed without earlier results: it copied nothing from the ones two back
    edit(text, true, true, false);
    text(299, 1) += 0.5f;
    edit(text, true, true);
    // Results of another text, handed as the recycled ones: the earlier results' copied rows came from
    // elsewhere, so none of theirs may stand in for them.
    Matrix other = text;
    other(0, 0) += 1.0f;
    std::vector<AttentionResult> unrelated(masks.size());
    compute_attention_masks(config, other, parameters, masks, *make_backend(Device::cpu), never,
                            [&](std::size_t m, AttentionResult result) { unrelated[m] = std::move(result); });
    text(299, 2) += 0.5f;
    edit(text, true, true, true, &unrelated);
  }

  // Given the results of the text before an edit, the step copies the blocks of 64 query rows whose inputs
  // the edit left alone (a causal row before the edited token sees nothing of it) and gives, bit for bit, the
  // numbers of a fresh computation of the new text; out_proj's unchanged rows are copied the same way.
  void editsCopyTheRowsTheyLeaveAloneWithFreshNumbers_data() { add_keep_scores_rows(); }
  void editsCopyTheRowsTheyLeaveAloneWithFreshNumbers() {
    QFETCH(bool, keepScores);
    const EditSetup setup = edit_setup(keepScores);
    const auto& [config, parameters, masks] = setup;
    const auto reused = make_backend(Device::cpu);
    const CancelToken never;
    std::vector<AttentionResult> previous(masks.size());
    const auto pointersTo = [](const std::vector<AttentionResult>& results) {
      std::vector<const AttentionResult*> pointers;
      for (const AttentionResult& result : results) pointers.push_back(&result);
      return pointers;
    };
    using Copied = std::vector<Eigen::Index>;  // per mask: none, causal, window:3, prefix:3
    // Computes `input` with the previous results as the earlier ones, and checks it against a fresh backend's
    // computation without them, and each mask's copied rows.
    const auto edit = [&](const Matrix& input, const Copied& expected) -> void {
      std::vector<AttentionResult> edited(masks.size());
      compute_attention_masks(
          config, input, parameters, masks, *reused, never,
          [&](std::size_t m, AttentionResult result) { edited[m] = std::move(result); },
          pointersTo(previous));
      const std::vector<AttentionResult> fresh = fresh_results(setup, input);
      compare_exactly(edited, fresh);
      std::vector<Eigen::Index> copied;
      for (std::size_t m = 0; m < masks.size(); ++m) {
        QCOMPARE(fresh[m].copied_rows, Eigen::Index{0});
        copied.push_back(edited[m].copied_rows);
        // Its ranges: in order, apart, within the text, as many rows in all.
        Eigen::Index rows = 0, after = -1;
        for (const auto& [begin, end] : edited[m].copied_ranges) {
          QVERIFY(after < begin && begin < end && end <= input.rows());
          rows += end - begin;
          after = end;
        }
        QCOMPARE(rows, edited[m].copied_rows);
      }
      previous = std::move(edited);
      QCOMPARE(copied, expected);
    };
    Matrix text = random_input(300, 64, 21);  // blocks of 64 query rows; the last has 44
    edit(text, Copied{0, 0, 0, 0});           // nothing earlier
    edit(text, Copied{300, 300, 300, 300});
    text(299, 7) += 0.5f;  // the last token: only its block
    edit(text, Copied{0, 256, 256, 256});
    text(130, 0) -= 0.5f;  // block [128, 192); window blocks before and after it never see token 131
    edit(text, Copied{0, 128, 236, 128});
    using Ranges = std::vector<std::pair<Eigen::Index, Eigen::Index>>;
    QCOMPARE(previous[2].copied_ranges, (Ranges{{0, 128}, {192, 300}}));
    QCOMPARE(previous[1].copied_ranges, (Ranges{{0, 128}}));
    text(1, 3) += 0.25f;  // every causal row sees token 2, and so does every prefix row
    edit(text, Copied{0, 0, 236, 0});
    Matrix longer(301, 64);  // a token appended: the last block has another row
    longer << text, random_input(1, 64, 22);
    edit(longer, Copied{0, 256, 256, 256});
    edit(text, Copied{0, 256, 256, 256});  // and taken away again

    // Earlier results are copied only when they were computed the same way, and what is copied is right.
    const auto copiedWith = [&](const AttentionConfig& changed, const ModuleParameters& drawn,
                                std::vector<const AttentionResult*> earlier) {
      std::vector<Eigen::Index> copied;
      const auto backend = make_backend(Device::cpu);
      compute_attention_masks(
          changed, text, drawn, masks, *reused, never,
          [&](std::size_t m, AttentionResult result) {
            copied.push_back(result.copied_rows);
            AttentionConfig alone = changed;
            alone.mask = masks[m];
            const AttentionResult fresh = compute_attention(alone, text, drawn, *backend, never);
            ATTNSCOPE_COMPARE_EXACT(result.output, fresh.output, "result.output");
            for (std::size_t h = 0; h < fresh.heads.size(); ++h)
              ATTNSCOPE_COMPARE_EXACT(result.heads[h].weights, fresh.heads[h].weights,
                                      "result.heads[h].weights");
          },
          earlier);
      return copied;
    };
    const Copied none{0, 0, 0, 0};
    TorchGenerator again;  // the same numbers, drawn anew: not known to be the same
    QCOMPARE(copiedWith(config, draw_parameters(config, 64, again), pointersTo(previous)), none);
    AttentionConfig summed = config;
    summed.normalization = Normalization::sum;
    QCOMPARE(copiedWith(summed, parameters, pointersTo(previous)), none);
    // Another mask's result: only its rows that are this mask's rows too. A prefix:3 row from the third on
    // is a causal row, so every block but the first is the causal result's.
    std::vector<const AttentionResult*> shifted{&previous[1], &previous[0], &previous[0], &previous[1]};
    QCOMPARE(copiedWith(config, parameters, shifted), (Copied{0, 0, 0, 236}));
    std::vector<AttentionResult> elsewhere = previous;  // another device's numbers
    for (AttentionResult& result : elsewhere) result.device = "cuda";
    QCOMPARE(copiedWith(config, parameters, pointersTo(elsewhere)), none);
    std::vector<AttentionResult> letGo = previous;  // the weights were let go after drawing the maps
    for (AttentionResult& result : letGo)
      for (HeadResult& head : result.heads) head.weights = Matrix();
    QCOMPARE(copiedWith(config, parameters, pointersTo(letGo)), none);
    QCOMPARE(copiedWith(config, parameters, pointersTo(previous)), (Copied{300, 300, 300, 300}));

    // A backend's single-mask compute() takes the earlier result of its mask too.
    AttentionConfig causal = config;
    causal.mask = masks[1];
    AttentionProblem problem = make_problem(causal, text);  // the same numbers, drawn anew
    problem.earlier = {&previous[1]};
    const AttentionResult unaided = reused->compute(problem, never);
    QCOMPARE(unaided.copied_rows, Eigen::Index{0});
    problem.parameters_id = previous[1].parameters_id;
    const AttentionResult aided = reused->compute(problem, never);
    QCOMPARE(aided.copied_rows, Eigen::Index{300});
    for (std::size_t h = 0; h < aided.heads.size(); ++h)
      ATTNSCOPE_COMPARE_EXACT(aided.heads[h].weights, unaided.heads[h].weights, "aided.heads[h].weights");
  }

  // The same problem gives the same bits wherever its rows sit in memory: sum normalisation's sums, small
  // differences of large scores, once followed the alignment of the scratch rows they were summed in.
  void sumNormalizationIsReproducible() {
    AttentionConfig config = multihead(3, 96, "causal");
    config.normalization = Normalization::sum;
    config.keep_scores = false;
    TorchGenerator generator;
    const ModuleParameters parameters = draw_parameters(config, 64, generator);
    const Matrix text = random_input(300, 64, 21);
    const CancelToken never;
    const auto first = make_backend(Device::cpu);
    const AttentionResult expected = compute_attention(config, text, parameters, *first, never);
    for (int attempt = 0; attempt < 4; ++attempt) {
      std::vector<float> shift(static_cast<std::size_t>(attempt * 5 + 1));  // moves later allocations
      const auto backend = make_backend(Device::cpu);
      const AttentionResult again = compute_attention(config, text, parameters, *backend, never);
      ATTNSCOPE_COMPARE_EXACT(again.output, expected.output, "again.output");
      for (std::size_t h = 0; h < expected.heads.size(); ++h)
        ATTNSCOPE_COMPARE_EXACT(again.heads[h].weights, expected.heads[h].weights, "again.heads[h].weights");
    }
  }

  void masksComputedTogetherRefuseWhatEachAloneRefuses() {
    const auto backend = make_backend(Device::cpu);
    const CancelToken never;
    const auto nothingExpected = [](std::size_t, AttentionResult) { QFAIL("no mask should be computed"); };
    TorchGenerator generator;
    const AttentionConfig config = multihead(2, 8, "causal");
    const ModuleParameters parameters = draw_parameters(config, 6, generator);
    // A bad mask anywhere in the list is reported before any mask is computed.
    QVERIFY_THROWS_EXCEPTION(
        Error, compute_attention_masks(
                   config, random_input(4, 6, 1), parameters,
                   {MaskSpec::parse("none"), MaskSpec{MaskKind::file, 0, "/nonexistent/mask.csv"}}, *backend,
                   never, nothingExpected));
    AttentionConfig limited = config;
    limited.max_tokens = 3;
    QVERIFY_THROWS_EXCEPTION(
        Error, compute_attention_masks(limited, random_input(4, 6, 1), parameters, {MaskSpec::parse("none")},
                                       *backend, never, nothingExpected));
    const AttentionConfig dropout = multihead(2, 8, "causal", 0.5);
    QVERIFY_THROWS_EXCEPTION(
        Error, compute_attention_masks(dropout, random_input(4, 6, 1), parameters, {MaskSpec::parse("none")},
                                       *backend, never, nothingExpected));
    // A cancelled computation ends with Cancelled, and the caller's own exception ends it too.
    CancelToken cancelled;
    cancelled.cancel();
    QVERIFY_THROWS_EXCEPTION(
        Cancelled, compute_attention_masks(config, random_input(4, 6, 1), parameters,
                                           {MaskSpec::parse("none")}, *backend, cancelled, nothingExpected));
    int calls = 0;
    QVERIFY_THROWS_EXCEPTION(std::logic_error,
                             compute_attention_masks(config, random_input(4, 6, 1), parameters,
                                                     {MaskSpec::parse("none"), MaskSpec::parse("causal")},
                                                     *backend, never, [&](std::size_t, AttentionResult) {
                                                       ++calls;
                                                       throw std::logic_error("the caller stops");
                                                     }));
    QCOMPARE(calls, 1);
  }

  void queryWithEveryKeyMaskedIsZeroAndFlagged() {
    QTemporaryDir directory;
    QFile file(directory.filePath("mask.csv"));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("0,1,1\n1,1,1\n0,0,0\n");
    file.close();
    AttentionConfig config = multihead(1, 2, "none");
    config.mask = MaskSpec{MaskKind::file, 0, file.fileName().toStdString()};
    const AttentionResult result = compute_attention(config, random_input(3, 2, 4));
    QCOMPARE(result.empty_rows, std::vector<Eigen::Index>{1});
    QCOMPARE(Matrix(result.heads[0].weights.row(1)), Matrix::Zero(1, 3).eval());
    QCOMPARE(Matrix(result.heads[0].context.row(1)), Matrix::Zero(1, 2).eval());
    QVERIFY(result.output.allFinite());
  }

  void simplifiedIsTheBookFormula() {
    AttentionConfig config;
    config.mechanism = Mechanism::simplified;
    const Matrix x = book_preset().embeddings;
    const AttentionResult result = compute_attention(config, x);
    ATTNSCOPE_COMPARE_EXACT(result.heads[0].queries, x, "result.heads[0].queries");
    ATTNSCOPE_COMPARE_EXACT(result.heads[0].keys, x, "result.heads[0].keys");
    ATTNSCOPE_COMPARE_EXACT(result.heads[0].values, x, "result.heads[0].values");
    QCOMPARE(result.heads[0].scale, 1.0f);
  }

  void cancelledComputationThrows() {
    CancelToken token;
    token.cancel();
    const auto backend = make_backend(Device::cpu);
    QVERIFY_THROWS_EXCEPTION(
        Cancelled, compute_attention(multihead(2, 4, "causal"), random_input(5, 3, 5), *backend, token));
  }

  void configurationErrors_data() {
    QTest::addColumn<QString>("mechanism");
    QTest::addColumn<int>("heads");
    QTest::addColumn<int>("dOut");
    QTest::addColumn<double>("dropout");
    QTest::addColumn<QString>("message");
    QTest::newRow("heads not dividing") << "multihead" << 3 << 4 << 0.0 << "must divide d_out";
    QTest::newRow("zero heads") << "multihead" << 0 << 4 << 0.0 << "heads must be at least 1";
    QTest::newRow("negative heads") << "multihead-wrapper" << -2 << 4 << 0.0 << "heads must be at least 1";
    QTest::newRow("negative d_out") << "causal" << 1 << -1 << 0.0 << "d_out must be at least 1";
    QTest::newRow("dropout 1") << "causal" << 1 << 2 << 1.0 << "dropout must be in [0, 1)";
    QTest::newRow("dropout negative") << "causal" << 1 << 2 << -0.1 << "dropout must be in [0, 1)";
    QTest::newRow("dropout NaN") << "causal" << 1 << 2 << std::nan("") << "dropout must be in [0, 1)";
    QTest::newRow("dropout without dropout layer") << "self-attention" << 1 << 2 << 0.5 << "has no dropout";
  }
  void configurationErrors() {
    QFETCH(QString, mechanism);
    QFETCH(int, heads);
    QFETCH(int, dOut);
    QFETCH(double, dropout);
    QFETCH(QString, message);
    AttentionConfig config;
    config.mechanism = parse_mechanism(mechanism.toStdString());
    config.heads = heads;
    config.d_out = dOut;
    config.dropout = dropout;
    expect_error(config, random_input(3, 2, 6), message);
  }

  void tokenLimitIsAClearError() {
    AttentionConfig config = multihead(2, 4, "causal");
    config.max_tokens = 8;
    expect_error(config, random_input(9, 3, 7), "9 tokens is more than the limit of 8");
    QCOMPARE(compute_attention(config, random_input(8, 3, 7)).heads.size(), std::size_t{2});
    QVERIFY(AttentionConfig{}.max_tokens >= 8192);  // the performance goal's size fits by default
  }

  void scoresCanBeLeftOut() {
    AttentionConfig config = multihead(2, 4, "causal");
    config.keep_scores = false;
    const AttentionResult lean = compute_attention(config, random_input(6, 3, 8));
    config.keep_scores = true;
    const AttentionResult full = compute_attention(config, random_input(6, 3, 8));
    QCOMPARE(lean.heads[0].scores.size(), Eigen::Index{0});
    ATTNSCOPE_COMPARE_EXACT(lean.heads[1].weights, full.heads[1].weights, "lean.heads[1].weights");
    ATTNSCOPE_COMPARE_EXACT(lean.output, full.output, "lean.output");
  }

  void emptyInputIsAnError() { expect_error(multihead(2, 4, "causal"), Matrix(0, 3), "no tokens"); }

  void sumNormalizationOfZeroScoresIsAnError() {
    AttentionConfig config;
    config.mechanism = Mechanism::simplified;
    config.normalization = Normalization::sum;
    Matrix input(2, 2);
    input << 1, 0, 0, 0;  // the second token's scores are all 0
    expect_error(config, input, "add up to 0");
  }

  void overflowIsAnErrorNotNaN() {
    AttentionConfig config;
    config.mechanism = Mechanism::simplified;
    Matrix input(2, 2);
    input << 3e38f, 3e38f, 1, 1;
    expect_error(config, input, "overflowed");
  }

  void unknownNamesAreErrors() {
    QVERIFY_THROWS_EXCEPTION(Error, parse_mechanism("transformer"));
    QVERIFY_THROWS_EXCEPTION(Error, parse_normalization("max"));
    QVERIFY_THROWS_EXCEPTION(Error, parse_device("tpu"));
  }

  void cudaUnavailableSaysWhy() {
    for (const BackendInfo& info : list_backends()) {
      QVERIFY(!info.description.empty());
      if (info.device == Device::cuda && !info.available) {
        try {
          make_backend(Device::cuda);
          QFAIL("no error");
        } catch (const Error& error) {
          QVERIFY2(QString(error.what()).contains("CUDA"), error.what());
        }
      }
    }
    QCOMPARE(make_backend(Device::cpu)->name(), std::string_view("cpu"));
  }
};

QTEST_GUILESS_MAIN(TestProperties)
#include "test_properties.moc"
