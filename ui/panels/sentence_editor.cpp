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
