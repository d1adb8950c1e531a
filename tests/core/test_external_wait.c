/*
 * External waits: lun_process_wait_external / lun_process_notify. Wake-ups
 * from other threads, notifications that come before the wait, timeouts,
 * kill while waiting, and a race stress where a lost wake-up would hang.
 */
#include "core_test.h"

#include <pthread.h>

typedef struct waiter {
    int64_t timeout;
    int rounds_wanted;
    _Atomic int steps;
    _Atomic int waiting; /* 1 while a wait is registered */
    _Atomic int rounds;  /* waits finished with LUN_OK */
    lun_status last;
} waiter;

static lun_step_result waiter_step(lun_process *self, void *state)
{
    waiter *w = state;
    atomic_fetch_add(&w->steps, 1);
    while (atomic_load(&w->rounds) < w->rounds_wanted) {
        lun_status status = lun_process_wait_external(self, w->timeout, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) {
            atomic_store(&w->waiting, 1);
            return LUN_STEP_WAIT;
        }
        atomic_store(&w->waiting, 0);
        w->last = status;
        if (status != LUN_OK) return LUN_STEP_DONE;
        atomic_fetch_add(&w->rounds, 1);
    }
    return LUN_STEP_DONE;
}

static lun_process *spawn_waiter(fixture *f, waiter *w)
{
    lun_process *process = NULL;
    assert_int_equal(lun_process_spawn(f->environment, waiter_step, w, NULL, &process, NULL),
                     LUN_OK);
    return process;
}

static void wait_until_waiting(waiter *w)
{
    uint64_t deadline = now_ms() + 10000;
    while (!atomic_load(&w->waiting)) {
        assert_true(now_ms() < deadline);
        sleep_ms(1);
    }
}

static void test_notify_wakes_waiter(void **state)
{
    fixture *f = *state;
    waiter w = {.timeout = LUN_TIMEOUT_INFINITE, .rounds_wanted = 1};
    lun_process *process = spawn_waiter(f, &w);
    wait_until_waiting(&w);
    sleep_ms(10);
    assert_int_equal(atomic_load(&w.steps), 1); /* parked: not stepped again */
    lun_process_notify(process);
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_int_equal(w.last, LUN_OK);
    assert_int_equal(atomic_load(&w.rounds), 1);
    assert_int_equal(atomic_load(&w.steps), 2);
    lun_process_release(process);
}

/* A process blocked in receive is notified; the notification is kept and
 * its later wait_external returns at once. */
typedef struct early {
    int steps;
    int phase;
    lun_status external;
    int external_steps;
} early;

static lun_step_result early_step(lun_process *self, void *state)
{
    early *e = state;
    e->steps++;
    if (e->phase == 0) {
        lun_message *message = NULL;
        lun_status status =
            lun_process_receive(self, NULL, 0, LUN_TIMEOUT_INFINITE, &message, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        lun_message_free(message);
        e->phase = 1;
    }
    e->external_steps++;
    e->external = lun_process_wait_external(self, 0, NULL);
    return LUN_STEP_DONE;
}

static void test_notify_before_wait_is_kept(void **state)
{
    fixture *f = *state;
    early e = {0};
    lun_process *process = NULL;
    assert_int_equal(lun_process_spawn(f->environment, early_step, &e, NULL, &process, NULL),
                     LUN_OK);
    lun_process_notify(process);
    lun_process_notify(process); /* several count as one */
    sleep_ms(10);
    send_to(process, tagged(1, 1));
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_int_equal(e.external, LUN_OK); /* timeout 0, yet notified */
    assert_int_equal(e.external_steps, 1);
    assert_int_equal(e.steps, 2); /* the notifications did not step the receive */
    lun_process_release(process);
}

static void test_timeout(void **state)
{
    fixture *f = *state;
    waiter w = {.timeout = 40, .rounds_wanted = 1};
    uint64_t start = now_ms();
    lun_process *process = spawn_waiter(f, &w);
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_true(now_ms() - start >= 40);
    assert_int_equal(w.last, LUN_ERR_TIMEOUT);
    assert_int_equal(atomic_load(&w.rounds), 0);
    lun_process_release(process);

    waiter now = {.timeout = 0, .rounds_wanted = 1};
    process = spawn_waiter(f, &now);
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_int_equal(now.last, LUN_ERR_TIMEOUT);
    assert_int_equal(atomic_load(&now.steps), 1);
    lun_process_release(process);
}

/* A notification before the timeout wins, and the timer does not fire
 * into a later wait. */
static void test_notify_before_timeout(void **state)
{
    fixture *f = *state;
    waiter w = {.timeout = 5000, .rounds_wanted = 1};
    uint64_t start = now_ms();
    lun_process *process = spawn_waiter(f, &w);
    wait_until_waiting(&w);
    lun_process_notify(process);
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_int_equal(w.last, LUN_OK);
    assert_true(now_ms() - start < 5000);
    lun_process_release(process);
}

static void test_kill_while_waiting(void **state)
{
    fixture *f = *state;
    waiter w = {.timeout = LUN_TIMEOUT_INFINITE, .rounds_wanted = 1};
    lun_process *process = spawn_waiter(f, &w);
    wait_until_waiting(&w);
    assert_int_equal(lun_process_kill(process, NULL), LUN_OK);
    lun_process_result result = join(process);
    assert_int_equal(result.kind, LUN_RESULT_FAILED);
    assert_int_equal(atomic_load(&w.rounds), 0);
    lun_process_notify(process); /* dead: nothing happens */
    lun_process_notify(NULL);
    lun_process_release(process);
}

static void test_outside_step(void **state)
{
    fixture *f = *state;
    waiter w = {.timeout = LUN_TIMEOUT_INFINITE, .rounds_wanted = 1};
    lun_process *process = spawn_waiter(f, &w);
    wait_until_waiting(&w);
    assert_int_equal(lun_process_wait_external(process, 0, NULL), LUN_ERR_STATE);
    assert_int_equal(lun_process_wait_external(NULL, 0, NULL), LUN_ERR_INVALID_ARGUMENT);
    lun_process_notify(process);
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    lun_process_release(process);
}

/* Ping-pong with notifier threads: each thread notifies its processes until
 * their round count moves. A lost wake-up would stop a process for good and
 * fail the deadline. */
enum { STRESS_PROCESSES = 8 };

typedef struct stress {
    waiter *waiters;
    lun_process **processes;
    size_t first, count;
    int rounds;
    _Atomic int failed;
} stress;

static void *notifier_thread(void *argument)
{
    stress *s = argument;
    uint64_t deadline = now_ms() + 60000;
    for (int round = 0; round < s->rounds; round++) {
        for (size_t i = s->first; i < s->first + s->count; i++) {
            while (atomic_load(&s->waiters[i].rounds) <= round) {
                lun_process_notify(s->processes[i]);
                if (now_ms() > deadline) {
                    atomic_store(&s->failed, 1);
                    return NULL;
                }
                sched_yield();
            }
        }
    }
    return NULL;
}

static void test_stress_no_lost_wakeup(void **state)
{
    fixture *f = *state;
    int rounds = TEST_SCALE(1000, 200);
    waiter waiters[STRESS_PROCESSES];
    lun_process *processes[STRESS_PROCESSES];
    for (size_t i = 0; i < STRESS_PROCESSES; i++) {
        waiters[i] = (waiter){.timeout = LUN_TIMEOUT_INFINITE, .rounds_wanted = rounds};
        processes[i] = spawn_waiter(f, &waiters[i]);
    }
    stress halves[2];
    pthread_t threads[2];
    for (size_t t = 0; t < 2; t++) {
        halves[t] = (stress){.waiters = waiters,
                             .processes = processes,
                             .first = t * STRESS_PROCESSES / 2,
                             .count = STRESS_PROCESSES / 2,
                             .rounds = rounds};
        assert_int_equal(pthread_create(&threads[t], NULL, notifier_thread, &halves[t]), 0);
    }
    for (size_t t = 0; t < 2; t++) {
        pthread_join(threads[t], NULL);
        assert_int_equal(atomic_load(&halves[t].failed), 0);
    }
    for (size_t i = 0; i < STRESS_PROCESSES; i++) {
        assert_int_equal(join(processes[i]).kind, LUN_RESULT_OK);
        assert_int_equal(atomic_load(&waiters[i].rounds), rounds);
        lun_process_release(processes[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_notify_wakes_waiter, setup_two_workers,
                                        teardown_fixture),
        cmocka_unit_test_setup_teardown(test_notify_before_wait_is_kept, setup_two_workers,
                                        teardown_fixture),
        cmocka_unit_test_setup_teardown(test_timeout, setup_two_workers, teardown_fixture),
        cmocka_unit_test_setup_teardown(test_notify_before_timeout, setup_two_workers,
                                        teardown_fixture),
        cmocka_unit_test_setup_teardown(test_kill_while_waiting, setup_two_workers,
                                        teardown_fixture),
        cmocka_unit_test_setup_teardown(test_outside_step, setup_two_workers, teardown_fixture),
        cmocka_unit_test_setup_teardown(test_stress_no_lost_wakeup, setup_two_workers,
                                        teardown_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
