#pragma once
// A map's title in the heatmap grid. QCPTextElement lays its text out anew each time it is measured (twice
// per layout) and drawn: for a grid of 24 maps that was 72 text layouts, about 3 ms of the GUI thread, on
// every edit. MapTitle lays each text out once and keeps it (QStaticText) until the text or font changes.

#include <qcustomplot.h>

#include <QStaticText>

namespace attnscope::ui {

class MapTitle : public QCPTextElement {
  Q_OBJECT

 public:
  MapTitle(QCustomPlot* plot, const QFont& font);

  // Elided: the text never widens its column (it is cut with "…" to the width it is given) and an empty
  // text takes no height, so a readout line can be switched off without rebuilding the layout.
  void setElided(bool elided) { m_elided = elided; }
  bool isElided() const { return m_elided; }
  // The text as drawn at the last replot (elided or whole).
  QString shownText() const { return m_shownText; }

 protected:
  QSize minimumOuterSizeHint() const override;
  QSize maximumOuterSizeHint() const override;
  void draw(QCPPainter* painter) override;

 private:
  // The laid-out text of the current text and font.
  const QStaticText& laidOut() const;

  mutable QStaticText m_laidOut;
  mutable QString m_laidOutText;
  mutable QFont m_laidOutFont;
  mutable QSize m_textSize;
  bool m_elided = false;
  QString m_shownText;
  QStaticText m_elidedText;  // elided mode: laid out at draw time when the width changed
  int m_elidedWidth = -1;
  QString m_elidedFrom;
  QFont m_elidedFont;
};

}  // namespace attnscope::ui
