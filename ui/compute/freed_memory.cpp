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
    // Blocks below the mmap threshold come from the heap and return to it when freed; the trim threshold
    // keeps the heap's free top mapped. 32 MiB is glibc's largest mmap threshold: a 2,896-token map.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  });
  return true;
#else
  return false;
#endif
}

void releaseFreedMemory() {
#if defined(ATTNSCOPE_GLIBC_MALLOC)
  malloc_trim(0);
#endif
}

}  // namespace attnscope::ui
