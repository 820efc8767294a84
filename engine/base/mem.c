/* mem: lazily touched reservations (see mem.h). */
#include "base/mem.h"

#include <sys/mman.h>

void *hl_mem_reserve(size_t n) {
  if (n == 0) {
    n = 1;
  }
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void hl_mem_release(void *p, size_t n) {
  if (p != NULL) {
    munmap(p, n == 0 ? 1 : n);
  }
}
