/*
 * core.spawn_exit_per_s: a spawner process spawns 1,000,000 processes whose
 * step ends at once; the clock stops when the runtime's process count is
 * back to the spawner alone (the Erlang twin: erlang/spawn_exit.erl).
 */
#include "bench_common.h"

#include <inttypes.h>
#include <stdio.h>

/* Spawns per step: the spawner yields between batches so that the children
 * run (and end) while it spawns, as BEAM's reduction budget makes it. */
enum { SPAWN_BATCH = 1000 };

typedef struct spawner_state {
    uint64_t total;
    uint64_t spawned;
    uint64_t start_ns;
    uint64_t end_ns;
} spawner_state;

static lun_step_result child_step(lun_process *self, void *state)
{
    return LUN_STEP_DONE;
}

static lun_step_result spawn_batch(lun_process *self, spawner_state *spawner)
{
    lun_environment *environment = lun_process_environment(self);
    uint64_t stop = spawner->spawned + SPAWN_BATCH;
    if (stop > spawner->total) stop = spawner->total;
    for (; spawner->spawned < stop; spawner->spawned++) {
        lun_error error;
        if (lun_process_spawn(environment, child_step, NULL, NULL, NULL, &error) != LUN_OK) {
            lun_process_fail(self, "spawn %" PRIu64 ": %s", spawner->spawned, error.message);
            return LUN_STEP_FAILED;
        }
    }
    return LUN_STEP_YIELD;
}

/* Polls the process count once a millisecond, as the Erlang twin does. */
static lun_step_result wait_for_children(lun_process *self, spawner_state *spawner)
{
    lun_runtime *runtime = lun_environment_runtime(lun_process_environment(self));
    for (;;) {
        if (lun_runtime_process_count(runtime) <= 1) {
            spawner->end_ns = bench_now_ns();
            return LUN_STEP_DONE;
        }
        lun_error error;
        lun_status status = lun_process_sleep(self, 1, &error);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) {
            lun_process_fail(self, "sleep: %s", error.message);
            return LUN_STEP_FAILED;
        }
    }
}

static lun_step_result spawner_step(lun_process *self, void *state)
{
    spawner_state *spawner = state;
    if (spawner->start_ns == 0) spawner->start_ns = bench_now_ns();
    if (spawner->spawned < spawner->total) return spawn_batch(self, spawner);
    return wait_for_children(self, spawner);
}

int main(int argc, char **argv)
{
    uint64_t divisor;
    if (!bench_parse_divisor(argc, argv, &divisor)) return 2;
    spawner_state spawner = {.total = bench_scaled(1000000, divisor, 1)};

    bench_runtime bench;
    if (!bench_runtime_start(&bench)) return 1;
    int exit_status = 0;
    if (!bench_run(&bench, spawner_step, &spawner, NULL, "spawner")) {
        exit_status = 1;
    } else if (spawner.spawned != spawner.total) {
        exit_status = bench_fail("spawned %" PRIu64 " of %" PRIu64, spawner.spawned, spawner.total);
    } else if (lun_environment_process_count(bench.environment) != 0) {
        exit_status = bench_fail("%zu processes still in the environment",
                                 lun_environment_process_count(bench.environment));
    } else {
        double seconds = (double)(spawner.end_ns - spawner.start_ns) / 1e9;
        bench_report("spawn_exit_per_s", (double)spawner.total / seconds, "per_s");
    }
    bench_runtime_stop(&bench);
    return exit_status;
}
