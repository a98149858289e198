#include "plot/text_width_cache.hpp"

namespace attnscope::ui {

int TextWidthCache::width(const QFont& font, const QString& text) {
  if (font != m_font || m_widths.size() >= kMaxEntries) {
    m_font = font;
    m_widths.clear();
  }
  if (const auto found = m_widths.constFind(text); found != m_widths.cend()) return *found;
  const int measured = QFontMetrics(m_font).horizontalAdvance(text);
  m_widths.insert(text, measured);
  return measured;
}

}  // namespace attnscope::ui
