#include "plot/token_axis_ticker.hpp"

#include <QFontMetrics>
#include <algorithm>
#include <cmath>

#include "text.hpp"

namespace attnscope::ui {

TokenAxisTicker::TokenAxisTicker(QCPAxis* axis, const QStringList& tokens, int maxCharacters)
    : m_axis(axis), m_maxCharacters(maxCharacters) {
  setTokens(tokens);
}

void TokenAxisTicker::setTokens(const QStringList& tokens) {
  if (tokens == m_tokens && m_labels.size() == tokens.size()) return;
  m_tokens = tokens;
  m_widest = -1;
  m_labels.clear();
  m_labels.reserve(tokens.size());
  for (const QString& token : tokens) m_labels << displayToken(token, m_maxCharacters);
}

void TokenAxisTicker::setTokens(const QStringList& tokens, const QStringList& labels, int widest) {
  m_tokens = tokens;
  m_labels = labels;
  m_widest = widest;
  m_widestFont = m_axis->tickLabelFont();
}

int TokenAxisTicker::widestLabel() const {
  if (m_widest < 0 || m_widestFont != m_axis->tickLabelFont()) {
    m_widestFont = m_axis->tickLabelFont();
    m_widest = 0;
    for (const QString& label : m_labels) m_widest = std::max(m_widest, m_widths.width(m_widestFont, label));
  }
  return m_widest;
}

int TokenAxisTicker::labelExtent() const {
  const bool across = m_axis->orientation() == Qt::Vertical || std::abs(m_axis->tickLabelRotation()) > 45.0;
  if (across) return QFontMetrics(m_axis->tickLabelFont()).height() + 2;
  return widestLabel() + 8;
}

int TokenAxisTicker::step() const {
  return m_sharedStep > 0 ? m_sharedStep : naturalStep();
}

int TokenAxisTicker::naturalStep() const {
  // The tokens in view: a zoomed-in axis labels more of them.
  const int count =
      std::min(static_cast<int>(m_labels.size()), static_cast<int>(std::ceil(m_axis->range().size())));
  const bool horizontal = m_axis->orientation() == Qt::Horizontal;
  int pixels = horizontal ? m_axis->axisRect()->width() : m_axis->axisRect()->height();
  // A new axis rect has no size until the layout that follows the ticks: the whole plot bounds it. Labelling
  // every token there measured and drew 4,096 labels per axis (0.85 s for a grid of 24 maps); the replot's
  // settle pass thins them for the real length.
  if (pixels <= 0) {
    const QRect viewport = m_axis->parentPlot()->viewport();
    pixels = horizontal ? viewport.width() : viewport.height();
  }
  if (count == 0 || pixels <= 0) return 1;
  const int fitting = std::max(1, pixels / std::max(1, labelExtent()));
  return std::max(1, (count + fitting - 1) / fitting);
}

void TokenAxisTicker::generate(const QCPRange& range, const QLocale&, QChar, int, QVector<double>& ticks,
                               QVector<double>* subTicks, QVector<QString>* tickLabels) {
  ticks.clear();
  if (subTicks) subTicks->clear();
  if (tickLabels) tickLabels->clear();
  const int count = static_cast<int>(m_labels.size());
  const int every = step();
  m_generatedStep = every;
  const int first = std::max(0, static_cast<int>(std::ceil(range.lower)));
  const int last = std::min(count - 1, static_cast<int>(std::floor(range.upper)));
  for (int i = first - first % every; i <= last; i += every) {
    if (i < first) continue;
    ticks << i;
    if (tickLabels) *tickLabels << m_labels.at(i);
  }
}

}  // namespace attnscope::ui
