/*
 * What the lunatic::networking files share (docs/lunatic-abi.md §11): the
 * per-process socket tables and pending calls, guest addresses, DNS
 * iterators, and the mapping of networking statuses to guest codes.
 */
#ifndef LUNATIC_API_NETWORKING_H
#define LUNATIC_API_NETWORKING_H

#include "api_internal.h"
#include "lunatic/net.h"

/* The guest's return codes. */
enum { NET_OK = 0, NET_ERROR = 1 };

/* A DNS iterator: addresses handed out one by one by resolve_next. */
typedef struct net_iterator {
    size_t count;
    size_t next;
    lun_net_address addresses[];
} net_iterator;

/* A process's networking state, made on its first networking call. The
 * pending pointers follow the pending protocol of lunatic/net.h: a process
 * waits in at most one call at a time, so one of each kind is enough. */
struct api_net_state {
    lun_net *net;            /* the host's, looked up once */
    api_table iterators;     /* net_iterator * */
    api_table tcp_listeners; /* lun_tcp_listener * */
    api_table tcp_streams;   /* lun_tcp_stream * */
    api_table tls_listeners; /* lun_tls_listener * */
    api_table tls_streams;   /* lun_tls_stream * */
    api_table udp_sockets;   /* lun_udp_socket * */
    lun_tcp_stream *pending_connect;
    lun_tls_stream *pending_tls; /* accept or connect */
    lun_dns_query *pending_dns;  /* resolve or the first half of tls_connect */
    bool tls_connect_resolved;   /* tls_connect is past its DNS step */
    lun_net_address tls_connect_address;
};

/* The caller's state and the host's networking context; NULL after setting
 * the call's trap message (out of memory, the context cannot start). */
api_net_state *net_state(lun_host_call *call, api_process *process);
lun_net *net_context(lun_host_call *call, api_process *process);

/* Reads an ADDR argument group (five i32s from args[first]); false after
 * setting the trap message (bad type, out of bounds). */
bool net_read_address(lun_host_call *call, size_t first, lun_net_address *out);

/* A table entry by id, or NULL after setting the trap message. */
void *net_lookup(lun_host_call *call, api_table *table, const char *what, uint64_t id);

/* Adds a resource to a table and writes its id at pointer; false after
 * setting the trap message (the resource is released with destroy then). */
bool net_add(lun_host_call *call, api_table *table, void *resource, uint32_t pointer);

/* A one-address DNS iterator added to the caller's table, its id written
 * at pointer; false after setting the trap message. */
bool net_add_address(lun_host_call *call, api_net_state *state, const lun_net_address *address,
                     uint32_t pointer);

/* Ends a call that did not succeed: LUN_ERR_WOULD_BLOCK suspends, a
 * timeout returns 9027 (nothing written), anything else stores the error's
 * message as an error id written at pointer and returns 1. */
lun_host_result net_fail(lun_host_call *call, api_process *process, lun_status status,
                         const lun_error *error, uint32_t pointer);

/* Timeouts: the guest's u64::MAX (any negative i64) is "none". */
static inline int64_t net_timeout_from_guest(int64_t milliseconds)
{
    return milliseconds < 0 ? -1 : milliseconds;
}

static inline int64_t net_timeout_to_guest(int64_t milliseconds)
{
    return milliseconds < 0 ? -1 : milliseconds;
}

/* Gathers the guest's iovec pairs (u32 pointer, u32 length) into buffers
 * (at most capacity of them); false after setting the trap message. */
bool net_read_iovecs(lun_host_call *call, uint32_t pointer, uint32_t count, struct iovec *buffers,
                     size_t capacity, size_t *used);

/* Destroy functions of the tables. */
void net_destroy_iterator(void *pointer);
void net_destroy_tcp_listener(void *pointer);
void net_destroy_tcp_stream(void *pointer);
void net_destroy_tls_listener(void *pointer);
void net_destroy_tls_stream(void *pointer);
void net_destroy_udp_socket(void *pointer);

/* The host functions (networking_dns.c, _tcp.c, _udp.c, _tls.c). */
lun_host_result net_resolve(lun_host_call *call);
lun_host_result net_resolve_next(lun_host_call *call);
lun_host_result net_drop_dns_iterator(lun_host_call *call);
lun_host_result net_tcp_bind(lun_host_call *call);
lun_host_result net_tcp_local_addr(lun_host_call *call);
lun_host_result net_tcp_accept(lun_host_call *call);
lun_host_result net_tcp_connect(lun_host_call *call);
lun_host_result net_tcp_peer_addr(lun_host_call *call);
lun_host_result net_tcp_read(lun_host_call *call);
lun_host_result net_tcp_peek(lun_host_call *call);
lun_host_result net_tcp_write_vectored(lun_host_call *call);
lun_host_result net_tcp_flush(lun_host_call *call);
lun_host_result net_set_read_timeout(lun_host_call *call);
lun_host_result net_set_write_timeout(lun_host_call *call);
lun_host_result net_set_peek_timeout(lun_host_call *call);
lun_host_result net_get_read_timeout(lun_host_call *call);
lun_host_result net_get_write_timeout(lun_host_call *call);
lun_host_result net_get_peek_timeout(lun_host_call *call);
lun_host_result net_clone_tcp_stream(lun_host_call *call);
lun_host_result net_drop_tcp_stream(lun_host_call *call);
lun_host_result net_drop_tcp_listener(lun_host_call *call);
lun_host_result net_tls_bind(lun_host_call *call);
lun_host_result net_tls_local_addr(lun_host_call *call);
lun_host_result net_tls_accept(lun_host_call *call);
lun_host_result net_tls_connect(lun_host_call *call);
lun_host_result net_tls_read(lun_host_call *call);
lun_host_result net_tls_write_vectored(lun_host_call *call);
lun_host_result net_tls_flush(lun_host_call *call);
lun_host_result net_set_tls_read_timeout(lun_host_call *call);
lun_host_result net_set_tls_write_timeout(lun_host_call *call);
lun_host_result net_get_tls_read_timeout(lun_host_call *call);
lun_host_result net_get_tls_write_timeout(lun_host_call *call);
lun_host_result net_clone_tls_stream(lun_host_call *call);
lun_host_result net_drop_tls_stream(lun_host_call *call);
lun_host_result net_drop_tls_listener(lun_host_call *call);
lun_host_result net_udp_bind(lun_host_call *call);
lun_host_result net_udp_connect(lun_host_call *call);
lun_host_result net_udp_send(lun_host_call *call);
lun_host_result net_udp_send_to(lun_host_call *call);
lun_host_result net_udp_receive(lun_host_call *call);
lun_host_result net_udp_receive_from(lun_host_call *call);
lun_host_result net_udp_local_addr(lun_host_call *call);
lun_host_result net_udp_peer_addr(lun_host_call *call);
lun_host_result net_set_udp_socket_broadcast(lun_host_call *call);
lun_host_result net_get_udp_socket_broadcast(lun_host_call *call);
lun_host_result net_set_udp_socket_ttl(lun_host_call *call);
lun_host_result net_get_udp_socket_ttl(lun_host_call *call);
lun_host_result net_clone_udp_socket(lun_host_call *call);
lun_host_result net_drop_udp_socket(lun_host_call *call);

#endif
