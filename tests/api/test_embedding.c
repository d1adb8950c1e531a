/*
 * Tests of the embedding API (include/lunatic/api.h) and of the api layer's
 * resource tables: loading modules (errors included), spawning a Wasm
 * process and reading how it ended.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api_internal.h"
#include "lunatic/api.h"

#define GUEST LUN_API_GUEST_DIR "/api_guest.wasm"

static void test_load_errors(void **state)
{
    (void)state;
    lun_host *host;
    lun_error error;
    assert_int_equal(lun_host_new(NULL, &host, &error), LUN_OK);
    lun_module *module = NULL;
    const uint8_t junk[] = "not a module";
    assert_int_equal(lun_host_load_module(host, junk, sizeof junk, &module, &error),
                     LUN_ERR_MALFORMED);
    /* (import "lunatic::process" "nope" (func)) */
    const uint8_t unknown_import[] = {
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
        0x02, 0x19, 0x01, 0x10, 'l',  'u',  'n',  'a',  't',  'i',  'c',  ':',  ':',  'p',
        'r',  'o',  'c',  'e',  's',  's',  0x04, 'n',  'o',  'p',  'e',  0x00, 0x00};
    assert_int_equal(
        lun_host_load_module(host, unknown_import, sizeof unknown_import, &module, &error),
        LUN_ERR_LINK);
    assert_non_null(strstr(error.message, "nope"));
    assert_int_equal(lun_host_load_file(host, "/nonexistent/x.wasm", &module, &error),
                     LUN_ERR_NOT_FOUND);
    assert_non_null(strstr(error.message, "Module '/nonexistent/x.wasm' not found"));
    lun_host_free(host);
}

typedef struct spawned {
    lun_host *host;
    lun_module *module;
    lun_process_config *config;
    lun_environment *environment;
    lun_process *process;
    lun_wasm_exit exit;
    lun_process_result result;
} spawned;

static int capture_fd = -1;

static int open_capture(void *context, uint64_t process_id)
{
    (void)context;
    (void)process_id;
    return capture_fd;
}

static void spawn_case(spawned *run, const char *function, const char *guest_case)
{
    lun_error error;
    memset(run, 0, sizeof *run);
    lun_host_options options = {.workers = 2, .open_output = capture_fd >= 0 ? open_capture : NULL};
    assert_int_equal(lun_host_new(&options, &run->host, &error), LUN_OK);
    assert_int_equal(lun_host_load_file(run->host, GUEST, &run->module, &error), LUN_OK);
    assert_int_equal(lun_process_config_new_main(&run->config, &error), LUN_OK);
    assert_int_equal(lun_process_config_add_arg(run->config, "api_guest.wasm", &error), LUN_OK);
    assert_int_equal(lun_process_config_add_arg(run->config, guest_case, &error), LUN_OK);
    assert_int_equal(lun_environment_new(lun_host_runtime(run->host), 1, &run->environment, &error),
                     LUN_OK);
    lun_wasm_spawn spawn = {.environment = run->environment,
                            .module = run->module,
                            .config = run->config,
                            .function = function,
                            .exit = &run->exit};
    assert_int_equal(lun_host_spawn(run->host, &spawn, &run->process, &error), LUN_OK);
    assert_int_equal(lun_process_join(run->process, 60000, &run->result, &error), LUN_OK);
}

static void spawned_free(spawned *run)
{
    lun_process_release(run->process);
    lun_environment_release(run->environment);
    lun_process_config_release(run->config);
    lun_module_free(run->module);
    lun_host_free(run->host);
}

static void test_normal_end(void **state)
{
    (void)state;
    spawned run;
    spawn_case(&run, "_start", "sleep");
    assert_int_equal(run.result.kind, LUN_RESULT_OK);
    spawned_free(&run);
}

static void test_captured_output(void **state)
{
    (void)state;
    FILE *file = tmpfile();
    assert_non_null(file);
    capture_fd = fileno(file);
    spawned run;
    spawn_case(&run, "_start", "ids");
    capture_fd = -1;
    assert_int_equal(run.result.kind, LUN_RESULT_OK);
    spawned_free(&run);
    char text[256] = {0};
    rewind(file);
    assert_true(fread(text, 1, sizeof text - 1, file) > 0);
    fclose(file);
    assert_non_null(strstr(text, "pid=1 env=1"));
}

static void test_exit_code(void **state)
{
    (void)state;
    spawned run;
    spawn_case(&run, "_start", "exit_code");
    assert_int_equal(run.result.kind, LUN_RESULT_FAILED);
    assert_true(run.exit.exited);
    assert_int_equal(run.exit.code, 7);
    spawned_free(&run);
}

static void test_trap_reason(void **state)
{
    (void)state;
    spawned run;
    spawn_case(&run, "_start", "networking");
    assert_int_equal(run.result.kind, LUN_RESULT_FAILED);
    assert_false(run.exit.exited);
    assert_non_null(strstr(run.result.message, "unsupported address type 5"));
    spawned_free(&run);
}

static void test_missing_entry(void **state)
{
    (void)state;
    spawned run;
    spawn_case(&run, "no_such_export", "ids");
    assert_int_equal(run.result.kind, LUN_RESULT_FAILED);
    assert_non_null(strstr(run.result.message, "no_such_export"));
    spawned_free(&run);
}

static void test_spawn_arguments_checked(void **state)
{
    (void)state;
    lun_host *host;
    assert_int_equal(lun_host_new(NULL, &host, NULL), LUN_OK);
    lun_wasm_spawn spawn = {0};
    lun_process *process = (lun_process *)1;
    assert_int_equal(lun_host_spawn(host, &spawn, &process, NULL), LUN_ERR_INVALID_ARGUMENT);
    assert_null(process);
    lun_host_free(host);
}

/* The resource table against a plain array of what it should hold. */
static void test_table(void **state)
{
    (void)state;
    enum { OPERATIONS = 20000, IDS = OPERATIONS };
    api_table table;
    api_table_init(&table, NULL);
    static bool live[IDS];
    memset(live, 0, sizeof live);
    uint64_t next = 0;
    srand(7);
    for (int i = 0; i < OPERATIONS; i++) {
        if (rand() % 3 != 0) {
            uint64_t id;
            assert_true(api_table_add(&table, (api_value){.number = next * 3}, &id));
            assert_int_equal(id, next);
            live[next++] = true;
        } else if (next > 0) {
            uint64_t id = (uint64_t)rand() % next;
            api_value value;
            assert_int_equal(api_table_take(&table, id, &value), live[id]);
            if (live[id]) assert_int_equal(value.number, id * 3);
            live[id] = false;
        }
    }
    size_t count = 0;
    for (uint64_t id = 0; id < next; id++) {
        api_value value;
        assert_int_equal(api_table_get(&table, id, &value), live[id]);
        if (live[id]) {
            assert_int_equal(value.number, id * 3);
            count++;
        }
    }
    assert_int_equal(table.count, count);
    assert_false(api_table_get(&table, next, NULL));
    assert_false(api_table_get(&table, UINT64_MAX, NULL));
    api_table_clear(&table);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(api_utf8_valid((const uint8_t *)"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
    assert_false(api_utf8_valid((const uint8_t *)"\xff", 1));
    assert_false(api_utf8_valid((const uint8_t *)"\xc3", 1));
    assert_false(api_utf8_valid((const uint8_t *)"\xc0\x80", 2));         /* overlong */
    assert_false(api_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate */
    assert_false(api_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_normal_end),
        cmocka_unit_test(test_exit_code),
        cmocka_unit_test(test_captured_output),
        cmocka_unit_test(test_trap_reason),
        cmocka_unit_test(test_missing_entry),
        cmocka_unit_test(test_spawn_arguments_checked),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
