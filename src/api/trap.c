/*
 * lunatic::trap: catch(function, pointer) calls the guest's export
 * `_lunatic_catch_trap(function, pointer)` behind a trap barrier and returns
 * its result, or 0 when it trapped (the process goes on). The guest call
 * runs on the instance's own stack (lun_host_call_guest): it may run out of
 * fuel or suspend like any code, then this function runs again and reads
 * the outcome.
 */
#include "api_internal.h"

#define CATCH_EXPORT "_lunatic_catch_trap"

/* A proc_exit inside the guarded call ends the process all the same. */
static bool exited(lun_host_call *call)
{
    api_process *process = api_process_of(call);
    return process != NULL && process->wasi != NULL && lun_wasi_ctx_exit_code(process->wasi, NULL);
}

static lun_host_result catch_(lun_host_call *call)
{
    const uint64_t *results;
    const char *message;
    switch (lun_host_guest_outcome(call, &results, &message)) {
    case LUN_GUEST_RETURNED: return api_return_i32(call, (int32_t)(uint32_t)results[0]);
    case LUN_GUEST_TRAPPED:
        if (exited(call)) return api_trap(call, "%s", message);
        lun_log(LUN_LOG_DEBUG, "lunatic::trap::catch caught a trap: %s", message);
        return api_return_i32(call, 0);
    case LUN_GUEST_NONE: break;
    }
    const lun_valtype *params, *result_types;
    size_t param_count, result_count;
    lun_module *module = lun_instance_module(call->instance);
    if (!lun_module_export_func_type(module, CATCH_EXPORT, &params, &param_count, &result_types,
                                     &result_count))
        return api_trap(call, "lunatic::trap::catch: no exported function " CATCH_EXPORT);
    if (param_count != 2 || params[0] != LUN_I32 || params[1] != LUN_I32 || result_count != 1 ||
        result_types[0] != LUN_I32)
        return api_trap(call, "lunatic::trap::catch: " CATCH_EXPORT " must be (i32, i32) -> i32");
    lun_extern target;
    lun_error error;
    if (lun_instance_export(call->instance, CATCH_EXPORT, &target, &error) != LUN_OK ||
        lun_host_call_guest(call, target.func, call->args, &error) != LUN_OK)
        return api_trap(call, "lunatic::trap::catch: %s", error.message);
    return LUN_HOST_SUSPEND;
}

const api_function_def api_trap_functions[] = {
    {"catch", "i32 i32", "i32", catch_},
    {NULL, NULL, NULL, NULL},
};
