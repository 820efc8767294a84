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

/* hl_crc32c_x3 is the ring's record checksum: CRC-32C steps over three
 * interleaved streams of 8-byte words, so that three crc32 instructions run
 * in parallel (one stream is latency-bound at 3 cycles per word; 512 bytes
 * take ~25 ns instead of ~75). |head| is two words hashed first (a record
 * header), so one call covers header and payload. Precisely, with
 * crc(s, x) the raw CRC-32C state update over the little-endian bytes of x:
 * s0 = ~0, s1 = crc(~0, head[0]), s2 = crc(~0, head[1]); payload words 3i,
 * 3i+1, 3i+2 go into s0, s1, s2; leftover words and bytes go into s0; the
 * result is ~crc(crc(crc(crc(s0, 0u32), s1), s2), n as u32), so each stream
 * enters through a different power of the CRC's shift (moving words between
 * streams changes the result). Not a CRC of the bytes, but it keeps
 * CRC-32C's burst detection within each stream. */
uint32_t hl_crc32c_x3(const uint64_t head[2], const void *p, size_t n);

/* The table paths, exposed so tests compare them with the instruction. */
uint32_t hl_crc32c_portable(uint32_t crc, const void *p, size_t n);
uint32_t hl_crc32c_x3_portable(const uint64_t head[2], const void *p, size_t n);

#endif
