/*
 * Compute kernel: table-driven CRC-32 (the zlib polynomial) over a 256 KiB
 * buffer, n passes: indexed table loads, shifts and xors.
 */
#include "kernel.h"

enum { CRC_BUFFER_SIZE = 1 << 18 };

static uint32_t table[256];
static uint8_t buffer[CRC_BUFFER_SIZE];

static void init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int bit = 0; bit < 8; bit++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    for (uint32_t i = 0; i < CRC_BUFFER_SIZE; i++)
        buffer[i] = (uint8_t)(i * 2654435761u >> 24);
}

uint64_t KERNEL_RUN(uint32_t n)
{
    init();
    uint64_t checksum = 0;
    for (uint32_t pass = 0; pass < n; pass++) {
        uint32_t crc = 0xFFFFFFFFu;
        for (uint32_t i = 0; i < CRC_BUFFER_SIZE; i++)
            crc = table[(crc ^ buffer[i]) & 0xFF] ^ (crc >> 8);
        crc ^= 0xFFFFFFFFu;
        buffer[pass & (CRC_BUFFER_SIZE - 1)] = (uint8_t)crc;
        checksum = (checksum << 7 ^ checksum >> 57) ^ crc;
    }
    return checksum;
}
