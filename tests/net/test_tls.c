/*
 * TLS over loopback with native processes: a self-signed certificate made
 * at test time (OpenSSL API), an echo server with one process per
 * connection, clients that trust it, a client that checks the wrong name,
 * a client that trusts nothing, bad PEM input. The server handshake runs
 * in a stream's first I/O call: a silent TCP client does not stall the
 * acceptor, and garbage instead of a ClientHello fails that call.
 */
#include "net_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

typedef struct identity {
    char *certificate;
    size_t certificate_length;
    char *key;
    size_t key_length;
} identity;

static char *bio_text(BIO *bio, size_t *length)
{
    char *data = NULL;
    long size = BIO_get_mem_data(bio, &data);
    assert_true(size > 0);
    char *copy = malloc((size_t)size);
    assert_non_null(copy);
    memcpy(copy, data, (size_t)size);
    *length = (size_t)size;
    return copy;
}

/* A self-signed P-256 certificate for localhost and 127.0.0.1. */
static identity make_identity(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    assert_non_null(key);
    X509 *certificate = X509_new();
    assert_non_null(certificate);
    X509_set_version(certificate, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(certificate), 1);
    X509_gmtime_adj(X509_getm_notBefore(certificate), -3600);
    X509_gmtime_adj(X509_getm_notAfter(certificate), 3600);
    X509_set_pubkey(certificate, key);
    X509_NAME *name = X509_get_subject_name(certificate);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(certificate, name);
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, certificate, certificate, NULL, NULL, 0);
    X509_EXTENSION *names =
        X509V3_EXT_conf_nid(NULL, &context, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    assert_non_null(names);
    X509_add_ext(certificate, names, -1);
    X509_EXTENSION_free(names);
    assert_true(X509_sign(certificate, key, EVP_sha256()) > 0);
    identity out;
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, certificate);
    out.certificate = bio_text(bio, &out.certificate_length);
    BIO_free(bio);
    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    out.key = bio_text(bio, &out.key_length);
    BIO_free(bio);
    X509_free(certificate);
    EVP_PKEY_free(key);
    return out;
}

static void identity_free(identity *id)
{
    free(id->certificate);
    free(id->key);
}

/* ---- the server ---------------------------------------------------------------------- */

typedef struct server {
    lun_tls_listener *listener;
    lun_net_address address;
    lun_tls_stream *pending;
    bool flood; /* handlers write until the peer is gone */
    _Atomic int served;
    _Atomic int write_errors;
    _Atomic int failed_accepts;
    _Atomic int read_errors; /* handshake failures included */
    _Atomic int handlers_freed;
} server;

typedef struct handler {
    server *server;
    lun_tls_stream *stream;
    size_t length, sent;
    char buffer[1024];
} handler;

static void handler_free(void *state)
{
    handler *h = state;
    lun_tls_stream_release(h->stream);
    atomic_fetch_add(&h->server->handlers_freed, 1);
    free(h);
}

/* Writes 16 KiB records until writing fails. */
static lun_step_result flood_step(lun_process *self, handler *h)
{
    static const char chunk[16384];
    for (;;) {
        struct iovec buffer = {(void *)chunk, sizeof chunk};
        size_t count = 0;
        lun_status status = lun_tls_write_vectored(self, h->stream, &buffer, 1, &count, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) {
            atomic_fetch_add(&h->server->write_errors, 1);
            return LUN_STEP_DONE;
        }
    }
}

static lun_step_result handler_step(lun_process *self, void *state)
{
    handler *h = state;
    if (h->server->flood) return flood_step(self, h);
    for (;;) {
        size_t count = 0;
        lun_status status;
        if (h->sent < h->length) {
            struct iovec buffer = {h->buffer + h->sent, h->length - h->sent};
            status = lun_tls_write_vectored(self, h->stream, &buffer, 1, &count, NULL);
            if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
            if (status != LUN_OK) return LUN_STEP_FAILED;
            h->sent += count;
            continue;
        }
        status = lun_tls_read(self, h->stream, h->buffer, sizeof h->buffer, &count, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) {
            atomic_fetch_add(&h->server->read_errors, 1);
            return LUN_STEP_FAILED;
        }
        if (count == 0) {
            atomic_fetch_add(&h->server->served, 1);
            return LUN_STEP_DONE;
        }
        h->length = count;
        h->sent = 0;
    }
}

static void server_free(void *state)
{
    server *s = state;
    lun_tls_stream_release(s->pending);
    s->pending = NULL;
}

static lun_step_result acceptor_step(lun_process *self, void *state)
{
    server *s = state;
    for (;;) {
        lun_status status = lun_tls_accept(self, s->listener, &s->pending, NULL, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) {
            atomic_fetch_add(&s->failed_accepts, 1);
            continue;
        }
        handler *h = calloc(1, sizeof *h);
        if (h == NULL) return LUN_STEP_FAILED;
        h->server = s;
        h->stream = s->pending;
        s->pending = NULL;
        lun_spawn_options options = {.state_free = handler_free};
        lun_process_spawn(lun_process_environment(self), handler_step, h, &options, NULL, NULL);
    }
}

/* ---- clients -------------------------------------------------------------------------- */

typedef struct tls_client {
    lun_net *net;
    lun_net_address address;
    const char *server_name;
    const identity *trust; /* NULL: the system's roots */
    int phase;
    lun_tls_stream *stream;
    char out[64], in[64];
    size_t length, sent, received;
    lun_status connect_status;
    _Atomic int *succeeded;
} tls_client;

static void client_free(void *state)
{
    tls_client *c = state;
    lun_tls_stream_release(c->stream);
    c->stream = NULL;
}

static lun_step_result client_step(lun_process *self, void *state)
{
    tls_client *c = state;
    size_t count = 0;
    lun_status status;
    if (c->phase == 0) {
        const void *roots[1] = {c->trust ? c->trust->certificate : NULL};
        size_t lengths[1] = {c->trust ? c->trust->certificate_length : 0};
        status = lun_tls_connect(self, c->net, &c->address, c->server_name, roots, lengths,
                                 c->trust ? 1 : 0, 5000, &c->stream, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        c->connect_status = status;
        if (status != LUN_OK) return LUN_STEP_DONE;
        c->phase = 1;
    }
    while (c->sent < c->length) {
        struct iovec parts[2] = {{c->out + c->sent, 3}, {c->out + c->sent + 3, 0}};
        if (c->length - c->sent < 3)
            parts[0].iov_len = c->length - c->sent;
        else
            parts[1].iov_len = c->length - c->sent - 3;
        status = lun_tls_write_vectored(self, c->stream, parts, 2, &count, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) return LUN_STEP_FAILED;
        c->sent += count;
    }
    while (c->received < c->length) {
        status = lun_tls_read(self, c->stream, c->in + c->received, c->length - c->received, &count,
                              NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK || count == 0) return LUN_STEP_FAILED;
        c->received += count;
    }
    if (lun_tls_flush(self, c->stream, NULL) != LUN_OK) return LUN_STEP_FAILED;
    if (memcmp(c->in, c->out, c->length) == 0) atomic_fetch_add(c->succeeded, 1);
    return LUN_STEP_DONE;
}

static lun_status run_client(fixture *f, tls_client *c)
{
    lun_process *process = spawn(f, client_step, c, client_free);
    lun_process_result result = join(process);
    lun_process_release(process);
    assert_int_equal(result.kind, LUN_RESULT_OK);
    return c->connect_status;
}

typedef struct tls_fixture {
    fixture *f;
    identity id;
    server s;
    lun_process *acceptor;
} tls_fixture;

static void start(tls_fixture *t, fixture *f)
{
    memset(t, 0, sizeof *t);
    t->f = f;
    t->id = make_identity();
    lun_net_address any = loopback(4, 0);
    assert_int_equal(lun_tls_bind(f->net, &any, t->id.certificate, t->id.certificate_length,
                                  t->id.key, t->id.key_length, &t->s.listener, NULL),
                     LUN_OK);
    assert_int_equal(lun_tls_listener_local_address(t->s.listener, &t->s.address, NULL), LUN_OK);
    t->acceptor = spawn(f, acceptor_step, &t->s, server_free);
}

/* A client that trusts the fixture's certificate and sends `text`. */
static tls_client trusting_client(tls_fixture *t, _Atomic int *succeeded, const char *text)
{
    tls_client client = {.net = t->f->net,
                         .address = t->s.address,
                         .server_name = "localhost",
                         .trust = &t->id,
                         .succeeded = succeeded};
    client.length = (size_t)snprintf(client.out, sizeof client.out, "%s", text);
    return client;
}

static void stop(tls_fixture *t, int handlers)
{
    wait_for_count(&t->s.handlers_freed, handlers);
    assert_int_equal(lun_process_kill(t->acceptor, NULL), LUN_OK);
    join(t->acceptor);
    lun_process_release(t->acceptor);
    lun_tls_listener_release(t->s.listener);
    identity_free(&t->id);
}

static void test_tls_echo(void **state)
{
    tls_fixture t;
    start(&t, *state);
    int count = TEST_SCALE(20, 8);
    _Atomic int succeeded = 0;
    tls_client *clients = calloc((size_t)count, sizeof *clients);
    lun_process **processes = calloc((size_t)count, sizeof *processes);
    assert_non_null(clients);
    assert_non_null(processes);
    for (int i = 0; i < count; i++) {
        tls_client *c = &clients[i];
        c->net = t.f->net;
        c->address = t.s.address;
        c->server_name = i % 2 ? "localhost" : "127.0.0.1";
        c->trust = &t.id;
        c->succeeded = &succeeded;
        c->length = (size_t)snprintf(c->out, sizeof c->out, "secret number %d", i);
        processes[i] = spawn(t.f, client_step, c, client_free);
    }
    for (int i = 0; i < count; i++) {
        assert_int_equal(join(processes[i]).kind, LUN_RESULT_OK);
        assert_int_equal(clients[i].connect_status, LUN_OK);
        lun_process_release(processes[i]);
    }
    assert_int_equal(atomic_load(&succeeded), count);
    wait_for_count(&t.s.served, count);
    stop(&t, count);
    free(clients);
    free(processes);
}

static void test_tls_verification_failures(void **state)
{
    tls_fixture t;
    start(&t, *state);
    _Atomic int succeeded = 0;
    tls_client wrong_name = {.net = t.f->net,
                             .address = t.s.address,
                             .server_name = "example.org",
                             .trust = &t.id,
                             .succeeded = &succeeded,
                             .length = 4};
    assert_int_equal(run_client(t.f, &wrong_name), LUN_ERR_IO);
    tls_client untrusted = {.net = t.f->net,
                            .address = t.s.address,
                            .server_name = "localhost",
                            .succeeded = &succeeded,
                            .length = 4};
    assert_int_equal(run_client(t.f, &untrusted), LUN_ERR_IO);
    assert_int_equal(atomic_load(&succeeded), 0);
    /* The server's handshakes fail in its handlers' first reads; the
     * acceptor never sees them. */
    wait_for_count(&t.s.read_errors, 2);
    assert_int_equal(atomic_load(&t.s.failed_accepts), 0);
    tls_client good = trusting_client(&t, &succeeded, "after failures");
    assert_int_equal(run_client(t.f, &good), LUN_OK);
    assert_int_equal(atomic_load(&succeeded), 1);
    stop(&t, 3);
}

/* The peer goes away while the server writes: an error value, no SIGPIPE. */
static void test_tls_peer_gone_while_writing(void **state)
{
    tls_fixture t;
    start(&t, *state);
    t.s.flood = true;
    lun_tls_stream *stream = NULL;
    const void *roots[1] = {t.id.certificate};
    size_t lengths[1] = {t.id.certificate_length};
    assert_int_equal(lun_tls_connect(NULL, t.f->net, &t.s.address, "localhost", roots, lengths, 1,
                                     5000, &stream, NULL),
                     LUN_OK);
    char buffer[4096];
    size_t count = 0;
    lun_tls_stream_set_read_timeout(stream, 5000);
    assert_int_equal(lun_tls_read(NULL, stream, buffer, sizeof buffer, &count, NULL), LUN_OK);
    assert_true(count > 0);
    lun_tls_stream_release(stream);
    wait_for_count(&t.s.write_errors, 1);
    stop(&t, 1);
}

/* Blocking mode: a read with nothing to read times out; a clone shares the
 * connection and its timeouts. */
static void test_tls_timeouts_and_clone(void **state)
{
    tls_fixture t;
    start(&t, *state);
    lun_tls_stream *stream = NULL;
    const void *roots[1] = {t.id.certificate};
    size_t lengths[1] = {t.id.certificate_length};
    assert_int_equal(lun_tls_connect(NULL, t.f->net, &t.s.address, "127.0.0.1", roots, lengths, 1,
                                     5000, &stream, NULL),
                     LUN_OK);
    assert_int_equal(lun_tls_stream_read_timeout(stream), -1);
    lun_tls_stream_set_read_timeout(stream, 40);
    lun_tls_stream_set_write_timeout(stream, 1000);
    lun_tls_stream *clone = lun_tls_stream_clone(stream);
    assert_int_equal(lun_tls_stream_read_timeout(clone), 40);
    assert_int_equal(lun_tls_stream_write_timeout(clone), 1000);
    char buffer[16];
    size_t count = 0;
    uint64_t begin = now_ms();
    assert_int_equal(lun_tls_read(NULL, clone, buffer, sizeof buffer, &count, NULL),
                     LUN_ERR_TIMEOUT);
    assert_true(now_ms() - begin >= 40);
    lun_tls_stream_release(stream);
    struct iovec parts[3] = {{"ec", 2}, {"", 0}, {"ho", 2}};
    assert_int_equal(lun_tls_write_vectored(NULL, clone, parts, 3, &count, NULL), LUN_OK);
    assert_int_equal(count, 4);
    lun_tls_stream_set_read_timeout(clone, 5000);
    size_t got = 0;
    while (got < 4) {
        assert_int_equal(lun_tls_read(NULL, clone, buffer + got, 4 - got, &count, NULL), LUN_OK);
        assert_true(count > 0);
        got += count;
    }
    assert_memory_equal(buffer, "echo", 4);
    lun_tls_stream_release(clone);
    stop(&t, 1);
}

/* ---- lazy server handshakes ---------------------------------------------------------- */

/* A plain TCP connection to address (a TLS listener), with receive
 * timeouts so that a server that never answers fails the test. */
static int tcp_connect(const lun_net_address *address)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval timeout = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(address->port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof to), 0);
    return fd;
}

/* Reads until the server ends the connection: EOF or a reset, never the
 * receive timeout. */
static void expect_closed(int fd)
{
    char buffer[512];
    ssize_t got;
    while ((got = recv(fd, buffer, sizeof buffer, 0)) > 0)
        continue;
    if (got < 0 && errno != ECONNRESET)
        fail_msg("the server kept the connection: %s", strerror(errno));
}

static const char not_a_hello[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

/* A client that connects and never sends its hello holds up only its own
 * handler: the acceptor goes on, and the next client gets its echo. */
static void test_tls_silent_client_does_not_stall_accept(void **state)
{
    tls_fixture t;
    start(&t, *state);
    int silent = tcp_connect(&t.s.address);
    _Atomic int succeeded = 0;
    tls_client good = trusting_client(&t, &succeeded, "behind a silent client");
    lun_process *process = spawn(t.f, client_step, &good, client_free);
    assert_int_equal(join_within(process, 10000).kind, LUN_RESULT_OK);
    lun_process_release(process);
    assert_int_equal(good.connect_status, LUN_OK);
    assert_int_equal(atomic_load(&succeeded), 1);
    wait_for_count(&t.s.served, 1);
    wait_for_count(&t.s.handlers_freed, 1);
    /* The silent client's handler still waits for the hello. */
    sleep_ms(20);
    assert_int_equal(atomic_load(&t.s.handlers_freed), 1);
    assert_int_equal(atomic_load(&t.s.read_errors), 0);
    close(silent); /* its handshake fails now, in the handler's read */
    wait_for_count(&t.s.read_errors, 1);
    stop(&t, 2);
}

/* Handlers whose clients send garbage fail their first read and go away
 * with their streams. */
static void test_tls_garbage_clients_are_cleaned_up(void **state)
{
    tls_fixture t;
    start(&t, *state);
    int baseline = open_descriptors();
    enum { GARBAGE_CLIENTS = 5 };
    for (int i = 0; i < GARBAGE_CLIENTS; i++) {
        int fd = tcp_connect(&t.s.address);
        assert_int_equal(send(fd, not_a_hello, sizeof not_a_hello - 1, MSG_NOSIGNAL),
                         (ssize_t)(sizeof not_a_hello - 1));
        expect_closed(fd);
        close(fd);
    }
    wait_for_count(&t.s.read_errors, GARBAGE_CLIENTS);
    wait_for_count(&t.s.handlers_freed, GARBAGE_CLIENTS);
    assert_int_equal(atomic_load(&t.s.served), 0);
    assert_int_equal(lun_net_socket_count(t.f->net), 1); /* the listener */
    assert_int_equal(open_descriptors(), baseline);
    stop(&t, GARBAGE_CLIENTS);
}

static lun_tls_listener *bind_listener(fixture *f, const identity *id, lun_net_address *address)
{
    lun_net_address any = loopback(4, 0);
    lun_tls_listener *listener = NULL;
    assert_int_equal(lun_tls_bind(f->net, &any, id->certificate, id->certificate_length, id->key,
                                  id->key_length, &listener, NULL),
                     LUN_OK);
    assert_int_equal(lun_tls_listener_local_address(listener, address, NULL), LUN_OK);
    return listener;
}

/* Blocking mode, call by call: accept returns before any byte came; the
 * read that meets garbage fails with the handshake's error, every later
 * call fails too. */
static void test_tls_garbage_fails_first_read(void **state)
{
    fixture *f = *state;
    identity id = make_identity();
    int baseline = open_descriptors();
    lun_net_address address, peer;
    lun_tls_listener *listener = bind_listener(f, &id, &address);
    int client = tcp_connect(&address);
    lun_tls_stream *stream = NULL;
    assert_int_equal(lun_tls_accept(NULL, listener, &stream, &peer, NULL), LUN_OK);
    assert_non_null(stream);
    struct sockaddr_in local;
    socklen_t local_length = sizeof local;
    assert_int_equal(getsockname(client, (struct sockaddr *)&local, &local_length), 0);
    assert_int_equal(peer.port, ntohs(local.sin_port));
    assert_int_equal(send(client, not_a_hello, sizeof not_a_hello - 1, MSG_NOSIGNAL),
                     (ssize_t)(sizeof not_a_hello - 1));
    lun_tls_stream_set_read_timeout(stream, 10000);
    char buffer[64];
    size_t count = 1;
    lun_error error;
    assert_int_equal(lun_tls_read(NULL, stream, buffer, sizeof buffer, &count, &error), LUN_ERR_IO);
    assert_int_equal(count, 0);
    assert_non_null(strstr(error.message, "TLS handshake"));
    assert_int_equal(lun_tls_read(NULL, stream, buffer, sizeof buffer, &count, NULL),
                     LUN_ERR_STATE);
    struct iovec part = {buffer, 4};
    assert_int_equal(lun_tls_write_vectored(NULL, stream, &part, 1, &count, NULL), LUN_ERR_STATE);
    assert_int_equal(lun_tls_flush(NULL, stream, NULL), LUN_ERR_STATE);
    lun_tls_stream_release(stream);
    expect_closed(client);
    close(client);
    lun_tls_listener_release(listener);
    assert_int_equal(lun_net_socket_count(f->net), 0);
    assert_int_equal(open_descriptors(), baseline);
    identity_free(&id);
}

/* The handshake waits under the read timeout in a read and under the write
 * timeout in a write or flush; a timeout leaves it pending, not failed. */
static void test_tls_handshake_timeouts(void **state)
{
    fixture *f = *state;
    identity id = make_identity();
    lun_net_address address;
    lun_tls_listener *listener = bind_listener(f, &id, &address);
    int client = tcp_connect(&address);
    lun_tls_stream *stream = NULL;
    assert_int_equal(lun_tls_accept(NULL, listener, &stream, NULL, NULL), LUN_OK);
    lun_tls_stream_set_read_timeout(stream, 40);
    lun_tls_stream_set_write_timeout(stream, 30);
    char buffer[16];
    size_t count;
    uint64_t begin = now_ms();
    assert_int_equal(lun_tls_read(NULL, stream, buffer, sizeof buffer, &count, NULL),
                     LUN_ERR_TIMEOUT);
    assert_true(now_ms() - begin >= 40);
    begin = now_ms();
    assert_int_equal(lun_tls_flush(NULL, stream, NULL), LUN_ERR_TIMEOUT);
    assert_true(now_ms() - begin >= 30);
    struct iovec part = {buffer, 4};
    assert_int_equal(lun_tls_write_vectored(NULL, stream, &part, 1, &count, NULL), LUN_ERR_TIMEOUT);
    /* Still pending: the client's departure is what fails it. */
    close(client);
    lun_tls_stream_set_read_timeout(stream, 10000);
    assert_int_equal(lun_tls_read(NULL, stream, buffer, sizeof buffer, &count, NULL), LUN_ERR_IO);
    lun_tls_stream_release(stream);
    lun_tls_listener_release(listener);
    identity_free(&id);
}

static void test_tls_bad_pem(void **state)
{
    fixture *f = *state;
    identity id = make_identity();
    lun_net_address any = loopback(4, 0);
    lun_tls_listener *listener = NULL;
    lun_error error;
    assert_int_equal(
        lun_tls_bind(f->net, &any, "junk", 4, id.key, id.key_length, &listener, &error),
        LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_tls_bind(f->net, &any, id.certificate, id.certificate_length, "junk", 4,
                                  &listener, NULL),
                     LUN_ERR_INVALID_ARGUMENT);
    /* Two certificates where one is expected. */
    size_t doubled_length = id.certificate_length * 2;
    char *doubled = malloc(doubled_length);
    assert_non_null(doubled);
    memcpy(doubled, id.certificate, id.certificate_length);
    memcpy(doubled + id.certificate_length, id.certificate, id.certificate_length);
    assert_int_equal(
        lun_tls_bind(f->net, &any, doubled, doubled_length, id.key, id.key_length, &listener, NULL),
        LUN_ERR_INVALID_ARGUMENT);
    /* A key of another certificate. */
    identity other = make_identity();
    assert_int_equal(lun_tls_bind(f->net, &any, id.certificate, id.certificate_length, other.key,
                                  other.key_length, &listener, NULL),
                     LUN_ERR_INVALID_ARGUMENT);
    assert_null(listener);
    assert_int_equal(lun_net_socket_count(f->net), 0);
    free(doubled);
    identity_free(&id);
    identity_free(&other);
}

#define NET_TEST(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        NET_TEST(test_tls_echo),
        NET_TEST(test_tls_verification_failures),
        NET_TEST(test_tls_peer_gone_while_writing),
        NET_TEST(test_tls_timeouts_and_clone),
        NET_TEST(test_tls_silent_client_does_not_stall_accept),
        NET_TEST(test_tls_garbage_clients_are_cleaned_up),
        NET_TEST(test_tls_garbage_fails_first_read),
        NET_TEST(test_tls_handshake_timeouts),
        NET_TEST(test_tls_bad_pem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
