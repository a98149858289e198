#pragma once
// While the user types, each edit frees the last snapshot's n × n matrices and allocates the next one's of
// nearly the same size. glibc gives large freed blocks back to the kernel at once, and writing them again
// costs a page fault per page: about 30 ms per mask for a thousand tokens' 12 heads, more than computing
// them, and at 4,096 tokens 1.5 GB of fresh pages per edit. So freed blocks of any size stay mapped between
// edits, and the memory goes back when the edits stop.

namespace attnscope::ui {

// Process-wide, from before main on (the library calls it while the process has one thread; later calls do
// nothing): every thread allocates from one heap, and freed blocks stay in the process. False where the
// allocator is not glibc's (another C library, or a sanitizer's): nothing changes.
bool keepFreedMemoryMapped();
// Gives the freed memory the process kept back to the kernel (glibc's malloc_trim). Safe on any thread.
void releaseFreedMemory();

}  // namespace attnscope::ui
