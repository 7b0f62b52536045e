#ifndef COFFER_CCHECKSUM_H
#define COFFER_CCHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli) of `count` bytes at `bytes`, continuing `crc` (0 to start): the CPU's CRC32 instruction
/// where it has one (x86-64 SSE4.2, AArch64 CRC), eight bytes at a time; a table otherwise.
uint32_t coffer_crc32c(uint32_t crc, const void *bytes, size_t count);

/// The same checksum computed with the table only (for tests comparing the two).
uint32_t coffer_crc32c_portable(uint32_t crc, const void *bytes, size_t count);

#endif
