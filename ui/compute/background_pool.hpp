#pragma once
// The threads the window's own background work runs on: map cells, summaries, freeing a snapshot, giving
// memory back. Not Qt's global pool: QPainter's raster engine hands parts of large fills to that pool and
// waits for them on the GUI thread, so while our work held its threads every repaint during a computation
// waited too (40–70 ms at 4,096 tokens).

#include <QThreadPool>

namespace attnscope::ui {

// One per process, as many threads as cores; safe to use from any thread.
QThreadPool* backgroundPool();

}  // namespace attnscope::ui
