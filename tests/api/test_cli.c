/*
 * Integration tests of the api layer through the `lunatic` command: every
 * case of guest/api_guest.c runs as `lunatic run api_guest.wasm CASE` in the
 * guest folder (preopened as "."), and its exit status, stdout and stderr
 * are checked. Host functions are checked on their success and error paths
 * (traps end the first process: status 1 and the reason on stderr).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "run_command.h"

static command_result run_case(const char *name)
{
    const char *argv[] = {LUN_CLI_PATH, "run", "api_guest.wasm", name, NULL};
    command_result result;
    int started = run_command(argv, LUN_API_GUEST_DIR, 120, &result);
    if (started != 0 || result.output == NULL || result.errors == NULL)
        fail_msg("case %s: could not run or timed out (status %d)", name, result.status);
    return result;
}

/* Runs a case; checks its status and that stdout / stderr contain the
 * given texts (NULL: not checked). */
static void expect(const char *name, int status, const char *in_output, const char *in_errors)
{
    command_result result = run_case(name);
    if (result.status != status || (in_output && !strstr(result.output, in_output)) ||
        (in_errors && !strstr(result.errors, in_errors))) {
        print_error("case %s: status %d (expected %d)\n--- stdout\n%s--- stderr\n%s---\n", name,
                    result.status, status, result.output, result.errors);
        command_result_free(&result);
        fail();
    }
    command_result_free(&result);
}

#define CASE_OK(name, text)                                                                        \
    static void test_##name(void **state)                                                          \
    {                                                                                              \
        (void)state;                                                                               \
        expect(#name, 0, text, NULL);                                                              \
    }

#define CASE_TRAP(name, text)                                                                      \
    static void test_##name(void **state)                                                          \
    {                                                                                              \
        (void)state;                                                                               \
        expect(#name, 1, NULL, text);                                                              \
    }

CASE_OK(ids, "pid=1 env=1")
CASE_OK(spawn, "ok spawn child=2")
CASE_OK(spawn_missing_export, "ok link died tag=7")
CASE_TRAP(spawn_bad_params, "multiple of 17")
CASE_TRAP(spawn_bad_type, "unknown parameter type 0x01")
CASE_TRAP(spawn_bad_config, "unknown config id 42")
CASE_TRAP(spawn_bad_module, "unknown module id 3")
CASE_OK(permissions, "ok child trapped on spawn, tag=5")
CASE_TRAP(config, "unknown config id 0")
CASE_OK(wasi_config, "child env=hello var2=(none) argc=1 argv0=child-arg0")
CASE_TRAP(preopen_missing, "nonexistent-lunatic-dir")
CASE_OK(max_memory, "ok big allocation failed, tag=4")
CASE_OK(max_fuel, "ok busy child ran out of fuel, tag=11")
CASE_OK(preemption, "ok ping-pong beside busy loops: 50 rounds")
CASE_OK(link_kill, "ok killed linked child, tag=5")
CASE_OK(link_no_process, "ok link to missing process, tag=9")
CASE_OK(unlink, "ok survived unlinked crash")
CASE_OK(monitor, "ok monitor")
CASE_OK(sleep, "ok slept")
CASE_OK(message, "ok message")
CASE_TRAP(message_no_scratch, "no message in the scratch area")
CASE_TRAP(send_no_scratch, "no message in the scratch area")
CASE_TRAP(receive_out_of_bounds, "out of bounds")
CASE_OK(request, "ok request reply")
CASE_OK(timer, "ok timer")
CASE_TRAP(registry, "not valid UTF-8")
CASE_TRAP(error, "unknown error id")
CASE_TRAP(compile, "unknown module id")
CASE_TRAP(distributed, "distributed is not initialized")
static void test_networking(void **state)
{
    (void)state;
    expect("networking", 1, "ok networking", "unsupported address type 5");
}

CASE_OK(networking_kill, "ok networking kill")

static void test_trap_catch(void **state)
{
    (void)state;
    expect("trap_catch", 0, "catch: 42 0 7 nested=6", NULL);
    expect("trap_catch", 0, "ok after catch", NULL);
}

static void test_trap_catch_exit(void **state)
{
    (void)state;
    command_result result = run_case("trap_catch_exit");
    assert_int_equal(result.status, 6); /* proc_exit inside catch still exits */
    assert_null(strstr(result.output, "still running"));
    command_result_free(&result);
}
CASE_TRAP(trap, "unreachable")
CASE_OK(wasi_sleep, "ok sleepers woke")
CASE_OK(wasi_sleep_kill, "ok killed a process sleeping in poll_oneoff, tag=21")
CASE_OK(sched_yield, "ok sched_yield")
CASE_OK(child_exit, "ok exit(0) is normal, exit(3) a failure")
CASE_OK(parent_failure, "ok child saw parent failure: kind=1 tag=0")
CASE_OK(entry_with_results, "ok entry with results fails, tag=41")
CASE_OK(get_or_spawn_error, "ok get_or_spawn error not registered")
CASE_TRAP(spawn_v128, "v128")
CASE_TRAP(write_no_scratch, "write_data: no message in the scratch area")
CASE_TRAP(take_module_twice, "take_module: no module at index 0")
CASE_TRAP(push_socket, "unknown socket id 0")
CASE_TRAP(sqlite, "lunatic::sqlite is not supported yet")
CASE_TRAP(metrics_bad_name, "metric name is not valid UTF-8")
CASE_OK(chaos, "ok survived 400 chaotic processes")

static void test_take_module_once(void **state)
{
    (void)state;
    expect("take_module_twice", 1, "ok took module once", NULL);
}

/* Cases whose output needs more than one check. */
static void test_ids_version(void **state)
{
    (void)state;
    expect("ids", 0, "version=0.13.2", NULL);
}

static void test_permissions_denied_values(void **state)
{
    (void)state;
    expect("permissions", 0, "child create_config=-1 compile_module=-1", NULL);
}

static void test_config_values(void **state)
{
    (void)state;
    expect("config", 1, "ok config", NULL);
}

static void test_config_copy_on_write(void **state)
{
    (void)state;
    command_result result = run_case("config_shared");
    assert_int_equal(result.status, 0);
    assert_non_null(strstr(result.output, "child env=first var2=(none)"));
    assert_non_null(strstr(result.output, "second child env=first var2=later"));
    command_result_free(&result);
}

static void test_max_memory_spawn_error(void **state)
{
    (void)state;
    expect("max_memory", 0, "spawn error: ", NULL);
    expect("max_memory", 0, "child malloc 1 MiB: ok", NULL);
}

static void test_link_failure_kills_parent(void **state)
{
    (void)state;
    command_result result = run_case("link_dies");
    assert_int_equal(result.status, 1);
    assert_null(strstr(result.output, "still alive"));
    assert_non_null(strstr(result.errors, "Error: process failed"));
    command_result_free(&result);
}

static void test_registry_values(void **state)
{
    (void)state;
    expect("registry", 1, "ok registry", NULL);
}

static void test_error_message(void **state)
{
    (void)state;
    expect("error", 1, "ok error: ", NULL);
}

static void test_compile_paths(void **state)
{
    (void)state;
    expect("compile", 1, "compile error: ", NULL);
    expect("compile", 1, "ok compiled and spawned module", NULL);
}

static void test_single_node(void **state)
{
    (void)state;
    expect("distributed", 1, "ok single node", NULL);
}

static void test_exit_code(void **state)
{
    (void)state;
    command_result result = run_case("exit_code");
    assert_int_equal(result.status, 7);
    assert_null(strstr(result.errors, "Error:"));
    command_result_free(&result);
}

/* ---- the command itself ------------------------------------------------------ */

static command_result run_cli(const char *const *argv)
{
    command_result result;
    if (run_command(argv, LUN_API_GUEST_DIR, 60, &result) != 0) fail_msg("lunatic did not finish");
    return result;
}

static void test_missing_module(void **state)
{
    (void)state;
    const char *argv[] = {LUN_CLI_PATH, "run", "no-such-file.wasm", NULL};
    command_result result = run_cli(argv);
    assert_int_equal(result.status, 1);
    assert_non_null(strstr(result.errors, "Module 'no-such-file.wasm' not found"));
    command_result_free(&result);
}

static void test_malformed_module(void **state)
{
    (void)state;
    const char *argv[] = {LUN_CLI_PATH, "run", "run_command_junk.wasm", NULL};
    FILE *file = fopen(LUN_API_GUEST_DIR "/run_command_junk.wasm", "wb");
    assert_non_null(file);
    fputs("this is not wasm", file);
    fclose(file);
    command_result result = run_cli(argv);
    assert_int_equal(result.status, 1);
    assert_non_null(strstr(result.errors, "Error:"));
    command_result_free(&result);
}

static void test_help_and_version(void **state)
{
    (void)state;
    const char *help[] = {LUN_CLI_PATH, "--help", NULL};
    command_result result = run_cli(help);
    assert_int_equal(result.status, 0);
    assert_non_null(strstr(result.output, "lunatic run"));
    command_result_free(&result);
    const char *version[] = {LUN_CLI_PATH, "--version", NULL};
    result = run_cli(version);
    assert_int_equal(result.status, 0);
    assert_non_null(strstr(result.output, "0.13.2"));
    command_result_free(&result);
    const char *bad[] = {LUN_CLI_PATH, "frobnicate", NULL};
    result = run_cli(bad);
    assert_int_equal(result.status, 2);
    command_result_free(&result);
}

static void test_args_and_implied_run(void **state)
{
    (void)state;
    /* `lunatic FILE.wasm ...` implies run; argv[0] is the file name. */
    const char *argv[] = {LUN_CLI_PATH, "--dir", "/tmp", "api_guest.wasm", "ids", NULL};
    command_result result = run_cli(argv);
    assert_int_equal(result.status, 0);
    assert_non_null(strstr(result.output, "pid=1"));
    command_result_free(&result);
    /* --bench appends the argument --bench (read_file reports it missing). */
    const char *bench[] = {LUN_CLI_PATH, "run", "--bench", "api_guest.wasm", "read_file", NULL};
    result = run_cli(bench);
    assert_int_equal(result.status, 0);
    assert_non_null(strstr(result.output, "cannot open --bench"));
    command_result_free(&result);
    const char *missing_case[] = {LUN_CLI_PATH, "run", "api_guest.wasm", NULL};
    result = run_cli(missing_case);
    assert_int_equal(result.status, 2);
    assert_non_null(strstr(result.errors, "usage: api_guest"));
    command_result_free(&result);
}

static void test_bad_dir(void **state)
{
    (void)state;
    const char *argv[] = {LUN_CLI_PATH,     "run", "--dir", "/nonexistent-lunatic-dir",
                          "api_guest.wasm", "ids", NULL};
    command_result result = run_cli(argv);
    assert_int_equal(result.status, 1);
    assert_non_null(strstr(result.errors, "nonexistent-lunatic-dir"));
    command_result_free(&result);
}

static void test_preopened_dirs(void **state)
{
    (void)state;
    FILE *file = fopen(LUN_API_GUEST_DIR "/preopen_data/hello.txt", "w");
    if (file == NULL) {
        assert_int_equal(system("mkdir -p '" LUN_API_GUEST_DIR "/preopen_data'"), 0);
        file = fopen(LUN_API_GUEST_DIR "/preopen_data/hello.txt", "w");
    }
    assert_non_null(file);
    fputs("hello from a preopened dir\n", file);
    fclose(file);
    /* "." is always preopened (the guest folder is the working directory);
     * --dir adds more; nothing outside them is reachable. */
    const char *argv[] = {LUN_CLI_PATH,
                          "run",
                          "--dir",
                          "/tmp",
                          "api_guest.wasm",
                          "read_file",
                          "preopen_data/hello.txt",
                          "/etc/hostname",
                          "../guest/preopen_data/hello.txt",
                          NULL};
    command_result result = run_cli(argv);
    assert_int_equal(result.status, 0);
    assert_non_null(strstr(result.output, "preopen_data/hello.txt: hello from a preopened dir"));
    assert_non_null(strstr(result.output, "cannot open /etc/hostname"));
    assert_non_null(strstr(result.output, "cannot open ../guest/preopen_data/hello.txt"));
    command_result_free(&result);
    /* An absolute --dir is reachable under its own name. */
    const char *absolute[] = {LUN_CLI_PATH,
                              "run",
                              "--dir",
                              LUN_API_GUEST_DIR "/preopen_data",
                              "api_guest.wasm",
                              "read_file",
                              LUN_API_GUEST_DIR "/preopen_data/hello.txt",
                              NULL};
    result = run_cli(absolute);
    assert_int_equal(result.status, 0);
    assert_non_null(strstr(result.output, "/preopen_data/hello.txt: hello from a preopened dir"));
    command_result_free(&result);
}

static void test_preopen_home(void **state)
{
    (void)state;
    /* config_preopen_dir("~") maps the guest name "~" to $HOME. */
    assert_int_equal(system("mkdir -p '" LUN_API_GUEST_DIR "/preopen_data' && echo "
                            "'home sweet home' > '" LUN_API_GUEST_DIR "/preopen_data/hello.txt'"),
                     0);
    const char *home = getenv("HOME");
    char *saved = home ? strdup(home) : NULL;
    setenv("HOME", LUN_API_GUEST_DIR, 1);
    command_result result = run_case("preopen_home");
    if (saved) {
        setenv("HOME", saved, 1);
        free(saved);
    }
    assert_int_equal(result.status, 0);
    assert_non_null(strstr(result.output, "child read: home sweet home"));
    command_result_free(&result);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_ids_version),
        cmocka_unit_test(test_spawn),
        cmocka_unit_test(test_spawn_missing_export),
        cmocka_unit_test(test_spawn_bad_params),
        cmocka_unit_test(test_spawn_bad_type),
        cmocka_unit_test(test_spawn_bad_config),
        cmocka_unit_test(test_spawn_bad_module),
        cmocka_unit_test(test_permissions),
        cmocka_unit_test(test_permissions_denied_values),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_config_values),
        cmocka_unit_test(test_config_copy_on_write),
        cmocka_unit_test(test_wasi_config),
        cmocka_unit_test(test_preopen_missing),
        cmocka_unit_test(test_max_memory),
        cmocka_unit_test(test_max_memory_spawn_error),
        cmocka_unit_test(test_max_fuel),
        cmocka_unit_test(test_preemption),
        cmocka_unit_test(test_link_kill),
        cmocka_unit_test(test_link_failure_kills_parent),
        cmocka_unit_test(test_link_no_process),
        cmocka_unit_test(test_unlink),
        cmocka_unit_test(test_monitor),
        cmocka_unit_test(test_sleep),
        cmocka_unit_test(test_message),
        cmocka_unit_test(test_message_no_scratch),
        cmocka_unit_test(test_send_no_scratch),
        cmocka_unit_test(test_receive_out_of_bounds),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_timer),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_registry_values),
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_error_message),
        cmocka_unit_test(test_compile),
        cmocka_unit_test(test_compile_paths),
        cmocka_unit_test(test_distributed),
        cmocka_unit_test(test_single_node),
        cmocka_unit_test(test_networking),
        cmocka_unit_test(test_networking_kill),
        cmocka_unit_test(test_trap_catch),
        cmocka_unit_test(test_trap_catch_exit),
        cmocka_unit_test(test_trap),
        cmocka_unit_test(test_exit_code),
        cmocka_unit_test(test_wasi_sleep),
        cmocka_unit_test(test_wasi_sleep_kill),
        cmocka_unit_test(test_sched_yield),
        cmocka_unit_test(test_child_exit),
        cmocka_unit_test(test_parent_failure),
        cmocka_unit_test(test_entry_with_results),
        cmocka_unit_test(test_get_or_spawn_error),
        cmocka_unit_test(test_spawn_v128),
        cmocka_unit_test(test_write_no_scratch),
        cmocka_unit_test(test_take_module_twice),
        cmocka_unit_test(test_take_module_once),
        cmocka_unit_test(test_push_socket),
        cmocka_unit_test(test_sqlite),
        cmocka_unit_test(test_metrics_bad_name),
        cmocka_unit_test(test_chaos),
        cmocka_unit_test(test_missing_module),
        cmocka_unit_test(test_malformed_module),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_args_and_implied_run),
        cmocka_unit_test(test_bad_dir),
        cmocka_unit_test(test_preopened_dirs),
        cmocka_unit_test(test_preopen_home),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
