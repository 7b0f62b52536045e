// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of iSCSI, ext4 metadata and S3's
// x-amz-checksum-crc32c. The instruction sets named below compute it in hardware.
#include "CChecksum.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#elif defined(__aarch64__)
#include <arm_acle.h>
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void make_table(void) {
    for (uint32_t index = 0; index < 256; index++) {
        uint32_t value = index;
        for (int bit = 0; bit < 8; bit++) value = (value & 1) ? (value >> 1) ^ 0x82F63B78u : value >> 1;
        table[index] = value;
    }
}

uint32_t coffer_crc32c_portable(uint32_t crc, const void *bytes, size_t count) {
    pthread_once(&table_once, make_table);
    const uint8_t *p = bytes;
    crc = ~crc;
    while (count--) crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_hardware(uint32_t crc, const void *bytes, size_t count) {
    const uint8_t *p = bytes;
    uint64_t value = ~crc;
    for (; count >= 8; count -= 8, p += 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        value = _mm_crc32_u64(value, word);
    }
    uint32_t small = (uint32_t)value;
    for (; count > 0; count--) small = _mm_crc32_u8(small, *p++);
    return ~small;
}

static int has_hardware(void) { return __builtin_cpu_supports("sse4.2"); }
#elif defined(__aarch64__)
__attribute__((target("+crc")))
static uint32_t crc32c_hardware(uint32_t crc, const void *bytes, size_t count) {
    const uint8_t *p = bytes;
    uint32_t value = ~crc;
    for (; count >= 8; count -= 8, p += 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        value = __crc32cd(value, word);
    }
    for (; count > 0; count--) value = __crc32cb(value, *p++);
    return ~value;
}

static int has_hardware(void) { return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0; }
#else
static uint32_t crc32c_hardware(uint32_t crc, const void *bytes, size_t count) {
    return coffer_crc32c_portable(crc, bytes, count);
}

static int has_hardware(void) { return 0; }
#endif

uint32_t coffer_crc32c(uint32_t crc, const void *bytes, size_t count) {
    static int hardware = -1;  // a benign race: every thread computes the same value
    if (hardware < 0) hardware = has_hardware();
    return hardware ? crc32c_hardware(crc, bytes, count) : coffer_crc32c_portable(crc, bytes, count);
}
