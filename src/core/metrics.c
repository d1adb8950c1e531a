/*
 * Metrics of the process core, under the names lunatic's describe_metrics
 * uses. Values live in per-thread blocks (see core_internal.h) and are
 * summed when read, so counting stays cheap on hot paths.
 */
#include "core_internal.h"

#include <stdlib.h>
#include <string.h>

_Thread_local core_metric_block *core_metric_local;

static pthread_mutex_t blocks_lock = PTHREAD_MUTEX_INITIALIZER;
static core_metric_block *_Atomic blocks;
static pthread_key_t release_key;
static pthread_once_t release_key_once = PTHREAD_ONCE_INIT;

static void release_block(void *block)
{
    pthread_mutex_lock(&blocks_lock);
    ((core_metric_block *)block)->in_use = false;
    pthread_mutex_unlock(&blocks_lock);
}

static void create_release_key(void)
{
    pthread_key_create(&release_key, release_block);
}

core_metric_block *core_metric_attach(void)
{
    pthread_once(&release_key_once, create_release_key);
    pthread_mutex_lock(&blocks_lock);
    core_metric_block *block = atomic_load(&blocks);
    while (block != NULL && block->in_use)
        block = block->next;
    if (block == NULL) {
        block = aligned_alloc(CORE_CACHE_LINE, sizeof *block);
        if (block != NULL) {
            memset(block, 0, sizeof *block);
            block->next = atomic_load(&blocks);
            atomic_store(&blocks, block); /* readers walk the list without the lock */
        }
    }
    if (block != NULL) block->in_use = true;
    pthread_mutex_unlock(&blocks_lock);
    if (block != NULL) pthread_setspecific(release_key, block);
    core_metric_local = block;
    return block;
}

static int64_t metric_sum(core_metric metric)
{
    int64_t sum = 0;
    for (core_metric_block *block = atomic_load(&blocks); block; block = block->next)
        sum += atomic_load_explicit(&block->values[metric], memory_order_relaxed);
    return sum;
}

typedef struct metric_name {
    const char *name;
    core_metric metric;
} metric_name;

static const metric_name counters[] = {
    {"lunatic.process.signals.send", CORE_SIGNALS_SEND},
    {"lunatic.process.signals.received", CORE_SIGNALS_RECEIVED},
    {"lunatic.process.messages.send", CORE_MESSAGES_SEND},
    {"lunatic.process.messages.data.count", CORE_MESSAGES_DATA_COUNT},
    {"lunatic.process.messages.link_died.count", CORE_MESSAGES_LINK_DIED_COUNT},
};

static const metric_name gauges[] = {
    {"lunatic.process.messages.outstanding", CORE_MESSAGES_OUTSTANDING},
    {"lunatic.process.links.alive", CORE_LINKS_ALIVE},
    {"lunatic.process.environment.process.count", CORE_ENVIRONMENT_PROCESS_COUNT},
    {"lunatic.process.environment.count", CORE_ENVIRONMENT_COUNT},
};

/* Histograms: each sample is one data message, so their count is the data
 * message counter; `metric` is the sum. */
static const metric_name histograms[] = {
    {"lunatic.process.messages.data.resources.count", CORE_DATA_RESOURCES_SUM},
    {"lunatic.process.messages.data.size", CORE_DATA_SIZE_SUM},
};

static const metric_name *find(const metric_name *table, size_t count, const char *name)
{
    if (name == NULL) return NULL;
    for (size_t i = 0; i < count; i++)
        if (strcmp(table[i].name, name) == 0) return &table[i];
    return NULL;
}

uint64_t lun_metrics_counter(const char *name)
{
    const metric_name *found = find(counters, sizeof counters / sizeof *counters, name);
    return found ? (uint64_t)metric_sum(found->metric) : 0;
}

int64_t lun_metrics_gauge(const char *name)
{
    const metric_name *found = find(gauges, sizeof gauges / sizeof *gauges, name);
    return found ? metric_sum(found->metric) : 0;
}

bool lun_metrics_histogram(const char *name, uint64_t *count, uint64_t *sum)
{
    const metric_name *found = find(histograms, sizeof histograms / sizeof *histograms, name);
    if (found == NULL) return false;
    if (count) *count = (uint64_t)metric_sum(CORE_MESSAGES_DATA_COUNT);
    if (sum) *sum = (uint64_t)metric_sum(found->metric);
    return true;
}
