/*
 * Linear memories and the page allocator behind them.
 *
 * Millions of instances with a page or two each must not cost a kernel
 * mapping each (the kernel allows about 65,000 per process), so small
 * memories are chunks carved from large shared slabs: size classes of 1, 2,
 * 4, ... 256 Wasm pages, each with its own free list. Memories above the
 * largest class get a mapping of their own, grown with mremap. Growing past
 * a chunk's capacity moves the memory (the interpreter reloads its base).
 *
 * Every chunk on a free list reads as zeros. To make a released chunk zero
 * again cheaply, each memory keeps the window of bytes that may have been
 * written since it was handed out (written_low and written_span, in 4 KiB
 * steps): data segments, guest stores and host writes widen it (the
 * interpreter's store check is the window check, so a store inside it costs
 * nothing extra). A guest typically writes two or three 4 KiB pages of its
 * 64 KiB: its stack top, its data and a little heap.
 *
 * A release clears the window with memset and keeps the chunk resident
 * ("warm"): the next instance writes its data segments without a page
 * fault, and no madvise runs, whose TLB shootdown interrupts every other
 * core (about 15 us, against 0.1 us to clear three warm pages). Warm chunks
 * are capped in total resident bytes (1/16 of the machine's memory, at most
 * 1 GiB); past the cap, or when the window is large, the chunk is queued,
 * and every 64 queued chunks (or fewer holding 64 MiB) go back to the
 * system with madvise(MADV_DONTNEED), one call (one shootdown) per run of
 * neighbouring chunks.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime.h"

enum {
    CLASS_COUNT = 9,                /* 64 KiB << 0 .. 64 KiB << 8 (16 MiB) */
    SLAB_SIZE = 64 * 1024 * 1024,   /* bytes mapped at once for a class */
    WRITE_GRAIN = 4096,             /* the written window's step */
    WARM_CLEAR_LIMIT = 256 * 1024,  /* the largest window a release clears */
    WARM_SHARE_OF_RAM = 16,         /* free chunks keep at most 1/16 of the machine's memory */
    PURGE_BATCH = 64,               /* cold releases given back at once, */
    PURGE_BYTES = 64 * 1024 * 1024, /* or as soon as they hold this much */
    CLASS_DIRECT = CLASS_COUNT,     /* a mapping of its own */
    CLASS_NONE = -1,                /* no storage (zero pages) */
};

/* A byte range [low, high) of a chunk; empty when low == high. */
typedef struct byte_range {
    uint64_t low, high;
} byte_range;

/* A free chunk, all zero; `resident` holds every page that may be resident. */
typedef struct free_chunk {
    uint8_t *data;
    byte_range resident;
} free_chunk;

/* A released chunk on its way back to a free list. */
typedef struct dirty_chunk {
    uint8_t *data;
    int size_class;
    byte_range written;  /* to clear */
    byte_range resident; /* resident afterwards (empty once given back) */
} dirty_chunk;

typedef struct chunk_pool {
    free_chunk *free_chunks;
    size_t free_count, free_capacity;
    uint8_t *slab; /* the slab being carved */
    size_t slab_used;
} chunk_pool;

lun_memory wasm_no_memory = {.size_class = CLASS_NONE,
                             .written_low = WASM_WINDOW_EMPTY_LOW,
                             .written_span = WASM_WINDOW_EMPTY_SPAN};

/* All guarded by pool_lock. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static chunk_pool classes[CLASS_COUNT];
static uint64_t warm_bytes_total;
static dirty_chunk purge_queue[PURGE_BATCH];
static size_t purge_count;
static uint64_t purge_bytes; /* resident in the queued chunks */

static uint64_t class_bytes(int size_class)
{
    return (uint64_t)WASM_PAGE_SIZE << size_class;
}

static uint64_t range_bytes(byte_range range)
{
    return range.high - range.low;
}

/* The smallest range holding both. */
static byte_range range_hull(byte_range a, byte_range b)
{
    if (a.low == a.high) return b;
    if (b.low == b.high) return a;
    return (byte_range){a.low < b.low ? a.low : b.low, a.high > b.high ? a.high : b.high};
}

static byte_range written_range(const lun_memory *memory)
{
    if (memory->written_low == WASM_WINDOW_EMPTY_LOW) return (byte_range){0, 0};
    return (byte_range){memory->written_low, memory->written_low + memory->written_span};
}

static void set_written_range(lun_memory *memory, byte_range range)
{
    bool empty = range.low == range.high;
    memory->written_low = empty ? WASM_WINDOW_EMPTY_LOW : range.low;
    memory->written_span = empty ? WASM_WINDOW_EMPTY_SPAN : range.high - range.low;
}

static void *map_region(uint64_t bytes)
{
    void *region = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return region == MAP_FAILED ? NULL : region;
}

/* ---- free lists ------------------------------------------------------------ */

static uint8_t *take_chunk(int size_class, byte_range *resident)
{
    chunk_pool *c = &classes[size_class];
    uint8_t *chunk = NULL;
    *resident = (byte_range){0, 0};
    pthread_mutex_lock(&pool_lock);
    if (c->free_count > 0) {
        free_chunk *taken = &c->free_chunks[--c->free_count];
        chunk = taken->data;
        *resident = taken->resident;
        warm_bytes_total -= range_bytes(taken->resident);
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

/* The most resident bytes free chunks keep: 1/16 of the machine's memory,
 * at most 1 GiB. Enough for the chunks of a burst of short processes to be
 * reused warm (1 GiB against 256 MiB made a tree of 1,000,000 processes
 * build and fold 40% faster); what exceeds it goes back to the system. */
static uint64_t warm_bytes_limit(void)
{
    static uint64_t limit;
    if (limit == 0) {
        long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
        uint64_t share = pages > 0 && page_size > 0
                             ? (uint64_t)pages * (uint64_t)page_size / WARM_SHARE_OF_RAM
                             : 0;
        uint64_t most = UINT64_C(1) << 30;
        limit = share > 0 && share < most ? share : most;
    }
    return limit;
}

static bool push_free(chunk_pool *c, uint8_t *chunk, byte_range resident)
{
    if (c->free_count == c->free_capacity) {
        size_t capacity = c->free_capacity ? c->free_capacity * 2 : 64;
        free_chunk *grown = realloc(c->free_chunks, capacity * sizeof *grown);
        if (grown == NULL) return false;
        c->free_chunks = grown;
        c->free_capacity = capacity;
    }
    c->free_chunks[c->free_count++] = (free_chunk){chunk, resident};
    return true;
}

/* Puts cleared chunks on their lists; one without room there stays unused. */
static void push_clean(const dirty_chunk *chunks, size_t count)
{
    pthread_mutex_lock(&pool_lock);
    for (size_t i = 0; i < count; i++) {
        const dirty_chunk *d = &chunks[i];
        if (!push_free(&classes[d->size_class], d->data, d->resident))
            warm_bytes_total -= range_bytes(d->resident);
    }
    pthread_mutex_unlock(&pool_lock);
}

/* ---- giving pages back ------------------------------------------------------ */

static int compare_addresses(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const dirty_chunk *)a)->data;
    uintptr_t y = (uintptr_t)((const dirty_chunk *)b)->data;
    return (x > y) - (x < y);
}

/* Gives a batch's pages back to the system with one madvise per run of
 * chunks that lie next to each other in their slab (the pages between their
 * resident parts are not there, so zapping them costs nothing). */
static void purge(dirty_chunk *chunks, size_t count)
{
    qsort(chunks, count, sizeof *chunks, compare_addresses);
    for (size_t first = 0, last; first < count; first = last + 1) {
        last = first;
        while (last + 1 < count &&
               chunks[last].data + class_bytes(chunks[last].size_class) == chunks[last + 1].data)
            last++;
        uint8_t *start = chunks[first].data + chunks[first].resident.low;
        uint8_t *end = chunks[last].data + chunks[last].resident.high;
        bool given_back = madvise(start, (size_t)(end - start), MADV_DONTNEED) == 0;
        for (size_t i = first; i <= last; i++) {
            dirty_chunk *d = &chunks[i];
            if (!given_back) memset(d->data + d->written.low, 0, range_bytes(d->written));
            d->resident = (byte_range){0, 0};
        }
    }
    push_clean(chunks, count);
}

/* Queues a chunk whose pages go back to the system with the next batch. */
static void queue_purge(const dirty_chunk *released)
{
    dirty_chunk batch[PURGE_BATCH];
    size_t batch_count = 0;
    pthread_mutex_lock(&pool_lock);
    purge_queue[purge_count++] = *released;
    purge_bytes += range_bytes(released->resident);
    if (purge_count == PURGE_BATCH || purge_bytes >= PURGE_BYTES) {
        batch_count = purge_count;
        memcpy(batch, purge_queue, batch_count * sizeof batch[0]);
        purge_count = 0;
        purge_bytes = 0;
    }
    pthread_mutex_unlock(&pool_lock);
    if (batch_count > 0) purge(batch, batch_count);
}

/* Puts a cleared chunk on its free list if its resident bytes fit under
 * the warm cap; false when they do not (nothing is kept then). */
static bool keep_warm(const dirty_chunk *chunk)
{
    uint64_t warm = range_bytes(chunk->resident);
    pthread_mutex_lock(&pool_lock);
    bool kept = warm_bytes_total + warm <= warm_bytes_limit();
    if (kept) {
        warm_bytes_total += warm;
        /* Without room on the list the chunk stays unused, and clean. */
        if (!push_free(&classes[chunk->size_class], chunk->data, chunk->resident))
            warm_bytes_total -= warm;
    }
    pthread_mutex_unlock(&pool_lock);
    return kept;
}

/* Makes a released chunk zero again and puts it on its free list: cleared
 * in place and kept while it stays under the warm cap (one lock), else
 * given back to the system in a batch. */
static void give_chunk(const lun_memory *memory)
{
    byte_range written = written_range(memory);
    byte_range resident = {memory->resident_low, memory->resident_high};
    dirty_chunk released = {memory->data, memory->size_class, written,
                            range_hull(resident, written)};
    if (range_bytes(written) <= WARM_CLEAR_LIMIT) {
        memset(memory->data + written.low, 0, range_bytes(written));
        if (keep_warm(&released)) return;
    }
    queue_purge(&released);
}

/* ---- memories ----------------------------------------------------------------- */

static int class_for(uint64_t bytes)
{
    for (int k = 0; k < CLASS_COUNT; k++)
        if (bytes <= class_bytes(k)) return k;
    return CLASS_DIRECT;
}

/* Storage for `bytes` (> 0), zeroed, with nothing written yet. */
static bool allocate(lun_memory *memory, uint64_t bytes)
{
    int size_class = class_for(bytes);
    byte_range resident = {0, 0};
    if (size_class == CLASS_DIRECT) {
        uint8_t *region = map_region(bytes);
        if (region == NULL) return false;
        memory->data = region;
        memory->capacity = bytes;
    } else {
        uint8_t *chunk = take_chunk(size_class, &resident);
        if (chunk == NULL) return false;
        memory->data = chunk;
        memory->capacity = class_bytes(size_class);
    }
    memory->size_class = size_class;
    set_written_range(memory, (byte_range){0, 0});
    memory->resident_low = resident.low;
    memory->resident_high = resident.high;
    return true;
}

static void release_storage(lun_memory *memory)
{
    if (memory->size_class == CLASS_DIRECT)
        munmap(memory->data, memory->capacity);
    else if (memory->size_class != CLASS_NONE)
        give_chunk(memory);
    memory->data = NULL;
    memory->capacity = 0;
    memory->size_class = CLASS_NONE;
    set_written_range(memory, (byte_range){0, 0});
}

lun_status wasm_memory_init(lun_memory *memory, uint32_t min_pages, uint32_t max_pages,
                            lun_error *error)
{
    memset(memory, 0, sizeof *memory);
    memory->size_class = CLASS_NONE;
    set_written_range(memory, (byte_range){0, 0});
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

void wasm_memory_note_written(lun_memory *memory, uint64_t offset, uint64_t length)
{
    if (length == 0) return;
    uint64_t low = offset & ~(uint64_t)(WRITE_GRAIN - 1);
    uint64_t high = (offset + length + WRITE_GRAIN - 1) & ~(uint64_t)(WRITE_GRAIN - 1);
    if (high > memory->size) high = memory->size; /* sizes are whole 64 KiB pages */
    set_written_range(memory, range_hull(written_range(memory), (byte_range){low, high}));
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
    /* Outside the window both chunks are zero already. */
    byte_range written = written_range(memory);
    if (range_bytes(written) > 0) /* a memory of no pages has no data pointer */
        memcpy(grown.data + written.low, memory->data + written.low, range_bytes(written));
    set_written_range(&grown, written);
    release_storage(memory);
    *memory = grown;
    memory->size = new_size;
    return (int32_t)old_pages;
}

bool wasm_memory_writes_recorded(const lun_memory *memory)
{
    byte_range written = written_range(memory);
    for (uint64_t i = 0; i < memory->size; i++)
        if (memory->data[i] != 0 && (i < written.low || i >= written.high)) return false;
    return true;
}
