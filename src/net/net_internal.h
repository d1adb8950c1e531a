/*
 * Private structures of the networking layer, shared by the files of
 * src/net.
 *
 * A socket is one reference-counted object whatever its kind; the public
 * handle types (lun_tcp_stream, ...) start with it. Each socket is
 * registered once with the reactor's epoll set, edge-triggered, for both
 * directions. A direction (net_interest) is an event counter bumped by the
 * reactor on each readiness edge plus one waiting process. An operation
 * reads the counter, tries the system call, and on EAGAIN stores itself in
 * a waiter slot and reads the counter again: if it moved, readiness came in
 * between and the call is retried at once; if not, the reactor will see the
 * slot when the next edge comes (both sides use sequentially consistent
 * operations on the two words, so one always sees the other).
 */
#ifndef LUNATIC_NET_INTERNAL_H
#define LUNATIC_NET_INTERNAL_H

#include "lunatic/net.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

typedef enum net_kind {
    NET_TCP_LISTENER,
    NET_TCP_STREAM,
    NET_UDP_SOCKET,
    NET_TLS_LISTENER,
    NET_TLS_STREAM,
} net_kind;

/* Processes that may wait on one direction at once; more poll (reactor.c). */
enum { NET_WAITERS = 4 };

typedef struct net_interest {
    _Atomic uint32_t events;
    _Atomic(lun_process *) waiters[NET_WAITERS]; /* owned references, or NULL */
} net_interest;

typedef struct net_socket {
    net_interest read;
    net_interest write;
    _Atomic uint32_t references;
    int fd;
    uint8_t kind; /* net_kind */
    lun_net *net;
    _Atomic int64_t read_timeout; /* milliseconds; negative: none */
    _Atomic int64_t write_timeout;
    _Atomic int64_t peek_timeout;
    /* Called when the last reference goes, before the descriptor closes. */
    void (*cleanup)(struct net_socket *socket);
    struct net_socket *retired_next;
} net_socket;

/* ---- the resolver (dns.c) ---------------------------------------------------- */

typedef struct net_resolver {
    pthread_mutex_t lock;
    pthread_cond_t work;
    lun_dns_query *head;
    lun_dns_query *tail;
    size_t queued;
    bool stop;
    unsigned thread_count;
    unsigned started;
    pthread_t *threads;
} net_resolver;

lun_status net_resolver_start(lun_net *net, unsigned threads, lun_error *error);
void net_resolver_stop(lun_net *net);

/* ---- the context and the reactor (net.c, reactor.c) ---------------------------- */

struct lun_net {
    int epoll_fd;
    int wake_fd; /* eventfd: stop, or too many retired sockets */
    pthread_t reactor;
    bool reactor_started;
    _Atomic bool stopping;
    size_t max_sockets;
    _Atomic size_t socket_count;
    /* Sockets whose descriptor is closed; the reactor frees them once no
     * event batch can still point at them (see reactor.c). */
    _Atomic(net_socket *) retired;
    _Atomic size_t retired_count;
    net_resolver resolver;
};

lun_status net_reactor_start(lun_net *net, lun_error *error);
void net_reactor_stop(lun_net *net);
/* Frees every retired socket (reactor thread, or after it stopped). */
void net_reactor_free_retired(lun_net *net);
void net_reactor_wake(lun_net *net);

/* Takes one socket slot of the limit (LUN_ERR_NO_MEMORY when full). */
lun_status net_reserve(lun_net *net, lun_error *error);
void net_unreserve(lun_net *net);
/* Initialises a socket around an open non-blocking descriptor, whose slot
 * was reserved, and registers it with the reactor. On error the descriptor
 * is closed and the slot given back; the memory stays the caller's. */
lun_status net_socket_init(net_socket *socket, lun_net *net, int fd, net_kind kind,
                           lun_error *error);
/* Allocates size zeroed bytes (a struct whose first member is the
 * net_socket) and initialises them as net_socket_init does; what names the
 * socket in the out-of-memory error. On error the descriptor is closed, the
 * slot given back and nothing is left allocated. */
lun_status net_socket_new(lun_net *net, int fd, net_kind kind, size_t size, const char *what,
                          net_socket **out, lun_error *error);
net_socket *net_socket_retain(net_socket *socket);
/* Drops a reference; the last one closes the descriptor. */
void net_socket_release(net_socket *socket);

/* Makes a non-blocking, close-on-exec socket within the limit. */
lun_status net_open_socket(lun_net *net, int family, int type, int *fd, lun_error *error);

/* ---- waiting (reactor.c) --------------------------------------------------------- */

static inline uint32_t net_events(net_interest *interest)
{
    return atomic_load_explicit(&interest->events, memory_order_seq_cst);
}

/* After an attempt that found the socket not ready (the counter read before
 * it was `seen`): LUN_OK = try again now; LUN_ERR_WOULD_BLOCK = return
 * LUN_STEP_WAIT; LUN_ERR_TIMEOUT. With self NULL, polls the descriptor. */
lun_status net_wait(lun_process *self, net_socket *socket, net_interest *interest, uint32_t seen,
                    int64_t timeout_ms, lun_error *error);
/* After a successful attempt: forgets a wait left from an earlier step. */
void net_done(lun_process *self);

/* A send or receive on a non-blocking socket, tried until the socket takes
 * it: attempt returns what send/recv return (errno set on -1). */
typedef struct net_transfer {
    net_interest *interest;   /* &socket->read or &socket->write */
    _Atomic int64_t *timeout; /* the socket's timeout for it */
    const char *what;         /* the operation in error messages */
    const char *timed_out;    /* the timeout's message; NULL keeps net_wait's */
    ssize_t (*attempt)(int fd, void *context);
    void *context;
} net_transfer;

/* Runs a transfer under the wait protocol above; *count is what the
 * successful attempt moved. */
lun_status net_transfer_run(lun_process *self, net_socket *socket, const net_transfer *transfer,
                            size_t *count, lun_error *error);

/* ---- helpers (net.c) ------------------------------------------------------------ */

/* An error value for errno (LUN_ERR_NO_MEMORY for descriptor and buffer
 * exhaustion, LUN_ERR_IO otherwise), with strerror's text. */
lun_status net_os_error(lun_error *error, const char *what, int error_number);
lun_status net_to_sockaddr(const lun_net_address *address, struct sockaddr_storage *storage,
                           socklen_t *length, lun_error *error);
void net_from_sockaddr(const struct sockaddr *address, lun_net_address *out);
lun_status net_local_address(net_socket *socket, lun_net_address *out, lun_error *error);
lun_status net_peer_address(net_socket *socket, lun_net_address *out, lun_error *error);

static inline int64_t net_timeout(_Atomic int64_t *timeout)
{
    return atomic_load_explicit(timeout, memory_order_relaxed);
}

/* ---- TCP internals shared with TLS (tcp.c) ----------------------------------------- */

struct lun_tcp_listener {
    net_socket socket;
};

struct lun_tcp_stream {
    net_socket socket;
};

/* Binds and listens on a new socket of `kind` (TCP or TLS listener) whose
 * memory (size bytes, starting with a net_socket) is allocated here. */
lun_status net_listen(lun_net *net, const lun_net_address *address, net_kind kind, size_t size,
                      net_socket **out, lun_error *error);
/* Accepts one connection into a new stream socket of `kind` and `size`. */
lun_status net_accept(lun_process *self, net_socket *listener, net_kind kind, size_t size,
                      net_socket **out, lun_net_address *peer, lun_error *error);
/* Starts or continues a connect; *pending as in the pending protocol. */
lun_status net_connect(lun_process *self, lun_net *net, const lun_net_address *address,
                       int64_t timeout_ms, net_kind kind, size_t size, net_socket **pending,
                       lun_error *error);

#endif
