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

OverviewMap reduceForOverview(const Matrix& weights, const MaskMatrix& mask) {
  const int n = static_cast<int>(weights.rows());
  OverviewMap map;
  map.size = std::min(n, OverviewMap::kCells);
  const auto cells = static_cast<std::size_t>(map.size) * static_cast<std::size_t>(map.size);
  std::vector<float> sums(cells, 0.0f);
  std::vector<int> counts(cells, 0);
  for (int query = 0; query < n; ++query) {
    const std::size_t row =
        static_cast<std::size_t>(query * map.size / n) * static_cast<std::size_t>(map.size);
    for (int key = 0; key < n; ++key) {
      if (mask(query, key)) continue;
      const std::size_t cell = row + static_cast<std::size_t>(key * map.size / n);
      sums[cell] += weights(query, key);
      ++counts[cell];
    }
  }
  map.cells.resize(cells);
  for (std::size_t i = 0; i < cells; ++i) {
    map.cells[i] =
        counts[i] ? sums[i] / static_cast<float>(counts[i]) : std::numeric_limits<float>::quiet_NaN();
    if (counts[i]) map.maximum = std::max(map.maximum, map.cells[i]);
  }
  return map;
}

SnapshotPointer computeModelSnapshot(const ViewSettings& settings, const Gpt2Model& model,
                                     const CancelToken& cancel, const PreparedMaps& prepare,
                                     FieldNames names) {
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
  for (const MaskSpec& mask : settings.masks) {
    cancel.throw_if_cancelled();
    const std::optional<MaskSpec> extra = extraMaskOf(mask);
    const std::string key = extra ? extra->to_string() : std::string();
    MaskedResult row;
    row.mask = mask;
    const std::size_t index = snapshot->rows.size();
    if (const auto same = runOfMask.find(key); same != runOfMask.end()) {
      row.result = snapshot->rows[same->second].result;
      snapshot->rows.push_back(std::move(row));
      info.finalHidden.push_back(info.finalHidden[same->second]);
      for (std::size_t i = 0; i < layers * heads; ++i) {
        snapshot->overview.push_back(snapshot->overview[same->second * layers * heads + i]);
        snapshot->headStats.push_back(snapshot->headStats[same->second * layers * heads + i]);
      }
      continue;
    }
    Gpt2RunOptions options;
    options.extra_mask = extra;
    options.layers = {settings.layer};
    // Every layer reaches the overview reduced as soon as it is computed, so only the layer on screen is
    // held at n² per head.
    options.on_layer = [&](int, const AttentionResult& layer) {
      for (const HeadResult& head : layer.heads) {
        cancel.throw_if_cancelled();
        snapshot->overview.push_back(reduceForOverview(head.weights, layer.mask));
      }
      for (HeadStats& stats : head_stats(layer)) snapshot->headStats.push_back(std::move(stats));
    };
    Gpt2Result result;
    try {
      result = model.run(ids, options, cancel);
    } catch (const Error& error) {
      throw FieldError(mask.kind == MaskKind::file ? SettingsField::masks : SettingsField::general,
                       toQString(error.what()));
    }
    row.result = std::move(result.layers.front());
    snapshot->computeMs += result.compute_ms;
    info.finalHidden.push_back(std::move(result.final_hidden));
    runOfMask.emplace(key, index);
    snapshot->rows.push_back(std::move(row));
  }
  snapshot->model = std::move(info);
  addHeadSummaries(*snapshot, settings.display.headSummary, cancel);
  prepareMaps(*snapshot, prepare, cancel);
  for (const MaskedResult& row : snapshot->rows)
    snapshot->anyMasked = snapshot->anyMasked || row.result.mask.any();
  return snapshot;
}

}  // namespace attnscope::ui
