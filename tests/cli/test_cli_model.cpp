// attnscope-cli compute --model DIR: a GPT-2 folder written by the test (small random weights, a byte-level
// vocabulary with a few merges), the text through its BPE, every layer's heads in the JSON and CSV, and the
// flags that do not go with --model.

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <algorithm>

#include "../support/gpt2_checkpoint.hpp"
#include "../support/test_support.hpp"
#include "attnscope/geometry.hpp"
#include "attnscope/gpt2.hpp"
#include "attnscope/head_stats.hpp"

using namespace attnscope;
using namespace attnscope::testing;

namespace {

struct Run {
  int exit_code = -1;
  QByteArray out, err;
};

Run run_cli(const QStringList& arguments) {
  QProcess process;
  process.start(QStringLiteral(ATTNSCOPE_BIN_DIR "/attnscope-cli"), arguments);
  if (!process.waitForFinished(60000)) qFatal("attnscope-cli did not finish");
  Run run;
  run.exit_code = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
  run.out = process.readAllStandardOutput();
  run.err = process.readAllStandardError();
  return run;
}

const QString kText = QStringLiteral("hello the world, héllo 🙂");

}  // namespace

class TestCliModel : public QObject {
  Q_OBJECT

  QTemporaryDir m_directory;
  QString m_model;
  Gpt2Config m_config;

 private slots:
  void initTestCase() {
    QVERIFY(m_directory.isValid());
    m_model = m_directory.filePath("gpt2-tiny");
    m_config =
        write_small_gpt2(m_model.toStdString(), /*layers=*/2, /*heads=*/3, /*width=*/12, /*positions=*/40);
  }

  void printsEveryLayersHeads() {
    const Run run = run_cli({"compute", "--model", m_model, "--text", kText});
    QVERIFY2(run.exit_code == 0, run.err.constData());
    QVERIFY(run.err.isEmpty());
    const QJsonObject json = QJsonDocument::fromJson(run.out).object();
    QCOMPARE(json["mechanism"].toString(), QString("gpt2"));
    QCOMPARE(json["mask"].toString(), QString("causal"));
    QCOMPARE(json["device"].toString(), QString("cpu"));
    QCOMPARE(json["model"].toObject()["n_layer"].toInt(), 2);
    QCOMPARE(json["model"].toObject()["n_head"].toInt(), 3);

    // The same tokens as the engine's tokenizer, covering the text.
    const Gpt2Model model = Gpt2Model::open(m_model.toStdString());
    const std::vector<BpeToken> tokens = model.tokenizer().tokenize(kText.toStdString());
    const QJsonArray texts = json["tokens"].toArray(), ids = json["token_ids"].toArray();
    QCOMPARE(texts.size(), qsizetype(tokens.size()));
    QCOMPARE(ids.size(), qsizetype(tokens.size()));
    std::vector<int> expected_ids;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      QCOMPARE(ids[qsizetype(i)].toInt(), tokens[i].id);
      QCOMPARE(texts[qsizetype(i)].toString().toStdString(), tokens[i].token.text);
      QCOMPARE(json["token_pieces"].toArray()[qsizetype(i)].toString().toStdString(),
               tokens[i].bytes_display);
      expected_ids.push_back(tokens[i].id);
    }
    const auto world = std::find(texts.begin(), texts.end(), QJsonValue(" world"));  // merged into one token
    QVERIFY(world != texts.end());
    QCOMPARE(json["token_pieces"].toArray()[world - texts.begin()].toString(), QString("·world"));

    // Heads layer by layer, each numbers as the engine computes them.
    Gpt2RunOptions options;
    options.keep_scores = true;
    const Gpt2Result expected = model.run(expected_ids, options);
    const QJsonArray heads = json["heads"].toArray();
    QCOMPARE(heads.size(), 6);
    for (int i = 0; i < heads.size(); ++i) {
      const QJsonObject head = heads[i].toObject();
      QCOMPARE(head["layer"].toInt(), i / 3);
      QCOMPARE(head["head"].toInt(), i % 3);
      const QStringList keys = head.keys();
      for (const char* key : {"queries", "keys", "values", "scale", "scores", "weights", "context"})
        QVERIFY2(keys.contains(key), key);
      const HeadResult& engine = expected.layers[std::size_t(i / 3)].heads[std::size_t(i % 3)];
      QCOMPARE(float(head["scale"].toDouble()), engine.scale);
      ATTNSCOPE_COMPARE_EXACT(to_matrix(head["weights"]), engine.weights,
                              QStringLiteral("head %1 weights").arg(i));
      ATTNSCOPE_COMPARE_EXACT(to_matrix(head["context"]), engine.context,
                              QStringLiteral("head %1 context").arg(i));
      QVERIFY(head["scores"].toArray()[0].toArray()[1].isNull());  // causal
      QCOMPARE(float(head["scores"].toArray()[1].toArray()[0].toDouble()), engine.scores(1, 0));
    }
    ATTNSCOPE_COMPARE_EXACT(to_matrix(json["output"]), expected.final_hidden, "output");
    QCOMPARE(json["empty_rows"].toArray().size(), 0);
  }

  void layersSelectsLayers() {
    const QJsonObject one =
        QJsonDocument::fromJson(
            run_cli({"compute", "--model", m_model, "--text", "the", "--layers", "1"}).out)
            .object();
    const QJsonArray heads = one["heads"].toArray();
    QCOMPARE(heads.size(), 3);
    for (const auto& head : heads) QCOMPARE(head.toObject()["layer"].toInt(), 1);
    for (const QString& all : {QString("all"), QString("0-1"), QString("1,0")}) {
      const Run run = run_cli({"compute", "--model", m_model, "--text", "the", "--layers", all});
      QCOMPARE(QJsonDocument::fromJson(run.out).object()["heads"].toArray().size(), 6);
    }
  }

  void maskGoesOnTopOfCausal() {
    const Run run = run_cli({"compute", "--model", m_model, "--text", "a b c d", "--mask", "window:2"});
    QVERIFY2(run.exit_code == 0, run.err.constData());
    const QJsonObject json = QJsonDocument::fromJson(run.out).object();
    QCOMPARE(json["mask"].toString(), QString("causal+window:2"));
    const QJsonArray weights = json["heads"].toArray()[0].toObject()["weights"].toArray();
    QCOMPARE(weights[3].toArray()[0].toDouble(), 0.0);  // outside the window
    QCOMPARE(weights[2].toArray()[3].toDouble(), 0.0);  // in the future
    QVERIFY(weights[3].toArray()[3].toDouble() > 0.0);
    const Run plain = run_cli({"compute", "--model", m_model, "--text", "a b", "--mask", "none"});
    QCOMPARE(QJsonDocument::fromJson(plain.out).object()["mask"].toString(), QString("causal"));
  }

  void csvHasALayerColumn() {
    const Run run = run_cli({"compute", "--model", m_model, "--text", " the world", "--format", "csv"});
    QVERIFY2(run.exit_code == 0, run.err.constData());
    const QList<QByteArray> lines = run.out.trimmed().split('\n');
    QCOMPARE(lines[0],
             QByteArray("layer,head,query,query_token,key,key_token,masked,score,scaled_score,weight"));
    QCOMPARE(lines.size(), 1 + 2 * 3 * 2 * 2);  // layers × heads × 2 tokens × 2 tokens
    QVERIFY2(lines[1].startsWith("0,0,0, the,0, the,0,"), lines[1].constData());
    QVERIFY2(lines[2].startsWith("0,0,0, the,1, world,1,,,0"), lines[2].constData());
    QVERIFY(lines.last().startsWith("1,2,1, world,1, world,0,"));
  }

  void writesToAFile() {
    const QString path = m_directory.filePath("out.json");
    const Run run = run_cli({"compute", "--model", m_model, "--text", "the", "--output", path});
    QCOMPARE(run.exit_code, 0);
    QVERIFY(run.out.isEmpty());
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(QJsonDocument::fromJson(file.readAll()).object()["mechanism"].toString(), QString("gpt2"));
  }

  void refusesFlagsThatDoNotApply_data() {
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<int>("exit_code");
    QTest::addColumn<QString>("message");
    const QString model = m_directory.filePath("gpt2-tiny");
    const QStringList base{"compute", "--model", model, "--text", "the"};
    QTest::newRow("mechanism") << base + QStringList{"--mechanism", "multihead"} << 2
                               << "attnscope-cli: error: --mechanism excludes --model";
    QTest::newRow("preset") << QStringList{"compute", "--model", model, "--preset", "book"} << 2
                            << "--preset excludes --model";
    QTest::newRow("embeddings") << base + QStringList{"--embeddings", "x.npy"} << 2
                                << "--embeddings excludes --model";
    QTest::newRow("heads") << base + QStringList{"--heads", "4"} << 2 << "--heads excludes --model";
    QTest::newRow("seed") << base + QStringList{"--seed", "4"} << 2 << "--seed excludes --model";
    QTest::newRow("tokenizer") << base + QStringList{"--tokenizer", "chars"} << 2
                               << "--tokenizer excludes --model";
    QTest::newRow("layers without model")
        << QStringList{"compute", "--preset", "book", "--layers", "1"} << 2 << "--layers requires --model";
    QTest::newRow("no text") << QStringList{"compute", "--model", model} << 1
                             << "attnscope-cli: error: --model needs --text";
    QTest::newRow("empty text") << QStringList{"compute", "--model", model, "--text", ""} << 1
                                << "attnscope-cli: error: the text is empty";
    QTest::newRow("layer out of range")
        << base + QStringList{"--layers", "2"} << 1
        << "attnscope-cli: error: --layers 2: layer 2 does not exist: the model's "
           "layers are 0 to 1";
    QTest::newRow("layer twice") << base + QStringList{"--layers", "0,0-1"} << 1 << "layer 0 is listed twice";
    QTest::newRow("layer garbage") << base + QStringList{"--layers", "1,x"} << 1
                                   << "--layers 1,x: 'x' is not a layer number";
    QTest::newRow("layers with control characters")
        << base + QStringList{"--layers", "1-\x1b[2J"} << 1
        << "attnscope-cli: error: --layers 1-\\x1b[2J: '\\x1b[2J' is not a layer number";
    QTest::newRow("backwards range") << base + QStringList{"--layers", "1-0"} << 1
                                     << "the range 1-0 runs backwards";
    QTest::newRow("cuda") << base + QStringList{"--device", "cuda"} << 1
                          << "attnscope-cli: error: --model computes on the CPU: drop --device cuda";
    QTest::newRow("max tokens") << QStringList{"compute",      "--model",      model, "--text",
                                               " the the the", "--max-tokens", "2"}
                                << 1 << "3 tokens is more than the limit of 2";
    QTest::newRow("past n_positions")
        << QStringList{"compute", "--model", model, "--text", QString(" the").repeated(41)} << 1
        << "the text is 41 tokens, more than the model's 40 positions";
    QTest::newRow("no such folder") << QStringList{"compute", "--model", m_directory.filePath("nope"),
                                                   "--text", "a"}
                                    << 1 << "attnscope-cli: error: nope: no such folder";
    QTest::newRow("bad mask") << base + QStringList{"--mask", "window:0"} << 1 << "attnscope-cli: error: ";
  }

  void refusesFlagsThatDoNotApply() {
    QFETCH(QStringList, arguments);
    QFETCH(int, exit_code);
    QFETCH(QString, message);
    const Run run = run_cli(arguments);
    QCOMPARE(run.exit_code, exit_code);
    QVERIFY(run.out.isEmpty());
    QVERIFY2(QString::fromUtf8(run.err).contains(message), run.err.constData());
    QCOMPARE(run.err.count('\n'), 1);
  }

  void brokenModelsAreOneLineErrors() {
    QTemporaryDir directory;
    const std::filesystem::path dir = directory.filePath("m").toStdString();
    write_small_gpt2(dir, 1, 1, 4, 8);
    write_file(dir / "model.safetensors", std::string("\x10\0\0\0\0\0\0\0{\"a\":[1, 2, 3]} ", 24));
    const Run run = run_cli({"compute", "--model", QString::fromStdString(dir.string()), "--text", "a"});
    QCOMPARE(run.exit_code, 1);
    QCOMPARE(
        QString::fromUtf8(run.err),
        QString(
            "attnscope-cli: error: m/model.safetensors: tensor 'a' is an array, not an object with dtype, "
            "shape and data_offsets\n"));
  }

  void rolloutProbeAndStatsCoverEveryLayer() {
    // --layers 1 prints layer 1 only, but rollout and the probe read every layer up to it.
    const Run all = run_cli({"compute", "--model", m_model, "--text", kText});
    const Run run = run_cli({"compute", "--model", m_model, "--text", kText, "--layers", "1", "--rollout",
                             "--probe", "4:1", "--stats"});
    QCOMPARE(run.exit_code, 0);
    const QJsonObject json = QJsonDocument::fromJson(run.out).object();
    const QJsonArray every = QJsonDocument::fromJson(all.out).object()["heads"].toArray();
    QCOMPARE(every.size(), m_config.n_layer * m_config.n_head);

    // Rollout from the full run's weights, layer by layer.
    std::vector<Matrix> weights, means;
    for (const auto& head : every) weights.push_back(to_matrix(head.toObject()["weights"]));
    for (int l = 0; l < m_config.n_layer; ++l) {
      std::vector<const Matrix*> layer;
      for (int h = 0; h < m_config.n_head; ++h)
        layer.push_back(&weights[std::size_t(l * m_config.n_head + h)]);
      means.push_back(mean_of_heads(layer));
    }
    const QJsonArray rollout = json["rollout"].toArray();
    QCOMPARE(rollout.size(), 1);
    QCOMPARE(rollout[0].toObject()["layer"].toInt(), 1);
    const Matrix expected = attention_rollout(means)[1];
    ATTNSCOPE_COMPARE_EXACT(to_matrix(rollout[0].toObject()["weights"]), expected, "rollout of layer 1");
    for (Eigen::Index i = 0; i < expected.rows(); ++i)
      QVERIFY(std::abs(expected.row(i).sum() - 1.0f) < 1e-5f);

    // The probe: every layer's heads, strongest first.
    const QJsonArray hits = json["probe"].toArray();
    QCOMPARE(hits.size(), m_config.n_layer * m_config.n_head);
    for (qsizetype i = 0; i < hits.size(); ++i) {
      const QJsonObject hit = hits[i].toObject();
      const Matrix& head = weights[std::size_t(hit["layer"].toInt() * m_config.n_head + hit["head"].toInt())];
      QCOMPARE(float(hit["weight"].toDouble()), head(4, 1));
      if (i > 0) QVERIFY(hits[i - 1].toObject()["weight"].toDouble() >= hit["weight"].toDouble());
    }

    // Stats on the printed heads only.
    const QJsonArray heads = json["heads"].toArray();
    QCOMPARE(heads.size(), m_config.n_head);
    for (const auto& head : heads) {
      QCOMPARE(head.toObject()["layer"].toInt(), 1);
      const QJsonObject stats = head.toObject()["stats"].toObject();
      QCOMPARE(stats.keys().size(), 7);
      QVERIFY(stats["entropy_bits"].toDouble() >= 0);
    }
  }

  void geometryCoversThePrintedHeads() {
    // GPT-2 heads are 12 / 3 = 4 wide: principal components of each printed head's queries and keys.
    const Run run = run_cli({"compute", "--model", m_model, "--text", kText, "--layers", "1", "--geometry"});
    QCOMPARE(run.exit_code, 0);
    const QJsonArray heads = QJsonDocument::fromJson(run.out).object()["heads"].toArray();
    QCOMPARE(heads.size(), m_config.n_head);
    for (const auto& value : heads) {
      const QJsonObject head = value.toObject();
      QCOMPARE(head["layer"].toInt(), 1);
      const Matrix queries = to_matrix(head["queries"]);
      QCOMPARE(queries.cols(), Eigen::Index(4));
      const HeadGeometry expected = head_geometry(queries, to_matrix(head["keys"]));
      const QJsonObject geometry = head["geometry"].toObject();
      ATTNSCOPE_COMPARE_EXACT(to_matrix(geometry["queries_2d"]), expected.queries_2d, "queries_2d");
      ATTNSCOPE_COMPARE_EXACT(to_matrix(geometry["keys_2d"]), expected.keys_2d, "keys_2d");
      QCOMPARE(float(geometry["explained"][0].toDouble()), float((*expected.explained)[0]));
      QCOMPARE(float(geometry["explained"][1].toDouble()), float((*expected.explained)[1]));
    }
    const Run csv =
        run_cli({"compute", "--model", m_model, "--text", kText, "--geometry", "--format", "csv"});
    QCOMPARE(csv.exit_code, 1);
    QVERIFY(csv.out.isEmpty());
    QCOMPARE(
        QString::fromUtf8(csv.err),
        QString(
            "attnscope-cli: error: --geometry adds to the JSON (2-D points per head): drop --format csv\n"));
  }

  // --compare-text through the oracle's checkpoint (tests/golden/compare.json): the texts' bytes are their
  // tokens, B's tokens and every printed layer's heads, A − B and the total variation, as JSON and as CSV.
  // Weights within 2e-6 of PyTorch's after three layers: a build without FMA (x86-64-v2), rounding each
  // multiply and add apart, reaches 1.07e-6; an FMA build stays below 1e-6.
  void compareTextMatchesTheOracle() {
    constexpr double kWeightTolerance = 2e-6;
    const QJsonArray cases = read_json_object(golden_path("compare.json"))["gpt2"].toArray();
    QVERIFY(cases.size() >= 2);
    QTemporaryDir directory;
    for (const auto& value : cases) {
      const QJsonObject oracle = value.toObject();
      const QString name = oracle["name"].toString();
      const Gpt2Config config = gpt2_config_of(oracle["config"].toObject());
      const QString folder = directory.filePath(name);
      write_gpt2_folder(folder.toStdString(), config,
                        draw_tensors(gpt2_tensor_rules(config), std::uint64_t(oracle["seed"].toInt()),
                                     oracle["dtype"].toString().toStdString()));
      QStringList flags{"compute",
                        "--model",
                        folder,
                        "--text",
                        oracle["a_text"].toString(),
                        "--compare-text",
                        oracle["b_text"].toString()};
      if (!oracle["extra_mask"].isNull()) flags << "--mask" << oracle["extra_mask"].toString();
      // The second case prints layers 0 and 2 only: the comparison covers the printed layers.
      const bool some_layers = name != cases[0].toObject()["name"].toString();
      if (some_layers)
        flags << "--layers"
              << "0,2";
      const Run run = run_cli(flags);
      QVERIFY2(run.exit_code == 0 && run.err.isEmpty(), run.err.constData());
      const QJsonObject json = QJsonDocument::fromJson(run.out).object();
      QCOMPARE(json["token_ids"], oracle["a_ids"]);
      const QJsonObject compare = json["compare"].toObject();
      QJsonArray b_tokens;
      for (const QChar c : oracle["b_text"].toString()) b_tokens.append(QString(c));
      QCOMPARE(compare["tokens"], b_tokens);
      QCOMPARE(compare["aligned"].toInt(), oracle["aligned"].toInt());
      QJsonArray expected;
      for (const auto& head : oracle["heads"].toArray())
        if (!some_layers || head.toObject()["layer"].toInt() != 1) expected.append(head);
      const QJsonArray heads = compare["heads"].toArray();
      QCOMPARE(heads.size(), expected.size());
      QCOMPARE(heads.size(), json["heads"].toArray().size());
      for (qsizetype h = 0; h < heads.size(); ++h) {
        const QJsonObject head = heads[h].toObject(), want = expected[h].toObject();
        const QString label = QStringLiteral("%1 layer %2 head %3")
                                  .arg(name)
                                  .arg(head["layer"].toInt())
                                  .arg(head["head"].toInt());
        QCOMPARE(head["layer"].toInt(), want["layer"].toInt());
        QCOMPARE(head["head"].toInt(), want["head"].toInt());
        QCOMPARE(head["mask"].toString(), json["mask"].toString());
        ATTNSCOPE_COMPARE_DECIMALS(to_matrix(head["weights_diff"]), to_matrix(want["weights_diff"]),
                                   kWeightTolerance, label);
        QVERIFY2(std::abs(head["total_variation"].toDouble() - want["total_variation"].toDouble()) <=
                     kWeightTolerance,
                 qPrintable(label));
      }

      const Run csv = run_cli(flags + QStringList{"--format", "csv"});
      QVERIFY2(csv.exit_code == 0, csv.err.constData());
      const QStringList lines = QString::fromUtf8(csv.out).split('\n', Qt::SkipEmptyParts);
      QCOMPARE(lines.size(), 1 + heads.size());
      QCOMPARE(lines[0], QString("layer,head,mask,total_variation"));
      for (qsizetype h = 0; h < heads.size(); ++h) {
        const QJsonObject head = heads[h].toObject();
        QCOMPARE(lines[h + 1].section(',', 0, 2), QStringLiteral("%1,%2,%3")
                                                      .arg(head["layer"].toInt())
                                                      .arg(head["head"].toInt())
                                                      .arg(json["mask"].toString()));
        QCOMPARE(lines[h + 1].section(',', 3).toFloat(), float(head["total_variation"].toDouble()));
      }
    }
  }

  void compareTextErrorsAreOneLine_data() {
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("message");
    QTest::newRow("empty") << ""
                           << "--compare-text: the text is empty: type at least one word";
    // 41 bytes, 41 tokens: one more than the model's positions.
    QTest::newRow("too long") << QString(41, 'x')
                              << "--compare-text: the text is 41 tokens, more than the model's 40 positions "
                                 "(n_positions): shorten it";
  }
  void compareTextErrorsAreOneLine() {
    QFETCH(QString, text);
    QFETCH(QString, message);
    const Run run = run_cli({"compute", "--model", m_model, "--text", kText, "--compare-text", text});
    QCOMPARE(run.exit_code, 1);
    QVERIFY(run.out.isEmpty());
    QCOMPARE(QString::fromUtf8(run.err), "attnscope-cli: error: " + message + "\n");
  }

  void aNaNWeightIsAnErrorNotNull() {
    // A NaN weight would print as null, which the schema keeps for hidden cells: the model is refused.
    QTemporaryDir directory;
    const std::filesystem::path dir = directory.filePath("nan").toStdString();
    const Gpt2Config config = write_small_gpt2(dir, 2, 2, 8, 8);
    auto tensors = draw_tensors(gpt2_tensor_rules(config), 1, "F32");
    for (TensorBytes& tensor : tensors)
      if (tensor.name == "h.1.attn.c_attn.weight") {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        tensor.bytes.replace(0, sizeof nan, encode_floats(&nan, 1, "F32"));
      }
    write_file(dir / "model.safetensors", safetensors_file(tensors));
    const Run run = run_cli({"compute", "--model", QString::fromStdString(dir.string()), "--text", "hello"});
    QCOMPARE(run.exit_code, 1);
    QVERIFY(run.out.isEmpty());
    QCOMPARE(
        QString::fromUtf8(run.err),
        QString("attnscope-cli: error: nan/model.safetensors: tensor 'h.1.attn.c_attn.weight' holds NaN at "
                "[0, 0]: a checkpoint's weights must all be finite\n"));
  }
};

QTEST_GUILESS_MAIN(TestCliModel)
#include "test_cli_model.moc"
