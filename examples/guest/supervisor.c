/*
 * Supervisor: a process that traps link failures (die_when_link_dies(0))
 * starts a linked worker; the worker crashes on its first attempts, and the
 * supervisor restarts it, telling the failures apart by the link tag, until
 * an attempt succeeds or the restart budget (argument 1, default 5) is spent.
 */
#include <stdio.h>
#include <stdlib.h>

#include "lunatic_guest.h"

enum { CRASHING_ATTEMPTS = 2, TAG_BASE = 100 };

/* argument: supervisor pid << 8 | attempt */
static void worker(int64_t argument)
{
    int attempt = (int)(argument & 0xFF);
    uint64_t supervisor = (uint64_t)argument >> 8;
    if (attempt < CRASHING_ATTEMPTS) {
        printf("worker attempt %d: crashing\n", attempt);
        fflush(stdout);
        __builtin_trap();
    }
    printf("worker attempt %d: working\n", attempt);
    fflush(stdout);
    lun_send(supervisor, 0, &attempt, sizeof attempt);
}

int main(int argc, char **argv)
{
    int budget = argc > 1 ? atoi(argv[1]) : 5;
    lun_die_when_link_dies(false);
    for (int attempt = 0; attempt <= budget; attempt++) {
        int64_t tag = TAG_BASE + attempt;
        if (lun_spawn_link(worker, (int64_t)(lun_self() << 8) | attempt, tag) == 0) return 1;
        int done;
        lun_received message;
        lun_receive(NULL, 0, 10000, &done, sizeof done, &message);
        if (message.kind == LUN_LINK_DIED) {
            printf("supervisor: worker with tag %lld failed, restarting\n", (long long)message.tag);
            continue;
        }
        if (message.kind == LUN_DATA) {
            printf("supervisor: worker attempt %d succeeded\n", done);
            return 0;
        }
        fprintf(stderr, "supervisor: no news from the worker\n");
        return 1;
    }
    printf("supervisor: giving up after %d restarts\n", budget);
    return 2;
}
