/*
 * TCP over loopback with native processes: an echo server with one process
 * per connection serving many concurrent clients, clients that disconnect
 * mid-request, a slow client tripping the read timeout, a process killed
 * while holding sockets, a stream passed to another process in a message,
 * connect timeouts and refusals, peek, clone, the socket limit.
 */
#include "net_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the echo server ------------------------------------------------------------- */

typedef struct server {
    fixture *fixture;
    lun_tcp_listener *listener;
    lun_net_address address;
    int64_t read_timeout;
    _Atomic int accepted;
    _Atomic int ended_eof;
    _Atomic int ended_error;
    _Atomic int ended_timeout;
    _Atomic int handlers_freed;
} server;

typedef struct handler {
    server *server;
    lun_tcp_stream *stream;
    size_t length, sent;
    char buffer[2048];
} handler;

static void handler_free(void *state)
{
    handler *h = state;
    lun_tcp_stream_release(h->stream);
    atomic_fetch_add(&h->server->handlers_freed, 1);
    free(h);
}

/* Echoes until the peer closes; reads and writes the same buffer. */
static lun_step_result echo_loop(lun_process *self, handler *h)
{
    for (;;) {
        size_t count = 0;
        lun_status status;
        if (h->sent < h->length) {
            struct iovec buffer = {h->buffer + h->sent, h->length - h->sent};
            status = lun_tcp_write_vectored(self, h->stream, &buffer, 1, &count, NULL);
            if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
            if (status != LUN_OK) break;
            h->sent += count;
            continue;
        }
        status = lun_tcp_read(self, h->stream, h->buffer, sizeof h->buffer, &count, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status == LUN_ERR_TIMEOUT) {
            atomic_fetch_add(&h->server->ended_timeout, 1);
            return LUN_STEP_DONE;
        }
        if (status != LUN_OK) break;
        if (count == 0) {
            atomic_fetch_add(&h->server->ended_eof, 1);
            return LUN_STEP_DONE;
        }
        h->length = count;
        h->sent = 0;
    }
    atomic_fetch_add(&h->server->ended_error, 1);
    return LUN_STEP_DONE;
}

static lun_step_result handler_step(lun_process *self, void *state)
{
    return echo_loop(self, state);
}

static lun_step_result acceptor_step(lun_process *self, void *state)
{
    server *s = state;
    for (;;) {
        lun_tcp_stream *stream = NULL;
        lun_status status = lun_tcp_accept(self, s->listener, &stream, NULL, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) {
            lun_process_fail(self, "accept failed");
            return LUN_STEP_FAILED;
        }
        atomic_fetch_add(&s->accepted, 1);
        lun_tcp_stream_set_read_timeout(stream, s->read_timeout);
        handler *h = calloc(1, sizeof *h);
        if (h == NULL) {
            lun_tcp_stream_release(stream);
            continue;
        }
        h->server = s;
        h->stream = stream;
        lun_spawn_options options = {.state_free = handler_free};
        lun_process_spawn(lun_process_environment(self), handler_step, h, &options, NULL, NULL);
    }
}

static lun_process *server_start(fixture *f, server *s, int family, int64_t read_timeout)
{
    memset(s, 0, sizeof *s);
    s->fixture = f;
    s->read_timeout = read_timeout;
    lun_net_address any = loopback(family, 0);
    assert_int_equal(lun_tcp_bind(f->net, &any, &s->listener, NULL), LUN_OK);
    assert_int_equal(lun_tcp_listener_local_address(s->listener, &s->address, NULL), LUN_OK);
    assert_int_equal(s->address.family, family);
    assert_true(s->address.port != 0);
    return spawn(f, acceptor_step, s, NULL);
}

static void server_stop(server *s, lun_process *acceptor)
{
    assert_int_equal(lun_process_kill(acceptor, NULL), LUN_OK);
    assert_int_equal(join(acceptor).kind, LUN_RESULT_FAILED);
    lun_process_release(acceptor);
    lun_tcp_listener_release(s->listener);
    /* Handlers use *s until they end (their peers have closed by now). */
    wait_for_count(&s->handlers_freed, atomic_load(&s->accepted));
}

/* ---- echo clients as processes --------------------------------------------------------- */

typedef struct echo_client {
    lun_net *net;
    lun_net_address address;
    int phase;
    lun_tcp_stream *stream;
    char out[48];
    size_t length, sent, received;
    char in[48];
    _Atomic int *succeeded;
    bool hold; /* keep the connection open until a message comes */
} echo_client;

static void client_free(void *state)
{
    echo_client *c = state;
    lun_tcp_stream_release(c->stream);
    free(c);
}

static lun_step_result client_step(lun_process *self, void *state)
{
    echo_client *c = state;
    size_t count = 0;
    lun_status status;
    if (c->phase == 0) {
        status = lun_tcp_connect(self, c->net, &c->address, 10000, &c->stream, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) return LUN_STEP_FAILED;
        c->phase = 1;
    }
    while (c->sent < c->length) {
        struct iovec parts[2] = {{c->out + c->sent, 1}, {c->out + c->sent + 1, 0}};
        parts[1].iov_len = c->length - c->sent - 1;
        status = lun_tcp_write_vectored(self, c->stream, parts, 2, &count, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) return LUN_STEP_FAILED;
        c->sent += count;
    }
    while (c->received < c->length) {
        status = lun_tcp_read(self, c->stream, c->in + c->received, c->length - c->received, &count,
                              NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK || count == 0) return LUN_STEP_FAILED;
        c->received += count;
    }
    if (c->phase == 1) {
        if (memcmp(c->in, c->out, c->length) != 0) return LUN_STEP_FAILED;
        atomic_fetch_add(c->succeeded, 1);
        c->phase = 2;
    }
    if (c->hold) {
        lun_message *message = NULL;
        status = lun_process_receive(self, NULL, 0, LUN_TIMEOUT_INFINITE, &message, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        lun_message_free(message);
    }
    return LUN_STEP_DONE;
}

static lun_process *spawn_client(fixture *f, const lun_net_address *address, int index,
                                 _Atomic int *succeeded, bool hold)
{
    echo_client *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->net = f->net;
    c->address = *address;
    c->succeeded = succeeded;
    c->hold = hold;
    c->length = (size_t)snprintf(c->out, sizeof c->out, "hello from client %d", index);
    return spawn(f, client_step, c, client_free);
}

/* Runs `count` echo clients; with `hold`, all of them are connected at
 * once (each keeps its connection until every one has been echoed). */
static void run_clients_holding(fixture *f, server *s, int count, bool hold)
{
    _Atomic int succeeded = 0;
    lun_process **clients = calloc((size_t)count, sizeof *clients);
    assert_non_null(clients);
    size_t sockets_before = lun_net_socket_count(f->net);
    for (int i = 0; i < count; i++)
        clients[i] = spawn_client(f, &s->address, i, &succeeded, hold);
    if (hold) {
        wait_for_count(&succeeded, count);
        /* Both ends of every connection are open now. The acceptor reserves
         * a socket for its next accept while it tries one, so the count
         * before may hold one that is not there now. */
        assert_true(lun_net_socket_count(f->net) + 1 >= sockets_before + 2 * (size_t)count);
        for (int i = 0; i < count; i++)
            assert_int_equal(lun_process_send_message(clients[i], lun_message_new_data(0, 0), NULL),
                             LUN_OK);
    }
    for (int i = 0; i < count; i++) {
        assert_int_equal(join(clients[i]).kind, LUN_RESULT_OK);
        lun_process_release(clients[i]);
    }
    assert_int_equal(atomic_load(&succeeded), count);
    free(clients);
}

static void run_clients(fixture *f, server *s, int count)
{
    run_clients_holding(f, s, count, false);
}

static void test_echo_many_connections(void **state)
{
    fixture *f = *state;
    server s;
    lun_process *acceptor = server_start(f, &s, 4, -1);
    int count = TEST_SCALE(1000, 300);
    /* Two sockets per connection; a machine whose descriptor limit is too
     * low for that runs fewer (lun_net_new raised the soft limit already). */
    size_t room = (lun_net_max_sockets(f->net) - 16) / 2;
    if ((size_t)count > room) count = (int)room;
    run_clients_holding(f, &s, count, true);
    wait_for_count(&s.handlers_freed, count);
    assert_int_equal(atomic_load(&s.accepted), count);
    assert_int_equal(atomic_load(&s.ended_eof), count);
    assert_int_equal(atomic_load(&s.ended_error), 0);
    server_stop(&s, acceptor);
}

static void test_echo_ipv6(void **state)
{
    fixture *f = *state;
    server s;
    lun_process *acceptor = server_start(f, &s, 6, -1);
    run_clients(f, &s, 20);
    wait_for_count(&s.handlers_freed, 20);
    server_stop(&s, acceptor);
}

/* ---- misbehaving clients (plain sockets on a thread) ---------------------------------- */

static int plain_connect(const lun_net_address *address)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(address->port)};
    memcpy(&to.sin_addr, address->bytes, 4);
    assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof to), 0);
    return fd;
}

static void test_client_disconnects_mid_request(void **state)
{
    fixture *f = *state;
    server s;
    lun_process *acceptor = server_start(f, &s, 4, -1);
    int graceful = plain_connect(&s.address);
    assert_int_equal(write(graceful, "partial requ", 12), 12);
    close(graceful);
    int reset = plain_connect(&s.address);
    assert_int_equal(write(reset, "partial", 7), 7);
    struct linger linger = {.l_onoff = 1, .l_linger = 0};
    setsockopt(reset, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    close(reset); /* sends RST */
    wait_for_count(&s.handlers_freed, 2);
    assert_int_equal(atomic_load(&s.ended_eof) + atomic_load(&s.ended_error), 2);
    run_clients(f, &s, 5); /* the server still serves */
    server_stop(&s, acceptor);
}

static void test_slow_client_read_timeout(void **state)
{
    fixture *f = *state;
    server s;
    lun_process *acceptor = server_start(f, &s, 4, 150);
    uint64_t start = now_ms();
    int silent = plain_connect(&s.address);
    wait_for_count(&s.ended_timeout, 1);
    assert_true(now_ms() - start >= 150);
    /* A client that talks within the timeout is served. */
    run_clients(f, &s, 3);
    assert_int_equal(atomic_load(&s.ended_timeout), 1);
    close(silent);
    server_stop(&s, acceptor);
}

/* ---- a process killed while holding sockets -------------------------------------------- */

typedef struct holder {
    lun_net *net;
    int phase;
    lun_tcp_listener *listener;
    lun_tcp_stream *connected;
    lun_tcp_stream *accepted;
    _Atomic int ready;
} holder;

static void holder_free(void *state)
{
    holder *h = state;
    lun_tcp_stream_release(h->accepted);
    lun_tcp_stream_release(h->connected);
    lun_tcp_listener_release(h->listener);
}

static lun_step_result holder_step(lun_process *self, void *state)
{
    holder *h = state;
    lun_net_address address;
    if (h->phase == 0) {
        lun_net_address any = loopback(4, 0);
        if (lun_tcp_bind(h->net, &any, &h->listener, NULL) != LUN_OK) return LUN_STEP_FAILED;
        h->phase = 1;
    }
    if (lun_tcp_listener_local_address(h->listener, &address, NULL) != LUN_OK)
        return LUN_STEP_FAILED;
    if (h->phase == 1) {
        lun_status status = lun_tcp_connect(self, h->net, &address, -1, &h->connected, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) return LUN_STEP_FAILED;
        h->phase = 2;
    }
    if (h->phase == 2) {
        lun_status status = lun_tcp_accept(self, h->listener, &h->accepted, NULL, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) return LUN_STEP_FAILED;
        h->phase = 3;
        atomic_store(&h->ready, 1);
    }
    char byte;
    size_t count;
    lun_status status = lun_tcp_read(self, h->accepted, &byte, 1, &count, NULL);
    return status == LUN_ERR_WOULD_BLOCK ? LUN_STEP_WAIT : LUN_STEP_FAILED;
}

static void test_killed_process_closes_sockets(void **state)
{
    fixture *f = *state;
    int before = open_descriptors();
    size_t sockets_before = lun_net_socket_count(f->net);
    holder h = {.net = f->net};
    lun_process *process = spawn(f, holder_step, &h, holder_free);
    wait_for_count(&h.ready, 1);
    sleep_ms(20);
    assert_int_equal(open_descriptors(), before + 3);
    assert_int_equal(lun_net_socket_count(f->net), sockets_before + 3);
    assert_int_equal(lun_process_kill(process, NULL), LUN_OK);
    assert_int_equal(join(process).kind, LUN_RESULT_FAILED);
    lun_process_release(process);
    assert_int_equal(open_descriptors(), before);
    assert_int_equal(lun_net_socket_count(f->net), sockets_before);
}

/* ---- a stream passed in a message ------------------------------------------------------- */

typedef struct owner {
    lun_tcp_listener *listener;
    lun_process *worker;
} owner;

static lun_step_result owner_step(lun_process *self, void *state)
{
    owner *o = state;
    lun_tcp_stream *stream = NULL;
    lun_status status = lun_tcp_accept(self, o->listener, &stream, NULL, NULL);
    if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
    if (status != LUN_OK) return LUN_STEP_FAILED;
    lun_message *message = lun_message_new_data(7, 8);
    size_t index = 99;
    if (message == NULL || lun_message_push_resource(message, stream, &lun_net_tcp_stream_resource,
                                                     &index, NULL) != LUN_OK) {
        lun_tcp_stream_release(stream);
        lun_message_free(message);
        return LUN_STEP_FAILED;
    }
    uint64_t value = index;
    lun_message_write(message, &value, sizeof value, NULL);
    lun_process_send_message(o->worker, message, NULL);
    return LUN_STEP_DONE; /* the owner ends; the stream lives on in the message */
}

static lun_step_result receiver_step(lun_process *self, void *state)
{
    handler *h = state;
    if (h->stream == NULL) {
        lun_message *message = NULL;
        int64_t tag = 7;
        lun_status status =
            lun_process_receive(self, &tag, 1, LUN_TIMEOUT_INFINITE, &message, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) return LUN_STEP_FAILED;
        uint64_t index = 0;
        size_t read = 0;
        lun_message_read(message, &index, sizeof index, &read, NULL);
        void *resource = NULL;
        status = lun_message_take_resource(message, index, &lun_net_tcp_stream_resource, &resource,
                                           NULL);
        lun_message_free(message);
        if (status != LUN_OK) return LUN_STEP_FAILED;
        h->stream = resource;
    }
    return echo_loop(self, h);
}

static void test_stream_sent_in_message(void **state)
{
    fixture *f = *state;
    server s = {.fixture = f, .read_timeout = -1};
    lun_net_address any = loopback(4, 0);
    assert_int_equal(lun_tcp_bind(f->net, &any, &s.listener, NULL), LUN_OK);
    assert_int_equal(lun_tcp_listener_local_address(s.listener, &s.address, NULL), LUN_OK);
    handler *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->server = &s;
    lun_process *receiver = spawn(f, receiver_step, h, handler_free);
    owner o = {.listener = s.listener, .worker = receiver};
    lun_process *sender = spawn(f, owner_step, &o, NULL);

    int fd = plain_connect(&s.address);
    assert_int_equal(join(sender).kind, LUN_RESULT_OK);
    lun_process_release(sender);
    assert_int_equal(write(fd, "ping over a moved socket", 24), 24);
    char reply[24];
    size_t got = 0;
    while (got < sizeof reply) {
        ssize_t n = read(fd, reply + got, sizeof reply - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_memory_equal(reply, "ping over a moved socket", 24);
    close(fd);
    assert_int_equal(join(receiver).kind, LUN_RESULT_OK);
    assert_int_equal(atomic_load(&s.ended_eof), 1);
    lun_process_release(receiver);
    lun_tcp_listener_release(s.listener);
}

/* ---- one stream, a reading process and a writing process --------------------------------- */

enum { SPLIT_TOTAL = 1 << 20 };

typedef struct half {
    lun_tcp_stream *stream;
    size_t done;
    bool mismatch;
    uint8_t buffer[8192];
} half;

static void half_free(void *state)
{
    half *h = state;
    lun_tcp_stream_release(h->stream);
    h->stream = NULL;
}

static uint8_t pattern(size_t at)
{
    return (uint8_t)(at * 7 + at / 251);
}

static lun_step_result writer_step(lun_process *self, void *state)
{
    half *h = state;
    while (h->done < SPLIT_TOTAL) {
        size_t length =
            SPLIT_TOTAL - h->done < sizeof h->buffer ? SPLIT_TOTAL - h->done : sizeof h->buffer;
        for (size_t i = 0; i < length; i++)
            h->buffer[i] = pattern(h->done + i);
        struct iovec buffer = {h->buffer, length};
        size_t count = 0;
        lun_status status = lun_tcp_write_vectored(self, h->stream, &buffer, 1, &count, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) return LUN_STEP_FAILED;
        h->done += count;
    }
    return LUN_STEP_DONE;
}

static lun_step_result reader_step(lun_process *self, void *state)
{
    half *h = state;
    while (h->done < SPLIT_TOTAL) {
        size_t count = 0;
        lun_status status =
            lun_tcp_read(self, h->stream, h->buffer, sizeof h->buffer, &count, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK || count == 0) return LUN_STEP_FAILED;
        for (size_t i = 0; i < count; i++)
            if (h->buffer[i] != pattern(h->done + i)) h->mismatch = true;
        h->done += count;
    }
    return LUN_STEP_DONE;
}

static void test_reader_and_writer_share_a_stream(void **state)
{
    fixture *f = *state;
    server s;
    lun_process *acceptor = server_start(f, &s, 4, -1);
    lun_tcp_stream *stream = NULL;
    assert_int_equal(lun_tcp_connect(NULL, f->net, &s.address, 5000, &stream, NULL), LUN_OK);
    half *reading = calloc(1, sizeof *reading), *writing = calloc(1, sizeof *writing);
    assert_non_null(reading);
    assert_non_null(writing);
    reading->stream = lun_tcp_stream_clone(stream);
    writing->stream = lun_tcp_stream_clone(stream);
    lun_tcp_stream_release(stream);
    lun_process *reader = spawn(f, reader_step, reading, half_free);
    lun_process *writer = spawn(f, writer_step, writing, half_free);
    assert_int_equal(join(writer).kind, LUN_RESULT_OK);
    assert_int_equal(join(reader).kind, LUN_RESULT_OK);
    assert_int_equal(reading->done, SPLIT_TOTAL);
    assert_false(reading->mismatch);
    lun_process_release(reader);
    lun_process_release(writer);
    free(reading);
    free(writing);
    server_stop(&s, acceptor);
}

/* ---- connect: timeout and refusal -------------------------------------------------------- */

typedef struct connector {
    lun_net *net;
    lun_net_address address;
    int64_t timeout;
    lun_tcp_stream *stream;
    lun_status status;
} connector;

static void connector_free(void *state)
{
    connector *c = state;
    lun_tcp_stream_release(c->stream);
}

static lun_step_result connector_step(lun_process *self, void *state)
{
    connector *c = state;
    lun_status status = lun_tcp_connect(self, c->net, &c->address, c->timeout, &c->stream, NULL);
    if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
    c->status = status;
    return LUN_STEP_DONE;
}

static lun_status connect_in_process(fixture *f, const lun_net_address *address, int64_t timeout)
{
    connector c = {.net = f->net, .address = *address, .timeout = timeout};
    lun_process *process = spawn(f, connector_step, &c, connector_free);
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    lun_process_release(process);
    return c.status;
}

static void test_connect_timeout_and_refused(void **state)
{
    fixture *f = *state;
    /* A listener that never accepts, with the smallest backlog: once its
     * queue is full, further handshakes are not answered. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in at = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&at, sizeof at), 0);
    assert_int_equal(listen(fd, 0), 0);
    socklen_t length = sizeof at;
    getsockname(fd, (struct sockaddr *)&at, &length);
    lun_net_address address = loopback(4, ntohs(at.sin_port));
    bool timed_out = false;
    for (int attempt = 0; attempt < 8 && !timed_out; attempt++) {
        uint64_t start = now_ms();
        lun_status status = connect_in_process(f, &address, 100);
        if (status == LUN_ERR_TIMEOUT) {
            timed_out = true;
            assert_true(now_ms() - start >= 100);
        } else {
            assert_int_equal(status, LUN_OK);
        }
    }
    assert_true(timed_out);
    close(fd);
    /* Nothing listens there any more. */
    assert_int_equal(connect_in_process(f, &address, 1000), LUN_ERR_IO);
    lun_net_address bad = {.family = 5};
    assert_int_equal(connect_in_process(f, &bad, 1000), LUN_ERR_INVALID_ARGUMENT);
}

/* ---- blocking mode (self NULL): peek, clone, addresses, limits --------------------------- */

static void test_peek_clone_and_addresses(void **state)
{
    fixture *f = *state;
    lun_tcp_listener *listener = NULL;
    lun_net_address any = loopback(4, 0), address, peer, local;
    assert_int_equal(lun_tcp_bind(f->net, &any, &listener, NULL), LUN_OK);
    assert_int_equal(lun_tcp_listener_local_address(listener, &address, NULL), LUN_OK);
    lun_tcp_stream *caller = NULL, *served = NULL;
    assert_int_equal(lun_tcp_connect(NULL, f->net, &address, 1000, &caller, NULL), LUN_OK);
    assert_int_equal(lun_tcp_accept(NULL, listener, &served, &peer, NULL), LUN_OK);
    assert_int_equal(lun_tcp_stream_local_address(caller, &local, NULL), LUN_OK);
    assert_int_equal(peer.port, local.port);
    assert_int_equal(lun_tcp_stream_peer_address(caller, &peer, NULL), LUN_OK);
    assert_int_equal(peer.port, address.port);

    lun_tcp_stream *clone = lun_tcp_stream_clone(caller);
    lun_tcp_stream_release(caller); /* the clone keeps the connection open */
    struct iovec parts[2] = {{"ab", 2}, {"cd", 2}};
    size_t count = 0;
    assert_int_equal(lun_tcp_write_vectored(NULL, clone, parts, 2, &count, NULL), LUN_OK);
    assert_int_equal(count, 4);
    assert_int_equal(lun_tcp_flush(NULL, clone, NULL), LUN_OK);
    char buffer[8] = {0};
    sleep_ms(10);
    assert_int_equal(lun_tcp_peek(NULL, served, buffer, 4, &count, NULL), LUN_OK);
    assert_int_equal(count, 4);
    assert_memory_equal(buffer, "abcd", 4);
    memset(buffer, 0, sizeof buffer);
    assert_int_equal(lun_tcp_read(NULL, served, buffer, sizeof buffer, &count, NULL), LUN_OK);
    assert_int_equal(count, 4);
    assert_memory_equal(buffer, "abcd", 4);

    /* Timeouts: shared by clones; a read with nothing to read times out. */
    assert_int_equal(lun_tcp_stream_read_timeout(served), -1);
    lun_tcp_stream_set_read_timeout(served, 30);
    lun_tcp_stream_set_peek_timeout(served, 20);
    lun_tcp_stream_set_write_timeout(served, 10);
    assert_int_equal(lun_tcp_stream_read_timeout(served), 30);
    assert_int_equal(lun_tcp_stream_peek_timeout(served), 20);
    assert_int_equal(lun_tcp_stream_write_timeout(served), 10);
    assert_int_equal(lun_tcp_read(NULL, served, buffer, 1, &count, NULL), LUN_ERR_TIMEOUT);
    assert_int_equal(lun_tcp_peek(NULL, served, buffer, 1, &count, NULL), LUN_ERR_TIMEOUT);

    lun_tcp_stream_release(clone); /* last reference: the peer sees the end */
    lun_tcp_stream_set_read_timeout(served, 1000);
    assert_int_equal(lun_tcp_read(NULL, served, buffer, 1, &count, NULL), LUN_OK);
    assert_int_equal(count, 0);
    lun_tcp_stream_release(served);
    lun_tcp_listener_release(listener);
}

static void test_socket_limit(void **state)
{
    (void)state;
    lun_net *net = NULL;
    lun_net_config config = {.max_sockets = 3};
    assert_int_equal(lun_net_new(&config, &net, NULL), LUN_OK);
    assert_int_equal(lun_net_max_sockets(net), 3);
    lun_tcp_listener *listener = NULL;
    lun_net_address any = loopback(4, 0), address;
    assert_int_equal(lun_tcp_bind(net, &any, &listener, NULL), LUN_OK);
    assert_int_equal(lun_tcp_listener_local_address(listener, &address, NULL), LUN_OK);
    lun_tcp_stream *caller = NULL, *served = NULL, *extra = NULL;
    assert_int_equal(lun_tcp_connect(NULL, net, &address, 1000, &caller, NULL), LUN_OK);
    assert_int_equal(lun_tcp_accept(NULL, listener, &served, NULL, NULL), LUN_OK);
    lun_error error;
    assert_int_equal(lun_tcp_connect(NULL, net, &address, 1000, &extra, &error), LUN_ERR_NO_MEMORY);
    assert_null(extra);
    assert_non_null(strstr(error.message, "too many open sockets"));
    lun_tcp_stream_release(served);
    assert_int_equal(lun_tcp_connect(NULL, net, &address, 1000, &extra, NULL), LUN_OK);
    lun_tcp_stream_release(extra);
    lun_tcp_stream_release(caller);
    lun_tcp_listener_release(listener);
    assert_int_equal(lun_net_socket_count(net), 0);
    lun_net_free(net);
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    lun_tcp_listener *listener = NULL;
    lun_net_address bad = {.family = 9};
    assert_int_equal(lun_tcp_bind(f->net, &bad, &listener, NULL), LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_tcp_bind(f->net, NULL, &listener, NULL), LUN_ERR_INVALID_ARGUMENT);
    size_t count;
    assert_int_equal(lun_tcp_read(NULL, NULL, NULL, 0, &count, NULL), LUN_ERR_INVALID_ARGUMENT);
    lun_net_address parsed;
    assert_int_equal(lun_net_address_parse("127.0.0.1:8080", &parsed, NULL), LUN_OK);
    assert_int_equal(parsed.family, 4);
    assert_int_equal(parsed.port, 8080);
    assert_int_equal(lun_net_address_parse("[::1]:9", &parsed, NULL), LUN_OK);
    assert_int_equal(parsed.family, 6);
    assert_int_equal(parsed.bytes[15], 1);
    assert_int_equal(lun_net_address_parse("localhost:80", &parsed, NULL),
                     LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_net_address_parse("1.2.3.4:99999", &parsed, NULL),
                     LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_net_address_parse("1.2.3.4", &parsed, NULL), LUN_ERR_INVALID_ARGUMENT);
    /* A listener bound twice on the same port fails with an error value. */
    lun_net_address any = loopback(4, 0), address;
    assert_int_equal(lun_tcp_bind(f->net, &any, &listener, NULL), LUN_OK);
    assert_int_equal(lun_tcp_listener_local_address(listener, &address, NULL), LUN_OK);
    lun_tcp_listener *second = NULL;
    assert_int_equal(lun_tcp_bind(f->net, &address, &second, NULL), LUN_ERR_IO);
    lun_tcp_listener_release(listener);
}

#define NET_TEST(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        NET_TEST(test_echo_many_connections),
        NET_TEST(test_echo_ipv6),
        NET_TEST(test_client_disconnects_mid_request),
        NET_TEST(test_slow_client_read_timeout),
        NET_TEST(test_killed_process_closes_sockets),
        NET_TEST(test_stream_sent_in_message),
        NET_TEST(test_reader_and_writer_share_a_stream),
        NET_TEST(test_connect_timeout_and_refused),
        NET_TEST(test_peek_clone_and_addresses),
        cmocka_unit_test(test_socket_limit),
        NET_TEST(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
