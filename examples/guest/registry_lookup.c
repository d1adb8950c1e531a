/*
 * Registry lookup: a greeter process registers itself under a name; other
 * processes find it by name (not by pid) and talk to it. A second start
 * through get_or_spawn finds the registered one instead of spawning again.
 */
#include <stdio.h>
#include <string.h>

#include "lunatic_guest.h"

static void greeter(int64_t unused)
{
    (void)unused;
    lun_register("greeter", lun_self());
    for (;;) {
        char name[64] = {0};
        lun_received message;
        lun_receive(NULL, 0, LUN_FOREVER, name, sizeof name - 1, &message);
        if (message.kind != LUN_DATA) return;
        uint64_t reply_to;
        memcpy(&reply_to, name, sizeof reply_to);
        char greeting[96];
        int length = snprintf(greeting, sizeof greeting, "Hello, %s!", name + sizeof reply_to);
        lun_send(reply_to, message.tag, greeting, (size_t)length);
    }
}

static void visitor(int64_t parent)
{
    uint64_t greeter_pid = 0;
    for (int attempt = 0; attempt < 100 && !lun_lookup("greeter", &greeter_pid); attempt++)
        lun_sleep_ms(10);
    char request[64] = {0};
    uint64_t self = lun_self();
    memcpy(request, &self, sizeof self);
    snprintf(request + sizeof self, sizeof request - sizeof self, "visitor %llu",
             (unsigned long long)self);
    char answer[96] = {0};
    lun_received message;
    int64_t tag = lun_new_tag();
    lun_request(greeter_pid, tag, request, sizeof request, 5000, answer, sizeof answer - 1,
                &message);
    lun_send((uint64_t)parent, 0, answer, message.copied);
}

int main(void)
{
    uint64_t greeter_pid = lun_spawn(greeter, 0);
    for (int i = 0; i < 3; i++)
        lun_spawn(visitor, (int64_t)lun_self());
    for (int i = 0; i < 3; i++) {
        char answer[96] = {0};
        lun_received message;
        if (lun_receive(NULL, 0, 10000, answer, sizeof answer - 1, &message) != LUN_DATA) return 1;
        printf("%s\n", answer);
    }
    uint64_t found = 0;
    if (!lun_lookup("greeter", &found) || found != greeter_pid) return 1;
    printf("registry: \"greeter\" is process %llu\n", (unsigned long long)found);
    lun_unregister("greeter");
    printf("registry: after remove, found=%d\n", lun_lookup("greeter", &found));
    lun_kill(greeter_pid);
    return 0;
}
