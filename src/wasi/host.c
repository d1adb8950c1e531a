/*
 * The WASI host object: one lun_func per wasi_snapshot_preview1 function,
 * all going through one trampoline that finds the calling process's context
 * and memory, runs the function and turns its errno into the call's result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct wasi_binding {
    const lun_wasi_host *host;
    const wasi_function_def *def;
} wasi_binding;

static const wasi_function_def *const function_lists[] = {
    wasi_args_functions, wasi_clock_functions, wasi_fd_functions,
    wasi_path_functions, wasi_proc_functions,
};

enum { LIST_COUNT = sizeof function_lists / sizeof function_lists[0] };

static lun_wasi_ctx *find_context(const lun_wasi_host *host, lun_instance *instance)
{
    if (host->hooks.context != NULL) return host->hooks.context(host->hooks.hook_data, instance);
    return lun_instance_user_data(instance);
}

static lun_host_result trampoline(lun_host_call *host_call)
{
    const wasi_binding *binding = host_call->data;
    wasi_call call = {.host = binding->host, .host_call = host_call};
    call.ctx = find_context(binding->host, host_call->instance);
    if (call.ctx == NULL) {
        snprintf(host_call->trap_message, sizeof host_call->trap_message,
                 "%s: no WASI context for this instance", binding->def->name);
        return LUN_HOST_TRAP;
    }
    lun_memory *memory = lun_instance_memory(host_call->instance);
    if (memory != NULL) {
        call.guest_memory = memory;
        call.memory = lun_memory_range(memory, 0, 0);
    }
    int result = binding->def->function(&call);
    if (result == WASI_RESULT_SUSPEND) return LUN_HOST_SUSPEND;
    if (result == WASI_RESULT_TRAP) return LUN_HOST_TRAP;
    if (binding->def->results[0] != '\0') host_call->results[0] = (uint32_t)result;
    return LUN_HOST_RETURN;
}

static size_t count_functions(void)
{
    size_t count = 0;
    for (size_t list = 0; list < LIST_COUNT; list++)
        for (const wasi_function_def *def = function_lists[list]; def->name != NULL; def++)
            count++;
    return count;
}

lun_status lun_wasi_host_new(const lun_wasi_hooks *hooks, lun_wasi_host **host, lun_error *error)
{
    if (host == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null argument");
    size_t count = count_functions();
    lun_wasi_host *result = calloc(1, sizeof *result);
    if (result != NULL) {
        result->funcs = calloc(count, sizeof *result->funcs);
        result->bindings = calloc(count, sizeof *result->bindings);
    }
    if (result == NULL || result->funcs == NULL || result->bindings == NULL) {
        lun_wasi_host_free(result);
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    }
    if (hooks != NULL) result->hooks = *hooks;
    size_t index = 0;
    for (size_t list = 0; list < LIST_COUNT; list++) {
        for (const wasi_function_def *def = function_lists[list]; def->name != NULL; def++) {
            wasi_binding *binding = &result->bindings[index];
            binding->host = result;
            binding->def = def;
            lun_status status = lun_func_new_host(def->params, def->results, trampoline, binding,
                                                  &result->funcs[index], error);
            if (status != LUN_OK) {
                lun_wasi_host_free(result);
                return status;
            }
            result->func_count = ++index;
        }
    }
    *host = result;
    return LUN_OK;
}

void lun_wasi_host_free(lun_wasi_host *host)
{
    if (host == NULL) return;
    for (size_t i = 0; i < host->func_count; i++)
        lun_func_free(host->funcs[i]);
    free(host->funcs);
    free(host->bindings);
    free(host);
}

lun_status lun_wasi_add_imports(lun_wasi_host *host, lun_imports *imports, lun_error *error)
{
    if (host == NULL || imports == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null argument");
    for (size_t i = 0; i < host->func_count; i++) {
        lun_extern value = {.kind = LUN_EXTERN_FUNC, .func = host->funcs[i]};
        lun_status status = lun_imports_add(imports, LUN_WASI_MODULE_NAME,
                                            host->bindings[i].def->name, value, error);
        if (status != LUN_OK) return status;
    }
    return LUN_OK;
}
