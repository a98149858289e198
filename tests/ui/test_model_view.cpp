// GPT-2 models in the window: a tiny random checkpoint written by the test, opened as File ▸ Open Model
// opens it; the grid, the layer selector, the overview, head summaries, masks on top of the causal one, the
// BPE chips, bad folders, sessions and the headless export, each against Gpt2Model::run.

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QProcess>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QTemporaryDir>
#include <QTest>
#include <QTextCursor>
#include <algorithm>
#include <cmath>

#include "../support/gpt2_checkpoint.hpp"
#include "attnscope/gpt2.hpp"
#include "attnscope/head_stats.hpp"
#include "compute/model_snapshot.hpp"
#include "main_window.hpp"
#include "panels/head_stats_model.hpp"
#include "panels/model_overview.hpp"
#include "panels/sentence_editor.hpp"
#include "panels/settings_panel.hpp"
#include "panels/token_chip_view.hpp"
#include "panels/token_strip.hpp"
#include "plot/color_maps.hpp"
#include "plot/heatmap_grid.hpp"
#include "session/session_file.hpp"
#include "ui_test_support.hpp"
#include "window_test_support.hpp"

using namespace attnscope;
using namespace attnscope::ui;
using namespace attnscope::ui::testing;
using attnscope::testing::write_file;
using attnscope::testing::write_small_gpt2;

namespace {

constexpr int kLayers = 2;
constexpr int kHeads = 3;
constexpr int kPositions = 24;
const QString kText = QStringLiteral("hello the world, the world");

// The engine's own result for the text, without any of the window's code.
Gpt2Result engineRun(const QString& folder, const QString& text, std::optional<MaskSpec> extra = {}) {
  const Gpt2Model model = Gpt2Model::open(folder.toStdString());
  Gpt2RunOptions options;
  options.extra_mask = extra;
  return model.run(model.tokenizer().encode(text.toStdString()), options);
}

}  // namespace

class TestModelView : public QObject {
  Q_OBJECT

  QTemporaryDir m_settingsDirectory;
  QTemporaryDir m_directory;
  QString m_model;

  template <typename Widget>
  static Widget* field(MainWindow& window, const char* name) {
    return settingsField<Widget>(window, name);
  }

  // A window on kText with the tiny model open at `layer`.
  static void openTinyModel(MainWindow& window, const QString& folder) {
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    window.model()->setText(kText);
    window.openModel(folder);
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(window.model()->snapshot());
    QVERIFY(window.model()->snapshot()->model.has_value());
  }

  // Every map of the grid equals the engine's weights of `layer` (masked cells NaN); a summary map equals the
  // mean or max of the heads.
  static void compareGrid(const HeatmapPlot& plot, const ViewSettings& settings, int layer) {
    const SnapshotPointer& snapshot = plot.snapshot();
    QVERIFY(snapshot && snapshot->model);
    QCOMPARE(snapshot->model->layer, layer);
    for (int map = 0; map < plot.mapCount(); ++map) {
      const MapKey key = plot.mapKey(map);
      QVERIFY(key.quantity == Quantity::weights);
      const MaskSpec& mask = settings.masks.at(static_cast<std::size_t>(key.maskRow));
      const bool onTop = mask.kind != MaskKind::none && mask.kind != MaskKind::causal;
      const Gpt2Result expected = engineRun(settings.modelFolder, settings.text,
                                            onTop ? std::optional<MaskSpec>(mask) : std::nullopt);
      const AttentionResult& result = expected.layers.at(static_cast<std::size_t>(layer));
      const Eigen::Index n = result.mask.rows();
      QCOMPARE(plot.colorMap(map)->tokenCount(), static_cast<int>(n));
      for (Eigen::Index q = 0; q < n; ++q)
        for (Eigen::Index k = 0; k < n; ++k) {
          const double cell = plot.colorMap(map)->cellValue(static_cast<int>(q), static_cast<int>(k));
          if (result.mask(q, k)) {
            QVERIFY2(std::isnan(cell), "a hidden key must be drawn as masked");
            continue;
          }
          double value = 0.0;
          if (snapshot->isSummary(key.head)) {
            double sum = 0.0, largest = -1.0;
            for (const HeadResult& head : result.heads) {
              sum += head.weights(q, k);
              largest = std::max<double>(largest, head.weights(q, k));
            }
            value = snapshot->headSummary == HeadSummary::mean ? sum / kHeads : largest;
            QVERIFY2(std::abs(cell - value) <= 1e-6, qPrintable(plot.mapTitle(map)));
          } else {
            value = result.heads.at(static_cast<std::size_t>(key.head)).weights(q, k);
            QCOMPARE(cell, value);
          }
        }
    }
  }

 private slots:
  void initTestCase() {
    QVERIFY(m_settingsDirectory.isValid());
    QVERIFY(m_directory.isValid());
    isolateSettings(m_settingsDirectory);
    m_model = m_directory.filePath(QStringLiteral("gpt2-tiny"));
    write_small_gpt2(m_model.toStdString(), kLayers, kHeads, /*width=*/12, kPositions);
  }

  void init() { QSettings(QStringLiteral("AttnScope"), QStringLiteral("AttnScope")).clear(); }

  void openingAModelShowsItsFirstLayer() {
    MainWindow window;
    openTinyModel(window, m_model);
    const ViewSettings& settings = window.model()->settings();
    QCOMPARE(settings.modelFolder, QFileInfo(m_model).absoluteFilePath());
    QCOMPARE(settings.layer, 0);
    HeatmapPlot* plot = window.grid()->plot();
    // Masks none and causal (the launch view's), both the model's own causal mask: two rows of three heads.
    QCOMPARE(plot->mapCount(), 2 * kHeads);
    QCOMPARE(plot->mapTitle(0), QStringLiteral("head 0 \u00b7 causal"));
    compareGrid(*plot, settings, 0);
    QVERIFY(window.statusSummary().contains(QStringLiteral("layer 0")));
    // The context vectors of the layer on screen are the engine's.
    const Gpt2Result expected = engineRun(m_model, kText);
    const HeadResult& head = window.model()->snapshot()->head(0, 1);
    QCOMPARE(head.context.rows(), expected.layers[0].heads[1].context.rows());
    QVERIFY(head.context.isApprox(expected.layers[0].heads[1].context, 0.0f));
    QVERIFY(window.model()->snapshot()->model->finalHidden[0].isApprox(expected.final_hidden, 0.0f));
  }

  void settingsThatDoNotApplyAreDisabled() {
    MainWindow window;
    QVERIFY(field<QComboBox>(window, "mechanism")->isEnabled());
    QVERIFY(!field<QSpinBox>(window, "layer")->isEnabled());
    openTinyModel(window, m_model);
    for (const char* name : {"mechanism", "tokenizer", "embeddingSource", "embeddingSeed", "dIn", "device"})
      QVERIFY2(!field<QWidget>(window, name)->isEnabled(), name);
    QVERIFY(!field<QSpinBox>(window, "heads")->isEnabled());
    QVERIFY(field<QSpinBox>(window, "layer")->isEnabled());
    QCOMPARE(field<QSpinBox>(window, "layer")->maximum(), kLayers - 1);
    QVERIFY(field<QLabel>(window, "modelNote")->isVisible());
    QVERIFY(field<QLabel>(window, "maskNote")->isVisible());
    QVERIFY(field<QLabel>(window, "modelName")->text().contains(QStringLiteral("gpt2-tiny")));

    window.closeModel();
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(!window.model()->snapshot()->model);
    QVERIFY(window.model()->settings().modelFolder.isEmpty());
    QVERIFY(field<QComboBox>(window, "mechanism")->isEnabled());
    QVERIFY(!field<QLabel>(window, "maskNote")->isVisible());
    QCOMPARE(window.grid()->plot()->mapTitle(0), QStringLiteral("head 0 \u00b7 none"));
    compareWithEngine(*window.grid()->plot(), window.model()->settings());
  }

  void launchingWithAModel() {
    // attnscope --model DIR: the window starts with the model's settings.
    ViewSettings settings = ViewSettings::defaults();
    settings.modelFolder = QFileInfo(m_model).absoluteFilePath();
    settings.text = kText;
    settings.embeddingSource = EmbeddingSource::seeded;
    settings.layer = 1;
    MainWindow window(settings);
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(window.model()->snapshot()->model);
    for (const char* name : {"mechanism", "tokenizer", "embeddingSource", "embeddingSeed", "dIn", "device"})
      QVERIFY2(!field<QWidget>(window, name)->isEnabled(), name);
    compareGrid(*window.grid()->plot(), window.model()->settings(), 1);
  }

  void theLayerSelectorSwitchesLayers() {
    MainWindow window;
    openTinyModel(window, m_model);
    field<QSpinBox>(window, "layer")->setValue(1);
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(window.model()->settings().layer, 1);
    compareGrid(*window.grid()->plot(), window.model()->settings(), 1);
    QCOMPARE(window.overview()->currentLayer(), 1);
    // Layers 0 and 1 differ, so the comparison above tells them apart.
    const Gpt2Result expected = engineRun(m_model, kText);
    QVERIFY(!expected.layers[0].heads[0].weights.isApprox(expected.layers[1].heads[0].weights));
  }

  void theOverviewShowsEveryLayerAndHeadAndAClickSelects() {
    MainWindow window;
    openTinyModel(window, m_model);
    ModelOverview* overview = window.overview();
    QVERIFY(overview->isVisible());
    QCOMPARE(overview->layerCount(), kLayers);
    QCOMPARE(overview->headCount(), kHeads);
    // A short text keeps every weight: each small map is the engine's weights of its layer and head.
    const SnapshotPointer snapshot = window.model()->snapshot();
    const Gpt2Result expected = engineRun(m_model, kText);
    const auto n = static_cast<int>(expected.layers[0].mask.rows());
    for (int layer = 0; layer < kLayers; ++layer)
      for (int head = 0; head < kHeads; ++head) {
        const OverviewMap& map = snapshot->overviewMap(0, layer, head);
        QCOMPARE(map.size, n);
        for (int q = 0; q < n; ++q)
          for (int k = 0; k < n; ++k) {
            const float cell = map.cells[static_cast<std::size_t>(q * n + k)];
            if (expected.layers[layer].mask(q, k))
              QVERIFY(std::isnan(cell));
            else
              QCOMPARE(cell, expected.layers[layer].heads[head].weights(q, k));
          }
      }
    // Different maps are painted differently (the widget draws what it holds).
    QVERIFY(overview->cellColor(0, 0, n - 1, 0) != overview->cellColor(1, 2, n - 1, 0) ||
            overview->cellColor(0, 0, n - 1, 1) != overview->cellColor(1, 2, n - 1, 1));

    QTest::mouseClick(overview, Qt::LeftButton, Qt::NoModifier, overview->mapRect(1, 2).center());
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(window.model()->settings().layer, 1);
    QCOMPARE(window.model()->selection().head, 2);
    QCOMPARE(overview->currentLayer(), 1);
    QCOMPARE(overview->currentHead(), 2);
    compareGrid(*window.grid()->plot(), window.model()->settings(), 1);
  }

  void theOverviewIsLaidOutLikeTheGrid() {
    // FigureLayout places the overview's maps: square, one row per layer, inside the widget at every size,
    // never overlapping each other or a header, and a message instead of maps when there is no room.
    MainWindow window;
    openTinyModel(window, m_model);
    ModelOverview* overview = window.overview();
    for (const QSize size : {QSize(160, 120), QSize(300, 200), QSize(420, 160), QSize(600, 500)}) {
      overview->resize(size);
      std::vector<QRect> maps;
      for (int layer = 0; layer < kLayers; ++layer)
        for (int head = 0; head < kHeads; ++head) {
          const QRect map = overview->mapRect(layer, head);
          QVERIFY(!map.isEmpty());
          QCOMPARE(map.width(), map.height());
          QVERIFY2(overview->rect().contains(map),
                   qPrintable(QStringLiteral("%1x%2").arg(size.width()).arg(size.height())));
          if (head > 0) QCOMPARE(map.top(), overview->mapRect(layer, 0).top());
          if (layer > 0) QVERIFY(map.top() > overview->mapRect(layer - 1, head).bottom());
          for (const QRect& other : maps) QVERIFY(!map.intersects(other));
          maps.push_back(map);
        }
      // Maps fill the room they are given: the larger side is not wasted.
      QVERIFY(maps.front().width() * kHeads > size.width() / 3 ||
              maps.front().height() * kLayers > size.height() / 3);
    }
    overview->resize(20, 20);
    QVERIFY(overview->mapRect(0, 0).isEmpty());
    int layer = -1, head = -1;
    QVERIFY(!overview->mapAt(QPoint(10, 10), &layer, &head));
  }

  void theOverviewCanShowAStatisticOfEveryHead() {
    MainWindow window;
    openTinyModel(window, m_model);
    ModelOverview* overview = window.overview();
    overview->resize(500, 400);
    QCOMPARE(overview->shownStatistic(), -1);
    QVERIFY(overview->mapText(0, 0).isEmpty());
    constexpr int kSelf = 5;  // statisticOf's order: H bits, H norm, keys, max, first, self, prev
    QCOMPARE(statisticName(kSelf), QStringLiteral("self"));
    overview->shownSelector()->setCurrentIndex(kSelf + 1);
    QCOMPARE(overview->shownStatistic(), kSelf);
    const SnapshotPointer snapshot = window.model()->snapshot();
    // Each map is labelled with its head's value and coloured by it on one scale: the lowest and the highest
    // head get the scale's two ends.
    double low = 2.0, high = -1.0;
    QPoint lowest, highest;
    for (int layer = 0; layer < kLayers; ++layer)
      for (int head = 0; head < kHeads; ++head) {
        const double self = *snapshot->statsOf(0, layer, head).self;
        QCOMPARE(overview->mapText(layer, head), QString::number(self, 'f', 2));
        if (self < low) low = self, lowest = QPoint(layer, head);
        if (self > high) high = self, highest = QPoint(layer, head);
      }
    QVERIFY(high > low);
    const QImage painted = overview->grab().toImage();
    const auto colourAt = [&](QPoint place) {
      return QColor(painted.pixel(overview->mapRect(place.x(), place.y()).topLeft() + QPoint(2, 2)));
    };
    QCPColorGradient gradient = ColorMaps::sequential(window.model()->display().colorMap);
    QCOMPARE(colourAt(lowest), QColor(gradient.color(0.0, QCPRange(0.0, 1.0))));
    QCOMPARE(colourAt(highest), QColor(gradient.color(1.0, QCPRange(0.0, 1.0))));
    // Remembered for the next window.
    MainWindow next;
    QCOMPARE(next.overview()->shownStatistic(), kSelf);
    next.overview()->showStatistic(-1);
  }

  void manyHeadsScrollInsteadOfWideningTheWindow() {
    // GPT-2's 12 heads (and a summary) side by side: the window keeps its size, the grid scrolls, and each
    // map keeps a readable width.
    MainWindow window;
    window.resize(1300, 850);
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(showTwelveHeads(window));
    HeatmapPlot* plot = window.grid()->plot();
    QCOMPARE(plot->mapCount(), 24);
    QVERIFY(window.width() <= 1300);
    QVERIFY2(plot->width() > window.grid()->width(), "the maps scroll");
    QVERIFY(plot->mapRect(0)->width() >= 100);
  }

  void theOverviewReducesLongTexts() {
    // 40 tokens → blocks of 2 × 2 tokens, 20 × 20 cells of means of the visible weights.
    Matrix weights = Matrix::Constant(40, 40, 0.5f);
    MaskMatrix mask = MaskMatrix::Zero(40, 40);
    for (int q = 0; q < 40; ++q)
      for (int k = q + 1; k < 40; ++k) mask(q, k) = 1;
    weights(39, 0) = 1.5f;  // the last block row: queries 38 and 39
    OverviewMap map = reduceForOverview(weights, mask);
    QCOMPARE(map.block, 2);
    QCOMPARE(map.size, 20);
    QVERIFY(std::isnan(map.cells[static_cast<std::size_t>(0 * 20 + 19)]));  // queries 0, 1 see no late key
    QCOMPARE(map.cells[static_cast<std::size_t>(19 * 20 + 0)], 0.75f);      // (0.5 · 3 + 1.5) / 4
    QCOMPARE(map.cells[static_cast<std::size_t>(0 * 20 + 0)], 0.5f);        // 3 visible of 4
    QCOMPARE(map.maximum, 0.75f);

    // 300 tokens → blocks of 16, the last row and column holding the 12 tokens left.
    const int n = 300;
    weights = Matrix::Constant(n, n, 0.25f);
    mask = MaskMatrix::Zero(n, n);
    weights(299, 299) = 4.25f;
    map = reduceForOverview(weights, mask);
    QCOMPARE(map.block, 16);
    QCOMPARE(map.size, 19);
    QCOMPARE(map.tokens, n);
    QCOMPARE(map.cells[static_cast<std::size_t>(18 * 19 + 18)], 0.25f + 4.0f / (12 * 12));
  }

  void overviewBlocksStayWhenTheLengthChanges() {
    // What lets an edit keep the rows before it: a block's tokens depend on n only through the power of two.
    QCOMPARE(overviewBlock(1), 1);
    QCOMPARE(overviewBlock(32), 1);
    QCOMPARE(overviewBlock(33), 2);
    QCOMPARE(overviewBlock(64), 2);
    QCOMPARE(overviewBlock(65), 4);
    QCOMPARE(overviewBlock(255), 8);
    QCOMPARE(overviewBlock(256), 8);
    QCOMPARE(overviewBlock(257), 16);
    QCOMPARE(overviewBlock(1024), 32);
    for (int n = 1; n <= 1024; ++n)
      QVERIFY((n + overviewBlock(n) - 1) / overviewBlock(n) <= OverviewMap::kCells);
  }

  void headSummaries_data() {
    QTest::addColumn<int>("summary");
    QTest::newRow("mean") << int(HeadSummary::mean);
    QTest::newRow("max") << int(HeadSummary::max);
  }

  void headSummaries() {
    QFETCH(int, summary);
    MainWindow window;
    openTinyModel(window, m_model);
    auto* combo = field<QComboBox>(window, "headSummary");
    combo->setCurrentIndex(combo->findData(summary));
    QVERIFY(waitForIdle(window.controller()));
    HeatmapPlot* plot = window.grid()->plot();
    QCOMPARE(plot->mapCount(), 2 * (kHeads + 1));
    const QString label =
        summary == int(HeadSummary::mean) ? QStringLiteral("mean of heads") : QStringLiteral("max of heads");
    QCOMPARE(plot->mapTitle(kHeads), label + QStringLiteral(" \u00b7 causal"));
    compareGrid(*plot, window.model()->settings(), 0);
  }

  void rolloutFollowsTheLayers() {
    MainWindow window;
    openTinyModel(window, m_model);
    auto* combo = field<QComboBox>(window, "headSummary");
    const quint64 started = window.controller()->startedCount();
    combo->setCurrentIndex(combo->findData(int(HeadSummary::rollout)));
    QVERIFY(waitForIdle(window.controller()));
    // Made from the snapshot's layer means on the worker: the model does not run again.
    QCOMPARE(window.controller()->startedCount(), started);
    // The engine's rollout (what attnscope-cli --rollout prints), from every layer's mean head weights.
    const Gpt2Result all = engineRun(m_model, kText);
    std::vector<Matrix> means;
    for (const AttentionResult& layer : all.layers) {
      std::vector<const Matrix*> weights;
      for (const HeadResult& head : layer.heads) weights.push_back(&head.weights);
      means.push_back(mean_of_heads(weights));
    }
    const std::vector<Matrix> rollout = attention_rollout(means);
    for (int layer = 0; layer < kLayers; ++layer) {
      field<QSpinBox>(window, "layer")->setValue(layer);
      QVERIFY(waitForIdle(window.controller()));
      HeatmapPlot* plot = window.grid()->plot();
      QCOMPARE(plot->mapCount(), 2 * (kHeads + 1));
      QCOMPARE(plot->mapTitle(kHeads), QStringLiteral("rollout to layer %1 \u00b7 causal").arg(layer));
      const int n = static_cast<int>(rollout[0].rows());
      for (int q = 0; q < n; ++q)
        for (int k = 0; k < n; ++k) {
          const double shown = plot->colorMap(kHeads)->cellValue(q, k);
          if (k > q)
            QVERIFY(std::isnan(shown));  // the causal mask's hatch
          else
            QCOMPARE(shown, double(rollout[std::size_t(layer)](q, k)));
        }
    }
    // An edit at the end keeps it equal to a fresh run's.
    window.editor()->moveCursor(QTextCursor::End);
    QTest::keyClicks(window.editor(), QStringLiteral(" hello"));
    QVERIFY(waitForIdle(window.controller()));
    const SnapshotPointer snapshot = window.model()->snapshot();
    const Gpt2Result edited = engineRun(m_model, kText + QStringLiteral(" hello"));
    std::vector<Matrix> editedMeans;
    for (const AttentionResult& layer : edited.layers) {
      std::vector<const Matrix*> weights;
      for (const HeadResult& head : layer.heads) weights.push_back(&head.weights);
      editedMeans.push_back(mean_of_heads(weights));
    }
    QVERIFY(snapshot->isSummary(kHeads));
    QVERIFY(snapshot->head(0, kHeads).weights == attention_rollout(editedMeans).back());
  }

  void rolloutNeedsAModel() {
    MainWindow window;
    QVERIFY(waitForIdle(window.controller()));
    auto* combo = field<QComboBox>(window, "headSummary");
    auto* items = qobject_cast<QStandardItemModel*>(combo->model());
    QVERIFY(!items->item(combo->findData(int(HeadSummary::rollout)))->isEnabled());
    openTinyModel(window, m_model);
    QVERIFY(items->item(combo->findData(int(HeadSummary::rollout)))->isEnabled());
    // Headless: asked for without a model, a one-line error.
    const Run run =
        runApp({QStringLiteral("--head-summary"), QStringLiteral("rollout"), QStringLiteral("--export"),
                QDir::temp().filePath(QStringLiteral("attnscope-rollout.png"))});
    QCOMPARE(run.exitCode, 1);
    QVERIFY2(run.err.contains("--head-summary rollout needs --model"), run.err.constData());
  }

  void headSummariesInTheBookView() {
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    auto* combo = field<QComboBox>(window, "headSummary");
    combo->setCurrentIndex(combo->findData(int(HeadSummary::max)));
    QVERIFY(waitForIdle(window.controller()));
    HeatmapPlot* plot = window.grid()->plot();
    QCOMPARE(plot->mapCount(), 6);  // two masks × (2 heads + max)
    QCOMPARE(plot->mapTitle(2), QStringLiteral("max of heads \u00b7 none"));
    const Reference expected = reference(window.model()->settings(), MaskSpec{MaskKind::none, 0, {}});
    for (int q = 0; q < 6; ++q)
      for (int k = 0; k < 6; ++k)
        QCOMPARE(
            plot->colorMap(2)->cellValue(q, k),
            double(std::max(expected.result.heads[0].weights(q, k), expected.result.heads[1].weights(q, k))));
  }

  void aWindowMaskHidesKeysOnTopOfCausal() {
    MainWindow window;
    openTinyModel(window, m_model);
    field<QCheckBox>(window, "maskNone")->setChecked(false);
    field<QSpinBox>(window, "windowSize")->setValue(2);
    field<QCheckBox>(window, "maskWindow")->setChecked(true);
    QVERIFY(waitForIdle(window.controller()));
    const ViewSettings& settings = window.model()->settings();
    QCOMPARE(settings.masks.size(), std::size_t{2});
    HeatmapPlot* plot = window.grid()->plot();
    QCOMPARE(plot->mapTitle(kHeads), QStringLiteral("head 0 \u00b7 causal + window:2"));
    compareGrid(*plot, settings, 0);
    // Causal, and only the two most recent keys.
    const SnapshotPointer& snapshot = window.model()->snapshot();
    for (int q = 0; q < snapshot->tokenCount(); ++q)
      for (int k = 0; k < snapshot->tokenCount(); ++k)
        QCOMPARE(snapshot->isMasked(1, q, k), k > q || k < q - 1);
  }

  void chipsShowTheBpePiecesWithTheirSpaceMarker() {
    MainWindow window;
    openTinyModel(window, m_model);
    const Gpt2Model model = Gpt2Model::open(m_model.toStdString());
    const std::vector<BpeToken> tokens = model.tokenizer().tokenize(kText.toStdString());
    TokenChipView* chips = window.tokenStrip()->chips();
    QCOMPARE(chips->tokenCount(), static_cast<int>(tokens.size()));
    int marked = 0;
    for (int i = 0; i < chips->tokenCount(); ++i) {
      QCOMPARE(chips->chipText(i), QString::fromStdString(tokens[static_cast<std::size_t>(i)].display));
      marked += chips->chipText(i).startsWith(QStringLiteral("\u00b7"));
    }
    QVERIFY(marked >= 3);  // " the", " world", " the", " world"
    QVERIFY(window.tokenStrip()->summary().contains(QStringLiteral("GPT-2 BPE")));
  }

  void aCharacterSplitOverPiecesIsShownWhole() {
    MainWindow window;
    openTinyModel(window, m_model);
    // The tiny vocabulary has no merges for 👍: its four bytes are four pieces.
    window.model()->setText(QStringLiteral("the \U0001F44D world"));
    QVERIFY(waitForIdle(window.controller()));
    TokenChipView* chips = window.tokenStrip()->chips();
    int first = -1;
    for (int i = 0; i < chips->tokenCount(); ++i) {
      QVERIFY2(!chips->chipText(i).contains(QStringLiteral("<0x")), qPrintable(chips->chipText(i)));
      if (first < 0 && chips->chipText(i).contains(QStringLiteral("\U0001F44D"))) first = i;
    }
    QVERIFY(first >= 0);
    QVERIFY2(chips->chipToolTip(first).contains(QStringLiteral("<0xF0>")),
             qPrintable(chips->chipToolTip(first)));
    QCOMPARE(chips->chipText(first + 1), QStringLiteral("\u22EF"));
    QVERIFY(chips->chipToolTip(first + 1).contains(QStringLiteral("<0x9F>")));
    // The maps' labels come from the same text: no byte names there either.
    for (const QString& label : window.grid()->plot()->rowLabels(0))
      QVERIFY2(!label.contains(QStringLiteral("<0x")), qPrintable(label));
  }

  void aBadFolderSaysWhyAndKeepsThePreviousView_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("expected");  // in the message
    QTest::newRow("missing folder") << QStringLiteral("nowhere") << QStringLiteral("no such folder");
    QTest::newRow("broken config") << QStringLiteral("broken-config") << QStringLiteral("config.json");
    QTest::newRow("truncated weights") << QStringLiteral("truncated") << QStringLiteral("model.safetensors");
    QTest::newRow("no vocabulary") << QStringLiteral("no-vocab") << QStringLiteral("vocab.json");
  }

  void aBadFolderSaysWhyAndKeepsThePreviousView() {
    QFETCH(QString, name);
    QFETCH(QString, expected);
    const QString folder = m_directory.filePath(name);
    if (name != QLatin1String("nowhere")) {
      write_small_gpt2(folder.toStdString(), kLayers, kHeads, 12, kPositions);
      if (name == QLatin1String("broken-config"))
        write_file((folder + "/config.json").toStdString(), "{\"n_layer\": ");
      if (name == QLatin1String("truncated")) {
        QFile file(folder + "/model.safetensors");
        QVERIFY(file.resize(file.size() / 2));
      }
      if (name == QLatin1String("no-vocab")) QVERIFY(QFile::remove(folder + "/vocab.json"));
    }
    // From the book view: back to the book.
    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    window.openModel(folder);
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(window.model()->settings().modelFolder.isEmpty());
    QVERIFY(window.model()->snapshot() && !window.model()->snapshot()->model);
    QVERIFY2(window.grid()->problem().contains(expected), qPrintable(window.grid()->problem()));
    QVERIFY2(window.lastStatusMessage().contains(expected), qPrintable(window.lastStatusMessage()));
    QVERIFY(!window.lastStatusMessage().contains(QLatin1Char('\n')));
    QCOMPARE(window.grid()->plot()->mapCount(), 4);
    compareWithEngine(*window.grid()->plot(), window.model()->settings());

    // From a model: back to that model and its layer.
    window.model()->setText(kText);
    window.openModel(m_model);
    QVERIFY(waitForIdle(window.controller()));
    field<QSpinBox>(window, "layer")->setValue(1);
    QVERIFY(waitForIdle(window.controller()));
    window.openModel(folder);
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(window.model()->settings().modelFolder, QFileInfo(m_model).absoluteFilePath());
    QCOMPARE(window.model()->settings().layer, 1);
    QVERIFY(window.grid()->problem().contains(expected));
    compareGrid(*window.grid()->plot(), window.model()->settings(), 1);
  }

  void aTextLongerThanTheModelIsRefused() {
    MainWindow window;
    openTinyModel(window, m_model);
    QStringList words;
    for (int i = 0; i < kPositions + 5; ++i) words << QStringLiteral("the");
    window.model()->setText(words.join(QLatin1Char(' ')));
    QVERIFY(waitForIdle(window.controller()));
    QVERIFY(window.grid()->problem().contains(QStringLiteral("positions")));
    QVERIFY(window.settingsPanel()->fieldError(SettingsField::text).contains(QString::number(kPositions)));
    // The last valid heatmaps stay.
    QCOMPARE(window.model()->snapshot()->text, kText);
  }

  void aSessionKeepsTheModelAndLayer() {
    const QString path = m_directory.filePath(QStringLiteral("model.attnscope"));
    {
      MainWindow window;
      openTinyModel(window, m_model);
      field<QSpinBox>(window, "layer")->setValue(1);
      auto* combo = field<QComboBox>(window, "headSummary");
      combo->setCurrentIndex(combo->findData(int(HeadSummary::mean)));
      QVERIFY(waitForIdle(window.controller()));
      QString error;
      QVERIFY2(window.saveSession(path, &error), qPrintable(error));
    }
    const ViewSettings loaded = SessionFile::load(path);
    QCOMPARE(loaded.modelFolder, QFileInfo(m_model).absoluteFilePath());
    QCOMPARE(loaded.layer, 1);
    QVERIFY(loaded.display.headSummary == HeadSummary::mean);
    QVERIFY(ViewSettings::fromJson(loaded.toJson()) == loaded);

    MainWindow window;
    window.show();
    QVERIFY(waitForIdle(window.controller()));
    QString error;
    QVERIFY2(window.openSession(path, &error), qPrintable(error));
    QVERIFY(waitForIdle(window.controller()));
    QCOMPARE(window.model()->settings().layer, 1);
    compareGrid(*window.grid()->plot(), window.model()->settings(), 1);
  }

  void aSessionFromBeforeModelsOpensTheBook() {
    QJsonObject json = ViewSettings::defaults().toJson();
    json.remove(QStringLiteral("model"));
    json.remove(QStringLiteral("layer"));
    json.remove(QStringLiteral("head_summary"));
    const ViewSettings settings = ViewSettings::fromJson(json);
    QVERIFY(settings.modelFolder.isEmpty());
    QCOMPARE(settings.layer, 0);
    json[QStringLiteral("head_summary")] = QStringLiteral("median");
    QVERIFY_THROWS_EXCEPTION(Error, ViewSettings::fromJson(json));
  }

  void headlessExportWithAModel() {
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("grid.png"));
    const Run run = runApp({"--model", m_model, "--layer", "1", "--text", kText, "--masks", "causal,window:2",
                            "--head-summary", "max", "--export", path, "--size", "1200x700"});
    QVERIFY2(run.exitCode == 0, run.err.constData());
    QVERIFY(run.err.isEmpty());
    QCOMPARE(QImage(path).size(), QSize(1200, 700));
  }

  void headlessBadModelCases_data() {
    QTest::addColumn<QStringList>("flags");
    QTest::addColumn<QString>("expected");
    QTest::newRow("missing folder") << QStringList{"--model", "/nonexistent/gpt2"}
                                    << QStringLiteral("no such folder");
    QTest::newRow("layer out of range")
        << QStringList{"--model", "MODEL", "--layer", "2"} << QStringLiteral("layers are 0 to 1");
    QTest::newRow("text too long") << QStringList{"--model", "MODEL", "--text", "LONG"}
                                   << QStringLiteral("positions");
    QTest::newRow("bad checkpoint") << QStringList{"--model", "BROKEN"}
                                    << QStringLiteral("model.safetensors");
  }

  void headlessBadModelCases() {
    QFETCH(QStringList, flags);
    QFETCH(QString, expected);
    const QString broken = m_directory.filePath(QStringLiteral("headless-broken"));
    write_small_gpt2(broken.toStdString(), kLayers, kHeads, 12, kPositions);
    QFile weights(broken + "/model.safetensors");
    QVERIFY(weights.resize(100));
    QStringList words;
    for (int i = 0; i < kPositions + 1; ++i) words << QStringLiteral("the");
    flags.replaceInStrings(QStringLiteral("MODEL"), m_model);
    flags.replaceInStrings(QStringLiteral("BROKEN"), broken);
    flags.replaceInStrings(QStringLiteral("LONG"), words.join(QLatin1Char(' ')));
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("grid.png"));
    const Run run = runApp(flags + QStringList{"--export", path});
    QCOMPARE(run.exitCode, 1);
    QVERIFY2(run.err.startsWith("attnscope: error: "), run.err.constData());
    QCOMPARE(run.err.count('\n'), 1);
    QVERIFY2(QString::fromUtf8(run.err).contains(expected), run.err.constData());
    QVERIFY(!QFile::exists(path));
  }

  void headlessModelFlagsThatDoNotGoTogether() {
    QTemporaryDir directory;
    const QString path = directory.filePath(QStringLiteral("grid.png"));
    QCOMPARE(runApp({"--layer", "1", "--export", path}).exitCode, 2);  // --layer needs --model
    QCOMPARE(runApp({"--model", m_model, "--mechanism", "causal", "--export", path}).exitCode, 2);
  }

  void theDataExportIsTheCliSchemaWithTheLayer() {
    MainWindow window;
    openTinyModel(window, m_model);
    field<QSpinBox>(window, "layer")->setValue(1);
    QVERIFY(waitForIdle(window.controller()));
    const QString path = m_directory.filePath(QStringLiteral("model.json"));
    QString error;
    QVERIFY2(window.exportData(path, &error), qPrintable(error));
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QJsonArray rows = QJsonDocument::fromJson(file.readAll()).array();
    QCOMPARE(rows.size(), 2);
    const QJsonObject row = rows[0].toObject();
    QCOMPARE(row[QStringLiteral("mechanism")].toString(), QStringLiteral("gpt2"));
    QCOMPARE(row[QStringLiteral("mask")].toString(), QStringLiteral("causal"));
    const QJsonArray heads = row[QStringLiteral("heads")].toArray();
    QCOMPARE(heads.size(), kHeads);
    for (int h = 0; h < kHeads; ++h) {
      QCOMPARE(heads[h].toObject()[QStringLiteral("layer")].toInt(), 1);
      QCOMPARE(heads[h].toObject()[QStringLiteral("head")].toInt(), h);
    }
  }
};

QTEST_MAIN(TestModelView)
#include "test_model_view.moc"
