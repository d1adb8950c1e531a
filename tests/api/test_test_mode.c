/*
 * Test mode of `lunatic run` (docs/lunatic-abi.md §14): test discovery from
 * export names, pass/fail/panic/ignore rules, filters, listing, the
 * harness-like report and the exit status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "run_command.h"

static command_result run_test_mode(const char *const *extra)
{
    const char *argv[16] = {LUN_CLI_PATH, "run", LUN_TEST_MODE_GUEST};
    size_t count = 3;
    for (; extra != NULL && *extra != NULL && count < 15; extra++)
        argv[count++] = *extra;
    argv[count] = NULL;
    setenv("CARGO_MANIFEST_DIR", "/tmp", 1);
    command_result result;
    if (run_command(argv, NULL, 60, &result) != 0) fail_msg("test mode did not finish");
    return result;
}

static void contains(const command_result *result, const char *text)
{
    if (strstr(result->output, text) == NULL)
        fail_msg("missing \"%s\" in\n%s\n(stderr: %s)", text, result->output, result->errors);
}

static void test_all(void **state)
{
    (void)state;
    command_result result = run_test_mode(NULL);
    assert_int_equal(result.status, 1);
    contains(&result, "running 10 tests");
    contains(&result, "test passes ... ok");
    contains(&result, "test fails ... FAILED");
    contains(&result, "test panics ... ok");
    contains(&result, "test panics_wrongly ... FAILED");
    contains(&result, "test skipped ... ignored");
    contains(&result, "test own_registry ... ok");
    contains(&result, "test own_registry_again ... ok");
    contains(&result, "---- fails stdout ----\noutput of a failing test");
    contains(&result,
             "test result: FAILED. 6 passed; 3 failed; 1 ignored; 0 measured; 0 filtered out");
    /* Each process of a test has its own buffer. */
    contains(&result, "---- child_output stdout ----\noutput of the test process\n"
                      " --- process 2 stdout ---\noutput of a child process\n");
    assert_null(strstr(result.output, "output of a passing test"));
    assert_null(strstr(result.output, "ignored test ran"));
    command_result_free(&result);
}

static void test_filter(void **state)
{
    (void)state;
    const char *extra[] = {"pass", NULL};
    command_result result = run_test_mode(extra);
    assert_int_equal(result.status, 0);
    contains(&result, "running 1 test\n");
    contains(&result, "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 9 filtered out");
    command_result_free(&result);
    const char *exact[] = {"own_registry", "--exact", "--show-output", NULL};
    result = run_test_mode(exact);
    assert_int_equal(result.status, 0);
    contains(&result, "running 1 test\n");
    command_result_free(&result);
    const char *nocapture[] = {"passes", "--nocapture", NULL};
    result = run_test_mode(nocapture);
    assert_int_equal(result.status, 0);
    contains(&result, "output of a passing test\ntest passes ... ok");
    command_result_free(&result);
    const char *shown[] = {"passes", "--show-output", NULL};
    result = run_test_mode(shown);
    contains(&result, "successes:");
    contains(&result, "output of a passing test");
    command_result_free(&result);
}

static void test_ignored_and_list(void **state)
{
    (void)state;
    const char *ignored[] = {"--ignored", NULL};
    command_result result = run_test_mode(ignored);
    assert_int_equal(result.status, 0);
    contains(&result, "test skipped ... ok");
    command_result_free(&result);
    const char *list[] = {"--list", "--format", "terse", NULL};
    result = run_test_mode(list);
    assert_int_equal(result.status, 0);
    contains(&result, "passes: test\n");
    contains(&result, "panics_wrongly: test\n");
    contains(&result, "skipped: test\n");
    command_result_free(&result);
}

/* As in lunatic, the tests run at the same time: each rendezvous test
 * waits (10 s at most) for the other's mark in the directory. */
static void test_tests_run_concurrently(void **state)
{
    (void)state;
    char dir[] = "/tmp/lun-rendezvous-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char argument[64];
    snprintf(argument, sizeof argument, "--rendezvous=%s", dir);
    const char *extra[] = {"rendezvous", "--dir", dir, argument, NULL};
    command_result result = run_test_mode(extra);
    assert_int_equal(result.status, 0);
    contains(&result, "test rendezvous_first ... ok");
    contains(&result, "test rendezvous_second ... ok");
    contains(&result, "test result: ok. 2 passed; 0 failed");
    command_result_free(&result);
    char path[64];
    snprintf(path, sizeof path, "%s/first", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/second", dir);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

static void test_not_selected_without_cargo(void **state)
{
    (void)state;
    const char *argv[] = {LUN_CLI_PATH, "run", LUN_TEST_MODE_GUEST, NULL};
    unsetenv("CARGO_MANIFEST_DIR");
    command_result result;
    assert_int_equal(run_command(argv, NULL, 60, &result), 0);
    assert_int_equal(result.status, 0); /* main returns 0 */
    assert_null(strstr(result.output, "running"));
    command_result_free(&result);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_ignored_and_list),
        cmocka_unit_test(test_tests_run_concurrently),
        cmocka_unit_test(test_not_selected_without_cargo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
