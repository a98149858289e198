#pragma once
// The engine's threads, for work a caller does beside a computation (the window's summaries of each layer,
// its map cells).

#include <cstddef>
#include <functional>

namespace attnscope {

// Runs task(i) for each i in [0, count) on the threads the CPU backend computes with (this thread and the
// engine's helpers: ATTNSCOPE_THREADS in all, every hardware thread by default) and returns when all have
// run. The first exception a task throws is rethrown here once the other threads have stopped taking tasks.
// Work that follows a computation finds the helpers awake (they watch for the next loop for a while), where a
// pool of its own would wake threads for it.
void parallel_tasks(std::size_t count, const std::function<void(std::size_t)>& task);

}  // namespace attnscope
