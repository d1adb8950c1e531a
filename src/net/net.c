/*
 * The networking context (reactor, resolver, socket limit), socket
 * reference counting, addresses and error values.
 */
#include "net_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

enum { DESCRIPTOR_RESERVE = 64, DEFAULT_RESOLVER_THREADS = 2 };

/* Raises the soft descriptor limit to the hard one and returns what is left
 * for sockets after a reserve for files, pipes and the runtime itself. */
static size_t default_max_sockets(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024 - DESCRIPTOR_RESERVE;
    if (limit.rlim_cur < limit.rlim_max) {
        struct rlimit raised = {.rlim_cur = limit.rlim_max, .rlim_max = limit.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    rlim_t usable = limit.rlim_cur == RLIM_INFINITY ? (rlim_t)1 << 20 : limit.rlim_cur;
    return usable > 2 * DESCRIPTOR_RESERVE ? (size_t)usable - DESCRIPTOR_RESERVE
                                           : (size_t)usable / 2;
}

/* OpenSSL writes to its socket with write(), which raises SIGPIPE when the
 * peer has gone; that must be an error value, not the end of the runtime
 * (Rust and Go runtimes ignore SIGPIPE for the same reason). A handler the
 * embedder installed is left alone. */
static void ignore_broken_pipes(void)
{
    struct sigaction current;
    if (sigaction(SIGPIPE, NULL, &current) == 0 && !(current.sa_flags & SA_SIGINFO) &&
        current.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
}

lun_status lun_net_new(const lun_net_config *config, lun_net **out, lun_error *error)
{
    if (out == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null output");
    *out = NULL;
    lun_net *net = calloc(1, sizeof *net);
    if (net == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "networking context");
    net->epoll_fd = net->wake_fd = -1;
    ignore_broken_pipes();
    net->max_sockets = config && config->max_sockets ? config->max_sockets : default_max_sockets();
    unsigned resolvers =
        config && config->resolver_threads ? config->resolver_threads : DEFAULT_RESOLVER_THREADS;
    lun_status status = net_reactor_start(net, error);
    if (status == LUN_OK) status = net_resolver_start(net, resolvers, error);
    if (status != LUN_OK) {
        lun_net_free(net);
        return status;
    }
    *out = net;
    return LUN_OK;
}

void lun_net_free(lun_net *net)
{
    if (net == NULL) return;
    net_resolver_stop(net);
    net_reactor_stop(net);
    net_reactor_free_retired(net);
    if (net->epoll_fd >= 0) close(net->epoll_fd);
    if (net->wake_fd >= 0) close(net->wake_fd);
    free(net);
}

size_t lun_net_socket_count(const lun_net *net)
{
    return net ? atomic_load(&((lun_net *)net)->socket_count) : 0;
}

size_t lun_net_max_sockets(const lun_net *net)
{
    return net ? net->max_sockets : 0;
}

/* ---- the socket limit and socket lifetime ----------------------------------- */

lun_status net_reserve(lun_net *net, lun_error *error)
{
    size_t before = atomic_fetch_add_explicit(&net->socket_count, 1, memory_order_relaxed);
    if (before < net->max_sockets) return LUN_OK;
    atomic_fetch_sub_explicit(&net->socket_count, 1, memory_order_relaxed);
    return lun_error_set(error, LUN_ERR_NO_MEMORY, "too many open sockets (limit %zu)",
                         net->max_sockets);
}

void net_unreserve(lun_net *net)
{
    atomic_fetch_sub_explicit(&net->socket_count, 1, memory_order_relaxed);
}

lun_status net_open_socket(lun_net *net, int family, int type, int *fd, lun_error *error)
{
    lun_status status = net_reserve(net, error);
    if (status != LUN_OK) return status;
    *fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (*fd < 0) {
        int saved = errno;
        net_unreserve(net);
        return net_os_error(error, "socket", saved);
    }
    return LUN_OK;
}

lun_status net_socket_init(net_socket *socket, lun_net *net, int fd, net_kind kind,
                           lun_error *error)
{
    atomic_init(&socket->read.events, 0);
    atomic_init(&socket->write.events, 0);
    for (int i = 0; i < NET_WAITERS; i++) {
        atomic_init(&socket->read.waiters[i], NULL);
        atomic_init(&socket->write.waiters[i], NULL);
    }
    atomic_init(&socket->references, 1);
    atomic_init(&socket->read_timeout, -1);
    atomic_init(&socket->write_timeout, -1);
    atomic_init(&socket->peek_timeout, -1);
    socket->fd = fd;
    socket->kind = (uint8_t)kind;
    socket->net = net;
    socket->cleanup = NULL;
    socket->retired_next = NULL;
    bool listener = kind == NET_TCP_LISTENER || kind == NET_TLS_LISTENER;
    struct epoll_event event = {.events = EPOLLET | EPOLLIN |
                                          (listener ? 0u : (uint32_t)(EPOLLOUT | EPOLLRDHUP)),
                                .data.ptr = socket};
    if (epoll_ctl(net->epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
        int saved = errno;
        close(fd);
        net_unreserve(net);
        return net_os_error(error, "epoll_ctl", saved);
    }
    return LUN_OK;
}

lun_status net_socket_new(lun_net *net, int fd, net_kind kind, size_t size, const char *what,
                          net_socket **out, lun_error *error)
{
    net_socket *socket = calloc(1, size);
    if (socket == NULL) {
        close(fd);
        net_unreserve(net);
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "%s", what);
    }
    lun_status status = net_socket_init(socket, net, fd, kind, error);
    if (status != LUN_OK) {
        free(socket);
        return status;
    }
    *out = socket;
    return LUN_OK;
}

net_socket *net_socket_retain(net_socket *socket)
{
    if (socket != NULL) atomic_fetch_add_explicit(&socket->references, 1, memory_order_relaxed);
    return socket;
}

static void drop_waiters(net_interest *interest)
{
    for (int i = 0; i < NET_WAITERS; i++)
        lun_process_release(
            atomic_exchange_explicit(&interest->waiters[i], NULL, memory_order_seq_cst));
}

void net_socket_release(net_socket *socket)
{
    if (socket == NULL) return;
    if (atomic_fetch_sub_explicit(&socket->references, 1, memory_order_acq_rel) != 1) return;
    lun_net *net = socket->net;
    if (socket->cleanup) socket->cleanup(socket);
    epoll_ctl(net->epoll_fd, EPOLL_CTL_DEL, socket->fd, NULL);
    close(socket->fd);
    socket->fd = -1;
    drop_waiters(&socket->read);
    drop_waiters(&socket->write);
    net_unreserve(net);
    /* The reactor may still hold an event for this socket from its current
     * batch: it frees the memory after that batch. */
    net_socket *head = atomic_load_explicit(&net->retired, memory_order_relaxed);
    do {
        socket->retired_next = head;
    } while (!atomic_compare_exchange_weak_explicit(&net->retired, &head, socket,
                                                    memory_order_release, memory_order_relaxed));
    if ((atomic_fetch_add_explicit(&net->retired_count, 1, memory_order_relaxed) & 255) == 255)
        net_reactor_wake(net);
}

/* ---- errors and addresses -------------------------------------------------------- */

lun_status net_os_error(lun_error *error, const char *what, int error_number)
{
    lun_status code = LUN_ERR_IO;
    if (error_number == EMFILE || error_number == ENFILE || error_number == ENOBUFS ||
        error_number == ENOMEM)
        code = LUN_ERR_NO_MEMORY;
    char text[128];
    const char *message = strerror_r(error_number, text, sizeof text);
    return lun_error_set(error, code, "%s: %s (os error %d)", what, message, error_number);
}

lun_status net_to_sockaddr(const lun_net_address *address, struct sockaddr_storage *storage,
                           socklen_t *length, lun_error *error)
{
    if (address == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null address");
    memset(storage, 0, sizeof *storage);
    if (address->family == 4) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)storage;
        v4->sin_family = AF_INET;
        v4->sin_port = htons(address->port);
        memcpy(&v4->sin_addr, address->bytes, 4);
        *length = sizeof *v4;
        return LUN_OK;
    }
    if (address->family == 6) {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)storage;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(address->port);
        v6->sin6_flowinfo = htonl(address->flow_info);
        v6->sin6_scope_id = address->scope_id;
        memcpy(&v6->sin6_addr, address->bytes, 16);
        *length = sizeof *v6;
        return LUN_OK;
    }
    return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "address family %u is not 4 or 6",
                         address->family);
}

void net_from_sockaddr(const struct sockaddr *address, lun_net_address *out)
{
    memset(out, 0, sizeof *out);
    if (address->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)address;
        out->family = 4;
        out->port = ntohs(v4->sin_port);
        memcpy(out->bytes, &v4->sin_addr, 4);
    } else if (address->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)address;
        out->family = 6;
        out->port = ntohs(v6->sin6_port);
        out->flow_info = ntohl(v6->sin6_flowinfo);
        out->scope_id = v6->sin6_scope_id;
        memcpy(out->bytes, &v6->sin6_addr, 16);
    }
}

static lun_status socket_address(net_socket *socket, bool peer, lun_net_address *out,
                                 lun_error *error)
{
    if (socket == NULL || out == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null socket or output");
    struct sockaddr_storage storage;
    socklen_t length = sizeof storage;
    int result = peer ? getpeername(socket->fd, (struct sockaddr *)&storage, &length)
                      : getsockname(socket->fd, (struct sockaddr *)&storage, &length);
    if (result != 0) {
        int saved = errno;
        if (peer && saved == ENOTCONN)
            return lun_error_set(error, LUN_ERR_STATE, "socket is not connected");
        return net_os_error(error, peer ? "getpeername" : "getsockname", saved);
    }
    net_from_sockaddr((struct sockaddr *)&storage, out);
    return LUN_OK;
}

lun_status net_local_address(net_socket *socket, lun_net_address *out, lun_error *error)
{
    return socket_address(socket, false, out, error);
}

lun_status net_peer_address(net_socket *socket, lun_net_address *out, lun_error *error)
{
    return socket_address(socket, true, out, error);
}

lun_status lun_net_address_parse(const char *text, lun_net_address *out, lun_error *error)
{
    if (text == NULL || out == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null text or output");
    memset(out, 0, sizeof *out);
    char host[64];
    const char *colon = strrchr(text, ':');
    if (colon == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no port");
    const char *start = text, *end = colon;
    if (*start == '[') {
        start++;
        if (end == start || end[-1] != ']')
            return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "bad IPv6 brackets");
        end--;
    }
    if ((size_t)(end - start) >= sizeof host)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "address too long");
    memcpy(host, start, (size_t)(end - start));
    host[end - start] = '\0';
    char *port_end = NULL;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &port_end, 10);
    if (colon[1] == '\0' || *port_end != '\0' || port > 65535 || errno != 0)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "bad port in '%s'", text);
    out->port = (uint16_t)port;
    if (inet_pton(AF_INET, host, out->bytes) == 1) {
        out->family = 4;
        return LUN_OK;
    }
    if (inet_pton(AF_INET6, host, out->bytes) == 1) {
        out->family = 6;
        return LUN_OK;
    }
    return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "'%s' is not an IP address", host);
}
