/*
 * Ping-pong: the first process and a child bounce a counter N times
 * (argument 1, default 1000). The child is linked to its parent, so a
 * failure of either ends both.
 */
#include <stdio.h>
#include <stdlib.h>

#include "lunatic_guest.h"

typedef struct ball {
    uint64_t from;
    int64_t count;
} ball;

static void ponger(int64_t unused)
{
    (void)unused;
    for (;;) {
        ball received;
        lun_received message;
        lun_receive(NULL, 0, LUN_FOREVER, &received, sizeof received, &message);
        if (message.kind != LUN_DATA || message.copied != sizeof received) return;
        ball answer = {lun_self(), received.count + 1};
        lun_send(received.from, 0, &answer, sizeof answer);
        if (received.count < 0) return;
    }
}

int main(int argc, char **argv)
{
    int64_t rounds = argc > 1 ? atoll(argv[1]) : 1000;
    uint64_t pong = lun_spawn_link(ponger, 0, 1);
    if (pong == 0) return 1;
    int64_t count = 0;
    for (int64_t i = 0; i < rounds; i++) {
        ball ping = {lun_self(), count};
        lun_send(pong, 0, &ping, sizeof ping);
        ball answer;
        lun_received message;
        lun_receive(NULL, 0, 10000, &answer, sizeof answer, &message);
        if (message.kind != LUN_DATA || answer.from != pong) {
            fprintf(stderr, "ping-pong: lost the ball at round %lld\n", (long long)i);
            return 1;
        }
        count = answer.count;
    }
    ball stop = {lun_self(), -2};
    lun_send(pong, 0, &stop, sizeof stop);
    printf("ping-pong: %lld round trips, counter %lld\n", (long long)rounds, (long long)count);
    return 0;
}
