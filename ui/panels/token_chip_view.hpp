#pragma once
// The tokens as a scrollable row of chips. Painted, not one widget per token, so a 2,000-token paste costs a
// layout pass and whatever chips are visible.

#include <QAbstractScrollArea>
#include <QStringList>
#include <limits>
#include <vector>

#include "plot/text_width_cache.hpp"

namespace attnscope::ui {

class TokenChipView : public QAbstractScrollArea {
  Q_OBJECT

 public:
  explicit TokenChipView(QWidget* parent = nullptr);

  // `details`, when given, add a line to each chip's tooltip (a GPT-2 piece's bytes and id).
  void setTokens(const QStringList& tokens, const QStringList& details = {});
  int tokenCount() const { return static_cast<int>(m_chips.size()); }
  QString chipText(int index) const { return m_chips[index].text; }
  QString chipToolTip(int index) const;
  // The chip's rectangle in viewport coordinates (scrolled).
  QRect chipRect(int index) const;
  int chipAt(const QPoint& viewportPosition) const;

  void setHighlighted(int index);  // the hovered token, from anywhere in the window
  void setSelected(int index);
  void ensureChipVisible(int index);

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 signals:
  void chipHovered(int index);  // -1 when the pointer leaves the chips
  void chipClicked(int index);
  void chipProbed(int index);  // Alt+click
  void stepped(int delta);     // ← ↑ (−1) or → ↓ (+1) while the chips have the keyboard focus

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;
  void focusInEvent(QFocusEvent* event) override;
  void focusOutEvent(QFocusEvent* event) override;
  void leaveEvent(QEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void changeEvent(QEvent* event) override;

 private:
  struct Chip {
    QString token;  // as given; `text` is what the chip shows of it
    QString text;
    QString detail;
    int left = 0;
    int width = 0;
  };
  // Places the chips from `first` on (those before it stay where they are), and sizes those before `sized`
  // (those from it on keep their width).
  void layoutChips(std::size_t first = 0, std::size_t sized = std::numeric_limits<std::size_t>::max());
  void updateScrollBar();
  int chipHeight() const;

  std::vector<Chip> m_chips;
  TextWidthCache m_textWidths, m_indexWidths;
  int m_contentWidth = 0;
  int m_hovered = -1;
  int m_highlighted = -1;
  int m_selected = -1;
};

}  // namespace attnscope::ui
