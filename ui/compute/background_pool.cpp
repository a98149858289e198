#include "compute/background_pool.hpp"

namespace attnscope::ui {

QThreadPool* backgroundPool() {
  // Never destroyed: work handed to it late (a snapshot freed as the window closes) still finds it.
  static QThreadPool* const pool = new QThreadPool;
  return pool;
}

}  // namespace attnscope::ui
