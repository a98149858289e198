#pragma once
// Labels a heatmap axis with tokens: one tick per cell centre, thinned to every k-th token when the axis is
// too short for all of them (long texts), so labels never overlap.

#include <qcustomplot.h>

#include <QFont>
#include <QStringList>

#include "plot/text_width_cache.hpp"

namespace attnscope::ui {

class TokenAxisTicker : public QCPAxisTicker {
 public:
  static constexpr int kDefaultMaxCharacters = 14;
  // `axis` is the axis this ticker is set on (it owns the ticker); labels are elided to `maxCharacters`.
  TokenAxisTicker(QCPAxis* axis, const QStringList& tokens, int maxCharacters = kDefaultMaxCharacters);

  const QStringList& labels() const { return m_labels; }
  void setTokens(const QStringList& tokens);
  // The same with the labels already elided (to this ticker's maxCharacters) and measured in the axis' tick
  // label font: a grid of maps elides and measures a long text once, not once per axis.
  void setTokens(const QStringList& tokens, const QStringList& labels, int widest);
  int widestLabel() const;  // pixels, in the axis' tick label font (cached)
  // Pixels needed per label along the axis: the font height when labels are stacked or rotated, else the
  // widest label.
  int labelExtent() const;
  int step() const;  // every step-th token is labelled: the shared step when one is set, else naturalStep()
  // Every step-th token fits at the axis' current length and range.
  int naturalStep() const;
  // A step set for a whole grid, so that maps of the same tokens label the same ones (0: this axis' own).
  void setSharedStep(int step) { m_sharedStep = step; }
  // True when the axis changed length since the ticks were generated and they would now be thinned
  // differently (the layout sizes the axis after generating its ticks, so a replot may need a second pass).
  bool isStale() const { return step() != m_generatedStep; }

  void generate(const QCPRange& range, const QLocale& locale, QChar formatChar, int precision,
                QVector<double>& ticks, QVector<double>* subTicks, QVector<QString>* tickLabels) override;

 private:
  QCPAxis* m_axis;
  QStringList m_tokens;
  QStringList m_labels;
  mutable int m_widest = -1;
  mutable TextWidthCache m_widths;
  mutable QFont m_widestFont;
  int m_maxCharacters;
  int m_generatedStep = 0;
  int m_sharedStep = 0;
};

}  // namespace attnscope::ui
