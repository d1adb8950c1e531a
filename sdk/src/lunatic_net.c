/*
 * The C guest SDK's socket helpers (sdk/include/lunatic_net.h) over the
 * lunatic::networking imports.
 */
#include <stdio.h>
#include <string.h>

#include "lunatic_net.h"

/* Each process has its own memory, so this is per process. */
static char last_error[256];

const char *lun_net_error(void)
{
    return last_error;
}

/* Keeps the message of an error id and drops the id. */
static int failed(int32_t code, uint64_t error_id)
{
    if (code == LUN_NET_ERROR || code == 2) {
        lun_error_take((int64_t)error_id, last_error, sizeof last_error);
        return LUN_NET_ERROR;
    }
    return code;
}

/* ---- addresses ------------------------------------------------------------------ */

static bool parse_number(const char **text, unsigned maximum, unsigned *out)
{
    const char *p = *text;
    unsigned value = 0;
    if (*p < '0' || *p > '9') return false;
    while (*p >= '0' && *p <= '9') {
        value = value * 10 + (unsigned)(*p++ - '0');
        if (value > maximum) return false;
    }
    *text = p;
    *out = value;
    return true;
}

bool lun_address_parse(const char *text, lun_address *out)
{
    memset(out, 0, sizeof *out);
    out->type = 4;
    for (int i = 0; i < 4; i++) {
        unsigned byte;
        if (!parse_number(&text, 255, &byte)) return false;
        out->bytes[i] = (uint8_t)byte;
        if (*text++ != (i < 3 ? '.' : ':')) return false;
    }
    unsigned port;
    if (!parse_number(&text, 65535, &port) || *text != '\0') return false;
    out->port = (uint16_t)port;
    return true;
}

void lun_address_format(const lun_address *address, char *buffer, size_t capacity)
{
    const uint8_t *b = address->bytes;
    if (address->type == 4) {
        snprintf(buffer, capacity, "%u.%u.%u.%u:%u", b[0], b[1], b[2], b[3], address->port);
        return;
    }
    size_t used = (size_t)snprintf(buffer, capacity, "[");
    for (int i = 0; i < 16 && used < capacity; i += 2)
        used += (size_t)snprintf(buffer + used, capacity - used, i ? ":%x" : "%x",
                                 (unsigned)(b[i] << 8 | b[i + 1]));
    if (used < capacity) snprintf(buffer + used, capacity - used, "]:%u", address->port);
}

#define ADDR_ARGS(a) (a)->type, (a)->bytes, (a)->port, (a)->flow_info, (a)->scope_id

/* Reads the next address of a DNS iterator; false when exhausted. */
static bool next_address(uint64_t iterator, lun_address *out)
{
    memset(out, 0, sizeof *out);
    return lun_sys_resolve_next(iterator, &out->type, out->bytes, &out->port, &out->flow_info,
                                &out->scope_id) == 0;
}

/* A one-address iterator into out (may be NULL), then dropped. */
static void take_address(uint64_t iterator, lun_address *out)
{
    lun_address ignored;
    next_address(iterator, out ? out : &ignored);
    lun_sys_drop_dns_iterator(iterator);
}

int lun_resolve(const char *name, int64_t timeout_ms, lun_address *addresses, size_t capacity,
                size_t *count)
{
    uint64_t id;
    *count = 0;
    int32_t code = lun_sys_resolve(name, (uint32_t)strlen(name), (uint64_t)timeout_ms, &id);
    if (code != 0) return failed(code, id);
    while (*count < capacity && next_address(id, &addresses[*count]))
        (*count)++;
    lun_sys_drop_dns_iterator(id);
    return LUN_NET_OK;
}

/* The ends of the calls that return an id or an address. */
static int id_result(int32_t code, uint64_t id, int64_t *out)
{
    if (code != 0) return failed(code, id);
    *out = (int64_t)id;
    return LUN_NET_OK;
}

static int address_result(int32_t code, uint64_t id, lun_address *out)
{
    if (code != 0) return failed(code, id);
    take_address(id, out);
    return LUN_NET_OK;
}

/* ---- TCP -------------------------------------------------------------------------- */

int lun_tcp_bind(const lun_address *address, int64_t *listener)
{
    uint64_t id;
    int32_t code = lun_sys_tcp_bind(ADDR_ARGS(address), &id);
    return id_result(code, id, listener);
}

int lun_tcp_local_address(int64_t listener, lun_address *out)
{
    uint64_t id;
    int32_t code = lun_sys_tcp_local_addr((uint64_t)listener, &id);
    return address_result(code, id, out);
}

int lun_tcp_accept(int64_t listener, int64_t *stream, lun_address *peer)
{
    uint64_t id, peer_id;
    int32_t code = lun_sys_tcp_accept((uint64_t)listener, &id, &peer_id);
    if (code == 0) take_address(peer_id, peer);
    return id_result(code, id, stream);
}

int lun_tcp_connect(const lun_address *address, int64_t timeout_ms, int64_t *stream)
{
    uint64_t id;
    int32_t code = lun_sys_tcp_connect(ADDR_ARGS(address), (uint64_t)timeout_ms, &id);
    return id_result(code, id, stream);
}

static int count_result(int32_t code, uint64_t value, size_t *count)
{
    if (code != 0) return failed(code, value);
    *count = (size_t)value;
    return LUN_NET_OK;
}

int lun_tcp_read(int64_t stream, void *buffer, size_t capacity, size_t *count)
{
    uint64_t value;
    int32_t code = lun_sys_tcp_read((uint64_t)stream, buffer, (uint32_t)capacity, &value);
    return count_result(code, value, count);
}

int lun_tcp_peek(int64_t stream, void *buffer, size_t capacity, size_t *count)
{
    uint64_t value;
    int32_t code = lun_sys_tcp_peek((uint64_t)stream, buffer, (uint32_t)capacity, &value);
    return count_result(code, value, count);
}

typedef int32_t (*write_fn)(uint64_t stream, const void *iovecs, uint32_t count, uint64_t *written);

static int write_all(write_fn write, int64_t stream, const void *data, size_t length)
{
    const uint8_t *bytes = data;
    while (length > 0) {
        uint32_t iovec[2] = {(uint32_t)(uintptr_t)bytes, (uint32_t)length};
        uint64_t written;
        int32_t code = write((uint64_t)stream, iovec, 1, &written);
        if (code != 0) return failed(code, written);
        if (written == 0) {
            snprintf(last_error, sizeof last_error, "the connection accepts no more data");
            return LUN_NET_ERROR;
        }
        bytes += written;
        length -= (size_t)written;
    }
    return LUN_NET_OK;
}

int lun_tcp_write_all(int64_t stream, const void *data, size_t length)
{
    return write_all(lun_sys_tcp_write_vectored, stream, data, length);
}

/* ---- sockets in messages -------------------------------------------------------- */

static void send_stream(uint64_t (*push)(uint64_t id), uint64_t pid, int64_t tag, int64_t stream)
{
    lun_sys_create_data(tag, 8);
    uint64_t index = push((uint64_t)stream);
    lun_sys_write_data(&index, sizeof index);
    lun_sys_send(pid);
}

void lun_send_tcp_stream(uint64_t pid, int64_t tag, int64_t stream)
{
    send_stream(lun_sys_push_tcp_stream, pid, tag, stream);
}

void lun_send_tls_stream(uint64_t pid, int64_t tag, int64_t stream)
{
    send_stream(lun_sys_push_tls_stream, pid, tag, stream);
}

static int receive_stream(uint64_t (*take)(uint64_t index), int64_t timeout_ms, int64_t *stream)
{
    uint64_t index;
    lun_received message;
    int kind = lun_receive(NULL, 0, timeout_ms, &index, sizeof index, &message);
    if (kind == LUN_TIMEOUT) return LUN_NET_TIMEOUT;
    if (kind != LUN_DATA || message.copied != sizeof index) {
        snprintf(last_error, sizeof last_error, "the message carries no stream");
        return LUN_NET_ERROR;
    }
    *stream = (int64_t)take(index);
    return LUN_NET_OK;
}

int lun_receive_tcp_stream(int64_t timeout_ms, int64_t *stream)
{
    return receive_stream(lun_sys_take_tcp_stream, timeout_ms, stream);
}

int lun_receive_tls_stream(int64_t timeout_ms, int64_t *stream)
{
    return receive_stream(lun_sys_take_tls_stream, timeout_ms, stream);
}

/* ---- UDP -------------------------------------------------------------------------- */

int lun_udp_bind(const lun_address *address, int64_t *socket)
{
    uint64_t id;
    int32_t code = lun_sys_udp_bind(ADDR_ARGS(address), &id);
    return id_result(code, id, socket);
}

int lun_udp_local_address(int64_t socket, lun_address *out)
{
    uint64_t id;
    int32_t code = lun_sys_udp_local_addr((uint64_t)socket, &id);
    return address_result(code, id, out);
}

int lun_udp_connect(int64_t socket, const lun_address *address)
{
    uint64_t id;
    int32_t code = lun_sys_udp_connect((uint64_t)socket, ADDR_ARGS(address), (uint64_t)-1, &id);
    return code != 0 ? failed(code, id) : LUN_NET_OK;
}

int lun_udp_send(int64_t socket, const void *data, size_t length, size_t *count)
{
    uint64_t value;
    int32_t code = lun_sys_udp_send((uint64_t)socket, data, (uint32_t)length, &value);
    return count_result(code, value, count);
}

int lun_udp_send_to(int64_t socket, const void *data, size_t length, const lun_address *to,
                    size_t *count)
{
    uint64_t value;
    int32_t code =
        lun_sys_udp_send_to((uint64_t)socket, data, (uint32_t)length, ADDR_ARGS(to), &value);
    return count_result(code, value, count);
}

int lun_udp_receive(int64_t socket, void *buffer, size_t capacity, size_t *count)
{
    uint64_t value;
    int32_t code = lun_sys_udp_receive((uint64_t)socket, buffer, (uint32_t)capacity, &value);
    return count_result(code, value, count);
}

int lun_udp_receive_from(int64_t socket, void *buffer, size_t capacity, size_t *count,
                         lun_address *from)
{
    uint64_t value, from_id;
    int32_t code =
        lun_sys_udp_receive_from((uint64_t)socket, buffer, (uint32_t)capacity, &value, &from_id);
    if (code == 0) take_address(from_id, from);
    return count_result(code, value, count);
}

/* ---- TLS -------------------------------------------------------------------------- */

int lun_tls_bind(const lun_address *address, const void *certificate, size_t certificate_length,
                 const void *key, size_t key_length, int64_t *listener)
{
    uint64_t id;
    int32_t code = lun_sys_tls_bind(ADDR_ARGS(address), &id, certificate,
                                    (uint32_t)certificate_length, key, (uint32_t)key_length);
    return id_result(code, id, listener);
}

int lun_tls_local_address(int64_t listener, lun_address *out)
{
    uint64_t id;
    int32_t code = lun_sys_tls_local_addr((uint64_t)listener, &id);
    return address_result(code, id, out);
}

int lun_tls_accept(int64_t listener, int64_t *stream, lun_address *peer)
{
    uint64_t id, peer_id;
    int32_t code = lun_sys_tls_accept((uint64_t)listener, &id, &peer_id);
    if (code == 0) take_address(peer_id, peer);
    return id_result(code, id, stream);
}

enum { MAX_ROOTS = 16 };

int lun_tls_connect(const char *host, uint16_t port, int64_t timeout_ms,
                    const char *const *root_pems, const size_t *root_lengths, size_t root_count,
                    int64_t *stream)
{
    uint32_t pairs[2 * MAX_ROOTS];
    if (root_count > MAX_ROOTS) root_count = MAX_ROOTS;
    for (size_t i = 0; i < root_count; i++) {
        pairs[2 * i] = (uint32_t)(uintptr_t)root_pems[i];
        pairs[2 * i + 1] = (uint32_t)root_lengths[i];
    }
    uint64_t id;
    int32_t code = lun_sys_tls_connect(host, (uint32_t)strlen(host), port, (uint64_t)timeout_ms,
                                       &id, pairs, (uint32_t)root_count);
    return id_result(code, id, stream);
}

int lun_tls_read(int64_t stream, void *buffer, size_t capacity, size_t *count)
{
    uint64_t value;
    int32_t code = lun_sys_tls_read((uint64_t)stream, buffer, (uint32_t)capacity, &value);
    return count_result(code, value, count);
}

int lun_tls_write_all(int64_t stream, const void *data, size_t length)
{
    return write_all(lun_sys_tls_write_vectored, stream, data, length);
}
