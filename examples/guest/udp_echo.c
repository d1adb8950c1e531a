/*
 * UDP echo server: every datagram goes back to its sender.
 *
 *   udp_echo.wasm [port]
 *
 * Prints "listening on ADDRESS" once bound. A datagram "QUIT" ends it.
 */
#include <stdio.h>
#include <string.h>

#include "lunatic_guest.h"
#include "lunatic_net.h"

int main(int argc, char **argv)
{
    char text[64];
    snprintf(text, sizeof text, "127.0.0.1:%s", argc > 1 ? argv[1] : "0");
    lun_address address;
    int64_t socket;
    if (!lun_address_parse(text, &address)) return 2;
    if (lun_udp_bind(&address, &socket) != LUN_NET_OK) {
        fprintf(stderr, "bind: %s\n", lun_net_error());
        return 1;
    }
    lun_udp_local_address(socket, &address);
    lun_address_format(&address, text, sizeof text);
    printf("listening on %s\n", text);
    fflush(stdout);
    static char buffer[65536];
    for (;;) {
        size_t count, sent;
        lun_address from;
        if (lun_udp_receive_from(socket, buffer, sizeof buffer, &count, &from) != LUN_NET_OK) {
            fprintf(stderr, "receive: %s\n", lun_net_error());
            return 1;
        }
        if (count == 4 && memcmp(buffer, "QUIT", 4) == 0) break;
        lun_udp_send_to(socket, buffer, count, &from, &sent);
    }
    lun_udp_close(socket);
    return 0;
}
