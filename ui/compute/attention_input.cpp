#include "compute/attention_input.hpp"

#include <QFileInfo>
#include <algorithm>
#include <string>

#include "attnscope/embeddings.hpp"
#include "text.hpp"

namespace attnscope::ui {
namespace {

QString noteFor(const ViewSettings& settings, const PreparedInput& input) {
  const std::uint64_t seed = settings.embeddingSeed.value_or(settings.seed);
  const auto rows = input.embeddings.rows();
  const auto columns = input.embeddings.cols();
  switch (input.embeddings_from) {
    case EmbeddingSource::book:
      return QStringLiteral("The book's %1 × %2 embeddings.").arg(rows).arg(columns);
    case EmbeddingSource::seeded: {
      if (settings.embeddingSource == EmbeddingSource::book)
        return QStringLiteral(
                   "The book's 6 \u00d7 3 embeddings cover only its own sentence: this text gets "
                   "a seeded table, nn.Embedding(V, %1) with seed %2.")
            .arg(columns)
            .arg(seed);
      std::vector<std::string> distinct;
      for (const Token& token : input.tokens) distinct.push_back(token.text);
      std::sort(distinct.begin(), distinct.end());
      distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
      return QStringLiteral(
                 "A seeded table: torch.manual_seed(%1); nn.Embedding(%2, %3) for the %2 distinct tokens.")
          .arg(seed)
          .arg(distinct.size())
          .arg(columns);
    }
    case EmbeddingSource::file:
      return QStringLiteral("%1: %2 × %3.")
          .arg(QFileInfo(settings.embeddingsFile).fileName())
          .arg(rows)
          .arg(columns);
  }
  return {};
}

}  // namespace

SettingsField settingsFieldOf(RequestField field) {
  switch (field) {
    case RequestField::text:
    case RequestField::max_tokens:
      return SettingsField::text;
    case RequestField::tokenizer:
      return SettingsField::tokenizer;
    case RequestField::embeddings:
      return SettingsField::embeddings;
    case RequestField::d_in:
      return SettingsField::dIn;
    case RequestField::mechanism:
      return SettingsField::mechanism;
    case RequestField::d_out:
      return SettingsField::dOut;
    case RequestField::heads:
      return SettingsField::heads;
    case RequestField::seed:
      return SettingsField::seed;
    case RequestField::dropout:
      return SettingsField::dropout;
    case RequestField::normalization:
      return SettingsField::normalization;
    case RequestField::masks:
      return SettingsField::masks;
    case RequestField::device:
      return SettingsField::device;
    case RequestField::model:
      return SettingsField::model;
    case RequestField::layers:
      return SettingsField::layer;
    case RequestField::general:
      break;
  }
  return SettingsField::general;
}

AttentionInput AttentionInput::fromSettings(const ViewSettings& settings, FieldNames names,
                                            const std::optional<QString>& comparedWith) {
  // The grid shows one row per mask: with none there is nothing to show (attnscope-cli's request then means
  // the mechanism's own mask).
  if (settings.masks.empty())
    throw FieldError(SettingsField::masks, QStringLiteral("Choose at least one mask to show."));
  PreparedInput prepared;
  try {
    ComputeRequest request = settings.request();
    if (comparedWith) request.compared_with = comparedWith->toStdString();
    prepared = prepare_input(request, names);
  } catch (const RequestError& error) {
    throw FieldError(settingsFieldOf(error.field()), toQString(error.what()));
  }
  AttentionInput input;
  input.text = settings.text;
  input.tokenizer = settings.tokenizer;
  input.masks = settings.masks;
  input.headSummary = settings.display.headSummary;
  if (prepared.tokens.empty()) return input;
  input.embeddingsNote = noteFor(settings, prepared);  // counts the distinct tokens: before they move
  input.tokens = std::move(prepared.tokens);
  input.bookEmbeddingsReplaced = settings.embeddingSource == EmbeddingSource::book &&
                                 prepared.embeddings_from == EmbeddingSource::seeded;
  input.embeddings = std::move(prepared.embeddings);
  input.config = prepared.config;
  input.config.mask.reset();  // each grid row sets its own

  // A long text's scores are n² floats per head that its maps need not keep: a score map, a hover and an
  // export recompute them from q and k. A short text keeps them, so its exports carry the engine's own
  // numbers. Whether a score map is shown does not decide it: showing one must not run the engine again.
  constexpr std::size_t kScoresAlwaysKept = 1024;
  input.config.keep_scores = input.tokens.size() <= kScoresAlwaysKept;
  input.config.row_stats = true;  // every snapshot carries its heads' statistics
  // The maps on screen are reduced to their pixels; what grows with n² is what the engine returns: per head
  // the weights, a short text's scores, the weights after dropout. A long text's are let go
  // mask by mask once its maps are drawn (softmax without dropout; see PreparedMaps), so then one mask's
  // matrices are held at a time, else all of them; and a mask matrix per mask.
  constexpr double kMaxHeldBytes = 8.0 * (1 << 30);
  const double n = static_cast<double>(input.tokens.size());
  const double masks = static_cast<double>(input.masks.size());
  const double matrices =
      1.0 + (input.config.keep_scores ? 1.0 : 0.0) + (input.config.dropout > 0.0 ? 1.0 : 0.0);
  const bool byMask = input.config.normalization == Normalization::softmax && input.config.dropout == 0.0;
  const double held =
      n * n * (input.config.head_count() * (byMask ? 1.0 : masks) * matrices * sizeof(float) + masks);
  if (held > kMaxHeldBytes)
    throw FieldError(
        SettingsField::text,
        QStringLiteral("%1 tokens with %2 heads and %3 masks need %4 GiB for the attention matrices, more "
                       "than AttnScope holds (%5 GiB). Shorten the text, or use fewer heads or "
                       "masks.")
            .arg(input.tokens.size())
            .arg(input.config.head_count())
            .arg(input.masks.size())
            .arg(held / (1 << 30), 0, 'f', 1)
            .arg(kMaxHeldBytes / (1 << 30), 0, 'f', 0));
  return input;
}

}  // namespace attnscope::ui
