/*
 * lunatic::networking TLS calls (docs/lunatic-abi.md §11) over the
 * networking layer's OpenSSL streams. Unlike lunatic, a failed handshake
 * returns an error id instead of trapping (§17). Also unlike lunatic,
 * tls_accept returns once the TCP connection is accepted: the server
 * handshake runs in the stream's first tls_read, tls_write_vectored or
 * tls_flush (under that call's timeout, its failure that call's error id),
 * so that a client that never sends its hello cannot stall the acceptor.
 * tls_connect resolves the host name first (the call's timeout applies to
 * the resolution and to the TCP connect, each), then connects and verifies
 * the server for that name before it returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "networking.h"

enum { MAX_ROOTS = 65536 };

static lun_tls_stream *stream_of(lun_host_call *call, api_process *process)
{
    return net_resource(call, process, NET_TABLE(tls_streams), "TLS stream");
}

static lun_tls_listener *listener_of(lun_host_call *call, api_process *process)
{
    return net_resource(call, process, NET_TABLE(tls_listeners), "TLS listener");
}

/* Takes the stream a finished accept or connect left in pending_tls. */
static lun_tls_stream *take_pending(api_net_state *state, lun_status status)
{
    if (status != LUN_OK) return NULL;
    lun_tls_stream *stream = state->pending_tls;
    state->pending_tls = NULL;
    return stream;
}

lun_host_result net_tls_bind(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_net *net = net_context(call, process);
    if (net == NULL) return LUN_HOST_TRAP;
    lun_net_address address;
    if (!net_read_address(call, 0, &address)) return LUN_HOST_TRAP;
    uint32_t id_pointer = api_arg_u32(call, 5);
    uint32_t certificate_length = api_arg_u32(call, 7), key_length = api_arg_u32(call, 9);
    const uint8_t *certificate = api_guest_bytes(call, api_arg_u32(call, 6), certificate_length);
    const uint8_t *key =
        certificate ? api_guest_bytes(call, api_arg_u32(call, 8), key_length) : NULL;
    if (key == NULL || api_guest_bytes(call, id_pointer, 8) == NULL) return LUN_HOST_TRAP;
    lun_tls_listener *listener = NULL;
    lun_error error = {0};
    lun_status status = lun_tls_bind(net, &address, certificate, certificate_length, key,
                                     key_length, &listener, &error);
    /* lunatic traps on a certificate or key it cannot use. */
    if (status == LUN_ERR_INVALID_ARGUMENT) return api_trap(call, "tls_bind: %s", error.message);
    return net_finish_add(call, process, status, &error, &process->net->tls_listeners, listener,
                          id_pointer);
}

lun_host_result net_tls_local_addr(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_tls_listener *listener = listener_of(call, process);
    if (listener == NULL) return LUN_HOST_TRAP;
    lun_net_address address;
    lun_error error = {0};
    lun_status status = lun_tls_listener_local_address(listener, &address, &error);
    return net_finish_address(call, process, status, &error, &address, api_arg_u32(call, 1));
}

lun_host_result net_tls_accept(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_tls_listener *listener = listener_of(call, process);
    if (listener == NULL) return LUN_HOST_TRAP;
    api_net_state *state = process->net;
    uint32_t id_pointer = api_arg_u32(call, 1), peer_pointer = api_arg_u32(call, 2);
    if (api_guest_bytes(call, id_pointer, 8) == NULL ||
        api_guest_bytes(call, peer_pointer, 8) == NULL)
        return LUN_HOST_TRAP;
    lun_net_address peer;
    memset(&peer, 0, sizeof peer);
    lun_error error = {0};
    lun_status status = lun_tls_accept(process->self, listener, &state->pending_tls, &peer, &error);
    return net_finish_accept(call, process, status, &error, &state->tls_streams,
                             take_pending(state, status), &peer, id_pointer, peer_pointer);
}

/* The guest's trusted certificates: certs_count pairs (u32 pointer, u32
 * length). As in lunatic, one pair outside memory means "use the system's
 * roots" (root_count 0). Returns false after setting the trap message. */
static bool read_roots(lun_host_call *call, uint32_t pointer, uint32_t count, const void ***roots,
                       size_t **lengths, size_t *root_count)
{
    *roots = NULL, *lengths = NULL, *root_count = 0;
    if (count == 0) return true;
    if (count > MAX_ROOTS) {
        api_trap(call, "tls_connect: too many certificates (%u)", count);
        return false;
    }
    const uint8_t *pairs = api_guest_bytes(call, pointer, (uint64_t)count * 8);
    if (pairs == NULL) return false;
    lun_memory *memory = lun_instance_memory(call->instance);
    *roots = malloc(count * sizeof **roots);
    *lengths = malloc(count * sizeof **lengths);
    if (*roots == NULL || *lengths == NULL) {
        free(*roots), free(*lengths);
        *roots = NULL, *lengths = NULL;
        api_trap(call, "out of memory");
        return false;
    }
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *pair = pairs + (size_t)i * 8;
        uint32_t start = (uint32_t)pair[0] | (uint32_t)pair[1] << 8 | (uint32_t)pair[2] << 16 |
                         (uint32_t)pair[3] << 24;
        uint32_t length = (uint32_t)pair[4] | (uint32_t)pair[5] << 8 | (uint32_t)pair[6] << 16 |
                          (uint32_t)pair[7] << 24;
        uint8_t *root = lun_memory_range(memory, start, length);
        if (root == NULL) {
            *root_count = 0;
            return true;
        }
        (*roots)[i] = root;
        (*lengths)[i] = length;
    }
    *root_count = count;
    return true;
}

/* "host:port", with brackets around an IPv6 literal. */
static char *resolve_name(const char *host, uint16_t port)
{
    size_t size = strlen(host) + 16;
    char *name = malloc(size);
    if (name == NULL) return NULL;
    if (strchr(host, ':') != NULL && host[0] != '[')
        snprintf(name, size, "[%s]:%u", host, port);
    else
        snprintf(name, size, "%s:%u", host, port);
    return name;
}

static lun_status resolve_host(api_process *process, lun_net *net, const char *host, uint16_t port,
                               int64_t timeout, lun_error *error)
{
    api_net_state *state = process->net;
    char *name = resolve_name(host, port);
    if (name == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    lun_dns_result *result = NULL;
    lun_status status = lun_dns_resolve(process->self, net, name, strlen(name), timeout,
                                        &state->pending_dns, &result, error);
    free(name);
    if (status != LUN_OK) return status;
    if (result->count == 0) {
        lun_dns_result_free(result);
        return lun_error_set(error, LUN_ERR_NOT_FOUND, "no address for %s", host);
    }
    state->tls_connect_address = result->addresses[0];
    state->tls_connect_resolved = true;
    lun_dns_result_free(result);
    return LUN_OK;
}

lun_host_result net_tls_connect(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_net *net = net_context(call, process);
    if (net == NULL) return LUN_HOST_TRAP;
    api_net_state *state = process->net;
    char *host = api_guest_string(call, api_arg_u32(call, 0), api_arg_u32(call, 1));
    if (host == NULL) return LUN_HOST_TRAP;
    if (host[0] == '\0') {
        free(host);
        return api_trap(call, "tls_connect: invalid server name");
    }
    uint16_t port = (uint16_t)api_arg_u32(call, 2);
    int64_t timeout = net_timeout_from_guest(api_arg_i64(call, 3));
    uint32_t id_pointer = api_arg_u32(call, 4);
    const void **roots;
    size_t *lengths, root_count;
    if (api_guest_bytes(call, id_pointer, 8) == NULL ||
        !read_roots(call, api_arg_u32(call, 5), api_arg_u32(call, 6), &roots, &lengths,
                    &root_count)) {
        free(host);
        return LUN_HOST_TRAP;
    }
    lun_error error = {0};
    lun_status status = LUN_OK;
    if (!state->tls_connect_resolved)
        status = resolve_host(process, net, host, port, timeout, &error);
    if (status == LUN_OK)
        status = lun_tls_connect(process->self, net, &state->tls_connect_address, host, roots,
                                 lengths, root_count, timeout, &state->pending_tls, &error);
    free(host);
    free(roots);
    free(lengths);
    if (status == LUN_ERR_WOULD_BLOCK) return LUN_HOST_SUSPEND;
    state->tls_connect_resolved = false;
    return net_finish_add(call, process, status, &error, &state->tls_streams,
                          take_pending(state, status), id_pointer);
}

/* The networking layer's stream calls over void * streams (net_stream_calls). */
static lun_status read_stream(lun_process *self, void *stream, void *buffer, size_t length,
                              size_t *count, lun_error *error)
{
    return lun_tls_read(self, stream, buffer, length, count, error);
}

static lun_status write_stream(lun_process *self, void *stream, const struct iovec *buffers,
                               size_t buffer_count, size_t *count, lun_error *error)
{
    return lun_tls_write_vectored(self, stream, buffers, buffer_count, count, error);
}

static lun_status flush_stream(lun_process *self, void *stream, lun_error *error)
{
    return lun_tls_flush(self, stream, error);
}

static const net_stream_calls tls_stream_calls = {NET_TABLE(tls_streams), "TLS stream",
                                                  write_stream, flush_stream};

lun_host_result net_tls_read(lun_host_call *call)
{
    return net_stream_read(call, &tls_stream_calls, read_stream);
}

lun_host_result net_tls_write_vectored(lun_host_call *call)
{
    return net_stream_write_vectored(call, &tls_stream_calls);
}

lun_host_result net_tls_flush(lun_host_call *call)
{
    return net_stream_flush(call, &tls_stream_calls);
}

NET_TIMEOUT_SETTER(net_set_tls_read_timeout, stream_of, lun_tls_stream_set_read_timeout)
NET_TIMEOUT_SETTER(net_set_tls_write_timeout, stream_of, lun_tls_stream_set_write_timeout)
NET_TIMEOUT_GETTER(net_get_tls_read_timeout, stream_of, lun_tls_stream_read_timeout)
NET_TIMEOUT_GETTER(net_get_tls_write_timeout, stream_of, lun_tls_stream_write_timeout)

lun_host_result net_clone_tls_stream(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_tls_stream *stream = stream_of(call, process);
    if (stream == NULL) return LUN_HOST_TRAP;
    return net_return_id(call, &process->net->tls_streams, lun_tls_stream_clone(stream));
}
