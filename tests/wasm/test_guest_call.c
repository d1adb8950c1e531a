/*
 * Tests of guest calls made by host functions behind a trap barrier
 * (include/lunatic/wasm.h): results and traps come back to the host
 * function, barriers nest, and the guest call may suspend and run out of
 * fuel like any code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine_test_support.h"

typedef struct catcher {
    const char *target; /* the export to call */
    int attempts;
    char last_trap[256];
} catcher;

/* Calls the target export with its own argument; returns the result, or -1
 * when the target trapped. */
static lun_host_result catch_host(lun_host_call *call)
{
    catcher *c = call->data;
    c->attempts++;
    const uint64_t *results;
    const char *message;
    switch (lun_host_guest_outcome(call, &results, &message)) {
    case LUN_GUEST_RETURNED: call->results[0] = (uint32_t)results[0]; return LUN_HOST_RETURN;
    case LUN_GUEST_TRAPPED:
        snprintf(c->last_trap, sizeof c->last_trap, "%s", message);
        call->results[0] = (uint32_t)-1;
        return LUN_HOST_RETURN;
    default: break;
    }
    lun_extern target;
    if (lun_instance_export(call->instance, c->target, &target, NULL) != LUN_OK) {
        snprintf(call->trap_message, sizeof call->trap_message, "no %s", c->target);
        return LUN_HOST_TRAP;
    }
    if (lun_host_call_guest(call, target.func, call->args, NULL) != LUN_OK) return LUN_HOST_TRAP;
    return LUN_HOST_SUSPEND;
}

static int wait_attempts;

static lun_host_result wait_host(lun_host_call *call)
{
    if (++wait_attempts % 3 != 0) return LUN_HOST_SUSPEND;
    call->results[0] = call->args[0];
    return LUN_HOST_RETURN;
}

typedef struct fixture {
    catcher work, try_;
    lun_func *catch_work, *catch_try, *wait;
    lun_imports *imports;
    lun_module *module;
    lun_instance *instance;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->work.target = "work";
    f->try_.target = "try";
    assert_int_equal(lun_func_new_host("i32", "i32", catch_host, &f->work, &f->catch_work, NULL),
                     LUN_OK);
    assert_int_equal(lun_func_new_host("i32", "i32", catch_host, &f->try_, &f->catch_try, NULL),
                     LUN_OK);
    assert_int_equal(lun_func_new_host("i32", "i32", wait_host, NULL, &f->wait, NULL), LUN_OK);
    assert_int_equal(lun_imports_new(&f->imports, NULL), LUN_OK);
    lun_extern value = {.kind = LUN_EXTERN_FUNC, .func = f->catch_work};
    assert_int_equal(lun_imports_add(f->imports, "env", "catch_work", value, NULL), LUN_OK);
    value.func = f->catch_try;
    assert_int_equal(lun_imports_add(f->imports, "env", "catch_try", value, NULL), LUN_OK);
    value.func = f->wait;
    assert_int_equal(lun_imports_add(f->imports, "env", "wait", value, NULL), LUN_OK);
    f->module = load_test_module("guest");
    assert_non_null(f->module);
    lun_error error;
    assert_int_equal(lun_instantiate(f->module, f->imports, NULL, &f->instance, &error), LUN_OK);
    wait_attempts = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    lun_instance_free(f->instance);
    lun_module_free(f->module);
    lun_imports_free(f->imports);
    lun_func_free(f->catch_work);
    lun_func_free(f->catch_try);
    lun_func_free(f->wait);
    free(f);
    return 0;
}

static lun_status call_i32(fixture *f, const char *name, int32_t arg, int32_t *result,
                           lun_error *error)
{
    lun_value value = lun_value_i32(arg), out = {.type = LUN_I32};
    lun_status status = lun_instance_call(f->instance, name, &value, 1, &out, 1, NULL, error);
    *result = out.i32;
    return status;
}

static void test_returns_and_traps(void **state)
{
    fixture *f = *state;
    int32_t result = 0;
    assert_int_equal(call_i32(f, "try", 4, &result, NULL), LUN_OK);
    assert_int_equal(result, 41);
    assert_int_equal(f->work.attempts, 2); /* the request, then the outcome */
    assert_int_equal(call_i32(f, "try", 0, &result, NULL), LUN_OK);
    assert_int_equal(result, 0); /* -1 + 1: the trap was caught */
    assert_non_null(strstr(f->work.last_trap, "unreachable"));
    /* The instance goes on normally, and an uncaught trap still ends the call. */
    assert_int_equal(call_i32(f, "try", 3, &result, NULL), LUN_OK);
    assert_int_equal(result, 31);
    lun_error error;
    assert_int_equal(call_i32(f, "trap_later", 2, &result, &error), LUN_ERR_TRAP);
    assert_non_null(strstr(error.message, "unreachable"));
}

static void test_nested_barriers(void **state)
{
    fixture *f = *state;
    int32_t result = 0;
    assert_int_equal(call_i32(f, "nested", 4, &result, NULL), LUN_OK);
    assert_int_equal(result, 141);
    /* The inner barrier catches work's trap. */
    assert_int_equal(call_i32(f, "nested", 0, &result, NULL), LUN_OK);
    assert_int_equal(result, 100);
    /* try traps outside the inner barrier: the outer one catches it. */
    assert_int_equal(call_i32(f, "nested", 5, &result, NULL), LUN_OK);
    assert_int_equal(result, 99);
    assert_non_null(strstr(f->try_.last_trap, "integer divide by zero"));
}

static void test_suspend_and_fuel_inside(void **state)
{
    fixture *f = *state;
    lun_value arg = lun_value_i32(7), result = {.type = LUN_I32};
    assert_int_equal(lun_instance_start(f->instance, "nested", &arg, 1, NULL), LUN_OK);
    int suspended = 0, sliced = 0;
    lun_run_state run_state;
    while ((run_state = lun_instance_run(f->instance, 1)) != LUN_RUN_FINISHED) {
        assert_int_not_equal(run_state, LUN_RUN_TRAPPED);
        if (run_state == LUN_RUN_SUSPENDED) suspended++;
        if (run_state == LUN_RUN_OUT_OF_FUEL) sliced++;
    }
    assert_int_equal(suspended, 2);
    assert_true(sliced > 0);
    assert_int_equal(lun_instance_results(f->instance, &result, 1), 1);
    assert_int_equal(result.i32, 70 + 1 + 100);
}

static lun_host_result bad_request_host(lun_host_call *call)
{
    lun_error error;
    /* A host function is not a valid target. */
    lun_status status = lun_host_call_guest(call, (const lun_func *)call->data, call->args, &error);
    snprintf(call->trap_message, sizeof call->trap_message, "refused: %d", (int)status);
    return LUN_HOST_TRAP;
}

static void test_bad_requests(void **state)
{
    fixture *f = *state;
    lun_func *bad = NULL;
    assert_int_equal(lun_func_new_host("i32", "i32", bad_request_host, f->wait, &bad, NULL),
                     LUN_OK);
    lun_imports *imports = NULL;
    assert_int_equal(lun_imports_new(&imports, NULL), LUN_OK);
    lun_extern value = {.kind = LUN_EXTERN_FUNC, .func = bad};
    assert_int_equal(lun_imports_add(imports, "env", "catch_work", value, NULL), LUN_OK);
    assert_int_equal(lun_imports_add(imports, "env", "catch_try", value, NULL), LUN_OK);
    value.func = f->wait;
    assert_int_equal(lun_imports_add(imports, "env", "wait", value, NULL), LUN_OK);
    lun_instance *instance = NULL;
    assert_int_equal(lun_instantiate(f->module, imports, NULL, &instance, NULL), LUN_OK);
    lun_value arg = lun_value_i32(1), result;
    lun_error error;
    assert_int_equal(lun_instance_call(instance, "try", &arg, 1, &result, 1, NULL, &error),
                     LUN_ERR_TRAP);
    char expected[64];
    snprintf(expected, sizeof expected, "refused: %d", (int)LUN_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(error.message, expected));
    lun_instance_free(instance);
    lun_imports_free(imports);
    lun_func_free(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_returns_and_traps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_barriers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suspend_and_fuel_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
