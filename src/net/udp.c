/*
 * UDP sockets: bind, connect (default peer), send, send_to, receive,
 * receive_from, broadcast and TTL options, addresses, clone, release.
 */
#include "net_internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct lun_udp_socket {
    net_socket socket;
};

lun_status lun_udp_bind(lun_net *net, const lun_net_address *address, lun_udp_socket **out,
                        lun_error *error)
{
    if (net == NULL || out == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null context or output");
    *out = NULL;
    struct sockaddr_storage storage;
    socklen_t length;
    lun_status status = net_to_sockaddr(address, &storage, &length, error);
    if (status != LUN_OK) return status;
    int fd;
    status =
        net_open_socket(net, address->family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, &fd, error);
    if (status != LUN_OK) return status;
    if (bind(fd, (struct sockaddr *)&storage, length) != 0) {
        int saved = errno;
        close(fd);
        net_unreserve(net);
        return net_os_error(error, "bind", saved);
    }
    return net_socket_new(net, fd, NET_UDP_SOCKET, sizeof(lun_udp_socket), "udp socket",
                          (net_socket **)out, error);
}

lun_status lun_udp_connect(lun_udp_socket *socket, const lun_net_address *address, lun_error *error)
{
    if (socket == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null socket");
    struct sockaddr_storage storage;
    socklen_t length;
    lun_status status = net_to_sockaddr(address, &storage, &length, error);
    if (status != LUN_OK) return status;
    if (connect(socket->socket.fd, (struct sockaddr *)&storage, length) != 0)
        return net_os_error(error, "connect", errno);
    return LUN_OK;
}

typedef struct datagram_call {
    void *buffer; /* const when sending */
    size_t length;
    struct sockaddr_storage address;
    socklen_t address_length;
    bool has_address; /* sending: to address, else to the default peer */
} datagram_call;

static ssize_t try_send(int fd, void *context)
{
    datagram_call *call = context;
    return sendto(fd, call->buffer, call->length, MSG_NOSIGNAL,
                  call->has_address ? (struct sockaddr *)&call->address : NULL,
                  call->address_length);
}

static ssize_t try_receive(int fd, void *context)
{
    datagram_call *call = context;
    call->address_length = sizeof call->address;
    return recvfrom(fd, call->buffer, call->length, 0, (struct sockaddr *)&call->address,
                    &call->address_length);
}

/* One datagram out, to the default peer when `to` is NULL. */
static lun_status send_datagram(lun_process *self, lun_udp_socket *udp, const void *buffer,
                                size_t length, const lun_net_address *to, size_t *count,
                                lun_error *error)
{
    if (udp == NULL || count == NULL || (buffer == NULL && length > 0))
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null socket, buffer or count");
    *count = 0;
    datagram_call call = {.buffer = (void *)buffer, .length = length, .has_address = to != NULL};
    if (to != NULL) {
        lun_status status = net_to_sockaddr(to, &call.address, &call.address_length, error);
        if (status != LUN_OK) return status;
    }
    net_socket *socket = &udp->socket;
    /* No message of its own on a timeout (unlike a receive). */
    net_transfer transfer = {.interest = &socket->write,
                             .timeout = &socket->write_timeout,
                             .what = "send",
                             .timed_out = NULL,
                             .attempt = try_send,
                             .context = &call};
    return net_transfer_run(self, socket, &transfer, count, error);
}

lun_status lun_udp_send(lun_process *self, lun_udp_socket *socket, const void *buffer,
                        size_t length, size_t *count, lun_error *error)
{
    return send_datagram(self, socket, buffer, length, NULL, count, error);
}

lun_status lun_udp_send_to(lun_process *self, lun_udp_socket *socket, const void *buffer,
                           size_t length, const lun_net_address *address, size_t *count,
                           lun_error *error)
{
    if (address == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null address");
    return send_datagram(self, socket, buffer, length, address, count, error);
}

lun_status lun_udp_receive_from(lun_process *self, lun_udp_socket *udp, void *buffer, size_t length,
                                size_t *count, lun_net_address *from, lun_error *error)
{
    if (udp == NULL || count == NULL || (buffer == NULL && length > 0))
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null socket, buffer or count");
    *count = 0;
    net_socket *socket = &udp->socket;
    datagram_call call = {.buffer = buffer, .length = length};
    net_transfer transfer = {.interest = &socket->read,
                             .timeout = &socket->read_timeout,
                             .what = "receive",
                             .timed_out = "receive timed out",
                             .attempt = try_receive,
                             .context = &call};
    lun_status status = net_transfer_run(self, socket, &transfer, count, error);
    if (status == LUN_OK && from != NULL) net_from_sockaddr((struct sockaddr *)&call.address, from);
    return status;
}

lun_status lun_udp_receive(lun_process *self, lun_udp_socket *socket, void *buffer, size_t length,
                           size_t *count, lun_error *error)
{
    return lun_udp_receive_from(self, socket, buffer, length, count, NULL, error);
}

void lun_udp_socket_set_read_timeout(lun_udp_socket *socket, int64_t timeout_ms)
{
    if (socket) atomic_store(&socket->socket.read_timeout, timeout_ms < 0 ? -1 : timeout_ms);
}

lun_status lun_udp_socket_set_broadcast(lun_udp_socket *socket, bool on, lun_error *error)
{
    if (socket == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null socket");
    int value = on;
    if (setsockopt(socket->socket.fd, SOL_SOCKET, SO_BROADCAST, &value, sizeof value) != 0)
        return net_os_error(error, "SO_BROADCAST", errno);
    return LUN_OK;
}

lun_status lun_udp_socket_broadcast(lun_udp_socket *socket, bool *on, lun_error *error)
{
    if (socket == NULL || on == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null socket or output");
    int value = 0;
    socklen_t length = sizeof value;
    if (getsockopt(socket->socket.fd, SOL_SOCKET, SO_BROADCAST, &value, &length) != 0)
        return net_os_error(error, "SO_BROADCAST", errno);
    *on = value != 0;
    return LUN_OK;
}

static bool is_v6(lun_udp_socket *socket)
{
    struct sockaddr_storage storage;
    socklen_t length = sizeof storage;
    return getsockname(socket->socket.fd, (struct sockaddr *)&storage, &length) == 0 &&
           storage.ss_family == AF_INET6;
}

lun_status lun_udp_socket_set_ttl(lun_udp_socket *socket, uint32_t ttl, lun_error *error)
{
    if (socket == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null socket");
    int value = ttl > 255 ? 256 : (int)ttl; /* out of range: let the system refuse it */
    int result =
        is_v6(socket)
            ? setsockopt(socket->socket.fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &value, sizeof value)
            : setsockopt(socket->socket.fd, IPPROTO_IP, IP_TTL, &value, sizeof value);
    if (result != 0) return net_os_error(error, "TTL", errno);
    return LUN_OK;
}

lun_status lun_udp_socket_ttl(lun_udp_socket *socket, uint32_t *ttl, lun_error *error)
{
    if (socket == NULL || ttl == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null socket or output");
    int value = 0;
    socklen_t length = sizeof value;
    int result = is_v6(socket) ? getsockopt(socket->socket.fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS,
                                            &value, &length)
                               : getsockopt(socket->socket.fd, IPPROTO_IP, IP_TTL, &value, &length);
    if (result != 0) return net_os_error(error, "TTL", errno);
    *ttl = (uint32_t)value;
    return LUN_OK;
}

lun_status lun_udp_socket_local_address(lun_udp_socket *socket, lun_net_address *out,
                                        lun_error *error)
{
    return net_local_address(socket ? &socket->socket : NULL, out, error);
}

lun_status lun_udp_socket_peer_address(lun_udp_socket *socket, lun_net_address *out,
                                       lun_error *error)
{
    return net_peer_address(socket ? &socket->socket : NULL, out, error);
}

lun_udp_socket *lun_udp_socket_clone(lun_udp_socket *socket)
{
    net_socket_retain(socket ? &socket->socket : NULL);
    return socket;
}

void lun_udp_socket_release(lun_udp_socket *socket)
{
    if (socket != NULL) net_socket_release(&socket->socket);
}
