/*
 * TLS echo server, one process per connection, and a matching client.
 *
 *   tls_echo.wasm serve CERT.pem KEY.pem [port]
 *   tls_echo.wasm connect HOST PORT CA.pem MESSAGE
 *
 * The server prints "listening on ADDRESS" and echoes every connection
 * until the client closes. The client resolves HOST, connects, verifies
 * the server against CA.pem for HOST, sends MESSAGE, prints "echo: " and
 * what came back, and exits 0 (1 on any failure, with the reason).
 * File paths are read through WASI (`lunatic run` preopens ".").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic_guest.h"
#include "lunatic_net.h"

static char *read_file(const char *path, size_t *length)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) return NULL;
    char *data = malloc(65536);
    *length = data ? fread(data, 1, 65536, file) : 0;
    fclose(file);
    return data;
}

static void handle(int64_t unused)
{
    (void)unused;
    int64_t stream;
    if (lun_receive_tls_stream(LUN_FOREVER, &stream) != LUN_NET_OK) return;
    static char buffer[16384];
    for (;;) {
        size_t count;
        if (lun_tls_read(stream, buffer, sizeof buffer, &count) != LUN_NET_OK || count == 0) break;
        if (lun_tls_write_all(stream, buffer, count) != LUN_NET_OK) break;
    }
    lun_tls_close(stream);
}

static int serve(const char *certificate_path, const char *key_path, const char *port)
{
    size_t certificate_length, key_length;
    char *certificate = read_file(certificate_path, &certificate_length);
    char *key = read_file(key_path, &key_length);
    if (certificate == NULL || key == NULL) {
        fprintf(stderr, "cannot read %s or %s\n", certificate_path, key_path);
        return 1;
    }
    char text[64];
    snprintf(text, sizeof text, "127.0.0.1:%s", port);
    lun_address address;
    int64_t listener;
    if (!lun_address_parse(text, &address)) return 2;
    if (lun_tls_bind(&address, certificate, certificate_length, key, key_length, &listener) !=
        LUN_NET_OK) {
        fprintf(stderr, "bind: %s\n", lun_net_error());
        return 1;
    }
    free(certificate);
    free(key);
    lun_tls_local_address(listener, &address);
    lun_address_format(&address, text, sizeof text);
    printf("listening on %s\n", text);
    fflush(stdout);
    for (;;) {
        int64_t stream;
        if (lun_tls_accept(listener, &stream, NULL) != LUN_NET_OK) {
            fprintf(stderr, "accept: %s\n", lun_net_error());
            continue;
        }
        uint64_t pid = lun_spawn(handle, 0);
        if (pid == 0) {
            lun_tls_close(stream);
            continue;
        }
        lun_send_tls_stream(pid, 0, stream);
    }
}

static int run_client(const char *host, const char *port, const char *ca_path, const char *message)
{
    size_t ca_length;
    char *ca = read_file(ca_path, &ca_length);
    if (ca == NULL) {
        fprintf(stderr, "cannot read %s\n", ca_path);
        return 1;
    }
    const char *roots[1] = {ca};
    int64_t stream;
    if (lun_tls_connect(host, (uint16_t)atoi(port), 5000, roots, &ca_length, 1, &stream) !=
        LUN_NET_OK) {
        printf("connect failed: %s\n", lun_net_error());
        return 1;
    }
    size_t length = strlen(message), received = 0;
    if (lun_tls_write_all(stream, message, length) != LUN_NET_OK) {
        printf("write failed: %s\n", lun_net_error());
        return 1;
    }
    char reply[1024];
    while (received < length && received < sizeof reply) {
        size_t count;
        if (lun_tls_read(stream, reply + received, sizeof reply - received, &count) != LUN_NET_OK ||
            count == 0)
            break;
        received += count;
    }
    printf("echo: %.*s\n", (int)received, reply);
    lun_tls_close(stream);
    free(ca);
    return received == length ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "serve") == 0)
        return serve(argv[2], argv[3], argc > 4 ? argv[4] : "0");
    if (argc >= 6 && strcmp(argv[1], "connect") == 0)
        return run_client(argv[2], argv[3], argv[4], argv[5]);
    fprintf(stderr, "usage: tls_echo.wasm serve CERT KEY [port] | connect HOST PORT CA MESSAGE\n");
    return 2;
}
