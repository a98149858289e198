#pragma once
// Everything the window shows is described by one ViewSettings value: what is computed (the text, how it
// becomes a matrix of embeddings, the mechanism and its seeds, the masks to compare: request()) and how the
// maps are drawn (display). Sessions and QSettings store it as JSON.

#include <QJsonObject>
#include <QString>
#include <cstdint>
#include <optional>
#include <vector>

#include "attnscope/backend.hpp"
#include "attnscope/config.hpp"
#include "attnscope/request.hpp"
#include "attnscope/tokenizer.hpp"
#include "state/display_options.hpp"

namespace attnscope::ui {

// EmbeddingSource is the engine's (attnscope/request.hpp): the window and attnscope-cli mean the same by it.

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

  Device device = Device::cpu;

  // A GPT-2 folder (config.json, model.safetensors, vocab.json, merges.txt); empty: the book's mechanisms.
  // With a model the text goes through its BPE, the grid shows `layer` (0-based), and the mechanism, sizes,
  // seeds, dropout, embeddings, tokenizer and device do not apply.
  QString modelFolder;
  int layer = 0;
  // Compare (View ▸ Compare): input B, computed with these same settings right after the text (input A);
  // none while Compare is off.
  std::optional<QString> compareText;
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

  // How the maps are drawn: not part of the request.
  DisplayOptions display;

  // True when `other` needs no new computation: the same request (whatever its display).
  bool sameComputation(const ViewSettings& other) const;
  friend bool operator==(const ViewSettings&, const ViewSettings&) = default;

  QJsonObject toJson() const;
  // Reads what toJson wrote; throws attnscope::Error naming the first bad field. Missing fields keep their
  // defaults, so a session written before a field existed still opens.
  static ViewSettings fromJson(const QJsonObject& json);
};

QString toString(EmbeddingSource source);

}  // namespace attnscope::ui
