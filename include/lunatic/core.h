/*
 * The process core: processes, signals, mailboxes, links, monitors,
 * environments, the registry, timers, the scheduler, logging and metrics.
 * It knows nothing of WebAssembly.
 *
 * PROCESSES ARE STEP FUNCTIONS. A process has no native stack of its own (so
 * that millions of them fit in memory). Its body is a function
 *
 *     lun_step_result step(lun_process *self, void *state);
 *
 * that a worker thread calls whenever the process may make progress. It
 * returns
 *   LUN_STEP_DONE    the process finished normally (result Ok);
 *   LUN_STEP_FAILED  the process failed (result Failed; set the message with
 *                    lun_process_fail first, or get "process failed");
 *   LUN_STEP_YIELD   run me again later: the process goes to the back of the
 *                    run queue (the fairness budget: a process that never
 *                    blocks cannot starve the others);
 *   LUN_STEP_WAIT    a blocking call (lun_process_receive, lun_process_sleep,
 *                    ...) returned LUN_ERR_WOULD_BLOCK in this step, having
 *                    registered what the process waits for.
 * After WAIT, the step is called again only when the wait is over (a message
 * matching the tag set arrived, the timer fired); it then simply makes the
 * same call again, which now completes (LUN_OK or LUN_ERR_TIMEOUT). Kill and
 * failed links end a waiting process without calling its step. Between two
 * calls of the step every pending signal is handled (biased).
 *
 * A native C process is therefore a small state machine:
 *
 *     static lun_step_result echo(lun_process *self, void *state) {
 *         lun_message *m;
 *         lun_status s = lun_process_receive(self, NULL, 0, LUN_TIMEOUT_INFINITE, &m, NULL);
 *         if (s == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
 *         if (s != LUN_OK) return LUN_STEP_FAILED;
 *         ...use m, lun_message_free(m)...
 *         return LUN_STEP_DONE;
 *     }
 *
 * A Wasm process has the same shape: "out of fuel" is YIELD, "suspended in a
 * host call" is WAIT, and the host call is re-executed on the next step.
 * Calls that take `self` are valid only inside that process's own step
 * (otherwise they return LUN_ERR_STATE); a wait registered in a step that
 * then returns anything but WAIT is cancelled.
 *
 * HANDLES. lun_process, lun_environment are reference counted: every
 * function that returns a handle returns a new reference, released with
 * *_release. A handle may outlive its process (sending to a dead process
 * silently drops the signal) and even the runtime (only release it then).
 *
 * TAGS. Tags are int64_t; 0 means "no tag". A message without tag never
 * matches a tag set, and a tag set entry 0 matches nothing.
 *
 * THREADS. Everything may be called from any thread, except the calls taking
 * `self` (only from that process's step) and lun_process_join (not from a
 * step: it blocks the calling thread).
 */
#ifndef LUNATIC_CORE_H
#define LUNATIC_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lunatic/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lun_runtime lun_runtime;
typedef struct lun_environment lun_environment;
typedef struct lun_process lun_process;
typedef struct lun_message lun_message;
typedef struct lun_registry lun_registry;

/* Wait forever (receive, join). A timeout of 0 means "check once". */
#define LUN_TIMEOUT_INFINITE ((int64_t)-1)

/* ---- runtime ------------------------------------------------------------ */

typedef struct lun_runtime_config {
    unsigned workers; /* worker threads; 0 = one per online core */
} lun_runtime_config;

/* Starts the worker threads and the timer thread. config may be NULL. */
lun_status lun_runtime_new(const lun_runtime_config *config, lun_runtime **out, lun_error *error);

/* Kills every process still alive, waits for all of them to end, joins the
 * threads and frees everything the runtime owns (environments, timers,
 * the registry). Process handles still held by the caller stay valid for
 * lun_process_release only; environment handles must be released before
 * (any left are freed here and must not be used again). Not from a step. */
void lun_runtime_free(lun_runtime *runtime);

unsigned lun_runtime_worker_count(const lun_runtime *runtime);

/* Processes spawned and not yet ended, over all environments. */
size_t lun_runtime_process_count(const lun_runtime *runtime);

/* The runtime's name registry. Owned by the runtime. */
lun_registry *lun_runtime_registry(lun_runtime *runtime);

/* ---- environments ------------------------------------------------------- */

/* Creates environment `id` in the runtime's set of environments
 * (LUN_ERR_STATE if that id exists). Process ids start at 1. */
lun_status lun_environment_new(lun_runtime *runtime, uint64_t id, lun_environment **out,
                               lun_error *error);

/* Looks up an environment of the set by id; NULL when there is none. */
lun_environment *lun_environment_find(lun_runtime *runtime, uint64_t id);

/* Drops a reference. An environment leaves the set when the last reference
 * goes (its processes hold one each while they live). */
void lun_environment_release(lun_environment *environment);
lun_environment *lun_environment_retain(lun_environment *environment);

uint64_t lun_environment_id(const lun_environment *environment);
lun_runtime *lun_environment_runtime(const lun_environment *environment);

/* Takes the next process id (the counter spawn uses). */
uint64_t lun_environment_next_process_id(lun_environment *environment);

/* The process table: a process is added when spawned and removed when it
 * ends. get returns a new reference, or NULL if no live process has that id. */
lun_process *lun_environment_get_process(lun_environment *environment, uint64_t process_id);
size_t lun_environment_process_count(const lun_environment *environment);

/* ---- signals and processes ---------------------------------------------- */

typedef enum lun_death_reason {
    LUN_DEATH_NORMAL,
    LUN_DEATH_FAILURE,
    LUN_DEATH_NO_PROCESS,
} lun_death_reason;

typedef enum lun_signal_kind {
    LUN_SIGNAL_MESSAGE,            /* message */
    LUN_SIGNAL_KILL,               /* - */
    LUN_SIGNAL_DIE_WHEN_LINK_DIES, /* flag */
    LUN_SIGNAL_LINK,               /* tag, process */
    LUN_SIGNAL_UNLINK,             /* process_id */
    LUN_SIGNAL_LINK_DIED,          /* process_id, tag, reason */
    LUN_SIGNAL_MONITOR,            /* process */
    LUN_SIGNAL_STOP_MONITORING,    /* process_id */
    LUN_SIGNAL_PROCESS_DIED,       /* process_id */
} lun_signal_kind;

/* A signal as given to lun_process_send; only the fields of its kind are read. */
typedef struct lun_signal {
    lun_signal_kind kind;
    lun_message *message;    /* MESSAGE: ownership moves into the call, always */
    lun_process *process;    /* LINK, MONITOR: the peer (the call takes its own reference) */
    uint64_t process_id;     /* UNLINK, LINK_DIED, STOP_MONITORING, PROCESS_DIED */
    int64_t tag;             /* LINK, LINK_DIED; 0 = no tag */
    lun_death_reason reason; /* LINK_DIED */
    bool flag;               /* DIE_WHEN_LINK_DIES */
} lun_signal;

typedef enum lun_step_result {
    LUN_STEP_DONE,
    LUN_STEP_FAILED,
    LUN_STEP_YIELD,
    LUN_STEP_WAIT,
} lun_step_result;

typedef lun_step_result (*lun_step_fn)(lun_process *self, void *state);

typedef struct lun_spawn_options {
    /* Called on `state` once the process has ended, whatever the reason
     * (also when spawning fails). NULL: the caller keeps ownership. */
    void (*state_free)(void *state);
    /* When not NULL, the new process and this one are linked before the new
     * process runs: link_with gets Link(no tag -> child), the child gets
     * Link(link_tag -> link_with), as lunatic's spawn with link does. */
    lun_process *link_with;
    int64_t link_tag;
} lun_spawn_options;

/* Spawns a process into the environment and schedules it. options may be
 * NULL; out may be NULL (no handle wanted). Fails with LUN_ERR_STATE while
 * the runtime shuts down. */
lun_status lun_process_spawn(lun_environment *environment, lun_step_fn step, void *state,
                             const lun_spawn_options *options, lun_process **out, lun_error *error);

lun_process *lun_process_retain(lun_process *process);
void lun_process_release(lun_process *process); /* NULL is a no-op */

uint64_t lun_process_id(const lun_process *process);
/* Borrowed; valid while the process lives (e.g. inside its step). */
lun_environment *lun_process_environment(const lun_process *process);
bool lun_process_is_alive(const lun_process *process);

/* Sends a signal. Never blocks, never takes a lock on the way to a waiting
 * process. Sending to a dead process is LUN_OK and drops the signal.
 * Errors: LUN_ERR_INVALID_ARGUMENT (NULL target, unknown kind, MESSAGE
 * without message, LINK/MONITOR without process). */
lun_status lun_process_send(lun_process *target, const lun_signal *signal, lun_error *error);

/* Shorthands for lun_process_send. */
lun_status lun_process_send_message(lun_process *target, lun_message *message, lun_error *error);
/* Creates a data message with `tag` and a copy of bytes[0..length) and sends
 * it: one call for lun_message_new_data + lun_message_write +
 * lun_process_send_message. On error nothing is sent. Errors:
 * LUN_ERR_INVALID_ARGUMENT (NULL target, NULL bytes with a length),
 * LUN_ERR_NO_MEMORY (out of memory, beyond LUN_MESSAGE_MAX_SIZE). */
lun_status lun_process_send_data(lun_process *target, int64_t tag, const void *bytes, size_t length,
                                 lun_error *error);
lun_status lun_process_kill(lun_process *target, lun_error *error);

/* Sends a signal to process `process_id` of the environment; an unknown id
 * drops the signal (LUN_OK). */
lun_status lun_environment_send(lun_environment *environment, uint64_t process_id,
                                const lun_signal *signal, lun_error *error);

/* How a process ended. */
typedef enum lun_result_kind {
    LUN_RESULT_OK,
    LUN_RESULT_FAILED,      /* failed, killed or died with a link */
    LUN_RESULT_SPAWN_ERROR, /* set with lun_process_fail_spawn */
} lun_result_kind;

typedef struct lun_process_result {
    lun_result_kind kind;
    lun_death_reason reason; /* NORMAL for OK, FAILURE otherwise */
    const char *message;     /* "" for OK; owned by the process handle */
} lun_process_result;

/* Blocks the calling thread (not a process step) until the process ended or
 * timeout_ms passed (LUN_ERR_TIMEOUT; LUN_TIMEOUT_INFINITE waits forever). */
lun_status lun_process_join(lun_process *process, int64_t timeout_ms, lun_process_result *result,
                            lun_error *error);

/* ---- calls made by a process on itself (inside its own step) ------------- */

/* Receives the oldest message whose tag is one of tags[0..tag_count); with
 * tag_count 0 (tags may be NULL), the oldest message of any kind.
 * LUN_OK: *out is the message, owned by the caller. LUN_ERR_WOULD_BLOCK:
 * return LUN_STEP_WAIT and call again when stepped. LUN_ERR_TIMEOUT: timeout_ms
 * passed (0 = do not wait, LUN_TIMEOUT_INFINITE = never). Messages that do
 * not match stay queued in order. A message that woke the process but was
 * not taken (the wait was cancelled, or the step made another call) stays
 * in the mailbox. The retry must be the same call (same tags); a different
 * call drops the registered wait and starts afresh. */
lun_status lun_process_receive(lun_process *self, const int64_t *tags, size_t tag_count,
                               int64_t timeout_ms, lun_message **out, lun_error *error);

/* Like lun_process_receive with one tag, but only a message that arrives
 * after the first call can match: messages already queued are not searched
 * (request/reply with a fresh tag). */
lun_status lun_process_receive_skip_search(lun_process *self, int64_t tag, int64_t timeout_ms,
                                           lun_message **out, lun_error *error);

/* Sleeps: LUN_ERR_WOULD_BLOCK on the first call, LUN_OK on the call after the
 * time passed. Kill and failed links still end the process meanwhile. */
lun_status lun_process_sleep(lun_process *self, uint64_t milliseconds, lun_error *error);

/* True when a wait registered by an earlier step is pending (the current call
 * is a retry): a host call uses it to perform its side effects only once. */
bool lun_process_is_waiting(const lun_process *self);

/* Forgets a registered wait (and its timer); a message that had already
 * arrived for it stays in the mailbox. */
void lun_process_cancel_wait(lun_process *self);

/* Number of messages in the process's own mailbox. */
size_t lun_process_mailbox_size(const lun_process *self);

/* Sets the failure message reported when the step returns LUN_STEP_FAILED
 * (result Failed), or, with _spawn, a SpawnError result. */
void lun_process_fail(lun_process *self, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
void lun_process_fail_spawn(lun_process *self, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Links self and process `process_id` of its environment, both ways, with
 * `tag` (what each side reports when it fails). If there is no such process,
 * self receives LinkDied(process_id, tag, NoProcess). */
lun_status lun_process_link(lun_process *self, int64_t tag, uint64_t process_id, lun_error *error);
/* Sends UnLink to both sides; unlinking what was never linked is a no-op. */
lun_status lun_process_unlink(lun_process *self, uint64_t process_id, lun_error *error);
/* self receives a ProcessDied message when process_id ends; an unknown id is
 * a no-op (as in lunatic). */
lun_status lun_process_monitor(lun_process *self, uint64_t process_id, lun_error *error);
lun_status lun_process_stop_monitoring(lun_process *self, uint64_t process_id, lun_error *error);
/* Sent as a signal to self: ordered after the signals already queued. */
lun_status lun_process_die_when_link_dies(lun_process *self, bool flag, lun_error *error);

/* ---- messages ----------------------------------------------------------- */

typedef enum lun_message_kind {
    LUN_MESSAGE_DATA = 0,
    LUN_MESSAGE_LINK_DIED = 1,
    LUN_MESSAGE_PROCESS_DIED = 2,
} lun_message_kind;

/* Largest data buffer a message may hold; beyond it writes fail. */
#define LUN_MESSAGE_MAX_SIZE ((size_t)1 << 31)

/* A kind of resource carried by messages: its name and how to drop one. */
typedef struct lun_resource_type {
    const char *name;
    void (*destroy)(void *resource);
} lun_resource_type;

/* A data message with room for `capacity` bytes in the same allocation
 * (messages of a few bytes cost one malloc). NULL when out of memory. */
lun_message *lun_message_new_data(int64_t tag, size_t capacity);
lun_message *lun_message_new_link_died(int64_t tag);
lun_message *lun_message_new_process_died(uint64_t process_id);
/* Frees the message, its buffer and its resources (destroyed). NULL: no-op. */
void lun_message_free(lun_message *message);

lun_message_kind lun_message_get_kind(const lun_message *message);
int64_t lun_message_tag(const lun_message *message);         /* 0 if none */
uint64_t lun_message_process_id(const lun_message *message); /* ProcessDied, else 0 */
const uint8_t *lun_message_data(const lun_message *message); /* NULL unless data */
size_t lun_message_size(const lun_message *message);         /* 0 unless data */
size_t lun_message_position(const lun_message *message);

/* Appends bytes. LUN_ERR_INVALID_ARGUMENT for a non-data message,
 * LUN_ERR_NO_MEMORY beyond LUN_MESSAGE_MAX_SIZE or when out of memory. */
lun_status lun_message_write(lun_message *message, const void *bytes, size_t length,
                             lun_error *error);
/* Copies up to `length` bytes from the read position, advances it, and
 * stores the count (0 at the end) in *read. A position beyond the size is
 * LUN_ERR_INVALID_ARGUMENT. */
lun_status lun_message_read(lun_message *message, void *bytes, size_t length, size_t *read,
                            lun_error *error);
/* Sets the read position (not checked against the size, as in lunatic). */
lun_status lun_message_seek(lun_message *message, size_t position, lun_error *error);

/* Appends a resource; *index is its 0-based position. On error the resource
 * is not taken (the caller still owns it). */
lun_status lun_message_push_resource(lun_message *message, void *resource,
                                     const lun_resource_type *type, size_t *index,
                                     lun_error *error);
/* Takes the resource at index (of type `expected`, or any type when NULL):
 * the slot becomes empty, the other indexes stay. An empty slot, an index
 * out of range or another type is an error and leaves everything in place. */
lun_status lun_message_take_resource(lun_message *message, size_t index,
                                     const lun_resource_type *expected, void **resource,
                                     lun_error *error);
size_t lun_message_resource_count(const lun_message *message); /* slots, empty ones too */

/* ---- timers ------------------------------------------------------------- */

/* Delivers `message` to `target` after delay_ms (dropped if the target is
 * dead by then). Takes the message in every case. *timer_id (optional)
 * identifies the timer for lun_timer_cancel. */
lun_status lun_timer_send_after(lun_process *target, lun_message *message, uint64_t delay_ms,
                                uint64_t *timer_id, lun_error *error);
/* True if the timer was pending and is now cancelled (its message freed);
 * false if it already fired or never existed. */
bool lun_timer_cancel(lun_runtime *runtime, uint64_t timer_id);

/* ---- registry ----------------------------------------------------------- */

/* Names map to (node id, process id). put replaces an existing entry. */
lun_status lun_registry_put(lun_registry *registry, const char *name, uint64_t node_id,
                            uint64_t process_id, lun_error *error);
/* LUN_ERR_NOT_FOUND when the name is not registered. */
lun_status lun_registry_get(lun_registry *registry, const char *name, uint64_t *node_id,
                            uint64_t *process_id);
lun_status lun_registry_remove(lun_registry *registry, const char *name);
/* Atomic get-or-insert: if `name` is registered, stores its ids and sets
 * *found; else calls make(context, &node_id, &process_id) with the registry
 * locked (it must not use the registry) and, on LUN_OK, registers the result. */
lun_status lun_registry_get_or_put(lun_registry *registry, const char *name,
                                   lun_status (*make)(void *context, uint64_t *node_id,
                                                      uint64_t *process_id),
                                   void *context, uint64_t *node_id, uint64_t *process_id,
                                   bool *found, lun_error *error);

/* ---- logging ------------------------------------------------------------ */

typedef enum lun_log_level {
    LUN_LOG_OFF,
    LUN_LOG_ERROR,
    LUN_LOG_WARN,
    LUN_LOG_INFO,
    LUN_LOG_DEBUG,
    LUN_LOG_TRACE,
} lun_log_level;

/* The level starts from the environment variable LUNATIC_LOG (error, warn,
 * info, debug, trace, off; default warn). */
lun_log_level lun_log_get_level(void);
void lun_log_set_level(lun_log_level level);
/* Where lines go (one call per line, without newline); NULL = stderr. */
typedef void (*lun_log_sink)(lun_log_level level, const char *line, void *context);
void lun_log_set_sink(lun_log_sink sink, void *context);
void lun_log(lun_log_level level, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* ---- metrics ------------------------------------------------------------ */

/* Process-wide values, by the names of lunatic's describe_metrics:
 * counters  lunatic.process.signals.send, lunatic.process.signals.received,
 *           lunatic.process.messages.send, lunatic.process.messages.data.count,
 *           lunatic.process.messages.link_died.count
 * gauges    lunatic.process.messages.outstanding, lunatic.process.links.alive,
 *           lunatic.process.environment.process.count,
 *           lunatic.process.environment.count
 * histograms lunatic.process.messages.data.resources.count,
 *           lunatic.process.messages.data.size
 * Unknown names read as 0 (histogram: false). */
uint64_t lun_metrics_counter(const char *name);
int64_t lun_metrics_gauge(const char *name);
bool lun_metrics_histogram(const char *name, uint64_t *count, uint64_t *sum);

/* ---- external waits ------------------------------------------------------ */

/* For waits on things outside the core (socket readiness, a resolver
 * thread): the waiting process registers with the outside source, then calls
 * lun_process_wait_external in its own step; the source later calls
 * lun_process_notify from any thread.
 *
 * A notification is a sticky flag: one that arrives before the wait is
 * registered is not lost (the next wait_external returns LUN_OK at once), and
 * several notifications before a wait count as one. Wake-ups may therefore be
 * spurious: the caller re-checks its condition after LUN_OK and waits again
 * if needed. Kill and failed links still end a waiting process. */

/* LUN_OK: a notification arrived (before or during the wait; it is consumed).
 * LUN_ERR_WOULD_BLOCK: the wait is registered; return LUN_STEP_WAIT and call
 * again when stepped. LUN_ERR_TIMEOUT: timeout_ms passed without a
 * notification (0 = do not wait, negative = never time out). The retry after
 * WOULD_BLOCK completes the registered wait whatever timeout it passes. */
lun_status lun_process_wait_external(lun_process *self, int64_t timeout_ms, lun_error *error);

/* Notifies `process` (any thread, lock-free: one atomic store, one atomic
 * or, and a run-queue push if the process was parked). The caller holds a
 * reference to the process. Notifying a dead process does nothing. */
void lun_process_notify(lun_process *process);

#ifdef __cplusplus
}
#endif

#endif
