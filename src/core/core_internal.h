/*
 * Private structures of the process core, shared by the files of src/core.
 *
 * Ownership in one paragraph: a live process holds one reference to itself
 * (dropped when it ends) and one to its environment; handles returned to
 * users, links, monitors, Link/Monitor signals and timers hold references.
 * Signals are intrusive nodes of a per-process lock-free MPSC queue; a data
 * message is its own signal node, so sending one costs no extra allocation.
 * The mailbox, the links, the monitors and the wait record are touched only
 * by the worker currently running the process.
 */
#ifndef LUNATIC_CORE_INTERNAL_H
#define LUNATIC_CORE_INTERNAL_H

#include "lunatic/core.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CORE_CACHE_LINE 64

/* A full memory barrier for the Dekker-style handshakes (push work, then
 * look for sleepers / announce sleep, then look for work). ThreadSanitizer
 * does not support fences: there a sequentially consistent read-modify-write
 * on a shared word gives the same ordering. */
#if defined(__SANITIZE_THREAD__)
#define CORE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CORE_TSAN 1
#endif
#endif
#ifdef CORE_TSAN
extern _Atomic unsigned core_fence_word;
#define core_full_fence() atomic_fetch_add_explicit(&core_fence_word, 0, memory_order_seq_cst)
#else
#define core_full_fence() atomic_thread_fence(memory_order_seq_cst)
#endif

/* ---- signals: Vyukov's intrusive multi-producer single-consumer queue ---- */

enum { CORE_SIGNAL_TIMEOUT = 100 }; /* internal kind: a wait's timer fired */

typedef struct core_node {
    _Atomic(struct core_node *) next;
    uint32_t kind; /* lun_signal_kind or CORE_SIGNAL_TIMEOUT */
} core_node;

typedef struct core_mpsc {
    _Atomic(core_node *) head; /* producers swap themselves in here */
    core_node *tail;           /* consumer side */
    core_node stub;
} core_mpsc;

void core_mpsc_init(core_mpsc *queue);
void core_mpsc_push(core_mpsc *queue, core_node *node);
/* NULL when empty or when a producer is half-way through a push (it will
 * notify the consumer once done). */
core_node *core_mpsc_pop(core_mpsc *queue);
/* Consumer-side check; a push in progress counts as not empty. */
bool core_mpsc_is_empty(core_mpsc *queue);

/* A signal other than a message. */
typedef struct core_signal {
    core_node node;
    bool flag;
    lun_death_reason reason;
    int64_t tag;
    uint64_t process_id;
    lun_process *process; /* owned reference (LINK, MONITOR) */
} core_signal;

/* ---- messages ------------------------------------------------------------ */

typedef struct core_resource_slot {
    void *resource; /* NULL: empty slot */
    const lun_resource_type *type;
} core_resource_slot;

struct lun_message {
    core_node node; /* kind LUN_SIGNAL_MESSAGE while in a signal queue */
    lun_message *mailbox_previous;
    lun_message *mailbox_next;
    int64_t tag;
    uint64_t process_id;
    uint8_t *data;
    size_t position;
    core_resource_slot *resources;
    uint32_t size; /* <= LUN_MESSAGE_MAX_SIZE */
    uint32_t capacity;
    uint32_t resource_count;
    uint32_t resource_capacity;
    uint8_t kind; /* lun_message_kind */
    bool data_inline;
    bool cached; /* a CORE_CACHE_MESSAGE block */
    uint8_t inline_bytes[];
};

/* Inline room of a message block from the cache: a message of a few bytes
 * (and every LinkDied / ProcessDied) is one 128-byte block. */
#define CORE_MESSAGE_SMALL_INLINE (128 - sizeof(lun_message))

/* ---- block caches (cache.c) ------------------------------------------------ */

typedef enum core_cache_class {
    CORE_CACHE_MESSAGE,
    CORE_CACHE_PROCESS,
    CORE_CACHE_SIGNAL,
    CORE_CACHE_CLASSES,
} core_cache_class;

/* A block of the class's size, from this thread's cache, the shared depot
 * or malloc; NULL when out of memory. Not zeroed. */
void *core_cache_alloc(core_cache_class class);
/* Any thread may free a block of the class, whichever thread allocated it. */
void core_cache_free(core_cache_class class, void *block);
/* Frees this thread's cached blocks (thread exit, last runtime freed). */
void core_cache_flush_thread(void);
/* Frees the blocks of the shared depot. */
void core_cache_trim(void);

/* ---- timers -------------------------------------------------------------- */

typedef enum core_timer_kind { CORE_TIMER_WAIT, CORE_TIMER_SEND_AFTER } core_timer_kind;

typedef struct core_timer {
    core_node node; /* pushed to the process as CORE_SIGNAL_TIMEOUT (wait timers) */
    core_timer_kind kind;
    int64_t heap_index; /* -1 when not in the heap */
    uint64_t deadline;  /* monotonic nanoseconds */
    lun_process *process;
    lun_message *message; /* send-after */
    uint64_t id;          /* send-after */
    struct core_timer *id_next;
} core_timer;

typedef struct core_timers {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool started;
    bool stop;
    core_timer **heap;
    size_t count;
    size_t capacity;
    core_timer **by_id; /* chained hash of send-after timers */
    size_t id_bucket_count;
    size_t id_count;
    uint64_t next_id;
} core_timers;

lun_status core_timers_start(core_timers *timers, lun_error *error);
void core_timers_stop(core_timers *timers);
/* Arms a wait timer for the running process (which must be `process`).
 * NULL when out of memory. */
core_timer *core_timer_arm_wait(lun_runtime *runtime, lun_process *process, uint64_t delay_ms);
/* Cancels a wait timer: freed here if still pending, else it is already on
 * its way into the process's signal queue and will be freed there. */
void core_timer_disarm_wait(lun_runtime *runtime, core_timer *timer);
uint64_t core_now_ns(void);

/* ---- processes ----------------------------------------------------------- */

/* Run state: a base state in the low bits plus a SIGNALED flag. Every
 * change is a read-modify-write, so that senders and the worker are totally
 * ordered on this one word (see process.c). */
enum {
    CORE_WAITING = 0, /* parked: in no queue; the sender that flags it schedules it */
    CORE_QUEUED = 1,  /* in a run queue */
    CORE_RUNNING = 2, /* a worker handles it */
    CORE_DEAD = 3,
    CORE_STATE_MASK = 3,
    CORE_SIGNALED = 4, /* signals were pushed since the worker last looked */
};

typedef enum core_wait_kind {
    CORE_WAIT_NONE,
    CORE_WAIT_RECEIVE,
    CORE_WAIT_SLEEP,
    CORE_WAIT_EXTERNAL, /* lun_process_wait_external (external_wait.c) */
} core_wait_kind;

typedef struct core_wait {
    uint8_t kind; /* core_wait_kind */
    bool timed_out;
    uint32_t tag_count;
    int64_t *tags; /* points at tag_inline when tag_count <= 1 */
    int64_t tag_inline;
    lun_message *match; /* first matching message arrived while waiting */
    core_timer *timer;
} core_wait;

/* Links and monitors of a process (peers.c), keyed by the peer's id. */
typedef struct core_peer {
    lun_process *process; /* owned reference; NULL: empty slot */
    int64_t tag;          /* links: what this process reports to the peer */
} core_peer;

typedef struct core_peers {
    uint32_t capacity; /* power of two */
    uint32_t count;
    core_peer slots[];
} core_peers;

/* Adds or replaces the entry for peer (the replaced reference is returned
 * for the caller to release). False when out of memory. */
bool core_peers_put(core_peers **table, lun_process *peer, int64_t tag, lun_process **replaced);
/* Removes the entry for id and returns its reference, or NULL. */
lun_process *core_peers_remove(core_peers *table, uint64_t id);
uint32_t core_peers_count(const core_peers *table);

struct lun_process {
    _Atomic uint32_t run_state;
    _Atomic uint32_t references;
    uint64_t id;
    lun_environment *environment; /* kept (not retained) after death: borrowed view only */
    lun_runtime *runtime;
    lun_step_fn step;
    void *state;
    void (*state_free)(void *state);
    core_mpsc signals;
    core_node run_node; /* in a worker's inbox */
    lun_process *table_next;
    lun_message *mailbox_head;
    lun_message *mailbox_tail;
    /* No message up to and including scan_mark has tag scan_tag: a repeated
     * receive of one tag starts after it (selective receive behind a long
     * backlog costs the new messages only). NULL: scan from the head. */
    lun_message *scan_mark;
    int64_t scan_tag;
    /* How many queued messages carry each tag, so that a receive of a tag
     * nobody sent returns at once instead of walking the whole mailbox.
     * Allocated with the first tagged message; NULL also when it could not
     * be (then every receive scans). */
    struct core_tag_counts *tag_counts;
    bool tag_counts_off;
    uint32_t mailbox_count;
    core_peers *links;
    core_peers *monitors;
    core_wait wait;
    bool die_when_link_dies;
    bool runnable;
    bool message_owned;
    uint8_t result_kind; /* lun_result_kind */
    uint8_t fail_kind;   /* set by lun_process_fail / _spawn */
    /* Set by lun_process_notify from any thread, consumed by the process's
     * own lun_process_wait_external (external_wait.c); one byte, in what was
     * padding, so that an idle process stays the same size. */
    _Atomic uint8_t external_notified;
    /* Set (never cleared) by lun_process_join before it sleeps: the dying
     * process wakes its join bucket only then (see process.c). */
    _Atomic uint8_t joined;
    const char *result_message;
};

/* Pushes a signal node and wakes the process if it was waiting. A dead
 * target frees the node at once. */
void core_process_push(lun_process *target, core_node *node);
/* Frees a signal node of any kind, releasing what it owns. */
void core_node_free(core_node *node);
/* Runs one scheduling turn of a process (worker side). */
void core_process_run(lun_process *process);
/* Kill-all used by runtime shutdown. */
void core_process_free(lun_process *process);

/* The process currently stepped by this thread, if any. */
extern _Thread_local lun_process *core_current_process;

/* ---- mailbox (mailbox.c) -------------------------------------------------- */

void core_mailbox_append(lun_process *process, lun_message *message);
void core_mailbox_remove(lun_process *process, lun_message *message);
void core_mailbox_clear(lun_process *process);
bool core_wait_matches(const core_wait *wait, const lun_message *message);
void core_wait_clear(lun_process *process);

/* ---- external waits (external_wait.c) --------------------------------------- */

/* Worker side, after the signals are drained: marks a process runnable when
 * its external wait was notified. */
static inline void core_external_wait_check(lun_process *process)
{
    if (process->wait.kind == CORE_WAIT_EXTERNAL && !process->runnable &&
        atomic_load_explicit(&process->external_notified, memory_order_acquire))
        process->runnable = true;
}

/* ---- environments -------------------------------------------------------- */

enum { CORE_TABLE_SHARDS = 64 };

typedef struct core_table_shard {
    pthread_mutex_t lock;
    lun_process **buckets;
    size_t bucket_count;
    _Atomic size_t count;
} __attribute__((aligned(CORE_CACHE_LINE))) core_table_shard;

struct lun_environment {
    _Atomic uint32_t references;
    uint64_t id;
    lun_runtime *runtime;
    _Atomic uint64_t next_process_id;
    struct lun_environment *set_next;
    core_table_shard shards[CORE_TABLE_SHARDS];
};

lun_status core_environment_add(lun_environment *environment, lun_process *process);
void core_environment_remove(lun_environment *environment, lun_process *process);
/* Sends Kill to every process of every environment (shutdown). */
void core_environments_kill_all(lun_runtime *runtime);
void core_environments_free_all(lun_runtime *runtime);

/* ---- registry ------------------------------------------------------------ */

typedef struct core_registry_entry {
    char *name;
    uint64_t node_id;
    uint64_t process_id;
    struct core_registry_entry *bucket_next;
    struct core_registry_entry *order_previous;
    struct core_registry_entry *order_next;
} core_registry_entry;

struct lun_registry {
    pthread_rwlock_t lock;
    core_registry_entry **buckets;
    size_t bucket_count;
    size_t count;
    core_registry_entry *first;
    core_registry_entry *last;
};

lun_status core_registry_init(lun_registry *registry, lun_error *error);
void core_registry_destroy(lun_registry *registry);
/* Writes "'a' / 'b'" (names registered for process_id, each cut after its
 * third '/' as lunatic does) into buffer; returns the number of names. */
size_t core_registry_describe(lun_registry *registry, uint64_t process_id, char *buffer,
                              size_t size);

/* ---- scheduler ----------------------------------------------------------- */

typedef struct core_ring {
    size_t capacity; /* power of two */
    struct core_ring *retired_next;
    _Atomic(lun_process *) slots[];
} core_ring;

/* Owner pushes at the bottom; the owner and thieves take at the top (FIFO,
 * so that a yielding process goes behind the others). */
typedef struct core_deque {
    _Atomic size_t top __attribute__((aligned(CORE_CACHE_LINE)));
    _Atomic size_t bottom __attribute__((aligned(CORE_CACHE_LINE)));
    _Atomic(core_ring *) ring;
    core_ring *retired;
} core_deque;

/* Chase-Lev deque of newly spawned processes: the owner pushes and pops at
 * the bottom (newest first, depth-first), thieves take the oldest at the
 * top. Signed indices: the owner's pop decrements bottom before it looks. */
typedef struct core_lifo {
    _Atomic int64_t top __attribute__((aligned(CORE_CACHE_LINE)));
    _Atomic int64_t bottom __attribute__((aligned(CORE_CACHE_LINE)));
    _Atomic(core_ring *) ring;
    core_ring *retired;
} core_lifo;

typedef struct core_worker {
    lun_runtime *runtime;
    unsigned index;
    pthread_t thread;
    bool started;
    unsigned picks; /* owner only: counts picks for the fairness turns */
    /* Owner only: entries the owner pushed to `spawned` and has not popped.
     * Thieves only take, so 0 means empty: a pick then reads no shared line. */
    size_t spawned_pending;
    core_deque deque;
    core_lifo spawned;
    core_mpsc inbox __attribute__((aligned(CORE_CACHE_LINE))); /* pushes from other threads */
    _Atomic uint32_t parked __attribute__((aligned(CORE_CACHE_LINE)));
    uint64_t random;
} __attribute__((aligned(CORE_CACHE_LINE))) core_worker;

enum { CORE_JOIN_BUCKETS = 16 };

typedef struct core_join_bucket {
    pthread_mutex_t lock;
    pthread_cond_t cond;
} core_join_bucket;

struct lun_runtime {
    unsigned worker_count;
    core_worker *workers;
    _Atomic unsigned searching;
    _Atomic unsigned sleepers;
    _Atomic unsigned remote_cursor;
    _Atomic bool stopping;
    _Atomic bool shutting_down;
    _Atomic size_t live_processes;
    /* lun_runtime_free waits here for the last process (live_processes). */
    pthread_mutex_t join_lock;
    pthread_cond_t join_cond;
    _Atomic unsigned shutdown_waiters;
    /* Threads in lun_process_join sleep on the bucket of their process. */
    core_join_bucket join_buckets[CORE_JOIN_BUCKETS];
    core_timers timers;
    lun_registry registry;
    pthread_mutex_t environments_lock;
    lun_environment *environments;
};

lun_status core_scheduler_start(lun_runtime *runtime, lun_error *error);
void core_scheduler_stop(lun_runtime *runtime);
/* Puts a process (state QUEUED) on a run queue: the current worker's when
 * called from a worker of this runtime, else a parked or round-robin
 * worker's inbox. Lock-free. */
void core_schedule(lun_runtime *runtime, lun_process *process);
/* Like core_schedule for a process just spawned: from a worker of this
 * runtime it goes on that worker's spawn deque, which the worker serves
 * newest first (see scheduler.c for the policy). */
void core_schedule_spawned(lun_runtime *runtime, lun_process *process);
/* Wakes lun_runtime_free when it waits for the last process. */
void core_notify_shutdown(lun_runtime *runtime);
/* Wakes the threads in lun_process_join on `process`, which just died
 * (cheap when nobody joins it). */
void core_notify_joiners(lun_process *process);
core_join_bucket *core_join_bucket_of(lun_process *process);
/* Thread-local: the worker running on this thread, if any. */
extern _Thread_local core_worker *core_current_worker;

/* ---- logging and metrics -------------------------------------------------- */

bool core_log_enabled(lun_log_level level);

typedef enum core_metric {
    CORE_SIGNALS_SEND,
    CORE_SIGNALS_RECEIVED,
    CORE_MESSAGES_SEND,
    CORE_MESSAGES_DATA_COUNT,
    CORE_MESSAGES_LINK_DIED_COUNT,
    CORE_MESSAGES_OUTSTANDING,
    CORE_LINKS_ALIVE,
    CORE_ENVIRONMENT_PROCESS_COUNT,
    CORE_ENVIRONMENT_COUNT,
    /* The two data histograms count one sample per data message, as
     * CORE_MESSAGES_DATA_COUNT does: that one slot is their count. */
    CORE_DATA_RESOURCES_SUM,
    CORE_DATA_SIZE_SUM,
    CORE_METRIC_COUNT,
} core_metric;

/* Each thread owns one block of values: adds are plain relaxed load+store
 * (no locked instruction on the hot path), readers sum every block. A block
 * is handed to the next new thread when its thread exits, values kept, so
 * sums stay exact. */
typedef struct core_metric_block {
    _Atomic int64_t values[CORE_METRIC_COUNT];
    struct core_metric_block *next;
    bool in_use;
} __attribute__((aligned(CORE_CACHE_LINE))) core_metric_block;

extern _Thread_local core_metric_block *core_metric_local;
core_metric_block *core_metric_attach(void);

static inline void core_metric_add(core_metric metric, int64_t value)
{
    core_metric_block *block = core_metric_local;
    if (__builtin_expect(block == NULL, 0)) block = core_metric_attach();
    if (block == NULL) return;
    _Atomic int64_t *slot = &block->values[metric];
    atomic_store_explicit(slot, atomic_load_explicit(slot, memory_order_relaxed) + value,
                          memory_order_relaxed);
}

#endif
