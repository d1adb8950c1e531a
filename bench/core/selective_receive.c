/*
 * core.selective_receive_ns: a process keeps 10,000 unmatched messages
 * queued, then 10,000 times sends itself a message tagged 42 and receives it
 * by that tag; nanoseconds per send-and-receive round.
 *
 * core.selective_receive_fresh_tag_ns: the same with a new tag every round,
 * so that nothing remembered from an earlier receive (the core's scan mark)
 * helps: each receive has to find the message behind the whole backlog.
 * BEAM walks the backlog in both variants.
 *
 * Each round yields between its send and its receive, so that the message
 * sits in the mailbox behind the backlog when the receive runs, as it does
 * in BEAM, where a message sent to self is queued at once. (A message sent
 * to self by a step reaches the mailbox only when the step returns; a receive
 * in the same step would find no such tag queued and wait without searching,
 * which would measure no selective receive at all.)
 * (The Erlang twin: erlang/selective_receive.erl.)
 */
#include "bench_common.h"

#include <inttypes.h>
#include <stdio.h>

enum { TAG_UNMATCHED = 1, TAG_WANTED = 42, TAG_FRESH_BASE = 1000 };

typedef enum phase { FILL, SETTLE, SAME_TAG, FRESH_TAG } phase;

typedef struct selective_state {
    uint64_t backlog;
    uint64_t rounds;
    phase phase;
    uint64_t round;
    bool sent;
    uint64_t start_ns;
    uint64_t same_tag_ns;  /* time of all the rounds with tag 42 */
    uint64_t fresh_tag_ns; /* time of all the rounds with fresh tags */
    size_t left_queued;    /* mailbox size at the end: the backlog, untouched */
} selective_state;

static lun_step_result fail_with(lun_process *self, const char *what, lun_status status)
{
    lun_process_fail(self, "%s: %s", what, lun_status_name(status));
    return LUN_STEP_FAILED;
}

static lun_step_result fill(lun_process *self, selective_state *selective)
{
    for (uint64_t index = 0; index < selective->backlog; index++) {
        lun_status status = bench_send_number(self, TAG_UNMATCHED, index);
        if (status != LUN_OK) return fail_with(self, "send to self", status);
    }
    selective->phase = SETTLE;
    return LUN_STEP_YIELD;
}

static int64_t round_tag(const selective_state *selective)
{
    if (selective->phase == SAME_TAG) return TAG_WANTED;
    return TAG_FRESH_BASE + (int64_t)selective->round;
}

/* Runs the rounds of the current phase; false when they are not over yet
 * (*result then says what to return). */
static bool rounds(lun_process *self, selective_state *selective, lun_step_result *result)
{
    while (selective->round < selective->rounds) {
        int64_t tag = round_tag(selective);
        if (!selective->sent) {
            lun_status status = bench_send_number(self, tag, selective->round);
            if (status != LUN_OK) {
                *result = fail_with(self, "send to self", status);
                return false;
            }
            selective->sent = true;
            *result = LUN_STEP_YIELD; /* the message is queued before the receive */
            return false;
        }
        lun_message *message;
        lun_status status =
            lun_process_receive(self, &tag, 1, LUN_TIMEOUT_INFINITE, &message, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) {
            *result = LUN_STEP_WAIT;
            return false;
        }
        if (status != LUN_OK) {
            *result = fail_with(self, "receive", status);
            return false;
        }
        uint64_t value = 0;
        bool valid = bench_message_number(message, &value) && lun_message_tag(message) == tag;
        lun_message_free(message);
        if (!valid || value != selective->round) {
            lun_process_fail(self, "received the wrong message in round %" PRIu64,
                             selective->round);
            *result = LUN_STEP_FAILED;
            return false;
        }
        selective->round++;
        selective->sent = false;
    }
    return true;
}

static lun_step_result selective_step(lun_process *self, void *state)
{
    selective_state *selective = state;
    lun_step_result result = LUN_STEP_FAILED;
    switch (selective->phase) {
    case FILL: return fill(self, selective);
    case SETTLE:
        /* The clock starts once the backlog sits in the mailbox. */
        if (lun_process_mailbox_size(self) < selective->backlog) return LUN_STEP_YIELD;
        selective->phase = SAME_TAG;
        selective->start_ns = bench_now_ns();
        /* fall through */
    case SAME_TAG:
        if (!rounds(self, selective, &result)) return result;
        selective->same_tag_ns = bench_now_ns() - selective->start_ns;
        selective->phase = FRESH_TAG;
        selective->round = 0;
        selective->start_ns = bench_now_ns();
        /* fall through */
    case FRESH_TAG:
        if (!rounds(self, selective, &result)) return result;
        selective->fresh_tag_ns = bench_now_ns() - selective->start_ns;
        selective->left_queued = lun_process_mailbox_size(self);
        return LUN_STEP_DONE;
    }
    return LUN_STEP_FAILED;
}

int main(int argc, char **argv)
{
    uint64_t divisor;
    if (!bench_parse_divisor(argc, argv, &divisor)) return 2;
    selective_state selective = {.backlog = bench_scaled(10000, divisor, 1),
                                 .rounds = bench_scaled(10000, divisor, 1)};

    bench_runtime bench;
    if (!bench_runtime_start(&bench)) return 1;
    lun_process *process = NULL;
    lun_error error;
    int exit_status = 0;
    if (lun_process_spawn(bench.environment, selective_step, &selective, NULL, &process, &error) !=
        LUN_OK) {
        exit_status = bench_fail("spawn: %s", error.message);
    } else if (!bench_join(process, "selective receiver")) {
        exit_status = 1;
    } else if (selective.phase != FRESH_TAG || selective.round != selective.rounds ||
               selective.left_queued != selective.backlog) {
        exit_status =
            bench_fail("%" PRIu64 " rounds done, %zu messages left queued; expected "
                       "%" PRIu64 " and %" PRIu64,
                       selective.round, selective.left_queued, selective.rounds, selective.backlog);
    } else {
        double rounds_done = (double)selective.rounds;
        bench_report("selective_receive_ns", (double)selective.same_tag_ns / rounds_done, "ns");
        bench_report("selective_receive_fresh_tag_ns", (double)selective.fresh_tag_ns / rounds_done,
                     "ns");
    }
    lun_process_release(process);
    bench_runtime_stop(&bench);
    return exit_status;
}
