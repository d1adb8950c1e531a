/*
 * Compute kernel: the sieve of Eratosthenes over a fixed 1 MiB byte array,
 * repeated n times: byte stores with large strides, a branchy counting loop.
 */
#include "kernel.h"

enum { SIEVE_LIMIT = 1 << 20 };

static uint8_t composite[SIEVE_LIMIT];

static uint32_t count_primes(uint32_t limit)
{
    for (uint32_t i = 0; i < limit; i++)
        composite[i] = 0;
    uint32_t count = 0;
    for (uint32_t i = 2; i < limit; i++) {
        if (composite[i]) continue;
        count++;
        for (uint64_t multiple = (uint64_t)i * i; multiple < limit; multiple += i)
            composite[multiple] = 1;
    }
    return count;
}

uint64_t KERNEL_RUN(uint32_t n)
{
    uint64_t checksum = 0;
    for (uint32_t round = 0; round < n; round++) {
        /* Vary the limit a little so that no round can be skipped. */
        uint32_t limit = SIEVE_LIMIT - (round & 1023);
        checksum = checksum * 31 + count_primes(limit);
    }
    return checksum;
}
