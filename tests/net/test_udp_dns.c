/*
 * UDP over loopback with native processes (echo with send_to/receive_from
 * and connected sockets, options, timeouts, a socket moved in a message) and
 * DNS through the resolver threads ("localhost", literals, bad names).
 */
#include "net_test.h"

/* ---- UDP -------------------------------------------------------------------------- */

typedef struct udp_server {
    lun_udp_socket *socket;
    int remaining;
    char buffer[512];
    size_t length;
    lun_net_address from;
    bool replying;
} udp_server;

static lun_step_result udp_server_step(lun_process *self, void *state)
{
    udp_server *s = state;
    while (s->remaining > 0) {
        size_t count = 0;
        if (!s->replying) {
            lun_status status = lun_udp_receive_from(self, s->socket, s->buffer, sizeof s->buffer,
                                                     &s->length, &s->from, NULL);
            if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
            if (status != LUN_OK) return LUN_STEP_FAILED;
            s->replying = true;
        }
        lun_status status =
            lun_udp_send_to(self, s->socket, s->buffer, s->length, &s->from, &count, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK || count != s->length) return LUN_STEP_FAILED;
        s->replying = false;
        s->remaining--;
    }
    return LUN_STEP_DONE;
}

typedef struct udp_client {
    lun_net *net;
    lun_net_address server;
    lun_udp_socket *socket;
    int index;
    bool sent;
    _Atomic int *succeeded;
} udp_client;

static void udp_client_free(void *state)
{
    udp_client *c = state;
    lun_udp_socket_release(c->socket);
    c->socket = NULL;
}

static lun_step_result udp_client_step(lun_process *self, void *state)
{
    udp_client *c = state;
    char out[32], in[32];
    int length = snprintf(out, sizeof out, "datagram %d", c->index);
    size_t count = 0;
    if (c->socket == NULL) {
        lun_net_address any = loopback(4, 0);
        if (lun_udp_bind(c->net, &any, &c->socket, NULL) != LUN_OK) return LUN_STEP_FAILED;
        if (lun_udp_connect(c->socket, &c->server, NULL) != LUN_OK) return LUN_STEP_FAILED;
        lun_udp_socket_set_read_timeout(c->socket, 5000);
    }
    if (!c->sent) {
        lun_status status = lun_udp_send(self, c->socket, out, (size_t)length, &count, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
        if (status != LUN_OK) return LUN_STEP_FAILED;
        c->sent = true;
    }
    lun_status status = lun_udp_receive(self, c->socket, in, sizeof in, &count, NULL);
    if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
    if (status != LUN_OK) return LUN_STEP_FAILED;
    if (count == (size_t)length && memcmp(in, out, count) == 0) atomic_fetch_add(c->succeeded, 1);
    return LUN_STEP_DONE;
}

static void test_udp_echo(void **state)
{
    fixture *f = *state;
    enum { CLIENTS = 40 };
    udp_server s = {.remaining = CLIENTS};
    lun_net_address any = loopback(4, 0), address;
    assert_int_equal(lun_udp_bind(f->net, &any, &s.socket, NULL), LUN_OK);
    assert_int_equal(lun_udp_socket_local_address(s.socket, &address, NULL), LUN_OK);
    lun_process *server = spawn(f, udp_server_step, &s, NULL);
    _Atomic int succeeded = 0;
    udp_client clients[CLIENTS];
    lun_process *processes[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] =
            (udp_client){.net = f->net, .server = address, .index = i, .succeeded = &succeeded};
        processes[i] = spawn(f, udp_client_step, &clients[i], udp_client_free);
    }
    for (int i = 0; i < CLIENTS; i++) {
        assert_int_equal(join(processes[i]).kind, LUN_RESULT_OK);
        lun_process_release(processes[i]);
    }
    assert_int_equal(atomic_load(&succeeded), CLIENTS);
    assert_int_equal(join(server).kind, LUN_RESULT_OK);
    lun_process_release(server);
    lun_udp_socket_release(s.socket);
}

static void test_udp_options_and_timeouts(void **state)
{
    fixture *f = *state;
    lun_udp_socket *a = NULL, *b = NULL;
    lun_net_address any = loopback(4, 0), address_a, address_b, peer, from;
    assert_int_equal(lun_udp_bind(f->net, &any, &a, NULL), LUN_OK);
    assert_int_equal(lun_udp_bind(f->net, &any, &b, NULL), LUN_OK);
    assert_int_equal(lun_udp_socket_local_address(a, &address_a, NULL), LUN_OK);
    assert_int_equal(lun_udp_socket_local_address(b, &address_b, NULL), LUN_OK);
    assert_int_equal(lun_udp_socket_peer_address(a, &peer, NULL), LUN_ERR_STATE);

    bool on = true;
    assert_int_equal(lun_udp_socket_broadcast(a, &on, NULL), LUN_OK);
    assert_false(on);
    assert_int_equal(lun_udp_socket_set_broadcast(a, true, NULL), LUN_OK);
    assert_int_equal(lun_udp_socket_broadcast(a, &on, NULL), LUN_OK);
    assert_true(on);
    uint32_t ttl = 0;
    assert_int_equal(lun_udp_socket_set_ttl(a, 42, NULL), LUN_OK);
    assert_int_equal(lun_udp_socket_ttl(a, &ttl, NULL), LUN_OK);
    assert_int_equal(ttl, 42);
    assert_int_equal(lun_udp_socket_set_ttl(a, 100000, NULL), LUN_ERR_IO);

    /* Blocking mode: a receive with nothing to receive times out. */
    char buffer[16];
    size_t count = 0;
    lun_udp_socket_set_read_timeout(a, 30);
    uint64_t start = now_ms();
    assert_int_equal(lun_udp_receive(NULL, a, buffer, sizeof buffer, &count, NULL),
                     LUN_ERR_TIMEOUT);
    assert_true(now_ms() - start >= 30);

    /* A clone sends; the original receives with the sender's address. */
    lun_udp_socket *clone = lun_udp_socket_clone(b);
    lun_udp_socket_release(b);
    assert_int_equal(lun_udp_send_to(NULL, clone, "xyz", 3, &address_a, &count, NULL), LUN_OK);
    assert_int_equal(count, 3);
    lun_udp_socket_set_read_timeout(a, 5000);
    assert_int_equal(lun_udp_receive_from(NULL, a, buffer, sizeof buffer, &count, &from, NULL),
                     LUN_OK);
    assert_int_equal(count, 3);
    assert_memory_equal(buffer, "xyz", 3);
    assert_int_equal(from.port, address_b.port);
    assert_int_equal(lun_udp_connect(a, &address_b, NULL), LUN_OK);
    assert_int_equal(lun_udp_socket_peer_address(a, &peer, NULL), LUN_OK);
    assert_int_equal(peer.port, address_b.port);
    assert_int_equal(lun_udp_send(NULL, a, "back", 4, &count, NULL), LUN_OK);
    lun_udp_socket_set_read_timeout(clone, 5000);
    assert_int_equal(lun_udp_receive(NULL, clone, buffer, sizeof buffer, &count, NULL), LUN_OK);
    assert_int_equal(count, 4);
    lun_udp_socket_release(clone);
    lun_udp_socket_release(a);
}

static void test_udp_ipv6(void **state)
{
    fixture *f = *state;
    lun_udp_socket *a = NULL, *b = NULL;
    lun_net_address any = loopback(6, 0), address_a, from;
    assert_int_equal(lun_udp_bind(f->net, &any, &a, NULL), LUN_OK);
    assert_int_equal(lun_udp_bind(f->net, &any, &b, NULL), LUN_OK);
    assert_int_equal(lun_udp_socket_local_address(a, &address_a, NULL), LUN_OK);
    assert_int_equal(address_a.family, 6);
    size_t count = 0;
    char buffer[8];
    assert_int_equal(lun_udp_send_to(NULL, b, "six", 3, &address_a, &count, NULL), LUN_OK);
    lun_udp_socket_set_read_timeout(a, 5000);
    assert_int_equal(lun_udp_receive_from(NULL, a, buffer, sizeof buffer, &count, &from, NULL),
                     LUN_OK);
    assert_int_equal(from.family, 6);
    assert_int_equal(from.bytes[15], 1);
    uint32_t hops = 0;
    assert_int_equal(lun_udp_socket_set_ttl(a, 7, NULL), LUN_OK);
    assert_int_equal(lun_udp_socket_ttl(a, &hops, NULL), LUN_OK);
    assert_int_equal(hops, 7);
    lun_udp_socket_release(a);
    lun_udp_socket_release(b);
}

/* More processes than waiter slots receive on clones of one socket: each
 * gets one datagram. */
typedef struct sharer {
    lun_udp_socket *socket;
    char data[16];
    size_t length;
    _Atomic int *waiting;
    bool counted;
} sharer;

static void sharer_free(void *state)
{
    sharer *s = state;
    lun_udp_socket_release(s->socket);
    s->socket = NULL;
}

static lun_step_result sharer_step(lun_process *self, void *state)
{
    sharer *s = state;
    lun_status status = lun_udp_receive(self, s->socket, s->data, sizeof s->data, &s->length, NULL);
    if (status == LUN_ERR_WOULD_BLOCK) {
        if (!s->counted) atomic_fetch_add(s->waiting, 1);
        s->counted = true;
        return LUN_STEP_WAIT;
    }
    if (status != LUN_OK) fprintf(stderr, "sharer: %s\n", lun_status_name(status));
    return status == LUN_OK ? LUN_STEP_DONE : LUN_STEP_FAILED;
}

static void test_udp_shared_by_many_processes(void **state)
{
    fixture *f = *state;
    enum { SHARERS = 7 };
    lun_udp_socket *socket = NULL, *sender = NULL;
    lun_net_address any = loopback(4, 0), address;
    assert_int_equal(lun_udp_bind(f->net, &any, &socket, NULL), LUN_OK);
    assert_int_equal(lun_udp_bind(f->net, &any, &sender, NULL), LUN_OK);
    assert_int_equal(lun_udp_socket_local_address(socket, &address, NULL), LUN_OK);
    _Atomic int waiting = 0;
    sharer sharers[SHARERS];
    lun_process *processes[SHARERS];
    for (int i = 0; i < SHARERS; i++) {
        sharers[i] = (sharer){.socket = lun_udp_socket_clone(socket), .waiting = &waiting};
        processes[i] = spawn(f, sharer_step, &sharers[i], sharer_free);
    }
    lun_udp_socket_release(socket);
    wait_for_count(&waiting, SHARERS);
    bool seen[SHARERS] = {false};
    for (int i = 0; i < SHARERS; i++) {
        char text[8];
        size_t count = 0;
        int length = snprintf(text, sizeof text, "%d", i);
        assert_int_equal(
            lun_udp_send_to(NULL, sender, text, (size_t)length, &address, &count, NULL), LUN_OK);
        sleep_ms(2);
    }
    for (int i = 0; i < SHARERS; i++) {
        assert_int_equal(join(processes[i]).kind, LUN_RESULT_OK);
        lun_process_release(processes[i]);
        assert_int_equal(sharers[i].length, 1);
        int value = sharers[i].data[0] - '0';
        assert_true(value >= 0 && value < SHARERS);
        assert_false(seen[value]);
        seen[value] = true;
    }
    lun_udp_socket_release(sender);
}

/* ---- DNS ---------------------------------------------------------------------------- */

typedef struct resolver {
    lun_net *net;
    const char *name;
    lun_dns_query *pending;
    lun_dns_result *result;
    lun_status status;
} resolver;

static void resolver_free(void *state)
{
    resolver *r = state;
    lun_dns_query_cancel(r->pending);
    r->pending = NULL;
}

static lun_step_result resolver_step(lun_process *self, void *state)
{
    resolver *r = state;
    lun_status status = lun_dns_resolve(self, r->net, r->name, strlen(r->name), 10000, &r->pending,
                                        &r->result, NULL);
    if (status == LUN_ERR_WOULD_BLOCK) return LUN_STEP_WAIT;
    r->status = status;
    return LUN_STEP_DONE;
}

static bool has_loopback(const lun_dns_result *result, uint16_t port)
{
    bool found = false;
    for (size_t i = 0; i < result->count; i++) {
        const lun_net_address *a = &result->addresses[i];
        assert_int_equal(a->port, port);
        if (a->family == 4 && a->bytes[0] == 127) found = true;
        if (a->family == 6 && a->bytes[15] == 1) found = true;
    }
    return found;
}

static void test_dns_localhost_in_processes(void **state)
{
    fixture *f = *state;
    enum { RESOLVERS = 16 };
    resolver resolvers[RESOLVERS];
    lun_process *processes[RESOLVERS];
    for (int i = 0; i < RESOLVERS; i++) {
        resolvers[i] = (resolver){.net = f->net, .name = i % 2 ? "localhost:8080" : "[::1]:8080"};
        processes[i] = spawn(f, resolver_step, &resolvers[i], resolver_free);
    }
    for (int i = 0; i < RESOLVERS; i++) {
        assert_int_equal(join(processes[i]).kind, LUN_RESULT_OK);
        lun_process_release(processes[i]);
        assert_int_equal(resolvers[i].status, LUN_OK);
        assert_null(resolvers[i].pending);
        assert_true(resolvers[i].result->count >= 1);
        assert_true(has_loopback(resolvers[i].result, 8080));
        lun_dns_result_free(resolvers[i].result);
    }
}

static void test_dns_bad_names(void **state)
{
    fixture *f = *state;
    const char *bad[] = {"localhost", "localhost:", "localhost:http", "localhost:70000", ":80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        resolver r = {.net = f->net, .name = bad[i]};
        lun_process *process = spawn(f, resolver_step, &r, resolver_free);
        assert_int_equal(join(process).kind, LUN_RESULT_OK);
        lun_process_release(process);
        assert_int_equal(r.status, LUN_ERR_INVALID_ARGUMENT);
        assert_null(r.result);
    }
    /* Blocking mode on a plain thread. */
    lun_dns_query *pending = NULL;
    lun_dns_result *result = NULL;
    assert_int_equal(lun_dns_resolve(NULL, f->net, "127.0.0.1:53", 12, -1, &pending, &result, NULL),
                     LUN_OK);
    assert_non_null(result);
    assert_int_equal(result->count, 1);
    assert_true(has_loopback(result, 53));
    lun_dns_result_free(result);
    assert_int_equal(lun_dns_resolve(NULL, f->net, "x", 1, -1, &pending, &result, NULL),
                     LUN_ERR_INVALID_ARGUMENT);
}

/* Processes killed while their queries are queued, running or done: the
 * query is cancelled from state_free whatever its state. */
static void test_dns_killed_while_resolving(void **state)
{
    fixture *f = *state;
    enum { VICTIMS = 24 };
    resolver victims[VICTIMS];
    lun_process *processes[VICTIMS];
    for (int i = 0; i < VICTIMS; i++) {
        victims[i] = (resolver){.net = f->net, .name = "localhost:1"};
        processes[i] = spawn(f, resolver_step, &victims[i], resolver_free);
    }
    for (int i = 0; i < VICTIMS; i++) {
        if (i % 3 == 1) sleep_ms(1);
        lun_process_kill(processes[i], NULL);
    }
    for (int i = 0; i < VICTIMS; i++) {
        join(processes[i]);
        lun_process_release(processes[i]);
        assert_null(victims[i].pending);
        lun_dns_result_free(victims[i].result); /* finished before the kill */
    }
    /* The resolver still answers. */
    resolver after = {.net = f->net, .name = "localhost:2"};
    lun_process *process = spawn(f, resolver_step, &after, resolver_free);
    assert_int_equal(join(process).kind, LUN_RESULT_OK);
    lun_process_release(process);
    assert_int_equal(after.status, LUN_OK);
    lun_dns_result_free(after.result);
}

#define NET_TEST(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        NET_TEST(test_udp_echo),
        NET_TEST(test_udp_options_and_timeouts),
        NET_TEST(test_udp_ipv6),
        NET_TEST(test_udp_shared_by_many_processes),
        NET_TEST(test_dns_localhost_in_processes),
        NET_TEST(test_dns_bad_names),
        NET_TEST(test_dns_killed_while_resolving),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
