/*
 * Fan-out: spawns N processes (argument 1, default 100,000), each sending
 * its number back; the first process adds them up. Built with a small stack
 * and one page of initial memory so that each process stays small.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lunatic_guest.h"

static void worker(int64_t packed)
{
    /* packed: parent pid << 32 | number */
    int64_t number = packed & 0xFFFFFFFF;
    lun_send((uint64_t)packed >> 32, 0, &number, sizeof number);
}

static double seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int64_t count = argc > 1 ? atoll(argv[1]) : 100000;
    int64_t parent = (int64_t)(lun_self() << 32);
    double start = seconds();
    for (int64_t i = 1; i <= count; i++) {
        if (lun_spawn(worker, parent | i) == 0) {
            fprintf(stderr, "fan-out: spawn %lld failed\n", (long long)i);
            return 1;
        }
    }
    double spawned = seconds();
    int64_t sum = 0;
    for (int64_t i = 0; i < count; i++) {
        int64_t number;
        lun_received message;
        if (lun_receive(NULL, 0, 30000, &number, sizeof number, &message) != LUN_DATA) {
            fprintf(stderr, "fan-out: only %lld answers\n", (long long)i);
            return 1;
        }
        sum += number;
    }
    printf("fan-out: %lld processes, sum %lld\n", (long long)count, (long long)sum);
    fprintf(stderr, "fan-out: spawned in %.3f s, all answered in %.3f s\n", spawned - start,
            seconds() - start);
    return sum == count * (count + 1) / 2 ? 0 : 1;
}
