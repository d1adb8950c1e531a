/*
 * TLS over TCP with OpenSSL: listeners with a PEM certificate and key,
 * server and client handshakes, read, vectored write, flush, timeouts,
 * clone, release. Same blocking style as TCP: an SSL call that wants to
 * read or write registers interest in that direction and the call is
 * retried when the socket is ready. The SSL object of a stream is shared by
 * its clones, so every SSL call on it holds the stream's mutex (never while
 * waiting).
 *
 * Accept only takes the TCP connection: the server handshake runs in the
 * stream's first read, write or flush, under that call's timeout, so that a
 * client that never sends its hello holds up only its own stream, not the
 * acceptor. A failed handshake fails that call and every later one. Connect
 * still handshakes before it returns: a client learns there whether the
 * server is the one it trusts.
 */
#include "net_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct lun_tls_listener {
    net_socket socket;
    SSL_CTX *context;
};

/* Where a stream's handshake is; it only moves from PENDING to a verdict. */
typedef enum handshake_state {
    HANDSHAKE_PENDING,
    HANDSHAKE_DONE,
    HANDSHAKE_FAILED,
} handshake_state;

struct lun_tls_stream {
    net_socket socket;
    SSL *ssl; /* NULL while the TCP connect is in progress */
    SSL_CTX *context;
    pthread_mutex_t lock;
    _Atomic int handshake; /* handshake_state; read without the lock */
};

enum { COALESCE_LIMIT = 16384 };

static lun_status ssl_error(lun_error *error, const char *what)
{
    unsigned long code = ERR_get_error();
    char text[256] = "unknown error";
    if (code != 0) ERR_error_string_n(code, text, sizeof text);
    ERR_clear_error();
    return lun_error_set(error, LUN_ERR_IO, "%s: %s", what, text);
}

/* ---- listeners ---------------------------------------------------------------------- */

static void listener_cleanup(net_socket *socket)
{
    SSL_CTX_free(((lun_tls_listener *)socket)->context);
}

static lun_status load_identity(SSL_CTX *context, const void *certificate,
                                size_t certificate_length, const void *key, size_t key_length,
                                lun_error *error)
{
    if (certificate == NULL || key == NULL || certificate_length > INT32_MAX ||
        key_length > INT32_MAX)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null certificate or key");
    lun_status status = LUN_OK;
    BIO *certificate_bio = BIO_new_mem_buf(certificate, (int)certificate_length);
    BIO *key_bio = BIO_new_mem_buf(key, (int)key_length);
    X509 *x509 = certificate_bio ? PEM_read_bio_X509(certificate_bio, NULL, NULL, NULL) : NULL;
    X509 *second = x509 ? PEM_read_bio_X509(certificate_bio, NULL, NULL, NULL) : NULL;
    EVP_PKEY *pkey = key_bio ? PEM_read_bio_PrivateKey(key_bio, NULL, NULL, NULL) : NULL;
    if (x509 == NULL || second != NULL)
        status = lun_error_set(error, LUN_ERR_INVALID_ARGUMENT,
                               "the certificate must be PEM text with exactly one certificate");
    else if (pkey == NULL)
        status = lun_error_set(error, LUN_ERR_INVALID_ARGUMENT,
                               "the key must be PEM text with one private key");
    else if (SSL_CTX_use_certificate(context, x509) != 1 ||
             SSL_CTX_use_PrivateKey(context, pkey) != 1 || SSL_CTX_check_private_key(context) != 1)
        status = lun_error_set(error, LUN_ERR_INVALID_ARGUMENT,
                               "the key does not match the certificate");
    ERR_clear_error();
    X509_free(second);
    X509_free(x509);
    EVP_PKEY_free(pkey);
    BIO_free(certificate_bio);
    BIO_free(key_bio);
    return status;
}

static SSL_CTX *context_new(bool server)
{
    SSL_CTX *context = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (context == NULL) return NULL;
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(context, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    return context;
}

lun_status lun_tls_bind(lun_net *net, const lun_net_address *address, const void *certificate,
                        size_t certificate_length, const void *key, size_t key_length,
                        lun_tls_listener **out, lun_error *error)
{
    if (out == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null output");
    *out = NULL;
    SSL_CTX *context = context_new(true);
    if (context == NULL) return ssl_error(error, "SSL_CTX_new");
    lun_status status =
        load_identity(context, certificate, certificate_length, key, key_length, error);
    net_socket *socket = NULL;
    if (status == LUN_OK)
        status =
            net_listen(net, address, NET_TLS_LISTENER, sizeof(lun_tls_listener), &socket, error);
    if (status != LUN_OK) {
        SSL_CTX_free(context);
        return status;
    }
    lun_tls_listener *listener = (lun_tls_listener *)socket;
    listener->context = context;
    socket->cleanup = listener_cleanup;
    *out = listener;
    return LUN_OK;
}

lun_status lun_tls_listener_local_address(lun_tls_listener *listener, lun_net_address *out,
                                          lun_error *error)
{
    return net_local_address(listener ? &listener->socket : NULL, out, error);
}

lun_tls_listener *lun_tls_listener_retain(lun_tls_listener *listener)
{
    net_socket_retain(listener ? &listener->socket : NULL);
    return listener;
}

void lun_tls_listener_release(lun_tls_listener *listener)
{
    if (listener != NULL) net_socket_release(&listener->socket);
}

/* ---- streams: setup and handshake ------------------------------------------------------ */

static void stream_cleanup(net_socket *socket)
{
    lun_tls_stream *stream = (lun_tls_stream *)socket;
    if (stream->ssl == NULL) return;
    SSL_free(stream->ssl);
    SSL_CTX_free(stream->context);
    pthread_mutex_destroy(&stream->lock);
}

/* Attaches an SSL object to a connected stream (context: a reference the
 * stream takes over). */
static lun_status stream_attach(lun_tls_stream *stream, SSL_CTX *context, lun_error *error)
{
    SSL *ssl = SSL_new(context);
    if (ssl == NULL || SSL_set_fd(ssl, stream->socket.fd) != 1) {
        SSL_free(ssl);
        SSL_CTX_free(context);
        return ssl_error(error, "SSL_new");
    }
    pthread_mutex_init(&stream->lock, NULL);
    stream->ssl = ssl;
    stream->context = context;
    stream->socket.cleanup = stream_cleanup;
    return LUN_OK;
}

/* Waits for the direction an SSL call asked for. */
static lun_status wait_for(lun_process *self, lun_tls_stream *stream, int want, uint32_t seen_read,
                           uint32_t seen_write, int64_t timeout_ms, lun_error *error)
{
    net_socket *socket = &stream->socket;
    if (want == SSL_ERROR_WANT_READ)
        return net_wait(self, socket, &socket->read, seen_read, timeout_ms, error);
    return net_wait(self, socket, &socket->write, seen_write, timeout_ms, error);
}

/* Records the verdict of a handshake; clones sharing the SSL object reach
 * the same one, so the first stays. */
static void settle(lun_tls_stream *stream, handshake_state verdict)
{
    int expected = HANDSHAKE_PENDING;
    atomic_compare_exchange_strong(&stream->handshake, &expected, verdict);
}

static lun_status handshake_failure(int failure, lun_error *error)
{
    if (failure == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
        return lun_error_set(error, LUN_ERR_IO, "TLS handshake: connection closed");
    return ssl_error(error, "TLS handshake");
}

/* Runs the handshake until it completes or fails, waiting on the socket in
 * between; timeout_ms and timed_out belong to the call that needs it. A
 * timeout leaves the handshake pending, to be continued by the next call. */
static lun_status handshake(lun_process *self, lun_tls_stream *stream, int64_t timeout_ms,
                            const char *timed_out, lun_error *error)
{
    net_socket *socket = &stream->socket;
    for (;;) {
        uint32_t seen_read = net_events(&socket->read), seen_write = net_events(&socket->write);
        pthread_mutex_lock(&stream->lock);
        ERR_clear_error();
        int result = SSL_do_handshake(stream->ssl);
        int failure = SSL_get_error(stream->ssl, result);
        pthread_mutex_unlock(&stream->lock);
        if (result == 1) {
            settle(stream, HANDSHAKE_DONE);
            net_done(self);
            return LUN_OK;
        }
        if (failure != SSL_ERROR_WANT_READ && failure != SSL_ERROR_WANT_WRITE) {
            settle(stream, HANDSHAKE_FAILED);
            net_done(self);
            return handshake_failure(failure, error);
        }
        lun_status status =
            wait_for(self, stream, failure, seen_read, seen_write, timeout_ms, error);
        if (status == LUN_ERR_TIMEOUT && timed_out != NULL)
            lun_error_set(error, LUN_ERR_TIMEOUT, "%s", timed_out);
        if (status != LUN_OK) return status;
    }
}

/* Finishes the client handshake of a connect (*pending protocol). */
static lun_status finish_handshake(lun_process *self, lun_tls_stream **pending, lun_error *error)
{
    lun_status status = handshake(self, *pending, -1, NULL, error);
    if (status == LUN_OK || status == LUN_ERR_WOULD_BLOCK) return status;
    lun_tls_stream_release(*pending);
    *pending = NULL;
    return status;
}

/* Takes the TCP connection only; the handshake waits for the stream's first
 * I/O call (see the top of the file), so *stream is never left pending. */
lun_status lun_tls_accept(lun_process *self, lun_tls_listener *listener, lun_tls_stream **stream,
                          lun_net_address *peer, lun_error *error)
{
    if (listener == NULL || stream == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null listener or output");
    if (*stream != NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "the pending stream is not NULL");
    lun_status status = net_accept(self, &listener->socket, NET_TLS_STREAM, sizeof(lun_tls_stream),
                                   (net_socket **)stream, peer, error);
    if (status != LUN_OK) return status;
    SSL_CTX_up_ref(listener->context);
    status = stream_attach(*stream, listener->context, error);
    if (status != LUN_OK) {
        lun_tls_stream_release(*stream);
        *stream = NULL;
        return status;
    }
    SSL_set_accept_state((*stream)->ssl);
    return LUN_OK;
}

static SSL_CTX *client_context(const void *const *roots, const size_t *roots_lengths,
                               size_t root_count, lun_error *error)
{
    SSL_CTX *context = context_new(false);
    if (context == NULL) {
        ssl_error(error, "SSL_CTX_new");
        return NULL;
    }
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, NULL);
    if (root_count == 0) {
        SSL_CTX_set_default_verify_paths(context);
        return context;
    }
    X509_STORE *store = SSL_CTX_get_cert_store(context);
    for (size_t i = 0; i < root_count; i++) {
        if (roots == NULL || roots_lengths == NULL || roots[i] == NULL ||
            roots_lengths[i] > INT32_MAX)
            continue;
        BIO *bio = BIO_new_mem_buf(roots[i], (int)roots_lengths[i]);
        X509 *certificate = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        if (certificate != NULL) X509_STORE_add_cert(store, certificate);
        X509_free(certificate);
        BIO_free(bio);
    }
    ERR_clear_error();
    return context;
}

static lun_status client_setup(lun_tls_stream *stream, const char *server_name,
                               const void *const *roots, const size_t *roots_lengths,
                               size_t root_count, lun_error *error)
{
    SSL_CTX *context = client_context(roots, roots_lengths, root_count, error);
    if (context == NULL) return LUN_ERR_IO;
    lun_status status = stream_attach(stream, context, error);
    if (status != LUN_OK) return status;
    SSL *ssl = stream->ssl;
    unsigned char ip[16];
    bool literal =
        inet_pton(AF_INET, server_name, ip) == 1 || inet_pton(AF_INET6, server_name, ip) == 1;
    int ok = literal
                 ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name)
                 : SSL_set1_host(ssl, server_name) && SSL_set_tlsext_host_name(ssl, server_name);
    if (ok != 1) return ssl_error(error, "server name");
    SSL_set_connect_state(ssl);
    return LUN_OK;
}

lun_status lun_tls_connect(lun_process *self, lun_net *net, const lun_net_address *address,
                           const char *server_name, const void *const *roots,
                           const size_t *roots_lengths, size_t root_count, int64_t timeout_ms,
                           lun_tls_stream **stream, lun_error *error)
{
    if (stream == NULL || server_name == NULL || server_name[0] == '\0')
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null output or server name");
    if (*stream == NULL || (*stream)->ssl == NULL) {
        lun_status status = net_connect(self, net, address, timeout_ms, NET_TLS_STREAM,
                                        sizeof(lun_tls_stream), (net_socket **)stream, error);
        if (status != LUN_OK) return status;
        status = client_setup(*stream, server_name, roots, roots_lengths, root_count, error);
        if (status != LUN_OK) {
            lun_tls_stream_release(*stream);
            *stream = NULL;
            return status;
        }
    }
    return finish_handshake(self, stream, error);
}

/* ---- streams: data ------------------------------------------------------------------------ */

/* What differs between the read and the write loop. */
typedef struct tls_direction {
    bool reading;          /* SSL_read_ex (a closed stream reads 0), else SSL_write_ex */
    const char *what;      /* the operation in error messages */
    int silent_errno;      /* the error when the system leaves errno 0 */
    const char *timed_out; /* the timeout's message */
} tls_direction;

static const tls_direction tls_reading = {true, "TLS read", ECONNRESET, "read timed out"};
static const tls_direction tls_writing = {false, "TLS write", EPIPE, "write timed out"};

/* A stream still connecting (no SSL object) is not usable; a server stream
 * whose handshake is pending is (its first I/O call runs the handshake); one
 * whose handshake failed fails every later call. */
static lun_status check_stream(lun_tls_stream *stream, const void *buffer, size_t length,
                               size_t *count, lun_error *error)
{
    if (stream == NULL || count == NULL || (buffer == NULL && length > 0))
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null stream, buffer or count");
    *count = 0;
    if (stream->ssl == NULL) return lun_error_set(error, LUN_ERR_STATE, "TLS stream not connected");
    if (atomic_load(&stream->handshake) == HANDSHAKE_FAILED)
        return lun_error_set(error, LUN_ERR_STATE, "TLS handshake failed earlier");
    return LUN_OK;
}

/* Runs a pending server handshake inside the I/O call that needs it, under
 * that call's timeout (the read timeout for a read, the write timeout for a
 * write or a flush). */
static lun_status ensure_handshake(lun_process *self, lun_tls_stream *stream,
                                   const tls_direction *direction, lun_error *error)
{
    if (atomic_load(&stream->handshake) == HANDSHAKE_DONE) return LUN_OK;
    net_socket *socket = &stream->socket;
    int64_t timeout =
        net_timeout(direction->reading ? &socket->read_timeout : &socket->write_timeout);
    return handshake(self, stream, timeout, direction->timed_out, error);
}

/* One SSL_read_ex or SSL_write_ex under the stream's lock; *failure is
 * SSL_get_error's verdict. data is the caller's writable buffer when
 * reading. */
static int attempt(lun_tls_stream *stream, const tls_direction *direction, const void *data,
                   size_t length, size_t *count, int *failure)
{
    pthread_mutex_lock(&stream->lock);
    ERR_clear_error();
    int result = direction->reading ? SSL_read_ex(stream->ssl, (void *)data, length, count)
                                    : SSL_write_ex(stream->ssl, data, length, count);
    *failure = SSL_get_error(stream->ssl, result);
    pthread_mutex_unlock(&stream->lock);
    return result;
}

/* Attempts until OpenSSL completes or fails, waiting on the socket for
 * what it wants in between. */
static lun_status transfer(lun_process *self, lun_tls_stream *stream,
                           const tls_direction *direction, const void *data, size_t length,
                           size_t *count, lun_error *error)
{
    net_socket *socket = &stream->socket;
    for (;;) {
        uint32_t seen_read = net_events(&socket->read), seen_write = net_events(&socket->write);
        int failure;
        int result = attempt(stream, direction, data, length, count, &failure);
        if (result == 1 || (direction->reading && failure == SSL_ERROR_ZERO_RETURN)) {
            if (result != 1) *count = 0;
            net_done(self);
            return LUN_OK;
        }
        if (failure != SSL_ERROR_WANT_READ && failure != SSL_ERROR_WANT_WRITE) {
            net_done(self);
            if (failure == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
                return net_os_error(error, direction->what,
                                    errno ? errno : direction->silent_errno);
            return ssl_error(error, direction->what);
        }
        int64_t timeout =
            net_timeout(direction->reading ? &socket->read_timeout : &socket->write_timeout);
        lun_status status = wait_for(self, stream, failure, seen_read, seen_write, timeout, error);
        if (status == LUN_ERR_TIMEOUT)
            lun_error_set(error, LUN_ERR_TIMEOUT, "%s", direction->timed_out);
        if (status != LUN_OK) return status;
    }
}

lun_status lun_tls_read(lun_process *self, lun_tls_stream *stream, void *buffer, size_t length,
                        size_t *count, lun_error *error)
{
    lun_status status = check_stream(stream, buffer, length, count, error);
    if (status == LUN_OK) status = ensure_handshake(self, stream, &tls_reading, error);
    if (status != LUN_OK || length == 0) return status;
    return transfer(self, stream, &tls_reading, buffer, length, count, error);
}

lun_status lun_tls_write_vectored(lun_process *self, lun_tls_stream *stream,
                                  const struct iovec *buffers, size_t buffer_count, size_t *count,
                                  lun_error *error)
{
    lun_status status = check_stream(stream, buffers, buffer_count, count, error);
    if (status == LUN_OK) status = ensure_handshake(self, stream, &tls_writing, error);
    if (status != LUN_OK) return status;
    /* Small buffers go out as one record; else the first non-empty one. */
    char joined[COALESCE_LIMIT];
    size_t total = 0, first = 0;
    while (first < buffer_count && buffers[first].iov_len == 0)
        first++;
    if (first == buffer_count) return LUN_OK;
    const void *data = buffers[first].iov_base;
    size_t length = buffers[first].iov_len;
    for (size_t i = first; i < buffer_count; i++) {
        if (total + buffers[i].iov_len > sizeof joined) break;
        memcpy(joined + total, buffers[i].iov_base, buffers[i].iov_len);
        total += buffers[i].iov_len;
    }
    if (total > length) {
        data = joined;
        length = total;
    }
    return transfer(self, stream, &tls_writing, data, length, count, error);
}

lun_status lun_tls_flush(lun_process *self, lun_tls_stream *stream, lun_error *error)
{
    /* Records go to the socket as they are written: only a pending
     * handshake waits here. */
    size_t count;
    lun_status status = check_stream(stream, NULL, 0, &count, error);
    if (status == LUN_OK) status = ensure_handshake(self, stream, &tls_writing, error);
    if (status != LUN_OK) return status;
    net_done(self);
    return LUN_OK;
}

void lun_tls_stream_set_read_timeout(lun_tls_stream *stream, int64_t timeout_ms)
{
    if (stream) atomic_store(&stream->socket.read_timeout, timeout_ms < 0 ? -1 : timeout_ms);
}

void lun_tls_stream_set_write_timeout(lun_tls_stream *stream, int64_t timeout_ms)
{
    if (stream) atomic_store(&stream->socket.write_timeout, timeout_ms < 0 ? -1 : timeout_ms);
}

int64_t lun_tls_stream_read_timeout(const lun_tls_stream *stream)
{
    return stream ? net_timeout(&((lun_tls_stream *)stream)->socket.read_timeout) : -1;
}

int64_t lun_tls_stream_write_timeout(const lun_tls_stream *stream)
{
    return stream ? net_timeout(&((lun_tls_stream *)stream)->socket.write_timeout) : -1;
}

lun_tls_stream *lun_tls_stream_clone(lun_tls_stream *stream)
{
    net_socket_retain(stream ? &stream->socket : NULL);
    return stream;
}

void lun_tls_stream_release(lun_tls_stream *stream)
{
    if (stream != NULL) net_socket_release(&stream->socket);
}
