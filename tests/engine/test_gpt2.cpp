// GPT-2's forward pass against tests/golden/gpt2_tiny.json (tests/golden/make_gpt2_golden.py: GPT-2 written
// from its equations in PyTorch): the test draws the same weights with TorchGenerator, writes the
// checkpoint itself (F32, F16, BF16; names with and without "transformer."), opens it with Gpt2Model and
// compares every layer's per-head scores, weights and context, each layer's attention output and the final
// hidden state. Runs longer than 64 tokens (past the 64-row attention blocks and the 128-row projection
// blocks) hold their n × n scores and weights only at the rows "sampled_rows" lists. Then config.json and
// checkpoint errors, and what run() refuses.

#include <QJsonArray>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>
#include <algorithm>
#include <fstream>
#include <optional>
#include <thread>

#include "../support/gpt2_checkpoint.hpp"
#include "../support/test_support.hpp"
#include "attnscope/error.hpp"
#include "attnscope/gpt2.hpp"
#include "attnscope/head_stats.hpp"

using namespace attnscope;
using namespace attnscope::testing;

namespace {

// Relative error as test_support measures it: |actual − expected| / (|expected| + floor), the floor 1% of the
// matrix's largest magnitude: a cell near zero is a sum of terms of the matrix's size that cancel, and
// float32 (PyTorch's as well as ours) holds it only to about 10⁻⁷ of their size. 2e-4: a build without FMA
// (x86-64-v2), rounding each multiply and add apart, reaches 1.01e-4 on the 3-layer checkpoint's contexts,
// where an FMA build stays below 1e-4.
constexpr double kTolerance = 2e-4;
constexpr double kFloorFraction = 1e-2;

double floor_of(const Matrix& expected) {
  double largest = 0.0;
  for (Eigen::Index i = 0; i < expected.size(); ++i)
    if (!std::isnan(expected.data()[i])) largest = std::max(largest, double(std::abs(expected.data()[i])));
  return std::max(kFloorFraction * largest, 1e-30);
}

struct Worst {
  double weights = 0, context = 0, scores = 0, output = 0, final_hidden = 0;
};
Worst worst_overall;

std::filesystem::path path_of(const QTemporaryDir& directory) {
  return directory.path().toStdString();
}

// The rows `rows` of `matrix`, in that order.
Matrix rows_of(const Matrix& matrix, const std::vector<Eigen::Index>& rows) {
  Matrix selected(Eigen::Index(rows.size()), matrix.cols());
  for (std::size_t r = 0; r < rows.size(); ++r) selected.row(Eigen::Index(r)) = matrix.row(rows[r]);
  return selected;
}

// A run's rows of its n × n matrices: all of them, or "sampled_rows", which must be increasing, inside
// 0..n−1 and hold row 0, row n−1 and both sides of every 64-row edge.
std::vector<Eigen::Index> rows_of_run(const QJsonObject& run, Eigen::Index n) {
  std::vector<Eigen::Index> rows;
  if (!run.contains("sampled_rows")) {
    for (Eigen::Index i = 0; i < n; ++i) rows.push_back(i);
    return rows;
  }
  for (const auto& row : run["sampled_rows"].toArray()) rows.push_back(row.toInt());
  const auto has = [&](Eigen::Index row) { return std::find(rows.begin(), rows.end(), row) != rows.end(); };
  bool ok = std::is_sorted(rows.begin(), rows.end()) && !rows.empty() && rows.front() >= 0 &&
            rows.back() < n && has(0) && has(n - 1);
  for (Eigen::Index edge = 64; edge < n; edge += 64) ok = ok && has(edge - 1) && has(edge);
  if (!ok) qFatal("a run of %d tokens: sampled_rows miss a block edge", int(n));
  return rows;
}

}  // namespace

class TestGpt2 : public QObject {
  Q_OBJECT

 private slots:
  void matchesPyTorch_data() {
    QTest::addColumn<int>("index");
    const QJsonArray cases = read_json_object(golden_path("gpt2_tiny.json"))["cases"].toArray();
    QVERIFY(cases.size() >= 7);
    int longest = 0;
    for (int i = 0; i < cases.size(); ++i) {
      QTest::newRow(qPrintable(cases[i].toObject()["name"].toString())) << i;
      for (const auto& run : cases[i].toObject()["runs"].toArray())
        longest = std::max(longest, int(run.toObject()["ids"].toArray().size()));
    }
    QVERIFY(longest > 256);  // past the 128-row projection blocks and the model's own product (256 rows)
  }

  void matchesPyTorch() {
    QFETCH(int, index);
    const QJsonObject golden =
        read_json_object(golden_path("gpt2_tiny.json"))["cases"].toArray()[index].toObject();
    const Gpt2Config config = gpt2_config_of(golden["config"].toObject());
    const std::string dtype = golden["dtype"].toString().toStdString();

    // The weights, drawn as the script draws them; its first values prove the draws bit for bit.
    std::vector<TensorRule> rules;
    for (const auto& value : golden["tensors"].toArray()) {
      const QJsonObject tensor = value.toObject();
      TensorRule rule{tensor["name"].toString().toStdString(),
                      {},
                      float(tensor["scale"].toDouble()),
                      float(tensor["offset"].toDouble())};
      for (const auto& d : tensor["shape"].toArray()) rule.shape.push_back(std::uint64_t(d.toInt()));
      rules.push_back(std::move(rule));
    }
    std::map<std::string, std::vector<float>> stored;
    const auto tensors = draw_tensors(rules, std::uint64_t(golden["seed"].toInt()), dtype, "",
                                      golden["lm_head"].toBool(), &stored);
    for (const auto& value : golden["tensors"].toArray()) {
      const QJsonObject tensor = value.toObject();
      const auto& drawn = stored.at(tensor["name"].toString().toStdString());
      const QJsonArray first = tensor["first"].toArray();
      for (int i = 0; i < first.size(); ++i) QCOMPARE(drawn[std::size_t(i)], float(first[i].toDouble()));
    }

    QTemporaryDir directory;
    write_gpt2_folder(path_of(directory), config, tensors);
    const Gpt2Model model = Gpt2Model::open(path_of(directory));
    QCOMPARE(model.config().n_inner, config.n_inner);
    QCOMPARE(model.config().layer_norm_epsilon, config.layer_norm_epsilon);

    for (const auto& run_value : golden["runs"].toArray()) {
      const QJsonObject run = run_value.toObject();
      std::vector<int> ids;
      for (const auto& id : run["ids"].toArray()) ids.push_back(id.toInt());
      Gpt2RunOptions options;
      options.keep_scores = true;
      if (!run["extra_mask"].isNull())
        options.extra_mask = MaskSpec::parse(run["extra_mask"].toString().toStdString());
      const Gpt2Result result = model.run(ids, options);
      const std::vector<Eigen::Index> rows = rows_of_run(run, Eigen::Index(ids.size()));
      const QJsonArray layers = run["layers"].toArray();
      QCOMPARE(result.layers.size(), std::size_t(layers.size()));
      const QString where = QStringLiteral("%1 tokens").arg(ids.size());
      for (int l = 0; l < layers.size(); ++l) {
        QCOMPARE(result.layer_indices[std::size_t(l)], l);
        const AttentionResult& layer = result.layers[std::size_t(l)];
        const QJsonObject expected_layer = layers[l].toObject();
        const QJsonArray heads = expected_layer["heads"].toArray();
        QCOMPARE(layer.heads.size(), std::size_t(heads.size()));
        QCOMPARE(layer.device, std::string("cpu"));
        for (int h = 0; h < heads.size(); ++h) {
          const HeadResult& head = layer.heads[std::size_t(h)];
          const QJsonObject expected = heads[h].toObject();
          const QString what = QStringLiteral("%1, layer %2, head %3").arg(where).arg(l).arg(h);
          const Matrix weights = to_matrix(expected["weights"]);
          const Matrix context = to_matrix(expected["context"]);
          const Matrix scores = to_matrix(expected["scores"]);  // hidden cells NaN: skipped
          QCOMPARE(head.scale, 1.0f / std::sqrt(float(config.head_dim())));
          const auto check = [&](const Matrix& actual, const Matrix& want, double& worst,
                                 const QString& name) {
            const Comparison comparison = compare(actual, want, floor_of(want));
            worst = std::max(worst, comparison.worst);
            ATTNSCOPE_CHECK_COMPARISON(comparison, actual, want, kTolerance, what + " " + name);
          };
          const Matrix actual_weights = rows_of(head.weights, rows);
          check(actual_weights, weights, worst_overall.weights, "weights");
          check(head.context, context, worst_overall.context, "context");
          check(rows_of(head.scores, rows), scores, worst_overall.scores, "scores");
          for (Eigen::Index i = 0; i < weights.rows(); ++i)
            for (Eigen::Index j = 0; j < weights.cols(); ++j) {
              QCOMPARE(layer.mask(rows[std::size_t(i)], j) != 0, std::isnan(scores(i, j)));
              if (std::isnan(scores(i, j))) QCOMPARE(actual_weights(i, j), 0.0f);  // hidden keys: exactly 0
            }
        }
        const Matrix output = to_matrix(expected_layer["output"]);
        const Comparison comparison = compare(layer.output, output, floor_of(output));
        worst_overall.output = std::max(worst_overall.output, comparison.worst);
        ATTNSCOPE_CHECK_COMPARISON(comparison, layer.output, output, kTolerance,
                                   QStringLiteral("%1, layer %2 output").arg(where).arg(l));
      }
      const Matrix final_hidden = to_matrix(run["final_hidden"]);
      const Comparison comparison = compare(result.final_hidden, final_hidden, floor_of(final_hidden));
      worst_overall.final_hidden = std::max(worst_overall.final_hidden, comparison.worst);
      ATTNSCOPE_CHECK_COMPARISON(comparison, result.final_hidden, final_hidden, kTolerance,
                                 where + " final_hidden");
    }
  }

  void reportWorstErrors() {
    qInfo(
        "worst relative error against PyTorch: weights %.3g, context %.3g, scores %.3g, layer output %.3g, "
        "final_hidden %.3g",
        worst_overall.weights, worst_overall.context, worst_overall.scores, worst_overall.output,
        worst_overall.final_hidden);
  }

  void resultsDoNotDependOnThreadsOrSelection() {
    const QByteArray threads_before = qgetenv("ATTNSCOPE_THREADS");
    QTemporaryDir directory;
    const Gpt2Config config = write_small_gpt2(path_of(directory), 3, 4, 32, 320);
    const Gpt2Model model = Gpt2Model::open(path_of(directory));
    std::vector<int> ids;
    for (int i = 0; i < 300; ++i) ids.push_back((i * 37) % config.vocab_size);
    const Gpt2Result all = model.run(ids);
    QCOMPARE(all.layers.size(), std::size_t(3));
    QVERIFY(all.layers[0].heads[0].scores.size() == 0);  // keep_scores is off by default
    QVERIFY(all.final_hidden.allFinite());

    Gpt2RunOptions options;
    options.layers = {2, 0};
    const Gpt2Result some = model.run(ids, options);
    QCOMPARE(some.layer_indices, (std::vector<int>{0, 2}));
    ATTNSCOPE_COMPARE_EXACT(some.layers[1].heads[3].weights, all.layers[2].heads[3].weights,
                            "some.layers[1].heads[3].weights");
    ATTNSCOPE_COMPARE_EXACT(some.final_hidden, all.final_hidden, "some.final_hidden");

    // on_layer sees every layer, kept or not, in order: the attention a run keeping them all returns.
    std::vector<int> seen;
    std::vector<Matrix> seen_weights;
    Gpt2RunOptions watched;
    watched.layers = {1};
    watched.on_layer = [&](int layer, const AttentionResult& attention) {
      seen.push_back(layer);
      seen_weights.push_back(attention.heads[2].weights);
      ATTNSCOPE_COMPARE_EXACT(attention.mask, all.layers[0].mask, "attention.mask");
    };
    const Gpt2Result watched_result = model.run(ids, watched);
    QCOMPARE(seen, (std::vector<int>{0, 1, 2}));
    for (std::size_t layer = 0; layer < 3; ++layer)
      QCOMPARE(seen_weights[layer], all.layers[layer].heads[2].weights);
    QCOMPARE(watched_result.layer_indices, (std::vector<int>{1}));
    ATTNSCOPE_COMPARE_EXACT(watched_result.layers[0].heads[0].weights, all.layers[1].heads[0].weights,
                            "watched_result.layers[0].heads[0].weights");
    ATTNSCOPE_COMPARE_EXACT(watched_result.final_hidden, all.final_hidden, "watched_result.final_hidden");
    // An exception from on_layer ends the run.
    watched.on_layer = [](int layer, const AttentionResult&) {
      if (layer == 1) throw Cancelled();
    };
    QVERIFY_THROWS_EXCEPTION(Cancelled, model.run(ids, watched));

    // Several runs at once on one model.
    std::vector<Gpt2Result> parallel(3);
    {
      std::vector<std::jthread> threads;
      for (auto& result : parallel) threads.emplace_back([&] { result = model.run(ids); });
    }
    for (const auto& result : parallel)
      ATTNSCOPE_COMPARE_EXACT(result.final_hidden, all.final_hidden, "final hidden state");

    qputenv("ATTNSCOPE_THREADS", "1");
    const Gpt2Result one_thread = model.run(ids);
    qputenv("ATTNSCOPE_THREADS", "3");
    const Gpt2Result three_threads = model.run(ids);
    if (threads_before.isNull())
      qunsetenv("ATTNSCOPE_THREADS");
    else
      qputenv("ATTNSCOPE_THREADS", threads_before);
    for (const Gpt2Result* other : {&one_thread, &three_threads}) {
      const Comparison hidden = compare(other->final_hidden, all.final_hidden, floor_of(all.final_hidden));
      QVERIFY2(hidden.worst < kTolerance, qPrintable(QString::number(hidden.worst)));
      const Comparison weights =
          compare(other->layers[2].heads[1].weights, all.layers[2].heads[1].weights, 1e-3);
      QVERIFY2(weights.worst < kTolerance, qPrintable(QString::number(weights.worst)));
    }

    // A causal model's first rows do not depend on later tokens (cacheReusesUnchangedPositionsExactly checks
    // that they are the same bits).
    const std::vector<int> prefix(ids.begin(), ids.begin() + 70);
    const Gpt2Result shorter = model.run(prefix);
    const Comparison comparison =
        compare(shorter.final_hidden, Matrix(all.final_hidden.topRows(70)), floor_of(shorter.final_hidden));
    QVERIFY2(comparison.worst < kTolerance, qPrintable(QString::number(comparison.worst)));
    const Matrix& weights = shorter.layers[2].heads[1].weights;
    const Comparison prefix_weights =
        compare(weights, Matrix(all.layers[2].heads[1].weights.topLeftCorner(70, 70)), floor_of(weights));
    QVERIFY2(prefix_weights.worst < kTolerance, qPrintable(QString::number(prefix_weights.worst)));
  }

  // A sequence of edits, as an editor makes them, through one Gpt2Cache: each run must equal a fresh run bit
  // for bit and compute only from the first changed position. The second model's widths leave columns past
  // the last packet (the products' scalar tail) and a head size of 5; the third's heads are whole packets.
  void cacheReusesUnchangedPositionsExactly_data() {
    QTest::addColumn<int>("layers");
    QTest::addColumn<int>("heads");
    QTest::addColumn<int>("width");
    QTest::newRow("3 layers, 4 heads of 8") << 3 << 4 << 32;
    QTest::newRow("2 layers, 4 heads of 5") << 2 << 4 << 20;
    // Heads of whole packets (16 floats with AVX-512): the context product reads the values in place.
    QTest::newRow("2 layers, 2 heads of 16") << 2 << 2 << 32;
  }

  void cacheReusesUnchangedPositionsExactly() {
    QFETCH(int, layers);
    QFETCH(int, heads);
    QFETCH(int, width);
    QTemporaryDir directory;
    const Gpt2Config config = write_small_gpt2(path_of(directory), layers, heads, width, 400);
    const Gpt2Model model = Gpt2Model::open(path_of(directory));
    std::uint32_t state = 12345;
    const auto random_id = [&] {
      state = state * 1664525u + 1013904223u;
      return static_cast<int>((state >> 8) % static_cast<std::uint32_t>(config.vocab_size));
    };
    const auto random_ids = [&](int count) {
      std::vector<int> ids;
      for (int i = 0; i < count; ++i) ids.push_back(random_id());
      return ids;
    };

    Gpt2Cache cache;
    std::vector<int> ids = random_ids(150);
    std::optional<MaskSpec> extra;
    int shown = 1;
    std::vector<int> undo;
    // The last cached run's result: its kept layer's rows before an edit's block are copied from it.
    Gpt2Result last;
    // expected_reused: the first position whose token or mask row differs from the last run's.
    const auto check = [&](const char* what, int expected_reused) {
      Gpt2RunOptions fresh_options;
      fresh_options.layers = {shown};
      fresh_options.keep_scores = true;
      fresh_options.row_stats = true;
      fresh_options.extra_mask = extra;
      const Gpt2Result fresh = model.run(ids, fresh_options);
      Gpt2RunOptions options = fresh_options;
      options.cache = &cache;
      for (std::size_t i = 0; i < last.layers.size(); ++i)
        options.earlier_layers[last.layer_indices[i]] = &last.layers[i];
      last = model.run(ids, options);
      const Gpt2Result& reused = last;
      QVERIFY2(reused.reused_positions == expected_reused,
               qPrintable(QStringLiteral("%1: reused %2 positions, expected %3")
                              .arg(what)
                              .arg(reused.reused_positions)
                              .arg(expected_reused)));
      ATTNSCOPE_COMPARE_EXACT(reused.final_hidden, fresh.final_hidden,
                              QStringLiteral("%1: final_hidden").arg(what));
      const AttentionResult& a = reused.layers.front();
      const AttentionResult& b = fresh.layers.front();
      ATTNSCOPE_COMPARE_EXACT(a.output, b.output, QStringLiteral("%1: output").arg(what));
      ATTNSCOPE_COMPARE_EXACT(a.mask, b.mask, QStringLiteral("%1: mask").arg(what));
      for (std::size_t h = 0; h < a.heads.size(); ++h) {
        ATTNSCOPE_COMPARE_EXACT(a.heads[h].weights, b.heads[h].weights,
                                QStringLiteral("%1: weights").arg(what));
        ATTNSCOPE_COMPARE_EXACT(a.heads[h].scores, b.heads[h].scores, QStringLiteral("%1: scores").arg(what));
        ATTNSCOPE_COMPARE_EXACT(a.heads[h].context, b.heads[h].context,
                                QStringLiteral("%1: context").arg(what));
        ATTNSCOPE_COMPARE_EXACT(a.heads[h].queries, b.heads[h].queries,
                                QStringLiteral("%1: queries").arg(what));
        ATTNSCOPE_COMPARE_EXACT(a.heads[h].values, b.heads[h].values, QStringLiteral("%1: values").arg(what));
        QCOMPARE(a.heads[h].row_stats.size(), b.heads[h].row_stats.size());
        for (std::size_t i = 0; i < a.heads[h].row_stats.size(); ++i) {
          const HeadRowStats &x = a.heads[h].row_stats[i], &y = b.heads[h].row_stats[i];
          QVERIFY2(x.bits == y.bits && x.max_weight == y.max_weight && x.first_token == y.first_token &&
                       x.self == y.self && x.previous_token == y.previous_token && x.visible == y.visible,
                   qPrintable(QStringLiteral("%1: row_stats of row %2").arg(what).arg(i)));
        }
      }
    };
    const auto middle = [&] { return static_cast<std::ptrdiff_t>(ids.size() / 2); };

    check("first run", 0);
    check("the same ids again", 150);
    ids.push_back(random_id());
    check("type at the end", 150);
    ids.back() = random_id();
    check("replace the last token", 150);
    ids.pop_back();
    check("delete at the end", 150);
    ids[75] = random_id();
    check("replace in the middle", 75);
    ids.erase(ids.begin() + middle());
    check("delete in the middle", 75);
    ids.insert(ids.begin() + 10, random_id());
    check("insert near the start", 10);
    ids.front() = random_id();
    check("replace the first token", 0);
    ids.erase(ids.begin());
    check("delete the first token", 0);
    ids.insert(ids.begin(), random_id());
    check("insert at the start", 0);
    undo = ids;
    const std::vector<int> pasted =
        random_ids(130);  // past 256 rows, where Eigen's product used to take over
    ids.insert(ids.begin() + 100, pasted.begin(), pasted.end());
    check("paste in the middle", 100);
    ids = undo;
    check("undo the paste", 100);
    ids.insert(ids.end(), pasted.begin(), pasted.end());
    check("paste at the end", static_cast<int>(undo.size()));
    ids.resize(191);
    check("cut at the end", 191);
    ids.push_back(random_id());
    check("type at the end of whole blocks (no padding)", 191);
    shown = 0;
    check("another layer shown", static_cast<int>(ids.size()));
    extra = MaskSpec::parse("window:8");
    check("a window mask on top", 8);  // rows 0…7 see the same keys under window:8 as under causal alone
    ids.insert(ids.end() - 3, random_id());
    check("insert 3 tokens before the end under the window", static_cast<int>(ids.size()) - 4);
    extra.reset();
    check("the window taken away", 8);
    // A mask with gaps (rows that are not one run of visible keys): every fifth key back is hidden, and from
    // query 100 on the first 40 keys too, so that the rows an edit at 100 computes span other keys than
    // their whole block does.
    {
      std::ofstream csv(path_of(directory) / "gaps.csv");
      for (int i = 0; i < 400; ++i)
        for (int j = 0; j < 400; ++j)
          csv << ((j < i && (i - j) % 5 == 0) || (i >= 100 && j < 40) ? 1 : 0) << (j + 1 < 400 ? "," : "\n");
    }
    extra = MaskSpec::parse("file:" + (path_of(directory) / "gaps.csv").string());
    check("a mask with gaps on top", 5);
    ids[100] = random_id();
    check("replace a token under the mask with gaps", 100);
    extra.reset();
    check("the mask with gaps taken away", 5);

    // The kept layer's rows before the edit's block are the earlier result's, copied rather than computed:
    // a cell changed in it shows through; a copy of it, or a result of another text, is not taken.
    Gpt2RunOptions kept_options;
    kept_options.layers = {shown};
    kept_options.cache = &cache;
    const auto run_after = [&](const Gpt2Result& earlier) {
      kept_options.earlier_layers = {{shown, &earlier.layers.front()}};
      return model.run(ids, kept_options);
    };
    const auto cell = [](const Gpt2Result& result) -> float {
      return result.layers.front().heads[1].weights(3, 2);
    };
    Gpt2Result earlier = model.run(ids, kept_options);
    const float computed = cell(earlier);
    earlier.layers.front().heads[1].weights(3, 2) = computed + 0.25f;
    ids.push_back(random_id());
    const Gpt2Result edited = run_after(earlier);
    QCOMPARE(cell(edited), computed + 0.25f);
    const Gpt2Result copy = edited;
    ids.push_back(random_id());
    Gpt2Result from_copy = run_after(copy);
    QCOMPARE(from_copy.reused_positions, static_cast<int>(ids.size()) - 1);
    QCOMPARE(cell(from_copy), computed);
    from_copy.layers.front().heads[1].weights(3, 2) = computed + 0.25f;
    ids.front() = random_id();  // every row changes: nothing is copied
    QVERIFY(cell(run_after(from_copy)) != computed + 0.25f);

    // on_layer still sees every layer's full attention, as a fresh run hands it out.
    std::vector<Matrix> fresh_seen, reused_seen;
    Gpt2RunOptions watched;
    watched.layers = {0};
    watched.on_layer = [&](int, const AttentionResult& attention) {
      fresh_seen.push_back(attention.heads[1].weights);
    };
    ids[ids.size() - 2] = random_id();
    model.run(ids, watched);
    watched.cache = &cache;
    watched.on_layer = [&](int, const AttentionResult& attention) {
      reused_seen.push_back(attention.heads[1].weights);
    };
    QCOMPARE(model.run(ids, watched).reused_positions, static_cast<int>(ids.size()) - 2);
    QCOMPARE(reused_seen.size(), fresh_seen.size());
    for (std::size_t l = 0; l < fresh_seen.size(); ++l)
      ATTNSCOPE_COMPARE_EXACT(reused_seen[l], fresh_seen[l], "on_layer weights");

    // on_layer_rows: the rows from first_row (the first changed one) on, as a fresh run computes them.
    reused_seen.clear();
    std::vector<Eigen::Index> first_rows;
    Gpt2RunOptions rows_watched;
    rows_watched.layers = {0};
    rows_watched.cache = &cache;
    rows_watched.on_layer_rows = [&](int, const AttentionResult& attention, Eigen::Index first_row) {
      reused_seen.push_back(attention.heads[1].weights);
      first_rows.push_back(first_row);
    };
    ids[ids.size() - 2] = random_id();
    fresh_seen.clear();
    watched.cache = nullptr;
    watched.on_layer = [&](int, const AttentionResult& attention) {
      fresh_seen.push_back(attention.heads[1].weights);
    };
    model.run(ids, watched);
    QCOMPARE(model.run(ids, rows_watched).reused_positions, static_cast<int>(ids.size()) - 2);
    QCOMPARE(reused_seen.size(), fresh_seen.size());
    const Eigen::Index n = static_cast<Eigen::Index>(ids.size());
    for (std::size_t l = 0; l < fresh_seen.size(); ++l) {
      QCOMPARE(first_rows[l], n - 2);
      ATTNSCOPE_COMPARE_EXACT(Matrix(reused_seen[l].bottomRows(n - first_rows[l])),
                              Matrix(fresh_seen[l].bottomRows(n - first_rows[l])), "on_layer_rows weights");
    }

    // A cache another model filled is not trusted.
    QTemporaryDir other_directory;
    write_small_gpt2(path_of(other_directory), layers, heads, width, 400);
    const Gpt2Model other = Gpt2Model::open(path_of(other_directory));
    Gpt2RunOptions options;
    options.cache = &cache;
    QCOMPARE(other.run(ids, options).reused_positions, 0);
    QCOMPARE(other.run(ids, options).reused_positions, static_cast<int>(ids.size()));
    // A cancelled run leaves nothing to trust.
    CancelToken cancel;
    cancel.cancel();
    ids.back() = random_id();
    QVERIFY_THROWS_EXCEPTION(Cancelled, other.run(ids, options, cancel));
    QCOMPARE(other.run(ids, options).reused_positions, 0);
  }

  // row_stats: the terms come with the weights of the rows a run computes (all of a kept layer's, an edit's
  // block on with on_layer_rows), padded text cut away, and agree with head_row_stats over those weights.
  void rowStatsComeWithTheWeights() {
    QTemporaryDir directory;
    const Gpt2Config config = write_small_gpt2(path_of(directory), 2, 2, 16, 300);
    const Gpt2Model model = Gpt2Model::open(path_of(directory));
    std::vector<int> ids;
    for (int i = 0; i < 100; ++i) ids.push_back((i * 37 + 11) % config.vocab_size);
    const auto agree = [](const AttentionResult& layer, Eigen::Index first_row, const char* what) {
      const auto n = static_cast<std::size_t>(layer.mask.rows());
      for (const HeadResult& head : layer.heads) {
        QVERIFY2(head.row_stats.size() == n, what);
        std::vector<HeadRowStats> want;
        head_row_stats(head.weights, layer.mask, first_row, want);
        for (std::size_t i = static_cast<std::size_t>(first_row); i < n; ++i) {
          const HeadRowStats& got = head.row_stats[i];
          QVERIFY2(got.visible == want[i].visible && got.max_weight == want[i].max_weight &&
                       got.first_token == want[i].first_token && got.self == want[i].self &&
                       got.previous_token == want[i].previous_token,
                   what);
          QVERIFY2(std::abs(got.bits - want[i].bits) <= 1e-5 * (1.0 + std::abs(want[i].bits)), what);
        }
      }
    };
    Gpt2Cache cache;
    Gpt2RunOptions options;
    options.layers = {1};
    options.row_stats = true;
    options.cache = &cache;
    std::vector<Eigen::Index> first_rows;
    options.on_layer_rows = [&](int, const AttentionResult& layer, Eigen::Index first_row) {
      first_rows.push_back(first_row);
      agree(layer, first_row, "on_layer_rows");
    };
    Gpt2Result result = model.run(ids, options);
    agree(result.layers.front(), 0, "the kept layer");
    QCOMPARE(first_rows, (std::vector<Eigen::Index>{0, 0}));
    ids.push_back(5);  // 101 tokens: row 100 is new
    first_rows.clear();
    result = model.run(ids, options);
    QCOMPARE(first_rows, (std::vector<Eigen::Index>{100, 100}));
    agree(result.layers.front(), 0, "the kept layer after an edit");
    options.row_stats = false;
    options.on_layer_rows = nullptr;
    QVERIFY(model.run(ids, options).layers.front().heads.front().row_stats.empty());
  }

  void extraMaskCanEmptyRows() {
    QTemporaryDir directory;
    write_small_gpt2(path_of(directory), 1, 2, 8, 8);
    const std::filesystem::path mask_file = path_of(directory) / "mask.csv";
    // Row 2 hides key 0..2 — with the causal mask, all it could see.
    write_file(mask_file, "0,0,0,0\n0,0,0,0\n1,1,1,0\n0,0,0,0\n");
    const Gpt2Model model = Gpt2Model::open(path_of(directory));
    Gpt2RunOptions options;
    options.extra_mask = MaskSpec::parse("file:" + mask_file.string());
    const Gpt2Result result = model.run({1, 2, 3, 4}, options);
    QCOMPARE(result.layers[0].empty_rows, (std::vector<Eigen::Index>{2}));
    QCOMPARE(result.layers[0].heads[1].weights.row(2).sum(), 0.0f);
    QCOMPARE(result.layers[0].heads[1].context.row(2).squaredNorm(), 0.0f);
    QVERIFY(result.final_hidden.allFinite());
  }

  void runRefusesBadInput() {
    QTemporaryDir directory;
    const Gpt2Config config = write_small_gpt2(path_of(directory), 2, 2, 8, 6);
    const Gpt2Model model = Gpt2Model::open(path_of(directory));
    QCOMPARE(error_of([&] { model.run({}); }), std::string("no tokens: the text must give at least one"));
    QCOMPARE(error_of([&] {
               model.run({1, 2, 3, 4, 5, 6, 7});
             }),
             std::string("7 tokens are more than the model's 6 positions (n_positions)"));
    QCOMPARE(error_of([&] {
               model.run({1, config.vocab_size});
             }),
             "token id " + std::to_string(config.vocab_size) +
                 " at position 1 is outside the vocabulary (0 to " + std::to_string(config.vocab_size - 1) +
                 ")");
    QCOMPARE(error_of([&] { model.run({-1}); }).substr(0, 26), std::string("token id -1 at position 0 "));
    Gpt2RunOptions options;
    options.layers = {2};
    QCOMPARE(error_of([&] { model.run({1}, options); }),
             std::string("layer 2 does not exist: the model's layers are 0 to 1"));
    options.layers = {1, 1};
    QCOMPARE(error_of([&] { model.run({1}, options); }), std::string("layer 1 is listed twice"));
    QCOMPARE(model.run({1, 2, 3, 4, 5, 6}).final_hidden.rows(), Eigen::Index(6));  // n_positions is fine

    CancelToken cancel;
    cancel.cancel();
    QVERIFY_THROWS_EXCEPTION(Cancelled, model.run({1, 2}, {}, cancel));
  }

  void tokenizerComesWithTheModel() {
    QTemporaryDir directory;
    write_small_gpt2(path_of(directory));
    const Gpt2Model model = Gpt2Model::open(path_of(directory));
    const std::vector<int> ids = model.tokenizer().encode("hello the world");
    QCOMPARE(model.tokenizer().decode(ids), std::string("hello the world"));
    QVERIFY(ids.size() < 15);  // merges applied
    QCOMPARE(model.run(ids).final_hidden.rows(), Eigen::Index(ids.size()));
  }

  void rejectsBadConfigs_data() {
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("message");
    const auto row = [](const char* name, const char* json, const char* message) {
      QTest::newRow(name) << QByteArray(json) << QString::fromUtf8(message);
    };
    row("not JSON", "{", "config.json: not valid JSON");
    row("array", "[]", "config.json: holds an array, not a JSON object");
    row("no vocab_size", R"({"n_positions": 8, "n_embd": 16, "n_layer": 2, "n_head": 2})",
        "config.json: no vocab_size (a GPT-2 config.json has it)");
    row("no n_positions", R"({"vocab_size": 300, "n_embd": 16, "n_layer": 2, "n_head": 2})",
        "config.json: no n_positions");
    row("n_layer fraction",
        R"({"vocab_size": 300, "n_positions": 8, "n_embd": 16, "n_layer": 2.5, "n_head": 2})",
        "config.json: n_layer is 2.5, not an integer");
    row("n_layer string",
        R"({"vocab_size": 300, "n_positions": 8, "n_embd": 16, "n_layer": "2", "n_head": 2})",
        "config.json: n_layer is a string, not an integer");
    row("n_layer bool",
        R"({"vocab_size": 300, "n_positions": 8, "n_embd": 16, "n_layer": true, "n_head": 2})",
        "config.json: n_layer is a boolean, not an integer");
    row("n_layer zero", R"({"vocab_size": 300, "n_positions": 8, "n_embd": 16, "n_layer": 0, "n_head": 2})",
        "config.json: n_layer is 0, outside 1 to 10000");
    row("n_head negative",
        R"({"vocab_size": 300, "n_positions": 8, "n_embd": 16, "n_layer": 2, "n_head": -2})",
        "config.json: n_head is -2, outside 1 to 1000000");
    row("vocab huge",
        R"({"vocab_size": 18446744073709551615, "n_positions": 8, "n_embd": 16, "n_layer": 2, "n_head": 2})",
        "config.json: vocab_size is 18446744073709551615, outside 1 to 10000000");
    row("indivisible", R"({"vocab_size": 300, "n_positions": 8, "n_embd": 16, "n_layer": 2, "n_head": 3})",
        "config.json: n_embd 16 is not divisible by n_head 3");
    row("epsilon zero",
        R"({"vocab_size": 300, "n_positions": 8, "n_embd": 16, "n_layer": 2, "n_head": 2, "layer_norm_epsilon": 0})",
        "config.json: layer_norm_epsilon must be a number in (0, 1]");
    row("epsilon string",
        R"({"vocab_size": 300, "n_positions": 8, "n_embd": 16, "n_layer": 2, "n_head": 2, "layer_norm_epsilon": "1e-5"})",
        "config.json: layer_norm_epsilon is a string, not a number");
    row("relu",
        R"({"vocab_size": 300, "n_positions": 8, "n_embd": 16, "n_layer": 2, "n_head": 2, "activation_function": "relu"})",
        "config.json: activation_function 'relu' is not supported: AttnScope computes GPT-2's tanh GELU "
        "(gelu_new)");
    row("exact gelu",
        R"({"vocab_size": 300, "n_positions": 8, "n_embd": 16, "n_layer": 2, "n_head": 2, "activation_function": "gelu"})",
        "config.json: activation_function 'gelu' is not supported");
    row("model type",
        R"({"vocab_size": 300, "n_positions": 8, "n_embd": 16, "n_layer": 2, "n_head": 2, "model_type": "gpt_neo"})",
        "config.json: model_type is 'gpt_neo', not 'gpt2': only GPT-2-family models can be opened");
    row("n_inner zero",
        R"({"vocab_size": 300, "n_positions": 8, "n_embd": 16, "n_layer": 2, "n_head": 2, "n_inner": 0})",
        "config.json: n_inner is 0, outside 1 to 4000000");
    row("inverse layer scaling",
        R"({"vocab_size": 300, "n_positions": 8, "n_embd": 16, "n_layer": 2, "n_head": 2, "scale_attn_by_inverse_layer_idx": true})",
        "config.json: scale_attn_by_inverse_layer_idx other than false is not supported");
    row("unscaled attention",
        R"({"vocab_size": 300, "n_positions": 8, "n_embd": 16, "n_layer": 2, "n_head": 2, "scale_attn_weights": false})",
        "config.json: scale_attn_weights other than true is not supported");
  }

  void rejectsBadConfigs() {
    QFETCH(QByteArray, json);
    QFETCH(QString, message);
    const std::string error = error_of([&] { Gpt2Config::parse(json.toStdString()); });
    QVERIFY2(QString::fromStdString(error).startsWith(message), error.c_str());
  }

  void readsRealConfigs() {
    // distilgpt2's config.json (abridged: the task_specific_params and such are ignored).
    const Gpt2Config distil = Gpt2Config::parse(R"({
      "_num_labels": 1, "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
      "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "id2label": {"0": "LABEL_0"},
      "initializer_range": 0.02, "label2id": {"LABEL_0": 0}, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
      "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 6, "n_positions": 1024, "resid_pdrop": 0.1,
      "summary_activation": null, "summary_first_dropout": 0.1, "summary_proj_to_labels": true,
      "summary_type": "cls_index", "summary_use_proj": true,
      "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}}, "vocab_size": 50257})");
    QCOMPARE(distil.n_layer, 6);
    QCOMPARE(distil.n_positions, 1024);
    QCOMPARE(distil.inner_dim(), 3072);
    QCOMPARE(distil.head_dim(), 64);
    // An old config with n_ctx only and no activation_function or epsilon.
    const Gpt2Config old = Gpt2Config::parse(
        R"({"vocab_size": 50257, "n_ctx": 512, "n_embd": 64, "n_layer": 1, "n_head": 4, "n_inner": null})");
    QCOMPARE(old.n_positions, 512);
    QCOMPARE(old.layer_norm_epsilon, 1e-5);
    QCOMPARE(old.n_inner, 0);
  }

  void rejectsBadCheckpoints() {
    QTemporaryDir directory;
    const std::filesystem::path dir = path_of(directory);
    const Gpt2Config config = write_small_gpt2(dir, 2, 2, 8, 6);
    const std::string folder = dir.filename().string();
    const auto open_error = [&] { return error_of([&] { Gpt2Model::open(dir); }); };
    const auto rules = gpt2_tensor_rules(config);
    const auto tensors = draw_tensors(rules, 1, "F32");
    const auto write_tensors = [&](const std::vector<TensorBytes>& list) {
      write_file(dir / "model.safetensors", safetensors_file(list));
    };
    QCOMPARE(open_error(), std::string());

    auto missing = tensors;
    missing.erase(missing.begin() + 14);  // h.1.ln_1.weight
    write_tensors(missing);
    QCOMPARE(open_error(), folder +
                               "/model.safetensors: no tensor 'h.1.ln_1.weight', which a GPT-2 model of " +
                               folder + "/config.json's sizes has");

    auto wrong_shape = tensors;
    wrong_shape[4].shape = {24, 8};  // h.0.attn.c_attn.weight stored (out, in) as a Linear would
    write_tensors(wrong_shape);
    QCOMPARE(open_error(), folder +
                               "/model.safetensors: tensor 'h.0.attn.c_attn.weight' has shape [24, 8] but " +
                               folder + "/config.json (n_embd, 3·n_embd) makes it [8, 24]");

    auto extra_layer = tensors;
    extra_layer.push_back({"h.2.ln_1.weight", "F32", {8}, std::string(32, '\0')});
    write_tensors(extra_layer);
    QVERIFY2(open_error().find("holds 'h.2.ln_1.weight', a layer beyond the 2") != std::string::npos,
             open_error().c_str());

    auto not_gpt2 = tensors;
    not_gpt2.erase(not_gpt2.begin());
    write_tensors(not_gpt2);
    QCOMPARE(open_error(), folder +
                               "/model.safetensors: no tensor 'wte.weight' (nor 'transformer.wte.weight'): "
                               "not a GPT-2 checkpoint");

    auto integer_weights = tensors;
    integer_weights[1].dtype = "I32";
    write_tensors(integer_weights);
    QCOMPARE(open_error(),
             folder +
                 "/model.safetensors: tensor 'wpe.weight' is I32; only F32, F16 and BF16 tensors "
                 "can be read as floats");

    auto bad_head = tensors;
    bad_head.push_back({"lm_head.weight", "F32", {8, 3}, std::string(96, '\0')});
    write_tensors(bad_head);
    QVERIFY2(open_error().find("tensor 'lm_head.weight' has shape [8, 3]") != std::string::npos,
             open_error().c_str());

    write_tensors(tensors);
    Gpt2Config small = config;
    small.vocab_size = 100;  // fewer than the tokenizer's 264
    write_file(dir / "config.json", config_json(small));
    QVERIFY2(open_error().find("/model.safetensors: tensor 'wte.weight' has shape [268, 8] but") !=
                 std::string::npos,
             open_error().c_str());
    auto small_tensors = draw_tensors(gpt2_tensor_rules(small), 1, "F32");
    write_tensors(small_tensors);
    QCOMPARE(open_error(),
             folder + "/vocab.json: holds 264 tokens, more than " + folder + "/config.json's vocab_size 100");

    write_file(dir / "config.json", "{\"vocab_size\": 268}");
    QCOMPARE(open_error(), folder + "/config.json: no n_positions (a GPT-2 config.json has it)");
    std::filesystem::remove(dir / "config.json");
    QCOMPARE(open_error(), folder + "/config.json: no such file");
    write_file(dir / "config.json", config_json(config));
    write_tensors(tensors);
    QCOMPARE(open_error(), std::string());
    std::filesystem::remove(dir / "merges.txt");
    QVERIFY2(open_error().find("merges.txt") != std::string::npos, open_error().c_str());
    std::filesystem::remove(dir / "model.safetensors");
    QCOMPARE(open_error(), folder + "/model.safetensors: no such file");
    QCOMPARE(error_of([&] { Gpt2Model::open(dir / "nope"); }), std::string("nope: no such folder"));
    QVERIFY(error_of([&] { Gpt2Model::open(dir / "config.json"); }).starts_with("config.json: not a folder"));
  }

  void refusesNonFiniteWeights_data() {
    QTest::addColumn<QString>("dtype");
    QTest::addColumn<float>("value");
    QTest::addColumn<QString>("named");
    QTest::newRow("NaN, F32") << "F32" << std::numeric_limits<float>::quiet_NaN() << "NaN";
    QTest::newRow("+Inf, F32") << "F32" << std::numeric_limits<float>::infinity() << "+Inf";
    QTest::newRow("-Inf, BF16") << "BF16" << -std::numeric_limits<float>::infinity() << "-Inf";
    QTest::newRow("NaN, F16") << "F16" << std::numeric_limits<float>::quiet_NaN() << "NaN";
  }
  void refusesNonFiniteWeights() {
    // One bad element of h.1.attn.c_attn.weight (8 × 24, row-major): index 3 · 24 + 17 is [3, 17].
    QFETCH(QString, dtype);
    QFETCH(float, value);
    QFETCH(QString, named);
    QTemporaryDir directory;
    const std::filesystem::path dir = path_of(directory);
    const Gpt2Config config = write_small_gpt2(dir, 2, 2, 8, 6, dtype.toStdString());
    auto tensors = draw_tensors(gpt2_tensor_rules(config), 1, dtype.toStdString());
    const auto bad = std::find_if(tensors.begin(), tensors.end(),
                                  [](const TensorBytes& t) { return t.name == "h.1.attn.c_attn.weight"; });
    QVERIFY(bad != tensors.end());
    QCOMPARE(bad->shape, (std::vector<std::uint64_t>{8, 24}));
    const std::string element = encode_floats(&value, 1, dtype.toStdString());
    bad->bytes.replace((3 * 24 + 17) * element.size(), element.size(), element);
    write_file(dir / "model.safetensors", safetensors_file(tensors));
    const std::string folder = dir.filename().string();
    QCOMPARE(error_of([&] { Gpt2Model::open(dir); }),
             folder + "/model.safetensors: tensor 'h.1.attn.c_attn.weight' holds " + named.toStdString() +
                 " at [3, 17]: a checkpoint's weights must all be finite");
  }

  void overflowIsAnErrorNotAResult() {
    // Finite weights whose products overflow float32: the layer says so instead of handing out ∞ or NaN.
    QTemporaryDir directory;
    const std::filesystem::path dir = path_of(directory);
    const Gpt2Config config = write_small_gpt2(dir, 2, 2, 8, 6);
    auto rules = gpt2_tensor_rules(config);
    for (TensorRule& rule : rules)
      if (rule.name == "h.0.mlp.c_fc.weight" || rule.name == "h.0.mlp.c_proj.weight") rule.scale = 1e25f;
    write_file(dir / "model.safetensors", safetensors_file(draw_tensors(rules, 1, "F32")));
    const Gpt2Model model = Gpt2Model::open(dir);
    QCOMPARE(error_of([&] {
               model.run({1, 2, 3});
             }),
             std::string("layer 0 overflowed float32: the checkpoint's weights are too large for this text"));
  }

  void opensF32ZeroCopyAndHalfConverted() {
    QTemporaryDir directory;
    const std::filesystem::path dir = path_of(directory);
    write_small_gpt2(dir, 1, 2, 16, 8, "F32");
    const SafetensorsFile file = SafetensorsFile::open(dir / "model.safetensors");
    QVERIFY(file.to_float(*file.find("h.0.mlp.c_fc.weight")).zero_copy());
    QCOMPARE(file.metadata().at("format"), std::string("pt"));
    const Gpt2Result f32 = Gpt2Model::open(dir).run({5, 6, 7});
    write_small_gpt2(dir, 1, 2, 16, 8, "BF16");
    const Gpt2Result bf16 = Gpt2Model::open(dir).run({5, 6, 7});
    // Same draws, rounded to 8 bits of mantissa: close, not equal.
    QVERIFY(bf16.final_hidden != f32.final_hidden);
    QVERIFY((bf16.final_hidden - f32.final_hidden).cwiseAbs().maxCoeff() < 0.1f);
  }
};

QTEST_GUILESS_MAIN(TestGpt2)
#include "test_gpt2.moc"
