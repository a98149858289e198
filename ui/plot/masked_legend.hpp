#pragma once
// A one-line key under the grid: the hatch swatch and what it means, so a masked cell is never read as 0.

#include <qcustomplot.h>

namespace attnscope::ui {

class MaskedLegend : public QCPLayoutElement {
  Q_OBJECT

 public:
  MaskedLegend(QCustomPlot* plot, const QFont& font);

  QSize minimumOuterSizeHint() const override;
  QSize maximumOuterSizeHint() const override;

 protected:
  void draw(QCPPainter* painter) override;

 private:
  QString m_text;
  QFont m_font;
};

}  // namespace attnscope::ui
