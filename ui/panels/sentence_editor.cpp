#include "panels/sentence_editor.hpp"

#include <QTextBlock>

namespace attnscope::ui {

SentenceEditor::SentenceEditor(QWidget* parent) : QPlainTextEdit(parent) {
  setPlaceholderText(tr("Type or paste a sentence\u2026"));
  setTabChangesFocus(true);
  setLineWrapMode(QPlainTextEdit::WidgetWidth);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  QFont larger = font();
  larger.setPointSizeF(larger.pointSizeF() * 1.25);
  setFont(larger);
  setAccessibleName(tr("Sentence"));
  connect(this, &QPlainTextEdit::textChanged, this, [this] { emit textEdited(toPlainText()); });
}

void SentenceEditor::setModel(ScopeModel* model) {
  setText(model->settings().text);
  connect(this, &SentenceEditor::textEdited, model, &ScopeModel::setText);
  connect(model, &ScopeModel::settingsChanged, this,
          [this](const ViewSettings& settings) { setText(settings.text); });
  connect(model, &ScopeModel::hoverChanged, this, [this, model](int query) {
    const SnapshotPointer& snapshot = model->snapshot();
    // Spans index the text the snapshot was computed from; while a newer edit computes they may not match.
    if (snapshot && query >= 0 && query < snapshot->tokenCount() && snapshot->text == text())
      highlightSpan(snapshot->spans[query].first, snapshot->spans[query].second);
    else
      highlightSpan(0, 0);
  });
}

void SentenceEditor::setText(const QString& text) {
  if (text == toPlainText()) return;
  setPlainText(text);
  moveCursor(QTextCursor::End);
}

void SentenceEditor::highlightSpan(int begin, int end) {
  m_span = {begin, end};
  QList<QTextEdit::ExtraSelection> selections;
  const int length = document()->characterCount() - 1;
  if (begin < end && end <= length) {
    QTextEdit::ExtraSelection selection;
    selection.format.setBackground(palette().color(QPalette::Highlight).lighter(170));
    selection.format.setForeground(palette().color(QPalette::Text));
    selection.cursor = QTextCursor(document());
    selection.cursor.setPosition(begin);
    selection.cursor.setPosition(end, QTextCursor::KeepAnchor);
    selections << selection;
  }
  setExtraSelections(selections);
}

QSize SentenceEditor::sizeHint() const {
  const int lines = 3;
  const int height = fontMetrics().lineSpacing() * lines + 2 * frameWidth() +
                     static_cast<int>(document()->documentMargin() * 2) + 4;
  return QSize(600, height);
}

QSize SentenceEditor::minimumSizeHint() const {
  return QSize(200, sizeHint().height());
}

}  // namespace attnscope::ui
