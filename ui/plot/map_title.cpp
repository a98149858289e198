#include "plot/map_title.hpp"

namespace attnscope::ui {

MapTitle::MapTitle(QCustomPlot* plot, const QFont& font) : QCPTextElement(plot, QString(), font) {
  m_laidOut.setTextFormat(Qt::PlainText);
  m_laidOut.setPerformanceHint(QStaticText::AggressiveCaching);
}

const QStaticText& MapTitle::laidOut() const {
  if (m_laidOutText != mText || m_laidOutFont != mFont || m_textSize.isEmpty() != mText.isEmpty()) {
    m_laidOutText = mText;
    m_laidOutFont = mFont;
    m_laidOut.setText(mText);
    m_laidOut.prepare(QTransform(), mFont);
    const QFontMetrics metrics(mFont);
    // The size QCPTextElement measures: the text's box, at least one line high.
    m_textSize = QSize(static_cast<int>(std::ceil(m_laidOut.size().width())), metrics.height());
  }
  return m_laidOut;
}

QSize MapTitle::minimumOuterSizeHint() const {
  laidOut();
  if (m_elided)
    return mText.isEmpty() ? QSize(0, 0) : QSize(0, m_textSize.height() + mMargins.top() + mMargins.bottom());
  return m_textSize.grownBy(mMargins);
}

QSize MapTitle::maximumOuterSizeHint() const {
  laidOut();
  if (m_elided && mText.isEmpty()) return QSize(QWIDGETSIZE_MAX, 0);
  return QSize(QWIDGETSIZE_MAX, m_textSize.height() + mMargins.top() + mMargins.bottom());
}

void MapTitle::draw(QCPPainter* painter) {
  const QStaticText& whole = laidOut();
  if (m_elided && m_textSize.width() > mRect.width()) {
    if (m_elidedWidth != mRect.width() || m_elidedFrom != mText || m_elidedFont != mFont) {
      m_elidedWidth = mRect.width();
      m_elidedFrom = mText;
      m_elidedFont = mFont;
      m_shownText = QFontMetrics(mFont).elidedText(mText, Qt::ElideRight, mRect.width());
      m_elidedText.setTextFormat(Qt::PlainText);
      m_elidedText.setText(m_shownText);
      m_elidedText.prepare(QTransform(), mFont);
    }
    const double width = std::ceil(m_elidedText.size().width());
    const QPointF topLeft(mRect.left() + (mRect.width() - width) / 2.0,
                          mRect.top() + (mRect.height() - m_textSize.height()) / 2.0);
    painter->setFont(mainFont());
    painter->setPen(QPen(mainTextColor()));
    painter->drawStaticText(topLeft, m_elidedText);
    mTextBoundingRect = QRect(topLeft.toPoint(), QSize(static_cast<int>(width), m_textSize.height()));
    return;
  }
  m_shownText = mText;
  const QStaticText& text = whole;
  const QPointF topLeft(mRect.left() + (mRect.width() - m_textSize.width()) / 2.0,
                        mRect.top() + (mRect.height() - m_textSize.height()) / 2.0);
  painter->setFont(mainFont());
  painter->setPen(QPen(mainTextColor()));
  painter->drawStaticText(topLeft, text);
  mTextBoundingRect = QRect(topLeft.toPoint(), m_textSize);
}

}  // namespace attnscope::ui
