/*
 * lunatic::error: the messages behind the error ids other calls return
 * (docs/lunatic-abi.md §9).
 */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"

static const char *lookup(lun_host_call *call, api_process *process)
{
    api_value value;
    if (process->errors == NULL || !api_table_get(process->errors, api_arg_u64(call, 0), &value)) {
        api_trap(call, "unknown error id %lld", (long long)api_arg_i64(call, 0));
        return NULL;
    }
    return value.pointer;
}

static lun_host_result string_size(lun_host_call *call)
{
    API_PROCESS(call, process);
    const char *message = lookup(call, process);
    if (message == NULL) return LUN_HOST_TRAP;
    return api_return_i32(call, (int32_t)strlen(message));
}

static lun_host_result to_string(lun_host_call *call)
{
    API_PROCESS(call, process);
    const char *message = lookup(call, process);
    if (message == NULL) return LUN_HOST_TRAP;
    size_t length = strlen(message);
    uint8_t *bytes = api_guest_bytes(call, api_arg_u32(call, 1), length);
    if (bytes == NULL) return LUN_HOST_TRAP;
    memcpy(bytes, message, length);
    return LUN_HOST_RETURN;
}

static lun_host_result drop(lun_host_call *call)
{
    API_PROCESS(call, process);
    api_value value;
    if (process->errors == NULL || !api_table_take(process->errors, api_arg_u64(call, 0), &value))
        return api_trap(call, "drop: unknown error id %lld", (long long)api_arg_i64(call, 0));
    free(value.pointer);
    return LUN_HOST_RETURN;
}

const api_function_def api_error_functions[] = {
    {"string_size", "i64", "i32", string_size},
    {"to_string", "i64 i32", "", to_string},
    {"drop", "i64", "", drop},
    {NULL, NULL, NULL, NULL},
};
