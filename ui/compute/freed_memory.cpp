#include "compute/freed_memory.hpp"

#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace attnscope::ui {

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#define ATTNSCOPE_GLIBC_MALLOC 1
#endif

bool keepFreedMemoryMapped() {
#if defined(ATTNSCOPE_GLIBC_MALLOC)
  static std::once_flag once;
  std::call_once(once, [] {
    // Every thread allocates from the one heap. Another thread's arena hands any block larger than its
    // 64 MiB heaps (one head's weights from 4,096 tokens on) to mmap, whatever the settings below, and
    // unmaps a heap that empties.
    mallopt(M_ARENA_MAX, 1);
    // No block is mapped on its own: such a block goes back to the kernel when it is freed, and at 4,096
    // tokens every edit faulted in 1.5 GB of new pages. Heap blocks stay mapped when freed; the trim
    // threshold keeps the heap's free top mapped as well.
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  });
  return true;
#else
  return false;
#endif
}

namespace {

// Before main, while the process has one thread: a thread that allocated before keepFreedMemoryMapped would
// keep an arena of its own.
[[maybe_unused]] const bool kKeptFromTheStart = keepFreedMemoryMapped();

}  // namespace

void releaseFreedMemory() {
#if defined(ATTNSCOPE_GLIBC_MALLOC)
  malloc_trim(0);
#endif
}

}  // namespace attnscope::ui
