/*
 * Compute kernel: FNV-1a over a 1 MiB pseudo-random buffer, n passes: byte
 * loads, xor and a 64-bit multiply on a serial dependency chain.
 */
#include "kernel.h"

enum { FNV_BUFFER_SIZE = 1 << 20 };

static uint8_t buffer[FNV_BUFFER_SIZE];

static void fill(void)
{
    uint32_t state = 2463534242u;
    for (uint32_t i = 0; i < FNV_BUFFER_SIZE; i++) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        buffer[i] = (uint8_t)state;
    }
}

uint64_t KERNEL_RUN(uint32_t n)
{
    fill();
    uint64_t hash = 14695981039346656037ull;
    for (uint32_t pass = 0; pass < n; pass++) {
        for (uint32_t i = 0; i < FNV_BUFFER_SIZE; i++) {
            hash ^= buffer[i];
            hash *= 1099511628211ull;
        }
        buffer[pass & (FNV_BUFFER_SIZE - 1)] ^= (uint8_t)hash;
    }
    return hash;
}
