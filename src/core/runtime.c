/*
 * The runtime: owns the workers, the timer thread, the set of environments
 * and the registry. Freeing it kills what still runs and waits for the end
 * of every process before joining the threads.
 */
#include "core_internal.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Runtimes alive in this OS process (see lun_runtime_free). */
static _Atomic unsigned runtime_count;

static void runtime_destroy_locks(lun_runtime *runtime)
{
    pthread_mutex_destroy(&runtime->environments_lock);
    pthread_cond_destroy(&runtime->join_cond);
    pthread_mutex_destroy(&runtime->join_lock);
    for (size_t i = 0; i < CORE_JOIN_BUCKETS; i++) {
        pthread_cond_destroy(&runtime->join_buckets[i].cond);
        pthread_mutex_destroy(&runtime->join_buckets[i].lock);
    }
}

static unsigned default_workers(void)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (unsigned)online : 1;
}

lun_status lun_runtime_new(const lun_runtime_config *config, lun_runtime **out, lun_error *error)
{
    if (out == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null output");
    *out = NULL;
    unsigned workers = config && config->workers ? config->workers : default_workers();
    if (workers > 1024)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "%u workers is too many", workers);
    lun_runtime *runtime = calloc(1, sizeof *runtime);
    if (runtime == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "runtime");
    runtime->worker_count = workers;
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_mutex_init(&runtime->join_lock, NULL);
    pthread_cond_init(&runtime->join_cond, &attributes);
    for (size_t i = 0; i < CORE_JOIN_BUCKETS; i++) {
        pthread_mutex_init(&runtime->join_buckets[i].lock, NULL);
        pthread_cond_init(&runtime->join_buckets[i].cond, &attributes);
    }
    pthread_condattr_destroy(&attributes);
    pthread_mutex_init(&runtime->environments_lock, NULL);
    lun_status status = core_registry_init(&runtime->registry, error);
    if (status == LUN_OK) {
        status = core_timers_start(&runtime->timers, error);
        if (status == LUN_OK) {
            status = core_scheduler_start(runtime, error);
            if (status == LUN_OK) {
                atomic_fetch_add(&runtime_count, 1);
                *out = runtime;
                return LUN_OK;
            }
            core_timers_stop(&runtime->timers);
        }
        core_registry_destroy(&runtime->registry);
    }
    runtime_destroy_locks(runtime);
    free(runtime);
    return status;
}

static void wait_for_all_processes(lun_runtime *runtime)
{
    atomic_fetch_add(&runtime->shutdown_waiters, 1);
    while (atomic_load(&runtime->live_processes) > 0) {
        core_environments_kill_all(runtime);
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_nsec += 20 * 1000 * 1000;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&runtime->join_lock);
        if (atomic_load(&runtime->live_processes) > 0)
            pthread_cond_timedwait(&runtime->join_cond, &runtime->join_lock, &deadline);
        pthread_mutex_unlock(&runtime->join_lock);
    }
    atomic_fetch_sub(&runtime->shutdown_waiters, 1);
}

void lun_runtime_free(lun_runtime *runtime)
{
    if (runtime == NULL) return;
    if (core_current_worker != NULL) {
        lun_log(LUN_LOG_ERROR, "lun_runtime_free called from a process step: ignored");
        return;
    }
    atomic_store(&runtime->shutting_down, true);
    wait_for_all_processes(runtime);
    /* The timer thread may still be waking a process that just died: stop
     * it before the workers' queues go away. */
    core_timers_stop(&runtime->timers);
    core_scheduler_stop(runtime);
    core_environments_free_all(runtime);
    core_registry_destroy(&runtime->registry);
    runtime_destroy_locks(runtime);
    free(runtime);
    /* The workers and the timer thread freed their cached blocks when they
     * exited; with the last runtime gone, give back the rest too. */
    if (atomic_fetch_sub(&runtime_count, 1) == 1) {
        core_cache_flush_thread();
        core_cache_trim();
    }
}

unsigned lun_runtime_worker_count(const lun_runtime *runtime)
{
    return runtime ? runtime->worker_count : 0;
}

size_t lun_runtime_process_count(const lun_runtime *runtime)
{
    return runtime ? atomic_load(&((lun_runtime *)runtime)->live_processes) : 0;
}
