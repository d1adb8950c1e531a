/*
 * lunatic::networking TCP calls (docs/lunatic-abi.md §11): listeners,
 * streams, reads, writes and timeouts. Calls that wait suspend the process
 * and run again when the socket is ready; they write nothing to guest
 * memory before the attempt that completes.
 */
#include <string.h>

#include "networking.h"

enum { MAX_IOVECS = 64 };

static lun_tcp_stream *stream_of(lun_host_call *call, api_process *process)
{
    api_net_state *state = net_state(call, process);
    if (state == NULL) return NULL;
    return net_lookup(call, &state->tcp_streams, "TCP stream", api_arg_u64(call, 0));
}

lun_host_result net_tcp_bind(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_net *net = net_context(call, process);
    if (net == NULL) return LUN_HOST_TRAP;
    lun_net_address address;
    if (!net_read_address(call, 0, &address)) return LUN_HOST_TRAP;
    uint32_t id_pointer = api_arg_u32(call, 5);
    lun_tcp_listener *listener;
    lun_error error = {0};
    lun_status status = lun_tcp_bind(net, &address, &listener, &error);
    if (status != LUN_OK) return net_fail(call, process, status, &error, id_pointer);
    if (!net_add(call, &process->net->tcp_listeners, listener, id_pointer)) return LUN_HOST_TRAP;
    return api_return_i32(call, NET_OK);
}

lun_host_result net_tcp_local_addr(lun_host_call *call)
{
    API_PROCESS(call, process);
    api_net_state *state = net_state(call, process);
    if (state == NULL) return LUN_HOST_TRAP;
    lun_tcp_listener *listener =
        net_lookup(call, &state->tcp_listeners, "TCP listener", api_arg_u64(call, 0));
    if (listener == NULL) return LUN_HOST_TRAP;
    uint32_t id_pointer = api_arg_u32(call, 1);
    lun_net_address address;
    lun_error error = {0};
    lun_status status = lun_tcp_listener_local_address(listener, &address, &error);
    if (status != LUN_OK) return net_fail(call, process, status, &error, id_pointer);
    if (!net_add_address(call, state, &address, id_pointer)) return LUN_HOST_TRAP;
    return api_return_i32(call, NET_OK);
}

lun_host_result net_tcp_accept(lun_host_call *call)
{
    API_PROCESS(call, process);
    api_net_state *state = net_state(call, process);
    if (state == NULL) return LUN_HOST_TRAP;
    lun_tcp_listener *listener =
        net_lookup(call, &state->tcp_listeners, "TCP listener", api_arg_u64(call, 0));
    if (listener == NULL) return LUN_HOST_TRAP;
    uint32_t id_pointer = api_arg_u32(call, 1), peer_pointer = api_arg_u32(call, 2);
    if (api_guest_bytes(call, id_pointer, 8) == NULL ||
        api_guest_bytes(call, peer_pointer, 8) == NULL)
        return LUN_HOST_TRAP;
    lun_tcp_stream *stream;
    lun_net_address peer;
    lun_error error = {0};
    lun_status status = lun_tcp_accept(process->self, listener, &stream, &peer, &error);
    if (status != LUN_OK) {
        lun_host_result result = net_fail(call, process, status, &error, id_pointer);
        if (result == LUN_HOST_RETURN) api_guest_write_u64(call, peer_pointer, 0);
        return result;
    }
    if (!net_add(call, &state->tcp_streams, stream, id_pointer) ||
        !net_add_address(call, state, &peer, peer_pointer))
        return LUN_HOST_TRAP;
    return api_return_i32(call, NET_OK);
}

lun_host_result net_tcp_connect(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_net *net = net_context(call, process);
    if (net == NULL) return LUN_HOST_TRAP;
    api_net_state *state = process->net;
    lun_net_address address;
    if (!net_read_address(call, 0, &address)) return LUN_HOST_TRAP;
    uint32_t id_pointer = api_arg_u32(call, 6);
    if (api_guest_bytes(call, id_pointer, 8) == NULL) return LUN_HOST_TRAP;
    lun_error error = {0};
    lun_status status =
        lun_tcp_connect(process->self, net, &address, net_timeout_from_guest(api_arg_i64(call, 5)),
                        &state->pending_connect, &error);
    if (status != LUN_OK) return net_fail(call, process, status, &error, id_pointer);
    lun_tcp_stream *stream = state->pending_connect;
    state->pending_connect = NULL;
    if (!net_add(call, &state->tcp_streams, stream, id_pointer)) return LUN_HOST_TRAP;
    return api_return_i32(call, NET_OK);
}

lun_host_result net_tcp_peer_addr(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_tcp_stream *stream = stream_of(call, process);
    if (stream == NULL) return LUN_HOST_TRAP;
    uint32_t id_pointer = api_arg_u32(call, 1);
    lun_net_address address;
    lun_error error = {0};
    lun_status status = lun_tcp_stream_peer_address(stream, &address, &error);
    if (status != LUN_OK) return net_fail(call, process, status, &error, id_pointer);
    if (!net_add_address(call, process->net, &address, id_pointer)) return LUN_HOST_TRAP;
    return api_return_i32(call, NET_OK);
}

typedef lun_status (*read_fn)(lun_process *self, lun_tcp_stream *stream, void *buffer,
                              size_t length, size_t *count, lun_error *error);

static lun_host_result read_with(lun_host_call *call, read_fn read)
{
    API_PROCESS(call, process);
    lun_tcp_stream *stream = stream_of(call, process);
    if (stream == NULL) return LUN_HOST_TRAP;
    uint32_t length = api_arg_u32(call, 2), count_pointer = api_arg_u32(call, 3);
    uint8_t *buffer = api_guest_bytes(call, api_arg_u32(call, 1), length);
    if (buffer == NULL || api_guest_bytes(call, count_pointer, 8) == NULL) return LUN_HOST_TRAP;
    size_t count = 0;
    lun_error error = {0};
    lun_status status = read(process->self, stream, buffer, length, &count, &error);
    if (status != LUN_OK) return net_fail(call, process, status, &error, count_pointer);
    api_guest_write_u64(call, count_pointer, count);
    return api_return_i32(call, NET_OK);
}

lun_host_result net_tcp_read(lun_host_call *call)
{
    return read_with(call, lun_tcp_read);
}

/* Never consumes (docs/lunatic-abi.md §17), unlike lunatic without a peek
 * timeout. */
lun_host_result net_tcp_peek(lun_host_call *call)
{
    return read_with(call, lun_tcp_peek);
}

lun_host_result net_tcp_write_vectored(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_tcp_stream *stream = stream_of(call, process);
    if (stream == NULL) return LUN_HOST_TRAP;
    uint32_t count_pointer = api_arg_u32(call, 3);
    struct iovec buffers[MAX_IOVECS];
    size_t used;
    if (!net_read_iovecs(call, api_arg_u32(call, 1), api_arg_u32(call, 2), buffers, MAX_IOVECS,
                         &used) ||
        api_guest_bytes(call, count_pointer, 8) == NULL)
        return LUN_HOST_TRAP;
    size_t count = 0;
    lun_error error = {0};
    lun_status status =
        lun_tcp_write_vectored(process->self, stream, buffers, used, &count, &error);
    if (status != LUN_OK) return net_fail(call, process, status, &error, count_pointer);
    api_guest_write_u64(call, count_pointer, count);
    return api_return_i32(call, NET_OK);
}

lun_host_result net_tcp_flush(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_tcp_stream *stream = stream_of(call, process);
    if (stream == NULL) return LUN_HOST_TRAP;
    uint32_t error_pointer = api_arg_u32(call, 1);
    if (api_guest_bytes(call, error_pointer, 8) == NULL) return LUN_HOST_TRAP;
    lun_error error = {0};
    lun_status status = lun_tcp_flush(process->self, stream, &error);
    if (status != LUN_OK) return net_fail(call, process, status, &error, error_pointer);
    api_guest_write_u64(call, error_pointer, 0);
    return api_return_i32(call, NET_OK);
}

#define TIMEOUT_SETTER(name, function)                                                             \
    lun_host_result name(lun_host_call *call)                                                      \
    {                                                                                              \
        API_PROCESS(call, process);                                                                \
        lun_tcp_stream *stream = stream_of(call, process);                                         \
        if (stream == NULL) return LUN_HOST_TRAP;                                                  \
        function(stream, net_timeout_from_guest(api_arg_i64(call, 1)));                            \
        return LUN_HOST_RETURN;                                                                    \
    }

#define TIMEOUT_GETTER(name, function)                                                             \
    lun_host_result name(lun_host_call *call)                                                      \
    {                                                                                              \
        API_PROCESS(call, process);                                                                \
        lun_tcp_stream *stream = stream_of(call, process);                                         \
        if (stream == NULL) return LUN_HOST_TRAP;                                                  \
        return api_return_i64(call, net_timeout_to_guest(function(stream)));                       \
    }

TIMEOUT_SETTER(net_set_read_timeout, lun_tcp_stream_set_read_timeout)
TIMEOUT_SETTER(net_set_write_timeout, lun_tcp_stream_set_write_timeout)
TIMEOUT_SETTER(net_set_peek_timeout, lun_tcp_stream_set_peek_timeout)
TIMEOUT_GETTER(net_get_read_timeout, lun_tcp_stream_read_timeout)
TIMEOUT_GETTER(net_get_write_timeout, lun_tcp_stream_write_timeout)
TIMEOUT_GETTER(net_get_peek_timeout, lun_tcp_stream_peek_timeout)

lun_host_result net_clone_tcp_stream(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_tcp_stream *stream = stream_of(call, process);
    if (stream == NULL) return LUN_HOST_TRAP;
    lun_tcp_stream *clone = lun_tcp_stream_clone(stream);
    uint64_t id;
    if (!api_table_add(&process->net->tcp_streams, (api_value){.pointer = clone}, &id)) {
        lun_tcp_stream_release(clone);
        return api_trap(call, "out of memory");
    }
    return api_return_i64(call, (int64_t)id);
}

static lun_host_result drop(lun_host_call *call, size_t table_offset, const char *what)
{
    API_PROCESS(call, process);
    api_net_state *state = net_state(call, process);
    if (state == NULL) return LUN_HOST_TRAP;
    api_table *table = (api_table *)((char *)state + table_offset);
    api_value value;
    if (!api_table_take(table, api_arg_u64(call, 0), &value))
        return api_trap(call, "unknown %s id %lld", what, (long long)api_arg_i64(call, 0));
    table->destroy(value.pointer);
    return LUN_HOST_RETURN;
}

lun_host_result net_drop_tcp_stream(lun_host_call *call)
{
    return drop(call, offsetof(api_net_state, tcp_streams), "TCP stream");
}

lun_host_result net_drop_tcp_listener(lun_host_call *call)
{
    return drop(call, offsetof(api_net_state, tcp_listeners), "TCP listener");
}

lun_host_result net_drop_tls_stream(lun_host_call *call)
{
    return drop(call, offsetof(api_net_state, tls_streams), "TLS stream");
}

lun_host_result net_drop_tls_listener(lun_host_call *call)
{
    return drop(call, offsetof(api_net_state, tls_listeners), "TLS listener");
}

lun_host_result net_drop_udp_socket(lun_host_call *call)
{
    return drop(call, offsetof(api_net_state, udp_sockets), "UDP socket");
}
