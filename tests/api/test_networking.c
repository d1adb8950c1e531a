/*
 * Network integration tests of lunatic::networking: the socket examples
 * (examples/guest tcp_echo, http_hello, udp_echo, tls_echo) run through the
 * `lunatic` command and are driven over loopback by real clients: this
 * program's own sockets, curl, and openssl (s_client, and req for a
 * self-signed certificate made at test time). The TLS server handshakes in
 * a stream's first read: silent and garbage clients must not stall it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "run_command.h"

#define GUEST(name) LUN_API_GUEST_DIR "/example_" name ".wasm"

enum { CLIENTS = 1000 };

/* ---- a server running in the background ---------------------------------------- */

typedef struct server {
    pid_t pid;
    int port;
} server;

/* Servers still running; a failed test leaves them to the teardown. */
static pid_t running[4];

static void remember(pid_t pid, bool add)
{
    for (int i = 0; i < 4; i++)
        if (running[i] == (add ? 0 : pid)) {
            running[i] = add ? pid : 0;
            return;
        }
}

static int kill_servers(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++)
        if (running[i] != 0) {
            kill(running[i], SIGKILL);
            waitpid(running[i], NULL, 0);
            running[i] = 0;
        }
    return 0;
}

/* Starts `lunatic run WASM args...` in directory (may be NULL) and waits for
 * its "listening on 127.0.0.1:PORT" line. */
static server start_server(const char *directory, const char *wasm, ...)
{
    const char *argv[16] = {LUN_CLI_PATH, "run", wasm};
    int argc = 3;
    va_list args;
    va_start(args, wasm);
    for (const char *arg; argc < 15 && (arg = va_arg(args, const char *)) != NULL;)
        argv[argc++] = arg;
    va_end(args);
    argv[argc] = NULL;
    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pipe_fds[1], 1);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        if (directory != NULL && chdir(directory) != 0) _exit(127);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pipe_fds[1]);
    remember(pid, true);
    char line[256];
    size_t length = 0;
    while (length < sizeof line - 1) {
        ssize_t got = read(pipe_fds[0], line + length, 1);
        if (got <= 0 || line[length] == '\n') break;
        length++;
    }
    line[length] = '\0';
    close(pipe_fds[0]);
    server result = {.pid = pid, .port = 0};
    const char *colon = strrchr(line, ':');
    if (strncmp(line, "listening on ", 13) != 0 || colon == NULL)
        fail_msg("%s did not start (said \"%s\")", wasm, line);
    result.port = atoi(colon + 1);
    return result;
}

static void stop_server(server *s)
{
    kill(s->pid, SIGTERM);
    int status;
    waitpid(s->pid, &status, 0);
    remember(s->pid, false);
    /* It must have been running until now: killed by us, not crashed. */
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);
}

static int count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *dir = opendir(path);
    if (dir == NULL) return -1;
    int count = 0;
    while (readdir(dir) != NULL)
        count++;
    closedir(dir);
    return count;
}

/* Waits up to 3 s for the process to hold `expected` descriptors; returns
 * the last count. */
static int wait_for_fds(pid_t pid, int expected)
{
    int count = -1;
    for (int tries = 0; tries < 150 && count != expected; tries++) {
        usleep(20000);
        count = count_fds(pid);
    }
    return count;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- client sockets ------------------------------------------------------------------- */

static int connect_to(int port, int type)
{
    int fd = socket(AF_INET, type, 0);
    assert_true(fd >= 0);
    struct timeval timeout = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&address, sizeof address), 0);
    return fd;
}

static void send_all(int fd, const void *data, size_t length)
{
    const char *bytes = data;
    while (length > 0) {
        ssize_t sent = send(fd, bytes, length, MSG_NOSIGNAL);
        assert_true(sent > 0);
        bytes += sent;
        length -= (size_t)sent;
    }
}

/* Reads exactly length bytes (fails on EOF or timeout). */
static void receive_exactly(int fd, char *buffer, size_t length)
{
    size_t got = 0;
    while (got < length) {
        ssize_t n = recv(fd, buffer + got, length - got, 0);
        if (n <= 0)
            fail_msg("connection ended after %zu of %zu bytes (%s)", got, length,
                     n == 0 ? "EOF" : strerror(errno));
        got += (size_t)n;
    }
}

/* Reads until EOF; returns the byte count (the first capacity bytes kept). */
static size_t receive_until_eof(int fd, char *buffer, size_t capacity)
{
    size_t got = 0;
    for (;;) {
        char chunk[512];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n < 0) fail_msg("no EOF: %s", strerror(errno));
        if (n == 0) return got;
        size_t keep = got < capacity ? capacity - got : 0;
        memcpy(buffer + got, chunk, (size_t)n < keep ? (size_t)n : keep);
        got += (size_t)n;
    }
}

static void raise_fd_limit(void)
{
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur <= CLIENTS + 100) {
        print_message("descriptor limit %llu is too low for %d clients: skipped\n",
                      (unsigned long long)limit.rlim_cur, CLIENTS);
        skip();
    }
}

/* ---- TCP echo ------------------------------------------------------------------------------ */

static void test_tcp_echo_thousand_clients(void **state)
{
    (void)state;
    raise_fd_limit();
    server s = start_server(NULL, GUEST("tcp_echo"), "0", NULL);
    static int fds[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        fds[i] = connect_to(s.port, SOCK_STREAM);
    /* Every connection is open before any is used: 1,000 handler processes
     * wait at once. */
    for (int i = 0; i < CLIENTS; i++) {
        char message[64];
        int length = snprintf(message, sizeof message, "client %d says hello\n", i);
        send_all(fds[i], message, (size_t)length);
    }
    for (int i = 0; i < CLIENTS; i++) {
        char expected[64], got[64];
        int length = snprintf(expected, sizeof expected, "client %d says hello\n", i);
        receive_exactly(fds[i], got, (size_t)length);
        assert_memory_equal(got, expected, (size_t)length);
    }
    /* A second round on the same connections, 64 KiB each way for some. */
    static char big[65536], back[65536];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7 + 1);
    for (int i = 0; i < CLIENTS; i += 100) {
        send_all(fds[i], big, sizeof big);
        receive_exactly(fds[i], back, sizeof back);
        assert_memory_equal(back, big, sizeof big);
    }
    for (int i = 0; i < CLIENTS; i++)
        close(fds[i]);
    stop_server(&s);
}

static void test_tcp_echo_read_timeout(void **state)
{
    (void)state;
    server s = start_server(NULL, GUEST("tcp_echo"), "0", "300", NULL);
    int fd = connect_to(s.port, SOCK_STREAM);
    send_all(fd, "ping\n", 5);
    char reply[64];
    receive_exactly(fd, reply, 5);
    assert_memory_equal(reply, "ping\n", 5);
    /* Now silent: the handler's read times out, it says so and closes. */
    double start = now_seconds();
    size_t got = receive_until_eof(fd, reply, sizeof reply);
    double elapsed = now_seconds() - start;
    assert_int_equal(got, 8);
    assert_memory_equal(reply, "timeout\n", 8);
    assert_true(elapsed >= 0.25);
    close(fd);
    /* The server still serves. */
    fd = connect_to(s.port, SOCK_STREAM);
    send_all(fd, "again\n", 6);
    receive_exactly(fd, reply, 6);
    assert_memory_equal(reply, "again\n", 6);
    close(fd);
    stop_server(&s);
}

static void test_tcp_echo_killed_process_closes_sockets(void **state)
{
    (void)state;
    server s = start_server(NULL, GUEST("tcp_echo"), "0", NULL);
    /* One round first, so that everything the server makes once exists. */
    int fd = connect_to(s.port, SOCK_STREAM);
    char reply[64];
    send_all(fd, "warm\n", 5);
    receive_exactly(fd, reply, 5);
    close(fd);
    int baseline = -1;
    for (int tries = 0; tries < 100; tries++) {
        usleep(20000);
        int count = count_fds(s.pid);
        if (count == baseline) break;
        baseline = count;
    }
    assert_true(baseline > 0);
    for (int round = 0; round < 5; round++) {
        fd = connect_to(s.port, SOCK_STREAM);
        /* The handler opens a listener and a UDP socket, then is killed
         * holding three sockets: its stream must close. */
        send_all(fd, "KILL\n", 5);
        assert_int_equal(receive_until_eof(fd, reply, sizeof reply), 0);
        close(fd);
    }
    assert_int_equal(wait_for_fds(s.pid, baseline), baseline);
    stop_server(&s);
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

static const char request_text[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n";
static const char response_text[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n"
                                    "Content-Type: text/plain\r\n\r\nHello, World!";

static void test_http_curl_keep_alive(void **state)
{
    (void)state;
    server s = start_server(NULL, GUEST("http_hello"), "0", NULL);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    const char *argv[] = {"/usr/bin/curl", "-sS", "-v", url, url, NULL};
    command_result result;
    assert_int_equal(run_command(argv, NULL, 60, &result), 0);
    assert_int_equal(result.status, 0);
    assert_string_equal(result.output, "Hello, World!Hello, World!");
    /* The second request went over the first connection. */
    assert_non_null(strstr(result.errors, "Re-using existing connection"));
    assert_non_null(strstr(result.errors, "Content-Length: 13"));
    command_result_free(&result);
    /* HTTP/1.0 without keep-alive: answered, then closed by the server. */
    int fd = connect_to(s.port, SOCK_STREAM);
    send_all(fd, "GET / HTTP/1.0\r\n\r\n", 18);
    char reply[256];
    size_t got = receive_until_eof(fd, reply, sizeof reply);
    assert_int_equal(got, sizeof response_text - 1);
    assert_memory_equal(reply, response_text, got);
    close(fd);
    stop_server(&s);
}

static void test_http_thousand_keep_alive_clients(void **state)
{
    (void)state;
    raise_fd_limit();
    server s = start_server(NULL, GUEST("http_hello"), "0", NULL);
    static int fds[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        fds[i] = connect_to(s.port, SOCK_STREAM);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < CLIENTS; i++)
            send_all(fds[i], request_text, sizeof request_text - 1);
        for (int i = 0; i < CLIENTS; i++) {
            char reply[sizeof response_text];
            receive_exactly(fds[i], reply, sizeof response_text - 1);
            assert_memory_equal(reply, response_text, sizeof response_text - 1);
        }
    }
    /* Pipelining: three requests in one write, three answers. */
    char three[3 * sizeof request_text];
    for (int k = 0; k < 3; k++)
        memcpy(three + k * (sizeof request_text - 1), request_text, sizeof request_text - 1);
    send_all(fds[0], three, 3 * (sizeof request_text - 1));
    for (int k = 0; k < 3; k++) {
        char reply[sizeof response_text];
        receive_exactly(fds[0], reply, sizeof response_text - 1);
        assert_memory_equal(reply, response_text, sizeof response_text - 1);
    }
    for (int i = 0; i < CLIENTS; i++)
        close(fds[i]);
    stop_server(&s);
}

static void test_http_client_disconnects_mid_request(void **state)
{
    (void)state;
    server s = start_server(NULL, GUEST("http_hello"), "0", NULL);
    for (int i = 0; i < 50; i++) {
        int fd = connect_to(s.port, SOCK_STREAM);
        send_all(fd, request_text, 10 + (size_t)i % 20); /* part of the head */
        if (i % 2) {                                     /* a reset rather than a clean close */
            struct linger hard = {.l_onoff = 1, .l_linger = 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        }
        close(fd);
    }
    /* A full request whose answer nobody reads. */
    int fd = connect_to(s.port, SOCK_STREAM);
    send_all(fd, request_text, sizeof request_text - 1);
    close(fd);
    /* The server is unharmed. */
    fd = connect_to(s.port, SOCK_STREAM);
    send_all(fd, request_text, sizeof request_text - 1);
    char reply[sizeof response_text];
    receive_exactly(fd, reply, sizeof response_text - 1);
    assert_memory_equal(reply, response_text, sizeof response_text - 1);
    close(fd);
    stop_server(&s);
}

static void test_http_slow_client_times_out(void **state)
{
    (void)state;
    server s = start_server(NULL, GUEST("http_hello"), "0", "300", NULL);
    int fd = connect_to(s.port, SOCK_STREAM);
    send_all(fd, "GET / HTTP/1.1\r\nHo", 18); /* and then nothing */
    double start = now_seconds();
    char reply[64];
    assert_int_equal(receive_until_eof(fd, reply, sizeof reply), 0);
    assert_true(now_seconds() - start >= 0.25);
    close(fd);
    stop_server(&s);
}

/* ---- UDP ----------------------------------------------------------------------------------- */

static void test_udp_echo(void **state)
{
    (void)state;
    server s = start_server(NULL, GUEST("udp_echo"), "0", NULL);
    int fd = connect_to(s.port, SOCK_DGRAM);
    struct timeval timeout = {.tv_sec = 0, .tv_usec = 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    int answered = 0;
    for (int i = 0; i < 100; i++) {
        char message[64], reply[64];
        int length = snprintf(message, sizeof message, "datagram %d", i);
        /* Loopback rarely drops, but UDP may: retry a lost one. */
        for (int attempt = 0; attempt < 5; attempt++) {
            send(fd, message, (size_t)length, 0);
            ssize_t got = recv(fd, reply, sizeof reply, 0);
            if (got < 0) continue;
            assert_int_equal(got, length);
            assert_memory_equal(reply, message, (size_t)length);
            answered++;
            break;
        }
    }
    assert_int_equal(answered, 100);
    send(fd, "QUIT", 4, 0);
    close(fd);
    int status;
    waitpid(s.pid, &status, 0);
    remember(s.pid, false);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- TLS ----------------------------------------------------------------------------------- */

static char tls_directory[64];

static void make_certificate(const char *name, const char *subject)
{
    char key[32], certificate[32];
    snprintf(key, sizeof key, "%s-key.pem", name);
    snprintf(certificate, sizeof certificate, "%s.pem", name);
    const char *argv[] = {"/usr/bin/openssl",
                          "req",
                          "-x509",
                          "-newkey",
                          "rsa:2048",
                          "-nodes",
                          "-keyout",
                          key,
                          "-out",
                          certificate,
                          "-days",
                          "1",
                          "-subj",
                          subject,
                          "-addext",
                          "subjectAltName=DNS:localhost,IP:127.0.0.1",
                          NULL};
    command_result result;
    assert_int_equal(run_command(argv, tls_directory, 60, &result), 0);
    if (result.status != 0)
        fail_msg("openssl req failed (%d): %s%s", result.status, result.output, result.errors);
    command_result_free(&result);
}

/* The certificates of the TLS tests, made once in a temporary directory
 * that main removes. */
static void tls_prepare(void)
{
    if (tls_directory[0] != '\0') return;
    snprintf(tls_directory, sizeof tls_directory, "/tmp/lunatic-tls-XXXXXX");
    assert_non_null(mkdtemp(tls_directory));
    make_certificate("server", "/CN=localhost");
    make_certificate("other", "/CN=localhost");
}

static void tls_cleanup(void)
{
    if (tls_directory[0] == '\0') return;
    const char *cleanup[] = {"/bin/rm", "-rf", tls_directory, NULL};
    command_result result;
    if (run_command(cleanup, NULL, 30, &result) == 0) command_result_free(&result);
}

static server start_tls_server(void)
{
    tls_prepare();
    return start_server(tls_directory, GUEST("tls_echo"), "serve", "server.pem", "server-key.pem",
                        NULL);
}

/* Runs the guest client against port with message; it must get its echo. */
static void guest_echo(int port, const char *message)
{
    char port_text[16], expected[128];
    snprintf(port_text, sizeof port_text, "%d", port);
    snprintf(expected, sizeof expected, "echo: %s", message);
    const char *client[] = {LUN_CLI_PATH, "run",        GUEST("tls_echo"), "connect", "localhost",
                            port_text,    "server.pem", message,           NULL};
    command_result result;
    assert_int_equal(run_command(client, tls_directory, 20, &result), 0);
    assert_int_equal(result.status, 0);
    assert_non_null(strstr(result.output, expected));
    command_result_free(&result);
}

/* Reads until the server ends the connection: EOF or a reset, never the
 * receive timeout of connect_to. */
static void expect_closed(int fd)
{
    char buffer[256];
    ssize_t got;
    while ((got = recv(fd, buffer, sizeof buffer, 0)) > 0)
        continue;
    if (got < 0 && errno != ECONNRESET)
        fail_msg("the server kept the connection: %s", strerror(errno));
}

/* The server's descriptor count once it stops changing. */
static int settled_fds(pid_t pid)
{
    int count = -1;
    for (int tries = 0; tries < 100; tries++) {
        usleep(20000);
        int now = count_fds(pid);
        if (now == count) break;
        count = now;
    }
    return count;
}

static void test_tls_echo(void **state)
{
    (void)state;
    server s = start_tls_server();
    char port[16], connect_to_text[64];
    snprintf(port, sizeof port, "%d", s.port);
    snprintf(connect_to_text, sizeof connect_to_text, "127.0.0.1:%d", s.port);

    /* openssl s_client, verifying the server against its certificate. */
    char script[512];
    snprintf(script, sizeof script,
             "(printf 'hello over tls\\n'; sleep 2) | openssl s_client -connect %s "
             "-servername localhost -CAfile server.pem -verify_return_error -quiet -no_ign_eof",
             connect_to_text);
    const char *shell[] = {"/bin/sh", "-c", script, NULL};
    command_result result;
    assert_int_equal(run_command(shell, tls_directory, 60, &result), 0);
    assert_non_null(strstr(result.output, "hello over tls"));
    command_result_free(&result);

    /* A guest client: DNS (localhost), tls_connect with a custom root. */
    guest_echo(s.port, "guest says hi");

    /* Trusting another certificate: the handshake fails with an error id
     * (the guest reports it), not a trap. */
    const char *client[] = {LUN_CLI_PATH, "run",       GUEST("tls_echo"), "connect", "localhost",
                            port,         "other.pem", "guest says hi",   NULL};
    assert_int_equal(run_command(client, tls_directory, 60, &result), 0);
    assert_int_equal(result.status, 1);
    assert_non_null(strstr(result.output, "connect failed: "));
    command_result_free(&result);
    guest_echo(s.port, "after a failed client");
    stop_server(&s);
}

/* The handshake runs in the handler's first read, not in tls_accept: a TCP
 * client that never sends its hello does not stall the listener. */
static void test_tls_silent_client_does_not_stall_accept(void **state)
{
    (void)state;
    server s = start_tls_server();
    int silent = connect_to(s.port, SOCK_STREAM);
    guest_echo(s.port, "behind a silent client");
    /* The silent connection is still open: its handler waits for the hello. */
    char byte;
    assert_int_equal(recv(silent, &byte, 1, MSG_DONTWAIT), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    close(silent);
    guest_echo(s.port, "after the silent client left");
    stop_server(&s);
}

/* Clients that send garbage instead of a ClientHello: the handler's read
 * returns an error, the handler closes its stream and ends. */
static void test_tls_garbage_clients_are_cleaned_up(void **state)
{
    (void)state;
    server s = start_tls_server();
    guest_echo(s.port, "warm up"); /* everything the server makes once exists */
    int baseline = settled_fds(s.pid);
    assert_true(baseline > 0);
    for (int i = 0; i < 5; i++) {
        int fd = connect_to(s.port, SOCK_STREAM);
        send_all(fd, "plain text\r\n\r\n", 14);
        expect_closed(fd);
        close(fd);
    }
    assert_int_equal(wait_for_fds(s.pid, baseline), baseline);
    guest_echo(s.port, "after garbage");
    stop_server(&s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_tcp_echo_thousand_clients, kill_servers),
        cmocka_unit_test_teardown(test_tcp_echo_read_timeout, kill_servers),
        cmocka_unit_test_teardown(test_tcp_echo_killed_process_closes_sockets, kill_servers),
        cmocka_unit_test_teardown(test_http_curl_keep_alive, kill_servers),
        cmocka_unit_test_teardown(test_http_thousand_keep_alive_clients, kill_servers),
        cmocka_unit_test_teardown(test_http_client_disconnects_mid_request, kill_servers),
        cmocka_unit_test_teardown(test_http_slow_client_times_out, kill_servers),
        cmocka_unit_test_teardown(test_udp_echo, kill_servers),
        cmocka_unit_test_teardown(test_tls_echo, kill_servers),
        cmocka_unit_test_teardown(test_tls_silent_client_does_not_stall_accept, kill_servers),
        cmocka_unit_test_teardown(test_tls_garbage_clients_are_cleaned_up, kill_servers),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    tls_cleanup();
    return failed;
}
