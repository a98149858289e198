// One definition of a computation: the same flags through attnscope-cli compute (the binary) and through the
// window (ViewSettings → ComputeController's worker → snapshot) give the same numbers, bit for bit; and the
// headless `attnscope` reads the same flags into the same request.

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <memory>

#include "attnscope/embeddings.hpp"
#include "compute/compute_controller.hpp"
#include "gui/command_line.hpp"
#include "support/compute_flags.hpp"
#include "support/test_support.hpp"
#include "ui_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;
using attnscope::testing::to_matrix;

namespace {

QJsonObject runCli(const QStringList& flags) {
  QProcess process;
  process.start(QStringLiteral(ATTNSCOPE_BIN_DIR "/attnscope-cli"), QStringList{"compute"} + flags);
  if (!process.waitForFinished(60000)) qFatal("attnscope-cli did not finish");
  if (process.exitCode() != 0) qWarning("%s", process.readAllStandardError().constData());
  return QJsonDocument::fromJson(process.readAllStandardOutput()).object();
}

// The flags as attnscope-cli's parser reads them, applied to the request's own defaults.
ComputeRequest requestOf(const QStringList& flags) {
  CLI::App app;
  cli::ComputeFlags parsed;
  cli::add_compute_options(app, parsed, /*with_mask=*/true);
  std::vector<std::string> reversed;
  for (auto it = flags.rbegin(); it != flags.rend(); ++it) reversed.push_back(it->toStdString());
  app.parse(reversed);
  return cli::apply_flags(parsed, ComputeRequest{});
}

// The window computing `request`: its settings take the request, and the grid's one mask row is the one
// attnscope-cli uses (the mechanism's own when the request names none).
SnapshotPointer windowSnapshot(const ComputeRequest& request) {
  ViewSettings settings = ViewSettings::defaults();
  settings.setRequest(request);
  if (settings.masks.empty()) settings.masks = {default_mask(request.mechanism)};
  ComputeController controller;
  QSignalSpy ready(&controller, &ComputeController::snapshotReady);
  QSignalSpy failed(&controller, &ComputeController::failed);
  controller.requestNow(settings);
  if (!attnscope::ui::testing::waitForIdle(&controller) || ready.count() != 1) {
    if (!failed.isEmpty()) qWarning("%s", qPrintable(failed.first().at(1).toString()));
    return nullptr;
  }
  return ready.first().first().value<SnapshotPointer>();
}

// The matrix with −0 written as +0 (x + 0 is +0 for both zeros and x otherwise). The window's worker computes
// every mask row through compute_attention_masks, attnscope-cli one mask through compute_attention; the two
// give the same bits except the sign of some exact zeros (masked weights under sum normalisation, a context
// cell whose every contribution was dropped), which is the engine's, not the request's.
Matrix unsignedZeros(const Matrix& matrix) {
  return (matrix.array() + 0.0f).matrix();
}

}  // namespace

class TestRequestAgreement : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QVERIFY(m_directory.isValid());
    m_embeddings =
        attnscope::testing::write_test_file(QDir(m_directory.path()), QStringLiteral("emb.csv"),
                                            "0.5,-1,2,0.25\n1,0,1,-0.5\n-2,0.75,0,1\n0.1,0.2,0.3,0.4\n");
    m_mask = attnscope::testing::write_test_file(QDir(m_directory.path()), QStringLiteral("mask.csv"),
                                                 "0,1,1,0\n0,0,1,1\n1,0,0,0\n0,0,0,0\n");
  }

  void theCliAndTheWindowComputeTheSameNumbers_data() {
    QTest::addColumn<QStringList>("flags");
    QTest::newRow("book preset, default mechanism") << QStringList{"--preset", "book"};
    QTest::newRow("book preset, multihead")
        << QStringList{"--preset", "book", "--mechanism", "multihead", "--d-out", "4"};
    QTest::newRow("seeded text, multihead-wrapper") << QStringList{"--text",      "the cat saw the dog",
                                                                   "--mechanism", "multihead-wrapper",
                                                                   "--heads",     "3",
                                                                   "--d-in",      "4",
                                                                   "--d-out",     "2",
                                                                   "--seed",      "7"};
    QTest::newRow("seeded text, embedding seed, words")
        << QStringList{"--text", "Hello, world! Hello.", "--tokenizer",   "words", "--embedding-seed",
                       "99",     "--mechanism",          "self-attention"};
    QTest::newRow("embeddings file with text") << QStringList{
        "--text", "w x y z", "--embeddings", "EMB", "--mechanism", "self-attention-v1", "--d-out", "3"};
    QTest::newRow("embeddings file alone") << QStringList{"--embeddings", "EMB", "--mechanism", "causal"};
    QTest::newRow("causal with dropout")
        << QStringList{"--preset", "book",      "--mechanism", "causal",         "--d-out",
                       "2",        "--dropout", "0.5",         "--dropout-seed", "123"};
    QTest::newRow("multihead, dropout, bias, window mask")
        << QStringList{"--text", "a b c d e f g", "--mechanism", "multihead", "--heads", "2",       "--d-in",
                       "6",      "--qkv-bias",    "--dropout",   "0.25",      "--mask",  "window:3"};
    QTest::newRow("prefix mask, sum normalisation") << QStringList{
        "--preset", "book", "--mechanism", "self-attention", "--mask", "prefix:2", "--normalize", "sum"};
    QTest::newRow("mask file") << QStringList{"--text", "one two three four", "--mechanism", "simplified",
                                              "--mask", "file:MASK"};
    QTest::newRow("no mask on a non-causal mechanism, d_out default")
        << QStringList{"--text", "x y x", "--mechanism", "self-attention", "--d-in", "5"};
  }

  void theCliAndTheWindowComputeTheSameNumbers() {
    QFETCH(QStringList, flags);
    flags.replaceInStrings(QStringLiteral("EMB"), m_embeddings);
    flags.replaceInStrings(QStringLiteral("MASK"), m_mask);
    const QJsonObject cli = runCli(flags);
    QVERIFY2(!cli.isEmpty(), qPrintable(flags.join(' ')));
    const SnapshotPointer window = windowSnapshot(requestOf(flags));
    QVERIFY(window);

    QJsonArray tokens;
    for (const Token& token : window->tokens) tokens.append(QString::fromStdString(token.text));
    QCOMPARE(tokens, cli["tokens"].toArray());
    QCOMPARE(window->rows.size(), std::size_t{1});
    const MaskedResult& row = window->rows.front();
    QCOMPARE(QString::fromStdString(row.mask.to_string()), cli["mask"].toString());
    const QJsonArray heads = cli["heads"].toArray();
    QCOMPARE(row.result->heads.size(), std::size_t(heads.size()));
    for (qsizetype h = 0; h < heads.size(); ++h) {
      const QJsonObject head = heads[h].toObject();
      const HeadResult& computed = row.result->heads[std::size_t(h)];
      QCOMPARE(computed.scale, float(head["scale"].toDouble()));
      ATTNSCOPE_COMPARE_EXACT(computed.queries, to_matrix(head["queries"]), "queries");
      ATTNSCOPE_COMPARE_EXACT(computed.keys, to_matrix(head["keys"]), "keys");
      ATTNSCOPE_COMPARE_EXACT(computed.values, to_matrix(head["values"]), "values");
      ATTNSCOPE_COMPARE_EXACT(unsignedZeros(computed.weights), unsignedZeros(to_matrix(head["weights"])),
                              "weights");
      ATTNSCOPE_COMPARE_EXACT(unsignedZeros(computed.context), unsignedZeros(to_matrix(head["context"])),
                              "context");
      QCOMPARE(head.contains("dropout_weights"), computed.dropout_weights.has_value());
      if (head.contains("dropout_weights"))
        ATTNSCOPE_COMPARE_EXACT(unsignedZeros(*computed.dropout_weights),
                                unsignedZeros(to_matrix(head["dropout_weights"])), "dropout weights");
    }
    ATTNSCOPE_COMPARE_EXACT(unsignedZeros(row.result->output), unsignedZeros(to_matrix(cli["output"])),
                            "output");
  }

  // attnscope's own command line reads the engine flags through the same translation, on top of the
  // launch view: given every input flag, it asks for attnscope-cli's request.
  void theHeadlessAppReadsTheFlagsAsTheCliDoes() {
    const QStringList flags{"--text",      "the cat saw the dog",
                            "--mechanism", "multihead-wrapper",
                            "--heads",     "3",
                            "--d-in",      "4",
                            "--d-out",     "2",
                            "--seed",      "7",
                            "--dropout",   "0.1",
                            "--normalize", "sum",
                            "--tokenizer", "words"};
    CLI::App app;
    app::CommandLine commandLine;
    commandLine.addOptions(app);
    std::vector<std::string> reversed;
    for (auto it = flags.rbegin(); it != flags.rend(); ++it) reversed.push_back(it->toStdString());
    app.parse(reversed);
    commandLine.noteGiven(app);
    ComputeRequest expected = requestOf(flags);
    expected.masks = ViewSettings::defaults().masks;  // --masks not given: the launch view's rows
    QVERIFY(commandLine.settings().request() == expected);

    // --preset book means the book's sentence with the book's embeddings in both, whatever the session's
    // text.
    ViewSettings other = ViewSettings::defaults();
    other.text = QStringLiteral("something else");
    other.embeddingSource = EmbeddingSource::seeded;
    const ComputeRequest book = cli::apply_flags(
        [] {
          cli::ComputeFlags preset;
          preset.preset = "book";
          return preset;
        }(),
        other.request());
    QCOMPARE(QString::fromStdString(book.text), QString::fromStdString(book_preset().text));
    QVERIFY(book.embedding_source == EmbeddingSource::book);
    QVERIFY(prepare_input(book).embeddings_from == EmbeddingSource::book);
  }

 private:
  QTemporaryDir m_directory;
  QString m_embeddings, m_mask;
};

QTEST_MAIN(TestRequestAgreement)
#include "test_request_agreement.moc"
