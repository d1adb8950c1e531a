/*
 * Timers: one thread with a binary min-heap of deadlines. It wakes waiting
 * processes (receive timeouts, sleep) by pushing the timer itself into the
 * process's signal queue, and delivers send-after messages. A wait timer is
 * removed from the heap when the wait ends first.
 */
#include "core_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

uint64_t core_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static core_timers *timers_of(lun_runtime *runtime)
{
    return &runtime->timers;
}

/* ---- the heap (lock held) ------------------------------------------------ */

static void heap_set(core_timers *timers, size_t at, core_timer *timer)
{
    timers->heap[at] = timer;
    timer->heap_index = (int64_t)at;
}

static void sift_up(core_timers *timers, size_t at)
{
    core_timer *timer = timers->heap[at];
    while (at > 0) {
        size_t parent = (at - 1) / 2;
        if (timers->heap[parent]->deadline <= timer->deadline) break;
        heap_set(timers, at, timers->heap[parent]);
        at = parent;
    }
    heap_set(timers, at, timer);
}

static void sift_down(core_timers *timers, size_t at)
{
    core_timer *timer = timers->heap[at];
    for (;;) {
        size_t child = at * 2 + 1;
        if (child >= timers->count) break;
        if (child + 1 < timers->count &&
            timers->heap[child + 1]->deadline < timers->heap[child]->deadline)
            child++;
        if (timer->deadline <= timers->heap[child]->deadline) break;
        heap_set(timers, at, timers->heap[child]);
        at = child;
    }
    heap_set(timers, at, timer);
}

static bool heap_insert(core_timers *timers, core_timer *timer)
{
    if (timers->count == timers->capacity) {
        size_t capacity = timers->capacity ? timers->capacity * 2 : 64;
        core_timer **heap = realloc(timers->heap, capacity * sizeof *heap);
        if (heap == NULL) return false;
        timers->heap = heap;
        timers->capacity = capacity;
    }
    heap_set(timers, timers->count++, timer);
    sift_up(timers, timers->count - 1);
    return true;
}

static void heap_remove(core_timers *timers, core_timer *timer)
{
    size_t at = (size_t)timer->heap_index;
    timer->heap_index = -1;
    timers->count--;
    if (at == timers->count) return;
    core_timer *moved = timers->heap[timers->count];
    heap_set(timers, at, moved);
    sift_down(timers, at);
    sift_up(timers, (size_t)moved->heap_index);
}

/* ---- send-after ids (lock held) ---------------------------------------- */

static bool ids_insert(core_timers *timers, core_timer *timer)
{
    if (timers->id_count + 1 > timers->id_bucket_count) {
        size_t count = timers->id_bucket_count ? timers->id_bucket_count * 2 : 64;
        core_timer **buckets = calloc(count, sizeof *buckets);
        if (buckets == NULL) return false;
        for (size_t i = 0; i < timers->id_bucket_count; i++) {
            core_timer *entry = timers->by_id[i];
            while (entry) {
                core_timer *next = entry->id_next;
                entry->id_next = buckets[entry->id & (count - 1)];
                buckets[entry->id & (count - 1)] = entry;
                entry = next;
            }
        }
        free(timers->by_id);
        timers->by_id = buckets;
        timers->id_bucket_count = count;
    }
    core_timer **bucket = &timers->by_id[timer->id & (timers->id_bucket_count - 1)];
    timer->id_next = *bucket;
    *bucket = timer;
    timers->id_count++;
    return true;
}

static core_timer *ids_take(core_timers *timers, uint64_t id)
{
    if (timers->id_bucket_count == 0) return NULL;
    for (core_timer **link = &timers->by_id[id & (timers->id_bucket_count - 1)]; *link;
         link = &(*link)->id_next) {
        if ((*link)->id == id) {
            core_timer *timer = *link;
            *link = timer->id_next;
            timers->id_count--;
            return timer;
        }
    }
    return NULL;
}

/* ---- firing ------------------------------------------------------------- */

static void fire(core_timer *timer)
{
    lun_process *process = timer->process;
    timer->process = NULL;
    if (timer->kind == CORE_TIMER_WAIT) {
        timer->node.kind = CORE_SIGNAL_TIMEOUT;
        core_process_push(process, &timer->node); /* the process frees the timer */
    } else {
        lun_process_send_message(process, timer->message, NULL);
        free(timer);
    }
    lun_process_release(process);
}

static void *timer_thread(void *argument)
{
    core_timers *timers = argument;
    pthread_mutex_lock(&timers->lock);
    while (!timers->stop) {
        if (timers->count == 0) {
            pthread_cond_wait(&timers->wake, &timers->lock);
            continue;
        }
        uint64_t now = core_now_ns();
        core_timer *first = timers->heap[0];
        if (first->deadline > now) {
            struct timespec until = {.tv_sec = (time_t)(first->deadline / 1000000000ull),
                                     .tv_nsec = (long)(first->deadline % 1000000000ull)};
            pthread_cond_timedwait(&timers->wake, &timers->lock, &until);
            continue;
        }
        heap_remove(timers, first);
        if (first->kind == CORE_TIMER_SEND_AFTER) ids_take(timers, first->id);
        pthread_mutex_unlock(&timers->lock);
        fire(first);
        pthread_mutex_lock(&timers->lock);
    }
    pthread_mutex_unlock(&timers->lock);
    return NULL;
}

lun_status core_timers_start(core_timers *timers, lun_error *error)
{
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_mutex_init(&timers->lock, NULL);
    pthread_cond_init(&timers->wake, &attributes);
    pthread_condattr_destroy(&attributes);
    timers->next_id = 1;
    if (pthread_create(&timers->thread, NULL, timer_thread, timers) != 0) {
        pthread_cond_destroy(&timers->wake);
        pthread_mutex_destroy(&timers->lock);
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "timer thread");
    }
    timers->started = true;
    return LUN_OK;
}

void core_timers_stop(core_timers *timers)
{
    if (!timers->started) return;
    pthread_mutex_lock(&timers->lock);
    timers->stop = true;
    pthread_cond_signal(&timers->wake);
    pthread_mutex_unlock(&timers->lock);
    pthread_join(timers->thread, NULL);
    for (size_t i = 0; i < timers->count; i++) {
        core_timer *timer = timers->heap[i];
        lun_process_release(timer->process);
        lun_message_free(timer->message);
        free(timer);
    }
    free(timers->heap);
    free(timers->by_id);
    pthread_cond_destroy(&timers->wake);
    pthread_mutex_destroy(&timers->lock);
    timers->started = false;
}

/* Returns false when out of memory; *id gets a send-after timer's id. */
static bool schedule_timer(core_timers *timers, core_timer *timer, uint64_t *id)
{
    pthread_mutex_lock(&timers->lock);
    bool inserted = heap_insert(timers, timer);
    if (inserted && timer->kind == CORE_TIMER_SEND_AFTER) {
        timer->id = timers->next_id++;
        if (!ids_insert(timers, timer)) {
            heap_remove(timers, timer);
            inserted = false;
        }
        if (inserted && id) *id = timer->id;
    }
    if (inserted && timer->heap_index == 0) pthread_cond_signal(&timers->wake);
    pthread_mutex_unlock(&timers->lock);
    return inserted;
}

static uint64_t deadline_after(uint64_t delay_ms)
{
    uint64_t limit = (UINT64_MAX - core_now_ns()) / 1000000ull;
    if (delay_ms > limit) delay_ms = limit;
    return core_now_ns() + delay_ms * 1000000ull;
}

core_timer *core_timer_arm_wait(lun_runtime *runtime, lun_process *process, uint64_t delay_ms)
{
    core_timer *timer = calloc(1, sizeof *timer);
    if (timer == NULL) return NULL;
    timer->kind = CORE_TIMER_WAIT;
    timer->deadline = deadline_after(delay_ms);
    timer->process = lun_process_retain(process);
    if (!schedule_timer(timers_of(runtime), timer, NULL)) {
        lun_process_release(process);
        free(timer);
        return NULL;
    }
    return timer;
}

void core_timer_disarm_wait(lun_runtime *runtime, core_timer *timer)
{
    core_timers *timers = timers_of(runtime);
    pthread_mutex_lock(&timers->lock);
    bool pending = timer->heap_index >= 0;
    if (pending) heap_remove(timers, timer);
    pthread_mutex_unlock(&timers->lock);
    if (pending) {
        lun_process_release(timer->process);
        free(timer);
    }
}

lun_status lun_timer_send_after(lun_process *target, lun_message *message, uint64_t delay_ms,
                                uint64_t *timer_id, lun_error *error)
{
    if (timer_id) *timer_id = 0;
    if (message == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null message");
    if (target == NULL) {
        lun_message_free(message);
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null process");
    }
    core_timer *timer = calloc(1, sizeof *timer);
    if (timer == NULL) {
        lun_message_free(message);
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "timer");
    }
    timer->kind = CORE_TIMER_SEND_AFTER;
    timer->deadline = deadline_after(delay_ms);
    timer->process = lun_process_retain(target);
    timer->message = message;
    core_timers *timers = timers_of(target->runtime);
    pthread_mutex_lock(&timers->lock);
    bool stopped = timers->stop || !timers->started;
    pthread_mutex_unlock(&timers->lock);
    uint64_t id = 0;
    if (stopped || !schedule_timer(timers, timer, &id)) {
        lun_process_release(target);
        lun_message_free(message);
        free(timer);
        return lun_error_set(error, stopped ? LUN_ERR_STATE : LUN_ERR_NO_MEMORY, "timer");
    }
    if (timer_id) *timer_id = id; /* the timer itself may already have fired */
    return LUN_OK;
}

bool lun_timer_cancel(lun_runtime *runtime, uint64_t timer_id)
{
    if (runtime == NULL || timer_id == 0) return false;
    core_timers *timers = timers_of(runtime);
    pthread_mutex_lock(&timers->lock);
    core_timer *timer = ids_take(timers, timer_id);
    if (timer != NULL) heap_remove(timers, timer);
    pthread_mutex_unlock(&timers->lock);
    if (timer == NULL) return false;
    lun_process_release(timer->process);
    lun_message_free(timer->message);
    free(timer);
    return true;
}
