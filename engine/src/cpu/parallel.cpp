#include "cpu/parallel.hpp"

#include <condition_variable>
#include <deque>

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

class ThreadPool {
 public:
  void run(ParallelJob& job) {
    {
      std::unique_lock lock(m_mutex);
      while (m_threads.size() < job.helpers) m_threads.emplace_back([this] { serve(); });
      m_jobs.push_back(&job);
    }
    m_work.notify_all();
    job.work(0);
    std::unique_lock lock(m_mutex);
    // No helper joins from here on; wait for those that did.
    std::erase(m_jobs, &job);
    m_done.wait(lock, [&job] { return job.active == 0; });
  }

 private:
  void serve() {
    std::unique_lock lock(m_mutex);
    for (;;) {
      ParallelJob* job = nullptr;
      m_work.wait(lock, [&] { return (job = open_job()) != nullptr; });
      const std::size_t worker = ++job->joined;
      ++job->active;
      lock.unlock();
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
