#pragma once
// The text being explained. Every edit is reported (the controller debounces); the span of the token under
// the pointer, in the heatmaps or the chips, is highlighted in place.

#include <QPlainTextEdit>

#include "state/scope_model.hpp"

namespace attnscope::ui {

class SentenceEditor : public QPlainTextEdit {
  Q_OBJECT

 public:
  explicit SentenceEditor(QWidget* parent = nullptr);

  // Edits the model's text, shows the text of its settings and highlights the hovered query's span.
  void setModel(ScopeModel* model);
  QString text() const { return toPlainText(); }
  // Replaces the text without an undo step per session load; keeps the cursor at the end.
  void setText(const QString& text);
  // Highlights [begin, end) in UTF-16 units; an empty span clears it.
  void highlightSpan(int begin, int end);
  QPair<int, int> highlightedSpan() const { return m_span; }

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 signals:
  void textEdited(const QString& text);

 private:
  QPair<int, int> m_span{0, 0};
};

}  // namespace attnscope::ui
