#pragma once
// A minimal fork-join loop over independent tasks: each thread takes the next task index until none is left.

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace attnscope::cpu {

// ATTNSCOPE_THREADS overrides the thread count (like OMP_NUM_THREADS); default: every hardware thread.
inline int worker_threads() {
  if (const char* text = std::getenv("ATTNSCOPE_THREADS")) {
    const int requested = std::atoi(text);
    if (requested >= 1) return requested;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

// The number of threads parallel_for(count, threads, …) runs on.
inline std::size_t parallel_threads(std::size_t count, int threads) {
  return std::max<std::size_t>(1,
                               std::min<std::size_t>(count, static_cast<std::size_t>(std::max(1, threads))));
}

// Runs task(i) for i in [0, count) on up to `threads` threads; the first exception is rethrown here once
// every thread has stopped taking tasks. A task that takes (i, worker) also gets its thread's number, in
// [0, parallel_threads(count, threads)), for per-thread scratch.
template <typename Task>
void parallel_for(std::size_t count, int threads, const Task& task) {
  const auto run = [&task](std::size_t i, std::size_t worker) {
    if constexpr (std::is_invocable_v<const Task&, std::size_t, std::size_t>)
      task(i, worker);
    else
      task(i);
  };
  const std::size_t thread_count = parallel_threads(count, threads);
  if (thread_count <= 1) {
    for (std::size_t i = 0; i < count; ++i) run(i, 0);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  const auto work = [&](std::size_t worker) {
    for (std::size_t i = next++; i < count && !failed; i = next++) {
      try {
        run(i, worker);
      } catch (...) {
        const std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::jthread> helpers;
  for (std::size_t t = 1; t < thread_count; ++t) helpers.emplace_back(work, t);
  work(0);
  helpers.clear();  // joins
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace attnscope::cpu
