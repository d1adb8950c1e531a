/*
 * HTTP/1.1 "Hello, World!" server, one process per connection, with
 * keep-alive and pipelining: every request (any method and path; a body
 * announced by Content-Length is skipped) gets a 200 response with the
 * 13-byte body "Hello, World!".
 *
 *   http_hello.wasm [port] [idle_timeout_ms]
 *
 * Prints "listening on ADDRESS" once bound. A connection closes when the
 * client closes it, asks for it (Connection: close, or HTTP/1.0 without
 * keep-alive), stays idle past the timeout (default 60,000 ms; 0 = none), or sends a
 * request head over 8 KiB (answered 431).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic_guest.h"
#include "lunatic_net.h"

enum { BUFFER_SIZE = 8192, MAX_RESPONSES = 64 };

static const char response[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Length: 13\r\n"
                               "Content-Type: text/plain\r\n"
                               "\r\n"
                               "Hello, World!";
static const char too_large[] = "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                "Content-Length: 0\r\n"
                                "Connection: close\r\n"
                                "\r\n";

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive: does the line start with name? */
static bool header_is(const char *line, size_t length, const char *name)
{
    size_t n = strlen(name);
    if (length < n) return false;
    for (size_t i = 0; i < n; i++)
        if (lower(line[i]) != name[i]) return false;
    return true;
}

static bool contains_token(const char *text, size_t length, const char *token)
{
    size_t n = strlen(token);
    for (size_t i = 0; i + n <= length; i++)
        if (header_is(text + i, length - i, token)) return true;
    return false;
}

typedef struct request {
    size_t head_length; /* through the blank line */
    size_t body_length; /* from Content-Length */
    bool keep_alive;
} request;

/* Parses the head at data[0..length); false when it is not complete yet. */
static bool parse_head(const char *data, size_t length, request *out)
{
    const char *end = NULL;
    for (size_t i = 0; i + 3 < length; i++)
        if (data[i] == '\r' && data[i + 1] == '\n' && data[i + 2] == '\r' && data[i + 3] == '\n') {
            end = data + i;
            break;
        }
    if (end == NULL) return false;
    out->head_length = (size_t)(end - data) + 4;
    out->body_length = 0;
    const char *line_end = memchr(data, '\r', (size_t)(end - data) + 1);
    size_t first = (size_t)(line_end - data);
    out->keep_alive = !(first >= 8 && memcmp(line_end - 8, "HTTP/1.0", 8) == 0);
    const char *line = line_end + 2;
    while (line < end + 2) {
        const char *next = memchr(line, '\r', (size_t)(end + 2 - line));
        size_t n = (size_t)(next - line);
        if (n > 0 && (line[0] == 'c' || line[0] == 'C')) {
            if (header_is(line, n, "connection:")) {
                if (contains_token(line + 11, n - 11, "close")) out->keep_alive = false;
                if (contains_token(line + 11, n - 11, "keep-alive")) out->keep_alive = true;
            } else if (header_is(line, n, "content-length:")) {
                out->body_length = (size_t)strtoull(line + 15, NULL, 10);
            }
        }
        line = next + 2;
    }
    return true;
}

/* Answers every complete request in the buffer with one write. Returns
 * false when the connection must close. */
static bool serve(int64_t stream, char *buffer, size_t *filled, size_t *skip)
{
    static char out[sizeof response * MAX_RESPONSES];
    size_t out_length = 0, used = 0;
    bool keep = true;
    while (keep && out_length + sizeof response <= sizeof out) {
        size_t available = *filled - used;
        if (*skip > 0) { /* the rest of a body */
            size_t n = *skip < available ? *skip : available;
            used += n, *skip -= n;
            if (*skip > 0) break;
            continue;
        }
        request parsed;
        if (!parse_head(buffer + used, available, &parsed)) break;
        used += parsed.head_length;
        *skip = parsed.body_length;
        memcpy(out + out_length, response, sizeof response - 1);
        out_length += sizeof response - 1;
        keep = parsed.keep_alive;
    }
    memmove(buffer, buffer + used, *filled - used);
    *filled -= used;
    if (out_length > 0 && lun_tcp_write_all(stream, out, out_length) != LUN_NET_OK) return false;
    if (keep && *filled == BUFFER_SIZE) {
        lun_tcp_write_all(stream, too_large, sizeof too_large - 1);
        return false;
    }
    return keep;
}

static void connection(int64_t timeout)
{
    int64_t stream;
    if (lun_receive_tcp_stream(LUN_FOREVER, &stream) != LUN_NET_OK) return;
    if (timeout > 0) lun_tcp_set_read_timeout(stream, timeout);
    static char buffer[BUFFER_SIZE];
    size_t filled = 0, skip = 0;
    for (;;) {
        size_t count;
        if (lun_tcp_read(stream, buffer + filled, BUFFER_SIZE - filled, &count) != LUN_NET_OK ||
            count == 0)
            break;
        filled += count;
        if (!serve(stream, buffer, &filled, &skip)) break;
    }
    lun_tcp_close(stream);
}

int main(int argc, char **argv)
{
    char text[64];
    snprintf(text, sizeof text, "127.0.0.1:%s", argc > 1 ? argv[1] : "0");
    int64_t timeout = argc > 2 ? atoll(argv[2]) : 60000;
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
    for (;;) {
        int64_t stream;
        if (lun_tcp_accept(listener, &stream, NULL) != LUN_NET_OK) continue;
        uint64_t pid = lun_spawn(connection, timeout);
        if (pid == 0) {
            lun_tcp_close(stream);
            continue;
        }
        lun_send_tcp_stream(pid, 0, stream);
    }
}
