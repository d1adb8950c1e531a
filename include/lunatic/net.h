/*
 * Networking below the lunatic::networking host functions: a reactor
 * (epoll, edge-triggered, one thread) and socket resources (TCP, UDP, TLS),
 * plus a DNS resolver that does not block a worker.
 *
 * BLOCKING STYLE WITHOUT A STACK. Calls that may wait take the calling
 * process `self` and follow the core's step protocol (see lunatic/core.h):
 * they first try the operation; if it cannot complete, they register
 * interest with the reactor and return LUN_ERR_WOULD_BLOCK; the step returns
 * LUN_STEP_WAIT and, once woken, makes the same call again. A call has no
 * side effect before the attempt that succeeds. Timeouts come from the
 * socket's timeouts (read, write, peek) or the call's argument; when one
 * passes the call returns LUN_ERR_TIMEOUT. With self == NULL a call blocks
 * the calling thread instead (poll), which suits plain threads and tests;
 * never do that on a worker thread.
 *
 * Calls that need state between the first attempt and the retry (connect,
 * TLS handshakes, DNS) take a `pending` in/out pointer: NULL on the first
 * call; after LUN_ERR_WOULD_BLOCK it holds the half-done object, which the
 * caller keeps and passes again; it is NULL again after any other result.
 * A caller that abandons the call (its process is killed) frees it with
 * the matching release/cancel function.
 *
 * HANDLES. Sockets are reference counted; clone returns the same socket
 * with one more reference (shared timeouts, shared connection); the
 * connection closes when the last reference is released, including the
 * references held by messages (lun_net_*_resource). All functions may be
 * called from any thread; a socket's two directions (read, write) may be
 * used by two processes at once. Up to four processes may wait on one
 * direction of one socket; more poll every few milliseconds (and their
 * timeouts are not counted meanwhile). Wake-ups may be spurious (the call
 * just tries again), and a spurious one restarts the call's timeout.
 *
 * LIMITS. A lun_net counts its open sockets against max_sockets; beyond it,
 * and when the system runs out of descriptors (EMFILE, ENFILE), calls fail
 * with LUN_ERR_NO_MEMORY, never crash.
 *
 * LIFETIME. Create the lun_net after the runtime, free it after
 * lun_runtime_free (which drops every socket still held by a process).
 *
 * SIGNALS. lun_net_new sets SIGPIPE to "ignore" if it still has the default
 * action, so that writing to a closed connection is an error value.
 */
#ifndef LUNATIC_NET_H
#define LUNATIC_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "lunatic/core.h"
#include "lunatic/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lun_net lun_net;
typedef struct lun_tcp_listener lun_tcp_listener;
typedef struct lun_tcp_stream lun_tcp_stream;
typedef struct lun_udp_socket lun_udp_socket;
typedef struct lun_tls_listener lun_tls_listener;
typedef struct lun_tls_stream lun_tls_stream;
typedef struct lun_dns_query lun_dns_query;

/* ---- the networking context ----------------------------------------------- */

typedef struct lun_net_config {
    /* Open sockets allowed at once; 0 = the descriptor limit (RLIMIT_NOFILE,
     * raised to its hard maximum) minus a reserve of 64 for everything else. */
    size_t max_sockets;
    /* Resolver threads for DNS; 0 = 2. */
    unsigned resolver_threads;
} lun_net_config;

/* Starts the reactor thread and the resolver threads. config may be NULL. */
lun_status lun_net_new(const lun_net_config *config, lun_net **out, lun_error *error);
/* Stops the threads and frees the context. Every socket must be released. */
void lun_net_free(lun_net *net);
size_t lun_net_socket_count(const lun_net *net);
size_t lun_net_max_sockets(const lun_net *net);

/* ---- addresses ------------------------------------------------------------ */

/* The ABI's address shape: family 4 (4 bytes) or 6 (16 bytes), network
 * byte order; port in host order; flow_info and scope_id for IPv6 only. */
typedef struct lun_net_address {
    uint8_t family;
    uint8_t bytes[16];
    uint16_t port;
    uint32_t flow_info;
    uint32_t scope_id;
} lun_net_address;

/* Fills an address from text "a.b.c.d:port" or "[v6]:port" (no names). */
lun_status lun_net_address_parse(const char *text, lun_net_address *out, lun_error *error);

/* ---- DNS ------------------------------------------------------------------ */

/* A resolved list of addresses, freed with lun_dns_result_free. */
typedef struct lun_dns_result {
    size_t count;
    lun_net_address addresses[];
} lun_dns_result;

/* Resolves "host:port" (or "[v6]:port") with the system resolver on a
 * resolver thread. A name without a port is LUN_ERR_INVALID_ARGUMENT; a name
 * that does not resolve LUN_ERR_NOT_FOUND. *pending follows the pending
 * protocol above; timeout_ms as in the core (negative = none, 0 = only if
 * already done). */
lun_status lun_dns_resolve(lun_process *self, lun_net *net, const char *name, size_t name_length,
                           int64_t timeout_ms, lun_dns_query **pending, lun_dns_result **out,
                           lun_error *error);
/* Abandons a pending query (its result, if any, is freed). NULL: no-op. */
void lun_dns_query_cancel(lun_dns_query *query);
void lun_dns_result_free(lun_dns_result *result);

/* ---- TCP ------------------------------------------------------------------ */

/* Binds and listens (port 0 = any free port). Never waits. */
lun_status lun_tcp_bind(lun_net *net, const lun_net_address *address, lun_tcp_listener **out,
                        lun_error *error);
lun_status lun_tcp_listener_local_address(lun_tcp_listener *listener, lun_net_address *out,
                                          lun_error *error);
/* Waits for a connection (no timeout). peer may be NULL. */
lun_status lun_tcp_accept(lun_process *self, lun_tcp_listener *listener, lun_tcp_stream **out,
                          lun_net_address *peer, lun_error *error);
lun_tcp_listener *lun_tcp_listener_retain(lun_tcp_listener *listener);
void lun_tcp_listener_release(lun_tcp_listener *listener); /* NULL: no-op */

/* Connects; *stream follows the pending protocol and holds the connected
 * stream after LUN_OK. Refused: LUN_ERR_IO; timeout_ms passed:
 * LUN_ERR_TIMEOUT. */
lun_status lun_tcp_connect(lun_process *self, lun_net *net, const lun_net_address *address,
                           int64_t timeout_ms, lun_tcp_stream **stream, lun_error *error);

/* Reads up to `length` bytes; *count 0 = end of stream. */
lun_status lun_tcp_read(lun_process *self, lun_tcp_stream *stream, void *buffer, size_t length,
                        size_t *count, lun_error *error);
/* Like read, but leaves the bytes in the stream (uses the peek timeout). */
lun_status lun_tcp_peek(lun_process *self, lun_tcp_stream *stream, void *buffer, size_t length,
                        size_t *count, lun_error *error);
/* Writes some of the buffers (maybe partially: *count says how much). */
lun_status lun_tcp_write_vectored(lun_process *self, lun_tcp_stream *stream,
                                  const struct iovec *buffers, size_t buffer_count, size_t *count,
                                  lun_error *error);
/* Nothing is buffered in user space: LUN_OK once the stream is usable. */
lun_status lun_tcp_flush(lun_process *self, lun_tcp_stream *stream, lun_error *error);

/* Timeouts in milliseconds, shared by all clones; negative = none (the
 * default). */
void lun_tcp_stream_set_read_timeout(lun_tcp_stream *stream, int64_t timeout_ms);
void lun_tcp_stream_set_write_timeout(lun_tcp_stream *stream, int64_t timeout_ms);
void lun_tcp_stream_set_peek_timeout(lun_tcp_stream *stream, int64_t timeout_ms);
int64_t lun_tcp_stream_read_timeout(const lun_tcp_stream *stream);
int64_t lun_tcp_stream_write_timeout(const lun_tcp_stream *stream);
int64_t lun_tcp_stream_peek_timeout(const lun_tcp_stream *stream);

lun_status lun_tcp_stream_local_address(lun_tcp_stream *stream, lun_net_address *out,
                                        lun_error *error);
lun_status lun_tcp_stream_peer_address(lun_tcp_stream *stream, lun_net_address *out,
                                       lun_error *error);
lun_tcp_stream *lun_tcp_stream_clone(lun_tcp_stream *stream);
void lun_tcp_stream_release(lun_tcp_stream *stream); /* NULL: no-op */

/* ---- UDP ------------------------------------------------------------------ */

lun_status lun_udp_bind(lun_net *net, const lun_net_address *address, lun_udp_socket **out,
                        lun_error *error);
/* Sets the default peer (never waits). */
lun_status lun_udp_connect(lun_udp_socket *socket, const lun_net_address *address,
                           lun_error *error);
lun_status lun_udp_send(lun_process *self, lun_udp_socket *socket, const void *buffer,
                        size_t length, size_t *count, lun_error *error);
lun_status lun_udp_send_to(lun_process *self, lun_udp_socket *socket, const void *buffer,
                           size_t length, const lun_net_address *address, size_t *count,
                           lun_error *error);
/* Receives one datagram (truncated to length); uses the read timeout. */
lun_status lun_udp_receive(lun_process *self, lun_udp_socket *socket, void *buffer, size_t length,
                           size_t *count, lun_error *error);
lun_status lun_udp_receive_from(lun_process *self, lun_udp_socket *socket, void *buffer,
                                size_t length, size_t *count, lun_net_address *from,
                                lun_error *error);
void lun_udp_socket_set_read_timeout(lun_udp_socket *socket, int64_t timeout_ms);
lun_status lun_udp_socket_set_broadcast(lun_udp_socket *socket, bool on, lun_error *error);
lun_status lun_udp_socket_broadcast(lun_udp_socket *socket, bool *on, lun_error *error);
lun_status lun_udp_socket_set_ttl(lun_udp_socket *socket, uint32_t ttl, lun_error *error);
lun_status lun_udp_socket_ttl(lun_udp_socket *socket, uint32_t *ttl, lun_error *error);
lun_status lun_udp_socket_local_address(lun_udp_socket *socket, lun_net_address *out,
                                        lun_error *error);
/* LUN_ERR_STATE when not connected. */
lun_status lun_udp_socket_peer_address(lun_udp_socket *socket, lun_net_address *out,
                                       lun_error *error);
lun_udp_socket *lun_udp_socket_clone(lun_udp_socket *socket);
void lun_udp_socket_release(lun_udp_socket *socket); /* NULL: no-op */

/* ---- TLS over TCP (OpenSSL) ----------------------------------------------- */

/* certificate: PEM with one certificate; key: PEM with one private key
 * (PKCS#8 or traditional). Bad PEM: LUN_ERR_INVALID_ARGUMENT. */
lun_status lun_tls_bind(lun_net *net, const lun_net_address *address, const void *certificate,
                        size_t certificate_length, const void *key, size_t key_length,
                        lun_tls_listener **out, lun_error *error);
lun_status lun_tls_listener_local_address(lun_tls_listener *listener, lun_net_address *out,
                                          lun_error *error);
/* Accepts a connection and attaches the server side of TLS; *stream is set
 * only on LUN_OK (nothing is left pending). The handshake runs in the
 * stream's first lun_tls_read / lun_tls_write_vectored / lun_tls_flush,
 * under that call's read or write timeout: a failed handshake is that
 * call's LUN_ERR_IO, and LUN_ERR_STATE on every later call. */
lun_status lun_tls_accept(lun_process *self, lun_tls_listener *listener, lun_tls_stream **stream,
                          lun_net_address *peer, lun_error *error);
lun_tls_listener *lun_tls_listener_retain(lun_tls_listener *listener);
void lun_tls_listener_release(lun_tls_listener *listener);

/* Connects and performs the client handshake, verifying the server's
 * certificate for server_name against the given PEM certificates (each
 * roots[i] of roots_lengths[i] bytes; unparsable ones are skipped) or, with
 * root_count 0, the system's trust store. timeout_ms covers the TCP connect
 * only, as in lunatic. */
lun_status lun_tls_connect(lun_process *self, lun_net *net, const lun_net_address *address,
                           const char *server_name, const void *const *roots,
                           const size_t *roots_lengths, size_t root_count, int64_t timeout_ms,
                           lun_tls_stream **stream, lun_error *error);
lun_status lun_tls_read(lun_process *self, lun_tls_stream *stream, void *buffer, size_t length,
                        size_t *count, lun_error *error);
lun_status lun_tls_write_vectored(lun_process *self, lun_tls_stream *stream,
                                  const struct iovec *buffers, size_t buffer_count, size_t *count,
                                  lun_error *error);
lun_status lun_tls_flush(lun_process *self, lun_tls_stream *stream, lun_error *error);
void lun_tls_stream_set_read_timeout(lun_tls_stream *stream, int64_t timeout_ms);
void lun_tls_stream_set_write_timeout(lun_tls_stream *stream, int64_t timeout_ms);
int64_t lun_tls_stream_read_timeout(const lun_tls_stream *stream);
int64_t lun_tls_stream_write_timeout(const lun_tls_stream *stream);
lun_tls_stream *lun_tls_stream_clone(lun_tls_stream *stream);
void lun_tls_stream_release(lun_tls_stream *stream); /* NULL: no-op */

/* ---- sockets in messages -------------------------------------------------- */

/* Resource types for lun_message_push_resource: the message owns one
 * reference; destroy releases it. */
extern const lun_resource_type lun_net_tcp_stream_resource;
extern const lun_resource_type lun_net_tcp_listener_resource;
extern const lun_resource_type lun_net_udp_socket_resource;
extern const lun_resource_type lun_net_tls_stream_resource;
extern const lun_resource_type lun_net_tls_listener_resource;

#ifdef __cplusplus
}
#endif

#endif
