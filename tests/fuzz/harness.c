/*
 * The run harness shared by the fuzz_run and fuzz_body targets: decode,
 * instantiate and run a module under bounds (see harness.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "lunatic/wasm.h"
#include "runtime.h" /* the engine's private view: the written window of a memory */

enum {
    MAX_MEMORY_BYTES = 1 << 20, /* 16 pages */
    MAX_CALL_DEPTH = 500,
    LIFETIME_FUEL = 200000, /* bounds the start function too */
    FUEL_SLICE = 1000,      /* one lun_instance_run */
    SLICES_PER_CALL = 20,   /* then the call is abandoned */
    MAX_CALLS = 64,         /* exported functions run per input */
    MAX_ARGS = 64,
    MAX_RESULTS = 64,
    HOST_FUNC_COUNT = 9,
    HOST_GLOBAL_COUNT = 4,
};

/* The host side of one input: what an instance may import. */
typedef struct host {
    lun_imports *imports;
    lun_func *funcs[HOST_FUNC_COUNT];
    lun_global *globals[HOST_GLOBAL_COUNT];
    lun_table *table;
    lun_memory *memory;
    unsigned suspend_calls;
} host;

static bool verbose(void)
{
    static int cached = -1;
    if (cached < 0) cached = getenv("FUZZ_RUN_VERBOSE") != NULL;
    return cached;
}

static lun_host_result host_print(lun_host_call *call)
{
    (void)call;
    return LUN_HOST_RETURN;
}

/* Suspends every other call, so that resumption is fuzzed too. */
static lun_host_result host_suspend(lun_host_call *call)
{
    host *h = call->data;
    return (h->suspend_calls++ & 1) ? LUN_HOST_RETURN : LUN_HOST_SUSPEND;
}

static lun_host_result host_trap(lun_host_call *call)
{
    strcpy(call->trap_message, "host trap");
    return LUN_HOST_TRAP;
}

/* Returns its i32 argument plus one. */
static lun_host_result host_increment(lun_host_call *call)
{
    call->results[0] = (uint32_t)(call->args[0] + 1);
    return LUN_HOST_RETURN;
}

static const struct {
    const char *module, *field, *params, *results;
    lun_host_fn fn;
} host_funcs[HOST_FUNC_COUNT] = {
    {"spectest", "print", "", "", host_print},
    {"spectest", "print_i32", "i32", "", host_print},
    {"spectest", "print_i64", "i64", "", host_print},
    {"spectest", "print_f32", "f32", "", host_print},
    {"spectest", "print_f64", "f64", "", host_print},
    {"spectest", "print_i32_f32", "i32 f32", "", host_print},
    {"fuzz", "suspend", "", "", host_suspend},
    {"fuzz", "trap", "", "", host_trap},
    {"fuzz", "increment", "i32", "i32", host_increment},
};

/* Frees what host_init made, also after a partial failure. */
static void host_free(host *h)
{
    if (h->imports) lun_imports_free(h->imports);
    for (size_t i = 0; i < HOST_FUNC_COUNT; i++) {
        if (h->funcs[i]) lun_func_free(h->funcs[i]);
    }
    for (size_t i = 0; i < HOST_GLOBAL_COUNT; i++) {
        if (h->globals[i]) lun_global_free(h->globals[i]);
    }
    if (h->table) lun_table_free(h->table);
    if (h->memory) lun_memory_free(h->memory);
}

static lun_status host_add(host *h, const char *module, const char *field, lun_extern value)
{
    return lun_imports_add(h->imports, module, field, value, NULL);
}

static lun_status host_init(host *h)
{
    memset(h, 0, sizeof *h);
    if (lun_imports_new(&h->imports, NULL) != LUN_OK) return LUN_ERR_NO_MEMORY;
    for (size_t i = 0; i < HOST_FUNC_COUNT; i++) {
        if (lun_func_new_host(host_funcs[i].params, host_funcs[i].results, host_funcs[i].fn, h,
                              &h->funcs[i], NULL) != LUN_OK ||
            host_add(h, host_funcs[i].module, host_funcs[i].field,
                     (lun_extern){.kind = LUN_EXTERN_FUNC, .func = h->funcs[i]}) != LUN_OK)
            return LUN_ERR_NO_MEMORY;
    }
    static const char *global_names[HOST_GLOBAL_COUNT] = {"global_i32", "global_i64", "global_f32",
                                                          "global_f64"};
    lun_value global_values[HOST_GLOBAL_COUNT] = {lun_value_i32(666), lun_value_i64(666),
                                                  lun_value_f32(666.6f), lun_value_f64(666.6)};
    for (size_t i = 0; i < HOST_GLOBAL_COUNT; i++) {
        if (lun_global_new(global_values[i], false, &h->globals[i], NULL) != LUN_OK ||
            host_add(h, "spectest", global_names[i],
                     (lun_extern){.kind = LUN_EXTERN_GLOBAL, .global = h->globals[i]}) != LUN_OK)
            return LUN_ERR_NO_MEMORY;
    }
    if (lun_table_new(LUN_FUNCREF, 10, 20, &h->table, NULL) != LUN_OK ||
        host_add(h, "spectest", "table",
                 (lun_extern){.kind = LUN_EXTERN_TABLE, .table = h->table}) != LUN_OK)
        return LUN_ERR_NO_MEMORY;
    if (lun_memory_new(1, 2, &h->memory, NULL) != LUN_OK ||
        host_add(h, "spectest", "memory",
                 (lun_extern){.kind = LUN_EXTERN_MEMORY, .memory = h->memory}) != LUN_OK)
        return LUN_ERR_NO_MEMORY;
    return LUN_OK;
}

static lun_instance *instantiate(lun_module *module, const host *h)
{
    lun_instance_config config = {
        .max_memory_bytes = MAX_MEMORY_BYTES,
        .max_call_depth = MAX_CALL_DEPTH,
        .fuel_limit = LIFETIME_FUEL,
    };
    lun_instance *instance = NULL;
    lun_error error;
    lun_status status = lun_instantiate(module, h->imports, &config, &instance, &error);
    if (verbose() && status != LUN_OK)
        fprintf(stderr, "instantiate: %s: %s\n", lun_status_name(status), error.message);
    if (status != LUN_OK && instance)
        __builtin_trap(); /* a failed instantiation must not hand out an instance */
    return status == LUN_OK ? instance : NULL;
}

/* Runs export `name` with zero arguments; false when the call was abandoned
 * in the middle (the instance is then replaced). */
/* The promises of the limits, checked after every call. */
static void check_limits(lun_instance *instance)
{
    lun_memory *memory = lun_instance_memory(instance);
    if (memory && lun_memory_size(memory) > MAX_MEMORY_BYTES)
        __builtin_trap(); /* max_memory_bytes not enforced */
    if (lun_instance_fuel_used(instance) > LIFETIME_FUEL)
        __builtin_trap(); /* fuel_limit not enforced */
    if (memory && !wasm_memory_writes_recorded(memory))
        __builtin_trap(); /* a write outside the window: a reused memory would not be clean */
}

/* Runs export `name` in fuel slices; false when the call was abandoned in
 * the middle (the instance is then replaced). */
static bool run_in_slices(lun_instance *instance, const char *name, const lun_value *args,
                          size_t param_count, size_t result_count)
{
    lun_error error;
    if (lun_instance_start(instance, name, args, param_count, &error) != LUN_OK) {
        if (verbose()) fprintf(stderr, "%s: start: %s\n", name, error.message);
        return true;
    }
    for (int slice = 0; slice < SLICES_PER_CALL; slice++) {
        lun_run_state state = lun_instance_run(instance, FUEL_SLICE);
        if (verbose())
            fprintf(stderr, "%s: slice %d: state %d%s%s\n", name, slice, (int)state,
                    state == LUN_RUN_TRAPPED ? ": " : "",
                    state == LUN_RUN_TRAPPED ? lun_instance_trap_message(instance) : "");
        if (state == LUN_RUN_FINISHED) {
            lun_value results[MAX_RESULTS];
            if (lun_instance_results(instance, results, MAX_RESULTS) != result_count)
                __builtin_trap(); /* wrong number of results */
            return true;
        }
        if (state == LUN_RUN_TRAPPED) {
            const char *message = lun_instance_trap_message(instance);
            if (!message || strlen(message) == 0) __builtin_trap(); /* a trap must say why */
            return true;
        }
    }
    return false;
}

/* Runs export `name` to its end with lun_instance_call (bounded by the
 * lifetime fuel). */
static void run_to_end(lun_instance *instance, const char *name, const lun_value *args,
                       size_t param_count, size_t result_count)
{
    lun_value results[MAX_RESULTS];
    size_t count = 0;
    lun_error error;
    lun_status status =
        lun_instance_call(instance, name, args, param_count, results, MAX_RESULTS, &count, &error);
    if (verbose())
        fprintf(stderr, "%s: call: %s %s\n", name, lun_status_name(status),
                status == LUN_OK ? "" : error.message);
    if (status == LUN_OK && count != result_count) __builtin_trap(); /* wrong number of results */
    if (status != LUN_OK && (error.code != status || error.message[0] == '\0'))
        __builtin_trap(); /* an error must say why */
}

/* Runs export `name` with zero arguments, in slices or (to_end) at once;
 * false when the call was abandoned in the middle. */
static bool run_export(lun_instance *instance, const char *name, const lun_valtype *params,
                       size_t param_count, size_t result_count, bool to_end)
{
    lun_value args[MAX_ARGS];
    if (param_count > MAX_ARGS || result_count > MAX_RESULTS) return true;
    for (size_t i = 0; i < param_count; i++) {
        memset(&args[i], 0, sizeof args[i]);
        args[i].type = params[i];
    }
    bool finished = true;
    if (to_end)
        run_to_end(instance, name, args, param_count, result_count);
    else
        finished = run_in_slices(instance, name, args, param_count, result_count);
    check_limits(instance);
    return finished;
}

static void run_exports(lun_module *module, const host *h)
{
    lun_instance *instance = instantiate(module, h);
    size_t exports = lun_module_export_count(module);
    size_t calls = 0;
    for (size_t i = 0; i < exports && instance && calls < MAX_CALLS; i++) {
        const char *name = NULL;
        lun_extern_kind kind;
        lun_module_export(module, i, &name, &kind);
        const lun_valtype *params = NULL, *results = NULL;
        size_t param_count = 0, result_count = 0;
        if (kind != LUN_EXTERN_FUNC ||
            !lun_module_export_func_type(module, name, &params, &param_count, &results,
                                         &result_count))
            continue;
        /* Every third call runs to its end, the others in fuel slices. */
        bool to_end = calls % 3 == 2;
        calls++;
        if (!run_export(instance, name, params, param_count, result_count, to_end)) {
            /* Abandon the unfinished call: free the instance in the middle
             * of a run and go on with a fresh one. */
            lun_instance_free(instance);
            instance = instantiate(module, h);
        }
    }
    lun_instance_free(instance);
}

void fuzz_run_module(const uint8_t *data, size_t size)
{
    lun_module *module = NULL;
    lun_error error;
    if (lun_module_decode(data, size, &module, &error) != LUN_OK) {
        if (verbose()) fprintf(stderr, "decode: %s\n", error.message);
        return;
    }
    host h;
    if (host_init(&h) == LUN_OK)
        run_exports(module, &h);
    else if (verbose())
        fprintf(stderr, "host_init failed\n");
    host_free(&h);
    lun_module_free(module);
}
