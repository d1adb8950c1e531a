/*
 * Processes: spawning, sending signals, the process loop (handle every
 * pending signal, then step if runnable) and death (leave the environment,
 * notify links and monitors, log, publish the result).
 *
 * Run state protocol (one atomic word, every change a read-modify-write):
 * a sender pushes its signal, then sets the SIGNALED flag with one
 * fetch-or. If the word was exactly WAITING, that sender alone moves it to
 * QUEUED and schedules the process; in every other state the flag is all it
 * takes. The worker that parks a process moves RUNNING -> WAITING with a
 * compare-and-swap, which fails if the flag came in meanwhile: it then
 * clears the flag and handles the new signals first. Since both sides
 * modify the same word, one of them always sees the other, and no signal is
 * left behind in the queue of a parked process.
 */
#include "core_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Thread_local lun_process *core_current_process;

/* Steps allowed in one turn before a runnable process goes to the back of
 * the run queue. */
enum { STEP_BUDGET = 8 };

static const char kill_message[] = "Process received Kill signal";
static const char default_failure[] = "process failed";

/* ---- references ---------------------------------------------------------- */

lun_process *lun_process_retain(lun_process *process)
{
    if (process != NULL) atomic_fetch_add_explicit(&process->references, 1, memory_order_relaxed);
    return process;
}

void core_process_free(lun_process *process)
{
    /* Signals that raced with death; no producer can be mid-push now. */
    core_node *node;
    while ((node = core_mpsc_pop(&process->signals)) != NULL)
        core_node_free(node);
    if (process->message_owned) free((char *)process->result_message);
    core_cache_free(CORE_CACHE_PROCESS, process);
}

void lun_process_release(lun_process *process)
{
    if (process == NULL) return;
    if (atomic_fetch_sub_explicit(&process->references, 1, memory_order_acq_rel) == 1)
        core_process_free(process);
}

uint64_t lun_process_id(const lun_process *process)
{
    return process ? process->id : 0;
}

lun_environment *lun_process_environment(const lun_process *process)
{
    return process ? process->environment : NULL;
}

bool lun_process_is_alive(const lun_process *process)
{
    return process != NULL &&
           (atomic_load_explicit(&((lun_process *)process)->run_state, memory_order_acquire) &
            CORE_STATE_MASK) != CORE_DEAD;
}

/* ---- sending ------------------------------------------------------------- */

void core_node_free(core_node *node)
{
    if (node->kind == LUN_SIGNAL_MESSAGE) {
        lun_message_free((lun_message *)node);
    } else if (node->kind == CORE_SIGNAL_TIMEOUT) {
        free(node);
    } else {
        core_signal *signal = (core_signal *)node;
        lun_process_release(signal->process);
        core_cache_free(CORE_CACHE_SIGNAL, signal);
    }
}

void core_process_push(lun_process *target, core_node *node)
{
    _Atomic uint32_t *run_state = &target->run_state;
    if ((atomic_load_explicit(run_state, memory_order_acquire) & CORE_STATE_MASK) == CORE_DEAD) {
        core_node_free(node);
        return;
    }
    core_mpsc_push(&target->signals, node);
    uint32_t previous = atomic_fetch_or_explicit(run_state, CORE_SIGNALED, memory_order_acq_rel);
    if (previous == CORE_WAITING) {
        atomic_exchange_explicit(run_state, CORE_QUEUED, memory_order_acq_rel);
        core_schedule(target->runtime, target);
    }
}

static lun_status push_signal(lun_process *target, const lun_signal *signal, lun_error *error)
{
    core_signal *node = core_cache_alloc(CORE_CACHE_SIGNAL);
    if (node == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "signal");
    node->node.kind = signal->kind;
    node->flag = signal->flag;
    node->reason = signal->reason;
    node->tag = signal->tag;
    node->process_id = signal->process_id;
    node->process = lun_process_retain(signal->process);
    core_metric_add(CORE_SIGNALS_SEND, 1);
    core_process_push(target, &node->node);
    return LUN_OK;
}

lun_status lun_process_send(lun_process *target, const lun_signal *signal, lun_error *error)
{
    if (signal == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null signal");
    if (signal->kind == LUN_SIGNAL_MESSAGE)
        return lun_process_send_message(target, signal->message, error);
    if (target == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null process");
    switch (signal->kind) {
    case LUN_SIGNAL_LINK:
    case LUN_SIGNAL_MONITOR:
        if (signal->process == NULL)
            return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "link/monitor without process");
        break;
    case LUN_SIGNAL_LINK_DIED:
        if ((unsigned)signal->reason > LUN_DEATH_NO_PROCESS)
            return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "unknown death reason");
        break;
    case LUN_SIGNAL_KILL:
    case LUN_SIGNAL_DIE_WHEN_LINK_DIES:
    case LUN_SIGNAL_UNLINK:
    case LUN_SIGNAL_STOP_MONITORING:
    case LUN_SIGNAL_PROCESS_DIED: break;
    default: return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "unknown signal kind");
    }
    return push_signal(target, signal, error);
}

lun_status lun_process_send_message(lun_process *target, lun_message *message, lun_error *error)
{
    if (message == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null message");
    if (target == NULL) {
        lun_message_free(message);
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null process");
    }
    message->node.kind = LUN_SIGNAL_MESSAGE;
    core_metric_add(CORE_SIGNALS_SEND, 1);
    core_process_push(target, &message->node);
    return LUN_OK;
}

lun_status lun_process_send_data(lun_process *target, int64_t tag, const void *bytes, size_t length,
                                 lun_error *error)
{
    if (target == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null process");
    if (bytes == NULL && length > 0)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no bytes");
    lun_message *message = lun_message_new_data(tag, length);
    if (message == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "message");
    lun_status status = lun_message_write(message, bytes, length, error);
    if (status != LUN_OK) {
        lun_message_free(message);
        return status;
    }
    return lun_process_send_message(target, message, error);
}

lun_status lun_process_kill(lun_process *target, lun_error *error)
{
    lun_signal signal = {.kind = LUN_SIGNAL_KILL};
    return lun_process_send(target, &signal, error);
}

/* ---- spawning ------------------------------------------------------------ */

lun_status lun_process_spawn(lun_environment *environment, lun_step_fn step, void *state,
                             const lun_spawn_options *options, lun_process **out, lun_error *error)
{
    void (*state_free)(void *) = options ? options->state_free : NULL;
    if (out) *out = NULL;
    if (environment == NULL || step == NULL) {
        if (state_free) state_free(state);
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null environment or step");
    }
    lun_runtime *runtime = environment->runtime;
    atomic_fetch_add(&runtime->live_processes, 1);
    if (atomic_load(&runtime->shutting_down)) {
        atomic_fetch_sub(&runtime->live_processes, 1);
        if (state_free) state_free(state);
        return lun_error_set(error, LUN_ERR_STATE, "the runtime is shutting down");
    }
    /* A recycled block is warm and already paged in (no first-touch fault). */
    lun_process *process = core_cache_alloc(CORE_CACHE_PROCESS);
    if (process == NULL) {
        atomic_fetch_sub(&runtime->live_processes, 1);
        core_notify_shutdown(runtime);
        if (state_free) state_free(state);
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "process");
    }
    memset(process, 0, sizeof *process);
    atomic_init(&process->run_state, CORE_QUEUED);
    atomic_init(&process->references, out ? 2 : 1);
    process->id = lun_environment_next_process_id(environment);
    process->environment = lun_environment_retain(environment);
    process->runtime = runtime;
    process->step = step;
    process->state = state;
    process->state_free = state_free;
    process->die_when_link_dies = true;
    process->runnable = true;
    core_mpsc_init(&process->signals);
    lun_status status = core_environment_add(environment, process);
    if (status != LUN_OK) {
        lun_environment_release(environment);
        core_cache_free(CORE_CACHE_PROCESS, process);
        atomic_fetch_sub(&runtime->live_processes, 1);
        core_notify_shutdown(runtime);
        if (state_free) state_free(state);
        return lun_error_set(error, status, "process table");
    }
    if (options != NULL && options->link_with != NULL) {
        lun_signal to_parent = {.kind = LUN_SIGNAL_LINK, .process = process};
        lun_signal to_child = {
            .kind = LUN_SIGNAL_LINK, .tag = options->link_tag, .process = options->link_with};
        push_signal(options->link_with, &to_parent, NULL);
        push_signal(process, &to_child, NULL);
    }
    if (out) *out = process;
    core_schedule_spawned(runtime, process);
    return LUN_OK;
}

/* ---- signal handling ----------------------------------------------------- */

typedef enum death { ALIVE, KILLED } death;

static void links_add(lun_process *process, lun_process *peer, int64_t tag)
{
    lun_process *replaced;
    if (!core_peers_put(&process->links, peer, tag, &replaced)) {
        lun_log(LUN_LOG_ERROR, "process %llu: out of memory for a link",
                (unsigned long long)process->id);
        lun_process_release(peer);
        return;
    }
    if (replaced != NULL)
        lun_process_release(replaced);
    else
        core_metric_add(CORE_LINKS_ALIVE, 1);
}

static void links_remove(lun_process *process, uint64_t peer_id)
{
    lun_process *removed = core_peers_remove(process->links, peer_id);
    if (removed == NULL) return;
    lun_process_release(removed);
    core_metric_add(CORE_LINKS_ALIVE, -1);
}

static void monitors_add(lun_process *process, lun_process *monitor)
{
    lun_process *replaced;
    if (!core_peers_put(&process->monitors, monitor, 0, &replaced)) {
        lun_log(LUN_LOG_ERROR, "process %llu: out of memory for a monitor",
                (unsigned long long)process->id);
        lun_process_release(monitor);
        return;
    }
    lun_process_release(replaced);
}

static void monitors_remove(lun_process *process, uint64_t monitor_id)
{
    lun_process_release(core_peers_remove(process->monitors, monitor_id));
}

static void deliver(lun_process *process, lun_message *message)
{
    core_metric_add(CORE_MESSAGES_SEND, 1);
    core_mailbox_append(process, message);
}

static void receive_message(lun_process *process, lun_message *message)
{
    if (message->kind == LUN_MESSAGE_DATA) {
        core_metric_add(CORE_MESSAGES_DATA_COUNT, 1);
        core_metric_add(CORE_DATA_SIZE_SUM, (int64_t)message->size);
        if (message->resource_count != 0)
            core_metric_add(CORE_DATA_RESOURCES_SUM, (int64_t)message->resource_count);
    } else if (message->kind == LUN_MESSAGE_LINK_DIED) {
        core_metric_add(CORE_MESSAGES_LINK_DIED_COUNT, 1);
    }
    deliver(process, message);
}

static death handle_link_died(lun_process *process, core_signal *signal)
{
    links_remove(process, signal->process_id);
    if (signal->reason == LUN_DEATH_NORMAL) return ALIVE;
    if (process->die_when_link_dies) return KILLED;
    lun_message *message = lun_message_new_link_died(signal->tag);
    if (message == NULL) {
        lun_log(LUN_LOG_ERROR, "process %llu: out of memory for a LinkDied message",
                (unsigned long long)process->id);
        return ALIVE;
    }
    core_metric_add(CORE_MESSAGES_LINK_DIED_COUNT, 1);
    deliver(process, message);
    return ALIVE;
}

/* Handles one signal; the node is consumed. */
static death handle_signal(lun_process *process, core_node *node)
{
    if (node->kind == LUN_SIGNAL_MESSAGE) {
        receive_message(process, (lun_message *)node);
        return ALIVE;
    }
    if (node->kind == CORE_SIGNAL_TIMEOUT) {
        if ((core_timer *)node == process->wait.timer) {
            process->wait.timer = NULL;
            process->wait.timed_out = true;
            process->runnable = true;
        }
        free(node);
        return ALIVE;
    }
    core_signal *signal = (core_signal *)node;
    death result = ALIVE;
    switch ((lun_signal_kind)node->kind) {
    case LUN_SIGNAL_KILL: result = KILLED; break;
    case LUN_SIGNAL_DIE_WHEN_LINK_DIES: process->die_when_link_dies = signal->flag; break;
    case LUN_SIGNAL_LINK:
        links_add(process, signal->process, signal->tag);
        signal->process = NULL;
        break;
    case LUN_SIGNAL_UNLINK: links_remove(process, signal->process_id); break;
    case LUN_SIGNAL_LINK_DIED: result = handle_link_died(process, signal); break;
    case LUN_SIGNAL_MONITOR:
        monitors_add(process, signal->process);
        signal->process = NULL;
        break;
    case LUN_SIGNAL_STOP_MONITORING: monitors_remove(process, signal->process_id); break;
    case LUN_SIGNAL_PROCESS_DIED: {
        lun_message *message = lun_message_new_process_died(signal->process_id);
        if (message != NULL) deliver(process, message);
        break;
    }
    default: break;
    }
    core_node_free(node);
    return result;
}

/* Handles every signal queued now (biased: before any step). */
static death drain(lun_process *process)
{
    core_node *node;
    while ((node = core_mpsc_pop(&process->signals)) != NULL) {
        core_metric_add(CORE_SIGNALS_RECEIVED, 1);
        if (handle_signal(process, node) == KILLED) return KILLED;
    }
    return ALIVE;
}

/* ---- death ----------------------------------------------------------------- */

static void log_death(lun_process *process, bool killed)
{
    if (!core_log_enabled(LUN_LOG_WARN)) return;
    char name[512];
    size_t names =
        core_registry_describe(&process->runtime->registry, process->id, name, sizeof name);
    if (names == 0) snprintf(name, sizeof name, "%llu", (unsigned long long)process->id);
    const char *hint =
        core_log_enabled(LUN_LOG_DEBUG) ? "" : " (set LUNATIC_LOG=debug to show the failure)";
    if (killed)
        lun_log(LUN_LOG_WARN, "Process %s was killed, notifying: %u links", name,
                core_peers_count(process->links));
    else
        lun_log(LUN_LOG_WARN, "Process %s failed, notifying: %u links%s", name,
                core_peers_count(process->links), hint);
    lun_log(LUN_LOG_DEBUG, "Process %s: %s", name, process->result_message);
}

static void notify_peers(lun_process *process, lun_death_reason reason)
{
    core_peers *links = process->links, *monitors = process->monitors;
    process->links = process->monitors = NULL;
    for (uint32_t i = 0; links != NULL && i < links->capacity; i++) {
        core_peer *link = &links->slots[i];
        if (link->process == NULL) continue;
        lun_signal signal = {.kind = LUN_SIGNAL_LINK_DIED,
                             .process_id = process->id,
                             .tag = link->tag,
                             .reason = reason};
        push_signal(link->process, &signal, NULL);
        lun_process_release(link->process);
    }
    if (links != NULL) core_metric_add(CORE_LINKS_ALIVE, -(int64_t)links->count);
    for (uint32_t i = 0; monitors != NULL && i < monitors->capacity; i++) {
        if (monitors->slots[i].process == NULL) continue;
        lun_signal signal = {.kind = LUN_SIGNAL_PROCESS_DIED, .process_id = process->id};
        push_signal(monitors->slots[i].process, &signal, NULL);
        lun_process_release(monitors->slots[i].process);
    }
    free(links);
    free(monitors);
}

static void finish(lun_process *process, lun_result_kind kind, bool killed)
{
    lun_environment *environment = process->environment;
    lun_runtime *runtime = environment->runtime;
    if (process->wait.kind != CORE_WAIT_NONE) core_wait_clear(process);
    core_environment_remove(environment, process);

    process->result_kind = (uint8_t)kind;
    if (killed) {
        if (process->message_owned) free((char *)process->result_message);
        process->result_message = kill_message;
        process->message_owned = false;
    } else if (kind == LUN_RESULT_OK) {
        if (process->message_owned) free((char *)process->result_message);
        process->result_message = "";
        process->message_owned = false;
    } else if (process->result_message == NULL) {
        process->result_message = default_failure;
    }
    if (kind != LUN_RESULT_OK) log_death(process, killed);
    notify_peers(process, kind == LUN_RESULT_OK ? LUN_DEATH_NORMAL : LUN_DEATH_FAILURE);

    if (process->state_free) process->state_free(process->state);
    process->state = NULL;
    core_mailbox_clear(process);
    /* Released before the process is seen dead, so that a joiner finds the
     * environment gone if this process held its last reference. */
    lun_environment_release(environment);
    /* Uncounted before it is seen dead, so that a thread that joined it
     * finds it gone from lun_runtime_process_count too. The runtime
     * outlives this call anyway: it joins its workers (which run this code)
     * before freeing anything. */
    atomic_fetch_sub_explicit(&runtime->live_processes, 1, memory_order_seq_cst);
    atomic_exchange_explicit(&process->run_state, CORE_DEAD, memory_order_seq_cst);
    core_node *node;
    while ((node = core_mpsc_pop(&process->signals)) != NULL)
        core_node_free(node);
    core_notify_joiners(process);
    core_notify_shutdown(runtime);
    lun_process_release(process);
}

/* ---- the process loop ------------------------------------------------------- */

static void requeue(lun_process *process)
{
    atomic_exchange_explicit(&process->run_state, CORE_QUEUED, memory_order_acq_rel);
    core_schedule(process->runtime, process);
}

void core_process_run(lun_process *process)
{
    atomic_exchange_explicit(&process->run_state, CORE_RUNNING, memory_order_acq_rel);
    int budget = STEP_BUDGET;
    for (;;) {
        if (drain(process) == KILLED) {
            finish(process, LUN_RESULT_FAILED, true);
            return;
        }
        core_external_wait_check(process);
        if (process->runnable) {
            if (budget-- == 0) {
                requeue(process);
                return;
            }
            core_current_process = process;
            lun_step_result result = process->step(process, process->state);
            core_current_process = NULL;
            if (result != LUN_STEP_WAIT && process->wait.kind != CORE_WAIT_NONE)
                core_wait_clear(process);
            switch (result) {
            case LUN_STEP_DONE: finish(process, LUN_RESULT_OK, false); return;
            case LUN_STEP_WAIT: process->runnable = false; break;
            case LUN_STEP_YIELD: requeue(process); return;
            default:
                finish(process,
                       process->fail_kind == LUN_RESULT_SPAWN_ERROR ? LUN_RESULT_SPAWN_ERROR
                                                                    : LUN_RESULT_FAILED,
                       false);
                return;
            }
        }
        uint32_t expected = CORE_RUNNING;
        if (atomic_compare_exchange_strong_explicit(&process->run_state, &expected, CORE_WAITING,
                                                    memory_order_acq_rel, memory_order_acquire))
            return;
        atomic_exchange_explicit(&process->run_state, CORE_RUNNING, memory_order_acq_rel);
    }
}

/* ---- links and monitors made by a process on itself ------------------------- */

static lun_status check_self(lun_process *self, lun_error *error)
{
    if (self == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null process");
    if (self != core_current_process)
        return lun_error_set(error, LUN_ERR_STATE, "call made outside the process's own step");
    return LUN_OK;
}

lun_status lun_process_link(lun_process *self, int64_t tag, uint64_t process_id, lun_error *error)
{
    lun_status status = check_self(self, error);
    if (status != LUN_OK) return status;
    lun_process *target = lun_environment_get_process(self->environment, process_id);
    if (target == NULL) {
        lun_signal died = {.kind = LUN_SIGNAL_LINK_DIED,
                           .process_id = process_id,
                           .tag = tag,
                           .reason = LUN_DEATH_NO_PROCESS};
        return push_signal(self, &died, error);
    }
    lun_signal to_target = {.kind = LUN_SIGNAL_LINK, .tag = tag, .process = self};
    lun_signal to_self = {.kind = LUN_SIGNAL_LINK, .tag = tag, .process = target};
    status = push_signal(target, &to_target, error);
    if (status == LUN_OK) status = push_signal(self, &to_self, error);
    lun_process_release(target);
    return status;
}

lun_status lun_process_unlink(lun_process *self, uint64_t process_id, lun_error *error)
{
    lun_status status = check_self(self, error);
    if (status != LUN_OK) return status;
    lun_signal unlink_self = {.kind = LUN_SIGNAL_UNLINK, .process_id = process_id};
    lun_signal unlink_target = {.kind = LUN_SIGNAL_UNLINK, .process_id = self->id};
    lun_process *target = lun_environment_get_process(self->environment, process_id);
    if (target != NULL) {
        status = push_signal(target, &unlink_target, error);
        lun_process_release(target);
        if (status != LUN_OK) return status;
    }
    return push_signal(self, &unlink_self, error);
}

lun_status lun_process_monitor(lun_process *self, uint64_t process_id, lun_error *error)
{
    lun_status status = check_self(self, error);
    if (status != LUN_OK) return status;
    lun_process *target = lun_environment_get_process(self->environment, process_id);
    if (target == NULL) return LUN_OK;
    lun_signal signal = {.kind = LUN_SIGNAL_MONITOR, .process = self};
    status = push_signal(target, &signal, error);
    lun_process_release(target);
    return status;
}

lun_status lun_process_stop_monitoring(lun_process *self, uint64_t process_id, lun_error *error)
{
    lun_status status = check_self(self, error);
    if (status != LUN_OK) return status;
    lun_process *target = lun_environment_get_process(self->environment, process_id);
    if (target == NULL) return LUN_OK;
    lun_signal signal = {.kind = LUN_SIGNAL_STOP_MONITORING, .process_id = self->id};
    status = push_signal(target, &signal, error);
    lun_process_release(target);
    return status;
}

lun_status lun_process_die_when_link_dies(lun_process *self, bool flag, lun_error *error)
{
    lun_status status = check_self(self, error);
    if (status != LUN_OK) return status;
    lun_signal signal = {.kind = LUN_SIGNAL_DIE_WHEN_LINK_DIES, .flag = flag};
    return push_signal(self, &signal, error);
}

/* ---- joining ----------------------------------------------------------------- */

static bool is_dead_now(lun_process *process)
{
    /* seq_cst: pairs with the exchange to DEAD and the joiner count. */
    return (atomic_load_explicit(&process->run_state, memory_order_seq_cst) & CORE_STATE_MASK) ==
           CORE_DEAD;
}

static struct timespec deadline_after_ms(int64_t timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(timeout_ms / 1000);
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    return deadline;
}

/* Sleeps on the join bucket of the process until it is dead. The joiner
 * sets `joined`, then looks at the run state; the dying process sets the
 * run state, then looks at `joined` (all sequentially consistent): one of
 * them sees the other. Only deaths of joined processes wake a bucket, and
 * only threads joining a process of that bucket. */
static lun_status wait_for_death(lun_process *process, int64_t timeout_ms)
{
    core_join_bucket *bucket = core_join_bucket_of(process);
    struct timespec deadline =
        timeout_ms >= 0 ? deadline_after_ms(timeout_ms) : (struct timespec){0};
    lun_status status = LUN_OK;
    atomic_store_explicit(&process->joined, 1, memory_order_seq_cst);
    pthread_mutex_lock(&bucket->lock);
    while (!is_dead_now(process) && status == LUN_OK) {
        if (timeout_ms < 0)
            pthread_cond_wait(&bucket->cond, &bucket->lock);
        else if (pthread_cond_timedwait(&bucket->cond, &bucket->lock, &deadline) != 0 &&
                 !is_dead_now(process))
            status = LUN_ERR_TIMEOUT;
    }
    pthread_mutex_unlock(&bucket->lock);
    return status;
}

lun_status lun_process_join(lun_process *process, int64_t timeout_ms, lun_process_result *result,
                            lun_error *error)
{
    if (process == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null process");
    if (core_current_worker != NULL)
        return lun_error_set(error, LUN_ERR_STATE, "join would block a worker thread");
    if (!is_dead_now(process) && wait_for_death(process, timeout_ms) != LUN_OK)
        return lun_error_set(error, LUN_ERR_TIMEOUT, "process %llu still running",
                             (unsigned long long)process->id);
    if (result != NULL) {
        result->kind = (lun_result_kind)process->result_kind;
        result->reason = result->kind == LUN_RESULT_OK ? LUN_DEATH_NORMAL : LUN_DEATH_FAILURE;
        result->message = process->result_message ? process->result_message : "";
    }
    return LUN_OK;
}
