/*
 * Tests of the interpreter: arithmetic edge cases, traps and their reasons,
 * control flow the compiler rewrites (lazy locals, fused compare-and-branch,
 * multi-value, if with parameters, br_table), deep recursion, fuel slicing
 * and resumption, host functions that suspend, memory.grow limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine_test_support.h"

typedef struct fixture {
    lun_module *module;
    lun_instance *instance;
} fixture;

static int setup_with(void **state, const lun_instance_config *config)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->module = load_test_module("arith");
    assert_non_null(f->module);
    lun_error error;
    assert_int_equal(lun_instantiate(f->module, NULL, config, &f->instance, &error), LUN_OK);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, NULL);
}

static int teardown(void **state)
{
    fixture *f = *state;
    lun_instance_free(f->instance);
    lun_module_free(f->module);
    free(f);
    return 0;
}

/* Calls name with i32 arguments; returns the status, *result the first result. */
static lun_status call(fixture *f, const char *name, const lun_value *args, size_t count,
                       lun_value *result, lun_error *error)
{
    lun_value results[4];
    size_t result_count = 0;
    lun_status status =
        lun_instance_call(f->instance, name, args, count, results, 4, &result_count, error);
    if (status == LUN_OK && result_count > 0) *result = results[0];
    return status;
}

static int32_t call_i32(fixture *f, const char *name, int32_t a, int32_t b, size_t count)
{
    lun_value args[2] = {lun_value_i32(a), lun_value_i32(b)};
    lun_value result = {.type = LUN_I64};
    lun_error error;
    lun_status status = call(f, name, args, count, &result, &error);
    if (status != LUN_OK) fail_msg("%s: %s", name, error.message);
    assert_int_equal(result.type, LUN_I32);
    return result.i32;
}

static void assert_trap(fixture *f, const char *name, const lun_value *args, size_t count,
                        const char *reason)
{
    lun_value result = {.type = LUN_I32};
    lun_error error;
    assert_int_equal(call(f, name, args, count, &result, &error), LUN_ERR_TRAP);
    if (strstr(error.message, reason) == NULL)
        fail_msg("%s: trap \"%s\" lacks \"%s\"", name, error.message, reason);
}

static void test_integer_edges(void **state)
{
    fixture *f = *state;
    assert_int_equal(call_i32(f, "div_s", -7, 2, 2), -3);
    assert_int_equal(call_i32(f, "rem_s", -7, 2, 2), -1);
    assert_int_equal(call_i32(f, "rem_s", INT32_MIN, -1, 2), 0);
    assert_int_equal(call_i32(f, "rotl", (int32_t)0x80000001u, 33, 2), 3);
    assert_int_equal(call_i32(f, "extend8", 0x180, 0, 1), -128);
    lun_value args[2] = {lun_value_i32(1), lun_value_i32(0)};
    assert_trap(f, "div_s", args, 2, "integer divide by zero");
    args[0] = lun_value_i32(INT32_MIN);
    args[1] = lun_value_i32(-1);
    assert_trap(f, "div_s", args, 2, "integer overflow");
    lun_value wide[2] = {lun_value_i64(-1), lun_value_i64(2)};
    lun_value result = {.type = LUN_I32};
    assert_int_equal(call(f, "div_u64", wide, 2, &result, NULL), LUN_OK);
    assert_true(result.i64 == INT64_MAX);
    lun_value one = lun_value_i64(1);
    assert_int_equal(call(f, "clz64", &one, 1, &result, NULL), LUN_OK);
    assert_int_equal(result.i64, 63);
}

static void test_conversions(void **state)
{
    fixture *f = *state;
    lun_value result = {.type = LUN_I32};
    lun_value arg = lun_value_f32(-2147483648.0f);
    assert_int_equal(call(f, "trunc_f32_s", &arg, 1, &result, NULL), LUN_OK);
    assert_int_equal(result.i32, INT32_MIN);
    arg = lun_value_f32(2147483648.0f);
    assert_trap(f, "trunc_f32_s", &arg, 1, "integer overflow");
    arg = f32_bits(0x7FC00000u);
    assert_trap(f, "trunc_f32_s", &arg, 1, "invalid conversion to integer");
    arg = lun_value_f64(-0.9);
    assert_int_equal(call(f, "trunc_f64_u", &arg, 1, &result, NULL), LUN_OK);
    assert_int_equal(result.i32, 0);
    arg = lun_value_f64(-1.0);
    assert_trap(f, "trunc_f64_u", &arg, 1, "integer overflow");
    arg = lun_value_f64(1e300);
    assert_int_equal(call(f, "trunc_sat_f64_u", &arg, 1, &result, NULL), LUN_OK);
    assert_int_equal((uint32_t)result.i32, UINT32_MAX);
    arg = f64_bits(0xFFF8000000000000ull);
    assert_int_equal(call(f, "trunc_sat_f64_u", &arg, 1, &result, NULL), LUN_OK);
    assert_int_equal(result.i32, 0);
}

static void test_float_exactness(void **state)
{
    fixture *f = *state;
    lun_value result = {.type = LUN_I32};
    lun_value zeros[2] = {f32_bits(0x00000000u), f32_bits(0x80000000u)};
    assert_int_equal(call(f, "f32_min", zeros, 2, &result, NULL), LUN_OK);
    assert_int_equal(result.f32_bits, 0x80000000u); /* min(+0, -0) = -0 */
    lun_value dzeros[2] = {f64_bits(0x8000000000000000ull), f64_bits(0)};
    assert_int_equal(call(f, "f64_max", dzeros, 2, &result, NULL), LUN_OK);
    assert_true(result.f64_bits == 0); /* max(-0, +0) = +0 */
    lun_value nan_and_one[2] = {f64_bits(0x7FF4000000000001ull), lun_value_f64(1.0)};
    assert_int_equal(call(f, "f64_max", nan_and_one, 2, &result, NULL), LUN_OK);
    assert_true((result.f64_bits & 0x7FF8000000000000ull) == 0x7FF8000000000000ull);
    lun_value half = lun_value_f64(2.5);
    assert_int_equal(call(f, "f64_nearest", &half, 1, &result, NULL), LUN_OK);
    assert_true(result.f64_bits == 0x4000000000000000ull); /* 2.0: ties to even */
    /* Signalling NaN payloads survive stores, loads and neg. */
    lun_value snan = f32_bits(0x7FA00001u);
    assert_int_equal(call(f, "f32_roundtrip", &snan, 1, &result, NULL), LUN_OK);
    assert_int_equal(result.f32_bits, 0x7FA00001u);
    assert_int_equal(call(f, "f32_neg", &snan, 1, &result, NULL), LUN_OK);
    assert_int_equal(result.f32_bits, 0xFFA00001u);
    lun_value dsnan = f64_bits(0xFFF0000000000123ull);
    assert_int_equal(call(f, "f64_roundtrip", &dsnan, 1, &result, NULL), LUN_OK);
    assert_true(result.f64_bits == 0xFFF0000000000123ull);
}

static void test_fused_instructions(void **state)
{
    fixture *f = *state;
    /* (1 + 2^-30) * (1 - 2^-30) rounds to 1, so the sum is exactly 0; a
     * fused multiply-add would give -2^-60. */
    lun_value args[3] = {lun_value_f64(-1.0), lun_value_f64(1.0 + 0x1p-30),
                         lun_value_f64(1.0 - 0x1p-30)};
    lun_value result = {.type = LUN_F64};
    assert_int_equal(call(f, "mul_add", args, 3, &result, NULL), LUN_OK);
    assert_true(result.f64_bits == 0);
    /* The address is a 32-bit sum: 0xFFFFFFFF + 5 is 4, in bounds. */
    lun_value poke[2] = {lun_value_i32(4), lun_value_i32(77)};
    assert_int_equal(lun_instance_call(f->instance, "poke", poke, 2, NULL, 0, NULL, NULL), LUN_OK);
    assert_int_equal(call_i32(f, "load_sum", -1, 5, 2), 77);
    assert_int_equal(call_i32(f, "tee_load", 0, 0, 1), 77 + 4);
    lun_value address = lun_value_i32(65532);
    assert_trap(f, "tee_load", &address, 1, "out of bounds memory access");
    lun_value factors[2] = {lun_value_f64(5.0), lun_value_f64(7.0)};
    assert_int_equal(call(f, "mul_load_add", factors, 2, &result, NULL), LUN_OK);
    assert_true(result.f64_bits == lun_value_f64(38.0).f64_bits);
    assert_int_equal(call(f, "mul_load_add_clash", factors, 1, &result, NULL), LUN_OK);
    assert_true(result.f64_bits == lun_value_f64(13.0).f64_bits);
    lun_value start = lun_value_i64(5);
    assert_int_equal(call(f, "count_down_i64", &start, 1, &result, NULL), LUN_OK);
    assert_int_equal(result.i32, 5);
    start = lun_value_i64(-3);
    assert_int_equal(call(f, "count_down_i64", &start, 1, &result, NULL), LUN_OK);
    assert_int_equal(result.i32, 1);
}

static void test_memory_traps(void **state)
{
    fixture *f = *state;
    assert_int_equal(call_i32(f, "load", 65532 - 4, 0, 1), 0);
    lun_value address = lun_value_i32(65533 - 4);
    assert_trap(f, "load", &address, 1, "out of bounds memory access");
    address = lun_value_i32(-1); /* offset + address must not wrap */
    assert_trap(f, "load", &address, 1, "out of bounds memory access");
    assert_trap(f, "unreachable", NULL, 0, "unreachable");
}

static void test_control_flow(void **state)
{
    fixture *f = *state;
    lun_value arg = lun_value_i32(1000), result = {.type = LUN_I32};
    assert_int_equal(call(f, "sum", &arg, 1, &result, NULL), LUN_OK);
    assert_int_equal(result.i64, 499500);
    assert_int_equal(call_i32(f, "stale_local", 10, 3, 2), 7);
    assert_int_equal(call_i32(f, "zero_locals", 9, 0, 1), 0);
    assert_int_equal(call_i32(f, "zero_paths", 1, 0, 1), 0);
    assert_int_equal(call_i32(f, "if_params", 5, 1, 2), 15);
    assert_int_equal(call_i32(f, "if_params", 5, 0, 2), -15);
    for (int32_t i = 0; i < 4; i++)
        assert_int_equal(call_i32(f, "switch", i, 0, 1), 100 + i);
    assert_int_equal(call_i32(f, "switch", -1, 0, 1), 103);
    assert_int_equal(call_i32(f, "fib", 20, 0, 1), 6765);

    lun_value args[2] = {lun_value_i32(1), lun_value_i32(2)};
    lun_value results[2];
    size_t count = 0;
    assert_int_equal(lun_instance_call(f->instance, "swap", args, 2, results, 2, &count, NULL),
                     LUN_OK);
    assert_int_equal(count, 2);
    assert_int_equal(results[0].i32, 2);
    assert_int_equal(results[1].i32, 1);
    /* Too little room for the results is refused, not overrun. */
    assert_int_equal(lun_instance_call(f->instance, "swap", args, 2, results, 1, &count, NULL),
                     LUN_ERR_INVALID_ARGUMENT);
}

static void test_deep_recursion(void **state)
{
    fixture *f = *state;
    assert_int_equal(call_i32(f, "deep", 10000, 0, 1), 10000);
    lun_value depth = lun_value_i32(100000);
    assert_trap(f, "deep", &depth, 1, "call stack exhausted");
    /* The instance is usable after the trap. */
    assert_int_equal(call_i32(f, "deep", 50, 0, 1), 50);
}

static void test_call_depth_config(void **state)
{
    (void)state;
    lun_instance_config config = {.max_call_depth = 100};
    void *inner;
    setup_with(&inner, &config);
    fixture *f = inner;
    assert_int_equal(call_i32(f, "deep", 98, 0, 1), 98);
    lun_value depth = lun_value_i32(100);
    assert_trap(f, "deep", &depth, 1, "call stack exhausted");
    teardown(&inner);
}

static void test_fuel_slices(void **state)
{
    fixture *f = *state;
    lun_value arg = lun_value_i32(1000);
    uint64_t before = lun_instance_fuel_used(f->instance);
    assert_int_equal(lun_instance_start(f->instance, "spin", &arg, 1, NULL), LUN_OK);
    int slices = 0;
    lun_run_state run_state;
    while ((run_state = lun_instance_run(f->instance, 100)) == LUN_RUN_OUT_OF_FUEL)
        slices++;
    assert_int_equal(run_state, LUN_RUN_FINISHED);
    /* 1000 units: entry plus 999 back-edges, exactly ten slices of 100. */
    assert_int_equal(slices, 9);
    assert_int_equal(lun_instance_fuel_used(f->instance) - before, 1000);
    lun_value result = {.type = LUN_I32};
    assert_int_equal(lun_instance_results(f->instance, &result, 1), 1);
    assert_int_equal(result.i32, 1000);
    /* A back-edge taken through br_table pays the same. */
    before = lun_instance_fuel_used(f->instance);
    assert_int_equal(lun_instance_start(f->instance, "table_spin", &arg, 1, NULL), LUN_OK);
    slices = 0;
    while ((run_state = lun_instance_run(f->instance, 100)) == LUN_RUN_OUT_OF_FUEL)
        slices++;
    assert_int_equal(run_state, LUN_RUN_FINISHED);
    assert_int_equal(slices, 9);
    assert_int_equal(lun_instance_fuel_used(f->instance) - before, 1000);
    assert_int_equal(lun_instance_results(f->instance, &result, 1), 1);
    assert_int_equal(result.i32, 1000);
    /* Recursion is charged at every call and resumes mid-stack. */
    arg = lun_value_i32(15);
    assert_int_equal(lun_instance_start(f->instance, "fib", &arg, 1, NULL), LUN_OK);
    slices = 0;
    while ((run_state = lun_instance_run(f->instance, 7)) == LUN_RUN_OUT_OF_FUEL)
        slices++;
    assert_int_equal(run_state, LUN_RUN_FINISHED);
    assert_true(slices > 100);
    assert_int_equal(lun_instance_results(f->instance, &result, 1), 1);
    assert_int_equal(result.i32, 610);
}

static void test_fuel_limit(void **state)
{
    (void)state;
    lun_instance_config config = {.fuel_limit = 500};
    void *inner;
    setup_with(&inner, &config);
    fixture *f = inner;
    assert_int_equal(call_i32(f, "spin", 400, 0, 1), 400);
    lun_value arg = lun_value_i32(400);
    assert_trap(f, "spin", &arg, 1, "out of fuel");
    assert_int_equal(lun_instance_fuel_used(f->instance), 500);
    teardown(&inner);
}

static void test_memory_grow(void **state)
{
    fixture *f = *state;
    assert_int_equal(call_i32(f, "size", 0, 0, 0), 1);
    lun_value poke[2] = {lun_value_i32(65532), lun_value_i32(0x12345678)};
    assert_int_equal(lun_instance_call(f->instance, "poke", poke, 2, NULL, 0, NULL, NULL), LUN_OK);
    /* Past the largest pooled chunk: the memory moves, its bytes stay. */
    assert_int_equal(call_i32(f, "grow", 300, 0, 1), 1);
    assert_int_equal(call_i32(f, "size", 0, 0, 0), 301);
    assert_int_equal(call_i32(f, "peek", 65532, 0, 1), 0x12345678);
    assert_int_equal(call_i32(f, "peek", 300 * 65536, 0, 1), 0);
    assert_int_equal(call_i32(f, "grow", 65536, 0, 1), -1);
    assert_int_equal(lun_memory_size(lun_instance_memory(f->instance)), 301u * 65536);
}

/* A return does not reload the memory: the callee that grew it did. */
static void test_memory_grow_in_callee(void **state)
{
    fixture *f = *state;
    lun_value poke[2] = {lun_value_i32(65532), lun_value_i32(0x2468ace0)};
    assert_int_equal(lun_instance_call(f->instance, "poke", poke, 2, NULL, 0, NULL, NULL), LUN_OK);
    assert_int_equal(call_i32(f, "grow_then_poke", 300, 300 * 65536, 2), 77);
    assert_int_equal(call_i32(f, "peek", 300 * 65536, 0, 1), 77);
    assert_int_equal(call_i32(f, "peek", 65532, 0, 1), 0x2468ace0);
}

static void test_memory_limit(void **state)
{
    (void)state;
    lun_instance_config config = {.max_memory_bytes = 4 * 65536};
    void *inner;
    setup_with(&inner, &config);
    fixture *f = inner;
    assert_int_equal(call_i32(f, "grow", 3, 0, 1), 1);
    assert_int_equal(call_i32(f, "grow", 1, 0, 1), -1);
    assert_int_equal(call_i32(f, "grow", 0, 0, 1), 4);
    teardown(&inner);

    lun_module *module = load_test_module("arith");
    assert_non_null(module);
    lun_instance *instance = NULL;
    config.max_memory_bytes = 65535; /* less than the module's one page */
    lun_error error;
    assert_int_not_equal(lun_instantiate(module, NULL, &config, &instance, &error), LUN_OK);
    assert_null(instance);
    lun_module_free(module);
}

/* ---- host functions ---------------------------------------------------- */

typedef struct host_log {
    int attempts;
    int32_t args[8];
} host_log;

static lun_host_result wait_host(lun_host_call *call)
{
    host_log *log = call->data;
    if (log->attempts < 8) log->args[log->attempts] = (int32_t)call->args[0];
    log->attempts++;
    if (log->attempts % 3 != 0) return LUN_HOST_SUSPEND;
    call->results[0] = (uint32_t)((int32_t)call->args[0] * 2);
    return LUN_HOST_RETURN;
}

static lun_host_result fail_host(lun_host_call *call)
{
    snprintf(call->trap_message, sizeof call->trap_message, "host says no");
    return LUN_HOST_TRAP;
}

static void test_host_suspend(void **state)
{
    (void)state;
    host_log log = {0};
    lun_func *wait = NULL, *fail = NULL;
    assert_int_equal(lun_func_new_host("i32", "i32", wait_host, &log, &wait, NULL), LUN_OK);
    assert_int_equal(lun_func_new_host("", "", fail_host, NULL, &fail, NULL), LUN_OK);
    lun_imports *imports = NULL;
    assert_int_equal(lun_imports_new(&imports, NULL), LUN_OK);
    lun_extern value = {.kind = LUN_EXTERN_FUNC, .func = wait};
    assert_int_equal(lun_imports_add(imports, "env", "wait", value, NULL), LUN_OK);
    value.func = fail;
    assert_int_equal(lun_imports_add(imports, "env", "fail", value, NULL), LUN_OK);
    lun_module *module = load_test_module("host");
    assert_non_null(module);
    lun_instance *instance = NULL;
    lun_error error;
    assert_int_equal(lun_instantiate(module, imports, NULL, &instance, &error), LUN_OK);

    lun_value arg = lun_value_i32(21), result = {.type = LUN_I32};
    assert_int_equal(lun_instance_start(instance, "use_wait", &arg, 1, NULL), LUN_OK);
    assert_int_equal(lun_instance_run(instance, 1000), LUN_RUN_SUSPENDED);
    assert_int_equal(lun_instance_run(instance, 1000), LUN_RUN_SUSPENDED);
    assert_int_equal(lun_instance_run(instance, 1000), LUN_RUN_FINISHED);
    assert_int_equal(log.attempts, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(log.args[i], 21);
    assert_int_equal(lun_instance_results(instance, &result, 1), 1);
    assert_int_equal(result.i32, 43);

    /* Suspensions inside a loop, interleaved with fuel slices. */
    log.attempts = 0;
    arg = lun_value_i32(4);
    assert_int_equal(lun_instance_start(instance, "wait_in_loop", &arg, 1, NULL), LUN_OK);
    int suspensions = 0;
    lun_run_state run_state;
    while ((run_state = lun_instance_run(instance, 2)) != LUN_RUN_FINISHED) {
        assert_int_not_equal(run_state, LUN_RUN_TRAPPED);
        if (run_state == LUN_RUN_SUSPENDED) suspensions++;
    }
    assert_int_equal(suspensions, 8);
    assert_int_equal(lun_instance_results(instance, &result, 1), 1);
    assert_int_equal(result.i32, 2 * (4 + 3 + 2 + 1));

    /* Without slicing, a suspension is an error; a host trap is a trap. */
    log.attempts = 0;
    arg = lun_value_i32(1);
    assert_int_equal(lun_instance_call(instance, "use_wait", &arg, 1, &result, 1, NULL, &error),
                     LUN_ERR_STATE);
    assert_int_equal(lun_instance_call(instance, "use_fail", NULL, 0, NULL, 0, NULL, &error),
                     LUN_ERR_TRAP);
    assert_non_null(strstr(error.message, "host says no"));

    lun_instance_free(instance);
    lun_module_free(module);
    lun_imports_free(imports);
    lun_func_free(wait);
    lun_func_free(fail);
}

static void test_bad_host_types(void **state)
{
    (void)state;
    lun_func *func = NULL;
    lun_error error;
    assert_int_equal(lun_func_new_host("i32 int", "", wait_host, NULL, &func, &error),
                     LUN_ERR_INVALID_ARGUMENT);
    assert_null(func);
}

static double call_f64(lun_instance *instance, const char *name, const lun_value *args,
                       size_t count)
{
    lun_value result = {0};
    lun_error error;
    if (lun_instance_call(instance, name, args, count, &result, 1, NULL, &error) != LUN_OK)
        fail_msg("%s: %s", name, error.message);
    double value;
    memcpy(&value, &result.f64_bits, sizeof value);
    return value;
}

/* Float arithmetic fused with the loads that feed it and the stores that
 * take its result: same values, same traps, locals still written. */
static void test_fused_float_memory(void **state)
{
    (void)state;
    lun_module *module = load_test_module("fused");
    assert_non_null(module);
    lun_instance *instance = NULL;
    assert_int_equal(lun_instantiate(module, NULL, NULL, &instance, NULL), LUN_OK);
    lun_value mul_add[4] = {lun_value_i32(0), lun_value_f64(1.5), lun_value_f64(2.0),
                            lun_value_f64(3.0)};
    assert_true(call_f64(instance, "mul_add_store", mul_add, 4) == 7.5);
    lun_value tee[3] = {lun_value_i32(32), lun_value_f64(5.0), lun_value_f64(1.5)};
    assert_true(call_f64(instance, "tee_store", tee, 3) == 7.0);
    lun_value f32_args[3] = {lun_value_i32(40), lun_value_f32(1.5f), lun_value_f32(4.0f)};
    lun_value result = {0};
    assert_int_equal(
        lun_instance_call(instance, "f32_mul_store", f32_args, 3, &result, 1, NULL, NULL), LUN_OK);
    assert_int_equal(result.f32_bits, lun_value_f32(6.0f).f32_bits);
    lun_value f32_sub[4] = {lun_value_i32(44), lun_value_f32(10.0f), lun_value_f32(2.0f),
                            lun_value_f32(3.0f)};
    assert_int_equal(
        lun_instance_call(instance, "f32_mul_sub_store", f32_sub, 4, &result, 1, NULL, NULL),
        LUN_OK);
    assert_int_equal(result.f32_bits, lun_value_f32(4.0f).f32_bits);

    lun_value set[2] = {lun_value_i32(64), lun_value_f64(2.5)};
    assert_int_equal(lun_instance_call(instance, "set", set, 2, NULL, 0, NULL, NULL), LUN_OK);
    lun_value sub[3] = {lun_value_i32(40), lun_value_i32(8), lun_value_f64(10.0)};
    assert_true(call_f64(instance, "sub_load_add", sub, 3) == 7.5);

    set[0] = lun_value_i32(128), set[1] = lun_value_f64(1.0);
    assert_int_equal(lun_instance_call(instance, "set", set, 2, NULL, 0, NULL, NULL), LUN_OK);
    set[0] = lun_value_i32(264), set[1] = lun_value_f64(3.0);
    assert_int_equal(lun_instance_call(instance, "set", set, 2, NULL, 0, NULL, NULL), LUN_OK);
    lun_value axpy[4] = {lun_value_i32(128), lun_value_i32(256), lun_value_i32(8),
                         lun_value_f64(2.0)};
    assert_int_equal(lun_instance_call(instance, "axpy", axpy, 4, &result, 1, NULL, NULL), LUN_OK);
    assert_int_equal(result.i32, 264);
    lun_value where = lun_value_i32(128);
    assert_true(call_f64(instance, "get", &where, 1) == 7.0);
    /* 1.0 at 128, 3.0 at 136: 1.0 - 3.0 * 136 (the local written first). */
    lun_value self_args[2] = {lun_value_i32(128), lun_value_i32(136)};
    set[0] = lun_value_i32(128 + 136), set[1] = lun_value_f64(3.0);
    assert_int_equal(lun_instance_call(instance, "set", set, 2, NULL, 0, NULL, NULL), LUN_OK);
    set[0] = lun_value_i32(128), set[1] = lun_value_f64(1.0);
    assert_int_equal(lun_instance_call(instance, "set", set, 2, NULL, 0, NULL, NULL), LUN_OK);
    assert_true(call_f64(instance, "axpy_self", self_args, 2) == 1.0 - 3.0 * 264);

    lun_value mul_sub[3] = {lun_value_i32(264), lun_value_f64(1000.0), lun_value_f64(2.0)};
    assert_true(call_f64(instance, "mul_sub_mem", mul_sub, 3) == 994.0);

    /* The load before two multiplies moves into the last one. */
    set[0] = lun_value_i32(512), set[1] = lun_value_f64(100.0);
    assert_int_equal(lun_instance_call(instance, "set", set, 2, NULL, 0, NULL, NULL), LUN_OK);
    lun_value chain[4] = {lun_value_i32(512), lun_value_f64(2.0), lun_value_f64(3.0),
                          lun_value_f64(4.0)};
    assert_true(call_f64(instance, "load_mul_mul_sub", chain, 4) == 76.0);
    where = lun_value_i32(512);
    assert_true(call_f64(instance, "get", &where, 1) == 76.0);
    lun_value chain_add[3] = {lun_value_i32(504), lun_value_f64(1.5), lun_value_f64(2.0)};
    assert_true(call_f64(instance, "load_mul_mul_add", chain_add, 3) == 76.0 + 1.5 * 2.0 * 1.5);

    /* Both loads, the multiply-add and the store in one instruction. */
    set[0] = lun_value_i32(800), set[1] = lun_value_f64(10.0);
    assert_int_equal(lun_instance_call(instance, "set", set, 2, NULL, 0, NULL, NULL), LUN_OK);
    set[0] = lun_value_i32(1000), set[1] = lun_value_f64(3.0);
    assert_int_equal(lun_instance_call(instance, "set", set, 2, NULL, 0, NULL, NULL), LUN_OK);
    lun_value mem2[5] = {lun_value_i32(2000), lun_value_i32(780), lun_value_i32(980),
                         lun_value_i32(20), lun_value_f64(2.0)};
    assert_int_equal(lun_instance_call(instance, "mem2", mem2, 5, &result, 1, NULL, NULL), LUN_OK);
    assert_int_equal(result.i32, 1800);
    where = lun_value_i32(2008);
    assert_true(call_f64(instance, "get", &where, 1) == 4.0);
    lun_value same[4] = {lun_value_i32(780), lun_value_i32(980), lun_value_i32(20),
                         lun_value_f64(2.0)};
    assert_int_equal(lun_instance_call(instance, "mem2_same", same, 4, &result, 1, NULL, NULL),
                     LUN_OK);
    assert_int_equal(result.i32, 1800);
    where = lun_value_i32(800);
    assert_true(call_f64(instance, "get", &where, 1) == 16.0);
    lun_value alias[4] = {lun_value_i32(800), lun_value_i32(980), lun_value_i32(20),
                          lun_value_f64(2.0)};
    assert_int_equal(lun_instance_call(instance, "mem2_alias", alias, 4, &result, 1, NULL, NULL),
                     LUN_OK);
    assert_int_equal(result.i32, 1000);
    assert_true(call_f64(instance, "get", &where, 1) == 22.0);
    where = lun_value_i32(1000);
    assert_true(call_f64(instance, "get", &where, 1) == 3.0);

    /* A store, then a pointer step (32-bit) into a local. */
    lun_value fill[3] = {lun_value_i32(3000), lun_value_i32(10), lun_value_i32(3)};
    assert_int_equal(lun_instance_call(instance, "fill_step", fill, 3, &result, 1, NULL, NULL),
                     LUN_OK);
    assert_int_equal(result.i32, 3012);
    for (int32_t byte = 3000; byte < 3014; byte++) {
        lun_value at = lun_value_i32(byte);
        assert_int_equal(lun_instance_call(instance, "get_u8", &at, 1, &result, 1, NULL, NULL),
                         LUN_OK);
        assert_int_equal(result.i32,
                         byte == 3001 || byte == 3004 || byte == 3007 || byte == 3010 ? 7 : 0);
    }
    lun_value step[3] = {lun_value_i32(100), lun_value_i64(0x1122334455667788),
                         lun_value_i32(-100)};
    assert_int_equal(
        lun_instance_call(instance, "store32_then_add", step, 3, &result, 1, NULL, NULL), LUN_OK);
    assert_int_equal(result.i32, 0);
    lun_value at = lun_value_i32(108);
    assert_int_equal(lun_instance_call(instance, "get_i64", &at, 1, &result, 1, NULL, NULL),
                     LUN_OK);
    assert_int_equal(result.i64, 0x55667788);
    step[0] = lun_value_i32(200), step[2] = lun_value_i32(4);
    assert_int_equal(
        lun_instance_call(instance, "store64_then_add", step, 3, &result, 1, NULL, NULL), LUN_OK);
    assert_int_equal(result.i32, 204);
    at = lun_value_i32(200);
    assert_int_equal(lun_instance_call(instance, "get_i64", &at, 1, &result, 1, NULL, NULL),
                     LUN_OK);
    assert_int_equal(result.i64, 0x1122334455667788);

    /* Out of bounds in the fused load and in the fused store. */
    lun_error error;
    axpy[1] = lun_value_i32(65536);
    assert_int_equal(lun_instance_call(instance, "axpy", axpy, 4, &result, 1, NULL, &error),
                     LUN_ERR_TRAP);
    assert_non_null(strstr(error.message, "out of bounds"));
    mul_add[0] = lun_value_i32(65536 - 8);
    assert_int_equal(
        lun_instance_call(instance, "mul_add_store", mul_add, 4, &result, 1, NULL, &error),
        LUN_ERR_TRAP);
    assert_non_null(strstr(error.message, "out of bounds"));
    chain[0] = lun_value_i32(65536 - 4);
    assert_int_equal(
        lun_instance_call(instance, "load_mul_mul_sub", chain, 4, &result, 1, NULL, &error),
        LUN_ERR_TRAP);
    assert_non_null(strstr(error.message, "out of bounds"));
    chain_add[0] = lun_value_i32(65536 - 8);
    assert_int_equal(
        lun_instance_call(instance, "load_mul_mul_add", chain_add, 3, &result, 1, NULL, &error),
        LUN_ERR_TRAP);
    assert_non_null(strstr(error.message, "out of bounds"));
    /* Each of the three accesses of the two-load form. */
    for (int access = 0; access < 3; access++) {
        lun_value bad[5] = {
            lun_value_i32(access == 2 ? 65536 - 12 : 0), lun_value_i32(access == 0 ? 65536 : 0),
            lun_value_i32(access == 1 ? 65536 - 20 : 0), lun_value_i32(16), lun_value_f64(1.0)};
        assert_int_equal(lun_instance_call(instance, "mem2", bad, 5, &result, 1, NULL, &error),
                         LUN_ERR_TRAP);
        assert_non_null(strstr(error.message, "out of bounds"));
    }
    fill[0] = lun_value_i32(65530), fill[2] = lun_value_i32(1);
    assert_int_equal(lun_instance_call(instance, "fill_step", fill, 3, &result, 1, NULL, &error),
                     LUN_ERR_TRAP);
    assert_non_null(strstr(error.message, "out of bounds"));
    at = lun_value_i32(65535);
    assert_int_equal(lun_instance_call(instance, "get_u8", &at, 1, &result, 1, NULL, NULL), LUN_OK);
    assert_int_equal(result.i32, 7);
    step[0] = lun_value_i32(65536 - 4);
    assert_int_equal(
        lun_instance_call(instance, "store64_then_add", step, 3, &result, 1, NULL, &error),
        LUN_ERR_TRAP);
    assert_non_null(strstr(error.message, "out of bounds"));
    tee[0] = lun_value_i32(65536 - 4);
    assert_int_equal(lun_instance_call(instance, "tee_store", tee, 3, &result, 1, NULL, &error),
                     LUN_ERR_TRAP);
    lun_instance_free(instance);
    lun_module_free(module);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_integer_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conversions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_float_exactness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fused_instructions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_traps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_recursion, setup, teardown),
        cmocka_unit_test(test_call_depth_config),
        cmocka_unit_test_setup_teardown(test_fuel_slices, setup, teardown),
        cmocka_unit_test(test_fuel_limit),
        cmocka_unit_test_setup_teardown(test_memory_grow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_grow_in_callee, setup, teardown),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_host_suspend),
        cmocka_unit_test(test_bad_host_types),
        cmocka_unit_test(test_fused_float_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
