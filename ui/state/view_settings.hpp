#pragma once
// Everything the window shows is described by one ViewSettings value: the text, how it becomes a matrix of
// embeddings, the mechanism and its seeds, the masks to compare, and how the maps are drawn. Sessions and
// QSettings store it as JSON.

#include <QJsonObject>
#include <QString>
#include <cstdint>
#include <optional>
#include <vector>

#include "attnscope/backend.hpp"
#include "attnscope/config.hpp"
#include "attnscope/request.hpp"
#include "attnscope/tokenizer.hpp"

namespace attnscope::ui {

// EmbeddingSource is the engine's (attnscope/request.hpp): the window and attnscope-cli mean the same by it.

// What a heatmap shows, in the order the grid stacks them.
enum class Quantity { rawScores, scaledScores, weights, dropoutWeights };

enum class ColorMapId { viridis, magma, cividis };

// How a map with more tokens than pixels shows each block of cells: its largest or its mean unmasked value.
enum class Reduction { max, mean };
// An extra map per mask row that sums up its heads cell by cell.
enum class HeadSummary { none, mean, max };

struct ViewSettings {
  QString text;
  TokenizerKind tokenizer = TokenizerKind::whitespace;
  EmbeddingSource embeddingSource = EmbeddingSource::book;
  int dIn = 3;                                 // seeded tables only
  std::optional<std::uint64_t> embeddingSeed;  // default: seed
  QString embeddingsFile;

  Mechanism mechanism = Mechanism::multihead;
  int dOut = 4;  // 0: the same as d_in
  int heads = 2;
  std::uint64_t seed = 123;
  double dropout = 0.0;
  std::optional<std::uint64_t> dropoutSeed;
  bool qkvBias = false;
  Normalization normalization = Normalization::softmax;
  std::vector<MaskSpec> masks;  // one grid row (per quantity) each, in this order

  std::vector<Quantity> quantities;  // in Quantity order, no duplicates
  ColorMapId colorMap = ColorMapId::viridis;
  bool sharedRange = true;  // one colour range per quantity across all maps, else one per map
  Reduction reduction = Reduction::max;
  Device device = Device::cpu;

  // A GPT-2 folder (config.json, model.safetensors, vocab.json, merges.txt); empty: the book's mechanisms.
  // With a model the text goes through its BPE, the grid shows `layer` (0-based), and the mechanism, sizes,
  // seeds, dropout, embeddings, tokenizer and device do not apply.
  QString modelFolder;
  int layer = 0;
  HeadSummary headSummary = HeadSummary::none;
  // attnscope --max-tokens; not saved: the window computes up to the engine's default.
  int maxTokens = AttentionConfig{}.max_tokens;

  // The first-launch view: the book's sentence, multihead, 2 heads, d_out 4, masks none and causal, weights.
  static ViewSettings defaults();

  // The computation these settings describe, as attnscope-cli describes one: prepare_input turns it into the
  // engine's input for the window, the headless export and attnscope-cli alike. The layer is the request's
  // only layer.
  ComputeRequest request() const;
  // Takes every field of `request` but its layers (the window shows one layer: set `layer`).
  void setRequest(const ComputeRequest& request);

  // True when `other` needs no new computation: the same request, head summary and whether scores are shown
  // (the engine keeps a long text's n² scores only while a score map is shown).
  bool sameComputation(const ViewSettings& other) const;
  // Whether a score map is shown: the engine keeps the n² scores per head only then.
  bool showsScores() const;
  friend bool operator==(const ViewSettings&, const ViewSettings&) = default;

  QJsonObject toJson() const;
  // Reads what toJson wrote; throws attnscope::Error naming the first bad field. Missing fields keep their
  // defaults, so a session written before a field existed still opens.
  static ViewSettings fromJson(const QJsonObject& json);
};

QString toString(EmbeddingSource source);
QString toString(Quantity quantity);         // "raw scores", "scaled scores", "weights", "dropout weights"
QString slugOf(Quantity quantity);           // "scores", "scaled-scores", "weights", "dropout-weights"
QString colorScaleLabel(Quantity quantity);  // the colour bar's: "score q·k", …, "weight after dropout"
QString toString(ColorMapId colorMap);       // "viridis", "magma", "cividis"
QString toString(Reduction reduction);       // "max", "mean"
QString toString(HeadSummary summary);       // "none", "mean", "max"
bool isScore(Quantity quantity);             // raw or scaled scores: a diverging map centred on 0
const std::vector<Quantity>& allQuantities();

}  // namespace attnscope::ui
