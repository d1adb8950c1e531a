/*
 * lunatic::networking, the shared part (docs/lunatic-abi.md §11): the
 * import list, each process's socket tables and pending calls, guest
 * addresses, error ids, and moving sockets in and out of messages (§6).
 * The calls themselves are in networking_dns.c, networking_tcp.c,
 * networking_udp.c and networking_tls.c, thin wrappers over src/net; the
 * read, write and flush calls that TCP and TLS streams share are here.
 */
#include <stdlib.h>
#include <string.h>

#include "networking.h"

/* ---- per-process state -------------------------------------------------------- */

void net_destroy_iterator(void *pointer)
{
    free(pointer);
}

void net_destroy_tcp_listener(void *pointer)
{
    lun_tcp_listener_release(pointer);
}

void net_destroy_tcp_stream(void *pointer)
{
    lun_tcp_stream_release(pointer);
}

void net_destroy_tls_listener(void *pointer)
{
    lun_tls_listener_release(pointer);
}

void net_destroy_tls_stream(void *pointer)
{
    lun_tls_stream_release(pointer);
}

void net_destroy_udp_socket(void *pointer)
{
    lun_udp_socket_release(pointer);
}

api_net_state *net_state(lun_host_call *call, api_process *process)
{
    if (process->net != NULL) return process->net;
    api_net_state *state = calloc(1, sizeof *state);
    if (state == NULL) {
        api_trap(call, "out of memory");
        return NULL;
    }
    api_table_init(&state->iterators, net_destroy_iterator);
    api_table_init(&state->tcp_listeners, net_destroy_tcp_listener);
    api_table_init(&state->tcp_streams, net_destroy_tcp_stream);
    api_table_init(&state->tls_listeners, net_destroy_tls_listener);
    api_table_init(&state->tls_streams, net_destroy_tls_stream);
    api_table_init(&state->udp_sockets, net_destroy_udp_socket);
    process->net = state;
    return state;
}

void api_net_state_free(api_net_state *state)
{
    if (state == NULL) return;
    lun_tcp_stream_release(state->pending_connect);
    lun_tls_stream_release(state->pending_tls);
    lun_dns_query_cancel(state->pending_dns);
    api_table_clear(&state->iterators);
    api_table_clear(&state->tcp_streams);
    api_table_clear(&state->tcp_listeners);
    api_table_clear(&state->tls_streams);
    api_table_clear(&state->tls_listeners);
    api_table_clear(&state->udp_sockets);
    free(state);
}

lun_net *net_context(lun_host_call *call, api_process *process)
{
    api_net_state *state = net_state(call, process);
    if (state == NULL) return NULL;
    if (state->net != NULL) return state->net;
    lun_error error;
    if (api_host_net(process->host, &state->net, &error) != LUN_OK) {
        api_trap(call, "cannot start networking: %s", error.message);
        return NULL;
    }
    return state->net;
}

/* ---- arguments and results --------------------------------------------------- */

bool net_read_address(lun_host_call *call, size_t first, lun_net_address *out)
{
    memset(out, 0, sizeof *out);
    uint32_t type = api_arg_u32(call, first);
    size_t length;
    if (type == 4) {
        length = 4;
    } else if (type == 6) {
        length = 16;
    } else {
        api_trap(call, "unsupported address type %u (expected 4 or 6)", type);
        return false;
    }
    const uint8_t *bytes = api_guest_bytes(call, api_arg_u32(call, first + 1), length);
    if (bytes == NULL) return false;
    out->family = (uint8_t)type;
    memcpy(out->bytes, bytes, length);
    out->port = (uint16_t)api_arg_u32(call, first + 2);
    if (type == 6) {
        out->flow_info = api_arg_u32(call, first + 3);
        out->scope_id = api_arg_u32(call, first + 4);
    }
    return true;
}

void *net_lookup(lun_host_call *call, api_table *table, const char *what, uint64_t id)
{
    api_value value;
    if (!api_table_get(table, id, &value)) {
        api_trap(call, "unknown %s id %lld", what, (long long)id);
        return NULL;
    }
    return value.pointer;
}

bool net_add(lun_host_call *call, api_table *table, void *resource, uint32_t pointer)
{
    /* Check the output first: a trap must not leave an entry behind. */
    if (api_guest_bytes(call, pointer, 8) == NULL) {
        table->destroy(resource);
        return false;
    }
    uint64_t id;
    if (!api_table_add(table, (api_value){.pointer = resource}, &id)) {
        table->destroy(resource);
        api_trap(call, "out of memory");
        return false;
    }
    return api_guest_write_u64(call, pointer, id);
}

bool net_add_address(lun_host_call *call, api_net_state *state, const lun_net_address *address,
                     uint32_t pointer)
{
    net_iterator *iterator = malloc(sizeof *iterator + sizeof iterator->addresses[0]);
    if (iterator == NULL) {
        api_trap(call, "out of memory");
        return false;
    }
    iterator->count = 1;
    iterator->next = 0;
    iterator->addresses[0] = *address;
    return net_add(call, &state->iterators, iterator, pointer);
}

void *net_resource(lun_host_call *call, api_process *process, size_t table_offset, const char *what)
{
    api_net_state *state = net_state(call, process);
    if (state == NULL) return NULL;
    return net_lookup(call, net_table(state, table_offset), what, api_arg_u64(call, 0));
}

lun_host_result net_return_id(lun_host_call *call, api_table *table, void *resource)
{
    uint64_t id;
    if (!api_table_add(table, (api_value){.pointer = resource}, &id)) {
        table->destroy(resource);
        return api_trap(call, "out of memory");
    }
    return api_return_i64(call, (int64_t)id);
}

lun_host_result net_fail(lun_host_call *call, api_process *process, lun_status status,
                         const lun_error *error, uint32_t pointer)
{
    if (status == LUN_ERR_WOULD_BLOCK) return LUN_HOST_SUSPEND;
    if (status == LUN_ERR_TIMEOUT) return api_return_i32(call, API_TIMEOUT_CODE);
    if (api_guest_bytes(call, pointer, 8) == NULL) return LUN_HOST_TRAP;
    const char *message = error->message[0] ? error->message : lun_status_name(status);
    uint64_t id;
    if (!api_error_add(process, message, &id)) return api_trap(call, "out of memory");
    api_guest_write_u64(call, pointer, id);
    return api_return_i32(call, NET_ERROR);
}

lun_host_result net_finish_count(lun_host_call *call, api_process *process, lun_status status,
                                 const lun_error *error, uint32_t pointer, uint64_t count)
{
    if (status != LUN_OK) return net_fail(call, process, status, error, pointer);
    api_guest_write_u64(call, pointer, count);
    return api_return_i32(call, NET_OK);
}

lun_host_result net_finish_add(lun_host_call *call, api_process *process, lun_status status,
                               const lun_error *error, api_table *table, void *resource,
                               uint32_t pointer)
{
    if (status != LUN_OK) return net_fail(call, process, status, error, pointer);
    if (!net_add(call, table, resource, pointer)) return LUN_HOST_TRAP;
    return api_return_i32(call, NET_OK);
}

lun_host_result net_finish_address(lun_host_call *call, api_process *process, lun_status status,
                                   const lun_error *error, const lun_net_address *address,
                                   uint32_t pointer)
{
    if (status != LUN_OK) return net_fail(call, process, status, error, pointer);
    if (!net_add_address(call, process->net, address, pointer)) return LUN_HOST_TRAP;
    return api_return_i32(call, NET_OK);
}

lun_host_result net_finish_accept(lun_host_call *call, api_process *process, lun_status status,
                                  const lun_error *error, api_table *table, void *stream,
                                  const lun_net_address *peer, uint32_t id_pointer,
                                  uint32_t peer_pointer)
{
    if (status != LUN_OK) {
        lun_host_result result = net_fail(call, process, status, error, id_pointer);
        if (result == LUN_HOST_RETURN) api_guest_write_u64(call, peer_pointer, 0);
        return result;
    }
    if (!net_add(call, table, stream, id_pointer) ||
        !net_add_address(call, process->net, peer, peer_pointer))
        return LUN_HOST_TRAP;
    return api_return_i32(call, NET_OK);
}

bool net_read_buffer_args(lun_host_call *call, net_buffer_args *out)
{
    out->length = api_arg_u32(call, 2);
    out->count_pointer = api_arg_u32(call, 3);
    out->buffer = api_guest_bytes(call, api_arg_u32(call, 1), out->length);
    return out->buffer != NULL && api_guest_bytes(call, out->count_pointer, 8) != NULL;
}

/* Gathers the guest's iovec pairs (u32 pointer, u32 length) into buffers
 * (at most capacity of them); false after setting the trap message. */
static bool read_iovecs(lun_host_call *call, uint32_t pointer, uint32_t count,
                        struct iovec *buffers, size_t capacity, size_t *used)
{
    const uint8_t *pairs = api_guest_bytes(call, pointer, (uint64_t)count * 8);
    if (pairs == NULL) return false;
    /* Beyond capacity the write is partial, which the ABI allows. */
    size_t n = count < capacity ? count : capacity;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *pair = pairs + i * 8;
        uint32_t base = (uint32_t)pair[0] | (uint32_t)pair[1] << 8 | (uint32_t)pair[2] << 16 |
                        (uint32_t)pair[3] << 24;
        uint32_t length = (uint32_t)pair[4] | (uint32_t)pair[5] << 8 | (uint32_t)pair[6] << 16 |
                          (uint32_t)pair[7] << 24;
        uint8_t *bytes = api_guest_bytes(call, base, length);
        if (bytes == NULL) return false;
        buffers[i].iov_base = bytes;
        buffers[i].iov_len = length;
    }
    *used = n;
    return true;
}

/* ---- TCP and TLS streams ------------------------------------------------------ */

enum { MAX_IOVECS = 64 };

lun_host_result net_stream_read(lun_host_call *call, const net_stream_calls *calls,
                                net_read_fn read)
{
    API_PROCESS(call, process);
    void *stream = net_resource(call, process, calls->table, calls->what);
    net_buffer_args args;
    if (stream == NULL || !net_read_buffer_args(call, &args)) return LUN_HOST_TRAP;
    size_t count = 0;
    lun_error error = {0};
    lun_status status = read(process->self, stream, args.buffer, args.length, &count, &error);
    return net_finish_count(call, process, status, &error, args.count_pointer, count);
}

lun_host_result net_stream_write_vectored(lun_host_call *call, const net_stream_calls *calls)
{
    API_PROCESS(call, process);
    void *stream = net_resource(call, process, calls->table, calls->what);
    if (stream == NULL) return LUN_HOST_TRAP;
    uint32_t count_pointer = api_arg_u32(call, 3);
    struct iovec buffers[MAX_IOVECS];
    size_t used;
    if (!read_iovecs(call, api_arg_u32(call, 1), api_arg_u32(call, 2), buffers, MAX_IOVECS,
                     &used) ||
        api_guest_bytes(call, count_pointer, 8) == NULL)
        return LUN_HOST_TRAP;
    size_t count = 0;
    lun_error error = {0};
    lun_status status = calls->write_vectored(process->self, stream, buffers, used, &count, &error);
    return net_finish_count(call, process, status, &error, count_pointer, count);
}

lun_host_result net_stream_flush(lun_host_call *call, const net_stream_calls *calls)
{
    API_PROCESS(call, process);
    void *stream = net_resource(call, process, calls->table, calls->what);
    if (stream == NULL) return LUN_HOST_TRAP;
    uint32_t error_pointer = api_arg_u32(call, 1);
    if (api_guest_bytes(call, error_pointer, 8) == NULL) return LUN_HOST_TRAP;
    lun_error error = {0};
    lun_status status = calls->flush(process->self, stream, &error);
    return net_finish_count(call, process, status, &error, error_pointer, 0);
}

/* ---- sockets in messages ------------------------------------------------------ */

/* Moves a socket out of the caller's table into the scratch message. */
static lun_host_result push(lun_host_call *call, size_t table_offset, const lun_resource_type *type,
                            const char *what)
{
    API_PROCESS(call, process);
    lun_message *message = api_scratch_data(call, process, what);
    if (message == NULL) return LUN_HOST_TRAP;
    api_net_state *state = net_state(call, process);
    if (state == NULL) return LUN_HOST_TRAP;
    api_table *table = net_table(state, table_offset);
    uint64_t id = api_arg_u64(call, 0);
    api_value value;
    if (!api_table_get(table, id, &value))
        return api_trap(call, "%s: unknown socket id %lld", what, (long long)id);
    size_t index;
    if (lun_message_push_resource(message, value.pointer, type, &index, NULL) != LUN_OK)
        return api_trap(call, "out of memory");
    api_table_take(table, id, &value);
    return api_return_i64(call, (int64_t)index);
}

/* Moves a socket out of the scratch message into the caller's table. */
static lun_host_result take(lun_host_call *call, size_t table_offset, const lun_resource_type *type,
                            const char *what)
{
    API_PROCESS(call, process);
    lun_message *message = api_scratch_data(call, process, what);
    if (message == NULL) return LUN_HOST_TRAP;
    api_net_state *state = net_state(call, process);
    if (state == NULL) return LUN_HOST_TRAP;
    api_table *table = net_table(state, table_offset);
    uint64_t index = api_arg_u64(call, 0);
    void *resource;
    if (index > SIZE_MAX ||
        lun_message_take_resource(message, (size_t)index, type, &resource, NULL) != LUN_OK)
        return api_trap(call, "%s: no such resource at index %llu", what,
                        (unsigned long long)index);
    return net_return_id(call, table, resource);
}

lun_host_result api_push_tcp_stream(lun_host_call *call)
{
    return push(call, NET_TABLE(tcp_streams), &lun_net_tcp_stream_resource, "push_tcp_stream");
}

lun_host_result api_take_tcp_stream(lun_host_call *call)
{
    return take(call, NET_TABLE(tcp_streams), &lun_net_tcp_stream_resource, "take_tcp_stream");
}

lun_host_result api_push_tls_stream(lun_host_call *call)
{
    return push(call, NET_TABLE(tls_streams), &lun_net_tls_stream_resource, "push_tls_stream");
}

lun_host_result api_take_tls_stream(lun_host_call *call)
{
    return take(call, NET_TABLE(tls_streams), &lun_net_tls_stream_resource, "take_tls_stream");
}

lun_host_result api_push_udp_socket(lun_host_call *call)
{
    return push(call, NET_TABLE(udp_sockets), &lun_net_udp_socket_resource, "push_udp_socket");
}

lun_host_result api_take_udp_socket(lun_host_call *call)
{
    return take(call, NET_TABLE(udp_sockets), &lun_net_udp_socket_resource, "take_udp_socket");
}

/* ---- the import list ------------------------------------------------------------ */

#define ADDR "i32 i32 i32 i32 i32"

const api_function_def api_networking_functions[] = {
    {"resolve", "i32 i32 i64 i32", "i32", net_resolve},
    {"resolve_next", "i64 i32 i32 i32 i32 i32", "i32", net_resolve_next},
    {"drop_dns_iterator", "i64", "", net_drop_dns_iterator},
    {"tcp_bind", ADDR " i32", "i32", net_tcp_bind},
    {"tcp_local_addr", "i64 i32", "i32", net_tcp_local_addr},
    {"tcp_accept", "i64 i32 i32", "i32", net_tcp_accept},
    {"tcp_connect", ADDR " i64 i32", "i32", net_tcp_connect},
    {"tcp_peer_addr", "i64 i32", "i32", net_tcp_peer_addr},
    {"tcp_read", "i64 i32 i32 i32", "i32", net_tcp_read},
    {"tcp_peek", "i64 i32 i32 i32", "i32", net_tcp_peek},
    {"tcp_write_vectored", "i64 i32 i32 i32", "i32", net_tcp_write_vectored},
    {"tcp_flush", "i64 i32", "i32", net_tcp_flush},
    {"set_read_timeout", "i64 i64", "", net_set_read_timeout},
    {"set_write_timeout", "i64 i64", "", net_set_write_timeout},
    {"set_peek_timeout", "i64 i64", "", net_set_peek_timeout},
    {"get_read_timeout", "i64", "i64", net_get_read_timeout},
    {"get_write_timeout", "i64", "i64", net_get_write_timeout},
    {"get_peek_timeout", "i64", "i64", net_get_peek_timeout},
    {"clone_tcp_stream", "i64", "i64", net_clone_tcp_stream},
    {"drop_tcp_stream", "i64", "", net_drop_tcp_stream},
    {"drop_tcp_listener", "i64", "", net_drop_tcp_listener},
    {"tls_bind", ADDR " i32 i32 i32 i32 i32", "i32", net_tls_bind},
    {"tls_local_addr", "i64 i32", "i32", net_tls_local_addr},
    {"tls_accept", "i64 i32 i32", "i32", net_tls_accept},
    {"tls_connect", "i32 i32 i32 i64 i32 i32 i32", "i32", net_tls_connect},
    {"tls_read", "i64 i32 i32 i32", "i32", net_tls_read},
    {"tls_write_vectored", "i64 i32 i32 i32", "i32", net_tls_write_vectored},
    {"tls_flush", "i64 i32", "i32", net_tls_flush},
    {"set_tls_read_timeout", "i64 i64", "", net_set_tls_read_timeout},
    {"set_tls_write_timeout", "i64 i64", "", net_set_tls_write_timeout},
    {"get_tls_read_timeout", "i64", "i64", net_get_tls_read_timeout},
    {"get_tls_write_timeout", "i64", "i64", net_get_tls_write_timeout},
    {"clone_tls_stream", "i64", "i64", net_clone_tls_stream},
    {"drop_tls_stream", "i64", "", net_drop_tls_stream},
    {"drop_tls_listener", "i64", "", net_drop_tls_listener},
    {"udp_bind", ADDR " i32", "i32", net_udp_bind},
    {"udp_connect", "i64 " ADDR " i64 i32", "i32", net_udp_connect},
    {"udp_send", "i64 i32 i32 i32", "i32", net_udp_send},
    {"udp_send_to", "i64 i32 i32 " ADDR " i32", "i32", net_udp_send_to},
    {"udp_receive", "i64 i32 i32 i32", "i32", net_udp_receive},
    {"udp_receive_from", "i64 i32 i32 i32 i32", "i32", net_udp_receive_from},
    {"udp_local_addr", "i64 i32", "i32", net_udp_local_addr},
    {"udp_peer_addr", "i64 i32", "i32", net_udp_peer_addr},
    {"set_udp_socket_broadcast", "i64 i32", "", net_set_udp_socket_broadcast},
    {"get_udp_socket_broadcast", "i64", "i32", net_get_udp_socket_broadcast},
    {"set_udp_socket_ttl", "i64 i32", "", net_set_udp_socket_ttl},
    {"get_udp_socket_ttl", "i64", "i32", net_get_udp_socket_ttl},
    {"clone_udp_socket", "i64", "i64", net_clone_udp_socket},
    {"drop_udp_socket", "i64", "", net_drop_udp_socket},
    {NULL, NULL, NULL, NULL},
};
