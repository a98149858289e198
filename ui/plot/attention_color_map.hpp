#pragma once
// One heatmap's cells: a QCPColorMap filled from a snapshot (masked cells NaN, drawn as the hatch) that also
// prints each value inside its cell when the cells are large enough to read. A long text's map holds a region
// of reduced cells (see CellRegion), never more cells than it has pixels. On screen and in PNGs the map is an
// image of exactly its device pixels, made when what it shows changes and copied without scaling; vector
// exports get QCustomPlot's own drawing over a hatch of lines.

#include <qcustomplot.h>

#include <QImage>
#include <QTransform>

#include "compute/attention_snapshot.hpp"

namespace attnscope::ui {

class AttentionColorMap : public QCPColorMap {
  Q_OBJECT

 public:
  AttentionColorMap(QCPAxis* keyAxis, QCPAxis* valueAxis);

  // Key = key token (column), value = query token (row); row 0 is drawn at the top by the reversed axis.
  // Takes the cells prepared on the worker thread when they serve `wanted`; else builds `wanted` here when
  // that is cheap, or leaves the map empty for the plot to fill off the GUI thread (false).
  bool setValues(const AttentionSnapshot& snapshot, int maskRow, int head, Quantity quantity,
                 const CellRegion& wanted);
  // Takes over `cells` built for an n-token map (no copy). The colour range follows only the whole map's
  // cells, so zooming in does not change the colours.
  void setCells(MapCells cells, int tokenCount);
  int tokenCount() const { return m_tokens; }
  const CellRegion& region() const { return m_region; }
  // The drawn value of the cell holding token (query, key): its own value, or its block's max or mean (NaN
  // when masked, or outside the cells held).
  double cellValue(int query, int key) const;
  // Extremes of the unmasked cells (NaN when every cell is masked).
  double minimum() const { return m_minimum; }
  double maximum() const { return m_maximum; }
  double percentile99() const { return m_percentile99; }  // see MapCells::percentile99

  // Smallest cell, in pixels, that gets its value printed.
  static constexpr int kMinimumLabelledCellWidth = 30;
  static constexpr int kMinimumLabelledCellHeight = 16;
  // Maps up to this many tokens a side are built on the GUI thread when no prepared cells serve (well under a
  // millisecond); larger ones wait for the plot's worker.
  static constexpr int kLargestBuiltHere = 256;

 protected:
  void draw(QCPPainter* painter) override;

 private:
  // What the pixel image was made for: any difference makes it again.
  struct PixelKey {
    quint64 cellsVersion = 0;  // setCells and the cleared map count up
    QCPRange dataRange, keyRange, queryRange;
    bool logarithmic = false;
    QRect devicePixels;
    QTransform device;
    friend bool operator==(const PixelKey&, const PixelKey&) = default;
  };

  // False where the painter is not a raster one at a plain scale (the caller then draws the scaled way).
  bool drawPixels(QCPPainter* painter);
  void drawValues(QCPPainter* painter);

  int m_tokens = 0;
  CellRegion m_region;
  double m_minimum = 0.0, m_maximum = 0.0, m_percentile99 = 0.0;
  bool m_anyMasked = false;  // a cell is NaN: the hatch shows through it
  quint64 m_cellsVersion = 0;
  PixelKey m_pixelKey;
  QCPColorGradient m_pixelGradient;
  QImage m_pixels;  // the device pixels of m_pixelKey.devicePixels
};

}  // namespace attnscope::ui
