/*
 * The engine's run-time objects (functions, tables, memories, globals,
 * instances) and the entry points between instance.c, interp.c and memory.c.
 */
#ifndef LUNATIC_WASM_RUNTIME_H
#define LUNATIC_WASM_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "code.h"
#include "module.h"

typedef enum wasm_func_kind { WASM_FUNC_WASM, WASM_FUNC_HOST } wasm_func_kind;

struct lun_func {
    const wasm_functype *type;
    lun_instance *instance; /* WASM_FUNC_WASM: the instance that defines it */
    const wasm_code *code;  /* WASM_FUNC_WASM */
    lun_host_fn host;       /* WASM_FUNC_HOST */
    void *data;
    wasm_func_kind kind;
};

struct lun_table {
    lun_valtype element_type;
    uint32_t size;
    uint32_t max; /* UINT32_MAX: none */
    void **elements;
    void **inline_elements; /* the first elements, in an instance's block; or NULL */
};

/* The largest table this runtime builds, whatever the declared limits say. */
enum { WASM_TABLE_SIZE_LIMIT = 10000000 };
/* An instance keeps the elements of its own tables of at most this many
 * (initially) in its block. */
enum { WASM_INLINE_TABLE_ELEMENTS = 256 };

struct lun_memory {
    uint8_t *data;
    uint64_t size;               /* bytes */
    uint32_t max_pages;          /* the declared maximum cut by the instance's max_memory_bytes */
    uint32_t declared_max_pages; /* UINT32_MAX: none (for import matching) */
    uint64_t capacity;           /* bytes reserved at data */
    /* memory.c's bookkeeping: */
    int size_class;
    /* The written window: the bytes that may be non-zero, [written_low,
     * written_low + written_span), in 4 KiB steps; in the form the store
     * check reads (see interp.c), so an empty one is WASM_WINDOW_EMPTY. */
    uint64_t written_low, written_span;
    uint64_t resident_low, resident_high; /* chunk bytes resident (zero) when taken */
};

enum { WASM_PAGE_SIZE = 65536, WASM_MAX_PAGES = 65536 };

struct lun_global {
    uint64_t value; /* first, so that a pointer to the global is a pointer to its slot */
    lun_valtype type;
    bool is_mutable;
};

/* One Wasm call in progress. */
typedef struct wasm_frame {
    const uint64_t *return_pc;
    size_t return_fp; /* the caller's frame, as a slot offset in the value stack */
    lun_instance *return_instance;
} wasm_frame;

/* A guest call made by a host function (lun_host_call_guest in wasm.h). */
typedef struct wasm_barrier {
    const uint64_t *host_pc; /* the host call, run again when the guest call ends */
    size_t host_fp;
    lun_instance *host_instance;
    size_t frame_depth;    /* frames below the guest call */
    size_t results_offset; /* value-stack slot of the guest call's arguments and results */
    uint32_t result_count;
} wasm_barrier;

enum { WASM_GUEST_RESULTS_MAX = 16 };

/* The state of guest calls from host functions; few instances need it. */
typedef struct wasm_guest_calls {
    wasm_barrier *barriers;
    size_t barrier_count, barrier_capacity;
    uint64_t barrier_code[4];
    int outcome; /* lun_guest_outcome of the last guest call, until its host call ends */
    uint64_t results[WASM_GUEST_RESULTS_MAX];
    char trap_message[256];
} wasm_guest_calls;

typedef enum wasm_exec_state {
    WASM_EXEC_IDLE,
    WASM_EXEC_READY, /* started or paused: lun_instance_run continues it */
    WASM_EXEC_FINISHED,
    WASM_EXEC_TRAPPED,
} wasm_exec_state;

struct lun_instance {
    lun_module *module;
    lun_instance_config config;

    lun_func **functions;           /* the function index space; own ones made on first use */
    lun_func *function_objects;     /* module->function_object_count, in the instance's block */
    uint32_t heap_function_objects; /* the others, allocated one by one (rare) */
    lun_table **tables;
    lun_table *own_tables;
    lun_memory *memory;      /* memory 0, own or imported; NULL when none */
    lun_memory *exec_memory; /* memory, or an empty memory when none (never NULL) */
    lun_memory *own_memory;
    uint64_t **globals; /* the value slot of every global of the index space */
    lun_global *own_globals;
    bool *element_dropped;
    bool *data_dropped;

    /* Execution: all of it lives here so that a run can pause and resume. */
    wasm_exec_state state;
    uint64_t *stack;
    size_t stack_capacity; /* slots */
    wasm_frame *frames;
    size_t frame_capacity;
    /* The first stack and frame array, in the instance's block; growing
     * past them moves to the heap. */
    uint64_t *inline_stack;
    wasm_frame *inline_frames;
    size_t frame_count;
    const uint64_t *pc;
    size_t fp;                  /* slot offset */
    lun_instance *current;      /* whose code runs at pc */
    const lun_func *entry_func; /* what lun_instance_start called */
    uint64_t entry_code[4];
    uint64_t fuel_used;
    bool running;
    bool fuel_pending;              /* paused on a loop back-edge whose unit of fuel is still due */
    struct wasm_guest_calls *guest; /* made by the first guest call from a host function */
    char trap_message[256];
};

/* The most value-stack slots an instance may use (64 MiB), and the sizes of
 * the first stack and frame array (in the instance's block). */
enum {
    WASM_MAX_STACK_SLOTS = 8 * 1024 * 1024,
    WASM_INLINE_STACK_SLOTS = 64,
    WASM_INLINE_FRAMES = 16
};

/* An empty memory for instances without one. */
extern lun_memory wasm_no_memory;

/* interp.c */
lun_run_state wasm_interp_run(lun_instance *instance, uint64_t fuel);
/* Makes room for at least `slots` value-stack slots; false when the limit is hit. */
bool wasm_stack_reserve(lun_instance *instance, size_t slots);

/* memory.c: the page allocator behind every linear memory. */
lun_status wasm_memory_init(lun_memory *memory, uint32_t min_pages, uint32_t max_pages,
                            lun_error *error);
void wasm_memory_release(lun_memory *memory);
/* Grows by `pages`; returns the old size in pages, or -1. */
int32_t wasm_memory_grow(lun_memory *memory, uint32_t pages);
/* Records that [offset, offset + length), inside the memory, may have been
 * written: every write to a memory is recorded, so that a released memory
 * clears exactly what was written. Stores inside the window need no call. */
void wasm_memory_note_written(lun_memory *memory, uint64_t offset, uint64_t length);
/* An empty written window: a low that no address (below 2^33) reaches, and
 * a span that leaves room for an 8-byte store, so that the store check's
 * `span - length` does not wrap. */
#define WASM_WINDOW_EMPTY_LOW  (UINT64_C(1) << 63)
#define WASM_WINDOW_EMPTY_SPAN 8
/* For tests: true when every non-zero byte lies inside the written window. */
bool wasm_memory_writes_recorded(const lun_memory *memory);

/* instance.c: the function object of a function index, made on first use
 * for the instance's own functions (most are never needed as objects: calls
 * go straight to their code); NULL when out of memory. */
lun_func *wasm_instance_function(lun_instance *instance, uint32_t index);
/* instance.c: structural equality of function types. */
bool wasm_functype_equal(const wasm_functype *a, const wasm_functype *b);
/* table.grow: returns the old size or -1. */
int32_t wasm_table_grow(lun_table *table, uint32_t count, void *init);

#endif
