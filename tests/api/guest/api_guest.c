/*
 * Guest program of the api integration tests: one case per argv[1], each
 * exercising host functions through their success and error paths and
 * printing what it observed ("ok ..." lines, values) for the test to check.
 * Cases that must trap do so through the host call under test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <wasi/api.h>

#include "lunatic_guest.h"
#include "lunatic_net.h"

LUN_IMPORT("lunatic::distributed", "node_id") uint64_t sys_node_id(void);
LUN_IMPORT("lunatic::distributed", "module_id") uint64_t sys_module_id(void);
LUN_IMPORT("lunatic::distributed", "nodes_count") uint32_t sys_nodes_count(void);
LUN_IMPORT("lunatic::distributed", "get_nodes")
uint32_t sys_get_nodes(uint64_t *nodes, uint32_t max);
LUN_IMPORT("lunatic::distributed", "spawn")
int32_t sys_distributed_spawn(uint64_t node, int64_t config, int64_t module, const char *function,
                              uint32_t function_length, const void *params, uint32_t params_length,
                              uint64_t *id);
LUN_IMPORT("lunatic::metrics", "increment_counter")
void sys_increment_counter(const char *name, uint32_t length);
LUN_IMPORT("lunatic::metrics", "gauge") void sys_gauge(const char *name, uint32_t length, double v);
LUN_IMPORT("lunatic::networking", "tcp_bind")
int32_t sys_tcp_bind(uint32_t type, const void *address, uint32_t port, uint32_t flow,
                     uint32_t scope, uint64_t *id);
LUN_IMPORT("lunatic::sqlite", "open")
int64_t sys_sqlite_open(const char *path, uint32_t length, uint64_t *id);
LUN_IMPORT("lunatic::message", "push_tcp_stream") uint64_t sys_push_tcp_stream(int64_t id);

#define CHECK(condition)                                                                           \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            printf("FAILED %s:%d: %s\n", __FILE__, __LINE__, #condition);                          \
            exit(10);                                                                              \
        }                                                                                          \
    } while (0)

enum { PAIR_ROUNDS = 50 };

static uint64_t now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

static void wait_data(void *buffer, size_t size)
{
    /* Generous: under sanitizers, beside busy loops, a round trip may take
     * several fuel slices of each of them. */
    lun_received message;
    CHECK(lun_receive(NULL, 0, 60000, buffer, size, &message) == LUN_DATA);
    CHECK(message.copied == size);
}

/* ---- child entries ---------------------------------------------------------------- */

static void child_report(int64_t parent)
{
    uint64_t self = lun_self();
    lun_send((uint64_t)parent, 0, &self, sizeof self);
}

static void child_sleep_forever(int64_t unused)
{
    (void)unused;
    lun_sleep_ms(1000000);
}

static void child_crash(int64_t delay_ms)
{
    if (delay_ms > 0) lun_sleep_ms((uint64_t)delay_ms);
    __builtin_trap();
}

static void child_busy(int64_t unused)
{
    (void)unused;
    volatile uint64_t counter = 0;
    for (;;)
        counter++;
}

static void child_permissions(int64_t parent)
{
    int64_t config = lun_sys_create_config();
    uint64_t id = 77;
    int32_t compiled = lun_sys_compile_module("", 0, &id);
    int64_t results[2] = {config, compiled};
    lun_send((uint64_t)parent, 0, results, sizeof results);
    uint64_t pid;
    lun_spawn_with(child_report, parent, NULL, &pid); /* traps: no permission */
}

static void child_environment(int64_t parent)
{
    char line[256];
    const char *value = getenv("GUEST_VAR"), *second = getenv("GUEST_VAR2");
    /* The arguments, through WASI directly (this is not main). */
    __wasi_size_t argc = 0, size = 0;
    char *argv[8] = {0}, buffer[256] = {0};
    if (__wasi_args_sizes_get(&argc, &size) != 0 || argc > 8 || size > sizeof buffer ||
        (argc > 0 && __wasi_args_get((uint8_t **)argv, (uint8_t *)buffer) != 0))
        argc = 0;
    snprintf(line, sizeof line, "env=%s var2=%s argc=%u argv0=%s", value ? value : "(none)",
             second ? second : "(none)", (unsigned)argc, argc > 0 ? argv[0] : "(none)");
    lun_send((uint64_t)parent, 0, line, strlen(line));
}

/* argument: parent pid << 16 | megabytes; reports success to the parent. */
static void child_allocate(int64_t argument)
{
    size_t megabytes = (size_t)(argument & 0xFFFF);
    /* volatile: the compiler may not assume the allocation succeeds */
    char *volatile block = malloc(megabytes << 20);
    if (block != NULL) block[(megabytes << 20) - 1] = 1;
    printf("child malloc %zu MiB: %s\n", megabytes, block ? "ok" : "failed");
    fflush(stdout);
    if (block == NULL) __builtin_trap();
    lun_send((uint64_t)argument >> 16, 0, "ok", 2);
}

static void child_echo(int64_t unused)
{
    (void)unused;
    for (;;) {
        uint64_t from;
        lun_received message;
        lun_receive(NULL, 0, LUN_FOREVER, &from, sizeof from, &message);
        if (message.kind != LUN_DATA) return;
        uint64_t self = lun_self();
        lun_send(from, message.tag, &self, sizeof self);
    }
}

static void ping_pong_pair(int64_t parent)
{
    uint64_t echo = lun_spawn_link(child_echo, 0, 1);
    for (int i = 0; i < PAIR_ROUNDS; i++) {
        uint64_t self = lun_self();
        lun_send(echo, 0, &self, sizeof self);
        uint64_t answer;
        wait_data(&answer, sizeof answer);
        CHECK(answer == echo);
    }
    int64_t done = PAIR_ROUNDS;
    lun_send((uint64_t)parent, 77, &done, sizeof done);
}

static void child_wasi_sleep(int64_t parent)
{
    struct timespec pause = {.tv_sec = 2};
    nanosleep(&pause, NULL);
    lun_send((uint64_t)parent, 99, "slept", 5);
}

static void child_wasi_sleep_long(int64_t unused)
{
    (void)unused;
    struct timespec pause = {.tv_sec = 100};
    nanosleep(&pause, NULL);
}

static void child_exit(int64_t code)
{
    exit((int)code);
}

/* Linked to its parent at spawn with tag 5, survives the parent's failure
 * and reports the LinkDied message's tag to the first process.
 * argument: first process << 32 | parent. */
static void child_watch_parent(int64_t argument)
{
    uint64_t first = (uint64_t)argument >> 32, parent = (uint64_t)argument & 0xFFFFFFFF;
    lun_sys_die_when_link_dies(0);
    lun_send(parent, 0, "ready", 5);
    lun_received message;
    int kind = lun_receive(NULL, 0, 10000, NULL, 0, &message);
    int64_t report[2] = {kind, message.tag};
    lun_send(first, 2, report, sizeof report);
}

static void middle_crashes(int64_t first)
{
    uint64_t pid;
    lun_spawn_options options = {5, LUN_INHERIT, LUN_INHERIT};
    int64_t argument = (int64_t)((uint64_t)first << 32 | lun_self());
    if (lun_spawn_with(child_watch_parent, argument, &options, &pid) != 0) return;
    /* Waiting also handles the Link signal, so the child will be told. */
    lun_received message;
    lun_receive(NULL, 0, 10000, NULL, 0, &message);
    __builtin_trap();
}

__attribute__((export_name("returns_value"))) int returns_value(void)
{
    return 1;
}

/* ---- cases ----------------------------------------------------------------------------- */

static int case_ids(void)
{
    printf("pid=%llu env=%llu\n", (unsigned long long)lun_self(),
           (unsigned long long)lun_sys_environment_id());
    printf("version=%u.%u.%u\n", lun_sys_version_major(), lun_sys_version_minor(),
           lun_sys_version_patch());
    return 0;
}

static int case_spawn(void)
{
    uint64_t child = lun_spawn(child_report, (int64_t)lun_self());
    CHECK(child > 1);
    uint64_t reported;
    wait_data(&reported, sizeof reported);
    CHECK(reported == child);
    printf("ok spawn child=%llu\n", (unsigned long long)child);
    return 0;
}

static int case_spawn_missing_export(void)
{
    lun_sys_die_when_link_dies(0);
    uint64_t pid = 0;
    CHECK(lun_sys_spawn(7, -1, -1, "nope", 4, NULL, 0, &pid) == 0);
    CHECK(pid > 1);
    lun_received message;
    CHECK(lun_receive(NULL, 0, 10000, NULL, 0, &message) == LUN_LINK_DIED);
    printf("ok link died tag=%lld\n", (long long)message.tag);
    return 0;
}

static int case_spawn_bad_params(void)
{
    uint8_t params[5] = {0x7F};
    uint64_t pid;
    lun_sys_spawn(0, -1, -1, "lun_spawn_entry", 15, params, sizeof params, &pid);
    return 0;
}

static int case_spawn_bad_type(void)
{
    uint8_t params[17] = {0x01};
    uint64_t pid;
    lun_sys_spawn(0, -1, -1, "lun_spawn_entry", 15, params, sizeof params, &pid);
    return 0;
}

static int case_spawn_bad_config(void)
{
    uint64_t pid;
    lun_spawn_options options = {0, 42, LUN_INHERIT};
    lun_spawn_with(child_report, 0, &options, &pid);
    return 0;
}

static int case_spawn_bad_module(void)
{
    uint64_t pid;
    lun_spawn_options options = {0, LUN_INHERIT, 3};
    lun_spawn_with(child_report, 0, &options, &pid);
    return 0;
}

static int case_permissions(void)
{
    int64_t config = lun_config_create();
    CHECK(config == 0);
    CHECK(lun_sys_config_can_spawn_processes(config) == 0);
    CHECK(lun_sys_config_can_create_configs(config) == 0);
    CHECK(lun_sys_config_can_compile_modules(config) == 0);
    lun_sys_die_when_link_dies(0);
    uint64_t pid;
    lun_spawn_options options = {5, config, LUN_INHERIT};
    CHECK(lun_spawn_with(child_permissions, (int64_t)lun_self(), &options, &pid) == 0);
    int64_t results[2];
    wait_data(results, sizeof results);
    printf("child create_config=%lld compile_module=%lld\n", (long long)results[0],
           (long long)results[1]);
    lun_received message;
    CHECK(lun_receive(NULL, 0, 10000, NULL, 0, &message) == LUN_LINK_DIED);
    printf("ok child trapped on spawn, tag=%lld\n", (long long)message.tag);
    return 0;
}

static int case_config(void)
{
    int64_t config = lun_config_create();
    CHECK(lun_sys_config_get_max_memory(config) == 4294967295LL);
    CHECK(lun_sys_config_get_max_fuel(config) == 0);
    lun_sys_config_set_max_memory(config, 1 << 20);
    lun_sys_config_set_max_fuel(config, 9);
    lun_sys_config_set_can_spawn_processes(config, 5);
    lun_sys_config_set_can_create_configs(config, 1);
    lun_sys_config_set_can_compile_modules(config, 1);
    CHECK(lun_sys_config_get_max_memory(config) == 1 << 20);
    CHECK(lun_sys_config_get_max_fuel(config) == 9);
    CHECK(lun_sys_config_can_spawn_processes(config) == 1);
    CHECK(lun_sys_config_can_create_configs(config) == 1);
    CHECK(lun_sys_config_can_compile_modules(config) == 1);
    lun_sys_config_set_can_spawn_processes(config, 0);
    CHECK(lun_sys_config_can_spawn_processes(config) == 0);
    int64_t second = lun_config_create();
    CHECK(second == 1);
    lun_sys_drop_config(config);
    CHECK(lun_config_create() == 2); /* ids are never reused */
    printf("ok config\n");
    lun_sys_config_get_max_fuel(config); /* dropped: traps */
    return 0;
}

static int case_config_shared(void)
{
    /* A config edited after a spawn does not change the spawned child. */
    int64_t config = lun_config_create();
    lun_config_add_env(config, "GUEST_VAR", "first");
    uint64_t pid;
    lun_spawn_options options = {0, config, LUN_INHERIT};
    CHECK(lun_spawn_with(child_environment, (int64_t)lun_self(), &options, &pid) == 0);
    lun_config_add_env(config, "GUEST_VAR2", "later");
    char line[64] = {0};
    lun_received message;
    CHECK(lun_receive(NULL, 0, 10000, line, sizeof line - 1, &message) == LUN_DATA);
    printf("child %s\n", line);
    memset(line, 0, sizeof line);
    lun_sys_config_set_can_spawn_processes(config, 0);
    CHECK(lun_spawn_with(child_environment, (int64_t)lun_self(), &options, &pid) == 0);
    CHECK(lun_receive(NULL, 0, 10000, line, sizeof line - 1, &message) == LUN_DATA);
    printf("second child %s\n", line);
    return 0;
}

static int case_wasi_config(void)
{
    int64_t config = lun_config_create();
    lun_config_add_arg(config, "child-arg0");
    lun_config_add_env(config, "GUEST_VAR", "hello");
    uint64_t pid;
    lun_spawn_options options = {0, config, LUN_INHERIT};
    CHECK(lun_spawn_with(child_environment, (int64_t)lun_self(), &options, &pid) == 0);
    char line[64] = {0};
    lun_received message;
    CHECK(lun_receive(NULL, 0, 10000, line, sizeof line - 1, &message) == LUN_DATA);
    printf("child %s\n", line);
    return 0;
}

static int case_preopen_missing(void)
{
    int64_t config = lun_config_create();
    lun_config_preopen_dir(config, "/nonexistent-lunatic-dir");
    uint64_t pid;
    lun_spawn_options options = {0, config, LUN_INHERIT};
    lun_spawn_with(child_report, 0, &options, &pid); /* traps */
    return 0;
}

static int case_max_memory(void)
{
    int64_t config = lun_config_create();
    uint64_t id;
    lun_spawn_options options = {0, config, LUN_INHERIT};
    lun_sys_config_set_max_memory(config, 0); /* no memory at all */
    CHECK(lun_spawn_with(child_report, 0, &options, &id) == 1);
    lun_sys_error_drop((int64_t)id);
    lun_sys_config_set_max_memory(config, 65536); /* below the module's initial memory */
    CHECK(lun_spawn_with(child_report, 0, &options, &id) == 1);
    char text[200];
    lun_error_take((int64_t)id, text, sizeof text);
    printf("spawn error: %s\n", text);
    lun_sys_config_set_max_memory(config, 8 << 20);
    lun_sys_die_when_link_dies(0);
    options.link_tag = 3;
    int64_t parent = (int64_t)(lun_self() << 16);
    CHECK(lun_spawn_with(child_allocate, parent | 1, &options, &id) == 0);
    lun_received message;
    CHECK(lun_receive(NULL, 0, 10000, NULL, 0, &message) == LUN_DATA);
    options.link_tag = 4;
    CHECK(lun_spawn_with(child_allocate, parent | 32, &options, &id) == 0);
    CHECK(lun_receive(NULL, 0, 10000, NULL, 0, &message) == LUN_LINK_DIED);
    printf("ok big allocation failed, tag=%lld\n", (long long)message.tag);
    return 0;
}

static int case_max_fuel(void)
{
    int64_t config = lun_config_create();
    lun_sys_config_set_max_fuel(config, 3);
    lun_sys_die_when_link_dies(0);
    uint64_t id;
    lun_spawn_options options = {11, config, LUN_INHERIT};
    CHECK(lun_spawn_with(child_busy, 0, &options, &id) == 0);
    lun_received message;
    CHECK(lun_receive(NULL, 0, 20000, NULL, 0, &message) == LUN_LINK_DIED);
    printf("ok busy child ran out of fuel, tag=%lld\n", (long long)message.tag);
    return 0;
}

static int case_preemption(void)
{
    /* More busy loopers than worker threads; a ping-pong pair still finishes. */
    for (int i = 0; i < 4; i++)
        CHECK(lun_spawn(child_busy, 0) != 0);
    CHECK(lun_spawn(ping_pong_pair, (int64_t)lun_self()) != 0);
    int64_t done;
    wait_data(&done, sizeof done);
    printf("ok ping-pong beside busy loops: %lld rounds\n", (long long)done);
    return 0;
}

static int case_link_kill(void)
{
    uint64_t child = lun_spawn(child_sleep_forever, 0);
    CHECK(lun_sys_exists(child) == 1);
    lun_sys_die_when_link_dies(0);
    lun_sys_link(5, child);
    lun_sys_kill(child);
    lun_received message;
    CHECK(lun_receive(NULL, 0, 10000, NULL, 0, &message) == LUN_LINK_DIED);
    CHECK(message.tag == 5);
    CHECK(lun_sys_exists(child) == 0);
    lun_sys_kill(123456); /* unknown pid: ignored */
    printf("ok killed linked child, tag=%lld\n", (long long)message.tag);
    return 0;
}

static int case_link_dies(void)
{
    /* Default die_when_link_dies: a failing linked child kills the parent. */
    lun_spawn_link(child_crash, 10, 1);
    lun_sleep_ms(10000);
    printf("still alive\n");
    return 0;
}

static int case_link_no_process(void)
{
    lun_sys_die_when_link_dies(0);
    lun_sys_link(9, 999999);
    lun_received message;
    CHECK(lun_receive(NULL, 0, 10000, NULL, 0, &message) == LUN_LINK_DIED);
    printf("ok link to missing process, tag=%lld\n", (long long)message.tag);
    return 0;
}

static int case_unlink(void)
{
    uint64_t child = lun_spawn_link(child_crash, 100, 1);
    lun_sys_unlink(child);
    lun_sleep_ms(300);
    CHECK(lun_sys_exists(child) == 0);
    printf("ok survived unlinked crash\n");
    return 0;
}

static int case_monitor(void)
{
    uint64_t child = lun_spawn(child_crash, 100);
    lun_sys_monitor(child);
    lun_sys_monitor(999999); /* unknown: nothing at all */
    lun_received message;
    CHECK(lun_receive(NULL, 0, 10000, NULL, 0, &message) == LUN_PROCESS_DIED);
    CHECK(message.process_id == child);
    CHECK(message.tag == 0);
    uint64_t other = lun_spawn(child_sleep_forever, 0);
    lun_sys_monitor(other);
    lun_sys_stop_monitoring(other);
    lun_sys_kill(other);
    CHECK(lun_receive(NULL, 0, 200, NULL, 0, &message) == LUN_TIMEOUT);
    printf("ok monitor\n");
    return 0;
}

static int case_sleep(void)
{
    uint64_t start = now_ms();
    lun_sleep_ms(100);
    uint64_t elapsed = now_ms() - start;
    CHECK(elapsed >= 95);
    printf("ok slept\n");
    return 0;
}

static int case_message(void)
{
    lun_sys_create_data(42, 0);
    CHECK(lun_sys_write_data("hello ", 6) == 6);
    CHECK(lun_sys_write_data("world", 5) == 5);
    CHECK(lun_sys_data_size() == 11);
    CHECK(lun_sys_get_tag() == 42);
    char text[16] = {0};
    CHECK(lun_sys_read_data(text, 5) == 5);
    CHECK(memcmp(text, "hello", 5) == 0);
    lun_sys_seek_data(6);
    CHECK(lun_sys_read_data(text, 16) == 5);
    CHECK(memcmp(text, "world", 5) == 0);
    CHECK(lun_sys_read_data(text, 16) == 0);
    CHECK(lun_sys_send(lun_self()) == 0);
    /* Selective receive: tags 1, 2 and untagged, taken out of order. */
    uint64_t self = lun_self();
    lun_send(self, 1, "one", 3);
    lun_send(self, 0, "none", 4);
    lun_send(self, 2, "two", 3);
    /* Messages sent to oneself arrive as signals, handled when the process
     * next waits: sleep once so that they are in the mailbox. */
    lun_sleep_ms(10);
    int64_t want_two = 2;
    lun_received message;
    CHECK(lun_receive(&want_two, 1, 0, text, sizeof text, &message) == LUN_DATA);
    CHECK(message.tag == 2 && memcmp(text, "two", 3) == 0);
    int64_t zero = 0;
    CHECK(lun_receive(&zero, 1, 0, text, sizeof text, &message) == LUN_TIMEOUT);
    CHECK(lun_receive(NULL, 0, 0, text, sizeof text, &message) == LUN_DATA);
    CHECK(message.tag == 42 && message.size == 11);
    CHECK(lun_receive(NULL, 0, 0, text, sizeof text, &message) == LUN_DATA);
    CHECK(message.tag == 1);
    CHECK(lun_receive(NULL, 0, 0, text, sizeof text, &message) == LUN_DATA);
    CHECK(message.tag == 0 && memcmp(text, "none", 4) == 0);
    uint64_t start = now_ms();
    CHECK(lun_receive(NULL, 0, 100, text, sizeof text, &message) == LUN_TIMEOUT);
    CHECK(now_ms() - start >= 95);
    lun_send(999999, 0, "lost", 4); /* no such process: dropped */
    printf("ok message\n");
    return 0;
}

static int case_message_no_scratch(void)
{
    char byte;
    lun_sys_read_data(&byte, 1); /* nothing in the scratch area: traps */
    return 0;
}

static int case_send_no_scratch(void)
{
    lun_sys_send(lun_self());
    return 0;
}

static int case_receive_out_of_bounds(void)
{
    lun_sys_receive((const int64_t *)0x7FFFFFF0, 1000, 0);
    return 0;
}

static int case_request(void)
{
    uint64_t echo = lun_spawn(child_echo, 0);
    /* Old messages with the reply tag are not searched by skip-search. */
    int64_t tag = lun_new_tag();
    lun_send(lun_self(), tag, "old", 3);
    lun_sleep_ms(10); /* "old" is in the mailbox before the request starts */
    uint64_t self = lun_self(), answer = 0;
    lun_received message;
    CHECK(lun_request(echo, tag, &self, sizeof self, 10000, &answer, sizeof answer, &message) ==
          LUN_DATA);
    CHECK(answer == echo && message.tag == tag);
    CHECK(lun_sys_send_receive_skip_search(lun_self(), lun_new_tag(), 50) == LUN_TIMEOUT);
    printf("ok request reply\n");
    return 0;
}

static int case_timer(void)
{
    uint64_t start = now_ms();
    int64_t first = lun_send_after(lun_self(), 7, "tick", 4, 100);
    CHECK(first == 0);
    int64_t second = lun_send_after(lun_self(), 8, "tock", 4, 100000);
    CHECK(second == 1);
    char text[8];
    lun_received message;
    int64_t seven = 7;
    CHECK(lun_receive(&seven, 1, 10000, text, sizeof text, &message) == LUN_DATA);
    CHECK(now_ms() - start >= 95);
    CHECK(lun_cancel_timer(first) == false); /* already fired */
    CHECK(lun_cancel_timer(second) == true);
    CHECK(lun_cancel_timer(second) == false);
    CHECK(lun_cancel_timer(555) == false);
    int64_t third = lun_send_after(999999, 0, "x", 1, 10);
    CHECK(third == 2);
    printf("ok timer\n");
    return 0;
}

static int case_registry(void)
{
    uint64_t pid = 0;
    CHECK(!lun_lookup("server", &pid));
    lun_register("server", 77);
    CHECK(lun_lookup("server", &pid) && pid == 77);
    lun_register("server", 78);
    CHECK(lun_lookup("server", &pid) && pid == 78);
    lun_unregister("server");
    CHECK(!lun_lookup("server", &pid));
    uint8_t params[34] = {0};
    uint64_t node = 9, first = 0, second = 0;
    uint32_t entry = (uint32_t)(uintptr_t)child_sleep_forever;
    params[0] = 0x7F;
    memcpy(params + 1, &entry, sizeof entry);
    params[17] = 0x7E;
    CHECK(lun_sys_get_or_spawn("worker", 6, 0, -1, -1, "lun_spawn_entry", 15, params, 34, &node,
                               &first) == 0);
    CHECK(node == 0 && first > 1);
    CHECK(lun_sys_get_or_spawn("worker", 6, 0, -1, -1, "lun_spawn_entry", 15, params, 34, &node,
                               &second) == 2);
    CHECK(second == first);
    printf("ok registry\n");
    lun_sys_registry_get("bad\xff", 4, &node, &pid); /* invalid UTF-8: traps */
    return 0;
}

static int case_error(void)
{
    int64_t config = lun_config_create();
    lun_sys_config_set_max_memory(config, 1);
    uint64_t id;
    lun_spawn_options options = {0, config, LUN_INHERIT};
    CHECK(lun_spawn_with(child_report, 0, &options, &id) == 1);
    uint32_t size = lun_sys_error_string_size((int64_t)id);
    CHECK(size > 0);
    char text[256] = {0};
    lun_sys_error_to_string((int64_t)id, text);
    CHECK(strlen(text) == size);
    lun_sys_error_drop((int64_t)id);
    printf("ok error: %s\n", text);
    lun_sys_error_string_size((int64_t)id); /* dropped: traps */
    return 0;
}

static int case_compile(void)
{
    uint64_t id = 0;
    CHECK(lun_sys_compile_module("garbage", 7, &id) == 1);
    char text[200];
    lun_error_take((int64_t)id, text, sizeof text);
    printf("compile error: %s\n", text);
    /* Compile this very program again (read through WASI) and spawn it. */
    FILE *file = fopen("api_guest.wasm", "rb");
    CHECK(file != NULL);
    size_t capacity = 4 << 20;
    unsigned char *bytes = malloc(capacity);
    CHECK(bytes != NULL);
    size_t size = fread(bytes, 1, capacity, file);
    fclose(file);
    CHECK(lun_sys_compile_module(bytes, (uint32_t)size, &id) == 0);
    free(bytes);
    uint64_t pid;
    lun_spawn_options options = {0, LUN_INHERIT, (int64_t)id};
    CHECK(lun_spawn_with(child_report, (int64_t)lun_self(), &options, &pid) == 0);
    uint64_t reported;
    wait_data(&reported, sizeof reported);
    CHECK(reported == pid);
    lun_sys_create_data(0, 0);
    CHECK(lun_sys_push_module((int64_t)id) == 0);
    int64_t taken = lun_sys_take_module(0);
    CHECK(taken == (int64_t)id + 1);
    lun_sys_drop_module((int64_t)id);
    printf("ok compiled and spawned module\n");
    lun_sys_drop_module((int64_t)id); /* dropped twice: traps */
    return 0;
}

static int case_distributed(void)
{
    uint64_t nodes[4];
    CHECK(sys_node_id() == 0 && sys_module_id() == 0 && sys_nodes_count() == 0);
    CHECK(sys_get_nodes(nodes, 4) == 0);
    sys_increment_counter("requests", 8);
    sys_gauge("load", 4, 0.5);
    printf("ok single node\n");
    uint64_t id;
    sys_distributed_spawn(1, -1, -1, "x", 1, NULL, 0, &id); /* traps */
    return 0;
}

/* Reads one address of a DNS iterator (IPv4 expected) and drops it. */
static uint16_t iterator_port(uint64_t iterator, uint8_t expected_first_byte)
{
    uint32_t type = 0, flow = 0xAAAA, scope = 0xBBBB;
    uint8_t bytes[16] = {0};
    uint16_t port = 0;
    CHECK(lun_sys_resolve_next(iterator, &type, bytes, &port, &flow, &scope) == 0);
    CHECK(type == 4 && bytes[0] == expected_first_byte);
    CHECK(flow == 0xAAAA && scope == 0xBBBB); /* untouched for IPv4 */
    lun_sys_drop_dns_iterator(iterator);
    return port;
}

static void expect_error_id(uint64_t id)
{
    CHECK(lun_sys_error_string_size((int64_t)id) > 0);
    lun_sys_error_drop((int64_t)id);
}

/* The raw lunatic::networking ABI in one process: codes, ids, address
 * iterators, timeouts, peek, clone, sockets in messages; then a trap on a
 * bad address type. */
static int case_networking(void)
{
    uint8_t loopback[4] = {127, 0, 0, 1};
    uint64_t listener, iterator, client, server, peer, count, error;
    CHECK(lun_sys_tcp_bind(4, loopback, 0, 0, 0, &listener) == 0 && listener == 0);
    CHECK(lun_sys_tcp_local_addr(listener, &iterator) == 0);
    uint16_t port = iterator_port(iterator, 127);
    CHECK(port != 0);
    CHECK(lun_sys_tcp_connect(4, loopback, port, 0, 0, 1000, &client) == 0);
    CHECK(lun_sys_tcp_accept(listener, &server, &peer) == 0);
    CHECK(iterator_port(peer, 127) != 0);
    uint32_t iovecs[4] = {(uint32_t)(uintptr_t) "hel", 3, (uint32_t)(uintptr_t) "lo", 2};
    CHECK(lun_sys_tcp_write_vectored(client, iovecs, 2, &count) == 0 && count == 5);
    CHECK(lun_sys_tcp_flush(client, &error) == 0 && error == 0);
    char buffer[16];
    lun_sys_set_peek_timeout(server, 1000);
    CHECK(lun_sys_get_peek_timeout(server) == 1000);
    CHECK(lun_sys_tcp_peek(server, buffer, 5, &count) == 0 && count == 5);
    CHECK(memcmp(buffer, "hello", 5) == 0);
    memset(buffer, 0, sizeof buffer);
    CHECK(lun_sys_tcp_read(server, buffer, sizeof buffer, &count) == 0 && count == 5);
    CHECK(memcmp(buffer, "hello", 5) == 0); /* peek consumed nothing */
    CHECK(lun_sys_get_read_timeout(server) == UINT64_MAX);
    lun_sys_set_read_timeout(server, 50);
    CHECK(lun_sys_get_read_timeout(server) == 50);
    CHECK(lun_sys_tcp_read(server, buffer, sizeof buffer, &count) == 9027);
    /* A clone outlives the dropped original. */
    uint64_t clone = lun_sys_clone_tcp_stream(client);
    CHECK(clone != client);
    lun_sys_drop_tcp_stream(client);
    uint32_t one[2] = {(uint32_t)(uintptr_t) "x", 1};
    CHECK(lun_sys_tcp_write_vectored(clone, one, 1, &count) == 0 && count == 1);
    CHECK(lun_sys_tcp_read(server, buffer, sizeof buffer, &count) == 0 && count == 1);
    /* A stream in a message to ourselves comes back under a new id. */
    lun_sys_create_data(0, 0);
    CHECK(lun_sys_push_tcp_stream(server) == 0);
    CHECK(lun_sys_send(lun_sys_process_id()) == 0);
    CHECK(lun_sys_receive(NULL, 0, 1000) == 0);
    uint64_t moved = lun_sys_take_tcp_stream(0);
    CHECK(moved != server);
    CHECK(lun_sys_tcp_write_vectored(clone, one, 1, &count) == 0 && count == 1);
    CHECK(lun_sys_tcp_read(moved, buffer, sizeof buffer, &count) == 0 && count == 1);
    lun_sys_drop_tcp_stream(clone); /* the last handle: the peer sees EOF */
    CHECK(lun_sys_tcp_read(moved, buffer, sizeof buffer, &count) == 0 && count == 0);
    lun_sys_drop_tcp_stream(moved);
    /* Refused: code 1 and an error id. */
    lun_sys_drop_tcp_listener(listener);
    CHECK(lun_sys_tcp_connect(4, loopback, port, 0, 0, 1000, &error) == 1);
    expect_error_id(error);
    /* DNS. */
    CHECK(lun_sys_resolve("localhost:80", 12, 5000, &iterator) == 0);
    uint32_t type;
    uint8_t bytes[16];
    uint16_t resolved_port = 0;
    uint32_t flow, scope;
    CHECK(lun_sys_resolve_next(iterator, &type, bytes, &resolved_port, &flow, &scope) == 0);
    CHECK((type == 4 || type == 6) && resolved_port == 80);
    lun_sys_drop_dns_iterator(iterator);
    CHECK(lun_sys_resolve("localhost", 9, 5000, &error) == 1);
    expect_error_id(error);
    /* UDP. */
    uint64_t a, b;
    CHECK(lun_sys_udp_bind(4, loopback, 0, 0, 0, &a) == 0);
    CHECK(lun_sys_udp_bind(4, loopback, 0, 0, 0, &b) == 0);
    CHECK(lun_sys_udp_local_addr(b, &iterator) == 0);
    uint16_t b_port = iterator_port(iterator, 127);
    CHECK(lun_sys_udp_peer_addr(a, &error) == 1);
    expect_error_id(error);
    CHECK(lun_sys_udp_send_to(a, "datagram", 8, 4, loopback, b_port, 0, 0, &count) == 0);
    CHECK(count == 8);
    CHECK(lun_sys_udp_receive_from(b, buffer, sizeof buffer, &count, &peer) == 0 && count == 8);
    CHECK(memcmp(buffer, "datagram", 8) == 0);
    CHECK(iterator_port(peer, 127) != 0);
    CHECK(lun_sys_udp_connect(a, 4, loopback, b_port, 0, 0, 1000, &error) == 0 && error == 0);
    CHECK(lun_sys_udp_peer_addr(a, &iterator) == 0);
    CHECK(iterator_port(iterator, 127) == b_port);
    lun_sys_set_udp_socket_ttl(a, 42);
    CHECK(lun_sys_get_udp_socket_ttl(a) == 42);
    lun_sys_set_udp_socket_broadcast(a, 1);
    CHECK(lun_sys_get_udp_socket_broadcast(a) == 1);
    lun_sys_drop_udp_socket(a);
    lun_sys_drop_udp_socket(b);
    printf("ok networking\n");
    fflush(stdout);
    sys_tcp_bind(5, loopback, 0, 0, 0, &listener); /* traps: no such address type */
    return 0;
}

static void hold_listener(int64_t port)
{
    uint8_t loopback[4] = {127, 0, 0, 1};
    uint64_t listener, stream, peer;
    if (lun_sys_tcp_bind(4, loopback, (uint32_t)port, 0, 0, &listener) != 0) return;
    lun_sys_tcp_accept(listener, &stream, &peer); /* waits until killed */
}

static void hold_stream(int64_t port)
{
    uint8_t loopback[4] = {127, 0, 0, 1};
    uint64_t stream, count;
    char buffer[8];
    if (lun_sys_tcp_connect(4, loopback, (uint32_t)port, 0, 0, 1000, &stream) != 0) return;
    lun_sys_tcp_read(stream, buffer, sizeof buffer, &count); /* waits until killed */
}

static void keep_resolving(int64_t unused)
{
    (void)unused;
    for (;;) {
        uint64_t iterator;
        if (lun_sys_resolve("localhost:80", 12, UINT64_MAX, &iterator) == 0)
            lun_sys_drop_dns_iterator(iterator);
    }
}

/* Processes killed while waiting in accept, read and resolve: their
 * sockets close (the port can be bound again, the peer reads EOF) and
 * their pending calls are released (checked by the sanitizers). */
static int case_networking_kill(void)
{
    uint8_t loopback[4] = {127, 0, 0, 1};
    uint64_t listener, iterator, stream, peer, count, error;
    CHECK(lun_sys_tcp_bind(4, loopback, 0, 0, 0, &listener) == 0);
    CHECK(lun_sys_tcp_local_addr(listener, &iterator) == 0);
    uint16_t port = iterator_port(iterator, 127);
    lun_sys_drop_tcp_listener(listener);
    uint64_t holder = lun_spawn(hold_listener, port);
    lun_sleep_ms(200);
    CHECK(lun_sys_tcp_bind(4, loopback, port, 0, 0, &error) == 1); /* in use */
    expect_error_id(error);
    lun_kill(holder);
    bool bound = false;
    for (int i = 0; i < 100 && !bound; i++) {
        lun_sleep_ms(10);
        if (lun_sys_tcp_bind(4, loopback, port, 0, 0, &listener) == 0)
            bound = true;
        else
            lun_sys_error_drop((int64_t)listener);
    }
    CHECK(bound);
    uint64_t reader = lun_spawn(hold_stream, port);
    CHECK(lun_sys_tcp_accept(listener, &stream, &peer) == 0);
    lun_sys_drop_dns_iterator(peer);
    lun_sleep_ms(50);
    lun_kill(reader);
    char buffer[8];
    lun_sys_set_read_timeout(stream, 2000);
    CHECK(lun_sys_tcp_read(stream, buffer, sizeof buffer, &count) == 0 && count == 0);
    for (int i = 0; i < 4; i++) {
        uint64_t resolver = lun_spawn(keep_resolving, 0);
        lun_sleep_ms((uint64_t)i);
        lun_kill(resolver);
    }
    printf("ok networking kill\n");
    return 0;
}

static int32_t catch_doubles(int32_t value)
{
    return value * 2;
}

static int32_t catch_traps(int32_t value)
{
    if (value >= 0) __builtin_trap();
    return value;
}

/* Suspends inside the guarded call (sleep, receive), then returns. */
static int32_t catch_waits(int32_t value)
{
    lun_sleep_ms(20);
    lun_send(lun_self(), 5, "x", 1);
    int64_t tag = 5;
    lun_received message;
    if (lun_receive(&tag, 1, 10000, NULL, 0, &message) != LUN_DATA) return -1;
    return value;
}

static int32_t catch_nested(int32_t value)
{
    return lun_catch(catch_traps, value) + lun_catch(catch_doubles, value);
}

static int case_trap_catch(void)
{
    int32_t doubled = lun_catch(catch_doubles, 21);
    int32_t trapped = lun_catch(catch_traps, 1);
    int32_t waited = lun_catch(catch_waits, 7);
    int32_t nested = lun_catch(catch_nested, 3);
    printf("catch: %d %d %d nested=%d\n", doubled, trapped, waited, nested);
    /* The process goes on normally after a caught trap. */
    CHECK(lun_spawn(child_report, (int64_t)lun_self()) != 0);
    uint64_t reported;
    wait_data(&reported, sizeof reported);
    printf("ok after catch\n");
    return 0;
}

static int32_t catch_exits(int32_t value)
{
    exit(value);
}

static int case_trap_catch_exit(void)
{
    lun_catch(catch_exits, 6);
    printf("still running after exit\n");
    return 0;
}

static int case_exit_code(void)
{
    exit(7);
}

static int case_trap(void)
{
    __builtin_trap();
}

static int case_wasi_sleep(void)
{
    /* poll_oneoff parks the process instead of blocking a worker thread:
     * with more sleepers than workers, a ping-pong pair still runs. */
    for (int i = 0; i < 4; i++)
        CHECK(lun_spawn(child_wasi_sleep, (int64_t)lun_self()) != 0);
    CHECK(lun_spawn(ping_pong_pair, (int64_t)lun_self()) != 0);
    int64_t pair_tag = 77, done;
    lun_received message;
    CHECK(lun_receive(&pair_tag, 1, 60000, &done, sizeof done, &message) == LUN_DATA);
    int64_t slept = 99;
    CHECK(lun_receive(&slept, 1, 0, NULL, 0, &message) == LUN_TIMEOUT);
    printf("ok ping-pong done while 4 processes sleep in poll_oneoff\n");
    for (int i = 0; i < 4; i++)
        CHECK(lun_receive(&slept, 1, 10000, NULL, 0, &message) == LUN_DATA);
    printf("ok sleepers woke\n");
    return 0;
}

static int case_wasi_sleep_kill(void)
{
    lun_sys_die_when_link_dies(0);
    uint64_t child = lun_spawn_link(child_wasi_sleep_long, 0, 21);
    lun_sleep_ms(50);
    lun_sys_kill(child);
    lun_received message;
    CHECK(lun_receive(NULL, 0, 10000, NULL, 0, &message) == LUN_LINK_DIED);
    printf("ok killed a process sleeping in poll_oneoff, tag=%lld\n", (long long)message.tag);
    return 0;
}

static int case_sched_yield(void)
{
    for (int i = 0; i < 1000; i++)
        sched_yield();
    printf("ok sched_yield\n");
    return 0;
}

static int case_child_exit(void)
{
    lun_sys_die_when_link_dies(0);
    uint64_t normal = lun_spawn_link(child_exit, 0, 31);
    lun_sys_monitor(normal);
    uint64_t failing = lun_spawn_link(child_exit, 3, 32);
    lun_received message;
    int kinds[2] = {0}, tags[2] = {0};
    for (int i = 0; i < 2; i++) {
        kinds[i] = lun_receive(NULL, 0, 10000, NULL, 0, &message);
        tags[i] = (int)(kinds[i] == LUN_LINK_DIED ? message.tag : (int64_t)message.process_id);
    }
    /* exit(0) is a normal death (no LinkDied; maybe a ProcessDied if the
     * monitor came in time); exit(3) a failure. */
    bool saw_failure = false;
    for (int i = 0; i < 2; i++) {
        if (kinds[i] == LUN_LINK_DIED) {
            CHECK(tags[i] == 32);
            saw_failure = true;
        } else if (kinds[i] == LUN_PROCESS_DIED) {
            CHECK((uint64_t)tags[i] == normal);
        } else {
            CHECK(kinds[i] == LUN_TIMEOUT);
        }
    }
    CHECK(saw_failure);
    (void)failing;
    printf("ok exit(0) is normal, exit(3) a failure\n");
    return 0;
}

static int case_parent_failure(void)
{
    CHECK(lun_spawn(middle_crashes, (int64_t)lun_self()) != 0);
    int64_t report_tag = 2;
    lun_received message;
    int64_t report[2];
    CHECK(lun_receive(&report_tag, 1, 10000, report, sizeof report, &message) == LUN_DATA);
    printf("ok child saw parent failure: kind=%lld tag=%lld\n", (long long)report[0],
           (long long)report[1]);
    return 0;
}

static int case_entry_with_results(void)
{
    lun_sys_die_when_link_dies(0);
    uint64_t pid;
    CHECK(lun_sys_spawn(41, -1, -1, "returns_value", 13, NULL, 0, &pid) == 0);
    lun_received message;
    CHECK(lun_receive(NULL, 0, 10000, NULL, 0, &message) == LUN_LINK_DIED);
    printf("ok entry with results fails, tag=%lld\n", (long long)message.tag);
    return 0;
}

static int case_get_or_spawn_error(void)
{
    int64_t config = lun_config_create();
    lun_sys_config_set_max_memory(config, 1);
    uint64_t node = 5, id = 0, pid;
    CHECK(lun_sys_get_or_spawn("broken", 6, 0, config, -1, "x", 1, NULL, 0, &node, &id) == 1);
    char text[128];
    lun_error_take((int64_t)id, text, sizeof text);
    CHECK(!lun_lookup("broken", &pid)); /* an error id is not registered */
    printf("ok get_or_spawn error not registered: %s\n", text);
    return 0;
}

static void child_read_home(int64_t parent)
{
    char line[128] = "cannot open ~/preopen_data/hello.txt";
    FILE *file = fopen("~/preopen_data/hello.txt", "r");
    if (file != NULL) {
        if (fgets(line, sizeof line, file) == NULL) line[0] = '\0';
        fclose(file);
    }
    lun_send((uint64_t)parent, 0, line, strlen(line));
}

static int case_preopen_home(void)
{
    int64_t config = lun_config_create();
    lun_config_preopen_dir(config, "~");
    uint64_t pid;
    lun_spawn_options options = {0, config, LUN_INHERIT};
    CHECK(lun_spawn_with(child_read_home, (int64_t)lun_self(), &options, &pid) == 0);
    char line[128] = {0};
    lun_received message;
    CHECK(lun_receive(NULL, 0, 10000, line, sizeof line - 1, &message) == LUN_DATA);
    printf("child read: %s", line);
    return 0;
}

/* ---- chaos: host calls with random arguments must trap or return, never
 * bring the runtime down ---------------------------------------------------- */

static uint64_t chaos_state;

static uint64_t chaos_next(void)
{
    chaos_state = chaos_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return chaos_state >> 11;
}

/* A pointer-sized value: often inside memory, sometimes at its end or far out. */
static uint32_t chaos_pointer(void)
{
    uint32_t size = (uint32_t)(__builtin_wasm_memory_size(0) * 65536);
    switch (chaos_next() % 4) {
    case 0: return (uint32_t)(chaos_next() % size);
    case 1: return size - (uint32_t)(chaos_next() % 64);
    case 2: return (uint32_t)chaos_next();
    default: return (uint32_t)(chaos_next() % 4096);
    }
}

static uint32_t chaos_length(void)
{
    return chaos_next() % 3 == 0 ? (uint32_t)chaos_next() : (uint32_t)(chaos_next() % 256);
}

static int64_t chaos_id(void)
{
    switch (chaos_next() % 3) {
    case 0: return (int64_t)(chaos_next() % 4);
    case 1: return -1;
    default: return (int64_t)chaos_next();
    }
}

static void chaos_child(int64_t seed)
{
    chaos_state = (uint64_t)seed * 7919 + 17;
    for (int i = 0; i < 20; i++) {
        /* Often have a message ready, so that calls get past that check. */
        if (chaos_next() % 2) lun_sys_create_data(0, 16);
        switch (chaos_next() % 16) {
        case 0:
            lun_sys_receive((const int64_t *)(uintptr_t)chaos_pointer(), chaos_length(),
                            chaos_next() % 20);
            break;
        case 1: lun_sys_create_data(chaos_id(), chaos_next()); break;
        case 2: lun_sys_write_data((const void *)(uintptr_t)chaos_pointer(), chaos_length()); break;
        case 3: lun_sys_read_data((void *)(uintptr_t)chaos_pointer(), chaos_length()); break;
        case 4: lun_sys_seek_data(chaos_next()); break;
        case 5: {
            uint64_t id;
            lun_sys_compile_module((const void *)(uintptr_t)chaos_pointer(), chaos_length(), &id);
            break;
        }
        case 6: lun_sys_push_module(chaos_id()); break;
        case 7: lun_sys_take_module((uint64_t)chaos_id()); break;
        case 8: {
            uint64_t node, pid;
            lun_sys_registry_get((const char *)(uintptr_t)chaos_pointer(), chaos_length(), &node,
                                 &pid);
            break;
        }
        case 9: lun_sys_error_to_string(chaos_id(), (char *)(uintptr_t)chaos_pointer()); break;
        case 10: lun_sys_send_after((uint64_t)chaos_id(), chaos_next() % 50); break;
        case 11: lun_sys_cancel_timer(chaos_id()); break;
        case 12: lun_sys_config_set_max_memory(chaos_id(), (int64_t)chaos_next()); break;
        case 13: {
            uint64_t id;
            lun_sys_spawn(0, chaos_id(), chaos_id(), (const char *)(uintptr_t)chaos_pointer(),
                          chaos_length() % 32, (const void *)(uintptr_t)chaos_pointer(),
                          chaos_length(), &id);
            break;
        }
        case 14: lun_sys_config_preopen_dir(chaos_id(), "/", 1); break;
        default: lun_sys_send(chaos_next() % 8); break;
        }
    }
}

static int case_chaos(void)
{
    enum { CHILDREN = 400 };
    static uint64_t children[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        children[i] = lun_spawn(chaos_child, i);
    lun_sleep_ms(300);
    for (int i = 0; i < CHILDREN; i++)
        if (children[i] != 0) lun_sys_kill(children[i]);
    printf("ok survived %d chaotic processes\n", CHILDREN);
    return 0;
}

static int case_write_no_scratch(void)
{
    lun_sys_write_data("x", 1);
    return 0;
}

static int case_take_module_twice(void)
{
    FILE *file = fopen("api_guest.wasm", "rb");
    CHECK(file != NULL);
    size_t capacity = 4 << 20;
    unsigned char *bytes = malloc(capacity);
    size_t size = fread(bytes, 1, capacity, file);
    fclose(file);
    uint64_t id;
    CHECK(lun_sys_compile_module(bytes, (uint32_t)size, &id) == 0);
    lun_sys_create_data(0, 0);
    CHECK(lun_sys_push_module((int64_t)id) == 0);
    CHECK(lun_sys_take_module(0) == 1);
    printf("ok took module once\n");
    lun_sys_take_module(0); /* the slot is empty now: traps */
    return 0;
}

static int case_push_socket(void)
{
    lun_sys_create_data(0, 0);
    sys_push_tcp_stream(0); /* no such stream: traps */
    return 0;
}

static int case_sqlite(void)
{
    uint64_t id;
    sys_sqlite_open("db", 2, &id);
    return 0;
}

static int case_metrics_bad_name(void)
{
    sys_increment_counter("\xc3", 1);
    return 0;
}

static int case_spawn_v128(void)
{
    uint8_t params[17] = {0x7B};
    uint64_t pid;
    lun_sys_spawn(0, -1, -1, "lun_spawn_entry", 15, params, sizeof params, &pid);
    return 0;
}

static int case_read_file(void)
{
    /* argv: api_guest.wasm read_file PATH... : print each file's first line */
    extern int guest_argc;
    extern char **guest_argv;
    for (int i = 2; i < guest_argc; i++) {
        FILE *file = fopen(guest_argv[i], "r");
        char line[128] = {0};
        if (file == NULL) {
            printf("cannot open %s\n", guest_argv[i]);
            continue;
        }
        if (fgets(line, sizeof line, file) == NULL) line[0] = '\0';
        fclose(file);
        printf("%s: %s", guest_argv[i], line);
    }
    return 0;
}

typedef struct test_case {
    const char *name;
    int (*run)(void);
} test_case;

static const test_case cases[] = {
    {"ids", case_ids},
    {"spawn", case_spawn},
    {"spawn_missing_export", case_spawn_missing_export},
    {"spawn_bad_params", case_spawn_bad_params},
    {"spawn_bad_type", case_spawn_bad_type},
    {"spawn_bad_config", case_spawn_bad_config},
    {"spawn_bad_module", case_spawn_bad_module},
    {"permissions", case_permissions},
    {"config", case_config},
    {"config_shared", case_config_shared},
    {"wasi_config", case_wasi_config},
    {"preopen_missing", case_preopen_missing},
    {"max_memory", case_max_memory},
    {"max_fuel", case_max_fuel},
    {"preemption", case_preemption},
    {"link_kill", case_link_kill},
    {"link_dies", case_link_dies},
    {"link_no_process", case_link_no_process},
    {"unlink", case_unlink},
    {"monitor", case_monitor},
    {"sleep", case_sleep},
    {"message", case_message},
    {"message_no_scratch", case_message_no_scratch},
    {"send_no_scratch", case_send_no_scratch},
    {"receive_out_of_bounds", case_receive_out_of_bounds},
    {"request", case_request},
    {"timer", case_timer},
    {"registry", case_registry},
    {"error", case_error},
    {"compile", case_compile},
    {"distributed", case_distributed},
    {"networking", case_networking},
    {"networking_kill", case_networking_kill},
    {"trap_catch", case_trap_catch},
    {"exit_code", case_exit_code},
    {"trap", case_trap},
    {"wasi_sleep", case_wasi_sleep},
    {"wasi_sleep_kill", case_wasi_sleep_kill},
    {"sched_yield", case_sched_yield},
    {"child_exit", case_child_exit},
    {"parent_failure", case_parent_failure},
    {"entry_with_results", case_entry_with_results},
    {"get_or_spawn_error", case_get_or_spawn_error},
    {"spawn_v128", case_spawn_v128},
    {"read_file", case_read_file},
    {"write_no_scratch", case_write_no_scratch},
    {"take_module_twice", case_take_module_twice},
    {"push_socket", case_push_socket},
    {"sqlite", case_sqlite},
    {"metrics_bad_name", case_metrics_bad_name},
    {"preopen_home", case_preopen_home},
    {"chaos", case_chaos},
    {"trap_catch_exit", case_trap_catch_exit},
};

int guest_argc;
char **guest_argv;

int main(int argc, char **argv)
{
    guest_argc = argc;
    guest_argv = argv;
    if (argc < 2) {
        fprintf(stderr, "usage: api_guest CASE\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0); /* output survives the deliberate traps */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(argv[1], cases[i].name) == 0) {
            int status = cases[i].run();
            fflush(stdout);
            return status;
        }
    }
    fprintf(stderr, "unknown case %s\n", argv[1]);
    return 2;
}
