/*
 * Helpers shared by the networking tests: a runtime with a networking
 * context, polling with a deadline, loopback addresses, descriptor counts.
 */
#ifndef LUNATIC_NET_TEST_H
#define LUNATIC_NET_TEST_H

#include <dirent.h>
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
#include "lunatic/net.h"

#ifdef LUN_SANITIZED
#define TEST_SCALE(full, sanitized) (sanitized)
#else
#define TEST_SCALE(full, sanitized) (full)
#endif

typedef struct fixture {
    lun_runtime *runtime;
    lun_environment *environment;
    lun_net *net;
} fixture;

static inline int fixture_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    lun_log_set_level(LUN_LOG_ERROR); /* killed servers are expected */
    lun_runtime_config config = {.workers = 2};
    assert_int_equal(lun_runtime_new(&config, &f->runtime, NULL), LUN_OK);
    assert_int_equal(lun_environment_new(f->runtime, 1, &f->environment, NULL), LUN_OK);
    assert_int_equal(lun_net_new(NULL, &f->net, NULL), LUN_OK);
    *state = f;
    return 0;
}

static inline int fixture_teardown(void **state)
{
    fixture *f = *state;
    lun_environment_release(f->environment);
    lun_runtime_free(f->runtime);
    assert_int_equal(lun_net_socket_count(f->net), 0);
    lun_net_free(f->net);
    free(f);
    return 0;
}

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

static inline void wait_for_count(_Atomic int *counter, int value)
{
    uint64_t deadline = now_ms() + 20000;
    while (atomic_load(counter) < value) {
        assert_true(now_ms() < deadline);
        sleep_ms(1);
    }
}

static inline lun_process_result join(lun_process *process)
{
    lun_process_result result;
    assert_int_equal(lun_process_join(process, 60000, &result, NULL), LUN_OK);
    return result;
}

static inline lun_net_address loopback(int family, uint16_t port)
{
    lun_net_address address = {.family = (uint8_t)family, .port = port};
    if (family == 4) {
        address.bytes[0] = 127;
        address.bytes[3] = 1;
    } else {
        address.bytes[15] = 1;
    }
    return address;
}

/* Open descriptors of this process. */
static inline int open_descriptors(void)
{
    DIR *directory = opendir("/proc/self/fd");
    assert_non_null(directory);
    int count = 0;
    while (readdir(directory) != NULL)
        count++;
    closedir(directory);
    return count;
}

static inline lun_process *spawn(fixture *f, lun_step_fn step, void *state,
                                 void (*state_free)(void *))
{
    lun_process *process = NULL;
    lun_spawn_options options = {.state_free = state_free};
    assert_int_equal(lun_process_spawn(f->environment, step, state, &options, &process, NULL),
                     LUN_OK);
    return process;
}

#endif
