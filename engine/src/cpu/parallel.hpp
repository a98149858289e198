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

namespace detail {

// One parallel_for: the helpers the pool lends it take task indices from `next` as the caller does.
struct ParallelJob {
  std::size_t count = 0;
  std::size_t helpers = 0;  // how many pool threads may join (the caller is worker 0)
  int caller_cpu = -1;      // the core the caller posted it from (-1: unknown), which its helpers leave
  const void* task = nullptr;
  void (*run)(const void* task, std::size_t i, std::size_t worker) = nullptr;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  // Changed under the pool's lock: the helpers that joined, and those still working (also read without it,
  // by the caller watching for its helpers to finish).
  std::size_t joined = 0;
  std::atomic<std::size_t> active{0};

  // Takes task indices until none is left or one failed (its exception kept for the caller).
  void work(std::size_t worker);
};

// Lends the job up to job.helpers threads of a pool that lives as long as the process (started once, not
// per call: a thread's start and join cost 20–40 µs here, and an edit of a GPT-2 text makes about a hundred
// parallel_for calls), works on it on this thread, and returns once every helper that joined has stopped.
void run_on_pool(ParallelJob& job);

}  // namespace detail

// Runs task(i) for i in [0, count) on up to `threads` threads; the first exception is rethrown here once
// every thread has stopped taking tasks. A task that takes (i, worker) also gets its thread's number, in
// [0, parallel_threads(count, threads)), for per-thread scratch. The helpers come from a pool: fewer may
// join when others are busy (a parallel_for inside a task, or on another thread), never more.
template <typename Task>
void parallel_for(std::size_t count, int threads, const Task& task) {
  const auto run = [](const void* context, std::size_t i, std::size_t worker) {
    const Task& body = *static_cast<const Task*>(context);
    if constexpr (std::is_invocable_v<const Task&, std::size_t, std::size_t>)
      body(i, worker);
    else
      body(i);
  };
  const std::size_t thread_count = parallel_threads(count, threads);
  if (thread_count <= 1) {
    for (std::size_t i = 0; i < count; ++i) run(&task, i, 0);
    return;
  }
  detail::ParallelJob job;
  job.count = count;
  job.helpers = thread_count - 1;
  job.task = &task;
  job.run = run;
  detail::run_on_pool(job);
  if (job.first_error) std::rethrow_exception(job.first_error);
}

}  // namespace attnscope::cpu
