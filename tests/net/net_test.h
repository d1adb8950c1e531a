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
#include "process_test.h"
#include "lunatic/net.h"

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

/* Polls an atomic counter until it reaches `value` (fails after 20 s). */
static inline void wait_for_count(_Atomic int *counter, int value)
{
    wait_for_count_within(counter, value, 20000);
}

static inline lun_process_result join(lun_process *process)
{
    return join_within(process, 60000);
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
