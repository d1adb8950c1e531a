/*
 * core-demo: a short story told by native processes on the process core.
 *
 * A supervisor spawns linked workers and gives each a job; one job is bad
 * and its worker fails. The supervisor chose not to die with its links, so
 * the failure reaches it as a LinkDied message carrying the link's tag, and
 * it restarts that worker. Then a ring of 10,000 processes passes a token.
 *
 * Every process is a step function (see include/lunatic/core.h): it returns
 * LUN_STEP_WAIT when a receive has to wait, and is stepped again once a
 * matching message is there.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lunatic/core.h"

enum { TAG_JOB = 1, TAG_RESULT = 2, WORKERS = 3 };

/* ---- workers ---------------------------------------------------------------- */

typedef struct job {
    int64_t number;
    uint64_t reply_to;
} job;

static lun_step_result worker_step(lun_process *self, void *state)
{
    int64_t tag = TAG_JOB;
    lun_message *message;
    lun_status status = lun_process_receive(self, &tag, 1, LUN_TIMEOUT_INFINITE, &message, NULL);
    if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
    if (status != LUN_OK) return LUN_STEP_FAILED;
    job work = {0};
    size_t read = 0;
    lun_message_read(message, &work, sizeof work, &read, NULL);
    lun_message_free(message);
    if (work.number == 0) {
        printf("  worker (process %" PRIu64 "): asked to divide 100 by zero, failing\n",
               lun_process_id(self));
        lun_process_fail(self, "cannot divide 100 by zero");
        return LUN_STEP_FAILED;
    }
    int64_t result = 100 / work.number;
    lun_message *reply = lun_message_new_data(TAG_RESULT, sizeof result);
    lun_message_write(reply, &result, sizeof result, NULL);
    lun_signal signal = {.kind = LUN_SIGNAL_MESSAGE, .message = reply};
    lun_environment_send(lun_process_environment(self), work.reply_to, &signal, NULL);
    return LUN_STEP_DONE;
}

/* ---- the supervisor ----------------------------------------------------------- */

typedef struct supervisor {
    bool started;
    int results;
    int restarts;
} supervisor;

static lun_status start_worker(lun_process *self, int64_t link_tag, int64_t number)
{
    lun_spawn_options options = {.link_with = self, .link_tag = link_tag};
    lun_process *worker = NULL;
    lun_status status = lun_process_spawn(lun_process_environment(self), worker_step, NULL,
                                          &options, &worker, NULL);
    if (status != LUN_OK) return status;
    char name[32];
    snprintf(name, sizeof name, "worker-%" PRId64, link_tag);
    lun_registry *registry =
        lun_runtime_registry(lun_environment_runtime(lun_process_environment(self)));
    lun_registry_put(registry, name, 0, lun_process_id(worker), NULL);
    printf("  supervisor: spawned '%s' (process %" PRIu64 ", linked with tag %" PRId64
           "), job: 100 / %" PRId64 "\n",
           name, lun_process_id(worker), link_tag, number);
    job work = {.number = number, .reply_to = lun_process_id(self)};
    lun_message *message = lun_message_new_data(TAG_JOB, sizeof work);
    lun_message_write(message, &work, sizeof work, NULL);
    lun_process_send_message(worker, message, NULL);
    lun_process_release(worker);
    return LUN_OK;
}

static lun_step_result supervisor_step(lun_process *self, void *state)
{
    supervisor *s = state;
    if (!s->started) {
        s->started = true;
        lun_process_die_when_link_dies(self, false, NULL);
        printf("  supervisor (process %" PRIu64 "): die_when_link_dies(false)\n",
               lun_process_id(self));
        static const int64_t numbers[WORKERS] = {4, 0, 20};
        for (int i = 0; i < WORKERS; i++)
            if (start_worker(self, i + 1, numbers[i]) != LUN_OK) return LUN_STEP_FAILED;
    }
    while (s->results < WORKERS) {
        lun_message *message;
        lun_status status =
            lun_process_receive(self, NULL, 0, LUN_TIMEOUT_INFINITE, &message, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) return LUN_STEP_FAILED;
        if (lun_message_get_kind(message) == LUN_MESSAGE_LINK_DIED) {
            int64_t tag = lun_message_tag(message);
            printf("  supervisor: LinkDied message, tag %" PRId64 ": worker-%" PRId64
                   " failed; restarting it with a good job\n",
                   tag, tag);
            s->restarts++;
            if (start_worker(self, tag, 5) != LUN_OK) return LUN_STEP_FAILED;
        } else {
            int64_t result = 0;
            size_t read = 0;
            lun_message_read(message, &result, sizeof result, &read, NULL);
            printf("  supervisor: result %" PRId64 "\n", result);
            s->results++;
        }
        lun_message_free(message);
    }
    return LUN_STEP_DONE;
}

/* ---- the ring ------------------------------------------------------------------ */

enum { RING_SIZE = 10000, RING_LAPS = 10, TAG_TOKEN = 7, TAG_STOP = 8 };

typedef struct ring_node {
    lun_process *next;
} ring_node;

static lun_step_result ring_step(lun_process *self, void *state)
{
    ring_node *node = state;
    int64_t tags[] = {TAG_TOKEN, TAG_STOP};
    for (;;) {
        lun_message *message;
        lun_status status =
            lun_process_receive(self, tags, 2, LUN_TIMEOUT_INFINITE, &message, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) return LUN_STEP_FAILED;
        if (lun_message_tag(message) == TAG_STOP) {
            lun_process_send_message(node->next, message, NULL); /* dropped once it is back */
            return LUN_STEP_DONE;
        }
        int64_t hops = 0;
        size_t read = 0;
        lun_message_read(message, &hops, sizeof hops, &read, NULL);
        lun_message_free(message);
        if (hops == 0) {
            lun_process_send_message(node->next, lun_message_new_data(TAG_STOP, 0), NULL);
            return LUN_STEP_DONE;
        }
        hops--;
        lun_message *token = lun_message_new_data(TAG_TOKEN, sizeof hops);
        lun_message_write(token, &hops, sizeof hops, NULL);
        lun_process_send_message(node->next, token, NULL);
    }
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static int run_ring(lun_environment *environment)
{
    ring_node *nodes = calloc(RING_SIZE, sizeof *nodes);
    lun_process **ring = calloc(RING_SIZE, sizeof *ring);
    if (nodes == NULL || ring == NULL) return 1;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < RING_SIZE; i++)
        if (lun_process_spawn(environment, ring_step, &nodes[i], NULL, &ring[i], NULL) != LUN_OK)
            return 1;
    printf("  spawned %d processes in %.1f ms\n", RING_SIZE, seconds_since(&start) * 1e3);
    /* Each node reads its `next` only after the token reached it. */
    for (int i = 0; i < RING_SIZE; i++)
        nodes[i].next = ring[(i + 1) % RING_SIZE];
    int64_t hops = (int64_t)RING_SIZE * RING_LAPS;
    clock_gettime(CLOCK_MONOTONIC, &start);
    lun_message *token = lun_message_new_data(TAG_TOKEN, sizeof hops);
    lun_message_write(token, &hops, sizeof hops, NULL);
    lun_process_send_message(ring[0], token, NULL);
    int ok = 0;
    for (int i = 0; i < RING_SIZE; i++) {
        lun_process_result result;
        lun_process_join(ring[i], LUN_TIMEOUT_INFINITE, &result, NULL);
        ok += result.kind == LUN_RESULT_OK;
    }
    double elapsed = seconds_since(&start);
    printf("  the token made %" PRId64 " hops (%d laps) in %.1f ms: %.0f ns per hop\n", hops,
           RING_LAPS, elapsed * 1e3, elapsed * 1e9 / (double)hops);
    printf("  all %d ring processes ended normally: %s\n", RING_SIZE,
           ok == RING_SIZE ? "yes" : "NO");
    for (int i = 0; i < RING_SIZE; i++)
        lun_process_release(ring[i]);
    free(ring);
    free(nodes);
    return ok == RING_SIZE ? 0 : 1;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    lun_runtime *runtime = NULL;
    lun_environment *environment = NULL;
    lun_error error;
    if (lun_runtime_new(NULL, &runtime, &error) != LUN_OK ||
        lun_environment_new(runtime, 1, &environment, &error) != LUN_OK) {
        fprintf(stderr, "core-demo: %s\n", error.message);
        return 1;
    }
    printf("lunatic process core demo: %u worker threads\n\n", lun_runtime_worker_count(runtime));

    printf("1. A supervisor, linked workers, and a failure\n");
    supervisor s = {0};
    lun_process *boss = NULL;
    if (lun_process_spawn(environment, supervisor_step, &s, NULL, &boss, &error) != LUN_OK) {
        fprintf(stderr, "core-demo: %s\n", error.message);
        return 1;
    }
    lun_process_result result;
    lun_process_join(boss, LUN_TIMEOUT_INFINITE, &result, NULL);
    printf("  supervisor ended: %s, %d results, %d restart(s)\n\n",
           result.kind == LUN_RESULT_OK ? "ok" : result.message, s.results, s.restarts);
    int status = result.kind == LUN_RESULT_OK && s.restarts == 1 ? 0 : 1;
    lun_process_release(boss);

    printf("2. A ring of %d processes passing a token\n", RING_SIZE);
    status |= run_ring(environment);

    printf("\nmessages delivered: %" PRIu64 ", processes left: %zu\n",
           lun_metrics_counter("lunatic.process.messages.send"),
           lun_runtime_process_count(runtime));
    lun_environment_release(environment);
    lun_runtime_free(runtime);
    return status;
}
