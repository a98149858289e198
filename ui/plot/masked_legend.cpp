#include "plot/masked_legend.hpp"

#include <QFontMetrics>

#include "plot/color_maps.hpp"

namespace attnscope::ui {

MaskedLegend::MaskedLegend(QCustomPlot* plot, const QFont& font)
    : QCPLayoutElement(plot),
      m_text(QStringLiteral(
          "masked: the key is hidden from the query (score \u2192 \u2212\u221e, weight exactly 0)")),
      m_font(font) {
  setMargins(QMargins(0, 2, 0, 2));
  setAutoMargins(QCP::msNone);
}

QSize MaskedLegend::minimumOuterSizeHint() const {
  const QFontMetrics metrics(m_font);
  return QSize(metrics.height() * 2 + metrics.horizontalAdvance(m_text), metrics.height() + 8);
}

QSize MaskedLegend::maximumOuterSizeHint() const {
  return QSize(QWIDGETSIZE_MAX, minimumOuterSizeHint().height());
}

void MaskedLegend::draw(QCPPainter* painter) {
  const QFontMetrics metrics(m_font);
  const int swatch = metrics.height();
  const int width = swatch + 6 + metrics.horizontalAdvance(m_text);
  const QRect area = rect();
  const int left = area.left() + (area.width() - width) / 2;
  const int top = area.top() + (area.height() - swatch) / 2;
  const QRect box(left, top, swatch, swatch);
  ColorMaps::paintHatch(painter, box);
  painter->setPen(QPen(ColorMaps::maskedLine(), 1));
  painter->setBrush(Qt::NoBrush);
  painter->drawRect(box);
  painter->setFont(m_font);
  painter->setPen(QColor(0x33, 0x33, 0x33));
  painter->drawText(QRect(box.right() + 6, area.top(), width, area.height()),
                    Qt::AlignVCenter | Qt::AlignLeft, m_text);
}

}  // namespace attnscope::ui
