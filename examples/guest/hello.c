/*
 * Hello: the first process greets, spawns a child that greets back with its
 * own process id, and waits for the child's "done" message.
 */
#include <stdio.h>

#include "lunatic_guest.h"

static void child(int64_t parent)
{
    printf("Hello from process %llu, spawned by %lld\n", (unsigned long long)lun_self(),
           (long long)parent);
    fflush(stdout);
    lun_send((uint64_t)parent, 0, "done", 4);
}

int main(void)
{
    printf("Hello from the first process (%llu)\n", (unsigned long long)lun_self());
    fflush(stdout);
    if (lun_spawn(child, (int64_t)lun_self()) == 0) {
        fprintf(stderr, "spawn failed\n");
        return 1;
    }
    char reply[8];
    lun_received message;
    lun_receive(NULL, 0, 5000, reply, sizeof reply, &message);
    if (message.kind != LUN_DATA || message.copied != 4) {
        fprintf(stderr, "no answer from the child\n");
        return 1;
    }
    printf("The child said %.4s\n", reply);
    return 0;
}
