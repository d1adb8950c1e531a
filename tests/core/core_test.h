/*
 * Helpers shared by the process core tests: a runtime fixture, polling with
 * a deadline, and a scripted process that runs a list of receives and
 * records what it got.
 */
#ifndef LUNATIC_CORE_TEST_H
#define LUNATIC_CORE_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lunatic/core.h"
#include "process_test.h"

typedef struct fixture {
    lun_runtime *runtime;
    lun_environment *environment;
} fixture;

static inline fixture *fixture_new(unsigned workers)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    lun_runtime_config config = {.workers = workers};
    assert_int_equal(lun_runtime_new(&config, &f->runtime, NULL), LUN_OK);
    assert_int_equal(lun_environment_new(f->runtime, 1, &f->environment, NULL), LUN_OK);
    return f;
}

static inline void fixture_free(fixture *f)
{
    lun_environment_release(f->environment);
    lun_runtime_free(f->runtime);
    free(f);
}

static inline int setup_two_workers(void **state)
{
    *state = fixture_new(2);
    return 0;
}

static inline int teardown_fixture(void **state)
{
    fixture_free(*state);
    return 0;
}

/* Polls an atomic counter until it reaches `value` (fails after 10 s). */
static inline void wait_for_count(_Atomic int *counter, int value)
{
    wait_for_count_within(counter, value, 10000);
}

/* Polls a metrics counter until it grew by `delta` since `base`. */
static inline void wait_for_metric(const char *name, uint64_t base, uint64_t delta)
{
    uint64_t deadline = now_ms() + 10000;
    while (lun_metrics_counter(name) < base + delta) {
        assert_true(now_ms() < deadline);
        sleep_ms(1);
    }
}

/* Polls a metrics gauge until it reads `value`. */
static inline void wait_for_gauge(const char *name, int64_t value)
{
    uint64_t deadline = now_ms() + 10000;
    while (lun_metrics_gauge(name) != value) {
        assert_true(now_ms() < deadline);
        sleep_ms(1);
    }
}

static inline lun_message *tagged(int64_t tag, int64_t value)
{
    lun_message *message = lun_message_new_data(tag, sizeof value);
    assert_non_null(message);
    assert_int_equal(lun_message_write(message, &value, sizeof value, NULL), LUN_OK);
    return message;
}

static inline int64_t value_of(lun_message *message)
{
    int64_t value = -1;
    size_t read = 0;
    lun_message_seek(message, 0, NULL);
    assert_int_equal(lun_message_read(message, &value, sizeof value, &read, NULL), LUN_OK);
    assert_int_equal(read, sizeof value);
    return value;
}

static inline void send_to(lun_process *target, lun_message *message)
{
    assert_int_equal(lun_process_send_message(target, message, NULL), LUN_OK);
}

static inline lun_process_result join(lun_process *process)
{
    return join_within(process, 120000);
}

/* ---- a scripted process ---------------------------------------------------- */

enum { SCRIPT_MAX = 16 };

typedef enum script_kind {
    SCRIPT_RECEIVE,   /* tags, timeout */
    SCRIPT_SKIP,      /* receive_skip_search tags[0], timeout */
    SCRIPT_SLEEP,     /* timeout ms */
    SCRIPT_CANCEL,    /* receive, then cancel the wait when woken and go on */
    SCRIPT_DIE_FLAG,  /* die_when_link_dies(tags[0] != 0) */
    SCRIPT_LINK,      /* link(tags[0] = tag, tags[1] = process id) */
    SCRIPT_MONITOR,   /* monitor(tags[0]) */
    SCRIPT_UNMONITOR, /* stop_monitoring(tags[0]) */
    SCRIPT_UNLINK,    /* unlink(tags[0]) */
    SCRIPT_FAIL,      /* fail with "scripted failure" */
} script_kind;

typedef struct script_op {
    script_kind kind;
    int64_t tags[4];
    size_t tag_count;
    int64_t timeout;
} script_op;

typedef struct script {
    script_op ops[SCRIPT_MAX];
    size_t count;
    size_t at;
    bool cancel_pending;
    _Atomic int steps;    /* calls of the step */
    _Atomic int progress; /* ops finished */
    lun_status status[SCRIPT_MAX];
    int64_t tag[SCRIPT_MAX];
    int64_t value[SCRIPT_MAX];
    int kind[SCRIPT_MAX];
    uint64_t process_id[SCRIPT_MAX];
} script;

static inline void script_add(script *s, script_kind kind, int64_t timeout, size_t tag_count, ...)
{
    assert_true(s->count < SCRIPT_MAX);
    script_op *op = &s->ops[s->count++];
    op->kind = kind;
    op->timeout = timeout;
    op->tag_count = tag_count;
    va_list args;
    va_start(args, tag_count);
    for (size_t i = 0; i < tag_count; i++)
        op->tags[i] = va_arg(args, int64_t);
    va_end(args);
}

static inline void script_record(script *s, lun_status status, lun_message *message)
{
    s->status[s->at] = status;
    s->tag[s->at] = -1;
    s->value[s->at] = -1;
    if (message != NULL) {
        s->tag[s->at] = lun_message_tag(message);
        s->kind[s->at] = lun_message_get_kind(message);
        s->process_id[s->at] = lun_message_process_id(message);
        if (lun_message_get_kind(message) == LUN_MESSAGE_DATA && lun_message_size(message) >= 8)
            memcpy(&s->value[s->at], lun_message_data(message), 8);
        lun_message_free(message);
    }
}

static inline lun_step_result script_step(lun_process *self, void *state)
{
    script *s = state;
    atomic_fetch_add(&s->steps, 1);
    while (s->at < s->count) {
        script_op *op = &s->ops[s->at];
        lun_message *message = NULL;
        lun_status status = LUN_OK;
        switch (op->kind) {
        case SCRIPT_RECEIVE:
            status =
                lun_process_receive(self, op->tags, op->tag_count, op->timeout, &message, NULL);
            break;
        case SCRIPT_SKIP:
            status =
                lun_process_receive_skip_search(self, op->tags[0], op->timeout, &message, NULL);
            break;
        case SCRIPT_SLEEP: status = lun_process_sleep(self, (uint64_t)op->timeout, NULL); break;
        case SCRIPT_CANCEL:
            if (s->cancel_pending) {
                lun_process_cancel_wait(self);
                s->cancel_pending = false;
                status = LUN_ERR_TIMEOUT;
                break;
            }
            status =
                lun_process_receive(self, op->tags, op->tag_count, op->timeout, &message, NULL);
            if (status == LUN_ERR_WOULD_BLOCK) s->cancel_pending = true;
            break;
        case SCRIPT_DIE_FLAG:
            status = lun_process_die_when_link_dies(self, op->tags[0] != 0, NULL);
            break;
        case SCRIPT_LINK:
            status = lun_process_link(self, op->tags[0], (uint64_t)op->tags[1], NULL);
            break;
        case SCRIPT_MONITOR: status = lun_process_monitor(self, (uint64_t)op->tags[0], NULL); break;
        case SCRIPT_UNMONITOR:
            status = lun_process_stop_monitoring(self, (uint64_t)op->tags[0], NULL);
            break;
        case SCRIPT_UNLINK: status = lun_process_unlink(self, (uint64_t)op->tags[0], NULL); break;
        case SCRIPT_FAIL: lun_process_fail(self, "scripted failure"); return LUN_STEP_FAILED;
        }
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        script_record(s, status, message);
        s->at++;
        atomic_fetch_add(&s->progress, 1);
    }
    return LUN_STEP_DONE;
}

static inline lun_process *spawn_script(fixture *f, script *s)
{
    lun_process *process = NULL;
    assert_int_equal(lun_process_spawn(f->environment, script_step, s, NULL, &process, NULL),
                     LUN_OK);
    return process;
}

#endif
