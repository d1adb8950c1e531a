/*
 * The scheduler's idle path: an idle worker spins for a short while, then
 * parks. Wake-ups from outside threads that land while the worker spins,
 * just as it gives up spinning, and after it parked must all get the process
 * run (a lost wake-up hangs and the poll fails); and an idle runtime must
 * sleep rather than spin.
 *
 * Its spawn policy: a worker runs its newest spawn first, so a tree of
 * spawns runs depth-first (few alive at once), but neither a woken process
 * nor an old spawn waits forever behind an endless stream of spawns.
 */
#include "core_test.h"

#include <sys/resource.h>

typedef struct counter_state {
    int rounds_wanted;
    _Atomic int rounds;
} counter_state;

static lun_step_result counter_step(lun_process *self, void *state)
{
    counter_state *counter = state;
    while (atomic_load(&counter->rounds) < counter->rounds_wanted) {
        lun_status status = lun_process_wait_external(self, LUN_TIMEOUT_INFINITE, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) return LUN_STEP_FAILED;
        atomic_fetch_add(&counter->rounds, 1);
    }
    return LUN_STEP_DONE;
}

static uint64_t now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static void busy_wait_ns(uint64_t nanoseconds)
{
    uint64_t until = now_ns() + nanoseconds;
    while (now_ns() < until) {
    }
}

/* Polls without sleeping, so that the next notification comes while the
 * worker is still spinning (fails after 10 s: a lost wake-up). */
static void spin_until_count(_Atomic int *counter, int value)
{
    uint64_t deadline = now_ns() + 10000000000u;
    while (atomic_load(counter) < value)
        assert_true(now_ns() < deadline);
}

/* Gaps before each notification: none (the worker is still busy or
 * spinning), around the spin limit (it is giving up), and long enough that
 * it has parked. */
static void test_outside_wakes_reach_spinning_and_parked_workers(void **state)
{
    fixture *f = *state;
    static const uint64_t gaps_ns[] = {0, 1000, 15000, 20000, 25000, 40000, 300000};
    enum { GAPS = sizeof gaps_ns / sizeof gaps_ns[0] };
    counter_state counter = {.rounds_wanted = TEST_SCALE(2100, 350)};
    lun_process *process;
    assert_int_equal(
        lun_process_spawn(f->environment, counter_step, &counter, NULL, &process, NULL), LUN_OK);
    for (int i = 0; i < counter.rounds_wanted; i++) {
        busy_wait_ns(gaps_ns[i % GAPS]);
        lun_process_notify(process);
        spin_until_count(&counter.rounds, i + 1);
    }
    lun_process_result result = join(process);
    assert_int_equal(result.kind, LUN_RESULT_OK);
    lun_process_release(process);
}

static double cpu_seconds(void)
{
    struct rusage usage;
    assert_int_equal(getrusage(RUSAGE_SELF, &usage), 0);
    return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
           (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

/* Two workers that spun without end would burn about 0.6 s of CPU in this
 * 0.3 s window; parked workers burn next to nothing. */
static void test_idle_runtime_parks(void **state)
{
    fixture *f = *state;
    counter_state counter = {.rounds_wanted = 1};
    lun_process *process;
    assert_int_equal(
        lun_process_spawn(f->environment, counter_step, &counter, NULL, &process, NULL), LUN_OK);
    lun_process_notify(process);
    join(process);
    lun_process_release(process);
    sleep_ms(20); /* let the workers finish spinning */
    double before = cpu_seconds();
    sleep_ms(300);
    assert_true(cpu_seconds() - before < 0.15);
}

/* ---- depth-first spawning ---------------------------------------------- */

enum { TREE_FANOUT = 10 };

typedef struct tree_shared {
    lun_runtime *runtime;
    lun_environment *environment;
    _Atomic size_t peak_alive;
    _Atomic int64_t total;
} tree_shared;

typedef struct tree_node {
    tree_shared *shared;
    lun_process *parent; /* borrowed: it waits for this node's count */
    int depth;
    int spawned;
    int received;
    int64_t count;
} tree_node;

static void note_peak(tree_shared *shared)
{
    size_t alive = lun_runtime_process_count(shared->runtime);
    size_t peak = atomic_load(&shared->peak_alive);
    while (alive > peak && !atomic_compare_exchange_weak(&shared->peak_alive, &peak, alive)) {
    }
}

static lun_step_result tree_step(lun_process *self, void *state);

static lun_status tree_spawn(tree_shared *shared, lun_process *parent, int depth, lun_process **out)
{
    tree_node *node = calloc(1, sizeof *node);
    assert_non_null(node);
    *node = (tree_node){.shared = shared, .parent = parent, .depth = depth, .count = 1};
    lun_spawn_options options = {.state_free = free};
    return lun_process_spawn(shared->environment, tree_step, node, &options, out, NULL);
}

/* Spawns its children, adds up their counts, sends its own to its parent. */
static lun_step_result tree_step(lun_process *self, void *state)
{
    tree_node *node = state;
    if (node->spawned == 0) note_peak(node->shared);
    for (; node->depth > 0 && node->spawned < TREE_FANOUT; node->spawned++)
        if (tree_spawn(node->shared, self, node->depth - 1, NULL) != LUN_OK) return LUN_STEP_FAILED;
    while (node->received < node->spawned) {
        lun_message *message;
        lun_status status =
            lun_process_receive(self, NULL, 0, LUN_TIMEOUT_INFINITE, &message, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) return LUN_STEP_FAILED;
        int64_t count;
        memcpy(&count, lun_message_data(message), sizeof count);
        lun_message_free(message);
        node->count += count;
        node->received++;
    }
    if (node->parent == NULL) {
        atomic_store(&node->shared->total, node->count);
        return LUN_STEP_DONE;
    }
    lun_status status =
        lun_process_send_data(node->parent, 0, &node->count, sizeof node->count, NULL);
    return status == LUN_OK ? LUN_STEP_DONE : LUN_STEP_FAILED;
}

/* Breadth-first (a FIFO for spawns) about half the tree is alive at once;
 * depth-first, fan-out times depth per worker, plus what thieves and the
 * fairness turns open, plus parents whose children have all ended but
 * which still wait on the run queue to collect the counts (about 850 of
 * 11111 on two workers). */
static void test_spawn_tree_runs_depth_first(void **state)
{
    fixture *f = *state;
    int depth = 4; /* 11111 processes: cheap even under sanitizers */
    tree_shared shared = {.runtime = f->runtime, .environment = f->environment};
    lun_process *root;
    assert_int_equal(tree_spawn(&shared, NULL, depth, &root), LUN_OK);
    lun_process_result result = join(root);
    assert_int_equal(result.kind, LUN_RESULT_OK);
    lun_process_release(root);
    int64_t total = 1;
    for (int level = 0; level < depth; level++)
        total = total * TREE_FANOUT + 1;
    assert_int_equal(atomic_load(&shared.total), total);
    size_t peak = atomic_load(&shared.peak_alive);
    print_message("spawn tree: %lld processes, at most %zu alive\n", (long long)total, peak);
    assert_true(peak < (size_t)total / 4);
}

/* ---- fairness against endless spawning ----------------------------------- */

typedef struct chain_shared {
    lun_environment *environment;
    _Atomic bool stop;
    _Atomic int links;
    _Atomic int marker_ran;
    bool with_marker;
} chain_shared;

static lun_step_result marker_step(lun_process *self, void *state)
{
    (void)self;
    chain_shared *shared = state;
    atomic_store(&shared->marker_ran, 1);
    return LUN_STEP_DONE;
}

/* Each link spawns the next, then ends: the worker's spawn deque is never
 * empty until `stop`. The first link may first spawn a marker, which then
 * lies under every later spawn. */
static lun_step_result chain_step(lun_process *self, void *state)
{
    (void)self;
    chain_shared *shared = state;
    if (atomic_load(&shared->stop)) return LUN_STEP_DONE;
    if (atomic_fetch_add(&shared->links, 1) == 0 && shared->with_marker &&
        lun_process_spawn(shared->environment, marker_step, shared, NULL, NULL, NULL) != LUN_OK)
        return LUN_STEP_FAILED;
    lun_status status =
        lun_process_spawn(shared->environment, chain_step, shared, NULL, NULL, NULL);
    return status == LUN_OK ? LUN_STEP_DONE : LUN_STEP_FAILED;
}

typedef struct waiter_state {
    chain_shared *chain;
    _Atomic int got;
} waiter_state;

static lun_step_result waiter_step(lun_process *self, void *state)
{
    waiter_state *waiter = state;
    lun_message *message;
    lun_status status = lun_process_receive(self, NULL, 0, LUN_TIMEOUT_INFINITE, &message, NULL);
    if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
    if (status != LUN_OK) return LUN_STEP_FAILED;
    lun_message_free(message);
    atomic_store(&waiter->got, 1);
    return LUN_STEP_DONE;
}

static void wait_for_links(chain_shared *chain, int links)
{
    uint64_t deadline = now_ms() + 10000;
    while (atomic_load(&chain->links) < links) {
        assert_true(now_ms() < deadline);
        sleep_ms(1);
    }
}

static void stop_chain(chain_shared *chain)
{
    atomic_store(&chain->stop, true);
    int links;
    do { /* the chain has ended when no link is added for a while */
        links = atomic_load(&chain->links);
        sleep_ms(20);
    } while (atomic_load(&chain->links) != links);
}

/* One worker (no thief to help): a message to a waiting process lands on
 * the run queue behind a spawn deque that never empties. */
static void test_woken_process_not_starved_by_spawns(void **state)
{
    fixture *f = *state;
    chain_shared chain = {.environment = f->environment};
    waiter_state waiter = {.chain = &chain};
    lun_process *process;
    assert_int_equal(lun_process_spawn(f->environment, waiter_step, &waiter, NULL, &process, NULL),
                     LUN_OK);
    assert_int_equal(lun_process_spawn(f->environment, chain_step, &chain, NULL, NULL, NULL),
                     LUN_OK);
    wait_for_links(&chain, 1000);
    assert_int_equal(lun_process_send_data(process, 0, "x", 1, NULL), LUN_OK);
    wait_for_count(&waiter.got, 1);
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    lun_process_release(process);
    stop_chain(&chain);
}

/* One worker: the oldest spawn runs although newer ones keep coming. */
static void test_old_spawn_not_starved_by_newer_spawns(void **state)
{
    fixture *f = *state;
    chain_shared chain = {.environment = f->environment, .with_marker = true};
    assert_int_equal(lun_process_spawn(f->environment, chain_step, &chain, NULL, NULL, NULL),
                     LUN_OK);
    wait_for_count(&chain.marker_ran, 1);
    stop_chain(&chain);
}

static int setup_one_worker(void **state)
{
    *state = fixture_new(1);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outside_wakes_reach_spinning_and_parked_workers,
                                        setup_two_workers, teardown_fixture),
        cmocka_unit_test_setup_teardown(test_idle_runtime_parks, setup_two_workers,
                                        teardown_fixture),
        cmocka_unit_test_setup_teardown(test_spawn_tree_runs_depth_first, setup_two_workers,
                                        teardown_fixture),
        cmocka_unit_test_setup_teardown(test_woken_process_not_starved_by_spawns, setup_one_worker,
                                        teardown_fixture),
        cmocka_unit_test_setup_teardown(test_old_spawn_not_starved_by_newer_spawns,
                                        setup_one_worker, teardown_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
