#pragma once
// Helpers shared by the ui suites: isolated QSettings, waiting for the worker, and the engine's own numbers
// to compare the views with.

#include <QDir>
#include <QProcess>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QWidget>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "attnscope/attention.hpp"
#include "attnscope/embeddings.hpp"
#include "attnscope/tokenizer.hpp"
#include "compute/compute_controller.hpp"
#include "plot/attention_color_map.hpp"
#include "plot/heatmap_plot.hpp"
#include "state/view_settings.hpp"

namespace attnscope::ui::testing {

// Points QSettings (user scope, every format) at `directory`, so the suites never read or write a real
// profile.
inline void isolateSettings(const QTemporaryDir& directory) {
  QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, directory.path());
  QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, directory.path());
  QSettings(QStringLiteral("AttnScope"), QStringLiteral("AttnScope")).clear();
}

// Counts the paint events a widget receives.
class PaintCounter : public QObject {
 public:
  explicit PaintCounter(QWidget* widget) { widget->installEventFilter(this); }
  bool eventFilter(QObject*, QEvent* event) override {
    paints += event->type() == QEvent::Paint;
    return false;
  }
  int paints = 0;
};

// Waits until the controller has delivered (or dropped) everything asked of it.
inline bool waitForIdle(ComputeController* controller, int timeoutMs = 20000) {
  QElapsedTimer timer;
  timer.start();
  while (controller->isBusy() && timer.elapsed() < timeoutMs) QTest::qWait(5);
  QCoreApplication::processEvents();
  return !controller->isBusy();
}

// attnscope-cli's standard output for `arguments`; ends the test run when it does not exit 0.
inline QByteArray cliOutput(const QStringList& arguments) {
  QProcess process;
  process.start(QStringLiteral(ATTNSCOPE_BIN_DIR "/attnscope-cli"), arguments);
  if (!process.waitForFinished(60000) || process.exitCode() != 0)
    qFatal("attnscope-cli failed: %s", process.readAllStandardError().constData());
  return process.readAllStandardOutput();
}

inline std::vector<std::string> textsOf(const std::vector<Token>& tokens) {
  std::vector<std::string> texts;
  for (const Token& token : tokens) texts.push_back(token.text);
  return texts;
}

inline QStringList qtTokens(const std::vector<Token>& tokens) {
  QStringList texts;
  for (const Token& token : tokens) texts << QString::fromStdString(token.text);
  return texts;
}

// The engine's result for `settings` and one mask, computed here without any of the ui's code.
struct Reference {
  std::vector<Token> tokens;
  AttentionResult result;
};

// What a headless attnscope run gave: its exit code (-1 when it crashed) and its output.
struct Run {
  int exitCode = -1;
  QByteArray out, err;
};

// Runs attnscope without any display and without a platform chosen for it, as on a server; with
// `fileSizeLimitBlocks`, under that `ulimit -f`.
inline Run runApp(const QStringList& arguments, const QString& fileSizeLimitBlocks = {}) {
  QProcess process;
  QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
  environment.remove(QStringLiteral("DISPLAY"));
  environment.remove(QStringLiteral("WAYLAND_DISPLAY"));
  environment.remove(QStringLiteral("QT_QPA_PLATFORM"));
  process.setProcessEnvironment(environment);
  const QString program = QStringLiteral(ATTNSCOPE_BIN_DIR "/attnscope");
  if (fileSizeLimitBlocks.isEmpty()) {
    process.start(program, arguments);
  } else {
    process.start(QStringLiteral("/bin/sh"),
                  QStringList{"-c", "ulimit -f " + fileSizeLimitBlocks + " && exec \"$0\" \"$@\"", program} +
                      arguments);
  }
  if (!process.waitForFinished(60000)) qFatal("attnscope did not finish");
  Run run;
  run.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
  run.out = process.readAllStandardOutput();
  run.err = process.readAllStandardError();
  return run;
}

// The tokens' embeddings as the settings' source gives them; whether they came from a seeded table.
inline Matrix referenceEmbeddings(const ViewSettings& settings, const std::vector<std::string>& texts,
                                  bool* seeded = nullptr) {
  const std::uint64_t seed = settings.embeddingSeed.value_or(settings.seed);
  const bool book = settings.embeddingSource == EmbeddingSource::book && texts == book_preset().tokens;
  if (seeded) *seeded = !book;
  if (book) return book_preset().embeddings;
  return seeded_embeddings(texts, settings.embeddingSource == EmbeddingSource::book ? 3 : settings.dIn, seed);
}

// `comparedWith`: the settings are Compare's input B, and this is A's text (ComputeRequest::compared_with).
inline Reference reference(const ViewSettings& settings, const MaskSpec& mask,
                           const std::optional<QString>& comparedWith = std::nullopt) {
  Reference reference;
  reference.tokens = tokenize(settings.text.toStdString(), settings.tokenizer);
  const auto texts = textsOf(reference.tokens);
  Matrix embeddings = referenceEmbeddings(settings, texts);
  if (comparedWith) {
    const auto base = textsOf(tokenize(comparedWith->toStdString(), settings.tokenizer));
    bool seeded = true;
    const Matrix baseEmbeddings = referenceEmbeddings(settings, base, &seeded);
    embeddings = compared_embeddings(texts, base, baseEmbeddings, seeded,
                                     settings.embeddingSeed.value_or(settings.seed));
  }
  AttentionConfig config;
  config.mechanism = settings.mechanism;
  config.d_out = settings.dOut;
  config.heads = settings.heads;
  config.qkv_bias = settings.qkvBias;
  config.dropout = settings.dropout;
  config.seed = settings.seed;
  config.dropout_seed = settings.dropoutSeed;
  config.normalization = settings.normalization;
  config.mask = mask;
  reference.result = compute_attention(config, embeddings);
  return reference;
}

// Every map of `plot` against the engine: cells (NaN where masked), row and column labels.
inline void compareWithEngine(const HeatmapPlot& plot, const ViewSettings& settings) {
  QVERIFY(plot.snapshot());
  for (int map = 0; map < plot.mapCount(); ++map) {
    const MapKey key = plot.mapKey(map);
    const Reference expected = reference(settings, settings.masks.at(key.maskRow));
    const int n = static_cast<int>(expected.tokens.size());
    QCOMPARE(plot.rowLabels(map), qtTokens(expected.tokens));
    QCOMPARE(plot.columnLabels(map), qtTokens(expected.tokens));
    const HeadResult& head = expected.result.heads.at(key.head);
    for (int query = 0; query < n; ++query)
      for (int key_index = 0; key_index < n; ++key_index) {
        const double cell = plot.colorMap(map)->cellValue(query, key_index);
        if (expected.result.mask(query, key_index)) {
          QVERIFY2(std::isnan(cell), "a masked cell must be drawn as masked, not as a number");
          continue;
        }
        double value = 0.0;
        switch (key.quantity) {
          case Quantity::rawScores:
            value = head.scores(query, key_index);
            break;
          case Quantity::scaledScores:
            value = head.scores(query, key_index) * head.scale;
            break;
          case Quantity::weights:
            value = head.weights(query, key_index);
            break;
          case Quantity::dropoutWeights:
            value = (*head.dropout_weights)(query, key_index);
            break;
        }
        if (cell != value)
          QFAIL(qPrintable(QStringLiteral("map %1 (%2) cell (%3, %4): %5, the engine says %6")
                               .arg(map)
                               .arg(plot.mapTitle(map))
                               .arg(query)
                               .arg(key_index)
                               .arg(cell, 0, 'g', 9)
                               .arg(value, 0, 'g', 9)));
      }
  }
}

}  // namespace attnscope::ui::testing
