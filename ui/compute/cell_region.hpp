#pragma once
// Which cells of an n × n map a plot holds, and how coarsely: a map with more tokens than its axis rect has
// pixels is drawn from blocks of cells, each reduced to its max or mean, so QCustomPlot never receives more
// cells than it can show; zooming in asks for a smaller region at a finer block size, down to one token.

#include <QString>

#include "state/view_settings.hpp"

namespace attnscope::ui {

struct CellRegion {
  int keyBegin = 0, keyEnd = 0;      // key tokens [begin, end): the columns
  int queryBegin = 0, queryEnd = 0;  // query tokens [begin, end): the rows
  int keyBlock = 1, queryBlock = 1;  // tokens per built cell along each axis
  Reduction reduction = Reduction::max;

  // The region that shows the tokens [keyBegin, keyEnd) × [queryBegin, queryEnd) of an n-token map at no more
  // than `keyPixels` × `queryPixels` cells (0: no limit). Block boundaries fall on multiples of the block
  // size, so panning keeps the same blocks.
  static CellRegion fitting(int n, int keyBegin, int keyEnd, int queryBegin, int queryEnd, int keyPixels,
                            int queryPixels, Reduction reduction);
  // The whole map.
  static CellRegion whole(int n, int pixels, Reduction reduction) {
    return fitting(n, 0, n, 0, n, pixels, pixels, reduction);
  }

  int keyCells() const { return (keyEnd - keyBegin + keyBlock - 1) / keyBlock; }
  int queryCells() const { return (queryEnd - queryBegin + queryBlock - 1) / queryBlock; }
  bool isEmpty() const { return keyEnd <= keyBegin || queryEnd <= queryBegin; }
  bool isReduced() const { return keyBlock > 1 || queryBlock > 1; }
  bool contains(int query, int key) const {
    return key >= keyBegin && key < keyEnd && query >= queryBegin && query < queryEnd;
  }
  // True when cells built for this region serve a view that wants `wanted`: they cover it, are at least as
  // fine, and not so much finer that drawing them would waste time and memory.
  bool serves(const CellRegion& wanted) const;
  // What the user is told about a reduced map: "max of 4×4 cells"; empty when every token has its cell.
  QString note() const;

  friend bool operator==(const CellRegion&, const CellRegion&) = default;
};

}  // namespace attnscope::ui
