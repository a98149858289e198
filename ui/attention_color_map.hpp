#pragma once
// One heatmap's cells: a QCPColorMap filled from a snapshot (masked cells NaN, drawn transparent over the
// axis rect's hatch) that also prints each value inside its cell when the cells are large enough to read.

#include <qcustomplot.h>

#include "attention_snapshot.hpp"

namespace attnscope::ui {

class AttentionColorMap : public QCPColorMap {
  Q_OBJECT

 public:
  AttentionColorMap(QCPAxis* keyAxis, QCPAxis* valueAxis);

  // Key = key token (column), value = query token (row); row 0 is drawn at the top by the reversed axis.
  void setValues(const AttentionSnapshot& snapshot, int maskRow, int head, Quantity quantity);
  int tokenCount() const { return m_tokens; }
  // The drawn value of a cell (NaN when masked).
  double cellValue(int query, int key) const;
  // Extremes of the unmasked cells (NaN when every cell is masked).
  double minimum() const { return m_minimum; }
  double maximum() const { return m_maximum; }

  // Smallest cell, in pixels, that gets its value printed.
  static constexpr int kMinimumLabelledCellWidth = 30;
  static constexpr int kMinimumLabelledCellHeight = 16;

 protected:
  void draw(QCPPainter* painter) override;

 private:
  void drawValues(QCPPainter* painter);

  int m_tokens = 0;
  double m_minimum = 0.0, m_maximum = 0.0;
};

}  // namespace attnscope::ui
