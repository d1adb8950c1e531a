/*
 * DNS without blocking a worker: a few resolver threads run getaddrinfo for
 * queued queries and notify the waiting process when one is done.
 *
 * A query is shared by the caller and a resolver thread; its state word
 * says who frees it: the thread publishes DONE with an exchange, the caller
 * cancels with an exchange; whoever sees the other's mark second frees.
 */
#include "net_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

enum { QUERY_PENDING = 0, QUERY_DONE = 1, QUERY_CANCELLED = 2 };
enum { MAX_QUEUED = 4096, MAX_NAME = 1024, MAX_ADDRESSES = 64 };

struct lun_dns_query {
    lun_dns_query *queue_next;
    _Atomic int state;
    lun_process *process; /* reference, taken by the thread when it finishes */
    char *host;
    uint16_t port;
    lun_status status;
    lun_error error;
    lun_dns_result *result;
};

void lun_dns_result_free(lun_dns_result *result)
{
    free(result);
}

static void query_free(lun_dns_query *query)
{
    lun_process_release(query->process);
    lun_dns_result_free(query->result);
    free(query->host);
    free(query);
}

void lun_dns_query_cancel(lun_dns_query *query)
{
    if (query == NULL) return;
    if (atomic_exchange(&query->state, QUERY_CANCELLED) == QUERY_DONE) query_free(query);
}

/* ---- resolving (on a resolver thread, or the caller's thread) ------------------ */

static void resolve_now(lun_dns_query *query)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    int result = getaddrinfo(query->host, NULL, &hints, &list);
    if (result != 0) {
        char text[128];
        const char *reason =
            result == EAI_SYSTEM ? strerror_r(errno, text, sizeof text) : gai_strerror(result);
        query->status = lun_error_set(&query->error, LUN_ERR_NOT_FOUND,
                                      "failed to lookup address information: %s", reason);
        return;
    }
    size_t count = 0;
    for (struct addrinfo *at = list; at && count < MAX_ADDRESSES; at = at->ai_next)
        if (at->ai_family == AF_INET || at->ai_family == AF_INET6) count++;
    lun_dns_result *out = malloc(sizeof *out + count * sizeof out->addresses[0]);
    if (out == NULL) {
        freeaddrinfo(list);
        query->status = lun_error_set(&query->error, LUN_ERR_NO_MEMORY, "dns result");
        return;
    }
    out->count = 0;
    for (struct addrinfo *at = list; at && out->count < count; at = at->ai_next) {
        if (at->ai_family != AF_INET && at->ai_family != AF_INET6) continue;
        lun_net_address *address = &out->addresses[out->count++];
        net_from_sockaddr(at->ai_addr, address);
        address->port = query->port;
    }
    freeaddrinfo(list);
    query->result = out;
    query->status = LUN_OK;
}

static void finish(lun_dns_query *query)
{
    lun_process *process = query->process;
    query->process = NULL;
    if (atomic_exchange(&query->state, QUERY_DONE) == QUERY_CANCELLED) query_free(query);
    lun_process_notify(process);
    lun_process_release(process);
}

static void *resolver_main(void *argument)
{
    lun_net *net = argument;
    net_resolver *resolver = &net->resolver;
    pthread_mutex_lock(&resolver->lock);
    for (;;) {
        while (resolver->head == NULL && !resolver->stop)
            pthread_cond_wait(&resolver->work, &resolver->lock);
        lun_dns_query *query = resolver->head;
        if (query == NULL) break;
        resolver->head = query->queue_next;
        if (resolver->head == NULL) resolver->tail = NULL;
        resolver->queued--;
        bool stop = resolver->stop;
        pthread_mutex_unlock(&resolver->lock);
        if (stop)
            query->status = lun_error_set(&query->error, LUN_ERR_STATE, "resolver stopped");
        else if (atomic_load(&query->state) != QUERY_CANCELLED)
            resolve_now(query);
        finish(query);
        pthread_mutex_lock(&resolver->lock);
    }
    pthread_mutex_unlock(&resolver->lock);
    return NULL;
}

lun_status net_resolver_start(lun_net *net, unsigned threads, lun_error *error)
{
    net_resolver *resolver = &net->resolver;
    pthread_mutex_init(&resolver->lock, NULL);
    pthread_cond_init(&resolver->work, NULL);
    resolver->threads = calloc(threads, sizeof *resolver->threads);
    if (resolver->threads == NULL)
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "resolver threads");
    resolver->thread_count = threads;
    for (unsigned i = 0; i < threads; i++) {
        int result = pthread_create(&resolver->threads[i], NULL, resolver_main, net);
        if (result != 0) return net_os_error(error, "resolver thread", result);
        resolver->started++;
    }
    return LUN_OK;
}

void net_resolver_stop(lun_net *net)
{
    net_resolver *resolver = &net->resolver;
    if (resolver->threads == NULL) return;
    pthread_mutex_lock(&resolver->lock);
    resolver->stop = true;
    pthread_cond_broadcast(&resolver->work);
    pthread_mutex_unlock(&resolver->lock);
    for (unsigned i = 0; i < resolver->started; i++)
        pthread_join(resolver->threads[i], NULL);
    free(resolver->threads);
    resolver->threads = NULL;
    pthread_cond_destroy(&resolver->work);
    pthread_mutex_destroy(&resolver->lock);
}

/* ---- the call ------------------------------------------------------------------- */

/* Splits "host:port" / "[v6]:port" (the port after the last colon). */
static lun_status parse_name(const char *name, size_t length, char **host, uint16_t *port,
                             lun_error *error)
{
    if (name == NULL || length == 0 || length > MAX_NAME)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "bad name length");
    size_t colon = length;
    while (colon > 0 && name[colon - 1] != ':')
        colon--;
    if (colon == 0) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "invalid socket address");
    unsigned long value = 0;
    if (colon == length)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "invalid port value");
    for (size_t i = colon; i < length; i++) {
        if (name[i] < '0' || name[i] > '9' ||
            (value = value * 10 + (unsigned)(name[i] - '0')) > 65535)
            return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "invalid port value");
    }
    size_t start = 0, end = colon - 1;
    if (end >= 2 && name[0] == '[' && name[end - 1] == ']') {
        start = 1;
        end--;
    }
    if (memchr(name, '\0', length) != NULL || end == start)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "invalid host name");
    *host = strndup(name + start, end - start);
    if (*host == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "host name");
    *port = (uint16_t)value;
    return LUN_OK;
}

static lun_status take_result(lun_dns_query *query, lun_dns_result **out, lun_error *error)
{
    lun_status status = query->status;
    if (status == LUN_OK) {
        *out = query->result;
        query->result = NULL;
    } else if (error != NULL) {
        *error = query->error;
    }
    query_free(query);
    return status;
}

static lun_status enqueue(lun_net *net, lun_dns_query *query, lun_error *error)
{
    net_resolver *resolver = &net->resolver;
    pthread_mutex_lock(&resolver->lock);
    if (resolver->queued >= MAX_QUEUED || resolver->stop) {
        pthread_mutex_unlock(&resolver->lock);
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "too many DNS queries pending");
    }
    query->queue_next = NULL;
    if (resolver->tail)
        resolver->tail->queue_next = query;
    else
        resolver->head = query;
    resolver->tail = query;
    resolver->queued++;
    pthread_cond_signal(&resolver->work);
    pthread_mutex_unlock(&resolver->lock);
    return LUN_OK;
}

lun_status lun_dns_resolve(lun_process *self, lun_net *net, const char *name, size_t name_length,
                           int64_t timeout_ms, lun_dns_query **pending, lun_dns_result **out,
                           lun_error *error)
{
    if (pending == NULL || out == NULL || (*pending == NULL && net == NULL))
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null context or output");
    *out = NULL;
    lun_dns_query *query = *pending;
    if (query == NULL) {
        query = calloc(1, sizeof *query);
        if (query == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "dns query");
        lun_status status = parse_name(name, name_length, &query->host, &query->port, error);
        if (status == LUN_OK && self == NULL) {
            resolve_now(query); /* a plain thread may block */
            return take_result(query, out, error);
        }
        query->process = lun_process_retain(self);
        if (status == LUN_OK) status = enqueue(net, query, error);
        if (status != LUN_OK) {
            query_free(query);
            return status;
        }
        *pending = query;
    }
    for (;;) {
        if (atomic_load(&query->state) == QUERY_DONE) {
            *pending = NULL;
            net_done(self);
            return take_result(query, out, error);
        }
        lun_status status = lun_process_wait_external(self, timeout_ms, error);
        if (status == LUN_OK) continue;
        if (status == LUN_ERR_WOULD_BLOCK) return status;
        *pending = NULL;
        lun_dns_query_cancel(query);
        if (status == LUN_ERR_TIMEOUT) lun_error_set(error, LUN_ERR_TIMEOUT, "resolve timed out");
        return status;
    }
}
