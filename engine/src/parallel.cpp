#include "attnscope/parallel.hpp"

#include "cpu/parallel.hpp"

namespace attnscope {

void parallel_tasks(std::size_t count, const std::function<void(std::size_t)>& task) {
  cpu::parallel_for(count, cpu::worker_threads(), task);
}

}  // namespace attnscope
