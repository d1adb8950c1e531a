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

static void call_void(lun_instance *instance, const char *name)
{
    size_t result_count = 1;
    lun_error error;
    if (lun_instance_call(instance, name, NULL, 0, NULL, 0, &result_count, &error) != LUN_OK)
        fail_msg("%s: %s", name, error.message);
    assert_int_equal(result_count, 0);
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

/* Instantiating the same module against the same import set again links
 * from a cache of the look-ups; changing the set must be seen at once. */
static void test_import_cache_follows_changes(void **state)
{
    linked *l = *state;
    lun_instance *again = NULL, *other_provider = NULL, *relinked = NULL;
    assert_int_equal(lun_instantiate(l->consumer_module, l->imports, NULL, &again, NULL), LUN_OK);
    assert_int_equal(call_i32(again, "call_peek", NULL, 0), 42);
    assert_int_equal(lun_instantiate(l->provider_module, NULL, NULL, &other_provider, NULL),
                     LUN_OK);
    lun_memory_data(lun_instance_memory(other_provider))[0] = 99;
    assert_int_equal(lun_imports_add_instance(l->imports, "provider", other_provider, NULL),
                     LUN_OK);
    assert_int_equal(lun_instantiate(l->consumer_module, l->imports, NULL, &relinked, NULL),
                     LUN_OK);
    assert_int_equal(call_i32(relinked, "call_peek", NULL, 0), 99);
    assert_int_equal(call_i32(again, "call_peek", NULL, 0), 42);
    lun_instance_free(relinked);
    lun_instance_free(again);
    /* The set must not name a freed instance: back to the first provider. */
    assert_int_equal(lun_imports_add_instance(l->imports, "provider", l->provider, NULL), LUN_OK);
    lun_instance_free(other_provider);
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

/* A released memory chunk is kept mapped and handed to the next instance:
 * everything the last owner wrote must read as zero again, apart from the
 * new instance's data segment. */
static void test_reused_memory_is_zero(void **state)
{
    (void)state;
    lun_module *module = load_test_module("small");
    assert_non_null(module);
    lun_instance *instance = NULL;
    assert_int_equal(lun_instantiate(module, NULL, NULL, &instance, NULL), LUN_OK);
    uint8_t *first = lun_memory_data(lun_instance_memory(instance));
    size_t size = lun_memory_size(lun_instance_memory(instance));
    assert_int_equal(size, 65536);
    memset(first, 0xab, size);
    lun_instance_free(instance);

    assert_int_equal(lun_instantiate(module, NULL, NULL, &instance, NULL), LUN_OK);
    uint8_t *second = lun_memory_data(lun_instance_memory(instance));
    /* The same chunk, or this test checks nothing. */
    assert_ptr_equal(second, first);
    assert_int_equal(second[0], 0x11);
    for (size_t i = 1; i < size; i++)
        if (second[i] != 0) fail_msg("byte %zu of a reused memory is %#x", i, second[i]);
    lun_instance_free(instance);
    lun_module_free(module);

    /* The same for a memory of the host's, of another size class. */
    lun_memory *memory = NULL;
    assert_int_equal(lun_memory_new(2, 2, &memory, NULL), LUN_OK);
    first = lun_memory_data(memory);
    memset(first, 0xcd, lun_memory_size(memory));
    lun_memory_free(memory);
    assert_int_equal(lun_memory_new(2, 2, &memory, NULL), LUN_OK);
    assert_ptr_equal(lun_memory_data(memory), first);
    for (size_t i = 0; i < lun_memory_size(memory); i++)
        if (lun_memory_data(memory)[i] != 0) fail_msg("byte %zu of a reused memory is not 0", i);
    lun_memory_free(memory);
}

/* Bytes of a memory that are not zero, outside [skip, skip + skip_length).
 * It only reads, so it asks for an empty range: asking for all of it would
 * record it all as written, and the release would clear it all. */
static size_t count_nonzero(lun_memory *memory, size_t skip, size_t skip_length)
{
    size_t size = lun_memory_size(memory), count = 0;
    const uint8_t *bytes = lun_memory_range(memory, 0, 0);
    for (size_t i = 0; i < size; i++)
        if (bytes[i] != 0 && (i < skip || i >= skip + skip_length)) count++;
    return count;
}

/* Guest stores, bulk memory operations, host writes and a grow that moves
 * the memory: a release clears only what was written (the written window),
 * so each kind of write, alone, must widen it. */
static void test_reused_memory_after_guest_writes(void **state)
{
    (void)state;
    static const char *const writers[] = {
        "i32_store",     "i32_store8",    "i32_store16",   "i64_store",
        "i64_store32",   "f64_add_store", "f32_mul_store", "f64_mul_add_store",
        "store_in_loop", "memory_fill",   "memory_copy",   "memory_init",
    };
    lun_module *module = load_test_module("scribble");
    assert_non_null(module);
    lun_instance *instance = NULL;
    for (size_t i = 0; i < sizeof writers / sizeof writers[0]; i++) {
        assert_int_equal(lun_instantiate(module, NULL, NULL, &instance, NULL), LUN_OK);
        lun_memory *memory = lun_instance_memory(instance);
        const uint8_t *first = lun_memory_range(memory, 0, 0);
        call_void(instance, writers[i]);
        if (count_nonzero(memory, 20000, 7) == 0) fail_msg("%s wrote nothing", writers[i]);
        lun_instance_free(instance);
        assert_int_equal(lun_instantiate(module, NULL, NULL, &instance, NULL), LUN_OK);
        memory = lun_instance_memory(instance);
        assert_ptr_equal(lun_memory_range(memory, 0, 0), first); /* the same chunk */
        assert_memory_equal(lun_memory_range(memory, 20000, 7), "segment", 7);
        if (count_nonzero(memory, 20000, 7) != 0) fail_msg("%s's write survived", writers[i]);
        lun_instance_free(instance);
    }

    /* Growing moves the memory to a four-page chunk; both come back clean. */
    assert_int_equal(lun_instantiate(module, NULL, NULL, &instance, NULL), LUN_OK);
    call_void(instance, "memory_fill");
    call_void(instance, "grow_and_store");
    lun_memory *memory = lun_instance_memory(instance);
    assert_int_equal(lun_memory_size(memory), 4 * 65536);
    const uint8_t *grown = lun_memory_range(memory, 0, 0);
    lun_value address = lun_value_i32(40000);
    assert_int_equal(call_i32(instance, "get", &address, 1), 7); /* copied when moved */
    lun_instance_free(instance);
    assert_int_equal(lun_memory_new(4, 4, &memory, NULL), LUN_OK);
    assert_ptr_equal(lun_memory_range(memory, 0, 0), grown);
    assert_int_equal(count_nonzero(memory, 0, 0), 0);
    lun_memory_free(memory);
    assert_int_equal(lun_instantiate(module, NULL, NULL, &instance, NULL), LUN_OK);
    assert_int_equal(count_nonzero(lun_instance_memory(instance), 20000, 7), 0);
    lun_instance_free(instance);
    lun_module_free(module);

    /* Host writes go through a range. */
    assert_int_equal(lun_memory_new(1, 1, &memory, NULL), LUN_OK);
    uint8_t *bytes = lun_memory_range(memory, 60000, 10);
    assert_non_null(bytes);
    memset(bytes, 0xff, 10);
    assert_null(lun_memory_range(memory, 65536, 1));
    assert_null(lun_memory_range(memory, 65537, 0));
    assert_null(lun_memory_range(memory, 1, UINT64_MAX));
    assert_non_null(lun_memory_range(memory, 65536, 0));
    const uint8_t *host_chunk = lun_memory_range(memory, 0, 0);
    lun_memory_free(memory);
    assert_int_equal(lun_memory_new(1, 1, &memory, NULL), LUN_OK);
    assert_ptr_equal(lun_memory_range(memory, 0, 0), host_chunk);
    assert_int_equal(count_nonzero(memory, 0, 0), 0);
    lun_memory_free(memory);
}

/* A memory without pages has an empty written window: a store must trap,
 * not slip through the window check. */
static void test_store_to_empty_memory_traps(void **state)
{
    (void)state;
    lun_module *module = load_test_module("empty_memory");
    assert_non_null(module);
    lun_instance *instance = NULL;
    assert_int_equal(lun_instantiate(module, NULL, NULL, &instance, NULL), LUN_OK);
    lun_value address = lun_value_i32(0);
    lun_error error;
    size_t result_count;
    assert_int_equal(
        lun_instance_call(instance, "store", &address, 1, NULL, 0, &result_count, &error),
        LUN_ERR_TRAP);
    assert_non_null(strstr(error.message, "out of bounds"));
    lun_instance_free(instance);
    assert_int_equal(lun_instantiate(module, NULL, NULL, &instance, NULL), LUN_OK);
    assert_int_equal(call_i32(instance, "grow", NULL, 0), 0);
    address = lun_value_i32(65535);
    assert_int_equal(
        lun_instance_call(instance, "store", &address, 1, NULL, 0, &result_count, &error), LUN_OK);
    address = lun_value_i32(65536);
    assert_int_equal(
        lun_instance_call(instance, "store", &address, 1, NULL, 0, &result_count, &error),
        LUN_ERR_TRAP);
    lun_instance_free(instance);
    lun_module_free(module);
}

/* Which instantiations may be put off: only those that cannot fail but for
 * lack of memory. */
static void test_instantiates_surely(void **state)
{
    linked *l = *state;
    lun_module *module = load_test_module("surely");
    assert_non_null(module);
    assert_true(lun_module_instantiates_surely(module, NULL, 0));
    assert_true(lun_module_instantiates_surely(module, NULL, 65536));
    assert_false(lun_module_instantiates_surely(module, NULL, 65535)); /* memory over the limit */
    lun_instance *instance = NULL;
    assert_int_equal(lun_instantiate(module, NULL, NULL, &instance, NULL), LUN_OK);
    assert_int_equal(call_i32(instance, "f", NULL, 0), 0x04030201);
    lun_instance_free(instance);
    lun_module_free(module);
    /* A start function may trap, and so may a segment past the memory. */
    module = load_test_module("started");
    assert_non_null(module);
    assert_false(lun_module_instantiates_surely(module, NULL, 0));
    lun_module_free(module);
    /* Imports: functions only, found, with their types. */
    assert_false(lun_module_instantiates_surely(l->consumer_module, l->imports, 0)); /* a table */
    module = load_test_module("peek_user");
    assert_non_null(module);
    assert_false(lun_module_instantiates_surely(module, NULL, 0));
    assert_true(lun_module_instantiates_surely(module, l->imports, 0));
    lun_module_free(module);
    module = load_test_module("peek_mistyped");
    assert_non_null(module);
    assert_false(lun_module_instantiates_surely(module, l->imports, 0));
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

static lun_host_result host_add(lun_host_call *call)
{
    call->results[0] = (uint64_t)((int64_t)(int32_t)call->args[0] + (int64_t)call->args[1]);
    return LUN_HOST_RETURN;
}

/* Runs func on instance through lun_instance_start_func; returns its i64. */
static int64_t start_func_i64(lun_instance *instance, const lun_func *func, int32_t a, int64_t b)
{
    lun_value args[2] = {lun_value_i32(a), lun_value_i64(b)};
    lun_error error;
    if (lun_instance_start_func(instance, func, args, 2, &error) != LUN_OK)
        fail_msg("start: %s", error.message);
    assert_int_equal(lun_instance_run(instance, UINT64_MAX), LUN_RUN_FINISHED);
    lun_value result = {0};
    assert_int_equal(lun_instance_results(instance, &result, 1), 1);
    assert_int_equal(result.type, LUN_I64);
    return result.i64;
}

/* Export and import names are byte strings: a NUL inside one is part of
 * the name, so "f\0x" and "f" are different exports. */
static void test_names_with_nul(void **state)
{
    (void)state;
    lun_module *module = load_test_module("names");
    lun_module *user_module = load_test_module("names_user");
    assert_non_null(module);
    assert_non_null(user_module);
    lun_instance *instance = NULL, *user = NULL;
    assert_int_equal(lun_instantiate(module, NULL, NULL, &instance, NULL), LUN_OK);

    lun_extern with_nul, plain;
    assert_int_equal(lun_instance_export_bytes(instance, "f\0x", 3, &with_nul, NULL), LUN_OK);
    assert_int_equal(lun_instance_export(instance, "f", &plain, NULL), LUN_OK);
    assert_int_equal(with_nul.kind, LUN_EXTERN_FUNC);
    assert_ptr_not_equal(with_nul.func, plain.func);
    const lun_valtype *params, *results;
    size_t param_count, result_count;
    lun_func_type(with_nul.func, &params, &param_count, &results, &result_count);
    assert_int_equal(param_count, 2);
    assert_int_equal(params[0], LUN_I32);
    assert_int_equal(params[1], LUN_I64);
    assert_int_equal(result_count, 1);
    assert_int_equal(results[0], LUN_I64);
    assert_int_equal(start_func_i64(instance, with_nul.func, 40, 2), 42);
    assert_int_equal(start_func_i64(instance, plain.func, 40, 2), 1);
    /* The C-string lookup stops at the NUL: "g" is not "g\0". */
    lun_extern global;
    lun_error error;
    assert_int_equal(lun_instance_export(instance, "g", &global, &error), LUN_ERR_NOT_FOUND);
    assert_int_equal(lun_instance_export_bytes(instance, "f\0", 2, &global, &error),
                     LUN_ERR_NOT_FOUND);
    assert_int_equal(lun_instance_export_bytes(instance, "g\0", 2, &global, NULL), LUN_OK);
    assert_int_equal(global.kind, LUN_EXTERN_GLOBAL);
    assert_int_equal(lun_global_get(global.global).i32, 9);

    /* Linking matches the whole name: "names"."f" does not satisfy an
     * import of "names"."f\0x". */
    lun_imports *imports = NULL;
    assert_int_equal(lun_imports_new(&imports, NULL), LUN_OK);
    assert_int_equal(lun_imports_add(imports, "names", "f", plain, NULL), LUN_OK);
    assert_int_equal(lun_imports_add(imports, "names", "g", global, NULL), LUN_OK);
    assert_int_equal(lun_instantiate(user_module, imports, NULL, &user, &error), LUN_ERR_LINK);
    assert_int_equal(lun_imports_add_instance(imports, "names", instance, NULL), LUN_OK);
    if (lun_instantiate(user_module, imports, NULL, &user, &error) != LUN_OK)
        fail_msg("names_user: %s", error.message);
    lun_value result = {0};
    assert_int_equal(lun_instance_call(user, "call_imported", NULL, 0, &result, 1, NULL, &error),
                     LUN_OK);
    assert_int_equal(result.i64, 42);

    lun_instance_free(user);
    lun_imports_free(imports);
    lun_instance_free(instance);
    lun_module_free(user_module);
    lun_module_free(module);
}

static void test_start_func(void **state)
{
    linked *l = *state;
    lun_extern peek;
    assert_int_equal(lun_instance_export(l->provider, "peek", &peek, NULL), LUN_OK);
    lun_value address = lun_value_i32(0);
    lun_error error;
    assert_int_equal(lun_instance_start_func(l->provider, NULL, &address, 1, &error),
                     LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_instance_start_func(l->provider, peek.func, NULL, 0, &error),
                     LUN_ERR_INVALID_ARGUMENT);
    lun_value wrong = lun_value_i64(0);
    assert_int_equal(lun_instance_start_func(l->provider, peek.func, &wrong, 1, &error),
                     LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_instance_start_func(l->provider, peek.func, &address, 1, &error), LUN_OK);
    assert_int_equal(lun_instance_run(l->provider, UINT64_MAX), LUN_RUN_FINISHED);
    lun_value result = {0};
    assert_int_equal(lun_instance_results(l->provider, &result, 1), 1);
    assert_int_equal(result.i32, 42);
    /* Another instance's function runs with its own instance's memory. */
    assert_int_equal(lun_instance_start_func(l->consumer, peek.func, &address, 1, &error), LUN_OK);
    assert_int_equal(lun_instance_run(l->consumer, UINT64_MAX), LUN_RUN_FINISHED);
    assert_int_equal(lun_instance_results(l->consumer, &result, 1), 1);
    assert_int_equal(result.i32, 42);
    /* A host function as the entry. */
    lun_func *host = NULL;
    assert_int_equal(lun_func_new_host("i32 i64", "i64", host_add, NULL, &host, NULL), LUN_OK);
    assert_int_equal(start_func_i64(l->provider, host, -2, 10), 8);
    lun_func_free(host);
}

static void test_import_func_type(void **state)
{
    (void)state;
    lun_module *module = load_test_module("names_user");
    assert_non_null(module);
    const lun_valtype *params = NULL, *results = NULL;
    size_t param_count = 9, result_count = 9;
    assert_true(
        lun_module_import_func_type(module, 0, &params, &param_count, &results, &result_count));
    assert_int_equal(param_count, 2);
    assert_int_equal(params[0], LUN_I32);
    assert_int_equal(params[1], LUN_I64);
    assert_int_equal(result_count, 1);
    assert_int_equal(results[0], LUN_I64);
    /* Import 1 is a global; there is no import 2. */
    assert_false(
        lun_module_import_func_type(module, 1, &params, &param_count, &results, &result_count));
    assert_false(
        lun_module_import_func_type(module, 2, &params, &param_count, &results, &result_count));
    assert_false(lun_module_import_func_type(NULL, 0, NULL, NULL, NULL, NULL));
    assert_true(lun_module_import_func_type(module, 0, NULL, NULL, NULL, NULL));
    lun_module_free(module);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cross_instance_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_global, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_cache_follows_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_trap_keeps_earlier_segments, setup, teardown),
        cmocka_unit_test(test_host_objects),
        cmocka_unit_test(test_many_instances),
        cmocka_unit_test(test_reused_memory_is_zero),
        cmocka_unit_test(test_reused_memory_after_guest_writes),
        cmocka_unit_test(test_store_to_empty_memory_traps),
        cmocka_unit_test_setup_teardown(test_instantiates_surely, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exports, setup, teardown),
        cmocka_unit_test(test_names_with_nul),
        cmocka_unit_test_setup_teardown(test_start_func, setup, teardown),
        cmocka_unit_test(test_import_func_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
