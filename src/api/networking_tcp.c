/*
 * lunatic::networking TCP calls (docs/lunatic-abi.md §11): listeners,
 * streams, reads, writes and timeouts. Calls that wait suspend the process
 * and run again when the socket is ready; they write nothing to guest
 * memory before the attempt that completes.
 */
#include <string.h>

#include "networking.h"

static lun_tcp_stream *stream_of(lun_host_call *call, api_process *process)
{
    return net_resource(call, process, NET_TABLE(tcp_streams), "TCP stream");
}

static lun_tcp_listener *listener_of(lun_host_call *call, api_process *process)
{
    return net_resource(call, process, NET_TABLE(tcp_listeners), "TCP listener");
}

lun_host_result net_tcp_bind(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_net *net = net_context(call, process);
    if (net == NULL) return LUN_HOST_TRAP;
    lun_net_address address;
    if (!net_read_address(call, 0, &address)) return LUN_HOST_TRAP;
    lun_tcp_listener *listener = NULL;
    lun_error error = {0};
    lun_status status = lun_tcp_bind(net, &address, &listener, &error);
    return net_finish_add(call, process, status, &error, &process->net->tcp_listeners, listener,
                          api_arg_u32(call, 5));
}

lun_host_result net_tcp_local_addr(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_tcp_listener *listener = listener_of(call, process);
    if (listener == NULL) return LUN_HOST_TRAP;
    lun_net_address address;
    lun_error error = {0};
    lun_status status = lun_tcp_listener_local_address(listener, &address, &error);
    return net_finish_address(call, process, status, &error, &address, api_arg_u32(call, 1));
}

lun_host_result net_tcp_accept(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_tcp_listener *listener = listener_of(call, process);
    if (listener == NULL) return LUN_HOST_TRAP;
    uint32_t id_pointer = api_arg_u32(call, 1), peer_pointer = api_arg_u32(call, 2);
    if (api_guest_bytes(call, id_pointer, 8) == NULL ||
        api_guest_bytes(call, peer_pointer, 8) == NULL)
        return LUN_HOST_TRAP;
    lun_tcp_stream *stream = NULL;
    lun_net_address peer;
    lun_error error = {0};
    lun_status status = lun_tcp_accept(process->self, listener, &stream, &peer, &error);
    return net_finish_accept(call, process, status, &error, &process->net->tcp_streams, stream,
                             &peer, id_pointer, peer_pointer);
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
    lun_tcp_stream *stream = NULL;
    if (status == LUN_OK) {
        stream = state->pending_connect;
        state->pending_connect = NULL;
    }
    return net_finish_add(call, process, status, &error, &state->tcp_streams, stream, id_pointer);
}

lun_host_result net_tcp_peer_addr(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_tcp_stream *stream = stream_of(call, process);
    if (stream == NULL) return LUN_HOST_TRAP;
    lun_net_address address;
    lun_error error = {0};
    lun_status status = lun_tcp_stream_peer_address(stream, &address, &error);
    return net_finish_address(call, process, status, &error, &address, api_arg_u32(call, 1));
}

/* The networking layer's stream calls over void * streams (net_stream_calls). */
static lun_status read_stream(lun_process *self, void *stream, void *buffer, size_t length,
                              size_t *count, lun_error *error)
{
    return lun_tcp_read(self, stream, buffer, length, count, error);
}

static lun_status peek_stream(lun_process *self, void *stream, void *buffer, size_t length,
                              size_t *count, lun_error *error)
{
    return lun_tcp_peek(self, stream, buffer, length, count, error);
}

static lun_status write_stream(lun_process *self, void *stream, const struct iovec *buffers,
                               size_t buffer_count, size_t *count, lun_error *error)
{
    return lun_tcp_write_vectored(self, stream, buffers, buffer_count, count, error);
}

static lun_status flush_stream(lun_process *self, void *stream, lun_error *error)
{
    return lun_tcp_flush(self, stream, error);
}

static const net_stream_calls tcp_stream_calls = {NET_TABLE(tcp_streams), "TCP stream",
                                                  write_stream, flush_stream};

lun_host_result net_tcp_read(lun_host_call *call)
{
    return net_stream_read(call, &tcp_stream_calls, read_stream);
}

/* Never consumes (docs/lunatic-abi.md §17), unlike lunatic without a peek
 * timeout. */
lun_host_result net_tcp_peek(lun_host_call *call)
{
    return net_stream_read(call, &tcp_stream_calls, peek_stream);
}

lun_host_result net_tcp_write_vectored(lun_host_call *call)
{
    return net_stream_write_vectored(call, &tcp_stream_calls);
}

lun_host_result net_tcp_flush(lun_host_call *call)
{
    return net_stream_flush(call, &tcp_stream_calls);
}

NET_TIMEOUT_SETTER(net_set_read_timeout, stream_of, lun_tcp_stream_set_read_timeout)
NET_TIMEOUT_SETTER(net_set_write_timeout, stream_of, lun_tcp_stream_set_write_timeout)
NET_TIMEOUT_SETTER(net_set_peek_timeout, stream_of, lun_tcp_stream_set_peek_timeout)
NET_TIMEOUT_GETTER(net_get_read_timeout, stream_of, lun_tcp_stream_read_timeout)
NET_TIMEOUT_GETTER(net_get_write_timeout, stream_of, lun_tcp_stream_write_timeout)
NET_TIMEOUT_GETTER(net_get_peek_timeout, stream_of, lun_tcp_stream_peek_timeout)

lun_host_result net_clone_tcp_stream(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_tcp_stream *stream = stream_of(call, process);
    if (stream == NULL) return LUN_HOST_TRAP;
    return net_return_id(call, &process->net->tcp_streams, lun_tcp_stream_clone(stream));
}

static lun_host_result drop(lun_host_call *call, size_t table_offset, const char *what)
{
    API_PROCESS(call, process);
    api_net_state *state = net_state(call, process);
    if (state == NULL) return LUN_HOST_TRAP;
    api_table *table = net_table(state, table_offset);
    api_value value;
    if (!api_table_take(table, api_arg_u64(call, 0), &value))
        return api_trap(call, "unknown %s id %lld", what, (long long)api_arg_i64(call, 0));
    table->destroy(value.pointer);
    return LUN_HOST_RETURN;
}

lun_host_result net_drop_tcp_stream(lun_host_call *call)
{
    return drop(call, NET_TABLE(tcp_streams), "TCP stream");
}

lun_host_result net_drop_tcp_listener(lun_host_call *call)
{
    return drop(call, NET_TABLE(tcp_listeners), "TCP listener");
}

lun_host_result net_drop_tls_stream(lun_host_call *call)
{
    return drop(call, NET_TABLE(tls_streams), "TLS stream");
}

lun_host_result net_drop_tls_listener(lun_host_call *call)
{
    return drop(call, NET_TABLE(tls_listeners), "TLS listener");
}

lun_host_result net_drop_udp_socket(lun_host_call *call)
{
    return drop(call, NET_TABLE(udp_sockets), "UDP socket");
}
