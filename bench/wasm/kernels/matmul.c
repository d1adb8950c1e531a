/*
 * Compute kernel: n double-precision multiplies of two 128 x 128 matrices in
 * i-k-j order: f64 loads, multiplies, adds and stores.
 */
#include "kernel.h"

enum { DIM = 128 };

static double left[DIM * DIM];
static double right[DIM * DIM];
static double product[DIM * DIM];

static void fill(void)
{
    uint32_t state = 12345;
    for (uint32_t i = 0; i < DIM * DIM; i++) {
        state = state * 1103515245u + 12345u;
        left[i] = (double)(state >> 16) / 65536.0 - 0.5;
        state = state * 1103515245u + 12345u;
        right[i] = (double)(state >> 16) / 65536.0 - 0.5;
    }
}

static void multiply(void)
{
    for (uint32_t i = 0; i < DIM * DIM; i++)
        product[i] = 0.0;
    for (uint32_t i = 0; i < DIM; i++) {
        for (uint32_t k = 0; k < DIM; k++) {
            double factor = left[i * DIM + k];
            for (uint32_t j = 0; j < DIM; j++)
                product[i * DIM + j] += factor * right[k * DIM + j];
        }
    }
}

uint64_t KERNEL_RUN(uint32_t n)
{
    fill();
    uint64_t checksum = 0;
    for (uint32_t round = 0; round < n; round++) {
        /* Change one input cell per round so that no round can be skipped. */
        left[round % (DIM * DIM)] += 1.0;
        multiply();
        /* Exact IEEE arithmetic everywhere (no contraction), so these bits
         * are the same on every target. */
        for (uint32_t i = 0; i < DIM * DIM; i += 97) {
            union {
                double value;
                uint64_t bits;
            } cell = {.value = product[i]};
            checksum = checksum * 1099511628211ull + cell.bits;
        }
    }
    return checksum;
}
