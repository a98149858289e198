#include "compute/background_pool.hpp"

#if defined(__linux__)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace attnscope::ui {

QThreadPool* backgroundPool() {
  // Never destroyed: work handed to it late (a snapshot freed as the window closes) still finds it.
  static QThreadPool* const pool = new QThreadPool;
  return pool;
}

bool lowerThreadPriority() {
#if defined(__linux__)
  // On Linux a nice value belongs to the thread (the task id), not to the whole process.
  constexpr int kBelowGui = 5;
  const auto thread = static_cast<id_t>(syscall(SYS_gettid));
  return setpriority(PRIO_PROCESS, thread, kBelowGui) == 0;
#else
  return false;
#endif
}

}  // namespace attnscope::ui
