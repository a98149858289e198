#pragma once
// Turns ViewSettings into what the engine computes, through the engine's prepare_input (the same function as
// attnscope-cli's), plus what only the window needs: the masks as grid rows, whether long texts keep their
// scores, the memory bound, and a note saying where the embeddings came from. Every problem is reported
// against the settings field that can fix it.

#include <QString>
#include <optional>
#include <vector>

#include "attnscope/config.hpp"
#include "attnscope/error.hpp"
#include "attnscope/matrix.hpp"
#include "attnscope/request.hpp"
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

// The settings field where the window shows a problem with a request's field.
SettingsField settingsFieldOf(RequestField field);

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
  // The settings ask for the book's embeddings, but the text is not the book's sentence: a seeded table
  // stands in (the settings panel says so).
  bool bookEmbeddingsReplaced = false;
  HeadSummary headSummary = HeadSummary::none;

  // Throws FieldError. An empty text gives an input without tokens (the window shows a hint, not an error).
  // `names` says how messages name the fields (the headless export names its flags).
  // `comparedWith`: for Compare's input B, A's text (ComputeRequest::compared_with).
  static AttentionInput fromSettings(const ViewSettings& settings, FieldNames names = setting_name,
                                     const std::optional<QString>& comparedWith = std::nullopt);
};

}  // namespace attnscope::ui
