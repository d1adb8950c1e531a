/*
 * Tests of the spec-test runner's script execution (script.c and host.c)
 * against the stand-in engine of fake_engine.c: what counts as passed,
 * failed or not applicable for every command kind, how a module that fails
 * to load spoils the commands that use it, the fuel budget, progress reports,
 * and that every engine object made is freed.
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

#include "fake_engine.h"
#include "script.h"

typedef struct fixture {
    char directory[64];
    char json_path[96];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL) return -1;
    strcpy(f->directory, "/tmp/spectest_script_test.XXXXXX");
    if (mkdtemp(f->directory) == NULL) return -1;
    snprintf(f->json_path, sizeof f->json_path, "%s/script.json", f->directory);
    memset(&fake_engine_live, 0, sizeof fake_engine_live);
    *state = f;
    return 0;
}

static void write_file(const fixture *f, const char *name, const char *text)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", f->directory, name);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
}

static int teardown(void **state)
{
    fixture *f = *state;
    const char *names[] = {"script.json", "ok.wasm",    "bad.wasm",  "invalid.wasm",  "link.wasm",
                           "trap.wasm",   "needs.wasm", "simd.wasm", "datacount.wasm"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[160];
        snprintf(path, sizeof path, "%s/%s", f->directory, names[i]);
        unlink(path);
    }
    rmdir(f->directory);
    free(f);
    return 0;
}

static void write_modules(const fixture *f)
{
    write_file(f, "ok.wasm", "ok");
    write_file(f, "bad.wasm", "malformed");
    write_file(f, "invalid.wasm", "invalid");
    write_file(f, "link.wasm", "unlinkable");
    write_file(f, "trap.wasm", "start-trap");
    write_file(f, "needs.wasm", "import lib add");
    write_file(f, "simd.wasm", "unsupported");
    write_file(f, "datacount.wasm", "datacount");
}

/* Runs commands (the inside of the "commands" array) and returns the counts;
 * checks that the engine objects were all freed. */
static spectest_counts run(const fixture *f, const char *commands, uint64_t fuel)
{
    char *json = malloc(strlen(commands) + 64);
    assert_non_null(json);
    sprintf(json, "{\"source_filename\": \"t.wast\", \"commands\": [%s]}", commands);
    write_file(f, "script.json", json);
    free(json);
    write_modules(f);
    spectest_options options = {.verbose = true, .fuel = fuel};
    spectest_counts counts;
    lun_error error;
    lun_error_clear(&error);
    lun_status status =
        spectest_script_run(f->json_path, "t.wast", &options, NULL, NULL, &counts, &error);
    if (status != LUN_OK) fail_msg("script failed: %s", error.message);
    assert_int_equal(fake_engine_live.modules, 0);
    assert_int_equal(fake_engine_live.instances, 0);
    assert_int_equal(fake_engine_live.imports, 0);
    assert_int_equal(fake_engine_live.host_objects, 0);
    return counts;
}

#define MODULE(line, file) "{\"type\": \"module\", \"line\": " #line ", \"filename\": \"" file "\"}"
#define I32(v)             "{\"type\": \"i32\", \"value\": \"" v "\"}"
#define INVOKE(field, args)                                                                        \
    "\"action\": {\"type\": \"invoke\", \"field\": \"" field "\", \"args\": [" args "]}"
#define RETURN(line, action, expected)                                                             \
    "{\"type\": \"assert_return\", \"line\": " #line ", " action ", \"expected\": [" expected "]}"

static void assert_counts(spectest_counts counts, uint64_t passed, uint64_t failed,
                          uint64_t not_applicable)
{
    assert_int_equal(counts.passed, passed);
    assert_int_equal(counts.failed, failed);
    assert_int_equal(counts.not_applicable, not_applicable);
}

/* The command lists below are kept one command a line. */
// clang-format off
static void test_returns(void **state)
{
    spectest_counts counts = run(*state,
        MODULE(1, "ok.wasm") ","                                                  /* pass */
        RETURN(2, INVOKE("add", I32("1") "," I32("4294967295")), I32("0")) ","    /* pass */
        RETURN(3, INVOKE("add", I32("1") "," I32("2")), I32("4")) ","             /* fail */
        RETURN(4, INVOKE("add", I32("1")), I32("1")) ","           /* fail: one argument */
        RETURN(5, INVOKE("nan", ""), "{\"type\": \"f32\", \"value\": \"nan:canonical\"}") ","
        RETURN(6, INVOKE("nan", ""), "{\"type\": \"f64\", \"value\": \"nan:canonical\"}") ","
        RETURN(7, INVOKE("two", ""),
               I32("1") ", {\"type\": \"i64\", \"value\": \"18446744073709551615\"}") ","
        RETURN(8, INVOKE("two", ""), I32("1")) ","                   /* fail: one result */
        RETURN(9, INVOKE("id", "{\"type\": \"externref\", \"value\": \"3\"}"),
               "{\"type\": \"externref\", \"value\": \"3\"}") ","
        RETURN(10, INVOKE("id", "{\"type\": \"externref\", \"value\": \"3\"}"),
               "{\"type\": \"externref\", \"value\": \"null\"}") ","              /* fail */
        RETURN(11, INVOKE("missing", ""), "") ","                                 /* fail */
        RETURN(12, "\"action\": {\"type\": \"get\", \"field\": \"g\"}", I32("42")) ","
        RETURN(13, "\"action\": {\"type\": \"get\", \"field\": \"add\"}", I32("42")) "," /* fail */
        "{\"type\": \"action\", \"line\": 14, " INVOKE("add", I32("1") "," I32("1")) "}",
        1000);
    assert_counts(counts, 7, 7, 0);
}

static void test_traps(void **state)
{
    spectest_counts counts = run(*state,
        MODULE(1, "ok.wasm") ","
        "{\"type\": \"assert_trap\", \"line\": 2, " INVOKE("div", I32("1") "," I32("0"))
        ", \"text\": \"integer divide by zero\"},"
        "{\"type\": \"assert_trap\", \"line\": 3, " INVOKE("div", I32("1") "," I32("0"))
        ", \"text\": \"another message\"},"                  /* pass: any trap counts */
        "{\"type\": \"assert_trap\", \"line\": 4, " INVOKE("div", I32("1") "," I32("1"))
        ", \"text\": \"integer divide by zero\"},"           /* fail: returned */
        "{\"type\": \"assert_exhaustion\", \"line\": 5, " INVOKE("div", I32("1") "," I32("0"))
        ", \"text\": \"call stack exhausted\"},"
        RETURN(6, INVOKE("div", I32("1") "," I32("0")), I32("0")) ","   /* fail: trapped */
        "{\"type\": \"action\", \"line\": 7, " INVOKE("div", I32("1") "," I32("0")) "}",
        1000);                                               /* fail: trapped */
    assert_counts(counts, 4, 3, 0);
}

#define ASSERT_MODULE(type, line, file, text, module_type)                                         \
    "{\"type\": \"" type "\", \"line\": " #line ", \"filename\": \"" file "\", \"text\": \""     \
    text "\", \"module_type\": \"" module_type "\"}"

static void test_module_assertions(void **state)
{
    spectest_counts counts = run(*state,
        ASSERT_MODULE("assert_malformed", 1, "bad.wasm", "x", "binary") ","
        ASSERT_MODULE("assert_malformed", 2, "t.1.wat", "x", "text") ","  /* not applicable */
        ASSERT_MODULE("assert_invalid", 3, "invalid.wasm", "x", "binary") ","
        ASSERT_MODULE("assert_invalid", 4, "bad.wasm", "x", "binary") ","  /* fail: malformed */
        ASSERT_MODULE("assert_malformed", 5, "ok.wasm", "x", "binary") "," /* fail: decodes */
        ASSERT_MODULE("assert_invalid", 6, "simd.wasm", "x", "binary") "," /* fail: unsupported */
        ASSERT_MODULE("assert_unlinkable", 7, "link.wasm", "x", "binary") ","
        ASSERT_MODULE("assert_unlinkable", 8, "ok.wasm", "x", "binary") ","  /* fail: links */
        ASSERT_MODULE("assert_uninstantiable", 9, "trap.wasm", "unreachable", "binary") ","
        ASSERT_MODULE("assert_trap", 10, "trap.wasm", "unreachable", "binary") ","
        ASSERT_MODULE("assert_uninstantiable", 11, "link.wasm", "x", "binary") "," /* fail */
        ASSERT_MODULE("assert_invalid", 12, "../ok.wasm", "x", "binary") ","  /* fail: path */
        ASSERT_MODULE("assert_invalid", 13, "absent.wasm", "x", "binary") "," /* fail: no file */
        "{\"type\": \"assert_bogus\", \"line\": 14},"        /* fail: unknown command */
        ASSERT_MODULE("assert_malformed", 15, "invalid.wasm", "x", "binary") "," /* fail */
        ASSERT_MODULE("assert_invalid", 16, "datacount.wasm", "x", "binary") "," /* pass */
        ASSERT_MODULE("assert_malformed", 17, "datacount.wasm", "x", "binary"),
        1000);
    assert_counts(counts, 7, 9, 1);
}

static void test_failed_modules_spoil_their_users(void **state)
{
    spectest_counts counts = run(*state,
        MODULE(1, "ok.wasm") ","
        "{\"type\": \"module\", \"line\": 2, \"name\": \"$bad\", \"filename\": \"bad.wasm\"},"
        RETURN(3, INVOKE("add", I32("1") "," I32("1")), I32("2")) "," /* fail: current is bad */
        RETURN(4, "\"action\": {\"type\": \"invoke\", \"module\": \"$bad\", \"field\": \"add\", "
                  "\"args\": []}", "") ","                                        /* fail */
        "{\"type\": \"register\", \"line\": 5, \"name\": \"$bad\", \"as\": \"lib\"},"   /* fail */
        "{\"type\": \"module\", \"line\": 6, \"filename\": \"needs.wasm\"},"  /* fail: no lib */
        "{\"type\": \"module\", \"line\": 7, \"name\": \"$lib\", \"filename\": \"ok.wasm\"},"
        "{\"type\": \"register\", \"line\": 8, \"as\": \"lib\"},"            /* not counted */
        "{\"type\": \"module\", \"line\": 9, \"filename\": \"needs.wasm\"},"
        RETURN(10, "\"action\": {\"type\": \"invoke\", \"module\": \"$lib\", \"field\": \"add\", "
                   "\"args\": [" I32("2") "," I32("2") "]}", I32("4")) ","
        "{\"type\": \"module\", \"line\": 11, \"filename\": \"trap.wasm\"},"            /* fail */
        RETURN(12, INVOKE("add", I32("1") "," I32("1")), I32("2")) ","                 /* fail */
        RETURN(13, INVOKE("add\\u0000x", ""), "") ","      /* fail: no export "add\0x" */
        "{\"type\": \"register\", \"line\": 14, \"name\": \"$nobody\", \"as\": \"x\"}",  /* fail */
        1000);
    assert_counts(counts, 4, 9, 0);
}

static void test_fuel_budget(void **state)
{
    spectest_counts counts = run(*state,
        MODULE(1, "ok.wasm") ","
        "{\"type\": \"action\", \"line\": 2, " INVOKE("spin", "") "},"   /* fail: budget spent */
        RETURN(3, INVOKE("add", I32("1") "," I32("1")), I32("2")) ","   /* fail: abandoned */
        MODULE(4, "ok.wasm") ","
        RETURN(5, INVOKE("add", I32("1") "," I32("1")), I32("2")),
        3000000);
    assert_counts(counts, 3, 2, 0);
    /* The budget is handed out in slices. */
    assert_true(fake_engine_live.runs >= 3);
}

static void test_no_module_yet(void **state)
{
    spectest_counts counts = run(*state,
        RETURN(1, INVOKE("add", I32("1") "," I32("1")), I32("2")) ","
        "{\"type\": \"register\", \"line\": 2, \"as\": \"x\"},"
        "{\"line\": 3}",
        1000);
    assert_counts(counts, 0, 3, 0);
}
// clang-format on

typedef struct progress_log {
    uint64_t calls;
    uint64_t last_done;
    uint64_t total;
    int64_t last_line;
} progress_log;

static void record_progress(const spectest_counts *counts, uint64_t done, uint64_t total,
                            int64_t line, void *data)
{
    progress_log *log = data;
    assert_int_equal(done, log->calls);
    assert_true(counts->passed + counts->failed + counts->not_applicable <= done);
    log->calls++;
    log->last_done = done;
    log->total = total;
    log->last_line = line;
}

static void test_progress_and_errors(void **state)
{
    fixture *f = *state;
    write_file(f, "script.json",
               "{\"commands\": [" MODULE(1, "ok.wasm") "," MODULE(7, "ok.wasm") "]}");
    write_modules(f);
    spectest_options options = {.fuel = 1000};
    spectest_counts counts;
    progress_log log = {0};
    assert_int_equal(
        spectest_script_run(f->json_path, "t", &options, record_progress, &log, &counts, NULL),
        LUN_OK);
    assert_int_equal(log.calls, 3);
    assert_int_equal(log.last_done, 2);
    assert_int_equal(log.total, 2);
    assert_int_equal(log.last_line, 7);
    assert_counts(counts, 2, 0, 0);

    lun_error error;
    write_file(f, "script.json", "{\"commands\": [}");
    assert_int_equal(spectest_script_run(f->json_path, "t", &options, NULL, NULL, &counts, &error),
                     LUN_ERR_MALFORMED);
    write_file(f, "script.json", "{\"commands\": {}}");
    assert_int_equal(spectest_script_run(f->json_path, "t", &options, NULL, NULL, &counts, &error),
                     LUN_ERR_MALFORMED);
    unlink(f->json_path);
    assert_int_equal(spectest_script_run(f->json_path, "t", &options, NULL, NULL, &counts, &error),
                     LUN_ERR_NOT_FOUND);
    assert_int_equal(fake_engine_live.modules, 0);
    assert_int_equal(fake_engine_live.instances, 0);
    assert_int_equal(fake_engine_live.host_objects, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_returns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_traps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_module_assertions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_modules_spoil_their_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fuel_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_module_yet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_and_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
