/*
 * TCP echo server, one process per connection: the listening process
 * accepts and hands each stream to a new process (the stream travels in a
 * message), which echoes until the client closes.
 *
 *   tcp_echo.wasm [port] [read_timeout_ms]
 *
 * Prints "listening on ADDRESS" once bound (port 0 = any free port). With a
 * read timeout, a client silent for that long gets "timeout\n" and is
 * closed. A client that sends a line starting with "KILL" makes its handler
 * open two more sockets and have itself killed by another process: every
 * socket it held must close (the tests check it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic_guest.h"
#include "lunatic_net.h"

/* Kills every pid it receives. */
static void reaper(int64_t unused)
{
    (void)unused;
    for (;;) {
        uint64_t pid;
        lun_received message;
        if (lun_receive(NULL, 0, LUN_FOREVER, &pid, sizeof pid, &message) != LUN_DATA) continue;
        lun_kill(pid);
    }
}

static void get_killed(uint64_t reaper_pid)
{
    lun_address any;
    lun_address_parse("127.0.0.1:0", &any);
    int64_t listener, socket;
    lun_tcp_bind(&any, &listener);
    lun_udp_bind(&any, &socket);
    uint64_t self = lun_self();
    lun_send(reaper_pid, 0, &self, sizeof self);
    lun_received message;
    for (;;)
        lun_receive(NULL, 0, LUN_FOREVER, NULL, 0, &message);
}

/* argument: reaper pid << 32 | read timeout in ms (0 = none). */
static void handle(int64_t argument)
{
    uint64_t reaper_pid = (uint64_t)argument >> 32;
    int64_t timeout = argument & 0xFFFFFFFF;
    int64_t stream;
    if (lun_receive_tcp_stream(LUN_FOREVER, &stream) != LUN_NET_OK) return;
    if (timeout > 0) lun_tcp_set_read_timeout(stream, timeout);
    static char buffer[16384];
    for (;;) {
        size_t count;
        int code = lun_tcp_read(stream, buffer, sizeof buffer, &count);
        if (code == LUN_NET_TIMEOUT) {
            lun_tcp_write_all(stream, "timeout\n", 8);
            break;
        }
        if (code != LUN_NET_OK || count == 0) break;
        if (count >= 4 && memcmp(buffer, "KILL", 4) == 0) get_killed(reaper_pid);
        if (lun_tcp_write_all(stream, buffer, count) != LUN_NET_OK) break;
    }
    lun_tcp_close(stream);
}

int main(int argc, char **argv)
{
    char text[64];
    snprintf(text, sizeof text, "127.0.0.1:%s", argc > 1 ? argv[1] : "0");
    int64_t timeout = argc > 2 ? atoll(argv[2]) : 0;
    lun_address address;
    int64_t listener;
    if (!lun_address_parse(text, &address)) {
        fprintf(stderr, "bad port\n");
        return 2;
    }
    if (lun_tcp_bind(&address, &listener) != LUN_NET_OK) {
        fprintf(stderr, "bind: %s\n", lun_net_error());
        return 1;
    }
    lun_tcp_local_address(listener, &address);
    lun_address_format(&address, text, sizeof text);
    printf("listening on %s\n", text);
    fflush(stdout);
    uint64_t reaper_pid = lun_spawn(reaper, 0);
    int64_t argument = (int64_t)(reaper_pid << 32 | (uint64_t)(timeout & 0xFFFFFFFF));
    for (;;) {
        int64_t stream;
        if (lun_tcp_accept(listener, &stream, NULL) != LUN_NET_OK) {
            fprintf(stderr, "accept: %s\n", lun_net_error());
            continue;
        }
        uint64_t pid = lun_spawn(handle, argument);
        if (pid == 0) {
            lun_tcp_close(stream);
            continue;
        }
        lun_send_tcp_stream(pid, 0, stream);
    }
}
