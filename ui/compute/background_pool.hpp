#pragma once
// The threads the window's own background work runs on: freeing a snapshot, giving memory back. (Map cells
// and summaries follow a computation and run on the engine's threads, attnscope/parallel.hpp.) Not Qt's
// global pool: QPainter's raster engine hands parts of large fills to that pool and waits for them on the GUI
// thread, so while our work held its threads every repaint during a computation waited too (40–70 ms at
// 4,096 tokens).

#include <QThreadPool>

namespace attnscope::ui {

// One per process, as many threads as cores; safe to use from any thread.
QThreadPool* backgroundPool();

// Gives the calling thread a lower scheduling priority than the GUI thread's (nice 5, Linux), so that on a
// machine whose cores the computation fills, painting and typing still get the CPU when they need it: at
// 4,096 tokens the GUI thread was otherwise preempted for up to 190 ms. Threads it starts later (the
// engine's helpers) inherit it. Returns false where this cannot be done (nothing changes).
bool lowerThreadPriority();

}  // namespace attnscope::ui
