#include "compute/attention_input.hpp"

#include <QFileInfo>
#include <algorithm>
#include <string>

#include "attnscope/embeddings.hpp"
#include "attnscope/mask.hpp"
#include "text.hpp"

namespace attnscope::ui {
namespace {

std::vector<std::string> textsOf(const std::vector<Token>& tokens) {
  std::vector<std::string> texts;
  texts.reserve(tokens.size());
  for (const Token& token : tokens) texts.push_back(token.text);
  return texts;
}

bool isMultihead(Mechanism mechanism) {
  return mechanism == Mechanism::multihead || mechanism == Mechanism::multihead_wrapper;
}

QString divisorsOf(int number) {
  QStringList divisors;
  for (int d = 1; d <= number && divisors.size() < 6; ++d)
    if (number % d == 0) divisors << QString::number(d);
  return divisors.join(QStringLiteral(", "));
}

Matrix embeddingsFor(const ViewSettings& settings, const std::vector<Token>& tokens, QString& note) {
  const std::uint64_t seed = settings.embeddingSeed.value_or(settings.seed);
  switch (settings.embeddingSource) {
    case EmbeddingSource::book: {
      const Preset& book = book_preset();
      if (textsOf(tokens) == book.tokens) {
        note = QStringLiteral("The book's 6 × 3 embeddings.");
        return book.embeddings;
      }
      note = QStringLiteral(
                 "The book's embeddings cover only \u201c%1\u201d. This text gets a seeded table instead "
                 "(nn.Embedding, d_in 3, seed %2); type the book's sentence to get them back.")
                 .arg(toQString(book.text))
                 .arg(seed);
      return seeded_embeddings(textsOf(tokens), 3, seed);
    }
    case EmbeddingSource::seeded: {
      if (settings.dIn < 1) throw FieldError(SettingsField::dIn, QStringLiteral("d_in must be at least 1."));
      std::vector<std::string> distinct = textsOf(tokens);
      std::sort(distinct.begin(), distinct.end());
      distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
      note = QStringLiteral(
                 "A seeded table: torch.manual_seed(%1); nn.Embedding(%2, %3) for the %2 distinct tokens.")
                 .arg(seed)
                 .arg(distinct.size())
                 .arg(settings.dIn);
      return seeded_embeddings(textsOf(tokens), settings.dIn, seed);
    }
    case EmbeddingSource::file: {
      if (settings.embeddingsFile.isEmpty())
        throw FieldError(SettingsField::embeddings,
                         QStringLiteral("Choose an embeddings file (.npy or .csv, one row per token)."));
      Matrix embeddings;
      try {
        embeddings = load_embeddings(settings.embeddingsFile.toStdString());
      } catch (const Error& error) {
        throw FieldError(SettingsField::embeddings, toQString(error.what()));
      }
      if (embeddings.rows() != static_cast<Eigen::Index>(tokens.size()))
        throw FieldError(
            SettingsField::embeddings,
            QStringLiteral("%1 has %2 rows but the text has %3 tokens: there must be one row per "
                           "token.")
                .arg(QFileInfo(settings.embeddingsFile).fileName())
                .arg(embeddings.rows())
                .arg(tokens.size()));
      note = QStringLiteral("%1: %2 × %3.")
                 .arg(QFileInfo(settings.embeddingsFile).fileName())
                 .arg(embeddings.rows())
                 .arg(embeddings.cols());
      return embeddings;
    }
  }
  return {};
}

AttentionConfig configFor(const ViewSettings& settings, int dIn) {
  AttentionConfig config;
  config.mechanism = settings.mechanism;
  config.d_out = settings.dOut;
  config.heads = settings.heads;
  config.qkv_bias = settings.qkvBias;
  // The panel disables dropout for mechanisms without it; the value is kept for when one is chosen again.
  config.dropout = has_dropout(settings.mechanism) ? settings.dropout : 0.0;
  config.seed = settings.seed;
  config.dropout_seed = settings.dropoutSeed;
  config.normalization = settings.normalization;

  if (config.d_out < 0) throw FieldError(SettingsField::dOut, QStringLiteral("d_out must be at least 1."));
  if (isMultihead(config.mechanism) && config.heads < 1)
    throw FieldError(SettingsField::heads, QStringLiteral("There must be at least one head."));
  const int dOut = config.effective_d_out(dIn);
  if (config.mechanism == Mechanism::multihead && dOut % config.heads != 0)
    throw FieldError(
        SettingsField::heads,
        QStringLiteral("%1 heads do not divide d_out = %2: multihead gives each head d_out / heads "
                       "columns. Choose %3 heads, or a d_out that %1 divides.")
            .arg(config.heads)
            .arg(dOut)
            .arg(divisorsOf(dOut)));
  if (!(config.dropout >= 0.0 && config.dropout < 1.0))
    throw FieldError(SettingsField::dropout, QStringLiteral("Dropout must be at least 0 and below 1."));
  try {
    config.validate(dIn);
  } catch (const Error& error) {
    throw FieldError(SettingsField::general, toQString(error.what()));
  }
  return config;
}

}  // namespace

AttentionInput AttentionInput::fromSettings(const ViewSettings& settings) {
  AttentionInput input;
  input.text = settings.text;
  input.tokenizer = settings.tokenizer;
  try {
    input.tokens = tokenize(settings.text.toStdString(), settings.tokenizer);
  } catch (const Error& error) {
    throw FieldError(SettingsField::text, toQString(error.what()));
  }
  if (settings.masks.empty())
    throw FieldError(SettingsField::masks, QStringLiteral("Choose at least one mask to show."));
  input.masks = settings.masks;
  input.headSummary = settings.headSummary;
  if (input.tokens.empty()) return input;
  const int limit = AttentionConfig{}.max_tokens;
  if (input.tokens.size() > static_cast<std::size_t>(limit))
    throw FieldError(
        SettingsField::text,
        QStringLiteral("The text has %1 tokens; AttnScope computes at most %2 (each head keeps several "
                       "n \u00d7 n matrices). Shorten it, or choose a coarser tokenizer.")
            .arg(input.tokens.size())
            .arg(limit));

  input.embeddings = embeddingsFor(settings, input.tokens, input.embeddingsNote);
  input.config = configFor(settings, static_cast<int>(input.embeddings.cols()));
  // A long text's scores are n² floats per head that no map on screen needs (hover recomputes one from q and
  // k); a short text keeps them, so its exports carry the engine's own numbers.
  constexpr std::size_t kScoresAlwaysKept = 1024;
  input.config.keep_scores = settings.showsScores() || input.tokens.size() <= kScoresAlwaysKept;
  // The maps on screen are reduced to their pixels; what grows with n² is what the engine returns: per head
  // the weights, the scores while a score map is shown, the weights after dropout. A long text's are let go
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
                       "than AttnScope holds (%5 GiB). Shorten the text, or show fewer heads, masks or score "
                       "maps.")
            .arg(input.tokens.size())
            .arg(input.config.head_count())
            .arg(input.masks.size())
            .arg(held / (1 << 30), 0, 'f', 1)
            .arg(kMaxHeldBytes / (1 << 30), 0, 'f', 0));
  // A mask file is read here, so that a bad file is reported next to the masks rather than as a failure of
  // the computation.
  for (const MaskSpec& mask : input.masks) {
    if (mask.kind != MaskKind::file) continue;
    try {
      build_mask(mask, static_cast<Eigen::Index>(input.tokens.size()));
    } catch (const Error& error) {
      throw FieldError(SettingsField::masks, toQString(error.what()));
    }
  }
  return input;
}

}  // namespace attnscope::ui
