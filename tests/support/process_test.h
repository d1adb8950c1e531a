/*
 * Helpers shared by the tests of native processes (core and networking):
 * sizes that shrink under sanitizers, sleeping, a monotonic clock in
 * milliseconds, polling with a deadline and joining with a timeout.
 * Include after <cmocka.h>.
 */
#ifndef LUNATIC_TESTS_PROCESS_TEST_H
#define LUNATIC_TESTS_PROCESS_TEST_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "lunatic/core.h"

#ifdef LUN_SANITIZED
#define TEST_SCALE(full, sanitized) (sanitized)
#else
#define TEST_SCALE(full, sanitized) (full)
#endif

static inline void sleep_ms(long milliseconds)
{
    struct timespec pause = {.tv_sec = milliseconds / 1000,
                             .tv_nsec = (milliseconds % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

static inline uint64_t now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

/* Polls an atomic counter until it reaches `value`; fails after
 * `timeout_ms`. */
static inline void wait_for_count_within(_Atomic int *counter, int value, uint64_t timeout_ms)
{
    uint64_t deadline = now_ms() + timeout_ms;
    while (atomic_load(counter) < value) {
        assert_true(now_ms() < deadline);
        sleep_ms(1);
    }
}

static inline lun_process_result join_within(lun_process *process, int64_t timeout_ms)
{
    lun_process_result result;
    assert_int_equal(lun_process_join(process, timeout_ms, &result, NULL), LUN_OK);
    return result;
}

#endif
