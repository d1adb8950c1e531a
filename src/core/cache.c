/*
 * Per-thread caches of the core's small fixed-size blocks (small messages,
 * process structs, signals), so that the hot paths recycle warm memory
 * instead of going through malloc, and so that a block freed on another
 * thread than the one that allocated it (a message received on another
 * worker) costs no lock of the allocator.
 *
 * Each thread keeps up to two batches per class. When it has two full
 * batches and frees one more block, one batch moves to the class's depot (a mutex-protected stack
 * of batches, one lock per CORE_CACHE_BATCH blocks); a thread whose list is empty takes a whole
 * batch from the depot before it falls back to malloc. That is the return path between a thread
 * that only allocates (senders) and one that only frees (the receiver). The depot is bounded:
 * beyond DEPOT_LIMIT batches, blocks go back to free(). A thread's list goes to the depot when the
 * thread exits, and the depot is emptied when the last runtime is freed.
 *
 * Under AddressSanitizer a cached block is poisoned (all but its links), so
 * that a use after lun_message_free is still reported.
 */
#include "core_internal.h"

#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define CORE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORE_ASAN 1
#endif
#endif
#ifdef CORE_ASAN
#include <sanitizer/asan_interface.h>
#define poison(block, size)   ASAN_POISON_MEMORY_REGION(block, size)
#define unpoison(block, size) ASAN_UNPOISON_MEMORY_REGION(block, size)
#else
#define poison(block, size)   ((void)(block), (void)(size))
#define unpoison(block, size) ((void)(block), (void)(size))
#endif

enum { CORE_CACHE_BATCH = 64, DEPOT_LIMIT = 64 };

/* A free block: its first words link it into a list, and the first block of
 * a batch in the depot links the batch. */
typedef struct cached_block {
    struct cached_block *next;
    struct cached_block *next_batch;
} cached_block;

typedef struct cache_depot {
    pthread_mutex_t lock;
    cached_block *batches;
    size_t batch_count;
} cache_depot;

/* Two lists per class (Bonwick's magazines): frees go to `current`; a full
 * `current` becomes `full`, and a `full` already there goes to the depot.
 * So a thread moves a whole batch at a time and never walks a list. */
typedef struct thread_cache {
    cached_block *current[CORE_CACHE_CLASSES];
    unsigned current_count[CORE_CACHE_CLASSES];
    cached_block *full[CORE_CACHE_CLASSES]; /* CORE_CACHE_BATCH blocks, or NULL */
    bool registered;
} thread_cache;

static const size_t class_size[CORE_CACHE_CLASSES] = {
    [CORE_CACHE_MESSAGE] = sizeof(lun_message) + CORE_MESSAGE_SMALL_INLINE,
    [CORE_CACHE_PROCESS] = sizeof(lun_process),
    [CORE_CACHE_SIGNAL] = sizeof(core_signal),
};

static cache_depot depots[CORE_CACHE_CLASSES] = {
    {.lock = PTHREAD_MUTEX_INITIALIZER},
    {.lock = PTHREAD_MUTEX_INITIALIZER},
    {.lock = PTHREAD_MUTEX_INITIALIZER},
};

static _Thread_local thread_cache local;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

static void flush_at_exit(void *unused)
{
    (void)unused;
    core_cache_flush_thread();
}

static void create_exit_key(void)
{
    pthread_key_create(&exit_key, flush_at_exit);
}

/* Makes sure this thread's list is handed back when the thread exits. */
static void register_thread(void)
{
    pthread_once(&exit_key_once, create_exit_key);
    pthread_setspecific(exit_key, &local);
    local.registered = true;
}

static void free_list(core_cache_class class, cached_block *block)
{
    while (block != NULL) {
        unpoison(block, class_size[class]);
        cached_block *next = block->next;
        free(block);
        block = next;
    }
}

/* Gives a batch (a list of blocks) to the depot, or back to free() when the
 * depot is full. */
static void depot_put(core_cache_class class, cached_block *batch)
{
    cache_depot *depot = &depots[class];
    pthread_mutex_lock(&depot->lock);
    if (depot->batch_count < DEPOT_LIMIT) {
        batch->next_batch = depot->batches;
        depot->batches = batch;
        depot->batch_count++;
        batch = NULL;
    }
    pthread_mutex_unlock(&depot->lock);
    free_list(class, batch);
}

static cached_block *depot_take(core_cache_class class)
{
    cache_depot *depot = &depots[class];
    pthread_mutex_lock(&depot->lock);
    cached_block *batch = depot->batches;
    if (batch != NULL) {
        depot->batches = batch->next_batch;
        depot->batch_count--;
    }
    pthread_mutex_unlock(&depot->lock);
    return batch;
}

void *core_cache_alloc(core_cache_class class)
{
    cached_block *block = local.current[class];
    if (block == NULL) {
        /* A thread that only allocates still holds blocks at its exit. */
        if (__builtin_expect(!local.registered, 0)) register_thread();
        block = local.full[class];
        local.full[class] = NULL;
        if (block == NULL) block = depot_take(class);
        if (block == NULL) return malloc(class_size[class]);
        local.current_count[class] = CORE_CACHE_BATCH;
    }
    unpoison(block, class_size[class]);
    local.current[class] = block->next;
    local.current_count[class]--;
    /* Blocks from the depot were last written on another core. */
    if (block->next != NULL) __builtin_prefetch(block->next, 1);
    return block;
}

void core_cache_free(core_cache_class class, void *memory)
{
    if (memory == NULL) return;
    if (__builtin_expect(!local.registered, 0)) register_thread();
    if (local.current_count[class] == CORE_CACHE_BATCH) {
        if (local.full[class] != NULL) depot_put(class, local.full[class]);
        local.full[class] = local.current[class];
        local.current[class] = NULL;
        local.current_count[class] = 0;
    }
    cached_block *block = memory;
    block->next = local.current[class];
    /* The links stay readable: LeakSanitizer follows them. */
    poison((char *)block + sizeof *block, class_size[class] - sizeof *block);
    local.current[class] = block;
    local.current_count[class]++;
}

void core_cache_flush_thread(void)
{
    for (int class = 0; class < CORE_CACHE_CLASSES; class ++) {
        free_list((core_cache_class) class, local.current[class]);
        free_list((core_cache_class) class, local.full[class]);
        local.current[class] = local.full[class] = NULL;
        local.current_count[class] = 0;
    }
}

void core_cache_trim(void)
{
    for (int class = 0; class < CORE_CACHE_CLASSES; class ++) {
        cache_depot *depot = &depots[class];
        pthread_mutex_lock(&depot->lock);
        cached_block *batches = depot->batches;
        depot->batches = NULL;
        depot->batch_count = 0;
        pthread_mutex_unlock(&depot->lock);
        while (batches != NULL) {
            cached_block *next = batches->next_batch;
            free_list((core_cache_class) class, batches);
            batches = next;
        }
    }
}
