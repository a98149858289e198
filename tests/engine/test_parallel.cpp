// parallel_for (engine/src/cpu/parallel.hpp): every index once, worker numbers for per-thread scratch, the
// first exception rethrown, loops inside loops and on several threads at once, and helpers that come from a
// pool kept between calls and join a loop whether they were watching for it or asleep.

#include <QScopeGuard>
#include <QTest>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "attnscope/parallel.hpp"
#include "cpu/parallel.hpp"

#if defined(__linux__)
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

using namespace attnscope;

namespace {

// Runs parallel_for(count, threads) and checks that every index ran once, on a worker numbered within
// [0, parallel_threads(count, threads)).
bool everyIndexOnce(std::size_t count, int threads) {
  std::vector<std::atomic<int>> runs(count);
  std::atomic<bool> numbered{true};
  const std::size_t workers = cpu::parallel_threads(count, threads);
  cpu::parallel_for(count, threads, [&](std::size_t i, std::size_t worker) {
    ++runs[i];
    if (worker >= workers) numbered = false;
  });
  for (const std::atomic<int>& run : runs)
    if (run != 1) return false;
  return numbered;
}

// Two tasks of one loop on two threads, each waiting (up to 5 s) for the other to start: they meet only when
// a helper works beside the caller. Per task, the worker that ran it and the core it started on (-1 where
// that cannot be told): later, a scheduler balancing other work may move the thread anywhere.
struct Meeting {
  std::vector<std::size_t> workers = std::vector<std::size_t>(2);
  std::vector<int> cpus = std::vector<int>(2, -1);
};
Meeting meetOnTwoThreads() {
  Meeting meeting;
  std::atomic<int> running{0};
  cpu::parallel_for(2, 2, [&](std::size_t i, std::size_t worker) {
#if defined(__linux__)
    meeting.cpus[i] = sched_getcpu();
#endif
    meeting.workers[i] = worker;
    ++running;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (running < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  });
  return meeting;
}

}  // namespace

class TestParallel : public QObject {
  Q_OBJECT

 private slots:
  void everyIndexRunsOnce() {
    for (const int threads : {1, 2, 3, 8})
      for (const std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{1000}})
        QVERIFY2(everyIndexOnce(count, threads),
                 qPrintable(QStringLiteral("%1 tasks on %2 threads").arg(count).arg(threads)));
  }

  void theFirstExceptionIsRethrownAndStopsTheLoop() {
    std::atomic<std::size_t> ran{0};
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, cpu::parallel_for(100000, 4, [&](std::size_t i) {
                               ++ran;
                               if (i == 10) throw std::runtime_error("task 10");
                             }));
    QVERIFY(ran < 100000);
    QVERIFY(everyIndexOnce(1000, 4));  // the pool still serves
  }

  // A task that runs a loop of its own (the attention step inside a model's layer, say) finishes: the
  // caller of each loop works on it, helpers only join.
  void loopsInsideLoopsFinish() {
    std::atomic<int> inner{0};
    cpu::parallel_for(16, 4, [&](std::size_t) { cpu::parallel_for(50, 4, [&](std::size_t) { ++inner; }); });
    QCOMPARE(inner.load(), 16 * 50);
  }

  void loopsOnSeveralThreadsAtOnce() {
    std::vector<std::thread> callers;
    std::atomic<int> good{0};
    for (int t = 0; t < 4; ++t)
      callers.emplace_back([&] {
        for (int repeat = 0; repeat < 20; ++repeat)
          if (everyIndexOnce(500, 3)) ++good;
      });
    for (std::thread& caller : callers) caller.join();
    QCOMPARE(good.load(), 4 * 20);
  }

  // The public entry (the window's summaries and map cells): every index once, the first exception rethrown.
  void parallelTasksRunEachIndexOnceAndRethrow() {
    std::vector<std::atomic<int>> runs(257);
    parallel_tasks(runs.size(), [&](std::size_t i) { ++runs[i]; });
    for (const std::atomic<int>& run : runs) QCOMPARE(run.load(), 1);
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, parallel_tasks(100, [](std::size_t i) {
                               if (i == 7) throw std::runtime_error("task 7");
                             }));
  }

  // A helper out of work watches for the next loop for a while, then sleeps on the pool's condition: a loop
  // started at once and one started long after both get a helper working beside the caller.
  void aHelperJoinsWhetherWatchingOrAsleep() {
    for (const auto pause : {std::chrono::milliseconds(0), std::chrono::milliseconds(20)}) {
      std::this_thread::sleep_for(pause);
      const Meeting meeting = meetOnTwoThreads();
      QVERIFY2(meeting.workers[0] != meeting.workers[1], "both tasks ran on one thread: no helper joined");
    }
  }

#if defined(__linux__)
  // A helper that finds itself on its caller's core moves to another (leave_cpu): woken onto the busy
  // caller's core, it had taken turns with it there while another core idled.
  void aHelperDoesNotShareItsCallersCore() {
    cpu_set_t allowed;
    QCOMPARE(sched_getaffinity(0, sizeof allowed, &allowed), 0);
    if (CPU_COUNT(&allowed) < 2) QSKIP("one core allowed: nowhere for a helper to go");
    // The caller stays on its core for the test, so that only the helper can move.
    const int callerCpu = sched_getcpu();
    cpu_set_t here;
    CPU_ZERO(&here);
    CPU_SET(callerCpu, &here);
    QCOMPARE(sched_setaffinity(0, sizeof here, &here), 0);
    const auto restore = qScopeGuard([&] { sched_setaffinity(0, sizeof allowed, &allowed); });
    for (int round = 0; round < 20; ++round) {
      std::this_thread::sleep_for(std::chrono::milliseconds(round % 2 ? 2 : 0));  // asleep or watching
      const Meeting meeting = meetOnTwoThreads();
      QVERIFY(meeting.workers[0] != meeting.workers[1]);
      const std::size_t helper = meeting.workers[0] == 0 ? 1 : 0;
      QVERIFY2(
          meeting.cpus[helper] != callerCpu,
          qPrintable(
              QStringLiteral("round %1: the helper ran on the caller's core %2").arg(round).arg(callerCpu)));
    }
  }

  // The helpers are the same threads from call to call (the kernel numbers every new thread anew): starting
  // one per call cost 20–40 µs, about a hundred times per edit of a GPT-2 text.
  void helpersAreKeptBetweenCalls() {
    std::mutex mutex;
    std::set<long> helpers;
    const long caller = syscall(SYS_gettid);
    for (int call = 0; call < 50; ++call)
      cpu::parallel_for(16, 3, [&](std::size_t) {
        // Long enough that the helpers wake before the caller has taken every task.
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        const long thread = syscall(SYS_gettid);
        if (thread == caller) return;
        const std::lock_guard lock(mutex);
        helpers.insert(thread);
      });
    QVERIFY(!helpers.empty());
    // The pool may have grown for earlier tests' wider loops, but never by one thread per call.
    QVERIFY2(helpers.size() <= 8, qPrintable(QString::number(helpers.size())));
  }
#endif
};

QTEST_GUILESS_MAIN(TestParallel)
#include "test_parallel.moc"
