/*
 * TCP: listeners (bind, listen, accept), streams (connect with timeout,
 * read, peek, vectored write, flush, addresses, timeouts, clone, release)
 * and their resource types. The listen/accept/connect helpers are shared
 * with TLS.
 */
#include "net_internal.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { LISTEN_BACKLOG = 1024 };

/* ---- shared with TLS ---------------------------------------------------------- */

static int family_of(const lun_net_address *address)
{
    return address->family == 6 ? AF_INET6 : AF_INET;
}

lun_status net_listen(lun_net *net, const lun_net_address *address, net_kind kind, size_t size,
                      net_socket **out, lun_error *error)
{
    *out = NULL;
    if (net == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null context");
    struct sockaddr_storage storage;
    socklen_t length;
    lun_status status = net_to_sockaddr(address, &storage, &length, error);
    if (status != LUN_OK) return status;
    int fd;
    status = net_open_socket(net, family_of(address), SOCK_STREAM, &fd, error);
    if (status != LUN_OK) return status;
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, (struct sockaddr *)&storage, length) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        int saved = errno;
        close(fd);
        net_unreserve(net);
        return net_os_error(error, "bind", saved);
    }
    return net_socket_new(net, fd, kind, size, "listener", out, error);
}

static void set_no_delay(int fd)
{
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

lun_status net_accept(lun_process *self, net_socket *listener, net_kind kind, size_t size,
                      net_socket **out, lun_net_address *peer, lun_error *error)
{
    *out = NULL;
    lun_net *net = listener->net;
    for (;;) {
        uint32_t seen = net_events(&listener->read);
        lun_status status = net_reserve(net, error);
        if (status != LUN_OK) return status;
        struct sockaddr_storage storage;
        socklen_t length = sizeof storage;
        int fd = accept4(listener->fd, (struct sockaddr *)&storage, &length,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            net_done(self);
            status = net_socket_new(net, fd, kind, size, "stream", out, error);
            if (status != LUN_OK) return status;
            set_no_delay(fd);
            if (peer != NULL) net_from_sockaddr((struct sockaddr *)&storage, peer);
            return LUN_OK;
        }
        int saved = errno;
        net_unreserve(net);
        if (saved == EINTR || saved == ECONNABORTED) continue;
        if (saved != EAGAIN && saved != EWOULDBLOCK) {
            net_done(self);
            return net_os_error(error, "accept", saved);
        }
        status = net_wait(self, listener, &listener->read, seen, -1, error);
        if (status != LUN_OK) return status;
    }
}

/* LUN_OK: connected; LUN_ERR_WOULD_BLOCK: still in progress; else failed. */
static lun_status connect_state(net_socket *socket, lun_error *error)
{
    int failure = 0;
    socklen_t length = sizeof failure;
    if (getsockopt(socket->fd, SOL_SOCKET, SO_ERROR, &failure, &length) != 0) failure = errno;
    if (failure != 0) return net_os_error(error, "connect", failure);
    struct sockaddr_storage storage;
    length = sizeof storage;
    if (getpeername(socket->fd, (struct sockaddr *)&storage, &length) == 0) return LUN_OK;
    if (errno == ENOTCONN) return LUN_ERR_WOULD_BLOCK;
    return net_os_error(error, "connect", errno);
}

static lun_status connect_start(lun_net *net, const lun_net_address *address, net_kind kind,
                                size_t size, net_socket **pending, uint32_t *seen, lun_error *error)
{
    struct sockaddr_storage storage;
    socklen_t length;
    lun_status status = net_to_sockaddr(address, &storage, &length, error);
    if (status != LUN_OK) return status;
    int fd;
    status = net_open_socket(net, family_of(address), SOCK_STREAM, &fd, error);
    if (status != LUN_OK) return status;
    net_socket *socket;
    status = net_socket_new(net, fd, kind, size, "stream", &socket, error);
    if (status != LUN_OK) return status;
    set_no_delay(fd);
    *seen = net_events(&socket->write);
    int result;
    do {
        result = connect(fd, (struct sockaddr *)&storage, length);
    } while (result != 0 && errno == EINTR);
    if (result != 0 && errno != EINPROGRESS) {
        status = net_os_error(error, "connect", errno);
        net_socket_release(socket);
        return status;
    }
    *pending = socket;
    return result == 0 ? LUN_OK : LUN_ERR_WOULD_BLOCK;
}

lun_status net_connect(lun_process *self, lun_net *net, const lun_net_address *address,
                       int64_t timeout_ms, net_kind kind, size_t size, net_socket **pending,
                       lun_error *error)
{
    if (pending == NULL || (*pending == NULL && net == NULL))
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null context or pending");
    net_socket *socket = *pending;
    uint32_t seen = 0;
    if (socket == NULL) {
        lun_status status = connect_start(net, address, kind, size, pending, &seen, error);
        if (status != LUN_ERR_WOULD_BLOCK) {
            if (status == LUN_OK) net_done(self);
            return status;
        }
        socket = *pending;
    } else {
        seen = net_events(&socket->write);
    }
    for (;;) {
        lun_status status = connect_state(socket, error);
        if (status == LUN_OK) {
            net_done(self);
            return LUN_OK;
        }
        if (status == LUN_ERR_WOULD_BLOCK)
            status = net_wait(self, socket, &socket->write, seen, timeout_ms, error);
        if (status == LUN_OK) {
            seen = net_events(&socket->write);
            continue;
        }
        if (status == LUN_ERR_WOULD_BLOCK) return status;
        if (status == LUN_ERR_TIMEOUT) lun_error_set(error, LUN_ERR_TIMEOUT, "connect timed out");
        net_done(self);
        *pending = NULL;
        net_socket_release(socket);
        return status;
    }
}

/* ---- listeners ----------------------------------------------------------------- */

lun_status lun_tcp_bind(lun_net *net, const lun_net_address *address, lun_tcp_listener **out,
                        lun_error *error)
{
    if (out == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null output");
    return net_listen(net, address, NET_TCP_LISTENER, sizeof(lun_tcp_listener), (net_socket **)out,
                      error);
}

lun_status lun_tcp_listener_local_address(lun_tcp_listener *listener, lun_net_address *out,
                                          lun_error *error)
{
    return net_local_address(listener ? &listener->socket : NULL, out, error);
}

lun_status lun_tcp_accept(lun_process *self, lun_tcp_listener *listener, lun_tcp_stream **out,
                          lun_net_address *peer, lun_error *error)
{
    if (listener == NULL || out == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null listener or output");
    return net_accept(self, &listener->socket, NET_TCP_STREAM, sizeof(lun_tcp_stream),
                      (net_socket **)out, peer, error);
}

lun_tcp_listener *lun_tcp_listener_retain(lun_tcp_listener *listener)
{
    net_socket_retain(listener ? &listener->socket : NULL);
    return listener;
}

void lun_tcp_listener_release(lun_tcp_listener *listener)
{
    if (listener != NULL) net_socket_release(&listener->socket);
}

/* ---- streams ---------------------------------------------------------------------- */

lun_status lun_tcp_connect(lun_process *self, lun_net *net, const lun_net_address *address,
                           int64_t timeout_ms, lun_tcp_stream **stream, lun_error *error)
{
    return net_connect(self, net, address, timeout_ms, NET_TCP_STREAM, sizeof(lun_tcp_stream),
                       (net_socket **)stream, error);
}

typedef struct receive_call {
    void *buffer;
    size_t length;
    int flags;
} receive_call;

static ssize_t try_receive(int fd, void *context)
{
    receive_call *call = context;
    return recv(fd, call->buffer, call->length, call->flags);
}

static lun_status receive(lun_process *self, lun_tcp_stream *stream, void *buffer, size_t length,
                          size_t *count, int flags, _Atomic int64_t *timeout, lun_error *error)
{
    if (stream == NULL || count == NULL || (buffer == NULL && length > 0))
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null stream, buffer or count");
    *count = 0;
    net_socket *socket = &stream->socket;
    receive_call call = {buffer, length, flags};
    net_transfer transfer = {.interest = &socket->read,
                             .timeout = timeout,
                             .what = flags & MSG_PEEK ? "peek" : "read",
                             .timed_out = "read timed out",
                             .attempt = try_receive,
                             .context = &call};
    return net_transfer_run(self, socket, &transfer, count, error);
}

lun_status lun_tcp_read(lun_process *self, lun_tcp_stream *stream, void *buffer, size_t length,
                        size_t *count, lun_error *error)
{
    return receive(self, stream, buffer, length, count, 0,
                   stream ? &stream->socket.read_timeout : NULL, error);
}

lun_status lun_tcp_peek(lun_process *self, lun_tcp_stream *stream, void *buffer, size_t length,
                        size_t *count, lun_error *error)
{
    return receive(self, stream, buffer, length, count, MSG_PEEK,
                   stream ? &stream->socket.peek_timeout : NULL, error);
}

static ssize_t try_send(int fd, void *context)
{
    return sendmsg(fd, context, MSG_NOSIGNAL);
}

lun_status lun_tcp_write_vectored(lun_process *self, lun_tcp_stream *stream,
                                  const struct iovec *buffers, size_t buffer_count, size_t *count,
                                  lun_error *error)
{
    if (stream == NULL || count == NULL || (buffers == NULL && buffer_count > 0))
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null stream, buffers or count");
    *count = 0;
    net_socket *socket = &stream->socket;
    struct msghdr message = {.msg_iov = (struct iovec *)buffers,
                             .msg_iovlen = buffer_count > IOV_MAX ? IOV_MAX : buffer_count};
    net_transfer transfer = {.interest = &socket->write,
                             .timeout = &socket->write_timeout,
                             .what = "write",
                             .timed_out = "write timed out",
                             .attempt = try_send,
                             .context = &message};
    return net_transfer_run(self, socket, &transfer, count, error);
}

lun_status lun_tcp_flush(lun_process *self, lun_tcp_stream *stream, lun_error *error)
{
    if (stream == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null stream");
    net_done(self);
    return LUN_OK;
}

void lun_tcp_stream_set_read_timeout(lun_tcp_stream *stream, int64_t timeout_ms)
{
    if (stream) atomic_store(&stream->socket.read_timeout, timeout_ms < 0 ? -1 : timeout_ms);
}

void lun_tcp_stream_set_write_timeout(lun_tcp_stream *stream, int64_t timeout_ms)
{
    if (stream) atomic_store(&stream->socket.write_timeout, timeout_ms < 0 ? -1 : timeout_ms);
}

void lun_tcp_stream_set_peek_timeout(lun_tcp_stream *stream, int64_t timeout_ms)
{
    if (stream) atomic_store(&stream->socket.peek_timeout, timeout_ms < 0 ? -1 : timeout_ms);
}

int64_t lun_tcp_stream_read_timeout(const lun_tcp_stream *stream)
{
    return stream ? net_timeout(&((lun_tcp_stream *)stream)->socket.read_timeout) : -1;
}

int64_t lun_tcp_stream_write_timeout(const lun_tcp_stream *stream)
{
    return stream ? net_timeout(&((lun_tcp_stream *)stream)->socket.write_timeout) : -1;
}

int64_t lun_tcp_stream_peek_timeout(const lun_tcp_stream *stream)
{
    return stream ? net_timeout(&((lun_tcp_stream *)stream)->socket.peek_timeout) : -1;
}

lun_status lun_tcp_stream_local_address(lun_tcp_stream *stream, lun_net_address *out,
                                        lun_error *error)
{
    return net_local_address(stream ? &stream->socket : NULL, out, error);
}

lun_status lun_tcp_stream_peer_address(lun_tcp_stream *stream, lun_net_address *out,
                                       lun_error *error)
{
    return net_peer_address(stream ? &stream->socket : NULL, out, error);
}

lun_tcp_stream *lun_tcp_stream_clone(lun_tcp_stream *stream)
{
    net_socket_retain(stream ? &stream->socket : NULL);
    return stream;
}

void lun_tcp_stream_release(lun_tcp_stream *stream)
{
    if (stream != NULL) net_socket_release(&stream->socket);
}

/* ---- resource types ------------------------------------------------------------------ */

static void destroy_socket(void *resource)
{
    net_socket_release(resource);
}

const lun_resource_type lun_net_tcp_stream_resource = {"tcp stream", destroy_socket};
const lun_resource_type lun_net_tcp_listener_resource = {"tcp listener", destroy_socket};
const lun_resource_type lun_net_udp_socket_resource = {"udp socket", destroy_socket};
const lun_resource_type lun_net_tls_stream_resource = {"tls stream", destroy_socket};
const lun_resource_type lun_net_tls_listener_resource = {"tls listener", destroy_socket};
