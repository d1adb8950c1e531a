/*
 * The "spectest" host module of the spec-test runner (see host.h).
 */
#include "host.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    const char *params;
} function_types[SPECTEST_HOST_FUNCTION_COUNT] = {
    {"print", ""},
    {"print_i32", "i32"},
    {"print_i64", "i64"},
    {"print_f32", "f32"},
    {"print_f64", "f64"},
    {"print_i32_f32", "i32 f32"},
    {"print_f64_f64", "f64 f64"},
};

static const char *const global_names[SPECTEST_HOST_GLOBAL_COUNT] = {
    "global_i32",
    "global_i64",
    "global_f32",
    "global_f64",
};

/* Prints one raw argument slot of the type named at *type (advancing it). */
static void print_argument(const char **type, uint64_t slot)
{
    if (strncmp(*type, "i32", 3) == 0) {
        printf(" %" PRId32 ":i32", (int32_t)(uint32_t)slot);
    } else if (strncmp(*type, "i64", 3) == 0) {
        printf(" %" PRId64 ":i64", (int64_t)slot);
    } else if (strncmp(*type, "f32", 3) == 0) {
        float value;
        uint32_t bits = (uint32_t)slot;
        memcpy(&value, &bits, sizeof value);
        printf(" %g:f32", (double)value);
    } else {
        double value;
        memcpy(&value, &slot, sizeof value);
        printf(" %g:f64", value);
    }
    *type += 3;
    while (**type == ' ')
        (*type)++;
}

static lun_host_result print_function(lun_host_call *call)
{
    const spectest_host_function *function = call->data;
    if (function->verbose) {
        const char *type = function->params;
        printf("spectest.%s(", function->name);
        for (size_t i = 0; *type != '\0'; i++)
            print_argument(&type, call->args[i]);
        printf(" )\n");
    }
    return LUN_HOST_RETURN;
}

static lun_status add(lun_imports *imports, const char *name, lun_extern value, lun_error *error)
{
    return lun_imports_add(imports, "spectest", name, value, error);
}

static lun_status make_functions(spectest_host *host, lun_imports *imports, bool verbose,
                                 lun_error *error)
{
    for (size_t i = 0; i < SPECTEST_HOST_FUNCTION_COUNT; i++) {
        spectest_host_function *function = &host->functions[i];
        function->name = function_types[i].name;
        function->params = function_types[i].params;
        function->verbose = verbose;
        lun_status status = lun_func_new_host(function->params, "", print_function, function,
                                              &function->func, error);
        if (status != LUN_OK) return status;
        status = add(imports, function->name,
                     (lun_extern){.kind = LUN_EXTERN_FUNC, .func = function->func}, error);
        if (status != LUN_OK) return status;
    }
    return LUN_OK;
}

static lun_status make_globals(spectest_host *host, lun_imports *imports, lun_error *error)
{
    const lun_value values[SPECTEST_HOST_GLOBAL_COUNT] = {
        lun_value_i32(666),
        lun_value_i64(666),
        lun_value_f32(666.6f),
        lun_value_f64(666.6),
    };
    for (size_t i = 0; i < SPECTEST_HOST_GLOBAL_COUNT; i++) {
        lun_status status = lun_global_new(values[i], false, &host->globals[i], error);
        if (status != LUN_OK) return status;
        status = add(imports, global_names[i],
                     (lun_extern){.kind = LUN_EXTERN_GLOBAL, .global = host->globals[i]}, error);
        if (status != LUN_OK) return status;
    }
    return LUN_OK;
}

lun_status spectest_host_init(spectest_host *host, lun_imports *imports, bool verbose,
                              lun_error *error)
{
    memset(host, 0, sizeof *host);
    lun_status status = make_functions(host, imports, verbose, error);
    if (status == LUN_OK) status = make_globals(host, imports, error);
    if (status == LUN_OK) status = lun_table_new(LUN_FUNCREF, 10, 20, &host->table, error);
    if (status == LUN_OK)
        status = add(imports, "table", (lun_extern){.kind = LUN_EXTERN_TABLE, .table = host->table},
                     error);
    if (status == LUN_OK) status = lun_memory_new(1, 2, &host->memory, error);
    if (status == LUN_OK)
        status = add(imports, "memory",
                     (lun_extern){.kind = LUN_EXTERN_MEMORY, .memory = host->memory}, error);
    return status;
}

void spectest_host_free(spectest_host *host)
{
    /* The API does not promise that freeing NULL is a no-op. */
    for (size_t i = 0; i < SPECTEST_HOST_FUNCTION_COUNT; i++) {
        if (host->functions[i].func != NULL) lun_func_free(host->functions[i].func);
        host->functions[i].func = NULL;
    }
    for (size_t i = 0; i < SPECTEST_HOST_GLOBAL_COUNT; i++) {
        if (host->globals[i] != NULL) lun_global_free(host->globals[i]);
        host->globals[i] = NULL;
    }
    if (host->table != NULL) lun_table_free(host->table);
    if (host->memory != NULL) lun_memory_free(host->memory);
    host->table = NULL;
    host->memory = NULL;
}
