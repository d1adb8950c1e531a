/*
 * core.idle_bytes_per_process: 1,000,000 processes alive at once, each
 * blocked in receive; the growth of this OS process's resident memory
 * (VmRSS) divided by the count (the Erlang twin: erlang/idle_memory.erl).
 */
#include "bench_common.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

/* Spawns per step of the spawner, which yields between batches. */
enum { SPAWN_BATCH = 1000 };

typedef struct idle_shared {
    atomic_uint_fast64_t ready; /* children that reached their receive */
} idle_shared;

typedef struct spawner_state {
    idle_shared *shared;
    uint64_t total;
    uint64_t spawned;
} spawner_state;

/* Counts itself on its first step (not on a retry) and waits for a message
 * that never comes; the runtime's shutdown kills it. */
static lun_step_result idle_step(lun_process *self, void *state)
{
    idle_shared *shared = state;
    if (!lun_process_is_waiting(self))
        atomic_fetch_add_explicit(&shared->ready, 1, memory_order_relaxed);
    lun_message *message = NULL;
    lun_status status = lun_process_receive(self, NULL, 0, LUN_TIMEOUT_INFINITE, &message, NULL);
    if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
    lun_message_free(message);
    lun_process_fail(self, "an idle process received a message");
    return LUN_STEP_FAILED;
}

static lun_step_result spawner_step(lun_process *self, void *state)
{
    spawner_state *spawner = state;
    lun_environment *environment = lun_process_environment(self);
    uint64_t stop = spawner->spawned + SPAWN_BATCH;
    if (stop > spawner->total) stop = spawner->total;
    for (; spawner->spawned < stop; spawner->spawned++) {
        lun_error error;
        if (lun_process_spawn(environment, idle_step, spawner->shared, NULL, NULL, &error) !=
            LUN_OK) {
            lun_process_fail(self, "spawn %" PRIu64 ": %s", spawner->spawned, error.message);
            return LUN_STEP_FAILED;
        }
    }
    return spawner->spawned < spawner->total ? LUN_STEP_YIELD : LUN_STEP_DONE;
}

/* Polls the ready count once a millisecond (false after the join timeout). */
static bool wait_until_ready(idle_shared *shared, uint64_t total)
{
    struct timespec pause = {.tv_nsec = 1000000};
    for (long waited_ms = 0; waited_ms < BENCH_JOIN_TIMEOUT_MS; waited_ms++) {
        if (atomic_load_explicit(&shared->ready, memory_order_relaxed) >= total) return true;
        nanosleep(&pause, NULL);
    }
    return false;
}

int main(int argc, char **argv)
{
    uint64_t divisor;
    if (!bench_parse_divisor(argc, argv, &divisor)) return 2;
    idle_shared shared = {0};
    spawner_state spawner = {.shared = &shared, .total = bench_scaled(1000000, divisor, 1)};

    bench_runtime bench;
    if (!bench_runtime_start(&bench)) return 1;
    uint64_t before = bench_rss_bytes();
    int exit_status = 0;
    if (!bench_run(&bench, spawner_step, &spawner, NULL, "spawner")) {
        exit_status = 1;
    } else if (!wait_until_ready(&shared, spawner.total)) {
        exit_status = bench_fail("only %" PRIu64 " of %" PRIu64 " processes reached receive",
                                 (uint64_t)atomic_load(&shared.ready), spawner.total);
    } else {
        uint64_t after = bench_rss_bytes();
        size_t alive = lun_environment_process_count(bench.environment);
        if (alive != spawner.total)
            exit_status =
                bench_fail("%zu processes alive, expected %" PRIu64, alive, spawner.total);
        else if (before == 0 || after == 0)
            exit_status = bench_fail("cannot read VmRSS from /proc/self/status");
        else
            bench_report("idle_bytes_per_process",
                         ((double)after - (double)before) / (double)spawner.total, "bytes");
    }
    bench_runtime_stop(&bench);
    return exit_status;
}
