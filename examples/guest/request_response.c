/*
 * Request/response with tags: a server process answers "square this
 * number" requests; each client request carries a fresh tag, and the reply
 * is awaited with send_receive_skip_search, so replies never mix even when
 * several clients talk to the server at once.
 */
#include <stdio.h>
#include <stdlib.h>

#include "lunatic_guest.h"

typedef struct request {
    uint64_t reply_to;
    int64_t number;
} request;

static void server(int64_t unused)
{
    (void)unused;
    for (;;) {
        request question;
        lun_received message;
        lun_receive(NULL, 0, LUN_FOREVER, &question, sizeof question, &message);
        if (message.kind != LUN_DATA || message.copied != sizeof question) return;
        int64_t answer = question.number * question.number;
        lun_send(question.reply_to, message.tag, &answer, sizeof answer);
    }
}

/* argument: the client's number; the server's pid comes in the first message. */
static void client(int64_t number)
{
    uint64_t pids[2]; /* server, parent */
    lun_received message;
    lun_receive(NULL, 0, LUN_FOREVER, pids, sizeof pids, &message);
    request question = {lun_self(), number};
    int64_t answer = 0;
    int64_t tag = lun_new_tag();
    if (lun_request(pids[0], tag, &question, sizeof question, 5000, &answer, sizeof answer,
                    &message) != LUN_DATA)
        answer = -1;
    int64_t report[2] = {number, answer};
    lun_send(pids[1], 0, report, sizeof report);
}

int main(int argc, char **argv)
{
    int clients = argc > 1 ? atoi(argv[1]) : 10;
    uint64_t server_pid = lun_spawn_link(server, 0, 1);
    if (server_pid == 0) return 1;
    for (int i = 1; i <= clients; i++) {
        uint64_t pid = lun_spawn_link(client, i, 2);
        uint64_t pids[2] = {server_pid, lun_self()};
        lun_send(pid, 0, pids, sizeof pids);
    }
    int64_t total = 0;
    for (int i = 0; i < clients; i++) {
        int64_t report[2];
        lun_received message;
        if (lun_receive(NULL, 0, 10000, report, sizeof report, &message) != LUN_DATA) return 1;
        if (report[1] != report[0] * report[0]) {
            printf("client %lld got a wrong answer %lld\n", (long long)report[0],
                   (long long)report[1]);
            return 1;
        }
        total += report[1];
    }
    printf("request/response: %d clients, sum of squares %lld\n", clients, (long long)total);
    lun_kill(server_pid);
    return 0;
}
