/*
 * core.skynet_ms: a tree of 1,000,000 leaf processes with fan-out 10; every
 * node spawns its children and sums their replies, every leaf replies its
 * number; the root's sum must be 0 + 1 + ... + 999,999 = 499999500000 (the
 * Erlang twin: erlang/skynet.erl).
 */
#include "bench_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

enum { FAN_OUT = 10 };

typedef struct skynet_result {
    uint64_t sum;
    uint64_t end_ns;
} skynet_result;

/* A node covers the leaves first .. first + count - 1. */
typedef struct node_state {
    lun_process *parent;   /* a reference; NULL for the root */
    skynet_result *result; /* the root's answer goes here */
    uint64_t first;
    uint64_t count;
    unsigned children;
    unsigned replies;
    uint64_t sum;
} node_state;

static void node_free(void *state)
{
    node_state *node = state;
    lun_process_release(node->parent);
    free(node);
}

static lun_step_result reply(lun_process *self, node_state *node, uint64_t value)
{
    if (!node->parent) {
        node->result->sum = value;
        node->result->end_ns = bench_now_ns();
        return LUN_STEP_DONE;
    }
    lun_status status = bench_send_number(node->parent, 0, value);
    if (status == LUN_OK) return LUN_STEP_DONE;
    lun_process_fail(self, "reply: %s", lun_status_name(status));
    return LUN_STEP_FAILED;
}

static lun_step_result node_step(lun_process *self, void *state);

/* False (with the failure message set) when a child cannot be spawned. */
static bool spawn_children(lun_process *self, node_state *parent)
{
    lun_environment *environment = lun_process_environment(self);
    lun_spawn_options options = {.state_free = node_free};
    unsigned children = parent->count < FAN_OUT ? (unsigned)parent->count : FAN_OUT;
    for (unsigned index = 0; index < children; index++) {
        node_state *child = calloc(1, sizeof *child);
        if (!child) {
            lun_process_fail(self, "out of memory");
            return false;
        }
        uint64_t low = parent->first + parent->count * index / children;
        uint64_t high = parent->first + parent->count * (index + 1) / children;
        child->parent = lun_process_retain(self);
        child->first = low;
        child->count = high - low;
        lun_error error;
        /* On failure the core has already freed child through node_free. */
        if (lun_process_spawn(environment, node_step, child, &options, NULL, &error) != LUN_OK) {
            lun_process_fail(self, "spawn: %s", error.message);
            return false;
        }
        parent->children++;
    }
    return true;
}

static lun_step_result node_step(lun_process *self, void *state)
{
    node_state *node = state;
    if (node->count == 1) return reply(self, node, node->first);
    if (node->children == 0 && !spawn_children(self, node)) return LUN_STEP_FAILED;
    while (node->replies < node->children) {
        bench_number number;
        lun_step_result stop;
        if (!bench_receive_number(self, &number, &stop)) return stop;
        if (!number.valid) {
            lun_process_fail(self, "a reply that is not a number");
            return LUN_STEP_FAILED;
        }
        node->sum += number.value;
        node->replies++;
    }
    return reply(self, node, node->sum);
}

int main(int argc, char **argv)
{
    uint64_t divisor;
    if (!bench_parse_divisor(argc, argv, &divisor)) return 2;
    uint64_t leaves = bench_scaled(1000000, divisor, 1);
    uint64_t expected = leaves * (leaves - 1) / 2;
    skynet_result result = {0};
    node_state *root = calloc(1, sizeof *root);
    if (!root) return bench_fail("out of memory");
    root->result = &result;
    root->count = leaves;

    bench_runtime bench;
    if (!bench_runtime_start(&bench)) {
        free(root);
        return 1;
    }
    lun_spawn_options options = {.state_free = node_free};
    int exit_status = 0;
    uint64_t start_ns = bench_now_ns();
    if (!bench_run(&bench, node_step, root, &options, "root"))
        exit_status = 1;
    else if (result.sum != expected)
        exit_status =
            bench_fail("skynet sum is %" PRIu64 ", expected %" PRIu64, result.sum, expected);
    else
        bench_report("skynet_ms", (double)(result.end_ns - start_ns) / 1e6, "ms");
    bench_runtime_stop(&bench);
    return exit_status;
}
