/* crc32c: CRC-32C (Castagnoli), the checksum on every ring record.
 *
 * The consumer recomputes it over each record a producer published, so that
 * a stray write into the shared segment is reported instead of delivered.
 * Uses the SSE4.2 crc32 instruction where the CPU has it (base/cpu.h;
 * HL_CPU_DISABLE=sse42 forces the table path) and a byte table otherwise.
 * Pure functions, no state. */
#ifndef HL_RING_CRC32C_H
#define HL_RING_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* hl_crc32c extends |crc| (0 to start) over |n| bytes at |p| and returns the
 * new value; hl_crc32c(0, "123456789", 9) == 0xe3069283. */
uint32_t hl_crc32c(uint32_t crc, const void *p, size_t n);

/* hl_crc32c_portable is the table path, exposed so tests compare the two. */
uint32_t hl_crc32c_portable(uint32_t crc, const void *p, size_t n);

#endif
