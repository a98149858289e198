#include "compute/model_snapshot.hpp"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <string>

#include "attnscope/mask.hpp"
#include "attnscope/parallel.hpp"
#include "compute/attention_input.hpp"
#include "text.hpp"

namespace attnscope::ui {
namespace {

// The mask the model runs with on top of its causal one; none and causal add nothing.
std::optional<MaskSpec> extraMaskOf(const MaskSpec& mask) {
  if (mask.kind == MaskKind::none || mask.kind == MaskKind::causal) return std::nullopt;
  return mask;
}

}  // namespace

Gpt2Model openModel(const QString& folder) {
  const QFileInfo info(folder);
  if (folder.isEmpty() || !info.isDir())
    throw FieldError(SettingsField::model,
                     QStringLiteral("%1: no such folder (a GPT-2 folder holds config.json, "
                                    "model.safetensors, vocab.json and merges.txt)")
                         .arg(QDir::toNativeSeparators(folder)));
  try {
    return Gpt2Model::open(QFile::encodeName(info.absoluteFilePath()).toStdString());
  } catch (const Error& error) {
    // The engine names the file as "FOLDER/model.safetensors" or as "vocab.json": give its whole path.
    const QString message = toQString(error.what());
    const QDir directory(info.absoluteFilePath());
    QString located = directory.absolutePath() + QStringLiteral(": ") + message;
    if (message.startsWith(info.fileName() + QLatin1Char('/')))
      located = QFileInfo(directory.absolutePath()).path() + QLatin1Char('/') + message;
    for (const char* file : {"config.json", "model.safetensors", "vocab.json", "merges.txt"})
      if (message.startsWith(QLatin1String(file) + QLatin1Char(':'))) located = directory.filePath(message);
    throw FieldError(SettingsField::model, QDir::toNativeSeparators(located));
  }
}

int overviewBlock(int n) {
  int block = 1;
  while ((n + block - 1) / block > OverviewMap::kCells) block *= 2;
  return block;
}

void summarizeRows(const Matrix& weights, const MaskMatrix& mask, Eigen::Index firstRow,
                   HeadRowSummaries& rows, const std::vector<HeadRowStats>& rowStats) {
  const int n = static_cast<int>(weights.rows());
  const int block = overviewBlock(n);
  constexpr auto kStride = static_cast<std::size_t>(OverviewMap::kCells);
  if (rowStats.size() == static_cast<std::size_t>(n)) {
    rows.stats.resize(rowStats.size());
    std::copy(rowStats.begin() + firstRow, rowStats.end(), rows.stats.begin() + firstRow);
  } else {
    head_row_stats(weights, mask, firstRow, rows.stats);
  }
  rows.overviewSums.resize(static_cast<std::size_t>(n) * kStride);
  rows.overviewCounts.resize(rows.overviewSums.size());
  for (int query = static_cast<int>(std::max<Eigen::Index>(0, firstRow)); query < n; ++query) {
    const float* row = weights.row(query).data();
    const std::uint8_t* hidden = mask.row(query).data();
    float* sums = rows.overviewSums.data() + static_cast<std::size_t>(query) * kStride;
    int* counts = rows.overviewCounts.data() + static_cast<std::size_t>(query) * kStride;
    for (int c = 0; c < OverviewMap::kCells; ++c) {
      float sum = 0.0f;
      int count = 0;
      // Without a branch: which keys a row hides changes from row to row, and mispredicted branches were
      // most of an edit's summaries. A hidden key adds +0, which leaves the sum's bits as they were.
      for (int key = c * block; key < std::min(n, (c + 1) * block); ++key) {
        const bool visible = hidden[key] == 0;
        sum += visible ? row[key] : 0.0f;
        count += visible;
      }
      sums[c] = sum;
      counts[c] = count;
    }
  }
}

OverviewMap overviewOf(const HeadRowSummaries& rows, int n, const OverviewMap* earlier, int firstRow) {
  OverviewMap map;
  map.block = overviewBlock(n);
  map.size = (n + map.block - 1) / map.block;
  map.tokens = n;
  const auto size = static_cast<std::size_t>(map.size);
  constexpr auto kStride = static_cast<std::size_t>(OverviewMap::kCells);
  std::vector<float> sums(size * size, 0.0f);
  std::vector<int> counts(size * size, 0);
  map.cells.resize(size * size);
  // Whole blocks of queries before the first changed row: the earlier map's cells. Its keys past its own
  // tokens are hidden from those queries (the causal mask), as their cells here are.
  const int keptBlocks =
      earlier && earlier->block == map.block ? std::min(firstRow, earlier->tokens) / map.block : 0;
  for (std::size_t r = 0; r < static_cast<std::size_t>(keptBlocks); ++r)
    for (std::size_t c = 0; c < size; ++c)
      map.cells[r * size + c] = c < static_cast<std::size_t>(earlier->size)
                                    ? earlier->cells[r * static_cast<std::size_t>(earlier->size) + c]
                                    : std::numeric_limits<float>::quiet_NaN();
  for (int query = keptBlocks * map.block; query < n; ++query) {
    const std::size_t cellRow = static_cast<std::size_t>(query / map.block) * size;
    const std::size_t rowCells = static_cast<std::size_t>(query) * kStride;
    for (std::size_t c = 0; c < size; ++c) {
      sums[cellRow + c] += rows.overviewSums[rowCells + c];
      counts[cellRow + c] += rows.overviewCounts[rowCells + c];
    }
  }
  for (std::size_t i = static_cast<std::size_t>(keptBlocks) * size; i < map.cells.size(); ++i)
    map.cells[i] =
        counts[i] ? sums[i] / static_cast<float>(counts[i]) : std::numeric_limits<float>::quiet_NaN();
  for (const float cell : map.cells)
    if (!std::isnan(cell)) map.maximum = std::max(map.maximum, cell);
  return map;
}

OverviewMap reduceForOverview(const Matrix& weights, const MaskMatrix& mask) {
  HeadRowSummaries rows;
  summarizeRows(weights, mask, 0, rows);
  return overviewOf(rows, static_cast<int>(weights.rows()));
}

SnapshotPointer computeModelSnapshot(const ViewSettings& settings, const Gpt2Model& model,
                                     const CancelToken& cancel, const PreparedMaps& prepare, FieldNames names,
                                     ModelCache* cache) {
  const Gpt2Config& config = model.config();
  if (settings.masks.empty())
    throw FieldError(SettingsField::masks, QStringLiteral("Choose at least one mask to show."));
  if (settings.layer < 0 || settings.layer >= config.n_layer)
    throw FieldError(SettingsField::layer,
                     QStringLiteral("Layer %1 does not exist: this model's layers are 0 to %2.")
                         .arg(settings.layer)
                         .arg(config.n_layer - 1));
  auto snapshot = makeSnapshot();
  ModelInfo info;
  info.folder = settings.modelFolder;
  info.config = config;
  info.layer = settings.layer;
  try {
    info.tokens = model.tokenizer().tokenize(settings.text.toStdString());
  } catch (const Error& error) {
    throw FieldError(SettingsField::text, toQString(error.what()));
  }
  if (info.tokens.empty()) return nullptr;
  const int n = static_cast<int>(info.tokens.size());
  if (n > config.n_positions)
    throw FieldError(
        SettingsField::text,
        QStringLiteral("The text is %1 tokens, more than the model's %2 positions (n_positions): "
                       "shorten it.")
            .arg(n)
            .arg(config.n_positions));
  try {
    check_token_limit(info.tokens.size(), settings.request(), names);
  } catch (const RequestError& error) {
    throw FieldError(settingsFieldOf(error.field()), toQString(error.what()));
  }
  // The grid draws n² doubles per map besides the engine's floats: the same bound as the book's view.
  constexpr double kMaxShownCells = 80e6;
  const double maps =
      static_cast<double>(config.n_head + (settings.display.headSummary != HeadSummary::none)) *
      static_cast<double>(settings.masks.size()) *
      static_cast<double>(std::max<std::size_t>(1, settings.display.quantities.size()));
  if (double(n) * n * maps > kMaxShownCells)
    throw FieldError(
        SettingsField::text,
        QStringLiteral("%1 tokens in %2 maps would be %3 million cells, more than AttnScope draws "
                       "(%4 million). Shorten the text, or show fewer masks or quantities.")
            .arg(n)
            .arg(maps)
            .arg(qRound(double(n) * n * maps / 1e6))
            .arg(qRound(kMaxShownCells / 1e6)));

  snapshot->text = settings.text;
  snapshot->tokenizer = TokenizerKind::whitespace;  // unused with a model: the strip names the BPE
  std::vector<int> ids;
  for (const BpeToken& token : info.tokens) {
    snapshot->tokens.push_back(token.token);
    snapshot->tokenTexts << toQString(token.display);
    ids.push_back(token.id);
  }
  snapshot->spans = utf16Spans(settings.text, snapshot->tokens);
  snapshot->device = QStringLiteral("cpu");
  snapshot->embeddingsNote = QStringLiteral("GPT-2's token and position embeddings (wte + wpe).");

  const auto layers = static_cast<std::size_t>(config.n_layer);
  const auto heads = static_cast<std::size_t>(config.n_head);
  // Rows with the same effective mask (none and causal, say) share one run.
  std::map<std::string, std::size_t> runOfMask;
  std::vector<std::size_t> rowOfRun;  // per mask row: the row that holds its run (itself or an earlier one)
  if (cache) {
    // Runs of masks no longer shown are let go (about 5·n_embd floats per token and layer each). A mask
    // new to the cache starts from another run's states: its rows before the first one the masks hide
    // differently are reused.
    std::map<std::string, ModelCache::Run> kept;
    std::vector<std::string> missing;
    for (const MaskSpec& mask : settings.masks) {
      const std::optional<MaskSpec> extra = extraMaskOf(mask);
      const std::string key = extra ? extra->to_string() : std::string();
      if (kept.count(key)) continue;
      if (auto found = cache->runs.find(key); found != cache->runs.end()) {
        kept.emplace(key, std::move(found->second));
        cache->runs.erase(found);
      } else {
        kept[key];
        missing.push_back(key);
      }
    }
    const std::string* seedKey = nullptr;
    const Gpt2Cache* seed = nullptr;
    for (const auto& [key, run] : kept)
      if (!run.model.ids.empty()) seedKey = &key, seed = &run.model;
    if (!seed && !cache->runs.empty()) seed = &cache->runs.begin()->second.model;
    for (const std::string& key : missing)
      if (seed && (!seedKey || *seedKey != key)) kept[key].model = *seed;
    cache->runs = std::move(kept);
  }
  for (const MaskSpec& mask : settings.masks) {
    cancel.throw_if_cancelled();
    const std::optional<MaskSpec> extra = extraMaskOf(mask);
    const std::string key = extra ? extra->to_string() : std::string();
    MaskedResult row;
    row.mask = mask;
    const std::size_t index = snapshot->rows.size();
    if (const auto same = runOfMask.find(key); same != runOfMask.end()) {
      rowOfRun.push_back(same->second);
      row.result = snapshot->rows[same->second].result;
      snapshot->rows.push_back(std::move(row));
      info.finalHidden.push_back(info.finalHidden[same->second]);
      info.layerMeans.push_back(info.layerMeans[same->second]);
      for (std::size_t i = 0; i < layers * heads; ++i) {
        snapshot->overview.push_back(snapshot->overview[same->second * layers * heads + i]);
        snapshot->headStats.push_back(snapshot->headStats[same->second * layers * heads + i]);
      }
      continue;
    }
    Gpt2RunOptions options;
    options.extra_mask = extra;
    options.layers = {settings.layer};
    options.row_stats = true;  // as attnscope-cli --stats computes them
    ModelCache::Run* cached = cache ? &cache->runs[key] : nullptr;
    if (cached) options.cache = &cached->model;
    if (cached && cached->shown) options.earlier_layers[cached->shownLayer] = cached->shown.get();
    const bool summariesKept = cached && cached->ids == ids;
    // Each layer's heads are summarised row by row as soon as the layer is computed (only the layer on
    // screen is held at n² per head); with the cache, only the rows the edit changed, unless n crossed a
    // power of two (the overview's blocks grew or shrank) or the last run did not finish its summaries.
    std::vector<HeadRowSummaries> ownRows;
    std::vector<HeadRowSummaries>& rowSummaries = cached ? cached->rows : ownRows;
    const bool rowsReusable = cached && cached->rowsValid && cached->rowsBlock == overviewBlock(n) &&
                              rowSummaries.size() == layers * heads;
    // Every layer's mean head weights, for the rollout: the cache's when only the layer changed, else a new
    // set that shares the cache's blocks of rows before the first changed one.
    std::shared_ptr<LayerMeans> means;
    const LayerMeans* previousMeans = nullptr;
    // The last run's overview maps: their blocks of queries before the first changed row stay.
    const std::vector<OverviewMap>* previousOverview =
        !summariesKept && rowsReusable && cached->overview.size() == layers * heads ? &cached->overview
                                                                                    : nullptr;
    if (!summariesKept) {
      means = std::make_shared<LayerMeans>(static_cast<int>(layers), n);
      if (cached && cached->layerMeans && rowsReusable) previousMeans = cached->layerMeans.get();
    }
    const auto summarize = [&](int l, const AttentionResult& layer, Eigen::Index firstRow) {
      cancel.throw_if_cancelled();
      if (l == 0) info.summarizedRows += static_cast<int>(n - firstRow);
      const std::size_t first = static_cast<std::size_t>(l) * heads;
      std::vector<OverviewMap> overview(heads);
      std::vector<HeadStats> stats(heads);
      // One task a head, and the layer's mean weights (as mean_of_heads sums them: in double, head by head,
      // so that the window's rollout is the CLI's) as one more, first: the longest.
      parallel_tasks(heads + 1, [&](std::size_t task) {
        if (task == 0) {
          means->setLayer(l, layer.heads, static_cast<int>(firstRow), previousMeans);
          return;
        }
        const std::size_t h = task - 1;
        HeadRowSummaries& rows = rowSummaries[first + h];
        summarizeRows(layer.heads[h].weights, layer.mask, firstRow, rows, layer.heads[h].row_stats);
        overview[h] = overviewOf(rows, n, previousOverview ? &(*previousOverview)[first + h] : nullptr,
                                 static_cast<int>(firstRow));
        stats[h] = head_stats(rows.stats);
      });
      std::move(overview.begin(), overview.end(), std::back_inserter(snapshot->overview));
      snapshot->headStats.insert(snapshot->headStats.end(), stats.begin(), stats.end());
    };
    if (summariesKept) {
      // Only the layer or another mask changed: every layer's summaries are those of the last run.
      snapshot->overview.insert(snapshot->overview.end(), cached->overview.begin(), cached->overview.end());
      snapshot->headStats.insert(snapshot->headStats.end(), cached->headStats.begin(),
                                 cached->headStats.end());
    } else {
      rowSummaries.resize(layers * heads);
      if (cached) {
        cached->ids.clear();  // until this run has finished them
        cached->rowsValid = false;
      }
      if (rowsReusable)
        options.on_layer_rows = summarize;
      else
        options.on_layer = [&](int l, const AttentionResult& layer) { summarize(l, layer, 0); };
    }
    const std::size_t summariesBegin = snapshot->overview.size();
    Gpt2Result result;
    try {
      result = model.run(ids, options, cancel);
    } catch (const Error& error) {
      throw FieldError(mask.kind == MaskKind::file ? SettingsField::masks : SettingsField::general,
                       toQString(error.what()));
    }
    if (cached && !summariesKept) {
      cached->overview.assign(snapshot->overview.begin() + static_cast<std::ptrdiff_t>(summariesBegin),
                              snapshot->overview.end());
      cached->headStats.assign(snapshot->headStats.begin() + static_cast<std::ptrdiff_t>(summariesBegin),
                               snapshot->headStats.end());
      cached->ids = ids;
      cached->rowsBlock = overviewBlock(n);
      cached->rowsValid = true;
      cached->layerMeans = means;
    }
    info.layerMeans.push_back(summariesKept ? cached->layerMeans
                                            : std::shared_ptr<const LayerMeans>(std::move(means)));
    info.recomputedPositions += n - result.reused_positions;
    row.result = SharedResult(std::move(result.layers.front()));
    snapshot->computeMs += result.compute_ms;
    info.finalHidden.push_back(std::move(result.final_hidden));
    runOfMask.emplace(key, index);
    rowOfRun.push_back(index);
    snapshot->rows.push_back(std::move(row));
  }
  snapshot->model = std::move(info);
  addHeadSummaries(*snapshot, settings.display.headSummary, cancel);
  // Rows of one run (masks none and causal: the model's own mask) draw the same cells: built once, and
  // copied for the other rows (each map takes its cells over).
  for (std::size_t row = 0; row < snapshot->rows.size(); ++row) {
    if (rowOfRun[row] == row) {
      prepareRowMaps(*snapshot, static_cast<int>(row), prepare, cancel);
      continue;
    }
    const std::size_t built = snapshot->prepared.maps.size();
    for (std::size_t i = 0; i < built; ++i) {
      const MapCells& map = snapshot->prepared.maps[i];
      if (map.maskRow == static_cast<int>(rowOfRun[row]))
        snapshot->prepared.maps.push_back(map.copyFor(static_cast<int>(row)));
    }
  }
  for (const MaskedResult& row : snapshot->rows)
    snapshot->anyMasked = snapshot->anyMasked || any_hidden(row.result->mask);
  if (cache)
    for (const auto& [key, index] : runOfMask) {
      ModelCache::Run& run = cache->runs[key];
      run.shown = std::shared_ptr<const AttentionResult>(snapshot, &*snapshot->rows[index].result);
      run.shownLayer = settings.layer;
    }
  return snapshot;
}

}  // namespace attnscope::ui
