/*
 * Environments: a process table (id -> process, sharded locks so that
 * spawns on many workers do not contend) and a process id counter, kept in
 * the runtime's set of environments.
 */
#include "core_internal.h"

#include <stdlib.h>

static core_table_shard *shard_of(lun_environment *environment, uint64_t id)
{
    return &environment->shards[id % CORE_TABLE_SHARDS];
}

/* Ids are given out in sequence, so the keys (id / shards) of processes
 * alive at the same time are mostly consecutive. Consecutive keys go to
 * consecutive buckets, so that spawns and deaths close in time touch the
 * same few cache lines of bucket heads instead of a random line each; each
 * run of bucket_count keys is offset by a hash, so that keys far apart that
 * share their low bits do not pile up in one chain. */
static size_t bucket_of(const core_table_shard *shard, uint64_t id)
{
    uint64_t key = id / CORE_TABLE_SHARDS;
    uint64_t run = key >> __builtin_ctzll((unsigned long long)shard->bucket_count);
    return (size_t)(key + ((run * 0x9E3779B97F4A7C15ull) >> 32)) & (shard->bucket_count - 1);
}

lun_status lun_environment_new(lun_runtime *runtime, uint64_t id, lun_environment **out,
                               lun_error *error)
{
    if (out) *out = NULL;
    if (runtime == NULL || out == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null runtime or output");
    lun_environment *environment = calloc(1, sizeof *environment);
    if (environment == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "environment");
    atomic_init(&environment->references, 1);
    atomic_init(&environment->next_process_id, 1);
    environment->id = id;
    environment->runtime = runtime;
    for (size_t i = 0; i < CORE_TABLE_SHARDS; i++) {
        pthread_mutex_init(&environment->shards[i].lock, NULL);
        atomic_init(&environment->shards[i].count, 0);
    }
    pthread_mutex_lock(&runtime->environments_lock);
    for (lun_environment *other = runtime->environments; other; other = other->set_next) {
        if (other->id == id && atomic_load(&other->references) > 0) {
            pthread_mutex_unlock(&runtime->environments_lock);
            for (size_t i = 0; i < CORE_TABLE_SHARDS; i++)
                pthread_mutex_destroy(&environment->shards[i].lock);
            free(environment);
            return lun_error_set(error, LUN_ERR_STATE, "environment %llu exists",
                                 (unsigned long long)id);
        }
    }
    environment->set_next = runtime->environments;
    runtime->environments = environment;
    pthread_mutex_unlock(&runtime->environments_lock);
    core_metric_add(CORE_ENVIRONMENT_COUNT, 1);
    *out = environment;
    return LUN_OK;
}

lun_environment *lun_environment_find(lun_runtime *runtime, uint64_t id)
{
    if (runtime == NULL) return NULL;
    lun_environment *found = NULL;
    pthread_mutex_lock(&runtime->environments_lock);
    for (lun_environment *environment = runtime->environments; environment;
         environment = environment->set_next) {
        if (environment->id != id) continue;
        /* Take a reference only if the environment is not already on its way out. */
        uint32_t references = atomic_load(&environment->references);
        while (references > 0 && !atomic_compare_exchange_weak(&environment->references,
                                                               &references, references + 1)) {
        }
        if (references > 0) {
            found = environment;
            break;
        }
    }
    pthread_mutex_unlock(&runtime->environments_lock);
    return found;
}

lun_environment *lun_environment_retain(lun_environment *environment)
{
    if (environment != NULL)
        atomic_fetch_add_explicit(&environment->references, 1, memory_order_relaxed);
    return environment;
}

static void environment_destroy(lun_environment *environment)
{
    for (size_t i = 0; i < CORE_TABLE_SHARDS; i++) {
        pthread_mutex_destroy(&environment->shards[i].lock);
        free(environment->shards[i].buckets);
    }
    free(environment);
    core_metric_add(CORE_ENVIRONMENT_COUNT, -1);
}

void lun_environment_release(lun_environment *environment)
{
    if (environment == NULL) return;
    if (atomic_fetch_sub_explicit(&environment->references, 1, memory_order_acq_rel) != 1) return;
    lun_runtime *runtime = environment->runtime;
    pthread_mutex_lock(&runtime->environments_lock);
    for (lun_environment **link = &runtime->environments; *link; link = &(*link)->set_next) {
        if (*link == environment) {
            *link = environment->set_next;
            break;
        }
    }
    pthread_mutex_unlock(&runtime->environments_lock);
    environment_destroy(environment);
}

void core_environments_free_all(lun_runtime *runtime)
{
    pthread_mutex_lock(&runtime->environments_lock);
    lun_environment *environment = runtime->environments;
    runtime->environments = NULL;
    pthread_mutex_unlock(&runtime->environments_lock);
    while (environment != NULL) {
        lun_environment *next = environment->set_next;
        environment_destroy(environment);
        environment = next;
    }
}

uint64_t lun_environment_id(const lun_environment *environment)
{
    return environment ? environment->id : 0;
}

lun_runtime *lun_environment_runtime(const lun_environment *environment)
{
    return environment ? environment->runtime : NULL;
}

uint64_t lun_environment_next_process_id(lun_environment *environment)
{
    if (environment == NULL) return 0;
    return atomic_fetch_add_explicit(&environment->next_process_id, 1, memory_order_relaxed);
}

static lun_status grow_shard(core_table_shard *shard)
{
    size_t count = shard->bucket_count ? shard->bucket_count * 2 : 16;
    lun_process **buckets = calloc(count, sizeof *buckets);
    if (buckets == NULL) return LUN_ERR_NO_MEMORY;
    core_table_shard resized = {.buckets = buckets, .bucket_count = count};
    for (size_t i = 0; i < shard->bucket_count; i++) {
        lun_process *process = shard->buckets[i];
        while (process != NULL) {
            lun_process *next = process->table_next;
            size_t at = bucket_of(&resized, process->id);
            process->table_next = buckets[at];
            buckets[at] = process;
            process = next;
        }
    }
    free(shard->buckets);
    shard->buckets = buckets;
    shard->bucket_count = count;
    return LUN_OK;
}

lun_status core_environment_add(lun_environment *environment, lun_process *process)
{
    core_table_shard *shard = shard_of(environment, process->id);
    pthread_mutex_lock(&shard->lock);
    size_t count = atomic_load_explicit(&shard->count, memory_order_relaxed);
    if (count + 1 > shard->bucket_count && grow_shard(shard) != LUN_OK) {
        pthread_mutex_unlock(&shard->lock);
        return LUN_ERR_NO_MEMORY;
    }
    size_t at = bucket_of(shard, process->id);
    process->table_next = shard->buckets[at];
    shard->buckets[at] = process;
    atomic_store_explicit(&shard->count, count + 1, memory_order_relaxed);
    pthread_mutex_unlock(&shard->lock);
    core_metric_add(CORE_ENVIRONMENT_PROCESS_COUNT, 1);
    return LUN_OK;
}

void core_environment_remove(lun_environment *environment, lun_process *process)
{
    core_table_shard *shard = shard_of(environment, process->id);
    pthread_mutex_lock(&shard->lock);
    if (shard->bucket_count > 0) {
        for (lun_process **link = &shard->buckets[bucket_of(shard, process->id)]; *link;
             link = &(*link)->table_next) {
            if (*link == process) {
                *link = process->table_next;
                atomic_store_explicit(&shard->count,
                                      atomic_load_explicit(&shard->count, memory_order_relaxed) - 1,
                                      memory_order_relaxed);
                core_metric_add(CORE_ENVIRONMENT_PROCESS_COUNT, -1);
                break;
            }
        }
    }
    pthread_mutex_unlock(&shard->lock);
}

lun_process *lun_environment_get_process(lun_environment *environment, uint64_t process_id)
{
    if (environment == NULL) return NULL;
    core_table_shard *shard = shard_of(environment, process_id);
    lun_process *found = NULL;
    pthread_mutex_lock(&shard->lock);
    if (shard->bucket_count > 0) {
        for (lun_process *process = shard->buckets[bucket_of(shard, process_id)]; process;
             process = process->table_next) {
            if (process->id == process_id) {
                found = lun_process_retain(process);
                break;
            }
        }
    }
    pthread_mutex_unlock(&shard->lock);
    return found;
}

size_t lun_environment_process_count(const lun_environment *environment)
{
    if (environment == NULL) return 0;
    size_t count = 0;
    for (size_t i = 0; i < CORE_TABLE_SHARDS; i++)
        count += atomic_load_explicit(&environment->shards[i].count, memory_order_relaxed);
    return count;
}

lun_status lun_environment_send(lun_environment *environment, uint64_t process_id,
                                const lun_signal *signal, lun_error *error)
{
    if (environment == NULL || signal == NULL) {
        if (signal != NULL && signal->kind == LUN_SIGNAL_MESSAGE) lun_message_free(signal->message);
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null environment or signal");
    }
    if (signal->kind == LUN_SIGNAL_MESSAGE && signal->message == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null message");
    lun_process *process = lun_environment_get_process(environment, process_id);
    if (process == NULL) {
        if (signal->kind == LUN_SIGNAL_MESSAGE) lun_message_free(signal->message);
        return LUN_OK;
    }
    lun_status status = lun_process_send(process, signal, error);
    lun_process_release(process);
    return status;
}

void core_environments_kill_all(lun_runtime *runtime)
{
    pthread_mutex_lock(&runtime->environments_lock);
    for (lun_environment *environment = runtime->environments; environment;
         environment = environment->set_next) {
        for (size_t i = 0; i < CORE_TABLE_SHARDS; i++) {
            core_table_shard *shard = &environment->shards[i];
            pthread_mutex_lock(&shard->lock);
            for (size_t b = 0; b < shard->bucket_count; b++) {
                for (lun_process *process = shard->buckets[b]; process;
                     process = process->table_next) {
                    /* Pushing here is safe: the process is in the table, so it
                     * holds its own reference, and a push never takes a lock. */
                    lun_signal kill = {.kind = LUN_SIGNAL_KILL};
                    lun_process_send(process, &kill, NULL);
                }
            }
            pthread_mutex_unlock(&shard->lock);
        }
    }
    pthread_mutex_unlock(&runtime->environments_lock);
}
