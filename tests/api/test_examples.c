/*
 * Runs the C guest examples (examples/guest) through the `lunatic` command
 * and checks what they print and their exit status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "run_command.h"

static command_result run_example(const char *file, const char *argument)
{
    const char *argv[] = {LUN_CLI_PATH, "run", file, argument, NULL};
    command_result result;
    if (run_command(argv, LUN_API_GUEST_DIR, 120, &result) != 0)
        fail_msg("%s did not finish", file);
    return result;
}

static void test_hello(void **state)
{
    (void)state;
    command_result result = run_example("example_hello.wasm", NULL);
    assert_int_equal(result.status, 0);
    assert_non_null(strstr(result.output, "Hello from the first process (1)"));
    assert_non_null(strstr(result.output, "Hello from process 2, spawned by 1"));
    assert_non_null(strstr(result.output, "The child said done"));
    command_result_free(&result);
}

static void test_ping_pong(void **state)
{
    (void)state;
    command_result result = run_example("example_ping_pong.wasm", "5000");
    assert_int_equal(result.status, 0);
    assert_non_null(strstr(result.output, "ping-pong: 5000 round trips, counter 5000"));
    command_result_free(&result);
}

static void test_supervisor(void **state)
{
    (void)state;
    command_result result = run_example("example_supervisor.wasm", NULL);
    assert_int_equal(result.status, 0);
    assert_non_null(strstr(result.output, "worker with tag 100 failed, restarting"));
    assert_non_null(strstr(result.output, "worker with tag 101 failed, restarting"));
    assert_non_null(strstr(result.output, "supervisor: worker attempt 2 succeeded"));
    command_result_free(&result);
    /* With a budget of one restart the supervisor gives up (status 2). */
    result = run_example("example_supervisor.wasm", "1");
    assert_int_equal(result.status, 2);
    assert_non_null(strstr(result.output, "giving up after 1 restarts"));
    command_result_free(&result);
}

static void test_request_response(void **state)
{
    (void)state;
    command_result result = run_example("example_request_response.wasm", "20");
    assert_int_equal(result.status, 0);
    assert_non_null(strstr(result.output, "request/response: 20 clients, sum of squares 2870"));
    command_result_free(&result);
}

static void test_registry_lookup(void **state)
{
    (void)state;
    command_result result = run_example("example_registry_lookup.wasm", NULL);
    assert_int_equal(result.status, 0);
    assert_non_null(strstr(result.output, "Hello, visitor "));
    assert_non_null(strstr(result.output, "registry: \"greeter\" is process 2"));
    assert_non_null(strstr(result.output, "registry: after remove, found=0"));
    command_result_free(&result);
}

static void test_fan_out(void **state)
{
    (void)state;
#ifdef LUN_SANITIZED
    const char *count = "2000", *expected = "fan-out: 2000 processes, sum 2001000";
#else
    const char *count = "20000", *expected = "fan-out: 20000 processes, sum 200010000";
#endif
    command_result result = run_example("example_fan_out.wasm", count);
    assert_int_equal(result.status, 0);
    assert_non_null(strstr(result.output, expected));
    command_result_free(&result);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),           cmocka_unit_test(test_ping_pong),
        cmocka_unit_test(test_supervisor),      cmocka_unit_test(test_request_response),
        cmocka_unit_test(test_registry_lookup), cmocka_unit_test(test_fan_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
