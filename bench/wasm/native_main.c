/*
 * Native timing driver for one compute kernel: the kernel is compiled with
 * the same flags as its wasm32 build and linked beside this file.
 *
 * Usage: native_<kernel> N REPEATS
 * Prints "result <checksum> best <s> median <s>".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/kernel.h"

static double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s N REPEATS\n", argv[0]);
        return 2;
    }
    uint32_t n = (uint32_t)strtoul(argv[1], NULL, 10);
    int repeats = atoi(argv[2]);
    if (repeats < 1 || repeats > 100) {
        fprintf(stderr, "REPEATS must be within 1..100\n");
        return 2;
    }
    double seconds[100];
    uint64_t first = 0;
    for (int i = 0; i < repeats; i++) {
        double start = now_seconds();
        uint64_t result = run(n);
        seconds[i] = now_seconds() - start;
        if (i == 0) {
            first = result;
        } else if (result != first) {
            fprintf(stderr, "result changed between runs: %" PRIu64 " then %" PRIu64 "\n", first,
                    result);
            return 1;
        }
    }
    qsort(seconds, (size_t)repeats, sizeof seconds[0], compare_doubles);
    printf("result %" PRIu64 " best %.6f median %.6f\n", first, seconds[0], seconds[repeats / 2]);
    return 0;
}
