/*
 * External waits: a process waits for something outside the core (a socket
 * becoming ready, a resolver thread finishing) and is woken by
 * lun_process_notify from any thread.
 *
 * The notification is one atomic flag per process plus the run-state
 * protocol of process.c: the notifier stores the flag, then sets SIGNALED
 * with a fetch-or and schedules the process only if it was parked
 * (WAITING). The worker, after draining the signals, marks a process
 * runnable when it waits externally and the flag is set
 * (core_external_wait_check); a worker about to park fails its
 * RUNNING -> WAITING compare-and-swap when the flag came in meanwhile. No
 * queue node, no allocation and no lock on the notifier's side.
 */
#include "core_internal.h"

static lun_status check_self(const lun_process *self, lun_error *error)
{
    if (self == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null process");
    if (self != core_current_process)
        return lun_error_set(error, LUN_ERR_STATE, "process %llu: call made outside its own step",
                             (unsigned long long)self->id);
    return LUN_OK;
}

static bool take_notification(lun_process *self)
{
    /* Cheap check first: most first calls find no pending notification. */
    if (atomic_load_explicit(&self->external_notified, memory_order_relaxed) == 0) return false;
    return atomic_exchange_explicit(&self->external_notified, 0, memory_order_acq_rel) != 0;
}

static lun_status would_block(lun_error *error)
{
    return error ? lun_error_set(error, LUN_ERR_WOULD_BLOCK, "waiting") : LUN_ERR_WOULD_BLOCK;
}

lun_status lun_process_wait_external(lun_process *self, int64_t timeout_ms, lun_error *error)
{
    lun_status status = check_self(self, error);
    if (status != LUN_OK) return status;
    core_wait *wait = &self->wait;
    if (wait->kind == CORE_WAIT_EXTERNAL) {
        if (take_notification(self)) {
            core_wait_clear(self);
            return LUN_OK;
        }
        if (wait->timed_out) {
            core_wait_clear(self);
            return lun_error_set(error, LUN_ERR_TIMEOUT, "external wait timed out");
        }
        return would_block(error);
    }
    if (wait->kind != CORE_WAIT_NONE) core_wait_clear(self);
    if (take_notification(self)) return LUN_OK;
    if (timeout_ms == 0) return lun_error_set(error, LUN_ERR_TIMEOUT, "not notified");
    wait->kind = CORE_WAIT_EXTERNAL;
    wait->tags = NULL;
    wait->tag_count = 0;
    if (timeout_ms > 0) {
        wait->timer = core_timer_arm_wait(self->runtime, self, (uint64_t)timeout_ms);
        if (wait->timer == NULL) {
            core_wait_clear(self);
            return lun_error_set(error, LUN_ERR_NO_MEMORY, "timer");
        }
    }
    /* A notification that came between take_notification and here is seen
     * by the worker after the step returns WAIT (core_external_wait_check). */
    return would_block(error);
}

void lun_process_notify(lun_process *process)
{
    if (process == NULL) return;
    atomic_store_explicit(&process->external_notified, 1, memory_order_release);
    uint32_t previous =
        atomic_fetch_or_explicit(&process->run_state, CORE_SIGNALED, memory_order_acq_rel);
    if (previous == CORE_WAITING) {
        atomic_exchange_explicit(&process->run_state, CORE_QUEUED, memory_order_acq_rel);
        core_schedule(process->runtime, process);
    }
}
