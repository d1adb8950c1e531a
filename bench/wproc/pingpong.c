/*
 * wproc.pingpong_rtt_ns: round trips between two Wasm processes, an 8-byte
 * data message each way (the counter, incremented by the other side and
 * checked); time per round trip. The first process plays ping. Both
 * receive without a timeout, as the Erlang twin does (a timed receive arms
 * and cancels a timer every time); run.sh's time limit catches a hang.
 */
#include "wproc_common.h"

static void pong(int64_t parent)
{
    for (;;) {
        int64_t value;
        lun_received message;
        if (lun_receive(NULL, 0, LUN_FOREVER, &value, sizeof value, &message) != LUN_DATA ||
            message.copied != sizeof value || value < 0)
            return;
        value++;
        lun_send((uint64_t)parent, 0, &value, sizeof value);
    }
}

/* Bounces the counter `trips` times; false when an answer is wrong. */
static bool play(uint64_t partner, uint64_t trips)
{
    int64_t value = 0;
    for (uint64_t i = 0; i < trips; i++) {
        lun_send(partner, 0, &value, sizeof value);
        int64_t answer;
        lun_received message;
        if (lun_receive(NULL, 0, LUN_FOREVER, &answer, sizeof answer, &message) != LUN_DATA ||
            answer != value + 1)
            return false;
        value = answer;
    }
    return true;
}

int main(int argc, char **argv)
{
    uint64_t divisor;
    if (!wproc_parse_divisor(argc, argv, 1, &divisor)) return 2;
    uint64_t trips = wproc_scaled(1000000, divisor, 1);
    uint64_t partner = lun_spawn_link(pong, (int64_t)lun_self(), 1);
    if (partner == 0) return wproc_fail("pingpong: spawn failed");
    if (!play(partner, 1000)) return wproc_fail("pingpong: wrong answer while warming up");
    uint64_t start = wproc_now_ns();
    if (!play(partner, trips)) return wproc_fail("pingpong: wrong answer");
    uint64_t elapsed = wproc_now_ns() - start;
    int64_t stop = -1;
    lun_send(partner, 0, &stop, sizeof stop);
    wproc_report("pingpong_rtt_ns", (double)elapsed / (double)trips, "ns");
    return 0;
}
