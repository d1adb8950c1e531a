/*
 * The reactor: one thread blocked in epoll_wait over every socket
 * (edge-triggered, registered once per socket), waking the processes that
 * wait on a direction, and the waiting protocol used by every socket call.
 *
 * Why one thread and not the workers: the scheduler stays ignorant of
 * sockets (core knows nothing of net), a worker never sleeps in epoll while
 * processes are runnable, and the cost per readiness edge is one counter
 * increment, one exchange and, when a process waits, one lock-free
 * lun_process_notify. Each epoll_wait returns a batch of up to 256 events,
 * and socket calls try the system call before waiting, so under load most
 * operations never involve the reactor at all.
 *
 * Freeing: a socket's last release closes its descriptor at once (removing
 * it from the epoll set) and pushes the socket on a retired list. The
 * reactor frees that list at the top of each loop, before epoll_wait: an
 * event batch returned after the removal cannot name the socket, and the
 * batch being processed when it was retired is finished by then.
 */
#include "net_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { EVENT_BATCH = 256 };

/* The address of this byte marks the wake descriptor in epoll data. */
static char wake_token;

void net_reactor_free_retired(lun_net *net)
{
    net_socket *socket = atomic_exchange_explicit(&net->retired, NULL, memory_order_acquire);
    while (socket != NULL) {
        net_socket *next = socket->retired_next;
        free(socket);
        socket = next;
    }
}

void net_reactor_wake(lun_net *net)
{
    uint64_t one = 1;
    ssize_t written = write(net->wake_fd, &one, sizeof one);
    (void)written; /* a full counter already means "wake up" */
}

static void fire(net_interest *interest)
{
    atomic_fetch_add_explicit(&interest->events, 1, memory_order_seq_cst);
    for (int i = 0; i < NET_WAITERS; i++) {
        _Atomic(lun_process *) *slot = &interest->waiters[i];
        if (atomic_load_explicit(slot, memory_order_seq_cst) == NULL) continue;
        lun_process *waiter = atomic_exchange_explicit(slot, NULL, memory_order_seq_cst);
        if (waiter == NULL) continue;
        lun_process_notify(waiter);
        lun_process_release(waiter);
    }
}

static void *reactor_main(void *argument)
{
    lun_net *net = argument;
    struct epoll_event events[EVENT_BATCH];
    while (!atomic_load_explicit(&net->stopping, memory_order_acquire)) {
        net_reactor_free_retired(net);
        int count = epoll_wait(net->epoll_fd, events, EVENT_BATCH, -1);
        for (int i = 0; i < count; i++) {
            if (events[i].data.ptr == &wake_token) {
                uint64_t value;
                ssize_t got = read(net->wake_fd, &value, sizeof value);
                (void)got;
                continue;
            }
            net_socket *socket = events[i].data.ptr;
            uint32_t flags = events[i].events;
            if (flags & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) fire(&socket->read);
            if (flags & (EPOLLOUT | EPOLLHUP | EPOLLERR)) fire(&socket->write);
        }
    }
    return NULL;
}

lun_status net_reactor_start(lun_net *net, lun_error *error)
{
    net->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (net->epoll_fd < 0) return net_os_error(error, "epoll_create1", errno);
    net->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (net->wake_fd < 0) return net_os_error(error, "eventfd", errno);
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = &wake_token};
    if (epoll_ctl(net->epoll_fd, EPOLL_CTL_ADD, net->wake_fd, &event) != 0)
        return net_os_error(error, "epoll_ctl", errno);
    int result = pthread_create(&net->reactor, NULL, reactor_main, net);
    if (result != 0) return net_os_error(error, "reactor thread", result);
    net->reactor_started = true;
    return LUN_OK;
}

void net_reactor_stop(lun_net *net)
{
    if (!net->reactor_started) return;
    atomic_store_explicit(&net->stopping, true, memory_order_release);
    net_reactor_wake(net);
    pthread_join(net->reactor, NULL);
    net->reactor_started = false;
}

/* ---- waiting ------------------------------------------------------------------ */

/* Blocking mode for callers that are plain threads. */
static lun_status poll_wait(net_socket *socket, net_interest *interest, int64_t timeout_ms,
                            lun_error *error)
{
    struct pollfd entry = {.fd = socket->fd,
                           .events = interest == &socket->read ? POLLIN : POLLOUT};
    int timeout = timeout_ms < 0 ? -1 : timeout_ms > 1000000000 ? 1000000000 : (int)timeout_ms;
    for (;;) {
        int result = poll(&entry, 1, timeout);
        if (result > 0) return LUN_OK;
        if (result == 0) return lun_error_set(error, LUN_ERR_TIMEOUT, "timed out");
        if (errno != EINTR) return net_os_error(error, "poll", errno);
    }
}

static void unregister(net_interest *interest, lun_process *self)
{
    for (int i = 0; i < NET_WAITERS; i++) {
        lun_process *expected = self;
        if (atomic_compare_exchange_strong_explicit(&interest->waiters[i], &expected, NULL,
                                                    memory_order_seq_cst, memory_order_seq_cst)) {
            lun_process_release(self);
            return;
        }
    }
}

/* Puts self in a free slot unless it holds one already. False when every
 * slot holds another process. */
static bool register_waiter(net_interest *interest, lun_process *self)
{
    for (int i = 0; i < NET_WAITERS; i++)
        if (atomic_load_explicit(&interest->waiters[i], memory_order_seq_cst) == self) return true;
    lun_process_retain(self);
    for (int i = 0; i < NET_WAITERS; i++) {
        lun_process *expected = NULL;
        if (atomic_compare_exchange_strong_explicit(&interest->waiters[i], &expected, self,
                                                    memory_order_seq_cst, memory_order_seq_cst))
            return true;
    }
    lun_process_release(self);
    return false;
}

enum { CONTENDED_POLL_MS = 5 };

lun_status net_wait(lun_process *self, net_socket *socket, net_interest *interest, uint32_t seen,
                    int64_t timeout_ms, lun_error *error)
{
    if (self == NULL) return poll_wait(socket, interest, timeout_ms, error);
    if (!register_waiter(interest, self)) {
        /* More processes wait on this direction than there are slots: poll,
         * with a sleep (another kind of wait, so that it is never taken for
         * the end of a timed wait of this call). Their timeouts are not
         * counted while they poll. */
        return lun_process_sleep(self, CONTENDED_POLL_MS, error);
    }
    if (net_events(interest) != seen) {
        /* Readiness came after the attempt: retry now. */
        unregister(interest, self);
        return LUN_OK;
    }
    lun_status status = lun_process_wait_external(self, timeout_ms, error);
    if (status == LUN_ERR_TIMEOUT) unregister(interest, self);
    return status;
}

void net_done(lun_process *self)
{
    if (self == NULL || !lun_process_is_waiting(self)) return;
    /* Completes the wait and consumes its notification, so that the next
     * wait does not return at once for an edge already used. */
    if (lun_process_wait_external(self, 0, NULL) == LUN_ERR_WOULD_BLOCK)
        lun_process_cancel_wait(self);
}

lun_status net_transfer_run(lun_process *self, net_socket *socket, const net_transfer *transfer,
                            size_t *count, lun_error *error)
{
    for (;;) {
        uint32_t seen = net_events(transfer->interest);
        ssize_t moved = transfer->attempt(socket->fd, transfer->context);
        if (moved >= 0) {
            net_done(self);
            *count = (size_t)moved;
            return LUN_OK;
        }
        int saved = errno;
        if (saved == EINTR) continue;
        if (saved != EAGAIN && saved != EWOULDBLOCK) {
            net_done(self);
            return net_os_error(error, transfer->what, saved);
        }
        lun_status status =
            net_wait(self, socket, transfer->interest, seen, net_timeout(transfer->timeout), error);
        if (status == LUN_ERR_TIMEOUT && transfer->timed_out != NULL)
            lun_error_set(error, LUN_ERR_TIMEOUT, "%s", transfer->timed_out);
        if (status != LUN_OK) return status;
    }
}
