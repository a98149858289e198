#include "panels/sentence_editor.hpp"

#include <QTextBlock>
#include <QTextLayout>

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
  // A paragraph's layout drops its shaped glyphs once laid out unless told to keep them, and each paint and
  // each blink of the cursor then shapes the whole paragraph again: a 4,096-token paragraph (20,000
  // characters) took 4.7 ms to repaint and 8.2 ms per key, 2.1 and 6.4 with the glyphs kept (about 20 bytes
  // a character).
  connect(document(), &QTextDocument::contentsChange, this, [this](int position, int, int added) {
    for (QTextBlock block = document()->findBlock(position);
         block.isValid() && block.position() <= position + added; block = block.next())
      block.layout()->setCacheEnabled(true);
  });
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
