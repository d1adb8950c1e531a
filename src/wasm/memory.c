/*
 * Linear memories and the page allocator behind them.
 *
 * Millions of instances with a page or two each must not cost a kernel
 * mapping each (the kernel allows about 65,000 per process), so small
 * memories are chunks carved from large shared slabs: size classes of 1, 2,
 * 4, ... 256 Wasm pages, each with its own free list. A released chunk is
 * given back to the system with madvise(MADV_DONTNEED), which also makes it
 * read as zeros when it is handed out again. Memories above the largest
 * class get a mapping of their own, grown with mremap. Growing past a
 * chunk's capacity moves the memory (the interpreter reloads its base).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "runtime.h"

enum {
    CLASS_COUNT = 9,              /* 64 KiB << 0 .. 64 KiB << 8 (16 MiB) */
    SLAB_SIZE = 64 * 1024 * 1024, /* bytes mapped at once for a class */
    CLASS_DIRECT = CLASS_COUNT,   /* a mapping of its own */
    CLASS_NONE = -1,              /* no storage (zero pages) */
};

typedef struct chunk_pool {
    uint8_t **free_chunks;
    size_t free_count, free_capacity;
    uint8_t *slab; /* the slab being carved */
    size_t slab_used;
} chunk_pool;

lun_memory wasm_no_memory = {.size_class = CLASS_NONE};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static chunk_pool classes[CLASS_COUNT];

static uint64_t class_bytes(int size_class)
{
    return (uint64_t)WASM_PAGE_SIZE << size_class;
}

static void *map_region(uint64_t bytes)
{
    void *region = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return region == MAP_FAILED ? NULL : region;
}

static uint8_t *take_chunk(int size_class)
{
    chunk_pool *c = &classes[size_class];
    uint8_t *chunk = NULL;
    pthread_mutex_lock(&pool_lock);
    if (c->free_count > 0) {
        chunk = c->free_chunks[--c->free_count];
    } else {
        uint64_t bytes = class_bytes(size_class);
        if (c->slab == NULL || c->slab_used + bytes > SLAB_SIZE) {
            c->slab = map_region(SLAB_SIZE);
            c->slab_used = 0;
        }
        if (c->slab != NULL) {
            chunk = c->slab + c->slab_used;
            c->slab_used += bytes;
        }
    }
    pthread_mutex_unlock(&pool_lock);
    return chunk;
}

static void give_chunk(int size_class, uint8_t *chunk, uint64_t used_bytes)
{
    /* Zero (and give back) what was used, so that the chunk is clean again. */
    if (used_bytes > 0 && madvise(chunk, used_bytes, MADV_DONTNEED) != 0)
        memset(chunk, 0, used_bytes);
    chunk_pool *c = &classes[size_class];
    pthread_mutex_lock(&pool_lock);
    if (c->free_count == c->free_capacity) {
        size_t capacity = c->free_capacity ? c->free_capacity * 2 : 64;
        uint8_t **grown = realloc(c->free_chunks, capacity * sizeof *grown);
        if (grown == NULL) {
            /* The chunk stays unused; its pages were given back already. */
            pthread_mutex_unlock(&pool_lock);
            return;
        }
        c->free_chunks = grown;
        c->free_capacity = capacity;
    }
    c->free_chunks[c->free_count++] = chunk;
    pthread_mutex_unlock(&pool_lock);
}

static int class_for(uint64_t bytes)
{
    for (int k = 0; k < CLASS_COUNT; k++)
        if (bytes <= class_bytes(k)) return k;
    return CLASS_DIRECT;
}

/* Storage for `bytes` (> 0), zeroed. */
static bool allocate(lun_memory *memory, uint64_t bytes)
{
    int size_class = class_for(bytes);
    if (size_class == CLASS_DIRECT) {
        uint8_t *region = map_region(bytes);
        if (region == NULL) return false;
        memory->data = region;
        memory->capacity = bytes;
    } else {
        uint8_t *chunk = take_chunk(size_class);
        if (chunk == NULL) return false;
        memory->data = chunk;
        memory->capacity = class_bytes(size_class);
    }
    memory->size_class = size_class;
    return true;
}

static void release_storage(lun_memory *memory)
{
    if (memory->size_class == CLASS_DIRECT)
        munmap(memory->data, memory->capacity);
    else if (memory->size_class != CLASS_NONE)
        give_chunk(memory->size_class, memory->data, memory->size);
    memory->data = NULL;
    memory->capacity = 0;
    memory->size_class = CLASS_NONE;
}

lun_status wasm_memory_init(lun_memory *memory, uint32_t min_pages, uint32_t max_pages,
                            lun_error *error)
{
    memset(memory, 0, sizeof *memory);
    memory->size_class = CLASS_NONE;
    memory->max_pages = max_pages > WASM_MAX_PAGES ? WASM_MAX_PAGES : max_pages;
    memory->declared_max_pages = UINT32_MAX;
    if (min_pages > memory->max_pages)
        return lun_error_set(error, LUN_ERR_NO_MEMORY,
                             "memory of %u pages is over the limit of %u pages", min_pages,
                             memory->max_pages);
    uint64_t bytes = (uint64_t)min_pages * WASM_PAGE_SIZE;
    if (bytes > 0 && !allocate(memory, bytes))
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "cannot allocate %u pages of memory",
                             min_pages);
    memory->size = bytes;
    return LUN_OK;
}

void wasm_memory_release(lun_memory *memory)
{
    if (memory != NULL) release_storage(memory);
}

int32_t wasm_memory_grow(lun_memory *memory, uint32_t pages)
{
    uint64_t old_pages = memory->size / WASM_PAGE_SIZE;
    uint64_t new_pages = old_pages + pages;
    if (new_pages > memory->max_pages) return -1;
    uint64_t new_size = new_pages * WASM_PAGE_SIZE;
    if (new_size <= memory->capacity) {
        memory->size = new_size;
        return (int32_t)old_pages;
    }
    if (memory->size_class == CLASS_DIRECT) {
        void *moved = mremap(memory->data, memory->capacity, new_size, MREMAP_MAYMOVE);
        if (moved == MAP_FAILED) return -1;
        memory->data = moved;
        memory->capacity = new_size;
        memory->size = new_size;
        return (int32_t)old_pages;
    }
    lun_memory grown = *memory;
    if (!allocate(&grown, new_size)) return -1;
    if (memory->size > 0) memcpy(grown.data, memory->data, memory->size);
    release_storage(memory);
    memory->data = grown.data;
    memory->capacity = grown.capacity;
    memory->size_class = grown.size_class;
    memory->size = new_size;
    return (int32_t)old_pages;
}
