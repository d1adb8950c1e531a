/*
 * Sockets for C guests: the raw lunatic::networking imports (lun_sys_*,
 * exact signatures of docs/lunatic-abi.md §11, and the message calls that
 * move sockets between processes, §6) and helpers over them: addresses as
 * a struct, TCP listeners and streams, UDP sockets, TLS, DNS, and sending
 * a stream to another process.
 *
 * Helpers return LUN_NET_OK, LUN_NET_ERROR (the host's message is then in
 * lun_net_error(), the error id already dropped) or LUN_NET_TIMEOUT (the
 * call's or the socket's timeout passed). Calls that wait (accept, read,
 * connect, ...) park the process, never the runtime: thousands of processes
 * may each wait on their own socket.
 */
#ifndef LUNATIC_NET_GUEST_H
#define LUNATIC_NET_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lunatic_guest.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LUN_NET_IMPORT(name) LUN_IMPORT("lunatic::networking", name)
/* An address argument group: type (4 or 6), pointer to 4 or 16 bytes in
 * network order, port, IPv6 flow info and scope id. */
#define LUN_ADDR_PARAMS                                                                            \
    uint32_t addr_type, const void *addr, uint32_t port, uint32_t flow_info, uint32_t scope_id

/* ---- raw imports: lunatic::networking ---------------------------------------- */

LUN_NET_IMPORT("resolve")
int32_t lun_sys_resolve(const char *name, uint32_t length, uint64_t timeout, uint64_t *id);
LUN_NET_IMPORT("resolve_next")
int32_t lun_sys_resolve_next(uint64_t iterator, uint32_t *type, uint8_t *address, uint16_t *port,
                             uint32_t *flow_info, uint32_t *scope_id);
LUN_NET_IMPORT("drop_dns_iterator") void lun_sys_drop_dns_iterator(uint64_t iterator);

LUN_NET_IMPORT("tcp_bind") int32_t lun_sys_tcp_bind(LUN_ADDR_PARAMS, uint64_t *id);
LUN_NET_IMPORT("tcp_local_addr") int32_t lun_sys_tcp_local_addr(uint64_t listener, uint64_t *id);
LUN_NET_IMPORT("tcp_accept")
int32_t lun_sys_tcp_accept(uint64_t listener, uint64_t *id, uint64_t *peer);
LUN_NET_IMPORT("tcp_connect")
int32_t lun_sys_tcp_connect(LUN_ADDR_PARAMS, uint64_t timeout, uint64_t *id);
LUN_NET_IMPORT("tcp_peer_addr") int32_t lun_sys_tcp_peer_addr(uint64_t stream, uint64_t *id);
LUN_NET_IMPORT("tcp_read")
int32_t lun_sys_tcp_read(uint64_t stream, void *buffer, uint32_t length, uint64_t *count);
LUN_NET_IMPORT("tcp_peek")
int32_t lun_sys_tcp_peek(uint64_t stream, void *buffer, uint32_t length, uint64_t *count);
/* iovecs: count pairs (u32 pointer, u32 length). */
LUN_NET_IMPORT("tcp_write_vectored")
int32_t lun_sys_tcp_write_vectored(uint64_t stream, const void *iovecs, uint32_t count,
                                   uint64_t *written);
LUN_NET_IMPORT("tcp_flush") int32_t lun_sys_tcp_flush(uint64_t stream, uint64_t *error);
LUN_NET_IMPORT("set_read_timeout") void lun_sys_set_read_timeout(uint64_t stream, uint64_t ms);
LUN_NET_IMPORT("set_write_timeout") void lun_sys_set_write_timeout(uint64_t stream, uint64_t ms);
LUN_NET_IMPORT("set_peek_timeout") void lun_sys_set_peek_timeout(uint64_t stream, uint64_t ms);
LUN_NET_IMPORT("get_read_timeout") uint64_t lun_sys_get_read_timeout(uint64_t stream);
LUN_NET_IMPORT("get_write_timeout") uint64_t lun_sys_get_write_timeout(uint64_t stream);
LUN_NET_IMPORT("get_peek_timeout") uint64_t lun_sys_get_peek_timeout(uint64_t stream);
LUN_NET_IMPORT("clone_tcp_stream") uint64_t lun_sys_clone_tcp_stream(uint64_t stream);
LUN_NET_IMPORT("drop_tcp_stream") void lun_sys_drop_tcp_stream(uint64_t stream);
LUN_NET_IMPORT("drop_tcp_listener") void lun_sys_drop_tcp_listener(uint64_t listener);

LUN_NET_IMPORT("tls_bind")
int32_t lun_sys_tls_bind(LUN_ADDR_PARAMS, uint64_t *id, const void *certificate,
                         uint32_t certificate_length, const void *key, uint32_t key_length);
LUN_NET_IMPORT("tls_local_addr") int32_t lun_sys_tls_local_addr(uint64_t listener, uint64_t *id);
LUN_NET_IMPORT("tls_accept")
int32_t lun_sys_tls_accept(uint64_t listener, uint64_t *id, uint64_t *peer);
/* certificates: count pairs (u32 pointer, u32 length) naming PEM text. */
LUN_NET_IMPORT("tls_connect")
int32_t lun_sys_tls_connect(const char *host, uint32_t host_length, uint32_t port, uint64_t timeout,
                            uint64_t *id, const void *certificates, uint32_t count);
LUN_NET_IMPORT("tls_read")
int32_t lun_sys_tls_read(uint64_t stream, void *buffer, uint32_t length, uint64_t *count);
LUN_NET_IMPORT("tls_write_vectored")
int32_t lun_sys_tls_write_vectored(uint64_t stream, const void *iovecs, uint32_t count,
                                   uint64_t *written);
LUN_NET_IMPORT("tls_flush") int32_t lun_sys_tls_flush(uint64_t stream, uint64_t *error);
LUN_NET_IMPORT("set_tls_read_timeout")
void lun_sys_set_tls_read_timeout(uint64_t stream, uint64_t ms);
LUN_NET_IMPORT("set_tls_write_timeout")
void lun_sys_set_tls_write_timeout(uint64_t stream, uint64_t ms);
LUN_NET_IMPORT("get_tls_read_timeout") uint64_t lun_sys_get_tls_read_timeout(uint64_t stream);
LUN_NET_IMPORT("get_tls_write_timeout") uint64_t lun_sys_get_tls_write_timeout(uint64_t stream);
LUN_NET_IMPORT("clone_tls_stream") uint64_t lun_sys_clone_tls_stream(uint64_t stream);
LUN_NET_IMPORT("drop_tls_stream") void lun_sys_drop_tls_stream(uint64_t stream);
LUN_NET_IMPORT("drop_tls_listener") void lun_sys_drop_tls_listener(uint64_t listener);

LUN_NET_IMPORT("udp_bind") int32_t lun_sys_udp_bind(LUN_ADDR_PARAMS, uint64_t *id);
LUN_NET_IMPORT("udp_connect")
int32_t lun_sys_udp_connect(uint64_t socket, LUN_ADDR_PARAMS, uint64_t timeout, uint64_t *id);
LUN_NET_IMPORT("udp_send")
int32_t lun_sys_udp_send(uint64_t socket, const void *buffer, uint32_t length, uint64_t *count);
LUN_NET_IMPORT("udp_send_to")
int32_t lun_sys_udp_send_to(uint64_t socket, const void *buffer, uint32_t length, LUN_ADDR_PARAMS,
                            uint64_t *count);
LUN_NET_IMPORT("udp_receive")
int32_t lun_sys_udp_receive(uint64_t socket, void *buffer, uint32_t length, uint64_t *count);
LUN_NET_IMPORT("udp_receive_from")
int32_t lun_sys_udp_receive_from(uint64_t socket, void *buffer, uint32_t length, uint64_t *count,
                                 uint64_t *from);
LUN_NET_IMPORT("udp_local_addr") int32_t lun_sys_udp_local_addr(uint64_t socket, uint64_t *id);
LUN_NET_IMPORT("udp_peer_addr") int32_t lun_sys_udp_peer_addr(uint64_t socket, uint64_t *id);
LUN_NET_IMPORT("set_udp_socket_broadcast")
void lun_sys_set_udp_socket_broadcast(uint64_t socket, int32_t flag);
LUN_NET_IMPORT("get_udp_socket_broadcast")
int32_t lun_sys_get_udp_socket_broadcast(uint64_t socket);
LUN_NET_IMPORT("set_udp_socket_ttl") void lun_sys_set_udp_socket_ttl(uint64_t socket, uint32_t ttl);
LUN_NET_IMPORT("get_udp_socket_ttl") uint32_t lun_sys_get_udp_socket_ttl(uint64_t socket);
LUN_NET_IMPORT("clone_udp_socket") uint64_t lun_sys_clone_udp_socket(uint64_t socket);
LUN_NET_IMPORT("drop_udp_socket") void lun_sys_drop_udp_socket(uint64_t socket);

/* ---- raw imports: sockets in messages (lunatic::message) ----------------------- */

LUN_IMPORT("lunatic::message", "push_tcp_stream") uint64_t lun_sys_push_tcp_stream(uint64_t id);
LUN_IMPORT("lunatic::message", "take_tcp_stream") uint64_t lun_sys_take_tcp_stream(uint64_t index);
LUN_IMPORT("lunatic::message", "push_tls_stream") uint64_t lun_sys_push_tls_stream(uint64_t id);
LUN_IMPORT("lunatic::message", "take_tls_stream") uint64_t lun_sys_take_tls_stream(uint64_t index);
LUN_IMPORT("lunatic::message", "push_udp_socket") uint64_t lun_sys_push_udp_socket(uint64_t id);
LUN_IMPORT("lunatic::message", "take_udp_socket") uint64_t lun_sys_take_udp_socket(uint64_t index);

/* ---- helpers --------------------------------------------------------------------- */

enum { LUN_NET_OK = 0, LUN_NET_ERROR = 1, LUN_NET_TIMEOUT = 9027 };

typedef struct lun_address {
    uint32_t type;     /* 4 or 6 */
    uint8_t bytes[16]; /* network order; 4 used for IPv4 */
    uint16_t port;
    uint32_t flow_info, scope_id; /* IPv6 only */
} lun_address;

/* "a.b.c.d:port" (IPv4 literals only; use lun_resolve for names and IPv6).
 * Returns false when the text is not one. */
bool lun_address_parse(const char *text, lun_address *out);
/* "a.b.c.d:port" or "[v6]:port" into buffer (cut to fit). */
void lun_address_format(const lun_address *address, char *buffer, size_t capacity);

/* The message of the last LUN_NET_ERROR of this process ("" if none). */
const char *lun_net_error(void);

/* DNS: resolves "host:port" into up to capacity addresses (*count set). */
int lun_resolve(const char *name, int64_t timeout_ms, lun_address *addresses, size_t capacity,
                size_t *count);

/* TCP. Timeouts in ms; LUN_FOREVER = none. */
int lun_tcp_bind(const lun_address *address, int64_t *listener);
int lun_tcp_local_address(int64_t listener, lun_address *out);
int lun_tcp_accept(int64_t listener, int64_t *stream, lun_address *peer /* may be NULL */);
int lun_tcp_connect(const lun_address *address, int64_t timeout_ms, int64_t *stream);
/* *count 0 = the peer closed. */
int lun_tcp_read(int64_t stream, void *buffer, size_t capacity, size_t *count);
/* Like read, but the bytes stay in the stream. */
int lun_tcp_peek(int64_t stream, void *buffer, size_t capacity, size_t *count);
/* Writes all length bytes (several writes when needed). */
int lun_tcp_write_all(int64_t stream, const void *data, size_t length);
static inline void lun_tcp_set_read_timeout(int64_t stream, int64_t ms)
{
    lun_sys_set_read_timeout((uint64_t)stream, (uint64_t)ms);
}
static inline void lun_tcp_set_write_timeout(int64_t stream, int64_t ms)
{
    lun_sys_set_write_timeout((uint64_t)stream, (uint64_t)ms);
}
static inline void lun_tcp_close(int64_t stream)
{
    lun_sys_drop_tcp_stream((uint64_t)stream);
}
static inline void lun_tcp_listener_close(int64_t listener)
{
    lun_sys_drop_tcp_listener((uint64_t)listener);
}

/* Moving sockets to another process: the message carries the socket (it
 * leaves this process's table) and its index; the receiver takes it. */
void lun_send_tcp_stream(uint64_t pid, int64_t tag, int64_t stream);
void lun_send_tls_stream(uint64_t pid, int64_t tag, int64_t stream);
/* Receives the next message, which must come from lun_send_*_stream (any
 * other message is consumed and reported as LUN_NET_ERROR). */
int lun_receive_tcp_stream(int64_t timeout_ms, int64_t *stream);
int lun_receive_tls_stream(int64_t timeout_ms, int64_t *stream);

/* UDP. */
int lun_udp_bind(const lun_address *address, int64_t *socket);
int lun_udp_local_address(int64_t socket, lun_address *out);
int lun_udp_connect(int64_t socket, const lun_address *address);
int lun_udp_send(int64_t socket, const void *data, size_t length, size_t *count);
int lun_udp_send_to(int64_t socket, const void *data, size_t length, const lun_address *to,
                    size_t *count);
/* One datagram (cut to capacity). */
int lun_udp_receive(int64_t socket, void *buffer, size_t capacity, size_t *count);
int lun_udp_receive_from(int64_t socket, void *buffer, size_t capacity, size_t *count,
                         lun_address *from);
static inline void lun_udp_close(int64_t socket)
{
    lun_sys_drop_udp_socket((uint64_t)socket);
}

/* TLS. certificate and key: PEM text (a bad one traps, as in lunatic). */
int lun_tls_bind(const lun_address *address, const void *certificate, size_t certificate_length,
                 const void *key, size_t key_length, int64_t *listener);
int lun_tls_local_address(int64_t listener, lun_address *out);
int lun_tls_accept(int64_t listener, int64_t *stream, lun_address *peer /* may be NULL */);
/* Connects to host:port and verifies the server for `host` against the
 * root_count PEM certificates (root_count 0: the system's roots). */
int lun_tls_connect(const char *host, uint16_t port, int64_t timeout_ms,
                    const char *const *root_pems, const size_t *root_lengths, size_t root_count,
                    int64_t *stream);
int lun_tls_read(int64_t stream, void *buffer, size_t capacity, size_t *count);
int lun_tls_write_all(int64_t stream, const void *data, size_t length);
static inline void lun_tls_set_read_timeout(int64_t stream, int64_t ms)
{
    lun_sys_set_tls_read_timeout((uint64_t)stream, (uint64_t)ms);
}
static inline void lun_tls_close(int64_t stream)
{
    lun_sys_drop_tls_stream((uint64_t)stream);
}
static inline void lun_tls_listener_close(int64_t listener)
{
    lun_sys_drop_tls_listener((uint64_t)listener);
}

#ifdef __cplusplus
}
#endif

#endif
