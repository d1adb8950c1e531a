/*
 * core.pingpong_rtt_ns: 1,000,000 round trips between two processes, each
 * trip a fresh 8-byte message each way; nanoseconds per round trip (the
 * Erlang twin: erlang/pingpong.erl).
 */
#include "bench_common.h"

#include <inttypes.h>
#include <stdio.h>

enum { TAG_GO = 1, TAG_PING, TAG_PONG, TAG_STOP };

typedef struct ping_state {
    lun_process *pong; /* set by main before it sends Go */
    uint64_t trips;
    uint64_t done;
    bool started;
    bool sent;
    uint64_t start_ns;
    uint64_t end_ns;
} ping_state;

typedef struct pong_state {
    lun_process *ping; /* set by main before it sends Go to ping */
    uint64_t answered;
} pong_state;

static lun_step_result fail_with(lun_process *self, const char *what, lun_status status)
{
    lun_process_fail(self, "%s: %s", what, lun_status_name(status));
    return LUN_STEP_FAILED;
}

static lun_step_result ping_step(lun_process *self, void *state)
{
    ping_state *ping = state;
    for (;;) {
        if (ping->started && ping->done == ping->trips) {
            ping->end_ns = bench_now_ns();
            lun_status status = bench_send_number(ping->pong, TAG_STOP, 0);
            if (status != LUN_OK) return fail_with(self, "send stop", status);
            return LUN_STEP_DONE;
        }
        if (ping->started && !ping->sent) {
            lun_status status = bench_send_number(ping->pong, TAG_PING, ping->done);
            if (status != LUN_OK) return fail_with(self, "send", status);
            ping->sent = true;
        }
        bench_number number;
        lun_step_result stop;
        if (!bench_receive_number(self, &number, &stop)) return stop;
        if (!ping->started && number.valid && number.tag == TAG_GO) {
            ping->started = true;
            ping->start_ns = bench_now_ns();
        } else if (ping->started && number.valid && number.tag == TAG_PONG &&
                   number.value == ping->done) {
            ping->done++;
            ping->sent = false;
        } else {
            lun_process_fail(self, "unexpected reply (tag %" PRId64 ")", number.tag);
            return LUN_STEP_FAILED;
        }
    }
}

static lun_step_result pong_step(lun_process *self, void *state)
{
    pong_state *pong = state;
    for (;;) {
        bench_number number;
        lun_step_result stop;
        if (!bench_receive_number(self, &number, &stop)) return stop;
        if (number.valid && number.tag == TAG_STOP) return LUN_STEP_DONE;
        if (!number.valid || number.tag != TAG_PING) {
            lun_process_fail(self, "unexpected message (tag %" PRId64 ")", number.tag);
            return LUN_STEP_FAILED;
        }
        lun_status status = bench_send_number(pong->ping, TAG_PONG, number.value);
        if (status != LUN_OK) return fail_with(self, "reply", status);
        pong->answered++;
    }
}

static int run(bench_runtime *bench, ping_state *ping, pong_state *pong)
{
    lun_process *ping_process = NULL;
    lun_process *pong_process = NULL;
    lun_error error;
    int exit_status = 0;
    if (lun_process_spawn(bench->environment, pong_step, pong, NULL, &pong_process, &error) !=
            LUN_OK ||
        lun_process_spawn(bench->environment, ping_step, ping, NULL, &ping_process, &error) !=
            LUN_OK) {
        exit_status = bench_fail("spawn: %s", error.message);
    } else {
        /* Neither process reads its peer before Go: the message orders these writes. */
        ping->pong = pong_process;
        pong->ping = ping_process;
        lun_status status = bench_send_number(ping_process, TAG_GO, 0);
        if (status != LUN_OK)
            exit_status = bench_fail("send go: %s", lun_status_name(status));
        else if (!bench_join(ping_process, "ping") || !bench_join(pong_process, "pong"))
            exit_status = 1;
    }
    lun_process_release(ping_process);
    lun_process_release(pong_process);
    return exit_status;
}

int main(int argc, char **argv)
{
    uint64_t divisor;
    if (!bench_parse_divisor(argc, argv, &divisor)) return 2;
    ping_state ping = {.trips = bench_scaled(1000000, divisor, 1)};
    pong_state pong = {0};

    bench_runtime bench;
    if (!bench_runtime_start(&bench)) return 1;
    int exit_status = run(&bench, &ping, &pong);
    if (exit_status == 0 && (ping.done != ping.trips || pong.answered != ping.trips))
        exit_status = bench_fail("%" PRIu64 " trips done, %" PRIu64 " answered, expected %" PRIu64,
                                 ping.done, pong.answered, ping.trips);
    if (exit_status == 0)
        bench_report("pingpong_rtt_ns", (double)(ping.end_ns - ping.start_ns) / (double)ping.trips,
                     "ns");
    bench_runtime_stop(&bench);
    return exit_status;
}
