/*
 * core.fanin_msgs_per_s: 4 sender processes send 1,000,000 messages each to
 * one receiver; messages per second from the senders' spawn to the
 * receiver's last message. The receiver checks the sum and that every
 * sender's messages arrive in the order sent (the Erlang twin:
 * erlang/fanin.erl).
 */
#include "bench_common.h"

#include <inttypes.h>
#include <stdio.h>

enum { SENDERS = 4 };
/* Messages per step: native steps are not preempted, so senders and the
 * receiver give the worker back regularly, as BEAM's reductions make them. */
enum { SEND_BATCH = 1000, RECEIVE_BATCH = 10000 };

typedef struct receiver_state {
    uint64_t expected;
    uint64_t received;
    uint64_t sum;
    uint64_t last[SENDERS + 1]; /* per sender tag: the last number seen */
    bool out_of_order;
    uint64_t end_ns;
} receiver_state;

typedef struct sender_state {
    lun_process *receiver; /* borrowed: main holds the reference */
    int64_t tag;           /* 1 .. SENDERS */
    uint64_t left;         /* counts down; each message carries it */
} sender_state;

static lun_step_result sender_step(lun_process *self, void *state)
{
    sender_state *sender = state;
    for (unsigned batch = 0; batch < SEND_BATCH && sender->left > 0; batch++) {
        lun_status status = bench_send_number(sender->receiver, sender->tag, sender->left);
        if (status != LUN_OK) {
            lun_process_fail(self, "send: %s", lun_status_name(status));
            return LUN_STEP_FAILED;
        }
        sender->left--;
    }
    return sender->left > 0 ? LUN_STEP_YIELD : LUN_STEP_DONE;
}

static bool take(receiver_state *receiver, int64_t tag, uint64_t value)
{
    if (tag < 1 || tag > SENDERS) return false;
    /* Each sender counts down, so its numbers must arrive decreasing. */
    if (receiver->last[tag] != 0 && value >= receiver->last[tag]) receiver->out_of_order = true;
    receiver->last[tag] = value;
    receiver->sum += value;
    receiver->received++;
    return true;
}

static lun_step_result receiver_step(lun_process *self, void *state)
{
    receiver_state *receiver = state;
    for (unsigned batch = 0; batch < RECEIVE_BATCH; batch++) {
        if (receiver->received == receiver->expected) {
            receiver->end_ns = bench_now_ns();
            return LUN_STEP_DONE;
        }
        bench_number number;
        lun_step_result stop;
        if (!bench_receive_number(self, &number, &stop)) return stop;
        if (!number.valid || !take(receiver, number.tag, number.value)) {
            lun_process_fail(self, "unexpected message");
            return LUN_STEP_FAILED;
        }
    }
    return LUN_STEP_YIELD;
}

static int run(bench_runtime *bench, receiver_state *receiver, sender_state *senders,
               uint64_t *start_ns)
{
    lun_process *receiver_process = NULL;
    lun_process *sender_processes[SENDERS] = {0};
    lun_error error;
    int exit_status = 0;
    if (lun_process_spawn(bench->environment, receiver_step, receiver, NULL, &receiver_process,
                          &error) != LUN_OK)
        exit_status = bench_fail("spawn the receiver: %s", error.message);
    *start_ns = bench_now_ns();
    for (int index = 0; index < SENDERS && exit_status == 0; index++) {
        senders[index].receiver = receiver_process;
        if (lun_process_spawn(bench->environment, sender_step, &senders[index], NULL,
                              &sender_processes[index], &error) != LUN_OK)
            exit_status = bench_fail("spawn a sender: %s", error.message);
    }
    if (exit_status == 0 && !bench_join(receiver_process, "receiver")) exit_status = 1;
    for (int index = 0; index < SENDERS && exit_status == 0; index++)
        if (!bench_join(sender_processes[index], "sender")) exit_status = 1;
    for (int index = 0; index < SENDERS; index++)
        lun_process_release(sender_processes[index]);
    lun_process_release(receiver_process);
    return exit_status;
}

int main(int argc, char **argv)
{
    uint64_t divisor;
    if (!bench_parse_divisor(argc, argv, &divisor)) return 2;
    uint64_t per_sender = bench_scaled(1000000, divisor, 1);
    receiver_state receiver = {.expected = per_sender * SENDERS};
    sender_state senders[SENDERS];
    for (int index = 0; index < SENDERS; index++)
        senders[index] = (sender_state){.tag = index + 1, .left = per_sender};

    bench_runtime bench;
    if (!bench_runtime_start(&bench)) return 1;
    uint64_t start_ns = 0;
    int exit_status = run(&bench, &receiver, senders, &start_ns);
    bench_runtime_stop(&bench);
    uint64_t expected_sum = SENDERS * (per_sender * (per_sender + 1) / 2);
    if (exit_status == 0 && (receiver.sum != expected_sum || receiver.out_of_order))
        exit_status = bench_fail("messages lost, altered or reordered (sum %" PRIu64
                                 ", expected %" PRIu64 ")",
                                 receiver.sum, expected_sum);
    if (exit_status == 0) {
        double seconds = (double)(receiver.end_ns - start_ns) / 1e9;
        bench_report("fanin_msgs_per_s", (double)receiver.expected / seconds, "per_s");
    }
    return exit_status;
}
