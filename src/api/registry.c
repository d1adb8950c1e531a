/*
 * lunatic::registry: the runtime's name -> (node id, process id) map
 * (docs/lunatic-abi.md §8). get_or_spawn lives in process.c.
 */
#include <stdlib.h>

#include "api_internal.h"

static lun_registry *registry_of(api_process *process)
{
    return lun_runtime_registry(process->host->runtime);
}

static lun_host_result put(lun_host_call *call)
{
    API_PROCESS(call, process);
    char *name = api_guest_string(call, api_arg_u32(call, 0), api_arg_u32(call, 1));
    if (name == NULL) return LUN_HOST_TRAP;
    lun_error error;
    lun_status status = lun_registry_put(registry_of(process), name, api_arg_u64(call, 2),
                                         api_arg_u64(call, 3), &error);
    free(name);
    if (status != LUN_OK) return api_trap(call, "registry put: %s", error.message);
    return LUN_HOST_RETURN;
}

static lun_host_result get(lun_host_call *call)
{
    API_PROCESS(call, process);
    uint32_t node_pointer = api_arg_u32(call, 2), id_pointer = api_arg_u32(call, 3);
    char *name = api_guest_string(call, api_arg_u32(call, 0), api_arg_u32(call, 1));
    if (name == NULL) return LUN_HOST_TRAP;
    uint64_t node_id, process_id;
    lun_status status = lun_registry_get(registry_of(process), name, &node_id, &process_id);
    free(name);
    if (status != LUN_OK) return api_return_i32(call, 1);
    if (!api_guest_write_u64(call, node_pointer, node_id) ||
        !api_guest_write_u64(call, id_pointer, process_id))
        return LUN_HOST_TRAP;
    return api_return_i32(call, 0);
}

static lun_host_result remove_(lun_host_call *call)
{
    API_PROCESS(call, process);
    char *name = api_guest_string(call, api_arg_u32(call, 0), api_arg_u32(call, 1));
    if (name == NULL) return LUN_HOST_TRAP;
    lun_registry_remove(registry_of(process), name);
    free(name);
    return LUN_HOST_RETURN;
}

const api_function_def api_registry_functions[] = {
    {"put", "i32 i32 i64 i64", "", put},
    {"get", "i32 i32 i32 i32", "i32", get},
    {"remove", "i32 i32", "", remove_},
    {NULL, NULL, NULL, NULL},
};
