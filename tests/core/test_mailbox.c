/*
 * Mailbox semantics: FIFO order, selective receive by tag sets, receive
 * skipping the search, timeouts, which messages wake a waiter, and that a
 * message that woke a cancelled wait is never lost.
 */
#include "core_test.h"

/* Waits for the process to be parked in its first receive, then sends. */
static void send_tags(lun_process *target, const int64_t *tags, size_t count)
{
    for (size_t i = 0; i < count; i++)
        send_to(target, tagged(tags[i], (int64_t)i + 100));
}

static void test_selective_receive_order(void **state)
{
    fixture *f = *state;
    script s = {0};
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)99); /* the go signal */
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)2);
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)1);
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)3);
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 0);
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 0);
    lun_process *process = spawn_script(f, &s);
    int64_t tags[] = {1, 2, 3, 4, 5, 99};
    send_tags(process, tags, 6);
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    int64_t expected[] = {99, 2, 1, 3, 4, 5};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(s.status[i], LUN_OK);
        assert_int_equal(s.tag[i], expected[i]);
    }
    lun_process_release(process);
}

static void test_tag_set_takes_queue_order(void **state)
{
    fixture *f = *state;
    script s = {0};
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)99);
    for (int i = 0; i < 3; i++)
        script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 3, (int64_t)2, (int64_t)1, (int64_t)3);
    lun_process *process = spawn_script(f, &s);
    int64_t tags[] = {1, 2, 3, 4, 5, 99};
    send_tags(process, tags, 6);
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_int_equal(s.tag[1], 1);
    assert_int_equal(s.tag[2], 2);
    assert_int_equal(s.tag[3], 3);
    lun_process_release(process);
}

static void test_untagged_never_matches_tag_set(void **state)
{
    fixture *f = *state;
    script s = {0};
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)99);
    script_add(&s, SCRIPT_RECEIVE, 0, 1, (int64_t)0); /* tag 0 in a set matches nothing */
    script_add(&s, SCRIPT_RECEIVE, 0, 2, (int64_t)7, (int64_t)8);
    script_add(&s, SCRIPT_RECEIVE, 0, 0);
    lun_process *process = spawn_script(f, &s);
    send_to(process, tagged(0, 1));
    send_to(process, tagged(99, 2));
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_int_equal(s.status[1], LUN_ERR_TIMEOUT);
    assert_int_equal(s.status[2], LUN_ERR_TIMEOUT);
    assert_int_equal(s.status[3], LUN_OK);
    assert_int_equal(s.tag[3], 0);
    assert_int_equal(s.value[3], 1);
    lun_process_release(process);
}

static void test_waiter_on_no_tags_woken_by_any(void **state)
{
    fixture *f = *state;
    script s = {0};
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 0);
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 0);
    lun_process *process = spawn_script(f, &s);
    wait_for_count(&s.steps, 1);
    send_to(process, tagged(0, 41));
    wait_for_count(&s.progress, 1);
    send_to(process, tagged(12345, 42));
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_int_equal(s.value[0], 41);
    assert_int_equal(s.tag[1], 12345);
    assert_int_equal(s.value[1], 42);
    lun_process_release(process);
}

static void test_waiter_on_tag_woken_only_by_it(void **state)
{
    fixture *f = *state;
    script s = {0};
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)1337);
    lun_process *process = spawn_script(f, &s);
    wait_for_count(&s.steps, 1);
    uint64_t received = lun_metrics_counter("lunatic.process.signals.received");
    send_to(process, tagged(0, 1));
    send_to(process, tagged(1336, 2));
    send_to(process, tagged(1338, 3));
    lun_message *died = lun_message_new_process_died(1337);
    send_to(process, died);
    wait_for_metric("lunatic.process.signals.received", received, 4);
    sleep_ms(20);
    /* Handled, but the step was not called again. */
    assert_int_equal(atomic_load(&s.steps), 1);
    assert_true(lun_process_is_alive(process));
    send_to(process, tagged(1337, 4));
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_int_equal(atomic_load(&s.steps), 2);
    assert_int_equal(s.tag[0], 1337);
    assert_int_equal(s.value[0], 4);
    lun_process_release(process);
}

static void test_skip_search_ignores_queued(void **state)
{
    fixture *f = *state;
    script s = {0};
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)99);
    script_add(&s, SCRIPT_SKIP, LUN_TIMEOUT_INFINITE, 1, (int64_t)5);
    script_add(&s, SCRIPT_RECEIVE, 0, 1, (int64_t)5);
    script_add(&s, SCRIPT_SKIP, 0, 1, (int64_t)5);
    lun_process *process = spawn_script(f, &s);
    send_to(process, tagged(5, 1)); /* queued before the skip-search receive */
    send_to(process, tagged(99, 0));
    wait_for_count(&s.progress, 1); /* then parks in the skip-search receive */
    sleep_ms(10);
    assert_int_equal(atomic_load(&s.progress), 1);
    send_to(process, tagged(5, 2));
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_int_equal(s.value[1], 2); /* the new one */
    assert_int_equal(s.value[2], 1); /* the old one is still there */
    assert_int_equal(s.status[3], LUN_ERR_TIMEOUT);
    lun_process_release(process);
}

static void test_receive_timeout(void **state)
{
    fixture *f = *state;
    script s = {0};
    script_add(&s, SCRIPT_RECEIVE, 30, 1, (int64_t)7);
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)8);
    script_add(&s, SCRIPT_RECEIVE, 5000, 1, (int64_t)9);
    script_add(&s, SCRIPT_RECEIVE, 0, 0);
    uint64_t start = now_ms();
    lun_process *process = spawn_script(f, &s);
    wait_for_count(&s.progress, 1);
    assert_true(now_ms() - start >= 30);
    send_to(process, tagged(7, 1)); /* too late for op 0: stays queued */
    send_to(process, tagged(8, 2));
    send_to(process, tagged(9, 3)); /* arrives before the 5 s timeout */
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_int_equal(s.status[0], LUN_ERR_TIMEOUT);
    assert_int_equal(s.value[1], 2);
    assert_int_equal(s.value[2], 3);
    assert_true(now_ms() - start < 5000);
    assert_int_equal(s.status[3], LUN_OK);
    assert_int_equal(s.value[3], 1);
    lun_process_release(process);
}

static void test_cancelled_wait_keeps_message(void **state)
{
    fixture *f = *state;
    script s = {0};
    script_add(&s, SCRIPT_CANCEL, LUN_TIMEOUT_INFINITE, 1, (int64_t)7);
    script_add(&s, SCRIPT_RECEIVE, 0, 1, (int64_t)7);
    lun_process *process = spawn_script(f, &s);
    wait_for_count(&s.steps, 1);
    send_to(process, tagged(7, 77));
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_int_equal(s.status[0], LUN_ERR_TIMEOUT); /* the wait was cancelled */
    assert_int_equal(s.status[1], LUN_OK);
    assert_int_equal(s.value[1], 77);
    lun_process_release(process);
}

/* Holds the only worker so that several signals pile up for another process. */
static lun_step_result hold_worker(lun_process *self, void *state)
{
    sleep_ms(*(long *)state);
    return LUN_STEP_DONE;
}

static void test_woken_then_timed_out_keeps_message(void **state)
{
    fixture *f = fixture_new(1);
    script s = {0};
    script_add(&s, SCRIPT_RECEIVE, 20, 1, (int64_t)7);
    script_add(&s, SCRIPT_RECEIVE, 0, 1, (int64_t)7);
    lun_process *process = spawn_script(f, &s);
    wait_for_count(&s.steps, 1);
    long hold = 100;
    lun_process *holder = NULL;
    assert_int_equal(lun_process_spawn(f->environment, hold_worker, &hold, NULL, &holder, NULL),
                     LUN_OK);
    sleep_ms(10);
    send_to(process, tagged(7, 1)); /* arrives while the timer also fires */
    send_to(process, tagged(7, 2));
    join(holder);
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    /* Whichever way the race went, both messages are accounted for. */
    if (s.status[0] == LUN_OK) {
        assert_int_equal(s.value[0], 1);
        assert_int_equal(s.value[1], 2);
    } else {
        assert_int_equal(s.status[0], LUN_ERR_TIMEOUT);
        assert_int_equal(s.value[1], 1);
    }
    lun_process_release(holder);
    lun_process_release(process);
    (void)state;
    fixture_free(f);
}

static void test_killed_after_wake_frees_message(void **state)
{
    fixture *f = fixture_new(1);
    int64_t outstanding = lun_metrics_gauge("lunatic.process.messages.outstanding");
    script s = {0};
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)7);
    lun_process *process = spawn_script(f, &s);
    wait_for_count(&s.steps, 1);
    long hold = 50;
    lun_process *holder = NULL;
    assert_int_equal(lun_process_spawn(f->environment, hold_worker, &hold, NULL, &holder, NULL),
                     LUN_OK);
    sleep_ms(10);
    send_to(process, tagged(7, 1));
    assert_int_equal(lun_process_kill(process, NULL), LUN_OK);
    lun_process_result result = join(process);
    assert_int_equal(result.kind, LUN_RESULT_FAILED);
    assert_int_equal(atomic_load(&s.steps), 1); /* killed before it could take it */
    assert_int_equal(lun_metrics_gauge("lunatic.process.messages.outstanding"), outstanding);
    join(holder);
    lun_process_release(holder);
    lun_process_release(process);
    (void)state;
    fixture_free(f);
}

typedef struct ordered {
    int expected;
    int count;
    bool in_order;
} ordered;

/* Receives `count` messages of tags 1..3 and checks they come in send order. */
static lun_step_result ordered_receiver(lun_process *self, void *state)
{
    ordered *o = state;
    int64_t tags[] = {3, 1, 2};
    while (o->expected < o->count) {
        lun_message *message = NULL;
        lun_status status =
            lun_process_receive(self, tags, 3, LUN_TIMEOUT_INFINITE, &message, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) return LUN_STEP_FAILED;
        if (value_of(message) != o->expected) o->in_order = false;
        lun_message_free(message);
        o->expected++;
    }
    return LUN_STEP_DONE;
}

static void test_fifo_many(void **state)
{
    fixture *f = *state;
    ordered o = {.count = 1000, .in_order = true};
    lun_process *process = NULL;
    assert_int_equal(lun_process_spawn(f->environment, ordered_receiver, &o, NULL, &process, NULL),
                     LUN_OK);
    for (int i = 0; i < o.count; i++) {
        send_to(process, tagged(0, -1)); /* untagged noise is skipped */
        send_to(process, tagged(i % 3 + 1, i));
    }
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_true(o.in_order);
    assert_int_equal(o.expected, o.count);
    lun_process_release(process);
}

typedef struct many_tags {
    int count;
    int at;
    int phase;
    bool all_found;
    bool absent_timed_out;
} many_tags;

/* With `count` distinct tags queued (each twice), receives them in a
 * scrambled order, checks a tag never sent is not found, then drains. */
static lun_step_result many_tags_step(lun_process *self, void *state)
{
    many_tags *m = state;
    lun_message *message;
    if (m->phase == 0) {
        int64_t go = -1;
        lun_status status = lun_process_receive(self, &go, 1, LUN_TIMEOUT_INFINITE, &message, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        lun_message_free(message);
        m->phase = 1;
    }
    for (; m->at < 2 * m->count; m->at++) {
        int64_t tag = (int64_t)((m->at % m->count) * 7919 % m->count) + 1;
        lun_status status = lun_process_receive(self, &tag, 1, 0, &message, NULL);
        if (status != LUN_OK || lun_message_tag(message) != tag) m->all_found = false;
        lun_message_free(message);
        int64_t absent = 1000000 + m->at;
        if (lun_process_receive(self, &absent, 1, 0, &message, NULL) != LUN_ERR_TIMEOUT)
            m->absent_timed_out = false;
    }
    m->all_found &= lun_process_mailbox_size(self) == 0;
    return LUN_STEP_DONE;
}

static void test_many_distinct_tags(void **state)
{
    fixture *f = *state;
    many_tags m = {.count = 1000, .all_found = true, .absent_timed_out = true};
    lun_process *process = NULL;
    assert_int_equal(lun_process_spawn(f->environment, many_tags_step, &m, NULL, &process, NULL),
                     LUN_OK);
    for (int round = 0; round < 2; round++)
        for (int i = 1; i <= m.count; i++)
            send_to(process, tagged(i, i));
    send_to(process, tagged(-1, 0));
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_true(m.all_found);
    assert_true(m.absent_timed_out);
    lun_process_release(process);
}

typedef struct changer {
    _Atomic int calls;
    lun_status other;
    lun_status again;
    int64_t value;
} changer;

/* Waits on tag 1, but when woken makes a different call first. */
static lun_step_result changer_step(lun_process *self, void *state)
{
    changer *c = state;
    lun_message *message = NULL;
    int64_t one = 1, two = 2;
    if (atomic_fetch_add(&c->calls, 1) == 0) {
        lun_status status =
            lun_process_receive(self, &one, 1, LUN_TIMEOUT_INFINITE, &message, NULL);
        return status == LUN_ERR_WOULD_BLOCK ? LUN_STEP_WAIT : LUN_STEP_FAILED;
    }
    c->other = lun_process_receive(self, &two, 1, 0, &message, NULL);
    c->again = lun_process_receive(self, &one, 1, 0, &message, NULL);
    if (message != NULL) c->value = value_of(message);
    lun_message_free(message);
    return LUN_STEP_DONE;
}

static void test_different_call_after_wake(void **state)
{
    fixture *f = *state;
    changer c = {0};
    lun_process *process = NULL;
    assert_int_equal(lun_process_spawn(f->environment, changer_step, &c, NULL, &process, NULL),
                     LUN_OK);
    wait_for_count(&c.calls, 1); /* signals are only handled between steps */
    send_to(process, tagged(1, 11));
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_int_equal(atomic_load(&c.calls), 2);
    assert_int_equal(c.other, LUN_ERR_TIMEOUT);
    assert_int_equal(c.again, LUN_OK);
    assert_int_equal(c.value, 11);
    lun_process_release(process);
}

typedef struct only_tag_state {
    int64_t got[8];
    size_t left;
    int calls;
} only_tag_state;

static int64_t receive_value(lun_process *self, int64_t tag, size_t tag_count)
{
    lun_message *message = NULL;
    if (lun_process_receive(self, &tag, tag_count, 0, &message, NULL) != LUN_OK) return -1;
    int64_t value = value_of(message);
    lun_message_free(message);
    return value;
}

/* Waits for tag 999, then receives by tags whose only queued message sits
 * near the head, near the tail, or (tag 1) many times. */
static lun_step_result only_tag_step(lun_process *self, void *state)
{
    only_tag_state *s = state;
    int64_t go = 999;
    lun_message *message;
    lun_status status = lun_process_receive(self, &go, 1, LUN_TIMEOUT_INFINITE, &message, NULL);
    if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
    if (status != LUN_OK) return LUN_STEP_FAILED;
    lun_message_free(message);
    s->got[0] = receive_value(self, 60, 1); /* near the tail */
    s->got[1] = receive_value(self, 50, 1); /* near the head */
    s->got[2] = receive_value(self, 60, 1); /* none left: times out */
    s->got[3] = receive_value(self, 1, 1);  /* many: the oldest */
    s->got[4] = receive_value(self, 1, 1);
    s->got[5] = receive_value(self, 0, 0);  /* any: queue order kept */
    s->got[6] = receive_value(self, 70, 1); /* the last one */
    s->left = lun_process_mailbox_size(self);
    return LUN_STEP_DONE;
}

static void test_receive_only_tagged_behind_backlog(void **state)
{
    fixture *f = *state;
    only_tag_state s = {.calls = 0};
    lun_process *process;
    assert_int_equal(lun_process_spawn(f->environment, only_tag_step, &s, NULL, &process, NULL),
                     LUN_OK);
    enum { BACKLOG = 1000 };
    send_to(process, tagged(1, -100));
    send_to(process, tagged(50, 50));
    for (int i = 0; i < BACKLOG; i++)
        send_to(process, tagged(1, i));
    send_to(process, tagged(60, 60));
    send_to(process, tagged(1, BACKLOG));
    send_to(process, tagged(70, 70));
    send_to(process, tagged(999, 0));
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_int_equal(s.got[0], 60);
    assert_int_equal(s.got[1], 50);
    assert_int_equal(s.got[2], -1);
    assert_int_equal(s.got[3], -100);
    assert_int_equal(s.got[4], 0);
    assert_int_equal(s.got[5], 1);
    assert_int_equal(s.got[6], 70);
    assert_int_equal(s.left, BACKLOG - 2 + 1);
    lun_process_release(process);
}

static void test_bad_calls(void **state)
{
    fixture *f = *state;
    lun_message *message = NULL;
    int64_t tag = 1;
    /* Outside a step: refused, not a crash. */
    lun_process *process = NULL;
    script s = {0};
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 0);
    process = spawn_script(f, &s);
    lun_error error;
    assert_int_equal(lun_process_receive(process, &tag, 1, 0, &message, &error), LUN_ERR_STATE);
    assert_int_equal(error.code, LUN_ERR_STATE);
    assert_int_equal(lun_process_receive(NULL, NULL, 0, 0, &message, NULL),
                     LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_process_receive_skip_search(process, 1, 0, &message, NULL), LUN_ERR_STATE);
    assert_int_equal(lun_process_sleep(process, 1, NULL), LUN_ERR_STATE);
    assert_int_equal(lun_process_link(process, 0, 1, NULL), LUN_ERR_STATE);
    assert_false(lun_process_is_waiting(process));
    lun_process_cancel_wait(process);
    lun_process_cancel_wait(NULL);
    assert_int_equal(lun_process_mailbox_size(process), 0);
    lun_process_fail(process, "ignored outside a step");
    send_to(process, tagged(0, 5));
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    lun_process_release(process);
}

int main(void)
{
    lun_log_set_level(LUN_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_selective_receive_order, setup_two_workers,
                                        teardown_fixture),
        cmocka_unit_test_setup_teardown(test_tag_set_takes_queue_order, setup_two_workers,
                                        teardown_fixture),
        cmocka_unit_test_setup_teardown(test_untagged_never_matches_tag_set, setup_two_workers,
                                        teardown_fixture),
        cmocka_unit_test_setup_teardown(test_waiter_on_no_tags_woken_by_any, setup_two_workers,
                                        teardown_fixture),
        cmocka_unit_test_setup_teardown(test_waiter_on_tag_woken_only_by_it, setup_two_workers,
                                        teardown_fixture),
        cmocka_unit_test_setup_teardown(test_skip_search_ignores_queued, setup_two_workers,
                                        teardown_fixture),
        cmocka_unit_test_setup_teardown(test_receive_timeout, setup_two_workers, teardown_fixture),
        cmocka_unit_test_setup_teardown(test_cancelled_wait_keeps_message, setup_two_workers,
                                        teardown_fixture),
        cmocka_unit_test(test_woken_then_timed_out_keeps_message),
        cmocka_unit_test(test_killed_after_wake_frees_message),
        cmocka_unit_test_setup_teardown(test_fifo_many, setup_two_workers, teardown_fixture),
        cmocka_unit_test_setup_teardown(test_many_distinct_tags, setup_two_workers,
                                        teardown_fixture),
        cmocka_unit_test_setup_teardown(test_different_call_after_wake, setup_two_workers,
                                        teardown_fixture),
        cmocka_unit_test_setup_teardown(test_bad_calls, setup_two_workers, teardown_fixture),
        cmocka_unit_test_setup_teardown(test_receive_only_tagged_behind_backlog, setup_two_workers,
                                        teardown_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
