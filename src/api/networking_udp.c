/*
 * lunatic::networking UDP calls (docs/lunatic-abi.md §11): sockets,
 * datagrams to a connected peer or to an address, and socket options.
 */
#include "networking.h"

static lun_udp_socket *socket_of(lun_host_call *call, api_process *process)
{
    return net_resource(call, process, NET_TABLE(udp_sockets), "UDP socket");
}

lun_host_result net_udp_bind(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_net *net = net_context(call, process);
    if (net == NULL) return LUN_HOST_TRAP;
    lun_net_address address;
    if (!net_read_address(call, 0, &address)) return LUN_HOST_TRAP;
    lun_udp_socket *socket = NULL;
    lun_error error = {0};
    lun_status status = lun_udp_bind(net, &address, &socket, &error);
    return net_finish_add(call, process, status, &error, &process->net->udp_sockets, socket,
                          api_arg_u32(call, 5));
}

/* Setting the default peer never waits here, so the timeout has nothing to
 * cover. */
lun_host_result net_udp_connect(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_udp_socket *socket = socket_of(call, process);
    if (socket == NULL) return LUN_HOST_TRAP;
    lun_net_address address;
    if (!net_read_address(call, 1, &address)) return LUN_HOST_TRAP;
    uint32_t id_pointer = api_arg_u32(call, 7);
    if (api_guest_bytes(call, id_pointer, 8) == NULL) return LUN_HOST_TRAP;
    lun_error error = {0};
    lun_status status = lun_udp_connect(socket, &address, &error);
    return net_finish_count(call, process, status, &error, id_pointer, 0);
}

lun_host_result net_udp_send(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_udp_socket *socket = socket_of(call, process);
    net_buffer_args args;
    if (socket == NULL || !net_read_buffer_args(call, &args)) return LUN_HOST_TRAP;
    size_t count = 0;
    lun_error error = {0};
    lun_status status =
        lun_udp_send(process->self, socket, args.buffer, args.length, &count, &error);
    return net_finish_count(call, process, status, &error, args.count_pointer, count);
}

lun_host_result net_udp_send_to(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_udp_socket *socket = socket_of(call, process);
    if (socket == NULL) return LUN_HOST_TRAP;
    uint32_t length = api_arg_u32(call, 2), count_pointer = api_arg_u32(call, 8);
    const uint8_t *buffer = api_guest_bytes(call, api_arg_u32(call, 1), length);
    lun_net_address address;
    if (buffer == NULL || !net_read_address(call, 3, &address) ||
        api_guest_bytes(call, count_pointer, 8) == NULL)
        return LUN_HOST_TRAP;
    size_t count = 0;
    lun_error error = {0};
    lun_status status =
        lun_udp_send_to(process->self, socket, buffer, length, &address, &count, &error);
    return net_finish_count(call, process, status, &error, count_pointer, count);
}

lun_host_result net_udp_receive(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_udp_socket *socket = socket_of(call, process);
    net_buffer_args args;
    if (socket == NULL || !net_read_buffer_args(call, &args)) return LUN_HOST_TRAP;
    size_t count = 0;
    lun_error error = {0};
    lun_status status =
        lun_udp_receive(process->self, socket, args.buffer, args.length, &count, &error);
    return net_finish_count(call, process, status, &error, args.count_pointer, count);
}

lun_host_result net_udp_receive_from(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_udp_socket *socket = socket_of(call, process);
    net_buffer_args args;
    uint32_t from_pointer = api_arg_u32(call, 4);
    if (socket == NULL || !net_read_buffer_args(call, &args) ||
        api_guest_bytes(call, from_pointer, 8) == NULL)
        return LUN_HOST_TRAP;
    size_t count = 0;
    lun_net_address from;
    lun_error error = {0};
    lun_status status = lun_udp_receive_from(process->self, socket, args.buffer, args.length,
                                             &count, &from, &error);
    if (status != LUN_OK) return net_fail(call, process, status, &error, args.count_pointer);
    if (!net_add_address(call, process->net, &from, from_pointer)) return LUN_HOST_TRAP;
    return net_finish_count(call, process, status, &error, args.count_pointer, count);
}

lun_host_result net_udp_local_addr(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_udp_socket *socket = socket_of(call, process);
    if (socket == NULL) return LUN_HOST_TRAP;
    lun_net_address address;
    lun_error error = {0};
    lun_status status = lun_udp_socket_local_address(socket, &address, &error);
    return net_finish_address(call, process, status, &error, &address, api_arg_u32(call, 1));
}

lun_host_result net_udp_peer_addr(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_udp_socket *socket = socket_of(call, process);
    if (socket == NULL) return LUN_HOST_TRAP;
    uint32_t id_pointer = api_arg_u32(call, 1);
    lun_net_address address;
    lun_error error = {0};
    lun_status status = lun_udp_socket_peer_address(socket, &address, &error);
    if (status != LUN_OK) {
        lun_host_result result = net_fail(call, process, status, &error, id_pointer);
        /* 1: not connected; 2: any other error. */
        if (result == LUN_HOST_RETURN && status != LUN_ERR_STATE) call->results[0] = 2;
        return result;
    }
    return net_finish_address(call, process, status, &error, &address, id_pointer);
}

lun_host_result net_set_udp_socket_broadcast(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_udp_socket *socket = socket_of(call, process);
    if (socket == NULL) return LUN_HOST_TRAP;
    lun_error error = {0};
    if (lun_udp_socket_set_broadcast(socket, api_arg_i32(call, 1) > 0, &error) != LUN_OK)
        return api_trap(call, "set_udp_socket_broadcast: %s", error.message);
    return LUN_HOST_RETURN;
}

lun_host_result net_get_udp_socket_broadcast(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_udp_socket *socket = socket_of(call, process);
    if (socket == NULL) return LUN_HOST_TRAP;
    bool on = false;
    lun_error error = {0};
    if (lun_udp_socket_broadcast(socket, &on, &error) != LUN_OK)
        return api_trap(call, "get_udp_socket_broadcast: %s", error.message);
    return api_return_i32(call, on ? 1 : 0);
}

lun_host_result net_set_udp_socket_ttl(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_udp_socket *socket = socket_of(call, process);
    if (socket == NULL) return LUN_HOST_TRAP;
    lun_error error = {0};
    if (lun_udp_socket_set_ttl(socket, api_arg_u32(call, 1), &error) != LUN_OK)
        return api_trap(call, "set_udp_socket_ttl: %s", error.message);
    return LUN_HOST_RETURN;
}

lun_host_result net_get_udp_socket_ttl(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_udp_socket *socket = socket_of(call, process);
    if (socket == NULL) return LUN_HOST_TRAP;
    uint32_t ttl = 0;
    lun_error error = {0};
    if (lun_udp_socket_ttl(socket, &ttl, &error) != LUN_OK)
        return api_trap(call, "get_udp_socket_ttl: %s", error.message);
    return api_return_i32(call, (int32_t)ttl);
}

lun_host_result net_clone_udp_socket(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_udp_socket *socket = socket_of(call, process);
    if (socket == NULL) return LUN_HOST_TRAP;
    return net_return_id(call, &process->net->udp_sockets, lun_udp_socket_clone(socket));
}
