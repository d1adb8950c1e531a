/*
 * core.ring_hops_per_s: a ring of 10,000 processes passes a token 1,000,000
 * hops; the clock runs from the token's first send to its last hop (the
 * Erlang twin: erlang/ring.erl).
 */
#include "bench_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

enum { TAG_TOKEN = 1, TAG_DONE };

typedef struct member_state {
    lun_process *next;        /* a reference, released when the member ends */
    lun_process *coordinator; /* borrowed: the coordinator outlives the ring */
    uint64_t passed;          /* tokens this member sent on (the check) */
} member_state;

typedef struct ring_state {
    uint64_t size;
    uint64_t hops;
    member_state *members; /* size entries, owned by main */
    lun_process **handles; /* size entries, owned by main */
    uint64_t spawned;
    bool token_sent;
    uint64_t start_ns;
    uint64_t end_ns;
} ring_state;

static void member_free(void *state)
{
    member_state *member = state;
    lun_process_release(member->next);
    member->next = NULL;
}

/* The token carries the hops still to go; whoever receives 0 reports. */
static lun_step_result member_step(lun_process *self, void *state)
{
    member_state *member = state;
    for (;;) {
        bench_number number;
        lun_step_result stop;
        if (!bench_receive_number(self, &number, &stop)) return stop;
        if (!number.valid) {
            lun_process_fail(self, "not a token");
            return LUN_STEP_FAILED;
        }
        lun_status status;
        if (number.value == 0)
            status = bench_send_number(member->coordinator, TAG_DONE, 0);
        else
            status = bench_send_number(member->next, TAG_TOKEN, number.value - 1);
        member->passed += number.value != 0;
        if (status != LUN_OK) {
            lun_process_fail(self, "send: %s", lun_status_name(status));
            return LUN_STEP_FAILED;
        }
    }
}

static lun_step_result build_ring(lun_process *self, ring_state *ring)
{
    lun_environment *environment = lun_process_environment(self);
    lun_spawn_options options = {.state_free = member_free};
    for (; ring->spawned < ring->size; ring->spawned++) {
        member_state *member = &ring->members[ring->spawned];
        member->coordinator = self;
        lun_error error;
        if (lun_process_spawn(environment, member_step, member, &options,
                              &ring->handles[ring->spawned], &error) != LUN_OK) {
            lun_process_fail(self, "spawn member %" PRIu64 ": %s", ring->spawned, error.message);
            return LUN_STEP_FAILED;
        }
    }
    /* No member reads `next` before the token, which is sent after this. */
    for (uint64_t index = 0; index < ring->size; index++)
        ring->members[index].next = lun_process_retain(ring->handles[(index + 1) % ring->size]);
    return LUN_STEP_YIELD;
}

static lun_step_result coordinator_step(lun_process *self, void *state)
{
    ring_state *ring = state;
    if (ring->spawned < ring->size) return build_ring(self, ring);
    if (!ring->token_sent) {
        ring->start_ns = bench_now_ns();
        lun_status status = bench_send_number(ring->handles[0], TAG_TOKEN, ring->hops);
        if (status != LUN_OK) {
            lun_process_fail(self, "send the token: %s", lun_status_name(status));
            return LUN_STEP_FAILED;
        }
        ring->token_sent = true;
    }
    bench_number number;
    lun_step_result stop;
    if (!bench_receive_number(self, &number, &stop)) return stop;
    ring->end_ns = bench_now_ns();
    if (!number.valid || number.tag != TAG_DONE) {
        lun_process_fail(self, "unexpected message");
        return LUN_STEP_FAILED;
    }
    for (uint64_t index = 0; index < ring->size; index++)
        lun_process_kill(ring->handles[index], NULL);
    return LUN_STEP_DONE;
}

int main(int argc, char **argv)
{
    uint64_t divisor;
    if (!bench_parse_divisor(argc, argv, &divisor)) return 2;
    ring_state ring = {.size = bench_scaled(10000, divisor, 1),
                       .hops = bench_scaled(1000000, divisor, 1)};
    ring.members = calloc(ring.size, sizeof *ring.members);
    ring.handles = calloc(ring.size, sizeof *ring.handles);
    if (!ring.members || !ring.handles) {
        free(ring.members);
        free(ring.handles);
        return bench_fail("out of memory");
    }

    bench_runtime bench;
    int exit_status = 1;
    if (bench_runtime_start(&bench)) {
        if (bench_run(&bench, coordinator_step, &ring, NULL, "coordinator")) exit_status = 0;
        bench_runtime_stop(&bench);
    }
    uint64_t passed = 0;
    for (uint64_t index = 0; index < ring.size; index++)
        passed += ring.members[index].passed;
    if (exit_status == 0 && passed != ring.hops)
        exit_status =
            bench_fail("the ring made %" PRIu64 " hops, expected %" PRIu64, passed, ring.hops);
    if (exit_status == 0) {
        double seconds = (double)(ring.end_ns - ring.start_ns) / 1e9;
        bench_report("ring_hops_per_s", (double)ring.hops / seconds, "per_s");
    }
    for (uint64_t index = 0; index < ring.size; index++)
        lun_process_release(ring.handles[index]);
    free(ring.members);
    free(ring.handles);
    return exit_status;
}
