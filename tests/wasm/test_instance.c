/*
 * Tests of instantiation and linking: imports shared between instances
 * (functions running with their own instance's memory, tables holding
 * another instance's functions, mutable globals), link errors, segment
 * traps that leave earlier segments applied, host objects, and many small
 * instances at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine_test_support.h"

static int32_t call_i32(lun_instance *instance, const char *name, const lun_value *args,
                        size_t count)
{
    lun_value result = {.type = LUN_I32};
    size_t result_count = 0;
    lun_error error;
    lun_status status =
        lun_instance_call(instance, name, args, count, &result, 1, &result_count, &error);
    if (status != LUN_OK) fail_msg("%s: %s", name, error.message);
    assert_int_equal(result_count, 1);
    return result.i32;
}

typedef struct linked {
    lun_module *provider_module, *consumer_module;
    lun_instance *provider, *consumer;
    lun_imports *imports;
} linked;

static int setup(void **state)
{
    linked *l = calloc(1, sizeof *l);
    assert_non_null(l);
    l->provider_module = load_test_module("provider");
    l->consumer_module = load_test_module("consumer");
    assert_non_null(l->provider_module);
    assert_non_null(l->consumer_module);
    lun_error error;
    assert_int_equal(lun_instantiate(l->provider_module, NULL, NULL, &l->provider, &error), LUN_OK);
    assert_int_equal(lun_imports_new(&l->imports, NULL), LUN_OK);
    assert_int_equal(lun_imports_add_instance(l->imports, "provider", l->provider, NULL), LUN_OK);
    if (lun_instantiate(l->consumer_module, l->imports, NULL, &l->consumer, &error) != LUN_OK)
        fail_msg("consumer: %s", error.message);
    *state = l;
    return 0;
}

static int teardown(void **state)
{
    linked *l = *state;
    lun_instance_free(l->consumer);
    lun_instance_free(l->provider);
    lun_imports_free(l->imports);
    lun_module_free(l->consumer_module);
    lun_module_free(l->provider_module);
    free(l);
    return 0;
}

static void test_cross_instance_calls(void **state)
{
    linked *l = *state;
    /* The imported function reads its own instance's memory (42), not the
     * caller's (7). */
    assert_int_equal(call_i32(l->consumer, "own", NULL, 0), 7);
    assert_int_equal(call_i32(l->consumer, "call_peek", NULL, 0), 42);
    lun_value zero = lun_value_i32(0);
    assert_int_equal(call_i32(l->consumer, "indirect", &zero, 1), 42);
    lun_value one = lun_value_i32(1);
    lun_error error;
    lun_value result = {.type = LUN_I32};
    assert_int_equal(lun_instance_call(l->consumer, "indirect", &one, 1, &result, 1, NULL, &error),
                     LUN_ERR_TRAP);
    assert_non_null(strstr(error.message, "uninitialized element"));
    lun_value two = lun_value_i32(2);
    assert_int_equal(lun_instance_call(l->consumer, "indirect", &two, 1, &result, 1, NULL, &error),
                     LUN_ERR_TRAP);
    assert_non_null(strstr(error.message, "undefined element"));
}

static void test_shared_global(void **state)
{
    linked *l = *state;
    assert_int_equal(call_i32(l->consumer, "get_g", NULL, 0), 5);
    assert_int_equal(call_i32(l->provider, "bump", NULL, 0), 6);
    assert_int_equal(call_i32(l->consumer, "get_g", NULL, 0), 6);
    lun_value v = lun_value_i32(100);
    assert_int_equal(lun_instance_call(l->consumer, "set_g", &v, 1, NULL, 0, NULL, NULL), LUN_OK);
    assert_int_equal(call_i32(l->provider, "bump", NULL, 0), 101);
    lun_extern global;
    assert_int_equal(lun_instance_export(l->provider, "g", &global, NULL), LUN_OK);
    assert_int_equal(global.kind, LUN_EXTERN_GLOBAL);
    assert_int_equal(lun_global_get(global.global).i32, 101);
}

static void test_link_errors(void **state)
{
    linked *l = *state;
    lun_imports *empty = NULL;
    assert_int_equal(lun_imports_new(&empty, NULL), LUN_OK);
    lun_instance *instance = NULL;
    lun_error error;
    assert_int_equal(lun_instantiate(l->consumer_module, empty, NULL, &instance, &error),
                     LUN_ERR_LINK);
    assert_null(instance);
    assert_non_null(strstr(error.message, "unknown import"));
    assert_non_null(strstr(error.message, "provider.peek"));
    lun_imports_free(empty);

    lun_module *mismatch = load_test_module("mismatch");
    assert_non_null(mismatch);
    assert_int_equal(lun_instantiate(mismatch, l->imports, NULL, &instance, &error), LUN_ERR_LINK);
    assert_non_null(strstr(error.message, "incompatible import type"));
    lun_module_free(mismatch);

    /* A memory where a function is expected. */
    lun_imports *wrong = NULL;
    assert_int_equal(lun_imports_new(&wrong, NULL), LUN_OK);
    assert_int_equal(lun_imports_add_instance(wrong, "provider", l->provider, NULL), LUN_OK);
    lun_extern memory = {.kind = LUN_EXTERN_MEMORY, .memory = lun_instance_memory(l->provider)};
    assert_int_equal(lun_imports_add(wrong, "provider", "peek", memory, NULL), LUN_OK);
    assert_int_equal(lun_instantiate(l->consumer_module, wrong, NULL, &instance, &error),
                     LUN_ERR_LINK);
    lun_imports_free(wrong);
}

static void test_segment_trap_keeps_earlier_segments(void **state)
{
    linked *l = *state;
    lun_module *module = load_test_module("segments");
    assert_non_null(module);
    lun_instance *instance = NULL;
    lun_error error;
    assert_int_equal(lun_instantiate(module, l->imports, NULL, &instance, &error), LUN_ERR_TRAP);
    assert_null(instance);
    assert_non_null(strstr(error.message, "out of bounds memory access"));
    uint8_t *bytes = lun_memory_data(lun_instance_memory(l->provider));
    assert_int_equal(bytes[100], 1);
    assert_int_equal(bytes[65535], 0);
    lun_module_free(module);
}

static void test_host_objects(void **state)
{
    (void)state;
    lun_memory *memory = NULL;
    lun_table *table = NULL;
    lun_global *global = NULL;
    assert_int_equal(lun_memory_new(1, 2, &memory, NULL), LUN_OK);
    assert_int_equal(lun_memory_size(memory), 65536);
    assert_int_equal(lun_table_new(LUN_FUNCREF, 2, 10, &table, NULL), LUN_OK);
    assert_int_equal(lun_global_new(lun_value_i32(9), true, &global, NULL), LUN_OK);
    assert_int_equal(lun_global_get(global).i32, 9);

    /* The consumer links against host objects as well as instance exports,
     * but the memory must satisfy the import's limits: segments.wat wants
     * one page. */
    lun_imports *imports = NULL;
    assert_int_equal(lun_imports_new(&imports, NULL), LUN_OK);
    lun_extern value = {.kind = LUN_EXTERN_MEMORY, .memory = memory};
    assert_int_equal(lun_imports_add(imports, "provider", "mem", value, NULL), LUN_OK);
    lun_module *module = load_test_module("segments");
    assert_non_null(module);
    lun_instance *instance = NULL;
    assert_int_equal(lun_instantiate(module, imports, NULL, &instance, NULL), LUN_ERR_TRAP);
    assert_int_equal(lun_memory_data(memory)[100], 1);
    lun_module_free(module);
    lun_imports_free(imports);
    lun_memory_free(memory);
    lun_table_free(table);
    lun_global_free(global);
}

static void test_many_instances(void **state)
{
    (void)state;
    enum { COUNT = 5000 };
    lun_module *module = load_test_module("small");
    assert_non_null(module);
    lun_instance **instances = calloc(COUNT, sizeof *instances);
    assert_non_null(instances);
    for (int i = 0; i < COUNT; i++) {
        assert_int_equal(lun_instantiate(module, NULL, NULL, &instances[i], NULL), LUN_OK);
        lun_value args[2] = {lun_value_i32(4), lun_value_i32(i)};
        assert_int_equal(lun_instance_call(instances[i], "set", args, 2, NULL, 0, NULL, NULL),
                         LUN_OK);
    }
    for (int i = 0; i < COUNT; i++) {
        lun_value address = lun_value_i32(4);
        assert_int_equal(call_i32(instances[i], "get", &address, 1), i);
        address = lun_value_i32(0);
        assert_int_equal(call_i32(instances[i], "get", &address, 1), 0x11);
    }
    for (int i = 0; i < COUNT; i++)
        lun_instance_free(instances[i]);
    /* Reused memory reads as zeros. */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(lun_instantiate(module, NULL, NULL, &instances[i], NULL), LUN_OK);
        lun_value address = lun_value_i32(4);
        assert_int_equal(call_i32(instances[i], "get", &address, 1), 0);
    }
    for (int i = 0; i < 10; i++)
        lun_instance_free(instances[i]);
    free(instances);
    lun_module_free(module);
}

static void test_exports(void **state)
{
    linked *l = *state;
    lun_extern value;
    lun_error error;
    assert_int_equal(lun_instance_export(l->provider, "nope", &value, &error), LUN_ERR_NOT_FOUND);
    assert_int_equal(lun_instance_export(l->provider, "tab", &value, NULL), LUN_OK);
    assert_int_equal(value.kind, LUN_EXTERN_TABLE);
    assert_int_equal(lun_instance_export(l->provider, "mem", &value, NULL), LUN_OK);
    assert_ptr_equal(value.memory, lun_instance_memory(l->provider));
    assert_ptr_equal(lun_instance_module(l->provider), l->provider_module);
    assert_int_equal(lun_instance_start(l->provider, "nope", NULL, 0, &error), LUN_ERR_NOT_FOUND);
    lun_value wrong = lun_value_i64(0);
    assert_int_equal(lun_instance_start(l->provider, "peek", &wrong, 1, &error),
                     LUN_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cross_instance_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_global, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_trap_keeps_earlier_segments, setup, teardown),
        cmocka_unit_test(test_host_objects),
        cmocka_unit_test(test_many_instances),
        cmocka_unit_test_setup_teardown(test_exports, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
