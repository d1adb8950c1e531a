/*
 * Big runs: a 100,000-process link cascade and 10,000,000 messages from
 * several senders received in per-sender order (scaled down under the
 * sanitizers), plus many processes spawned and ended from several threads.
 */
#include "core_test.h"

#include <pthread.h>

static lun_step_result wait_forever(lun_process *self, void *state)
{
    lun_message *message;
    lun_status status = lun_process_receive(self, NULL, 0, LUN_TIMEOUT_INFINITE, &message, NULL);
    if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
    lun_message_free(message);
    return LUN_STEP_DONE;
}

static void test_link_cascade(void **state)
{
    fixture *f = *state;
    const size_t count = TEST_SCALE(100000, 10000);
    int64_t links = lun_metrics_gauge("lunatic.process.links.alive");
    lun_process **chain = calloc(count, sizeof *chain);
    assert_non_null(chain);
    for (size_t i = 0; i < count; i++) {
        lun_spawn_options options = {.link_with = i ? chain[i - 1] : NULL, .link_tag = (int64_t)i};
        assert_int_equal(
            lun_process_spawn(f->environment, wait_forever, NULL, &options, &chain[i], NULL),
            LUN_OK);
    }
    assert_int_equal(lun_environment_process_count(f->environment), count);
    lun_process_kill(chain[0], NULL);
    for (size_t i = 0; i < count; i++) {
        lun_process_result result = join(chain[i]);
        assert_int_equal(result.kind, LUN_RESULT_FAILED);
        assert_string_equal(result.message, "Process received Kill signal");
        lun_process_release(chain[i]);
    }
    free(chain);
    assert_int_equal(lun_environment_process_count(f->environment), 0);
    assert_int_equal(lun_metrics_gauge("lunatic.process.links.alive"), links);
}

/* ---- per-sender order ------------------------------------------------------- */

enum { SENDERS = 4, WINDOW = 4096, ACK_TAG = 1000 };

typedef struct order_receiver {
    uint64_t per_sender;
    uint64_t next[SENDERS];
    uint64_t total;
    bool in_order;
    lun_process *senders[SENDERS];
} order_receiver;

typedef struct order_sender {
    int index;
    uint64_t count;
    uint64_t sent;
    lun_process *receiver;
    bool waiting_ack;
} order_sender;

static lun_step_result sender_step(lun_process *self, void *state)
{
    order_sender *s = state;
    while (s->sent < s->count) {
        if (s->waiting_ack) {
            lun_message *ack;
            int64_t tag = ACK_TAG;
            lun_status status =
                lun_process_receive(self, &tag, 1, LUN_TIMEOUT_INFINITE, &ack, NULL);
            if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
            lun_message_free(ack);
            s->waiting_ack = false;
        }
        /* A window of messages, then wait for the receiver's go-ahead. */
        for (int i = 0; i < WINDOW && s->sent < s->count; i++) {
            uint64_t sequence = s->sent++;
            lun_message *message = lun_message_new_data(s->index + 1, sizeof sequence);
            lun_message_write(message, &sequence, sizeof sequence, NULL);
            lun_process_send_message(s->receiver, message, NULL);
        }
        s->waiting_ack = true;
    }
    return LUN_STEP_DONE;
}

static lun_step_result receiver_step(lun_process *self, void *state)
{
    order_receiver *r = state;
    while (r->total < r->per_sender * SENDERS) {
        lun_message *message;
        lun_status status =
            lun_process_receive(self, NULL, 0, LUN_TIMEOUT_INFINITE, &message, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        int64_t sender = lun_message_tag(message) - 1;
        uint64_t sequence = UINT64_MAX;
        if (sender >= 0 && sender < SENDERS && lun_message_size(message) == sizeof sequence)
            memcpy(&sequence, lun_message_data(message), sizeof sequence);
        lun_message_free(message);
        if (sender < 0 || sender >= SENDERS || sequence != r->next[sender]) {
            r->in_order = false;
            return LUN_STEP_FAILED;
        }
        r->next[sender]++;
        r->total++;
        if (r->next[sender] % WINDOW == 0)
            lun_process_send_message(r->senders[sender], lun_message_new_data(ACK_TAG, 0), NULL);
    }
    return LUN_STEP_DONE;
}

static void test_per_sender_order(void **state)
{
    fixture *f = *state;
    const uint64_t total = TEST_SCALE(10000000, 200000);
    order_receiver r = {.per_sender = total / SENDERS, .in_order = true};
    lun_process *receiver = NULL;
    order_sender senders[SENDERS];
    lun_process *sender_processes[SENDERS];
    /* Spawn the senders suspended behind a gate message, then the receiver. */
    for (int i = 0; i < SENDERS; i++) {
        senders[i] = (order_sender){.index = i, .count = r.per_sender, .waiting_ack = true};
        assert_int_equal(lun_process_spawn(f->environment, sender_step, &senders[i], NULL,
                                           &sender_processes[i], NULL),
                         LUN_OK);
        r.senders[i] = sender_processes[i];
    }
    assert_int_equal(lun_process_spawn(f->environment, receiver_step, &r, NULL, &receiver, NULL),
                     LUN_OK);
    /* senders[i].receiver is read by the sender only after the gate opens. */
    for (int i = 0; i < SENDERS; i++)
        senders[i].receiver = receiver;
    for (int i = 0; i < SENDERS; i++)
        send_to(sender_processes[i], lun_message_new_data(ACK_TAG, 0));
    lun_process_result result = join(receiver);
    assert_true(r.in_order);
    assert_int_equal(result.kind, LUN_RESULT_OK);
    assert_int_equal(r.total, r.per_sender * SENDERS);
    for (int i = 0; i < SENDERS; i++) {
        assert_int_equal(r.next[i], r.per_sender);
        assert_int_equal(join(sender_processes[i]).kind, LUN_RESULT_OK);
        lun_process_release(sender_processes[i]);
    }
    lun_process_release(receiver);
}

/* ---- spawn storms from several threads ---------------------------------------- */

typedef struct storm {
    lun_environment *environment;
    int count;
} storm;

static lun_step_result quick_step(lun_process *self, void *state)
{
    return LUN_STEP_DONE;
}

static void *spawn_storm(void *argument)
{
    storm *s = argument;
    for (int i = 0; i < s->count; i++) {
        if (lun_process_spawn(s->environment, quick_step, NULL, NULL, NULL, NULL) != LUN_OK)
            return (void *)1;
    }
    return NULL;
}

static void test_spawn_storm(void **state)
{
    fixture *f = *state;
    storm s = {.environment = f->environment, .count = TEST_SCALE(200000, 20000)};
    pthread_t threads[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, spawn_storm, &s), 0);
    for (int i = 0; i < 3; i++) {
        void *failed = NULL;
        pthread_join(threads[i], &failed);
        assert_null(failed);
    }
    uint64_t deadline = now_ms() + 20000;
    while (lun_runtime_process_count(f->runtime) > 0) {
        assert_true(now_ms() < deadline);
        sleep_ms(1);
    }
    assert_int_equal(lun_environment_next_process_id(f->environment), 3 * (uint64_t)s.count + 1);
}

/* ---- many ping-pong pairs: a lost wake-up would hang a pair ------------------- */

typedef struct player {
    lun_process *peer; /* set before the serve */
    uint64_t rounds;
    uint64_t done;
    bool server;
} player;

static lun_step_result player_step(lun_process *self, void *state)
{
    player *p = state;
    while (p->done < p->rounds) {
        lun_message *ball;
        lun_status status = lun_process_receive(self, NULL, 0, LUN_TIMEOUT_INFINITE, &ball, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        p->done++;
        lun_process_send_message(p->peer, ball, NULL);
    }
    return LUN_STEP_DONE;
}

static void test_ping_pong_pairs(void **state)
{
    fixture *f = *state;
    enum { PAIRS = 16 };
    const uint64_t rounds = TEST_SCALE(50000, 5000);
    player players[PAIRS][2];
    lun_process *processes[PAIRS][2];
    for (int i = 0; i < PAIRS; i++) {
        for (int side = 0; side < 2; side++) {
            players[i][side] = (player){.rounds = rounds};
            processes[i][side] = NULL;
            assert_int_equal(lun_process_spawn(f->environment, player_step, &players[i][side], NULL,
                                               &processes[i][side], NULL),
                             LUN_OK);
        }
        players[i][0].peer = processes[i][1];
        players[i][1].peer = processes[i][0];
    }
    for (int i = 0; i < PAIRS; i++)
        send_to(processes[i][0], lun_message_new_data(0, 0));
    /* A player's peer pointer is not a reference: release only when all ended. */
    for (int i = 0; i < PAIRS; i++) {
        for (int side = 0; side < 2; side++) {
            assert_int_equal(join(processes[i][side]).kind, LUN_RESULT_OK);
            assert_int_equal(players[i][side].done, rounds);
        }
    }
    for (int i = 0; i < PAIRS; i++)
        for (int side = 0; side < 2; side++)
            lun_process_release(processes[i][side]);
}

/* ---- kills racing with running, queued and waiting processes ------------------ */

static lun_step_result busy_step(lun_process *self, void *state)
{
    lun_message *message;
    /* Alternate between running (yield) and waiting (a short receive). */
    if (lun_process_receive(self, NULL, 0, 1, &message, NULL) == LUN_OK) lun_message_free(message);
    return LUN_STEP_YIELD;
}

static void test_kill_storm(void **state)
{
    fixture *f = *state;
    const int count = TEST_SCALE(20000, 2000);
    lun_process **processes = calloc((size_t)count, sizeof *processes);
    assert_non_null(processes);
    for (int i = 0; i < count; i++) {
        lun_step_fn step = i % 2 ? busy_step : wait_forever;
        assert_int_equal(lun_process_spawn(f->environment, step, NULL, NULL, &processes[i], NULL),
                         LUN_OK);
        if (i % 3 == 0) send_to(processes[i], lun_message_new_data(0, 0));
    }
    for (int i = count - 1; i >= 0; i--)
        lun_process_kill(processes[i], NULL);
    for (int i = 0; i < count; i++) {
        lun_process_result result = join(processes[i]);
        /* A waiting process that got its message may have ended first. */
        assert_true(result.kind == LUN_RESULT_FAILED || (i % 2 == 0 && i % 3 == 0));
        lun_process_release(processes[i]);
    }
    free(processes);
    assert_int_equal(lun_runtime_process_count(f->runtime), 0);
}

/* ---- a supervisor with many links and monitors ------------------------------- */

typedef struct big_supervisor {
    int children;
    int spawned;
    int link_died;
    int process_died;
    int64_t tag_sum;
    bool flag_set;
} big_supervisor;

static lun_step_result failing_child(lun_process *self, void *state)
{
    lun_process_fail(self, "child failure");
    return LUN_STEP_FAILED;
}

static lun_step_result big_supervisor_step(lun_process *self, void *state)
{
    big_supervisor *b = state;
    if (!b->flag_set) {
        lun_process_die_when_link_dies(self, false, NULL);
        b->flag_set = true;
        return LUN_STEP_YIELD; /* the flag is handled before any child can fail */
    }
    for (; b->spawned < b->children; b->spawned++) {
        lun_spawn_options options = {.link_with = self, .link_tag = b->spawned + 1};
        lun_step_fn step = b->spawned % 2 ? failing_child : wait_forever;
        lun_process *child = NULL;
        if (lun_process_spawn(lun_process_environment(self), step, NULL, &options, &child, NULL) !=
            LUN_OK)
            return LUN_STEP_FAILED;
        if (b->spawned % 2 == 0) {
            /* Monitor the waiting ones, then let them end normally. */
            lun_process_monitor(self, lun_process_id(child), NULL);
            lun_process_send_message(child, lun_message_new_data(0, 0), NULL);
        }
        lun_process_release(child);
    }
    while (b->link_died < b->children / 2 || b->process_died < b->children / 2) {
        lun_message *message;
        lun_status status = lun_process_receive(self, NULL, 0, 10000, &message, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) return LUN_STEP_FAILED;
        if (lun_message_get_kind(message) == LUN_MESSAGE_LINK_DIED) {
            b->link_died++;
            b->tag_sum += lun_message_tag(message);
        } else if (lun_message_get_kind(message) == LUN_MESSAGE_PROCESS_DIED) {
            b->process_died++;
        }
        lun_message_free(message);
    }
    return LUN_STEP_DONE;
}

static void test_supervisor_with_many_links(void **state)
{
    fixture *f = *state;
    int64_t links = lun_metrics_gauge("lunatic.process.links.alive");
    big_supervisor b = {.children = TEST_SCALE(100000, 10000)};
    lun_process *process = NULL;
    assert_int_equal(
        lun_process_spawn(f->environment, big_supervisor_step, &b, NULL, &process, NULL), LUN_OK);
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    /* Failing children have odd indexes i, reporting tag i + 1. */
    int64_t expected = 0;
    for (int i = 1; i < b.children; i += 2)
        expected += i + 1;
    assert_int_equal(b.link_died, b.children / 2);
    assert_int_equal(b.process_died, b.children / 2);
    assert_int_equal(b.tag_sum, expected);
    lun_process_release(process);
    assert_int_equal(lun_metrics_gauge("lunatic.process.links.alive"), links);
}

int main(void)
{
    lun_log_set_level(LUN_LOG_ERROR);
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup_two_workers, teardown_fixture)
        T(test_link_cascade),    T(test_per_sender_order), T(test_spawn_storm),
        T(test_ping_pong_pairs), T(test_kill_storm),       T(test_supervisor_with_many_links),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
