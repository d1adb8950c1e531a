/*
 * Compute kernel: naive recursive Fibonacci, a benchmark of calls and
 * returns (about 1.6^n calls for fib(n)).
 */
#include "kernel.h"

static uint64_t fib(uint32_t n)
{
    if (n < 2) return n;
    return fib(n - 1) + fib(n - 2);
}

uint64_t KERNEL_RUN(uint32_t n)
{
    return fib(n);
}
