/*
 * Timers: sleep, receive timeouts, send-after with cancel.
 */
#include "core_test.h"

static void test_sleep(void **state)
{
    fixture *f = *state;
    script s = {0};
    script_add(&s, SCRIPT_SLEEP, 40, 0);
    script_add(&s, SCRIPT_SLEEP, 0, 0); /* sleeping 0 ms returns at once */
    uint64_t start = now_ms();
    lun_process *process = spawn_script(f, &s);
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_true(now_ms() - start >= 40);
    assert_int_equal(s.status[0], LUN_OK);
    assert_int_equal(s.status[1], LUN_OK);
    assert_int_equal(atomic_load(&s.steps), 2);
    lun_process_release(process);
}

static void test_sleep_not_woken_by_messages(void **state)
{
    fixture *f = *state;
    script s = {0};
    script_add(&s, SCRIPT_SLEEP, 60, 0);
    script_add(&s, SCRIPT_RECEIVE, 0, 0);
    uint64_t start = now_ms();
    lun_process *process = spawn_script(f, &s);
    wait_for_count(&s.steps, 1);
    send_to(process, tagged(1, 5));
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_true(now_ms() - start >= 60);
    assert_int_equal(atomic_load(&s.steps), 2);
    assert_int_equal(s.value[1], 5);
    lun_process_release(process);
}

static void test_send_after(void **state)
{
    fixture *f = *state;
    script s = {0};
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)3);
    script_add(&s, SCRIPT_RECEIVE, 200, 1, (int64_t)4);
    lun_process *process = spawn_script(f, &s);
    uint64_t start = now_ms();
    uint64_t first = 0, second = 0, third = 0;
    assert_int_equal(lun_timer_send_after(process, tagged(3, 33), 40, &first, NULL), LUN_OK);
    assert_int_equal(lun_timer_send_after(process, tagged(4, 44), 30, &second, NULL), LUN_OK);
    assert_int_equal(lun_timer_send_after(process, tagged(5, 55), 10000, &third, NULL), LUN_OK);
    assert_true(first != second && second != third && first != 0);
    assert_true(lun_timer_cancel(f->runtime, second));
    assert_false(lun_timer_cancel(f->runtime, second)); /* already cancelled */
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_true(now_ms() - start >= 40);
    assert_int_equal(s.value[0], 33);
    assert_int_equal(s.status[1], LUN_ERR_TIMEOUT);    /* the cancelled one never came */
    assert_false(lun_timer_cancel(f->runtime, first)); /* fired */
    assert_false(lun_timer_cancel(f->runtime, 987654));
    assert_false(lun_timer_cancel(NULL, 1));
    /* The third timer targets a dead process: it is dropped, or freed at shutdown. */
    lun_process_release(process);
}

static void test_send_after_to_dead_process(void **state)
{
    fixture *f = *state;
    script s = {0};
    lun_process *process = spawn_script(f, &s); /* ends at once */
    join(process);
    uint64_t id = 0;
    assert_int_equal(lun_timer_send_after(process, tagged(1, 1), 5, &id, NULL), LUN_OK);
    sleep_ms(30);
    assert_false(lun_timer_cancel(f->runtime, id));
    assert_int_equal(lun_timer_send_after(NULL, tagged(1, 1), 5, &id, NULL),
                     LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_timer_send_after(process, NULL, 5, &id, NULL), LUN_ERR_INVALID_ARGUMENT);
    lun_process_release(process);
}

/* Many receives whose timeouts are cancelled by a message arriving first. */
typedef struct quick {
    int rounds;
    int done;
    int timeouts;
} quick;

static lun_step_result quick_receiver(lun_process *self, void *state)
{
    quick *q = state;
    while (q->done < q->rounds) {
        lun_message *message;
        lun_status status = lun_process_receive(self, NULL, 0, 60000, &message, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status == LUN_ERR_TIMEOUT) q->timeouts++;
        lun_message_free(message);
        q->done++;
    }
    return LUN_STEP_DONE;
}

static void test_timeouts_cancelled_by_messages(void **state)
{
    fixture *f = *state;
    quick q = {.rounds = 2000};
    lun_process *process = NULL;
    assert_int_equal(lun_process_spawn(f->environment, quick_receiver, &q, NULL, &process, NULL),
                     LUN_OK);
    for (int i = 0; i < q.rounds; i++) {
        send_to(process, tagged(0, i));
        if (i % 100 == 0) sleep_ms(1);
    }
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_int_equal(q.timeouts, 0);
    lun_process_release(process);
}

int main(void)
{
    lun_log_set_level(LUN_LOG_ERROR);
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup_two_workers, teardown_fixture)
        T(test_sleep),
        T(test_sleep_not_woken_by_messages),
        T(test_send_after),
        T(test_send_after_to_dead_process),
        T(test_timeouts_cancelled_by_messages),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
