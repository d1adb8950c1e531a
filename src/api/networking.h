/*
 * What the lunatic::networking files share (docs/lunatic-abi.md §11): the
 * per-process socket tables and pending calls, guest addresses, DNS
 * iterators, the mapping of networking statuses to guest codes, the common
 * ends of the calls, and the calls that TCP and TLS streams share.
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

/* A table of api_net_state by its offset (NET_TABLE(tcp_streams)). */
#define NET_TABLE(name) offsetof(api_net_state, name)

static inline api_table *net_table(api_net_state *state, size_t offset)
{
    return (api_table *)((char *)state + offset);
}

/* The resource whose id is the call's first argument, in the caller's table
 * at table_offset; NULL after setting the trap message. */
void *net_resource(lun_host_call *call, api_process *process, size_t table_offset,
                   const char *what);

/* Adds a resource to a table and returns its id as the call's i64 result;
 * traps when out of memory (the resource is released with destroy then). */
lun_host_result net_return_id(lun_host_call *call, api_table *table, void *resource);

/* The ends of calls that write an output at pointer: a status other than
 * LUN_OK goes to net_fail; else the output is written and the call
 * returns NET_OK (or traps). net_finish_count writes a u64, net_finish_add
 * adds resource to table and writes its id, net_finish_address writes the
 * id of a one-address DNS iterator. */
lun_host_result net_finish_count(lun_host_call *call, api_process *process, lun_status status,
                                 const lun_error *error, uint32_t pointer, uint64_t count);
lun_host_result net_finish_add(lun_host_call *call, api_process *process, lun_status status,
                               const lun_error *error, api_table *table, void *resource,
                               uint32_t pointer);
lun_host_result net_finish_address(lun_host_call *call, api_process *process, lun_status status,
                                   const lun_error *error, const lun_net_address *address,
                                   uint32_t pointer);

/* The end of tcp_accept and tls_accept: as net_finish_add for the stream at
 * id_pointer, and the peer's address at peer_pointer (0 there on an error). */
lun_host_result net_finish_accept(lun_host_call *call, api_process *process, lun_status status,
                                  const lun_error *error, api_table *table, void *stream,
                                  const lun_net_address *peer, uint32_t id_pointer,
                                  uint32_t peer_pointer);

/* The (buffer pointer, length, count pointer) arguments in args[1..3] of
 * reads and sends. */
typedef struct net_buffer_args {
    uint8_t *buffer;
    uint32_t length;
    uint32_t count_pointer;
} net_buffer_args;

/* Reads and checks them; false after setting the trap message. */
bool net_read_buffer_args(lun_host_call *call, net_buffer_args *out);

/* What differs between the TCP and TLS stream calls: the table, its name
 * in trap messages, and the networking layer's calls over void * streams. */
typedef lun_status (*net_read_fn)(lun_process *self, void *stream, void *buffer, size_t length,
                                  size_t *count, lun_error *error);

typedef struct net_stream_calls {
    size_t table; /* NET_TABLE(...) */
    const char *what;
    lun_status (*write_vectored)(lun_process *self, void *stream, const struct iovec *buffers,
                                 size_t buffer_count, size_t *count, lun_error *error);
    lun_status (*flush)(lun_process *self, void *stream, lun_error *error);
} net_stream_calls;

/* tcp_read, tcp_peek, tls_read: (id, buffer, length, count pointer). */
lun_host_result net_stream_read(lun_host_call *call, const net_stream_calls *calls,
                                net_read_fn read);
/* tcp_write_vectored, tls_write_vectored: (id, iovecs, count, count pointer). */
lun_host_result net_stream_write_vectored(lun_host_call *call, const net_stream_calls *calls);
/* tcp_flush, tls_flush: (id, error pointer). */
lun_host_result net_stream_flush(lun_host_call *call, const net_stream_calls *calls);

/* The lunatic timeout calls of a stream type: lookup is its
 * (call, process) -> stream function. */
#define NET_TIMEOUT_SETTER(name, lookup, function)                                                 \
    lun_host_result name(lun_host_call *call)                                                      \
    {                                                                                              \
        API_PROCESS(call, process);                                                                \
        void *stream = lookup(call, process);                                                      \
        if (stream == NULL) return LUN_HOST_TRAP;                                                  \
        function(stream, net_timeout_from_guest(api_arg_i64(call, 1)));                            \
        return LUN_HOST_RETURN;                                                                    \
    }

#define NET_TIMEOUT_GETTER(name, lookup, function)                                                 \
    lun_host_result name(lun_host_call *call)                                                      \
    {                                                                                              \
        API_PROCESS(call, process);                                                                \
        void *stream = lookup(call, process);                                                      \
        if (stream == NULL) return LUN_HOST_TRAP;                                                  \
        return api_return_i64(call, net_timeout_to_guest(function(stream)));                       \
    }

/* Timeouts: the guest's u64::MAX (any negative i64) is "none". */
static inline int64_t net_timeout_from_guest(int64_t milliseconds)
{
    return milliseconds < 0 ? -1 : milliseconds;
}

static inline int64_t net_timeout_to_guest(int64_t milliseconds)
{
    return milliseconds < 0 ? -1 : milliseconds;
}

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
