// attnscope-cli as outside scripts use it: the compute contract (JSON and CSV), devices, and one-line errors
// with a non-zero exit for every bad input.

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

#include "../support/test_support.hpp"
#include "attnscope/attention.hpp"
#include "attnscope/embeddings.hpp"
#include "attnscope/geometry.hpp"
#include "attnscope/head_stats.hpp"

using namespace attnscope;
using namespace attnscope::testing;

namespace {

struct Run {
  int exit_code = -1;
  QByteArray out, err;
};

Run run_cli(const QStringList& arguments, const QString& ulimit_file_blocks = {}) {
  QProcess process;
  if (ulimit_file_blocks.isEmpty()) {
    process.start(QStringLiteral(ATTNSCOPE_BIN_DIR "/attnscope-cli"), arguments);
  } else {
    QStringList shell_arguments{"-c", "ulimit -f " + ulimit_file_blocks + " && exec \"$0\" \"$@\"",
                                QStringLiteral(ATTNSCOPE_BIN_DIR "/attnscope-cli")};
    process.start("/bin/sh", shell_arguments + arguments);
  }
  if (!process.waitForFinished(30000)) qFatal("attnscope-cli did not finish");
  Run run;
  run.exit_code = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
  run.out = process.readAllStandardOutput();
  run.err = process.readAllStandardError();
  return run;
}

QJsonObject compute_json(const QStringList& arguments) {
  const Run run = run_cli(QStringList{"compute"} + arguments);
  if (run.exit_code != 0) qWarning("%s", run.err.constData());
  return QJsonDocument::fromJson(run.out).object();
}

// The flags of one case of tests/golden/compare.json: A's text and settings, --compare-text B; a file mask is
// written into `directory`.
QStringList compare_flags(const QJsonObject& oracle, const QTemporaryDir& directory) {
  const auto text = [](const QJsonValue& tokens) {
    QStringList words;
    for (const auto& token : tokens.toArray()) words << token.toString();
    return words.join(' ');
  };
  QStringList flags{"--text",           text(oracle["a_tokens"]),
                    "--compare-text",   text(oracle["b_tokens"]),
                    "--mechanism",      oracle["mechanism"].toString(),
                    "--d-in",           QString::number(oracle["d_in"].toInt()),
                    "--d-out",          QString::number(oracle["d_out"].toInt()),
                    "--heads",          QString::number(oracle["n_heads"].toInt()),
                    "--seed",           QString::number(oracle["seed"].toInt()),
                    "--embedding-seed", QString::number(oracle["embedding_seed"].toInt())};
  if (oracle["qkv_bias"].toBool()) flags << "--qkv-bias";
  if (oracle["dropout"].toDouble() > 0) flags << "--dropout" << QString::number(oracle["dropout"].toDouble());
  if (!oracle["dropout_seed"].isNull())
    flags << "--dropout-seed" << QString::number(oracle["dropout_seed"].toInt());
  QString mask = oracle["mask"].toString();
  if (mask == "file") {
    QFile file(directory.filePath(oracle["name"].toString() + ".csv"));
    if (!file.open(QIODevice::WriteOnly)) qFatal("cannot write %s", qPrintable(file.fileName()));
    for (const auto& row : oracle["mask_matrix"].toArray()) {
      QStringList cells;
      for (const auto& cell : row.toArray()) cells << QString::number(cell.toInt());
      file.write(cells.join(' ').toUtf8() + '\n');
    }
    mask = "file:" + file.fileName();
  }
  return flags << "--mask" << mask;
}

QString write_file(const QTemporaryDir& directory, const QString& name, const QByteArray& contents) {
  QFile file(directory.filePath(name));
  if (!file.open(QIODevice::WriteOnly)) qFatal("cannot write %s", qPrintable(file.fileName()));
  file.write(contents);
  return file.fileName();
}

}  // namespace

class TestCli : public QObject {
  Q_OBJECT

 private slots:
  void bookPresetPrintsTheContract() {
    const Run defaults = run_cli({"compute", "--preset", "book"});
    QCOMPARE(defaults.exit_code, 0);
    QVERIFY(defaults.err.isEmpty());
    const QJsonObject simplified = QJsonDocument::fromJson(defaults.out).object();
    QCOMPARE(simplified["mechanism"].toString(), QString("simplified"));  // the chapter's first example
    QCOMPARE(simplified["mask"].toString(), QString("none"));
    QCOMPARE(simplified["heads"].toArray().size(), 1);

    const Run run = run_cli({"compute", "--preset", "book", "--mechanism", "multihead", "--d-out", "4"});
    QCOMPARE(run.exit_code, 0);
    const QJsonObject json = QJsonDocument::fromJson(run.out).object();
    QCOMPARE(json["tokens"].toArray().size(), 6);
    QCOMPARE(json["tokens"].toArray()[1].toString(), QString("journey"));
    QCOMPARE(json["mechanism"].toString(), QString("multihead"));
    QCOMPARE(json["mask"].toString(), QString("causal"));
    QCOMPARE(json["device"].toString(), QString("cpu"));
    const QJsonArray heads = json["heads"].toArray();
    QCOMPARE(heads.size(), 2);
    for (const auto& value : heads) {
      const QJsonObject head = value.toObject();
      for (const char* key : {"queries", "keys", "values", "scale", "scores", "weights", "context"})
        QVERIFY2(head.contains(key), key);
      QVERIFY(!head.contains("dropout_weights"));
      const QJsonArray scores = head["scores"].toArray();
      QVERIFY(scores[0].toArray()[1].isNull());  // masked by the causal mask
      QVERIFY(!scores[1].toArray()[0].isNull());
      QCOMPARE(head["weights"].toArray()[0].toArray()[1].toDouble(), 0.0);
    }
    QCOMPARE(json["output"].toArray().size(), 6);
    QCOMPARE(json["output"].toArray()[0].toArray().size(), 4);
    QCOMPARE(simplified["output"].toArray()[0].toArray().size(), 3);  // d_out defaults to d_in
  }

  void simplifiedMatchesTheBook() {
    const QJsonObject book = read_json_object(golden_path("book-chapter3.json"));
    const QJsonObject json = compute_json({"--preset", "book", "--mechanism", "simplified"});
    const QJsonObject head = json["heads"].toArray()[0].toObject();
    QCOMPARE(head["scale"].toDouble(), 1.0);
    QCOMPARE(head["queries"], book["inputs"]);  // queries = keys = values = the embeddings, printed exactly
    ATTNSCOPE_COMPARE_DECIMALS(to_matrix(head["weights"]), to_matrix(book["simplified"]["weights"]), 5.01e-5,
                               "weights");
    ATTNSCOPE_COMPARE_DECIMALS(to_matrix(json["output"]), to_matrix(book["simplified"]["context"]), 5.01e-5,
                               "context");
  }

  void statsAreTheEnginesOwn() {
    // --stats adds each head's statistics, computed from the weights the same JSON prints.
    const Run run = run_cli({"compute", "--preset", "book", "--mechanism", "multihead", "--d-out", "4",
                             "--heads", "2", "--mask", "window:2", "--stats"});
    QCOMPARE(run.exit_code, 0);
    const QJsonObject json = QJsonDocument::fromJson(run.out).object();
    const QJsonArray heads = json["heads"].toArray();
    QCOMPARE(heads.size(), 2);
    for (const auto& value : heads) {
      const QJsonObject head = value.toObject();
      const Matrix weights = to_matrix(head["weights"]);
      const Matrix scores = to_matrix(head["scores"]);  // null (NaN) where hidden
      const MaskMatrix mask = scores.array().isNaN().cast<std::uint8_t>();
      const HeadStats expected = head_stats(weights, mask);
      const QJsonObject stats = head["stats"].toObject();
      QCOMPARE(stats.keys().size(), 7);
      QCOMPARE(float(stats["entropy_bits"].toDouble()), float(*expected.entropy_bits));
      QCOMPARE(float(stats["normalized_entropy"].toDouble()), float(*expected.normalized_entropy));
      QCOMPARE(float(stats["effective_keys"].toDouble()), float(*expected.effective_keys));
      QCOMPARE(float(stats["max_weight"].toDouble()), float(*expected.max_weight));
      QCOMPARE(float(stats["first_token"].toDouble()), float(*expected.first_token));
      QCOMPARE(float(stats["self"].toDouble()), float(*expected.self));
      QCOMPARE(float(stats["previous_token"].toDouble()), float(*expected.previous_token));
      QVERIFY(*expected.normalized_entropy > 0 && *expected.normalized_entropy <= 1);
    }

    const Run csv = run_cli({"compute", "--preset", "book", "--mechanism", "multihead", "--d-out", "4",
                             "--heads", "2", "--mask", "window:2", "--stats", "--format", "csv"});
    QCOMPARE(csv.exit_code, 0);
    const QStringList lines = QString::fromUtf8(csv.out).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 3);
    QCOMPARE(lines[0], QString("layer,head,mask,entropy_bits,normalized_entropy,effective_keys,max_weight,"
                               "first_token,self,previous_token"));
    for (int h = 0; h < 2; ++h) {
      const QStringList cells = lines[h + 1].split(',');
      QCOMPARE(cells.size(), 10);
      QCOMPARE(cells.mid(0, 3).join(','), QStringLiteral("0,%1,window:2").arg(h));
      QCOMPARE(cells[3].toFloat(), float(heads[h].toObject()["stats"].toObject()["entropy_bits"].toDouble()));
    }

    // One token: no previous token, no row with two keys.
    const Run one = run_cli({"compute", "--text", "alone", "--stats"});
    const QJsonObject stats =
        QJsonDocument::fromJson(one.out).object()["heads"][0].toObject()["stats"].toObject();
    QVERIFY(stats["previous_token"].isNull() && stats["normalized_entropy"].isNull());
    QCOMPARE(stats["self"].toDouble(), 1.0);
  }

  void geometryIsTheEnginesOwn() {
    // --geometry adds each head's 2-D points, computed from the queries and keys the same JSON prints.
    // head_dim 2 (the book's d_out = 2): the vectors themselves, explained null.
    const Run two = run_cli(
        {"compute", "--preset", "book", "--mechanism", "self-attention", "--d-out", "2", "--geometry"});
    QCOMPARE(two.exit_code, 0);
    const QJsonObject head = QJsonDocument::fromJson(two.out).object()["heads"][0].toObject();
    const QJsonObject geometry = head["geometry"].toObject();
    QCOMPARE(geometry.keys(), (QStringList{"explained", "keys_2d", "queries_2d"}));
    QVERIFY(geometry["explained"].isNull());
    QCOMPARE(geometry["queries_2d"], head["queries"]);
    QCOMPARE(geometry["keys_2d"], head["keys"]);

    // The book's default run (simplified, head_dim 3) and multihead with head_dim 4: principal components.
    const QList<QStringList> runs{{"compute", "--preset", "book", "--geometry"},
                                  {"compute", "--preset", "book", "--mechanism", "multihead", "--d-out", "8",
                                   "--heads", "2", "--geometry"}};
    for (const QStringList& arguments : runs) {
      const Run run = run_cli(arguments);
      QCOMPARE(run.exit_code, 0);
      const QJsonArray heads = QJsonDocument::fromJson(run.out).object()["heads"].toArray();
      QVERIFY(!heads.isEmpty());
      for (const auto& value : heads) {
        const QJsonObject printed = value.toObject();
        const Matrix queries = to_matrix(printed["queries"]);
        QVERIFY(queries.cols() == 3 || queries.cols() == 4);
        const HeadGeometry expected = head_geometry(queries, to_matrix(printed["keys"]));
        const QJsonObject got = printed["geometry"].toObject();
        QCOMPARE(got["queries_2d"].toArray().size(), 6);
        QCOMPARE(got["queries_2d"].toArray()[0].toArray().size(), 2);
        ATTNSCOPE_COMPARE_EXACT(to_matrix(got["queries_2d"]), expected.queries_2d, "queries_2d");
        ATTNSCOPE_COMPARE_EXACT(to_matrix(got["keys_2d"]), expected.keys_2d, "keys_2d");
        const QJsonArray explained = got["explained"].toArray();
        QCOMPARE(explained.size(), 2);
        QCOMPARE(float(explained[0].toDouble()), float((*expected.explained)[0]));
        QCOMPARE(float(explained[1].toDouble()), float((*expected.explained)[1]));
        QVERIFY(explained[0].toDouble() >= explained[1].toDouble() && explained[1].toDouble() > 0);
      }
    }

    // One token of the simplified mechanism: its query is its key, no variance: zeros, not NaN.
    const Run one = run_cli({"compute", "--text", "alone", "--geometry"});
    QCOMPARE(one.exit_code, 0);
    const QJsonObject alone =
        QJsonDocument::fromJson(one.out).object()["heads"][0].toObject()["geometry"].toObject();
    QCOMPARE(alone["explained"].toArray().size(), 2);
    QCOMPARE(alone["explained"][0].toDouble(), 0.0);
    QCOMPARE(alone["explained"][1].toDouble(), 0.0);
    ATTNSCOPE_COMPARE_EXACT(to_matrix(alone["queries_2d"]), Matrix(Matrix::Zero(1, 2)), "queries_2d");
    ATTNSCOPE_COMPARE_EXACT(to_matrix(alone["keys_2d"]), Matrix(Matrix::Zero(1, 2)), "keys_2d");
  }

  // --compare-text against the oracle, which ran both texts through PyTorch: B's tokens, m, and per head the
  // mask A ran under, A − B and the total variation; and the same heads as CSV lines.
  void compareTextMatchesTheOracle() {
    const QJsonArray cases = read_json_object(golden_path("compare.json"))["mechanisms"].toArray();
    QVERIFY(cases.size() >= 7);
    QTemporaryDir directory;
    for (const auto& value : cases) {
      const QJsonObject oracle = value.toObject();
      const QString name = oracle["name"].toString();
      const QStringList flags = compare_flags(oracle, directory);
      const Run run = run_cli(QStringList{"compute"} + flags);
      QVERIFY2(run.exit_code == 0 && run.err.isEmpty(), run.err.constData());
      const QJsonObject json = QJsonDocument::fromJson(run.out).object();
      const QJsonObject compare = json["compare"].toObject();
      QCOMPARE(compare.keys(), (QStringList{"aligned", "heads", "tokens"}));
      QCOMPARE(compare["tokens"], oracle["b_tokens"]);
      QCOMPARE(compare["aligned"].toInt(), oracle["aligned"].toInt());
      const QJsonArray heads = compare["heads"].toArray(), expected = oracle["heads"].toArray();
      QCOMPARE(heads.size(), expected.size());
      QCOMPARE(heads.size(), json["heads"].toArray().size());
      for (qsizetype h = 0; h < heads.size(); ++h) {
        const QJsonObject head = heads[h].toObject(), want = expected[h].toObject();
        const QString label = QStringLiteral("%1 head %2").arg(name).arg(h);
        QCOMPARE(head.keys(), (QStringList{"head", "layer", "mask", "total_variation", "weights_diff"}));
        QCOMPARE(head["layer"].toInt(), 0);
        QCOMPARE(head["head"].toInt(), want["head"].toInt());
        QCOMPARE(head["mask"].toString(), json["mask"].toString());
        ATTNSCOPE_COMPARE_DECIMALS(to_matrix(head["weights_diff"]), to_matrix(want["weights_diff"]), 1e-6,
                                   label);
        QVERIFY2(std::abs(head["total_variation"].toDouble() - want["total_variation"].toDouble()) <= 1e-6,
                 qPrintable(label));
      }

      const Run csv = run_cli(QStringList{"compute"} + flags + QStringList{"--format", "csv"});
      QVERIFY2(csv.exit_code == 0, csv.err.constData());
      const QStringList lines = QString::fromUtf8(csv.out).split('\n', Qt::SkipEmptyParts);
      QCOMPARE(lines.size(), 1 + heads.size());
      QCOMPARE(lines[0], QString("layer,head,mask,total_variation"));
      for (qsizetype h = 0; h < heads.size(); ++h) {
        const QStringList cells = lines[h + 1].split(',');
        QCOMPARE(cells.size(), 4);
        QCOMPARE(cells.mid(0, 2).join(','), QStringLiteral("0,%1").arg(h));
        QVERIFY(cells[2] == json["mask"].toString() || cells[2] == '"' + json["mask"].toString() + '"');
        QCOMPARE(cells[3].toFloat(), float(heads[h].toObject()["total_variation"].toDouble()));
      }
    }
  }

  void compareTextKeepsTheRestOfTheOutput() {
    // A's own output is what it is without --compare-text; the same text as B differs nowhere.
    const QStringList book{"compute", "--preset", "book", "--mechanism", "multihead", "--d-out", "4"};
    const QJsonObject alone = QJsonDocument::fromJson(run_cli(book).out).object();
    const Run run = run_cli(book + QStringList{"--compare-text", "Your journey starts with one step"});
    QCOMPARE(run.exit_code, 0);
    QJsonObject json = QJsonDocument::fromJson(run.out).object();
    const QJsonObject compare = json.take("compare").toObject();
    QCOMPARE(json, alone);
    QCOMPARE(compare["aligned"].toInt(), 6);
    for (const auto& head : compare["heads"].toArray()) {
      QCOMPARE(head.toObject()["total_variation"].toDouble(), 0.0);
      QCOMPARE(head.toObject()["mask"].toString(), QString("causal"));
      QVERIFY(to_matrix(head.toObject()["weights_diff"]).isZero(0.0));
    }
  }

  void probeSortsEveryHead() {
    const Run run = run_cli({"compute", "--preset", "book", "--mechanism", "multihead-wrapper", "--heads",
                             "3", "--d-out", "2", "--probe", "5:1"});
    QCOMPARE(run.exit_code, 0);
    const QJsonObject json = QJsonDocument::fromJson(run.out).object();
    const QJsonArray hits = json["probe"].toArray();
    QCOMPARE(hits.size(), 3);
    QSet<int> seen;
    for (qsizetype i = 0; i < hits.size(); ++i) {
      const QJsonObject hit = hits[i].toObject();
      QCOMPARE(hit["layer"].toInt(), 0);
      const int h = hit["head"].toInt();
      seen.insert(h);
      const Matrix weights = to_matrix(json["heads"][h].toObject()["weights"]);
      QCOMPARE(float(hit["weight"].toDouble()), weights(5, 1));
      QCOMPARE(hit["rank"].toInt(), 1 + int((weights.row(5).array() > weights(5, 1)).count()));
      if (i > 0) QVERIFY(hits[i - 1].toObject()["weight"].toDouble() >= hit["weight"].toDouble());
    }
    QCOMPARE(seen, (QSet<int>{0, 1, 2}));
  }

  void probeRefusesBadIndices_data() {
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("message");
    QTest::newRow("not a pair") << QStringList{"--probe", "5"} << "--probe '5': expected QUERY:KEY";
    QTest::newRow("not numbers") << QStringList{"--probe", "it:animal"} << "--probe 'it:animal': expected";
    QTest::newRow("negative") << QStringList{"--probe", "-1:0"} << "--probe '-1:0': expected";
    QTest::newRow("query past the text")
        << QStringList{"--probe", "6:0"}
        << "--probe '6:0': token 6 does not exist: the text has tokens 0 to 5";
    QTest::newRow("key past the text")
        << QStringList{"--probe", "0:60"} << "--probe '0:60': token 60 does not exist";
    QTest::newRow("csv") << QStringList{"--probe", "1:0", "--format", "csv"} << "drop --format csv";
  }
  void probeRefusesBadIndices() {
    QFETCH(QStringList, arguments);
    QFETCH(QString, message);
    const Run run = run_cli(QStringList{"compute", "--preset", "book"} + arguments);
    QCOMPARE(run.exit_code, 1);
    QVERIFY(run.out.isEmpty());
    QVERIFY2(QString::fromUtf8(run.err).contains(message), run.err.constData());
    QCOMPARE(run.err.count('\n'), 1);
  }

  void rolloutNeedsAModel() {
    const Run run = run_cli({"compute", "--preset", "book", "--rollout"});
    QCOMPARE(run.exit_code, 2);
    QVERIFY2(run.err.contains("--rollout requires --model"), run.err.constData());
  }

  void numbersRoundTripFloat32() {
    // Every printed number reads back as exactly the float32 the engine computed.
    const Run run = run_cli({"compute", "--preset", "book", "--mechanism", "multihead", "--d-out", "4"});
    QCOMPARE(run.exit_code, 0);
    QVERIFY(run.out.contains("\"scale\":0.70710677,"));  // shortest text for (float)1/√2
    const QJsonObject json = QJsonDocument::fromJson(run.out).object();
    attnscope::AttentionConfig config;
    config.d_out = 4;
    const attnscope::AttentionResult result =
        attnscope::compute_attention(config, attnscope::book_preset().embeddings);
    const QJsonArray heads = json["heads"].toArray();
    for (int h = 0; h < 2; ++h) {
      const QJsonObject head = heads[h].toObject();
      const auto& expected = result.heads[std::size_t(h)];
      const auto read_back = [](const QJsonValue& value) {
        return to_matrix(value).cast<double>().cast<float>().eval();
      };
      ATTNSCOPE_COMPARE_EXACT(read_back(head["weights"]), expected.weights, "weights");
      ATTNSCOPE_COMPARE_EXACT(read_back(head["queries"]), expected.queries, "queries");
      ATTNSCOPE_COMPARE_EXACT(read_back(head["context"]), expected.context, "context");
    }
    ATTNSCOPE_COMPARE_EXACT(to_matrix(json["output"]), result.output, "output");
  }

  void dropoutAndSeedsReachTheEngine() {
    const QJsonObject json = compute_json({"--preset", "book", "--mechanism", "causal", "--d-out", "2",
                                           "--dropout", "0.5", "--dropout-seed", "123"});
    const QJsonArray dropped = json["heads"].toArray()[0].toObject()["dropout_weights"].toArray();
    QCOMPARE(dropped.size(), 6);
    const QJsonObject again = compute_json({"--preset", "book", "--mechanism", "causal", "--d-out", "2",
                                            "--dropout", "0.5", "--dropout-seed", "123"});
    QCOMPARE(again, json);
    const QJsonObject other_seed = compute_json({"--preset", "book", "--mechanism", "causal", "--d-out", "2",
                                                 "--dropout", "0.5", "--dropout-seed", "7"});
    QVERIFY(other_seed["heads"] != json["heads"]);
  }

  void textWithSeededEmbeddings() {
    const QJsonObject json =
        compute_json({"--text", "the cat saw the dog", "--mechanism", "multihead-wrapper", "--heads", "3",
                      "--d-in", "4", "--d-out", "2", "--seed", "7"});
    QCOMPARE(json["tokens"].toArray().size(), 5);
    QCOMPARE(json["heads"].toArray().size(), 3);
    QCOMPARE(json["output"].toArray()[0].toArray().size(), 6);  // H·d_out wide
    const QJsonArray queries = json["heads"].toArray()[0].toObject()["queries"].toArray();
    QCOMPARE(queries[0], queries[3]);  // "the" twice shares an embedding row
  }

  void tokenizersAndUnicode() {
    const QJsonObject words =
        compute_json({"--text", "Hello, world!", "--tokenizer", "words", "--mechanism", "simplified"});
    QCOMPARE(words["tokens"].toArray().size(), 4);
    const QJsonObject chars =
        compute_json({"--text", "né👍🏽", "--tokenizer", "chars", "--mechanism", "simplified"});
    QCOMPARE(chars["tokens"].toArray().size(), 3);
    QCOMPARE(chars["tokens"].toArray()[2].toString(), QString::fromUtf8("👍🏽"));
  }

  void embeddingsFileWithoutText() {
    QTemporaryDir directory;
    const QString csv = write_file(directory, "emb.csv", "1,0\n0,1\n1,1\n");
    const QJsonObject json = compute_json({"--embeddings", csv, "--mechanism", "simplified"});
    QCOMPARE(json["tokens"].toArray(), QJsonArray({"t0", "t1", "t2"}));
    QCOMPARE(json["heads"].toArray()[0].toObject()["scores"].toArray()[2], QJsonArray({1, 1, 2}));
  }

  void masksAndNormalization() {
    const QJsonObject window =
        compute_json({"--preset", "book", "--mechanism", "self-attention", "--mask", "window:2"});
    QCOMPARE(window["mask"].toString(), QString("window:2"));
    const QJsonArray row = window["heads"].toArray()[0].toObject()["scores"].toArray()[3].toArray();
    QVERIFY(row[0].isNull() && row[1].isNull() && !row[2].isNull() && !row[3].isNull() && row[4].isNull());
    const QJsonObject sum =
        compute_json({"--preset", "book", "--mechanism", "simplified", "--normalize", "sum"});
    const double expected = read_json_object(golden_path("book-chapter3.json"))["simplified"]
                                .toObject()["sum_normalized_row_2"]
                                .toArray()[0]
                                .toDouble();
    QVERIFY(std::abs(sum["heads"].toArray()[0].toObject()["weights"].toArray()[1].toArray()[0].toDouble() -
                     expected) < 5.01e-5);
  }

  void csvFormatAndOutputFile() {
    QTemporaryDir directory;
    const QString path = directory.filePath("out.csv");
    const Run run = run_cli({"compute", "--preset", "book", "--mechanism", "multihead", "--d-out", "4",
                             "--format", "csv", "--output", path});
    QCOMPARE(run.exit_code, 0);
    QVERIFY(run.out.isEmpty());
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = file.readAll().split('\n');
    QCOMPARE(lines[0], QByteArray("head,query,query_token,key,key_token,masked,score,scaled_score,weight"));
    QCOMPARE(lines.size(), 1 + 2 * 36 + 1);  // header, 2 heads × 36 cells, final newline
    QVERIFY(lines[2].startsWith("0,0,Your,1,journey,1,"));
  }

  void devicesListsEveryBackend() {
    const Run run = run_cli({"devices"});
    QCOMPARE(run.exit_code, 0);
    QVERIFY(run.out.contains("cpu\tavailable\tEigen 3.4"));
    QVERIFY(run.out.contains("cuda\t"));
  }

  // README: "a non-zero exit status (2 for unusable flags, 1 for bad values or files)". Unusable flags are
  // the ones the command-line parser itself refuses: an unknown flag, a missing subcommand or value, a value
  // that is not of the flag's type or not one of its fixed choices (--device, --format, --tokenizer,
  // --normalize, --preset) or out of its range (--max-tokens). Everything refused after parsing (values the
  // engine checks, including --mechanism and --mask names, files, devices, limits) exits 1.
  void badInputsFailWithOneLine_data() {
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<int>("exitCode");
    QTest::addColumn<QString>("message");
    const QString book = "--preset=book";
    constexpr int flag = 2, value = 1;
    QTest::newRow("unknown flag") << QStringList{"compute", book, "--bogus"} << flag << "--bogus";
    QTest::newRow("no subcommand") << QStringList{} << flag << "subcommand";
    QTest::newRow("missing value") << QStringList{"compute", book, "--heads"} << flag << "--heads";
    QTest::newRow("unknown mechanism")
        << QStringList{"compute", book, "--mechanism", "lstm"} << value << "unknown mechanism 'lstm'";
    QTest::newRow("heads not dividing")
        << QStringList{"compute", book, "--mechanism", "multihead", "--heads", "2", "--d-out", "3"} << value
        << "must divide d_out";
    QTest::newRow("zero heads") << QStringList{"compute", book, "--mechanism", "multihead", "--heads", "0"}
                                << value << "heads must be at least 1";
    QTest::newRow("negative heads") << QStringList{"compute",           book,      "--mechanism",
                                                   "multihead-wrapper", "--heads", "-1"}
                                    << value << "heads must be at least 1";
    QTest::newRow("zero d-out") << QStringList{"compute", book, "--d-out", "0"} << value
                                << "--d-out must be at least 1";
    QTest::newRow("zero d-in") << QStringList{"compute", "--text", "a b", "--d-in", "0"} << value
                               << "--d-in must be at least 1";
    QTest::newRow("huge d-in") << QStringList{"compute", "--text", "a", "--d-in", "2000000000"} << value
                               << "--d-in must be at most 4096 (got 2000000000)";
    QTest::newRow("huge d-out") << QStringList{"compute", book, "--d-out", "2000000000"} << value
                                << "--d-out must be at most 4096 (got 2000000000)";
    QTest::newRow("huge heads") << QStringList{"compute",           book,      "--mechanism",
                                               "multihead-wrapper", "--heads", "2000000000"}
                                << value << "--heads must be at most 256 (got 2000000000)";
    QTest::newRow("control characters in a value")
        << QStringList{"compute", book, "--mechanism", "multi\x1b[2J\u202ehead"} << value
        << "unknown mechanism 'multi\\x1b[2J\\u202ehead'";
    QTest::newRow("control characters in a flag")
        << QStringList{"compute", book, "--bogus\x1b[2J"} << flag << "--bogus\\x1b[2J";
    QTest::newRow("d-in not a number")
        << QStringList{"compute", "--text", "a b", "--d-in", "x"} << flag << "--d-in";
    QTest::newRow("dropout 1") << QStringList{"compute", book, "--mechanism", "causal", "--dropout", "1"}
                               << value << "dropout must be in [0, 1)";
    QTest::newRow("dropout negative")
        << QStringList{"compute", book, "--mechanism", "causal", "--dropout", "-0.5"} << value
        << "dropout must be in [0, 1)";
    QTest::newRow("dropout nan") << QStringList{"compute", book, "--mechanism", "causal", "--dropout", "nan"}
                                 << value << "dropout";
    QTest::newRow("empty text") << QStringList{"compute", "--text", ""} << value << "the text is empty";
    QTest::newRow("whitespace text") << QStringList{"compute", "--text", " \t\n "} << value
                                     << "the text is empty";
    QTest::newRow("nothing") << QStringList{"compute"} << value
                             << "--text TEXT, --preset book or --embeddings FILE";
    QTest::newRow("preset and text") << QStringList{"compute", book, "--text", "a"} << value
                                     << "--preset book brings";
    QTest::newRow("missing embeddings")
        << QStringList{"compute", "--embeddings", "/nonexistent/e.npy"} << value << "e.npy";
    QTest::newRow("bad mask") << QStringList{"compute", book, "--mask", "window:0"} << value << "W >= 1";
    QTest::newRow("unknown mask") << QStringList{"compute", book, "--mask", "upper"} << value
                                  << "unknown mask";
    QTest::newRow("missing mask file")
        << QStringList{"compute", book, "--mask", "file:/nonexistent/m.csv"} << value << "m.csv";
    QTest::newRow("unwritable output")
        << QStringList{"compute", book, "--output", "/nonexistent/dir/out.json"} << value
        << "cannot write /nonexistent/dir/out.json";
    QTest::newRow("cuda without device")
        << QStringList{"compute", book, "--device", "cuda"} << value << "CUDA";
    QTest::newRow("unknown device") << QStringList{"compute", book, "--device", "tpu"} << flag << "--device";
    QTest::newRow("unknown format") << QStringList{"compute", book, "--format", "xml"} << flag << "--format";
    QTest::newRow("unknown tokenizer")
        << QStringList{"compute", "--text", "a", "--tokenizer", "bpe"} << flag << "--tokenizer";
    QTest::newRow("unknown normalization")
        << QStringList{"compute", book, "--normalize", "max"} << flag << "--normalize";
    QTest::newRow("unknown preset") << QStringList{"compute", "--preset", "novel"} << flag << "--preset";
    QTest::newRow("zero max-tokens") << QStringList{"compute", book, "--max-tokens", "0"} << flag
                                     << "--max-tokens: Value 0 not in range 1 to 2147483647";
    QTest::newRow("token limit") << QStringList{"compute", book, "--max-tokens", "5"} << value
                                 << "6 tokens is more than the limit of 5";
    QTest::newRow("geometry as csv")
        << QStringList{"compute", book, "--geometry", "--format", "csv"} << value
        << "--geometry adds to the JSON (2-D points per head): drop --format csv";
    QTest::newRow("compare text empty") << QStringList{"compute", book, "--compare-text", ""} << value
                                        << "--compare-text: the text is empty: type at least one word";
    QTest::newRow("compare text without tokens")
        << QStringList{"compute", "--text", "a b", "--compare-text", " \t "} << value
        << "--compare-text: the text is empty: type at least one word";
    QTest::newRow("compare text empty with embeddings only")
        << QStringList{"compute", "--embeddings", QStringLiteral(ATTNSCOPE_TEST_DATA_DIR "/emb_book.csv"),
                       "--compare-text", ""}
        << value << "--compare-text: the text is empty: type at least one word";
    QTest::newRow("compare text too long")
        << QStringList{"compute", "--text", "a b c", "--max-tokens", "3", "--compare-text", "a b c d"}
        << value << "--compare-text: 4 tokens is more than the limit of 3 (--max-tokens 3)";
    QTest::newRow("compare text against the embeddings file")
        << QStringList{"compute", "--embeddings", QStringLiteral(ATTNSCOPE_TEST_DATA_DIR "/emb_book.csv"),
                       "--compare-text", "a b"}
        << value
        << "--compare-text: " ATTNSCOPE_TEST_DATA_DIR "/emb_book.csv has 6 rows but the text has 2 tokens";
    QTest::newRow("compare text with stats as csv")
        << QStringList{"compute", book, "--compare-text", "a b", "--stats", "--format", "csv"} << value
        << "--stats and --compare-text each print one line per head with --format csv";
    QTest::newRow("d-in mismatch") << QStringList{"compute", book, "--d-in", "4"} << value
                                   << "does not match";
  }
  void badInputsFailWithOneLine() {
    QFETCH(QStringList, arguments);
    QFETCH(int, exitCode);
    QFETCH(QString, message);
    if (QTest::currentDataTag() == QByteArray("cuda without device") &&
        run_cli({"devices"}).out.contains("cuda\tavailable")) {
      // A CUDA device is present here: --device cuda is then good input.
      const Run run = run_cli(arguments);
      QCOMPARE(run.exit_code, 0);
      QCOMPARE(QJsonDocument::fromJson(run.out).object()["device"].toString(), QString("cuda"));
      return;
    }
    const Run run = run_cli(arguments);
    if (run.exit_code != exitCode) qWarning("%s", run.err.constData());
    QCOMPARE(run.exit_code, exitCode);
    QVERIFY(run.out.isEmpty());
    const QString error = QString::fromUtf8(run.err);
    QVERIFY2(error.startsWith("attnscope-cli: error: "), qPrintable(error));
    QVERIFY2(error.count('\n') == 1 && error.endsWith('\n'), qPrintable(error));
    QVERIFY2(error.contains(message), qPrintable(error));
  }

  // README: "More than --max-tokens tokens (default 16,384) is refused with a message". Computing 16,384
  // tokens would take gigabytes, so the run at the limit stops at the next check after the limit's: a mask
  // file too small for the text (read only once the token count has passed), which no run over the limit
  // reaches.
  void maxTokensDefaultsTo16384() {
    QTemporaryDir directory;
    const QString mask = write_file(directory, "mask.csv", "0\n");
    const auto words = [](int count) {
      QStringList list;
      for (int i = 0; i < count; ++i) list << "a";
      return list.join(' ');
    };
    const QStringList flags{"--mechanism", "simplified", "--d-in", "1", "--mask", "file:" + mask};

    const Run over = run_cli(QStringList{"compute", "--text", words(16385)} + flags);
    QCOMPARE(over.exit_code, 1);
    QVERIFY(over.out.isEmpty());
    QVERIFY2(over.err.startsWith("attnscope-cli: error: 16385 tokens is more than the limit of 16384"),
             over.err.constData());
    QCOMPARE(over.err.count('\n'), 1);

    const Run at = run_cli(QStringList{"compute", "--text", words(16384)} + flags);
    QCOMPARE(at.exit_code, 1);
    QVERIFY2(!at.err.contains("limit"), at.err.constData());
    QVERIFY2(at.err.contains("is 1×1 but the text has 16384 tokens"), at.err.constData());

    // A smaller limit, computed on both sides of it.
    const Run small_at = run_cli({"compute", "--text", words(8), "--max-tokens", "8"});
    QCOMPARE(small_at.exit_code, 0);
    QCOMPARE(QJsonDocument::fromJson(small_at.out).object()["tokens"].toArray().size(), 8);
    const Run small_over = run_cli({"compute", "--text", words(9), "--max-tokens", "8"});
    QCOMPARE(small_over.exit_code, 1);
    QVERIFY2(small_over.err.contains("9 tokens is more than the limit of 8"), small_over.err.constData());
  }

  // README: a query whose every key is masked (only a mask file can do that) gets an all-zero weights row
  // and a zero context vector, and is listed in empty_rows.
  void emptyRowsListsTheFullyMaskedQueries_data() {
    QTest::addColumn<QByteArray>("mask");
    QTest::addColumn<QList<int>>("empty");
    QTest::newRow("none empty") << QByteArray("0,1,1,1\n0,0,1,1\n0,0,0,1\n0,0,0,0\n") << QList<int>{};
    QTest::newRow("row 1") << QByteArray("0,1,1,1\n1,1,1,1\n0,0,0,1\n0,0,0,0\n") << QList<int>{1};
    QTest::newRow("rows 0 and 3, file larger than n")
        << QByteArray("1,1,1,1,0\n0,0,1,1,0\n0,1,0,1,0\n1,1,1,1,0\n0,0,0,0,0\n") << QList<int>{0, 3};
  }
  void emptyRowsListsTheFullyMaskedQueries() {
    QFETCH(QByteArray, mask);
    QFETCH(QList<int>, empty);
    QTemporaryDir directory;
    const QString path = write_file(directory, "mask.csv", mask);
    const Run run = run_cli({"compute", "--text", "one two three four", "--mechanism", "multihead", "--heads",
                             "2", "--d-in", "4", "--d-out", "4", "--mask", "file:" + path});
    QCOMPARE(run.exit_code, 0);
    const QJsonObject json = QJsonDocument::fromJson(run.out).object();
    QVERIFY(json["empty_rows"].isArray());
    QJsonArray expected;
    for (const int row : empty) expected.append(row);
    QCOMPARE(json["empty_rows"].toArray(), expected);
    const QJsonArray heads = json["heads"].toArray();
    QCOMPARE(heads.size(), 2);
    for (const auto& value : heads) {
      const QJsonObject head = value.toObject();
      const Matrix weights = to_matrix(head["weights"]);
      const Matrix context = to_matrix(head["context"]);
      const Matrix scores = to_matrix(head["scores"]);
      QCOMPARE(weights.rows(), 4);
      QCOMPARE(context.rows(), 4);
      for (int row = 0; row < 4; ++row) {
        const bool isEmpty = empty.contains(row);
        QVERIFY2(isEmpty == scores.row(row).array().isNaN().all(), qPrintable(QString::number(row)));
        if (isEmpty) {
          QVERIFY2(weights.row(row).isZero(0) && context.row(row).isZero(0),
                   qPrintable(QString::number(row)));
        } else {
          QVERIFY(std::abs(weights.row(row).sum() - 1.0f) < 1e-5f);
          QVERIFY(context.row(row).allFinite());
        }
      }
    }
  }

  void invalidUtf8TextIsRefused() {
    // QProcess passes QString arguments as UTF-8, so the raw byte 0xE9 goes through the shell.
    QProcess process;
    process.start("/bin/sh", {"-c", "exec \"$0\" compute --text \"$(printf 'caf\\351 au lait')\"",
                              QStringLiteral(ATTNSCOPE_BIN_DIR "/attnscope-cli")});
    QVERIFY(process.waitForFinished(30000));
    QCOMPARE(process.exitCode(), 1);
    const QByteArray error = process.readAllStandardError();
    QVERIFY2(error.contains("not valid UTF-8 at byte 3"), error.constData());
    QCOMPARE(error.count('\n'), 1);
  }

  void badEmbeddingsFiles_data() {
    QTest::addColumn<QByteArray>("contents");
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("message");
    QTest::newRow("nan") << QByteArray("1,2\nnan,3\n") << "e.csv"
                         << "NaN";
    QTest::newRow("inf") << QByteArray("1,2\ninf,3\n") << "e.csv"
                         << "Inf";
    QTest::newRow("ragged") << QByteArray("1,2\n3\n") << "e.csv"
                            << "line 2";
    QTest::newRow("not numbers") << QByteArray("1,2\nx,y\n") << "e.csv"
                                 << "not a number";
    QTest::newRow("truncated npy") << QByteArray("\x93NUMPY\x01\x00") << "e.npy"
                                   << "e.npy";
    QTest::newRow("rows mismatch") << QByteArray("1,2\n3,4\n") << "rows.csv"
                                   << "one row per token";
  }
  void badEmbeddingsFiles() {
    QFETCH(QByteArray, contents);
    QFETCH(QString, name);
    QFETCH(QString, message);
    QTemporaryDir directory;
    const QString path = write_file(directory, name, contents);
    QStringList arguments{"compute", "--embeddings", path, "--mechanism", "simplified"};
    if (name == "rows.csv")
      arguments << "--text"
                << "three tokens here";
    const Run run = run_cli(arguments);
    QCOMPARE(run.exit_code, 1);
    QVERIFY2(QString::fromUtf8(run.err).contains(message), run.err.constData());
    QCOMPARE(QString::fromUtf8(run.err).count('\n'), 1);
  }

  void failedWriteKeepsThePreviousFile() {
    QTemporaryDir directory;
    const QString path = write_file(directory, "out.json", "previous contents\n");
    // 1 block of 512 bytes: the JSON for 6 tokens and 2 heads is larger, so the write fails part-way.
    const Run run = run_cli({"compute", "--preset", "book", "--output", path}, "1");
    QCOMPARE(run.exit_code, 1);
    QVERIFY2(run.err.contains("cannot write") && run.err.contains("File too large"), run.err.constData());
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(file.readAll(), QByteArray("previous contents\n"));
    QCOMPARE(QDir(directory.path()).entryList(QDir::Files | QDir::Hidden).size(), 1);  // no temporary left
  }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
