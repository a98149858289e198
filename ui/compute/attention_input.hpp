#pragma once
// Turns ViewSettings into what the engine computes: tokens, an embeddings matrix and a validated config.
// Every problem is reported against the settings field that can fix it.

#include <QString>
#include <vector>

#include "attnscope/config.hpp"
#include "attnscope/error.hpp"
#include "attnscope/matrix.hpp"
#include "attnscope/tokenizer.hpp"
#include "state/view_settings.hpp"

namespace attnscope::ui {

enum class SettingsField {
  text,
  tokenizer,
  embeddings,
  dIn,
  mechanism,
  dOut,
  heads,
  seed,
  dropout,
  normalization,
  masks,
  quantities,
  device,
  model,  // the GPT-2 folder: missing, or a file in it unreadable or malformed
  layer,
  general,  // not tied to one field (e.g. the computation overflowed)
};

// An attnscope::Error that knows which settings field it is about.
class FieldError : public Error {
 public:
  FieldError(SettingsField field, const QString& message) : Error(message.toStdString()), m_field(field) {}
  SettingsField field() const { return m_field; }

 private:
  SettingsField m_field;
};

struct AttentionInput {
  QString text;
  TokenizerKind tokenizer = TokenizerKind::whitespace;
  std::vector<Token> tokens;
  Matrix embeddings;       // tokens × d_in
  AttentionConfig config;  // mask unset: each grid row sets its own
  std::vector<MaskSpec> masks;
  QString embeddingsNote;  // where the embeddings came from, in words
  HeadSummary headSummary = HeadSummary::none;

  // Throws FieldError. An empty text gives an input without tokens (the window shows a hint, not an error).
  static AttentionInput fromSettings(const ViewSettings& settings);
};

}  // namespace attnscope::ui
