/*
 * The scheduler: one worker thread per core, each with its own run queue
 * (a growable ring the owner pushes to and everyone takes from, so work can
 * be stolen), a deque of the processes it spawned (served newest first, so
 * spawn trees run depth-first; thieves take the oldest) and an inbox (a
 * lock-free MPSC queue) for processes woken from threads that are not
 * workers. Idle workers steal, spin for a bounded few microseconds, then
 * park on a futex; a worker is woken only when there is work it could take,
 * and never with a futex call while it spins.
 */
#include "core_internal.h"

#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

_Thread_local core_worker *core_current_worker;
#ifdef CORE_TSAN
_Atomic unsigned core_fence_word;
#endif

enum { INITIAL_RING = 256, STEAL_ROUNDS = 3 };

/* A worker prefers its newest spawn to its run queue: the child runs while
 * its parent's memory is warm, leaves end before the rest of the tree is
 * spawned and their memory is reused (a breadth-first skynet keeps a million
 * processes alive at once). The cost of the preference is fairness, so one
 * pick in FAIR_EVERY takes the run queue first and another (half a period
 * later) the oldest spawn first: a process woken by a message with d
 * processes ahead of it in the run queue runs within FAIR_EVERY * (d + 1)
 * picks however fast others spawn, and so does a spawn buried under an
 * endless stream of newer ones. Each pick is one turn of at most
 * STEP_BUDGET steps. 61, as Go's scheduler: a prime, so that it does not
 * beat with a periodic workload; 1/61 of a spawn storm runs breadth-first. */
enum { FAIR_EVERY = 61 };

/* How long an idle worker spins, looking for work, before it yields and
 * then parks. A message round trip between two workers takes a few hundred
 * nanoseconds; a futex sleep and wake-up costs microseconds on both sides.
 * Bounded, so that an idle runtime still sleeps. */
enum { SPIN_NS = 20 * 1000, SPIN_CHECK_EVERY = 8 };

/* Values of core_worker.parked: only the owner stores SPINNING and AWAKE
 * over SPINNING; others only move PARKED to AWAKE (unpark). A waker never
 * calls futex_wake for a spinning worker: it finds the work by itself. */
enum { AWAKE = 0, PARKED = 1, SPINNING = 2 };

/* ---- parking ---------------------------------------------------------- */

static void futex_wait(_Atomic uint32_t *word, uint32_t value)
{
#ifdef __linux__
    /* No timeout: an idle worker sleeps until someone hands it work (see
     * park() and push_remote() for the handshake that makes this safe). */
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
#else
    (void)value;
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 100 * 1000};
    if (atomic_load(word) == value) nanosleep(&pause, NULL);
#endif
}

static void futex_wake(_Atomic uint32_t *word)
{
#ifdef __linux__
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
#else
    (void)word;
#endif
}

static bool unpark(core_worker *worker)
{
    uint32_t expected = PARKED;
    if (atomic_load_explicit(&worker->parked, memory_order_relaxed) != PARKED ||
        !atomic_compare_exchange_strong(&worker->parked, &expected, AWAKE))
        return false;
    futex_wake(&worker->parked);
    return true;
}

static void wake_one(lun_runtime *runtime)
{
    for (unsigned i = 0; i < runtime->worker_count; i++)
        if (unpark(&runtime->workers[i])) return;
}

/* ---- the run queue ------------------------------------------------------ */

static core_ring *ring_new(size_t capacity)
{
    core_ring *ring = malloc(sizeof *ring + capacity * sizeof ring->slots[0]);
    if (ring == NULL) return NULL;
    ring->capacity = capacity;
    ring->retired_next = NULL;
    return ring;
}

/* Owner only: a ring twice as big holding entries [top, bottom), or NULL.
 * The old one is retired, not freed: thieves may still read it (all are
 * freed at shutdown). The caller publishes the new ring. */
static core_ring *ring_grow(core_ring *ring, size_t top, size_t bottom, core_ring **retired)
{
    core_ring *bigger = ring_new(ring->capacity * 2);
    if (bigger == NULL) return NULL;
    for (size_t i = top; i < bottom; i++)
        atomic_store_explicit(
            &bigger->slots[i & (bigger->capacity - 1)],
            atomic_load_explicit(&ring->slots[i & (ring->capacity - 1)], memory_order_relaxed),
            memory_order_relaxed);
    ring->retired_next = *retired;
    *retired = ring;
    return bigger;
}

static size_t deque_size(core_deque *deque)
{
    size_t bottom = atomic_load_explicit(&deque->bottom, memory_order_acquire);
    size_t top = atomic_load_explicit(&deque->top, memory_order_acquire);
    return bottom > top ? bottom - top : 0;
}

/* Owner only. False when the ring could not grow. */
static bool deque_push(core_deque *deque, lun_process *process)
{
    size_t bottom = atomic_load_explicit(&deque->bottom, memory_order_relaxed);
    size_t top = atomic_load_explicit(&deque->top, memory_order_acquire);
    core_ring *ring = atomic_load_explicit(&deque->ring, memory_order_relaxed);
    if (bottom - top >= ring->capacity) {
        ring = ring_grow(ring, top, bottom, &deque->retired);
        if (ring == NULL) return false;
        atomic_store_explicit(&deque->ring, ring, memory_order_release);
    }
    atomic_store_explicit(&ring->slots[bottom & (ring->capacity - 1)], process,
                          memory_order_relaxed);
    atomic_store_explicit(&deque->bottom, bottom + 1, memory_order_release);
    return true;
}

/* Anyone: takes the oldest entry. */
static lun_process *deque_take(core_deque *deque)
{
    for (;;) {
        size_t top = atomic_load_explicit(&deque->top, memory_order_acquire);
        size_t bottom = atomic_load_explicit(&deque->bottom, memory_order_acquire);
        if (top >= bottom) return NULL;
        core_ring *ring = atomic_load_explicit(&deque->ring, memory_order_acquire);
        lun_process *process =
            atomic_load_explicit(&ring->slots[top & (ring->capacity - 1)], memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&deque->top, &top, top + 1, memory_order_acq_rel,
                                                  memory_order_relaxed))
            return process;
    }
}

/* ---- the spawn deque --------------------------------------------------- */

/* Chase-Lev, in the C11 form of Lê, Pop, Cohen and Zappa Nardelli (PPoPP
 * 2013), with core_full_fence for their seq_cst fences (ThreadSanitizer
 * does not model fences) and release/acquire on bottom instead of a
 * release fence, for the same reason. */

static size_t lifo_size(core_lifo *lifo)
{
    int64_t bottom = atomic_load_explicit(&lifo->bottom, memory_order_acquire);
    int64_t top = atomic_load_explicit(&lifo->top, memory_order_acquire);
    return bottom > top ? (size_t)(bottom - top) : 0;
}

/* Owner only. False when the ring could not grow. A stale top only makes
 * the ring look fuller than it is. */
static bool lifo_push(core_lifo *lifo, lun_process *process)
{
    int64_t bottom = atomic_load_explicit(&lifo->bottom, memory_order_relaxed);
    int64_t top = atomic_load_explicit(&lifo->top, memory_order_acquire);
    core_ring *ring = atomic_load_explicit(&lifo->ring, memory_order_relaxed);
    if ((size_t)(bottom - top) >= ring->capacity) {
        ring = ring_grow(ring, (size_t)top, (size_t)bottom, &lifo->retired);
        if (ring == NULL) return false;
        atomic_store_explicit(&lifo->ring, ring, memory_order_release);
    }
    atomic_store_explicit(&ring->slots[(size_t)bottom & (ring->capacity - 1)], process,
                          memory_order_relaxed);
    atomic_store_explicit(&lifo->bottom, bottom + 1, memory_order_release);
    return true;
}

/* Owner only: takes the newest entry. The owner claims slot bottom - 1 by
 * lowering bottom, then looks at top; a thief reads top, then bottom; the
 * fences between make at least one of them see the other, and the last
 * entry, the only one both may want, goes to whoever wins the CAS on top. */
static lun_process *lifo_pop(core_lifo *lifo)
{
    int64_t bottom = atomic_load_explicit(&lifo->bottom, memory_order_relaxed);
    /* Empty without a fence: only the owner raises bottom, top only grows. */
    if (bottom <= atomic_load_explicit(&lifo->top, memory_order_relaxed)) return NULL;
    bottom--;
    core_ring *ring = atomic_load_explicit(&lifo->ring, memory_order_relaxed);
    atomic_store_explicit(&lifo->bottom, bottom, memory_order_relaxed);
    core_full_fence();
    int64_t top = atomic_load_explicit(&lifo->top, memory_order_relaxed);
    if (top > bottom) {
        /* Thieves took everything meanwhile. */
        atomic_store_explicit(&lifo->bottom, bottom + 1, memory_order_relaxed);
        return NULL;
    }
    lun_process *process = atomic_load_explicit(&ring->slots[(size_t)bottom & (ring->capacity - 1)],
                                                memory_order_relaxed);
    if (top == bottom) {
        if (!atomic_compare_exchange_strong_explicit(&lifo->top, &top, top + 1,
                                                     memory_order_seq_cst, memory_order_relaxed))
            process = NULL;
        atomic_store_explicit(&lifo->bottom, bottom + 1, memory_order_relaxed);
    }
    return process;
}

/* Anyone: takes the oldest entry. Indices are never reused below top, so
 * a slot read before a failed CAS is simply dropped. */
static lun_process *lifo_steal(core_lifo *lifo)
{
    /* Looks empty: no fence. A stale view is harmless, as in deque_take:
     * an idle worker looks again with a fence before it parks (park()). */
    if (lifo_size(lifo) == 0) return NULL;
    for (;;) {
        int64_t top = atomic_load_explicit(&lifo->top, memory_order_acquire);
        core_full_fence();
        int64_t bottom = atomic_load_explicit(&lifo->bottom, memory_order_acquire);
        if (top >= bottom) return NULL;
        core_ring *ring = atomic_load_explicit(&lifo->ring, memory_order_acquire);
        lun_process *process = atomic_load_explicit(
            &ring->slots[(size_t)top & (ring->capacity - 1)], memory_order_relaxed);
        if (atomic_compare_exchange_strong_explicit(&lifo->top, &top, top + 1, memory_order_seq_cst,
                                                    memory_order_relaxed))
            return process;
    }
}

static lun_process *process_of_node(core_node *node)
{
    return (lun_process *)((char *)node - offsetof(lun_process, run_node));
}

/* ---- scheduling --------------------------------------------------------- */

/* A spinning worker if there is one (it needs no futex wake), else a parked
 * one, else the next in turn. */
static core_worker *remote_target(lun_runtime *runtime)
{
    core_worker *parked = NULL;
    for (unsigned i = 0; i < runtime->worker_count; i++) {
        uint32_t state = atomic_load_explicit(&runtime->workers[i].parked, memory_order_relaxed);
        if (state == SPINNING) return &runtime->workers[i];
        if (state == PARKED && parked == NULL) parked = &runtime->workers[i];
    }
    return parked;
}

static void push_remote(lun_runtime *runtime, lun_process *process)
{
    core_worker *target = remote_target(runtime);
    if (target == NULL) {
        unsigned at = atomic_fetch_add_explicit(&runtime->remote_cursor, 1, memory_order_relaxed);
        target = &runtime->workers[at % runtime->worker_count];
    }
    core_mpsc_push(&target->inbox, &process->run_node);
    core_full_fence();
    unpark(target);
}

/* queued: how many entries the queue just pushed to holds. */
static void maybe_wake_helper(lun_runtime *runtime, size_t queued)
{
    if (queued < 2) return;
    core_full_fence();
    if (atomic_load_explicit(&runtime->sleepers, memory_order_relaxed) > 0 &&
        atomic_load_explicit(&runtime->searching, memory_order_relaxed) == 0)
        wake_one(runtime);
}

void core_schedule(lun_runtime *runtime, lun_process *process)
{
    core_worker *worker = core_current_worker;
    if (worker != NULL && worker->runtime == runtime && deque_push(&worker->deque, process)) {
        maybe_wake_helper(runtime, deque_size(&worker->deque));
        return;
    }
    push_remote(runtime, process);
}

void core_schedule_spawned(lun_runtime *runtime, lun_process *process)
{
    core_worker *worker = core_current_worker;
    if (worker != NULL && worker->runtime == runtime && lifo_push(&worker->spawned, process)) {
        worker->spawned_pending++;
        maybe_wake_helper(runtime, lifo_size(&worker->spawned));
        return;
    }
    core_schedule(runtime, process);
}

void core_notify_shutdown(lun_runtime *runtime)
{
    if (atomic_load_explicit(&runtime->shutdown_waiters, memory_order_seq_cst) == 0) return;
    pthread_mutex_lock(&runtime->join_lock);
    pthread_cond_broadcast(&runtime->join_cond);
    pthread_mutex_unlock(&runtime->join_lock);
}

core_join_bucket *core_join_bucket_of(lun_process *process)
{
    uintptr_t key = (uintptr_t)process / sizeof(void *);
    key = (key ^ (key >> 7) ^ (key >> 13)) % CORE_JOIN_BUCKETS;
    return &process->runtime->join_buckets[key];
}

void core_notify_joiners(lun_process *process)
{
    /* seq_cst: pairs with the joiner's store of `joined` before it looks at
     * the run state (see wait_for_death in process.c). */
    if (atomic_load_explicit(&process->joined, memory_order_seq_cst) == 0) return;
    core_join_bucket *bucket = core_join_bucket_of(process);
    pthread_mutex_lock(&bucket->lock);
    pthread_cond_broadcast(&bucket->cond);
    pthread_mutex_unlock(&bucket->lock);
}

/* ---- workers ------------------------------------------------------------ */

static void drain_inbox(core_worker *worker)
{
    core_node *node;
    bool moved = false;
    while ((node = core_mpsc_pop(&worker->inbox)) != NULL) {
        lun_process *process = process_of_node(node);
        if (!deque_push(&worker->deque, process)) {
            /* Out of memory for a bigger ring: run it now rather than lose it. */
            core_process_run(process);
        }
        moved = true;
    }
    if (moved) maybe_wake_helper(worker->runtime, deque_size(&worker->deque));
}

static bool work_available(core_worker *worker)
{
    lun_runtime *runtime = worker->runtime;
    if (!core_mpsc_is_empty(&worker->inbox)) return true;
    for (unsigned i = 0; i < runtime->worker_count; i++) {
        core_worker *other = &runtime->workers[i];
        if (deque_size(&other->deque) > 0 || lifo_size(&other->spawned) > 0) return true;
    }
    return false;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

static uint64_t monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* Spins up to SPIN_NS until work shows up anywhere (or the runtime stops).
 * The caller counts as searching, so pushers on busy workers do not wake a
 * parked worker meanwhile; the SPINNING mark steers remote pushes here. */
static void spin_for_work(core_worker *worker)
{
    lun_runtime *runtime = worker->runtime;
    atomic_store_explicit(&worker->parked, SPINNING, memory_order_relaxed);
    uint64_t deadline = monotonic_ns() + SPIN_NS;
    for (unsigned i = 1; !work_available(worker); i++) {
        if (atomic_load_explicit(&runtime->stopping, memory_order_relaxed)) break;
        if (i % SPIN_CHECK_EVERY == 0 && monotonic_ns() >= deadline) break;
        cpu_relax();
    }
    atomic_store_explicit(&worker->parked, AWAKE, memory_order_relaxed);
}

/* Owner: the newest spawn, else the run queue, but for the fairness turns
 * (see FAIR_EVERY). */
static lun_process *pick(core_worker *worker)
{
    unsigned turn = ++worker->picks;
    lun_process *process = NULL;
    if (turn == FAIR_EVERY) {
        worker->picks = 0;
        process = deque_take(&worker->deque);
    } else if (turn == FAIR_EVERY / 2)
        process = lifo_steal(&worker->spawned);
    if (process == NULL && worker->spawned_pending > 0) {
        process = lifo_pop(&worker->spawned);
        /* NULL: thieves took the rest. */
        worker->spawned_pending = process != NULL ? worker->spawned_pending - 1 : 0;
    }
    if (process == NULL) process = deque_take(&worker->deque);
    return process;
}

static lun_process *steal(core_worker *worker)
{
    lun_runtime *runtime = worker->runtime;
    unsigned count = runtime->worker_count;
    lun_process *process = NULL;
    atomic_fetch_add(&runtime->searching, 1);
    for (int round = 0; round < STEAL_ROUNDS && process == NULL; round++) {
        worker->random = worker->random * 6364136223846793005ull + 1442695040888963407ull;
        unsigned start = (unsigned)(worker->random >> 33) % count;
        for (unsigned i = 0; i < count && process == NULL; i++) {
            core_worker *victim = &runtime->workers[(start + i) % count];
            if (victim == worker) continue;
            /* The oldest spawn first: in a tree it is the biggest subtree. */
            process = lifo_steal(&victim->spawned);
            if (process == NULL) process = deque_take(&victim->deque);
        }
        if (process == NULL) {
            drain_inbox(worker);
            process = pick(worker);
        }
        /* Spin first (the work usually comes back within a round trip),
         * then give the core away once before parking. */
        if (process == NULL && round == 0)
            spin_for_work(worker);
        else if (process == NULL && round + 1 < STEAL_ROUNDS)
            sched_yield();
    }
    atomic_fetch_sub(&runtime->searching, 1);
    return process;
}

/* Announce, then look: a pusher publishes work, then looks for a parked
 * worker. With a full fence on both sides, at least one of the two sees
 * the other, so work is never left with every worker asleep. */
static void park(core_worker *worker)
{
    lun_runtime *runtime = worker->runtime;
    atomic_store(&worker->parked, PARKED);
    atomic_fetch_add(&runtime->sleepers, 1);
    core_full_fence();
    if (work_available(worker) || atomic_load(&runtime->stopping)) {
        atomic_store(&worker->parked, AWAKE);
    } else {
        while (atomic_load(&worker->parked) == PARKED && !atomic_load(&runtime->stopping)) {
            futex_wait(&worker->parked, PARKED);
            if (work_available(worker)) atomic_store(&worker->parked, AWAKE);
        }
    }
    atomic_fetch_sub(&runtime->sleepers, 1);
}

static void *worker_main(void *argument)
{
    core_worker *worker = argument;
    lun_runtime *runtime = worker->runtime;
    core_current_worker = worker;
    while (!atomic_load_explicit(&runtime->stopping, memory_order_acquire)) {
        drain_inbox(worker);
        lun_process *process = pick(worker);
        if (process == NULL) process = steal(worker);
        if (process == NULL) {
            park(worker);
            continue;
        }
        core_process_run(process);
    }
    core_current_worker = NULL;
    return NULL;
}

lun_status core_scheduler_start(lun_runtime *runtime, lun_error *error)
{
    runtime->workers = aligned_alloc(CORE_CACHE_LINE, sizeof(core_worker) * runtime->worker_count);
    if (runtime->workers == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "workers");
    for (unsigned i = 0; i < runtime->worker_count; i++) {
        core_worker *worker = &runtime->workers[i];
        memset(worker, 0, sizeof *worker);
        worker->runtime = runtime;
        worker->index = i;
        worker->random = 0x9E3779B97F4A7C15ull * (i + 1);
        core_mpsc_init(&worker->inbox);
        core_ring *ring = ring_new(INITIAL_RING);
        core_ring *spawned = ring_new(INITIAL_RING);
        atomic_init(&worker->deque.ring, ring);
        atomic_init(&worker->spawned.ring, spawned);
        if (ring == NULL || spawned == NULL) {
            runtime->worker_count = i + 1;
            core_scheduler_stop(runtime);
            return lun_error_set(error, LUN_ERR_NO_MEMORY, "run queue");
        }
    }
    for (unsigned i = 0; i < runtime->worker_count; i++) {
        core_worker *worker = &runtime->workers[i];
        if (pthread_create(&worker->thread, NULL, worker_main, worker) != 0) {
            core_scheduler_stop(runtime);
            return lun_error_set(error, LUN_ERR_NO_MEMORY, "worker thread");
        }
        worker->started = true;
    }
    return LUN_OK;
}

static void free_retired(core_ring *ring)
{
    while (ring != NULL) {
        core_ring *next = ring->retired_next;
        free(ring);
        ring = next;
    }
}

void core_scheduler_stop(lun_runtime *runtime)
{
    if (runtime->workers == NULL) return;
    atomic_store(&runtime->stopping, true);
    for (unsigned i = 0; i < runtime->worker_count; i++) {
        core_worker *worker = &runtime->workers[i];
        atomic_store(&worker->parked, AWAKE);
        futex_wake(&worker->parked);
    }
    /* Every worker is joined before any ring goes: a worker still running
     * may be stealing from another's rings. */
    for (unsigned i = 0; i < runtime->worker_count; i++)
        if (runtime->workers[i].started) pthread_join(runtime->workers[i].thread, NULL);
    for (unsigned i = 0; i < runtime->worker_count; i++) {
        core_worker *worker = &runtime->workers[i];
        free(atomic_load(&worker->deque.ring));
        free(atomic_load(&worker->spawned.ring));
        free_retired(worker->deque.retired);
        free_retired(worker->spawned.retired);
    }
    free(runtime->workers);
    runtime->workers = NULL;
}
