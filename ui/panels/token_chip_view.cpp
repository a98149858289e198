#include "panels/token_chip_view.hpp"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QScrollBar>
#include <algorithm>
#include <iterator>

#include "text.hpp"
#include "token_change.hpp"

namespace attnscope::ui {
namespace {

constexpr int kSpacing = 6;
constexpr int kPadding = 8;
constexpr int kMargin = 4;
constexpr int kMaxCharacters = 32;

QFont indexFont(const QFont& base) {
  QFont font = base;
  font.setPointSizeF(std::max(6.0, base.pointSizeF() * 0.75));
  return font;
}

}  // namespace

TokenChipView::TokenChipView(QWidget* parent) : QAbstractScrollArea(parent) {
  setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
  setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  setFrameShape(QFrame::NoFrame);
  viewport()->setMouseTracking(true);
  viewport()->setAutoFillBackground(false);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  horizontalScrollBar()->setSingleStep(24);
  setFocusPolicy(Qt::StrongFocus);  // Tab reaches the chips, and a click on one keeps ↑ ↓ there
}

int TokenChipView::chipHeight() const {
  return fontMetrics().height() + 10;
}

QSize TokenChipView::sizeHint() const {
  return QSize(400, chipHeight() + 2 * kMargin + horizontalScrollBar()->sizeHint().height());
}

QSize TokenChipView::minimumSizeHint() const {
  // The chips scroll sideways, so a narrow window (1024 px) need not make room for them.
  return QSize(120, sizeHint().height());
}

void TokenChipView::setTokens(const QStringList& tokens, const QStringList& details) {
  // An edit keeps the chips before its first changed token as they are, text, size and place, and those
  // after its last one keep their text (and their size, when the count, and so their numbers, stayed):
  // remaking every chip was 3 ms of each 4,096-token snapshot's delivery, 2 ms after the first changed one.
  const auto count = static_cast<qsizetype>(m_chips.size());
  const TokenChange change = tokenChange(count, tokens.size(), [&](qsizetype before, qsizetype after) {
    const Chip& chip = m_chips[static_cast<std::size_t>(before)];
    return chip.token == tokens[after] && chip.detail == details.value(after);
  });
  std::vector<Chip> chips;
  chips.reserve(static_cast<std::size_t>(tokens.size()));
  std::move(m_chips.begin(), m_chips.begin() + change.front, std::back_inserter(chips));
  for (qsizetype i = change.front; i < tokens.size() - change.back; ++i)
    chips.push_back(Chip{tokens[i], displayToken(tokens[i], kMaxCharacters), details.value(i), 0, 0});
  std::move(m_chips.end() - change.back, m_chips.end(), std::back_inserter(chips));
  m_chips = std::move(chips);
  m_hovered = -1;
  if (m_highlighted >= tokenCount()) m_highlighted = -1;
  if (m_selected >= tokenCount()) m_selected = -1;
  const auto sized =
      static_cast<std::size_t>(count == tokens.size() ? tokens.size() - change.back : tokens.size());
  layoutChips(static_cast<std::size_t>(change.front), sized);
  viewport()->update();
}

void TokenChipView::layoutChips(std::size_t first, std::size_t sized) {
  const QFont small = indexFont(font());
  first = std::min(first, m_chips.size());
  int x = first > 0 ? m_chips[first - 1].left + m_chips[first - 1].width + kSpacing : kMargin;
  for (std::size_t i = first; i < m_chips.size(); ++i) {
    Chip& chip = m_chips[i];
    chip.left = x;
    if (i < sized)
      chip.width = m_textWidths.width(font(), chip.text) +
                   m_indexWidths.width(small, QString::number(i + 1)) + 3 + 2 * kPadding;
    x += chip.width + kSpacing;
  }
  m_contentWidth = x + kMargin;
  updateScrollBar();
}

void TokenChipView::updateScrollBar() {
  QScrollBar* bar = horizontalScrollBar();
  bar->setRange(0, std::max(0, m_contentWidth - viewport()->width()));
  bar->setPageStep(viewport()->width());
}

QRect TokenChipView::chipRect(int index) const {
  const Chip& chip = m_chips[index];
  const int top = std::max(kMargin, (viewport()->height() - chipHeight()) / 2);
  return QRect(chip.left - horizontalScrollBar()->value(), top, chip.width, chipHeight());
}

int TokenChipView::chipAt(const QPoint& position) const {
  const int x = position.x() + horizontalScrollBar()->value();
  // Chips are sorted by left edge: find the last chip starting at or before x.
  auto it = std::upper_bound(m_chips.begin(), m_chips.end(), x,
                             [](int value, const Chip& chip) { return value < chip.left; });
  if (it == m_chips.begin()) return -1;
  const int index = static_cast<int>(std::prev(it) - m_chips.begin());
  return chipRect(index).contains(position) ? index : -1;
}

void TokenChipView::setHighlighted(int index) {
  if (index == m_highlighted) return;
  m_highlighted = index;
  viewport()->update();
}

void TokenChipView::setSelected(int index) {
  if (index == m_selected) return;
  m_selected = index;
  viewport()->update();
}

void TokenChipView::ensureChipVisible(int index) {
  if (index < 0 || index >= tokenCount()) return;
  const Chip& chip = m_chips[index];
  QScrollBar* bar = horizontalScrollBar();
  if (chip.left < bar->value())
    bar->setValue(chip.left - kMargin);
  else if (chip.left + chip.width > bar->value() + viewport()->width())
    bar->setValue(chip.left + chip.width + kMargin - viewport()->width());
}

void TokenChipView::paintEvent(QPaintEvent*) {
  QPainter painter(viewport());
  painter.setRenderHint(QPainter::Antialiasing);
  const QPalette& colors = palette();
  const QFont small = indexFont(font());
  const int scroll = horizontalScrollBar()->value();
  const int visibleLeft = scroll, visibleRight = scroll + viewport()->width();
  auto first = std::upper_bound(m_chips.begin(), m_chips.end(), visibleLeft,
                                [](int value, const Chip& chip) { return value < chip.left; });
  if (first != m_chips.begin()) --first;
  const QColor accent = colors.color(QPalette::Highlight);
  for (auto it = first; it != m_chips.end() && it->left < visibleRight; ++it) {
    const int index = static_cast<int>(it - m_chips.begin());
    const QRectF rect = QRectF(chipRect(index)).adjusted(0.5, 0.5, -0.5, -0.5);
    const bool hot = index == m_hovered || index == m_highlighted;
    const bool selected = index == m_selected;
    QColor fill = colors.color(QPalette::AlternateBase);
    if (hot) fill = accent.lighter(175);
    QPainterPath path;
    path.addRoundedRect(rect, 6, 6);
    painter.fillPath(path, fill);
    painter.setPen(QPen(selected ? accent : colors.color(QPalette::Mid), selected ? 2 : 1));
    painter.drawPath(path);

    const QString indexText = QString::number(index + 1);
    painter.setFont(small);
    const QFontMetrics smallMetrics(small);
    painter.setPen(colors.color(QPalette::PlaceholderText));
    const QRectF indexRect(rect.left() + kPadding, rect.top(), smallMetrics.horizontalAdvance(indexText),
                           rect.height() - 3);
    painter.drawText(indexRect, Qt::AlignLeft | Qt::AlignBottom, indexText);
    painter.setFont(font());
    painter.setPen(colors.color(QPalette::Text));
    const QRectF textRect(indexRect.right() + 3, rect.top(), rect.right() - kPadding - indexRect.right() - 3,
                          rect.height());
    // Each token is drawn on its own, so right-to-left text is shaped within the chip while the chips keep
    // text order.
    painter.drawText(textRect, Qt::AlignLeft | Qt::AlignVCenter, it->text);
  }
  if (hasFocus()) {  // where the keys go, visibly
    painter.setRenderHint(QPainter::Antialiasing, false);
    painter.setPen(QPen(accent, 2));
    painter.setBrush(Qt::NoBrush);
    painter.drawRect(viewport()->rect().adjusted(1, 1, -1, -1));
  }
}

void TokenChipView::keyPressEvent(QKeyEvent* event) {
  const int key = event->key();
  if (key == Qt::Key_Up || key == Qt::Key_Left || key == Qt::Key_Down || key == Qt::Key_Right) {
    emit stepped(key == Qt::Key_Up || key == Qt::Key_Left ? -1 : 1);
    return;
  }
  QAbstractScrollArea::keyPressEvent(event);
}

void TokenChipView::focusInEvent(QFocusEvent* event) {
  QAbstractScrollArea::focusInEvent(event);
  viewport()->update();
}

void TokenChipView::focusOutEvent(QFocusEvent* event) {
  QAbstractScrollArea::focusOutEvent(event);
  viewport()->update();
}

void TokenChipView::mouseMoveEvent(QMouseEvent* event) {
  const int index = chipAt(event->position().toPoint());
  if (index != m_hovered) {
    m_hovered = index;
    viewport()->update();
    emit chipHovered(index);
  }
  if (index >= 0) setToolTip(chipToolTip(index));
  QAbstractScrollArea::mouseMoveEvent(event);
}

QString TokenChipView::chipToolTip(int index) const {
  const Chip& chip = m_chips[static_cast<std::size_t>(index)];
  const QString tip = tr("Token %1 of %2: %3").arg(index + 1).arg(tokenCount()).arg(chip.text);
  return chip.detail.isEmpty() ? tip : tip + QLatin1Char('\n') + chip.detail;
}

void TokenChipView::mousePressEvent(QMouseEvent* event) {
  const int index = chipAt(event->position().toPoint());
  if (index >= 0 && event->button() == Qt::LeftButton) {
    if (event->modifiers() & Qt::AltModifier)
      emit chipProbed(index);
    else
      emit chipClicked(index);
  }
  QAbstractScrollArea::mousePressEvent(event);
}

void TokenChipView::leaveEvent(QEvent* event) {
  if (m_hovered != -1) {
    m_hovered = -1;
    viewport()->update();
    emit chipHovered(-1);
  }
  QAbstractScrollArea::leaveEvent(event);
}

void TokenChipView::resizeEvent(QResizeEvent* event) {
  QAbstractScrollArea::resizeEvent(event);
  updateScrollBar();
}

void TokenChipView::changeEvent(QEvent* event) {
  if (event->type() == QEvent::FontChange) layoutChips();
  QAbstractScrollArea::changeEvent(event);
}

}  // namespace attnscope::ui
