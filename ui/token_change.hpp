#pragma once
// Where an edit changed a text's tokens: how many it left at the front and, after those, at the back. The
// views that show something per token (the chips, the maps' labels, the probe field) keep those and remake
// only the ones between: a letter typed in the middle of a 4,096-token text changes one or two.

#include <QtGlobal>
#include <algorithm>

namespace attnscope::ui {

struct TokenChange {
  qsizetype front = 0;  // items 0 … front − 1 are the same before and after
  qsizetype back = 0;   // so are the last `back` items of each (never overlapping the front ones)
};

// `before` and `after` items; `same(i, j)` says whether item i before is item j after.
template <typename Same>
TokenChange tokenChange(qsizetype before, qsizetype after, Same same) {
  TokenChange change;
  const qsizetype common = std::min(before, after);
  while (change.front < common && same(change.front, change.front)) ++change.front;
  while (change.front + change.back < common && same(before - 1 - change.back, after - 1 - change.back))
    ++change.back;
  return change;
}

}  // namespace attnscope::ui
