#include "text.hpp"

#include <QTextBoundaryFinder>

namespace attnscope::ui {

QString displayToken(const QString& token, int maxCharacters) {
  QString shown;
  shown.reserve(token.size());
  for (const QChar c : token) {
    if (c == QLatin1Char(' '))
      shown += QChar(0x2423);  // ␣
    else if (c == QLatin1Char('\n'))
      shown += QChar(0x23CE);  // ⏎
    else if (c == QLatin1Char('\t'))
      shown += QChar(0x21E5);  // ⇥
    else if (c.category() == QChar::Other_Control)
      shown += QChar(0xFFFD);
    else
      shown += c;
  }
  if (maxCharacters > 1 && shown.size() > maxCharacters) {
    // Cut after whole graphemes, so an accented letter or an emoji sequence is never split.
    QTextBoundaryFinder graphemes(QTextBoundaryFinder::Grapheme, shown);
    qsizetype cut = 0;
    int count = 0;
    while (count < maxCharacters - 1) {
      const qsizetype next = graphemes.toNextBoundary();
      if (next < 0) break;
      cut = next;
      ++count;
    }
    if (graphemes.toNextBoundary() >= 0) shown = shown.left(cut) + QChar(0x2026);  // …
  }
  return shown;
}

}  // namespace attnscope::ui
