#include "cpu/parallel.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>

#if defined(__linux__)
#include <sched.h>
#endif

namespace attnscope::cpu::detail {

void ParallelJob::work(std::size_t worker) {
  for (std::size_t i = next++; i < count && !failed; i = next++) {
    try {
      run(task, i, worker);
    } catch (...) {
      const std::lock_guard lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
      failed = true;
    }
  }
}

namespace {

// How long a thread that has run out of work watches for more before it sleeps. An edit of a GPT-2 text
// makes about a hundred parallel_for calls a few hundred microseconds apart: a helper that slept between them
// was woken onto the busy caller's core (the scheduler's choice for a thread its waker wakes) and ran only
// when the caller waited for it, so the two threads took turns on one core while the other sat idle (a
// 255-token edit's products took 37 ms in the window against 19 ms alone). Watching keeps the helper on its
// own core between calls. It yields while it watches, so a thread the scheduler put beside it still runs.
constexpr auto kWatchTime = std::chrono::microseconds(500);

// The core this thread runs on, or -1 where that cannot be told.
int current_cpu() {
#if defined(__linux__)
  return sched_getcpu();
#else
  return -1;
#endif
}

// Moves this thread to another of its allowed cores when it runs on `cpu`. A helper that had slept was woken
// onto its waker's core (the scheduler put it there with another core idle, on the 2-core VM this was
// measured on) and, watching there, stayed: both threads were always "cache hot" to the load balancer, which
// left them taking turns on one core for tens of milliseconds while the other idled; in half of a window's
// GPT-2 edits two threads computed slower than one. Narrowing the thread's affinity past `cpu` moves it at
// once; the old affinity is then restored. (With more cores, helpers may still meet each other: not seen.)
void leave_cpu(int cpu) {
#if defined(__linux__)
  if (cpu < 0 || current_cpu() != cpu) return;
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || !CPU_ISSET(cpu, &allowed) ||
      CPU_COUNT(&allowed) < 2)
    return;
  cpu_set_t others = allowed;
  CPU_CLR(cpu, &others);
  if (sched_setaffinity(0, sizeof others, &others) == 0) sched_setaffinity(0, sizeof allowed, &allowed);
#else
  (void)cpu;
#endif
}

// Spins until done() or kWatchTime has passed; true when done() held.
template <typename Done>
bool watch(const Done& done) {
  const auto start = std::chrono::steady_clock::now();
  for (int polls = 0;; ++polls) {
    if (done()) return true;
    // The clock every 64 polls: the yield is the loop's cost, not the clock.
    if (polls % 64 == 63 && std::chrono::steady_clock::now() - start > kWatchTime) return false;
    std::this_thread::yield();
  }
}

class ThreadPool {
 public:
  void run(ParallelJob& job) {
    {
      std::unique_lock lock(m_mutex);
      while (m_threads.size() < job.helpers) m_threads.emplace_back([this] { serve(); });
      job.caller_cpu = current_cpu();
      m_jobs.push_back(&job);
      ++m_posted;
    }
    m_work.notify_all();
    job.work(0);
    std::unique_lock lock(m_mutex);
    // No helper joins from here on; wait for those that did (watching first: see kWatchTime).
    std::erase(m_jobs, &job);
    if (job.active == 0) return;
    lock.unlock();
    // A helper's last use of the job is its decrement of `active`.
    if (watch([&job] { return job.active.load() == 0; })) return;
    lock.lock();
    m_done.wait(lock, [&job] { return job.active == 0; });
  }

 private:
  void serve() {
    std::unique_lock lock(m_mutex);
    for (;;) {
      ParallelJob* job = open_job();
      if (!job) {
        const std::uint64_t seen = m_posted;
        lock.unlock();
        watch([&] { return m_posted.load() != seen; });
        lock.lock();
        m_work.wait(lock, [&] { return (job = open_job()) != nullptr; });
      }
      const std::size_t worker = ++job->joined;
      ++job->active;
      lock.unlock();
      leave_cpu(job->caller_cpu);
      job->work(worker);
      lock.lock();
      if (--job->active == 0) m_done.notify_all();
    }
  }

  // The oldest job that still takes a helper and has tasks left.
  ParallelJob* open_job() const {
    for (ParallelJob* job : m_jobs)
      if (job->joined < job->helpers && job->next < job->count && !job->failed) return job;
    return nullptr;
  }

  std::mutex m_mutex;
  std::condition_variable m_work, m_done;
  std::deque<ParallelJob*> m_jobs;
  std::atomic<std::uint64_t> m_posted{0};  // jobs posted so far, watched without the lock
  std::vector<std::thread> m_threads;
};

}  // namespace

void run_on_pool(ParallelJob& job) {
  // Never destroyed: a computation still running on another thread at exit must not find it gone; the
  // threads end with the process.
  static ThreadPool* const pool = new ThreadPool;
  pool->run(job);
}

}  // namespace attnscope::cpu::detail
