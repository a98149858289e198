#pragma once
// The geometry of an exported figure, computed without painting: a small-multiples grid of square maps in
// the manner of matplotlib's subplots(sharex, sharey) with constrained layout. Maps of one mask row and
// quantity (a group) sit side by side, wrapped into several rows when that gives larger maps for the page;
// the token labels are drawn once, left of the first column and under the bottom row; headers name the
// columns (heads) and the groups (mask, and quantity when several are shown); one colour bar per quantity.
// Labels that do not fit shrink to a minimum size, then thin out (every k-th token, the first and last
// always), then are left off with a note. Every text is a rectangle inside the page and no two intersect,
// which the tests check for the rectangles this class returns.

#include <QFont>
#include <QPointF>
#include <QRectF>
#include <QSizeF>
#include <QString>
#include <QStringList>
#include <vector>

namespace attnscope::ui {

// Font sizes of a figure, in layout units (pixels, or points for the physical presets).
struct FigureStyle {
  int tickPixels = 12;
  int headerPixels = 13;
  int notePixels = 12;
  int minimumTickPixels = 8;  // labels shrink down to this size before they thin out
  friend bool operator==(const FigureStyle&, const FigureStyle&) = default;
};

struct FigureSpec {
  QSizeF page;  // layout units
  FigureStyle style;
  QStringList columnHeaders;       // one per head column: "head 0", …, "mean of heads"
  QStringList shortColumnHeaders;  // used when the long ones do not fit: "1", …, "mean"
  struct Group {
    QString header;  // the mask: "causal"
    int scale = 0;   // index into `scales`; the groups of one scale are consecutive
  };
  std::vector<Group> groups;  // top to bottom
  struct Scale {
    QString label;      // "weight"
    QString header;     // "weights": a row header over its groups when several scales are shown
    QStringList ticks;  // top to bottom: the largest value, the middle, the smallest
  };
  std::vector<Scale> scales;
  QStringList tokens;  // the axis labels, already shortened
  QStringList notes;   // lines always shown under the grid
  bool maskedKey = false;
  bool scaleHeaders = false;  // several quantities: each block of groups is headed by its quantity
  // False: no token labels at all (the model overview's thumbnails); `tokens` may then be empty.
  bool tokenAxes = true;
  int wrapRows = 0;  // grid rows per group; 0: whichever gives the largest maps
  // A short line over each map, under its column header: its statistics ("H 1.7 bits · self 0.41 · …"). One
  // list per group, one string per head (empty: that map has none); no lists: no readouts. They shrink to
  // the smallest label size to fit their map's width, else are all left off with a note.
  std::vector<QStringList> readouts;
};

enum class FigureTextRole {
  columnHeader,
  readout,
  rowHeader,
  queryLabel,
  keyLabel,
  scaleTick,
  scaleLabel,
  note
};

struct FigureText {
  FigureTextRole role;
  QRectF rect;  // the bounding box on the page (for vertical text: after rotation)
  QString text;
  QFont font;
  bool vertical = false;  // reads bottom to top
  Qt::Alignment alignment = Qt::AlignCenter;
};

class FigureLayout {
 public:
  // Throws attnscope::Error when the page cannot hold the maps at all.
  static FigureLayout compute(const FigureSpec& spec);

  int gridRowsPerGroup() const { return m_wrapRows; }
  int gridColumns() const { return m_columns; }
  double mapSide() const { return m_side; }
  // Every k-th token is labelled (1: all); 0 when the labels are left off.
  int labelStep() const { return m_labelStep; }
  int labelPixels() const { return m_labelPixels; }
  // The readouts' font size; 0 when they are left off (or none were asked for).
  int readoutPixels() const { return m_readoutPixels; }
  QRectF mapRect(int group, int head) const { return m_maps[static_cast<std::size_t>(group)][head]; }
  const std::vector<QRectF>& scaleBars() const { return m_bars; }  // one per scale
  QRectF maskedSwatch() const { return m_swatch; }                 // empty without the masked-cell key
  double hatchSpacing() const { return m_hatchSpacing; }           // masked cells' hatch, in layout units
  const std::vector<FigureText>& texts() const { return m_texts; }

 private:
  struct LabelPlan;
  struct Candidate;
  static bool fitLabels(const FigureSpec& spec, double side, int pixels, bool thin, LabelPlan* plan);
  static Candidate plan(const FigureSpec& spec, int wrapRows, bool rowHeaders, bool readouts);
  void place(const FigureSpec& spec, const Candidate& chosen);
  void addTokenLabels(const FigureSpec& spec, const QRectF& map, bool queries, const QFont& font);
  // Headers read bottom to top, each centred on its [top, bottom] span at `left`, at the largest font from
  // the header's size down to the smallest label size at which every one fits; false (none drawn) when
  // some does not fit even then.
  bool addRowHeaders(const FigureSpec& spec, const QStringList& headers, const std::vector<QPointF>& spans,
                     double left);

  int m_wrapRows = 1, m_columns = 1;
  double m_side = 0.0;
  int m_labelStep = 1, m_labelPixels = 0, m_readoutPixels = 0;
  bool m_keysVertical = false;
  std::vector<std::vector<QRectF>> m_maps;
  std::vector<QRectF> m_bars;
  QRectF m_swatch;
  double m_hatchSpacing = 7.0;
  std::vector<FigureText> m_texts;
};

}  // namespace attnscope::ui
