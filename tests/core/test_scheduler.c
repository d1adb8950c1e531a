/*
 * The scheduler's idle path: an idle worker spins for a short while, then
 * parks. Wake-ups from outside threads that land while the worker spins,
 * just as it gives up spinning, and after it parked must all get the process
 * run (a lost wake-up hangs and the poll fails); and an idle runtime must
 * sleep rather than spin.
 */
#include "core_test.h"

#include <sys/resource.h>

typedef struct counter_state {
    int rounds_wanted;
    _Atomic int rounds;
} counter_state;

static lun_step_result counter_step(lun_process *self, void *state)
{
    counter_state *counter = state;
    while (atomic_load(&counter->rounds) < counter->rounds_wanted) {
        lun_status status = lun_process_wait_external(self, LUN_TIMEOUT_INFINITE, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) return LUN_STEP_FAILED;
        atomic_fetch_add(&counter->rounds, 1);
    }
    return LUN_STEP_DONE;
}

static uint64_t now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static void busy_wait_ns(uint64_t nanoseconds)
{
    uint64_t until = now_ns() + nanoseconds;
    while (now_ns() < until) {
    }
}

/* Polls without sleeping, so that the next notification comes while the
 * worker is still spinning (fails after 10 s: a lost wake-up). */
static void spin_until_count(_Atomic int *counter, int value)
{
    uint64_t deadline = now_ns() + 10000000000u;
    while (atomic_load(counter) < value)
        assert_true(now_ns() < deadline);
}

/* Gaps before each notification: none (the worker is still busy or
 * spinning), around the spin limit (it is giving up), and long enough that
 * it has parked. */
static void test_outside_wakes_reach_spinning_and_parked_workers(void **state)
{
    fixture *f = *state;
    static const uint64_t gaps_ns[] = {0, 1000, 15000, 20000, 25000, 40000, 300000};
    enum { GAPS = sizeof gaps_ns / sizeof gaps_ns[0] };
    counter_state counter = {.rounds_wanted = TEST_SCALE(2100, 350)};
    lun_process *process;
    assert_int_equal(
        lun_process_spawn(f->environment, counter_step, &counter, NULL, &process, NULL), LUN_OK);
    for (int i = 0; i < counter.rounds_wanted; i++) {
        busy_wait_ns(gaps_ns[i % GAPS]);
        lun_process_notify(process);
        spin_until_count(&counter.rounds, i + 1);
    }
    lun_process_result result = join(process);
    assert_int_equal(result.kind, LUN_RESULT_OK);
    lun_process_release(process);
}

static double cpu_seconds(void)
{
    struct rusage usage;
    assert_int_equal(getrusage(RUSAGE_SELF, &usage), 0);
    return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
           (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

/* Two workers that spun without end would burn about 0.6 s of CPU in this
 * 0.3 s window; parked workers burn next to nothing. */
static void test_idle_runtime_parks(void **state)
{
    fixture *f = *state;
    counter_state counter = {.rounds_wanted = 1};
    lun_process *process;
    assert_int_equal(
        lun_process_spawn(f->environment, counter_step, &counter, NULL, &process, NULL), LUN_OK);
    lun_process_notify(process);
    join(process);
    lun_process_release(process);
    sleep_ms(20); /* let the workers finish spinning */
    double before = cpu_seconds();
    sleep_ms(300);
    assert_true(cpu_seconds() - before < 0.15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outside_wakes_reach_spinning_and_parked_workers,
                                        setup_two_workers, teardown_fixture),
        cmocka_unit_test_setup_teardown(test_idle_runtime_parks, setup_two_workers,
                                        teardown_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
