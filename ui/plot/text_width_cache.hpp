#pragma once
// Pixel widths of short texts (token labels) in one font, remembered between edits: an edit changes one token
// of a long text, and measuring all of them again (text shaping) took the GUI thread several milliseconds per
// thousand tokens.

#include <QFont>
#include <QFontMetrics>
#include <QHash>
#include <QString>

namespace attnscope::ui {

class TextWidthCache {
 public:
  // Horizontal advance of `text` in `font`; a new font starts over.
  int width(const QFont& font, const QString& text);

 private:
  // Distinct texts held at most; a text of more tokens than this starts over rather than grow without end.
  static constexpr qsizetype kMaxEntries = 1 << 16;

  QFont m_font;
  QHash<QString, int> m_widths;
};

}  // namespace attnscope::ui
