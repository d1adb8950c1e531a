/*
 * The core's block caches seen from outside: small messages, signals and
 * process structs are recycled across threads (a message made on one thread
 * and freed on another), lun_process_send_data, and lun_process_join waking
 * exactly the joiners of the process that ended. Run under TSan and ASan in
 * CI: a block handed out twice, or reused while a thread still reads it,
 * shows up as corrupted contents or as a report.
 */
#include "core_test.h"

#include <pthread.h>

/* ---- raw messages across threads (no runtime) -------------------------------- */

enum { HANDOFF = 4096 };

typedef struct handoff {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    lun_message *slots[HANDOFF];
    size_t count;
    bool done;
} handoff;

static void fill_pattern(uint8_t *bytes, size_t length, uint64_t seed)
{
    for (size_t i = 0; i < length; i++)
        bytes[i] = (uint8_t)(seed * 31 + i);
}

static void *producer_thread(void *argument)
{
    handoff *h = argument;
    int rounds = TEST_SCALE(50, 10);
    for (int round = 0; round < rounds; round++) {
        pthread_mutex_lock(&h->lock);
        while (h->count != 0)
            pthread_cond_wait(&h->changed, &h->lock);
        pthread_mutex_unlock(&h->lock);
        /* Made outside the lock: the free side runs meanwhile. */
        static lun_message *made[HANDOFF];
        for (size_t i = 0; i < HANDOFF; i++) {
            uint64_t seed = (uint64_t)round * HANDOFF + i;
            uint8_t bytes[24];
            size_t length = 1 + seed % sizeof bytes;
            fill_pattern(bytes, length, seed);
            made[i] = lun_message_new_data((int64_t)seed, length);
            assert_non_null(made[i]);
            assert_int_equal(lun_message_write(made[i], bytes, length, NULL), LUN_OK);
        }
        pthread_mutex_lock(&h->lock);
        memcpy(h->slots, made, sizeof made);
        h->count = HANDOFF;
        pthread_cond_broadcast(&h->changed);
        pthread_mutex_unlock(&h->lock);
    }
    pthread_mutex_lock(&h->lock);
    while (h->count != 0)
        pthread_cond_wait(&h->changed, &h->lock);
    h->done = true;
    pthread_cond_broadcast(&h->changed);
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* Messages made on one thread are checked and freed on another; the freed
 * blocks come back to the maker through the depot and must be whole. */
static void test_messages_freed_on_another_thread(void **state)
{
    handoff h = {.count = 0};
    pthread_mutex_init(&h.lock, NULL);
    pthread_cond_init(&h.changed, NULL);
    pthread_t producer;
    assert_int_equal(pthread_create(&producer, NULL, producer_thread, &h), 0);
    size_t checked = 0;
    pthread_mutex_lock(&h.lock);
    for (;;) {
        while (h.count == 0 && !h.done)
            pthread_cond_wait(&h.changed, &h.lock);
        if (h.count == 0) break;
        for (size_t i = 0; i < h.count; i++) {
            lun_message *message = h.slots[i];
            uint64_t seed = (uint64_t)lun_message_tag(message);
            uint8_t expected[24];
            size_t length = 1 + seed % sizeof expected;
            fill_pattern(expected, length, seed);
            assert_int_equal(lun_message_size(message), length);
            assert_memory_equal(lun_message_data(message), expected, length);
            lun_message_free(message);
            checked++;
        }
        h.count = 0;
        pthread_cond_broadcast(&h.changed);
    }
    pthread_mutex_unlock(&h.lock);
    assert_int_equal(pthread_join(producer, NULL), 0);
    assert_int_equal(checked, (size_t)TEST_SCALE(50, 10) * HANDOFF);
    pthread_cond_destroy(&h.changed);
    pthread_mutex_destroy(&h.lock);
}

/* ---- fan-in through the runtime ---------------------------------------------- */

enum { SENDERS = 3 };

typedef struct collector {
    uint64_t expected;
    uint64_t received;
    uint64_t last[SENDERS + 1];
    bool corrupted;
} collector;

static lun_step_result collector_step(lun_process *self, void *state)
{
    collector *c = state;
    while (c->received < c->expected) {
        lun_message *message;
        lun_status status =
            lun_process_receive(self, NULL, 0, LUN_TIMEOUT_INFINITE, &message, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) return LUN_STEP_FAILED;
        int64_t tag = lun_message_tag(message);
        uint64_t value[2] = {0, 0};
        if (tag < 1 || tag > SENDERS || lun_message_size(message) != sizeof value) {
            c->corrupted = true;
        } else {
            memcpy(value, lun_message_data(message), sizeof value);
            /* Each sender counts up from 1: order per sender, and the copy. */
            if (value[0] != c->last[tag] + 1 || value[1] != ~value[0]) c->corrupted = true;
            c->last[tag] = value[0];
        }
        lun_message_free(message);
        c->received++;
    }
    return c->corrupted ? LUN_STEP_FAILED : LUN_STEP_DONE;
}

typedef struct sender {
    lun_process *target;
    int64_t tag;
    uint64_t next;
    uint64_t count;
} sender;

static lun_step_result sender_step(lun_process *self, void *state)
{
    sender *s = state;
    for (int batch = 0; batch < 100 && s->next <= s->count; batch++, s->next++) {
        uint64_t value[2] = {s->next, ~s->next};
        if (lun_process_send_data(s->target, s->tag, value, sizeof value, NULL) != LUN_OK)
            return LUN_STEP_FAILED;
    }
    return s->next > s->count ? LUN_STEP_DONE : LUN_STEP_YIELD;
}

/* Senders on workers and the main thread make messages with
 * lun_process_send_data; the receiver frees them on whatever worker runs
 * it. Every message arrives whole and in order per sender. */
static void test_fan_in_across_workers(void **state)
{
    fixture *f = *state;
    uint64_t per_sender = TEST_SCALE(100000, 10000);
    collector c = {.expected = per_sender * SENDERS};
    lun_process *receiver;
    assert_int_equal(lun_process_spawn(f->environment, collector_step, &c, NULL, &receiver, NULL),
                     LUN_OK);
    sender senders[SENDERS];
    lun_process *processes[SENDERS - 1];
    for (int i = 0; i < SENDERS; i++)
        senders[i] = (sender){.target = receiver, .tag = i + 1, .next = 1, .count = per_sender};
    for (int i = 0; i < SENDERS - 1; i++)
        assert_int_equal(
            lun_process_spawn(f->environment, sender_step, &senders[i], NULL, &processes[i], NULL),
            LUN_OK);
    /* The last sender is this thread (not a worker). */
    sender *own = &senders[SENDERS - 1];
    for (; own->next <= own->count; own->next++) {
        uint64_t value[2] = {own->next, ~own->next};
        assert_int_equal(lun_process_send_data(receiver, own->tag, value, sizeof value, NULL),
                         LUN_OK);
    }
    assert_int_equal(join(receiver).kind, LUN_RESULT_OK);
    assert_false(c.corrupted);
    for (int i = 0; i < SENDERS - 1; i++) {
        assert_int_equal(join(processes[i]).kind, LUN_RESULT_OK);
        lun_process_release(processes[i]);
    }
    lun_process_release(receiver);
}

static void test_send_data(void **state)
{
    fixture *f = *state;
    script s = {0};
    script_add(&s, SCRIPT_RECEIVE, -1, 1, (int64_t)7);
    script_add(&s, SCRIPT_RECEIVE, -1, 0);
    lun_process *process;
    assert_int_equal(lun_process_spawn(f->environment, script_step, &s, NULL, &process, NULL),
                     LUN_OK);
    lun_error error;
    assert_int_equal(lun_process_send_data(NULL, 7, "x", 1, &error), LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_process_send_data(process, 7, NULL, 1, &error), LUN_ERR_INVALID_ARGUMENT);
    /* Nothing was sent by the failed calls: the first message is this one. */
    int64_t value = 1234;
    assert_int_equal(lun_process_send_data(process, 7, &value, sizeof value, NULL), LUN_OK);
    /* Larger than a cached block, and an empty one. */
    char big[1000];
    memset(big, 'b', sizeof big);
    assert_int_equal(lun_process_send_data(process, 8, big, sizeof big, NULL), LUN_OK);
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    assert_int_equal(s.tag[0], 7);
    assert_int_equal(s.value[0], 1234);
    assert_int_equal(s.tag[1], 8);
    int64_t eight_b;
    memset(&eight_b, 'b', sizeof eight_b);
    assert_int_equal(s.value[1], eight_b);
    /* An empty message to a dead process is dropped. */
    assert_int_equal(lun_process_send_data(process, 0, NULL, 0, NULL), LUN_OK);
    lun_process_release(process);
}

/* ---- join -------------------------------------------------------------------- */

enum { JOINERS = 6 };

static lun_step_result end_at_once(lun_process *self, void *state)
{
    (void)self;
    (void)state;
    return LUN_STEP_DONE;
}

typedef struct joiner {
    lun_process *process;
    lun_status status;
    int64_t timeout_ms;
    _Atomic int *done;
} joiner;

static void *joiner_thread(void *argument)
{
    joiner *j = argument;
    lun_process_result result;
    j->status = lun_process_join(j->process, j->timeout_ms, &result, NULL);
    atomic_fetch_add(j->done, 1);
    return NULL;
}

/* Threads join different processes; ending one process releases its
 * joiners only, while many unrelated processes come and go. */
static void test_join_wakes_its_own_joiners(void **state)
{
    fixture *f = *state;
    script scripts[JOINERS];
    lun_process *processes[JOINERS];
    joiner joiners[JOINERS];
    pthread_t threads[JOINERS];
    _Atomic int done = 0;
    memset(scripts, 0, sizeof scripts);
    for (int i = 0; i < JOINERS; i++) {
        script_add(&scripts[i], SCRIPT_RECEIVE, -1, 0);
        assert_int_equal(
            lun_process_spawn(f->environment, script_step, &scripts[i], NULL, &processes[i], NULL),
            LUN_OK);
        /* Two threads per process for the even ones. */
        joiners[i] = (joiner){.process = processes[i & ~1], .timeout_ms = -1, .done = &done};
        assert_int_equal(pthread_create(&threads[i], NULL, joiner_thread, &joiners[i]), 0);
    }
    /* Unrelated deaths wake nobody for good. */
    for (int i = 0; i < TEST_SCALE(2000, 200); i++)
        assert_int_equal(lun_process_spawn(f->environment, end_at_once, NULL, NULL, NULL, NULL),
                         LUN_OK);
    sleep_ms(50);
    assert_int_equal(atomic_load(&done), 0);
    /* A joiner with a timeout on a live process times out. */
    lun_error error;
    assert_int_equal(lun_process_join(processes[2], 20, NULL, &error), LUN_ERR_TIMEOUT);
    for (int ended = 0; ended < JOINERS; ended += 2) {
        assert_int_equal(lun_process_send_data(processes[ended], 0, "", 0, NULL), LUN_OK);
        wait_for_count(&done, ended + 2);
        sleep_ms(10);
        assert_int_equal(atomic_load(&done), ended + 2);
    }
    for (int i = 1; i < JOINERS; i += 2)
        assert_int_equal(lun_process_send_data(processes[i], 0, "", 0, NULL), LUN_OK);
    for (int i = 0; i < JOINERS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(joiners[i].status, LUN_OK);
        assert_int_equal(join(processes[i]).kind, LUN_RESULT_OK);
        lun_process_release(processes[i]);
    }
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup_two_workers, teardown_fixture)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_freed_on_another_thread),
        T(test_fan_in_across_workers),
        T(test_send_data),
        T(test_join_wakes_its_own_joiners),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
