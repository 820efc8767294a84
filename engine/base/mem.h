/* mem: large tables that are reserved at start but touched only as used.
 *
 * hl_mem_reserve maps zeroed anonymous memory directly from the kernel, so
 * pages cost nothing until written, whatever malloc the process uses (a
 * general-purpose allocator may zero a large calloc eagerly: mimalloc does,
 * and it made the engine's start-up take seconds). Use it for per-slot
 * arenas sized for the worst case (request bodies, heads, connections);
 * small tables stay with malloc. */
#ifndef HL_BASE_MEM_H
#define HL_BASE_MEM_H

#include <stddef.h>

/* hl_mem_reserve returns |n| zero bytes (page-aligned), or NULL. */
void *hl_mem_reserve(size_t n);

/* hl_mem_release unmaps what hl_mem_reserve returned; NULL is a no-op. */
void hl_mem_release(void *p, size_t n);

#endif
