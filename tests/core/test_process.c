/*
 * Processes: spawn and results, kill, links (failure propagation,
 * die_when_link_dies, NoProcess, unlink), monitors, environments and their
 * process tables, the registry, logging of failures, metrics, fairness.
 */
#include "core_test.h"

#include <pthread.h>

static lun_step_result done_step(lun_process *self, void *state)
{
    return LUN_STEP_DONE;
}

static lun_step_result fail_step(lun_process *self, void *state)
{
    lun_process_fail(self, "failure number %d", 7);
    return LUN_STEP_FAILED;
}

static lun_step_result spawn_error_step(lun_process *self, void *state)
{
    lun_process_fail_spawn(self, "no such module");
    return LUN_STEP_FAILED;
}

static lun_step_result wait_forever(lun_process *self, void *state)
{
    lun_message *message;
    lun_status status = lun_process_receive(self, NULL, 0, LUN_TIMEOUT_INFINITE, &message, NULL);
    if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
    lun_message_free(message);
    return LUN_STEP_DONE;
}

static lun_process *spawn(fixture *f, lun_step_fn step, void *state)
{
    lun_process *process = NULL;
    assert_int_equal(lun_process_spawn(f->environment, step, state, NULL, &process, NULL), LUN_OK);
    return process;
}

static void test_results(void **state)
{
    fixture *f = *state;
    lun_process *ok = spawn(f, done_step, NULL);
    lun_process *failed = spawn(f, fail_step, NULL);
    lun_process *spawn_error = spawn(f, spawn_error_step, NULL);
    lun_process_result result = join(ok);
    assert_int_equal(result.kind, LUN_RESULT_OK);
    assert_int_equal(result.reason, LUN_DEATH_NORMAL);
    assert_string_equal(result.message, "");
    result = join(failed);
    assert_int_equal(result.kind, LUN_RESULT_FAILED);
    assert_int_equal(result.reason, LUN_DEATH_FAILURE);
    assert_string_equal(result.message, "failure number 7");
    result = join(spawn_error);
    assert_int_equal(result.kind, LUN_RESULT_SPAWN_ERROR);
    assert_string_equal(result.message, "no such module");
    assert_false(lun_process_is_alive(ok));
    lun_process_release(ok);
    lun_process_release(failed);
    lun_process_release(spawn_error);
}

static void test_ids_and_table(void **state)
{
    fixture *f = fixture_new(2);
    assert_int_equal(lun_environment_process_count(f->environment), 0);
    lun_process *a = spawn(f, wait_forever, NULL);
    lun_process *b = spawn(f, wait_forever, NULL);
    assert_int_equal(lun_process_id(a), 1);
    assert_int_equal(lun_process_id(b), 2);
    assert_int_equal(lun_environment_process_count(f->environment), 2);
    assert_int_equal(lun_runtime_process_count(f->runtime), 2);
    lun_process *found = lun_environment_get_process(f->environment, 2);
    assert_ptr_equal(found, b);
    lun_process_release(found);
    assert_null(lun_environment_get_process(f->environment, 3));
    assert_ptr_equal(lun_process_environment(a), f->environment);
    /* Send by id. */
    lun_signal signal = {.kind = LUN_SIGNAL_MESSAGE, .message = tagged(0, 1)};
    assert_int_equal(lun_environment_send(f->environment, 1, &signal, NULL), LUN_OK);
    assert_int_equal(join(a).kind, LUN_RESULT_OK);
    /* Removed from the table when it ended. */
    assert_null(lun_environment_get_process(f->environment, 1));
    assert_int_equal(lun_environment_process_count(f->environment), 1);
    lun_process_release(a);
    lun_process_release(b);
    fixture_free(f); /* kills b */
}

/* The process table under churn: strided and blockwise deaths (keys that
 * share their low bits, runs of consecutive keys), growth, and lookups of
 * every id, alive or not. */
static void test_table_under_churn(void **state)
{
    fixture *f = fixture_new(2);
    enum { COUNT = 6000 };
    lun_process **processes = calloc(COUNT, sizeof *processes);
    assert_non_null(processes);
    for (int i = 0; i < COUNT; i++)
        processes[i] = spawn(f, wait_forever, NULL);
    /* Ids are 1..COUNT; end those with id % 64 == 0 (one shard emptied),
     * every id of a block, and every third of the rest. */
    bool *ended = calloc(COUNT + 1, sizeof *ended);
    assert_non_null(ended);
    for (uint64_t id = 1; id <= COUNT; id++)
        ended[id] = id % 64 == 0 || (id > 1000 && id <= 2500) || id % 3 == 0;
    for (uint64_t id = 1; id <= COUNT; id++)
        if (ended[id]) send_to(processes[id - 1], tagged(0, 0));
    size_t alive = 0;
    for (uint64_t id = 1; id <= COUNT; id++) {
        if (ended[id])
            assert_int_equal(join(processes[id - 1]).kind, LUN_RESULT_OK);
        else
            alive++;
    }
    assert_int_equal(lun_environment_process_count(f->environment), alive);
    for (uint64_t id = 1; id <= COUNT + 100; id++) {
        lun_process *found = lun_environment_get_process(f->environment, id);
        if (id > COUNT || ended[id]) {
            assert_null(found);
        } else {
            assert_ptr_equal(found, processes[id - 1]);
            lun_process_release(found);
        }
    }
    /* New ids land among the holes. */
    lun_process *late = spawn(f, wait_forever, NULL);
    assert_int_equal(lun_process_id(late), COUNT + 1);
    lun_process *found = lun_environment_get_process(f->environment, COUNT + 1);
    assert_ptr_equal(found, late);
    lun_process_release(found);
    lun_process_release(late);
    for (int i = 0; i < COUNT; i++)
        lun_process_release(processes[i]);
    free(processes);
    free(ended);
    fixture_free(f); /* kills the rest */
}

static void test_environment_set(void **state)
{
    fixture *f = *state;
    int64_t environments = lun_metrics_gauge("lunatic.process.environment.count");
    lun_environment *seven = NULL, *again = NULL;
    assert_int_equal(lun_environment_new(f->runtime, 7, &seven, NULL), LUN_OK);
    assert_int_equal(lun_environment_id(seven), 7);
    assert_ptr_equal(lun_environment_runtime(seven), f->runtime);
    assert_int_equal(lun_metrics_gauge("lunatic.process.environment.count"), environments + 1);
    assert_int_equal(lun_environment_new(f->runtime, 7, &again, NULL), LUN_ERR_STATE);
    assert_null(again);
    lun_environment *found = lun_environment_find(f->runtime, 7);
    assert_ptr_equal(found, seven);
    lun_environment_release(found);
    assert_null(lun_environment_find(f->runtime, 8));
    assert_int_equal(lun_environment_next_process_id(seven), 1);
    assert_int_equal(lun_environment_next_process_id(seven), 2);
    /* A process keeps its environment alive. */
    lun_process *process = NULL;
    assert_int_equal(lun_process_spawn(seven, wait_forever, NULL, NULL, &process, NULL), LUN_OK);
    assert_int_equal(lun_process_id(process), 3);
    lun_environment_release(seven);
    found = lun_environment_find(f->runtime, 7);
    assert_non_null(found);
    lun_environment_release(found);
    send_to(process, tagged(0, 0));
    join(process);
    lun_process_release(process);
    assert_null(lun_environment_find(f->runtime, 7));
    assert_int_equal(lun_metrics_gauge("lunatic.process.environment.count"), environments);
    assert_int_equal(lun_environment_new(NULL, 1, &again, NULL), LUN_ERR_INVALID_ARGUMENT);
}

static void test_kill(void **state)
{
    fixture *f = *state;
    lun_process *process = spawn(f, wait_forever, NULL);
    assert_int_equal(lun_process_kill(process, NULL), LUN_OK);
    assert_int_equal(lun_process_kill(process, NULL), LUN_OK); /* double kill */
    lun_process_result result = join(process);
    assert_int_equal(result.kind, LUN_RESULT_FAILED);
    assert_string_equal(result.message, "Process received Kill signal");
    /* Sending anything to a dead process is a silent no-op. */
    assert_int_equal(lun_process_kill(process, NULL), LUN_OK);
    send_to(process, tagged(1, 1));
    lun_signal link = {.kind = LUN_SIGNAL_LINK, .process = process};
    assert_int_equal(lun_process_send(process, &link, NULL), LUN_OK);
    lun_signal unlink = {.kind = LUN_SIGNAL_UNLINK, .process_id = 1234};
    assert_int_equal(lun_process_send(process, &unlink, NULL), LUN_OK);
    lun_process_release(process);
}

typedef struct sleeper {
    _Atomic int steps;
} sleeper;

static lun_step_result sleep_long(lun_process *self, void *state)
{
    sleeper *s = state;
    atomic_fetch_add(&s->steps, 1);
    lun_status status = lun_process_sleep(self, 60000, NULL);
    return status == LUN_ERR_WOULD_BLOCK ? LUN_STEP_WAIT : LUN_STEP_DONE;
}

static void test_kill_while_sleeping(void **state)
{
    fixture *f = *state;
    sleeper s = {0};
    lun_process *process = spawn(f, sleep_long, &s);
    wait_for_count(&s.steps, 1);
    lun_process_kill(process, NULL);
    /* Well before the 60 s sleep ends. */
    lun_process_result result;
    assert_int_equal(lun_process_join(process, 20000, &result, NULL), LUN_OK);
    assert_int_equal(result.kind, LUN_RESULT_FAILED);
    assert_int_equal(atomic_load(&s.steps), 1);
    lun_process_release(process);
}

static void test_link_failure_propagates(void **state)
{
    fixture *f = *state;
    lun_process *a = spawn(f, wait_forever, NULL);
    script s = {0};
    script_add(&s, SCRIPT_LINK, 0, 2, (int64_t)5, (int64_t)lun_process_id(a));
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)99);
    lun_process *b = spawn_script(f, &s);
    wait_for_count(&s.progress, 1);
    /* The link signals are handled before b steps again; a then dies. */
    sleep_ms(5);
    lun_process_kill(a, NULL);
    assert_int_equal(join(a).kind, LUN_RESULT_FAILED);
    lun_process_result result = join(b);
    assert_int_equal(result.kind, LUN_RESULT_FAILED);
    assert_string_equal(result.message, "Process received Kill signal");
    lun_process_release(a);
    lun_process_release(b);
}

static void test_link_died_as_message(void **state)
{
    fixture *f = *state;
    lun_process *a = spawn(f, wait_forever, NULL);
    lun_process *normal = spawn(f, wait_forever, NULL);
    script s = {0};
    script_add(&s, SCRIPT_DIE_FLAG, 0, 1, (int64_t)0);
    script_add(&s, SCRIPT_LINK, 0, 2, (int64_t)5, (int64_t)lun_process_id(a));
    script_add(&s, SCRIPT_LINK, 0, 2, (int64_t)6, (int64_t)lun_process_id(normal));
    script_add(&s, SCRIPT_LINK, 0, 2, (int64_t)8, (int64_t)999); /* no such process */
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)8);
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)99);
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 2, (int64_t)5, (int64_t)6);
    script_add(&s, SCRIPT_RECEIVE, 50, 2, (int64_t)5, (int64_t)6);
    lun_process *b = spawn_script(f, &s);
    wait_for_count(&s.progress, 5); /* got the NoProcess LinkDied */
    send_to(normal, tagged(0, 0));  /* normal exit: invisible to b */
    assert_int_equal(join(normal).kind, LUN_RESULT_OK);
    lun_process_kill(a, NULL);
    join(a);
    send_to(b, tagged(99, 0));
    assert_int_equal(join(b).kind, LUN_RESULT_OK);
    assert_int_equal(s.kind[4], LUN_MESSAGE_LINK_DIED);
    assert_int_equal(s.tag[4], 8);
    assert_int_equal(s.kind[6], LUN_MESSAGE_LINK_DIED);
    assert_int_equal(s.tag[6], 5);
    assert_int_equal(s.status[7], LUN_ERR_TIMEOUT); /* nothing for the normal death */
    lun_process_release(a);
    lun_process_release(normal);
    lun_process_release(b);
}

static void test_link_to_missing_process_kills(void **state)
{
    fixture *f = *state;
    script s = {0};
    script_add(&s, SCRIPT_LINK, 0, 2, (int64_t)1, (int64_t)424242);
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 0);
    lun_process *process = spawn_script(f, &s);
    assert_int_equal(join(process).kind, LUN_RESULT_FAILED);
    lun_process_release(process);
}

static void test_unlink(void **state)
{
    fixture *f = *state;
    lun_process *a = spawn(f, wait_forever, NULL);
    int64_t links = lun_metrics_gauge("lunatic.process.links.alive");
    script s = {0};
    script_add(&s, SCRIPT_UNLINK, 0, 1, (int64_t)lun_process_id(a)); /* never linked: no-op */
    script_add(&s, SCRIPT_UNLINK, 0, 1, (int64_t)777777);            /* unknown: no-op */
    script_add(&s, SCRIPT_LINK, 0, 2, (int64_t)5, (int64_t)lun_process_id(a));
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)1);
    script_add(&s, SCRIPT_UNLINK, 0, 1, (int64_t)lun_process_id(a));
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)2);
    lun_process *b = spawn_script(f, &s);
    wait_for_count(&s.progress, 3);
    send_to(b, tagged(1, 0));
    wait_for_count(&s.progress, 5);
    /* Both sides drop the link once they handled their Unlink signal. */
    uint64_t deadline = now_ms() + 10000;
    while (lun_metrics_gauge("lunatic.process.links.alive") != links) {
        assert_true(now_ms() < deadline);
        sleep_ms(1);
    }
    lun_process_kill(a, NULL);
    join(a);
    sleep_ms(10);
    assert_true(lun_process_is_alive(b)); /* not linked any more */
    send_to(b, tagged(2, 0));
    assert_int_equal(join(b).kind, LUN_RESULT_OK);
    lun_process_release(a);
    lun_process_release(b);
}

static void test_monitor(void **state)
{
    fixture *f = *state;
    lun_process *watched = spawn(f, wait_forever, NULL);
    lun_process *unwatched = spawn(f, wait_forever, NULL);
    uint64_t watched_id = lun_process_id(watched);
    script s = {0};
    script_add(&s, SCRIPT_MONITOR, 0, 1, (int64_t)watched_id);
    script_add(&s, SCRIPT_MONITOR, 0, 1, (int64_t)lun_process_id(unwatched));
    script_add(&s, SCRIPT_UNMONITOR, 0, 1, (int64_t)lun_process_id(unwatched));
    script_add(&s, SCRIPT_MONITOR, 0, 1, (int64_t)987654); /* unknown: nothing happens */
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 0);
    script_add(&s, SCRIPT_RECEIVE, 50, 0);
    lun_process *monitor = spawn_script(f, &s);
    wait_for_count(&s.progress, 4);
    sleep_ms(10);
    lun_process_kill(unwatched, NULL);
    join(unwatched);
    send_to(watched, tagged(0, 0)); /* ends normally: monitors still hear of it */
    join(watched);
    assert_int_equal(join(monitor).kind, LUN_RESULT_OK);
    assert_true(lun_process_is_alive(monitor) == false);
    assert_int_equal(s.kind[4], LUN_MESSAGE_PROCESS_DIED);
    assert_int_equal(s.process_id[4], watched_id);
    assert_int_equal(s.status[5], LUN_ERR_TIMEOUT);
    lun_process_release(watched);
    lun_process_release(unwatched);
    lun_process_release(monitor);
}

static void test_spawn_with_link(void **state)
{
    fixture *f = *state;
    script parent_script = {0};
    script_add(&parent_script, SCRIPT_DIE_FLAG, 0, 1, (int64_t)0);
    script_add(&parent_script, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 0);
    lun_process *parent = spawn_script(f, &parent_script);
    wait_for_count(&parent_script.progress, 1);
    lun_spawn_options options = {.link_with = parent, .link_tag = 31};
    lun_process *child = NULL;
    assert_int_equal(lun_process_spawn(f->environment, fail_step, NULL, &options, &child, NULL),
                     LUN_OK);
    assert_int_equal(join(child).kind, LUN_RESULT_FAILED);
    assert_int_equal(join(parent).kind, LUN_RESULT_OK);
    assert_int_equal(parent_script.kind[1], LUN_MESSAGE_LINK_DIED);
    assert_int_equal(parent_script.tag[1], 31);
    lun_process_release(parent);
    lun_process_release(child);
}

static int freed_states;
static void free_state(void *state)
{
    freed_states++;
    free(state);
}

static void test_spawn_bad_input(void **state)
{
    fixture *f = *state;
    lun_process *process = (lun_process *)1;
    lun_spawn_options options = {.state_free = free_state};
    freed_states = 0;
    assert_int_equal(lun_process_spawn(NULL, done_step, malloc(4), &options, &process, NULL),
                     LUN_ERR_INVALID_ARGUMENT);
    assert_null(process);
    assert_int_equal(lun_process_spawn(f->environment, NULL, malloc(4), &options, NULL, NULL),
                     LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(freed_states, 2);
    assert_int_equal(
        lun_process_spawn(f->environment, done_step, malloc(4), &options, &process, NULL), LUN_OK);
    join(process);
    assert_int_equal(freed_states, 3);
    lun_process_release(process);
    lun_process_release(NULL);
    assert_int_equal(lun_process_id(NULL), 0);
    assert_false(lun_process_is_alive(NULL));
    assert_int_equal(lun_process_join(NULL, 0, NULL, NULL), LUN_ERR_INVALID_ARGUMENT);
    process = spawn(f, wait_forever, NULL);
    lun_process_result result;
    assert_int_equal(lun_process_join(process, 10, &result, NULL), LUN_ERR_TIMEOUT);
    lun_process_kill(process, NULL);
    join(process);
    lun_process_release(process);
    lun_runtime *runtime = NULL;
    lun_runtime_config config = {.workers = 100000};
    assert_int_equal(lun_runtime_new(&config, &runtime, NULL), LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_runtime_new(NULL, NULL, NULL), LUN_ERR_INVALID_ARGUMENT);
}

/* A parent that spawns children from its step, monitors them, tells them to
 * end and collects one ProcessDied per child. */
typedef struct family {
    int children;
    int spawned;
    int died;
    uint64_t id_sum;
    uint64_t died_sum;
} family;

static lun_step_result parent_step(lun_process *self, void *state)
{
    family *fam = state;
    while (fam->spawned < fam->children) {
        lun_process *child = NULL;
        if (lun_process_spawn(lun_process_environment(self), wait_forever, NULL, NULL, &child,
                              NULL) != LUN_OK)
            return LUN_STEP_FAILED;
        lun_process_monitor(self, lun_process_id(child), NULL);
        lun_process_send_message(child, lun_message_new_data(0, 0), NULL);
        fam->id_sum += lun_process_id(child);
        lun_process_release(child);
        fam->spawned++;
    }
    while (fam->died < fam->children) {
        lun_message *message;
        lun_status status =
            lun_process_receive(self, NULL, 0, LUN_TIMEOUT_INFINITE, &message, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (lun_message_get_kind(message) != LUN_MESSAGE_PROCESS_DIED) {
            lun_message_free(message);
            lun_process_fail(self, "unexpected message");
            return LUN_STEP_FAILED;
        }
        fam->died_sum += lun_message_process_id(message);
        lun_message_free(message);
        fam->died++;
    }
    return LUN_STEP_DONE;
}

static void test_spawn_from_process(void **state)
{
    fixture *f = *state;
    family fam = {.children = 50};
    lun_process *parent = spawn(f, parent_step, &fam);
    assert_int_equal(join(parent).kind, LUN_RESULT_OK);
    assert_int_equal(fam.died, 50);
    assert_int_equal(fam.died_sum, fam.id_sum);
    lun_process_release(parent);
}

/* ---- registry and logging --------------------------------------------------- */

static void test_registry(void **state)
{
    fixture *f = *state;
    lun_registry *registry = lun_runtime_registry(f->runtime);
    uint64_t node = 9, id = 9;
    assert_int_equal(lun_registry_get(registry, "a", &node, &id), LUN_ERR_NOT_FOUND);
    assert_int_equal(lun_registry_put(registry, "a", 0, 17, NULL), LUN_OK);
    assert_int_equal(lun_registry_get(registry, "a", &node, &id), LUN_OK);
    assert_int_equal(node, 0);
    assert_int_equal(id, 17);
    assert_int_equal(lun_registry_put(registry, "a", 2, 18, NULL), LUN_OK);
    assert_int_equal(lun_registry_get(registry, "a", &node, &id), LUN_OK);
    assert_int_equal(node, 2);
    assert_int_equal(id, 18);
    for (int i = 0; i < 100; i++) {
        char name[32];
        snprintf(name, sizeof name, "name-%d", i);
        assert_int_equal(lun_registry_put(registry, name, 1, (uint64_t)i, NULL), LUN_OK);
    }
    assert_int_equal(lun_registry_get(registry, "name-77", &node, &id), LUN_OK);
    assert_int_equal(id, 77);
    assert_int_equal(lun_registry_remove(registry, "a"), LUN_OK);
    assert_int_equal(lun_registry_remove(registry, "a"), LUN_ERR_NOT_FOUND);
    assert_int_equal(lun_registry_get(registry, "a", &node, &id), LUN_ERR_NOT_FOUND);
    assert_int_equal(lun_registry_put(registry, NULL, 0, 0, NULL), LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_registry_get(NULL, "a", NULL, NULL), LUN_ERR_INVALID_ARGUMENT);
}

static lun_status make_entry(void *context, uint64_t *node, uint64_t *id)
{
    (*(int *)context)++;
    *node = 3;
    *id = 33;
    return LUN_OK;
}

static void test_registry_get_or_put(void **state)
{
    fixture *f = *state;
    lun_registry *registry = lun_runtime_registry(f->runtime);
    int calls = 0;
    uint64_t node = 0, id = 0;
    bool found = true;
    assert_int_equal(
        lun_registry_get_or_put(registry, "svc", make_entry, &calls, &node, &id, &found, NULL),
        LUN_OK);
    assert_false(found);
    assert_int_equal(id, 33);
    assert_int_equal(
        lun_registry_get_or_put(registry, "svc", make_entry, &calls, &node, &id, &found, NULL),
        LUN_OK);
    assert_true(found);
    assert_int_equal(node, 3);
    assert_int_equal(calls, 1);
}

typedef struct captured {
    pthread_mutex_t lock;
    char lines[8][512];
    int levels[8];
    int count;
} captured;

static void capture(lun_log_level level, const char *line, void *context)
{
    captured *c = context;
    pthread_mutex_lock(&c->lock);
    if (c->count < 8) {
        snprintf(c->lines[c->count], sizeof c->lines[0], "%s", line);
        c->levels[c->count] = level;
        c->count++;
    }
    pthread_mutex_unlock(&c->lock);
}

static void test_failure_logging(void **state)
{
    fixture *f = *state;
    captured c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    lun_log_set_sink(capture, &c);
    lun_log_set_level(LUN_LOG_WARN);
    script peer_script[2] = {0};
    lun_process *peers[2];
    for (int i = 0; i < 2; i++) {
        script_add(&peer_script[i], SCRIPT_DIE_FLAG, 0, 1, (int64_t)0);
        script_add(&peer_script[i], SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 0);
        peers[i] = spawn_script(f, &peer_script[i]);
        wait_for_count(&peer_script[i].progress, 1);
    }
    script s = {0};
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)1);
    script_add(&s, SCRIPT_LINK, 0, 2, (int64_t)1, (int64_t)lun_process_id(peers[0]));
    script_add(&s, SCRIPT_LINK, 0, 2, (int64_t)2, (int64_t)lun_process_id(peers[1]));
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)2);
    script_add(&s, SCRIPT_FAIL, 0, 0);
    lun_process *process = spawn_script(f, &s);
    lun_registry *registry = lun_runtime_registry(f->runtime);
    uint64_t id = lun_process_id(process);
    assert_int_equal(lun_registry_put(registry, "ProcessType/MessageType/Protocol/a", 0, id, NULL),
                     LUN_OK);
    assert_int_equal(lun_registry_put(registry, "b", 0, id, NULL), LUN_OK);
    send_to(process, tagged(1, 0));
    wait_for_count(&s.progress, 3);
    send_to(process, tagged(2, 0));
    assert_int_equal(join(process).kind, LUN_RESULT_FAILED);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(join(peers[i]).kind, LUN_RESULT_OK); /* LinkDied became a message */
        assert_int_equal(peer_script[i].kind[1], LUN_MESSAGE_LINK_DIED);
        assert_int_equal(peer_script[i].tag[1], i + 1);
        lun_process_release(peers[i]);
    }
    assert_int_equal(c.count, 1); /* the failure detail is at debug level */
    assert_int_equal(c.levels[0], LUN_LOG_WARN);
    const char *expected = "Process 'a' / 'b' failed, notifying: 2 links";
    assert_memory_equal(c.lines[0], expected, strlen(expected));

    /* At debug level the failure itself is logged too; killed processes are
     * named by id when they have no name. */
    lun_registry_remove(registry, "b");
    lun_registry_remove(registry, "ProcessType/MessageType/Protocol/a");
    c.count = 0;
    lun_log_set_level(LUN_LOG_DEBUG);
    lun_process *victim = spawn(f, wait_forever, NULL);
    lun_process_kill(victim, NULL);
    join(victim);
    lun_process *failing = spawn(f, fail_step, NULL);
    join(failing);
    lun_log_set_sink(NULL, NULL);
    lun_log_set_level(LUN_LOG_ERROR);
    char line[128];
    snprintf(line, sizeof line, "Process %llu was killed, notifying: 0 links",
             (unsigned long long)lun_process_id(victim));
    assert_int_equal(c.count, 4);
    assert_string_equal(c.lines[0], line);
    assert_int_equal(c.levels[1], LUN_LOG_DEBUG);
    snprintf(line, sizeof line, "Process %llu failed, notifying: 0 links",
             (unsigned long long)lun_process_id(failing));
    assert_string_equal(c.lines[2], line);
    assert_non_null(strstr(c.lines[3], "failure number 7"));
    lun_process_release(victim);
    lun_process_release(failing);
    lun_process_release(process);
}

static void test_log_levels(void **state)
{
    lun_log_set_level(LUN_LOG_WARN);
    assert_int_equal(lun_log_get_level(), LUN_LOG_WARN);
    captured c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    lun_log_set_sink(capture, &c);
    lun_log(LUN_LOG_INFO, "hidden");
    lun_log(LUN_LOG_ERROR, "shown %d", 1);
    lun_log_set_level(LUN_LOG_TRACE);
    lun_log(LUN_LOG_TRACE, "trace");
    lun_log_set_level(LUN_LOG_OFF);
    lun_log(LUN_LOG_ERROR, "off");
    lun_log_set_sink(NULL, NULL);
    lun_log_set_level(LUN_LOG_ERROR);
    assert_int_equal(c.count, 2);
    assert_string_equal(c.lines[0], "shown 1");
    assert_string_equal(c.lines[1], "trace");
}

/* ---- metrics ------------------------------------------------------------------ */

static void test_metrics(void **state)
{
    fixture *f = *state;
    uint64_t sent = lun_metrics_counter("lunatic.process.signals.send");
    uint64_t received = lun_metrics_counter("lunatic.process.signals.received");
    uint64_t messages = lun_metrics_counter("lunatic.process.messages.send");
    uint64_t data = lun_metrics_counter("lunatic.process.messages.data.count");
    uint64_t link_died = lun_metrics_counter("lunatic.process.messages.link_died.count");
    int64_t outstanding = lun_metrics_gauge("lunatic.process.messages.outstanding");
    int64_t processes = lun_metrics_gauge("lunatic.process.environment.process.count");
    int64_t links = lun_metrics_gauge("lunatic.process.links.alive");
    uint64_t size_count, size_sum, resources_count, resources_sum;
    assert_true(
        lun_metrics_histogram("lunatic.process.messages.data.size", &size_count, &size_sum));
    assert_true(lun_metrics_histogram("lunatic.process.messages.data.resources.count",
                                      &resources_count, &resources_sum));

    script s = {0};
    script_add(&s, SCRIPT_DIE_FLAG, 0, 1, (int64_t)0);
    script_add(&s, SCRIPT_RECEIVE, LUN_TIMEOUT_INFINITE, 1, (int64_t)4242);
    lun_process *process = spawn_script(f, &s);
    wait_for_count(&s.progress, 1);
    assert_int_equal(lun_metrics_gauge("lunatic.process.environment.process.count"), processes + 1);
    for (int i = 0; i < 10; i++)
        send_to(process, tagged(i + 1, i)); /* 8 bytes each */
    lun_message *with_resource = lun_message_new_data(1, 0);
    lun_message_push_resource(with_resource, malloc(1), &(lun_resource_type){"x", free}, NULL,
                              NULL);
    lun_message *with_resource_copy = with_resource;
    send_to(process, with_resource_copy);
    lun_signal died_signal = {.kind = LUN_SIGNAL_LINK_DIED, .tag = 9, .reason = LUN_DEATH_FAILURE};
    assert_int_equal(lun_process_send(process, &died_signal, NULL), LUN_OK);
    wait_for_metric("lunatic.process.signals.received", received, 13);
    /* The receive counter moves before the signal is handled: the last
     * signal's message metrics may still be on their way. */
    wait_for_metric("lunatic.process.messages.link_died.count", link_died, 1);
    wait_for_metric("lunatic.process.messages.send", messages, 12);
    wait_for_gauge("lunatic.process.messages.outstanding", outstanding + 12);
    assert_true(lun_metrics_counter("lunatic.process.signals.send") >= sent + 13);
    assert_int_equal(lun_metrics_counter("lunatic.process.messages.send"), messages + 12);
    assert_int_equal(lun_metrics_counter("lunatic.process.messages.data.count"), data + 11);
    assert_int_equal(lun_metrics_counter("lunatic.process.messages.link_died.count"),
                     link_died + 1);
    assert_int_equal(lun_metrics_gauge("lunatic.process.messages.outstanding"), outstanding + 12);
    uint64_t count, sum;
    lun_metrics_histogram("lunatic.process.messages.data.size", &count, &sum);
    assert_int_equal(count, size_count + 11);
    assert_int_equal(sum, size_sum + 80);
    lun_metrics_histogram("lunatic.process.messages.data.resources.count", &count, &sum);
    assert_int_equal(count, resources_count + 11);
    assert_int_equal(sum, resources_sum + 1);

    lun_process *peer = spawn(f, wait_forever, NULL);
    lun_signal link = {.kind = LUN_SIGNAL_LINK, .process = peer};
    lun_process_send(process, &link, NULL);
    wait_for_metric("lunatic.process.signals.received", received, 14);
    wait_for_gauge("lunatic.process.links.alive", links + 1);
    lun_process_kill(process, NULL);
    join(process);
    assert_int_equal(lun_metrics_gauge("lunatic.process.links.alive"), links);
    assert_int_equal(lun_metrics_gauge("lunatic.process.messages.outstanding"), outstanding);
    lun_process_kill(peer, NULL);
    join(peer);
    assert_int_equal(lun_metrics_gauge("lunatic.process.environment.process.count"), processes);
    assert_int_equal(lun_metrics_counter("no.such.metric"), 0);
    assert_int_equal(lun_metrics_gauge(NULL), 0);
    assert_false(lun_metrics_histogram("lunatic.process.signals.send", NULL, NULL));
    lun_process_release(process);
    lun_process_release(peer);
}

/* ---- fairness ---------------------------------------------------------------- */

static lun_step_result spin_forever(lun_process *self, void *state)
{
    atomic_fetch_add((_Atomic int *)state, 1);
    return LUN_STEP_YIELD;
}

typedef struct pinger {
    lun_process *peer;
    int rounds;
    int done;
    bool sent;
} pinger;

/* Sends its own id to the peer and waits for the reply, `rounds` times. */
static lun_step_result ping_step(lun_process *self, void *state)
{
    pinger *p = state;
    while (p->done < p->rounds) {
        if (!p->sent) {
            uint64_t id = lun_process_id(self);
            lun_message *message = lun_message_new_data(1, sizeof id);
            lun_message_write(message, &id, sizeof id, NULL);
            lun_process_send_message(p->peer, message, NULL);
            p->sent = true;
        }
        lun_message *reply;
        lun_status status = lun_process_receive(self, NULL, 0, LUN_TIMEOUT_INFINITE, &reply, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        lun_message_free(reply);
        p->sent = false;
        p->done++;
    }
    return LUN_STEP_DONE;
}

/* Replies to the process whose id the message carries. */
static lun_step_result echo_step(lun_process *self, void *state)
{
    for (;;) {
        lun_message *message;
        lun_status status =
            lun_process_receive(self, NULL, 0, LUN_TIMEOUT_INFINITE, &message, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        uint64_t id = 0;
        size_t read = 0;
        lun_message_read(message, &id, sizeof id, &read, NULL);
        lun_environment_send(lun_process_environment(self), id,
                             &(lun_signal){.kind = LUN_SIGNAL_MESSAGE, .message = message}, NULL);
    }
}

static void test_yielding_process_cannot_starve(void **state)
{
    fixture *f = fixture_new(1); /* one worker: the spinners would hog it */
    _Atomic int spins = 0;
    lun_process *spinners[3];
    for (int i = 0; i < 3; i++)
        spinners[i] = spawn(f, spin_forever, &spins);
    wait_for_count(&spins, 100);
    lun_process *echo = spawn(f, echo_step, NULL);
    pinger p = {.rounds = 200, .peer = echo};
    lun_process *ping = spawn(f, ping_step, &p);
    lun_process_result result;
    assert_int_equal(lun_process_join(ping, 20000, &result, NULL), LUN_OK);
    assert_int_equal(result.kind, LUN_RESULT_OK);
    assert_int_equal(p.done, 200);
    for (int i = 0; i < 3; i++) {
        assert_true(lun_process_is_alive(spinners[i]));
        lun_process_release(spinners[i]);
    }
    lun_process_release(ping);
    lun_process_release(echo);
    (void)state;
    fixture_free(f); /* kills the spinners and the echo */
}

/* ---- work stealing ------------------------------------------------------------- */

typedef struct spreader {
    int children;
    int spawned;
    _Atomic int thread_count;
    _Atomic int finished;
    lun_status join_status;
} spreader;

typedef struct spread_child {
    spreader *parent;
    int steps;
} spread_child;

static lun_step_result spread_child_step(lun_process *self, void *state)
{
    spread_child *child = state;
    spreader *parent = child->parent;
    /* Worker threads are new for every fixture: count each once. */
    static _Thread_local spreader *counted_for;
    if (counted_for != parent) {
        counted_for = parent;
        atomic_fetch_add(&parent->thread_count, 1);
    }
    sleep_ms(1); /* a step that takes a while: the other worker should steal */
    if (++child->steps < 20) return LUN_STEP_YIELD;
    atomic_fetch_add(&parent->finished, 1);
    return LUN_STEP_DONE;
}

static lun_step_result spreader_step(lun_process *self, void *state)
{
    spreader *s = state;
    /* Children spawned from a step land on this worker's own run queue. */
    for (; s->spawned < s->children; s->spawned++) {
        spread_child *child = calloc(1, sizeof *child);
        child->parent = s;
        lun_spawn_options options = {.state_free = free};
        if (lun_process_spawn(lun_process_environment(self), spread_child_step, child, &options,
                              NULL, NULL) != LUN_OK)
            return LUN_STEP_FAILED;
    }
    lun_process_result result;
    s->join_status = lun_process_join(self, 0, &result, NULL); /* refused on a worker */
    return LUN_STEP_DONE;
}

static void test_idle_worker_steals(void **state)
{
    fixture *f = *state;
    spreader s = {.children = 16};
    lun_process *process = spawn(f, spreader_step, &s);
    join(process);
    assert_int_equal(s.join_status, LUN_ERR_STATE);
    wait_for_count(&s.finished, s.children);
    assert_true(atomic_load(&s.thread_count) >= 2); /* children ran on both workers */
    lun_process_release(process);
}

int main(void)
{
    lun_log_set_level(LUN_LOG_ERROR);
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup_two_workers, teardown_fixture)
        T(test_results),
        cmocka_unit_test(test_ids_and_table),
        cmocka_unit_test(test_table_under_churn),
        T(test_environment_set),
        T(test_kill),
        T(test_kill_while_sleeping),
        T(test_link_failure_propagates),
        T(test_link_died_as_message),
        T(test_link_to_missing_process_kills),
        T(test_unlink),
        T(test_monitor),
        T(test_spawn_with_link),
        T(test_spawn_bad_input),
        T(test_spawn_from_process),
        T(test_registry),
        T(test_registry_get_or_put),
        T(test_failure_logging),
        cmocka_unit_test(test_log_levels),
        T(test_metrics),
        cmocka_unit_test(test_yielding_process_cannot_starve),
        T(test_idle_worker_steals),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
