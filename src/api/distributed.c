/*
 * lunatic::distributed in single-node mode (docs/lunatic-abi.md §13, §17):
 * node_id, module_id, nodes_count and get_nodes answer 0 as lunatic does
 * when it is not started as a node; the remote calls trap "distributed is
 * not initialized"; the certificate helpers are not supported yet.
 */
#include "api_internal.h"

static lun_host_result zero_i32(lun_host_call *call)
{
    return api_return_i32(call, 0);
}

static lun_host_result zero_i64(lun_host_call *call)
{
    return api_return_i64(call, 0);
}

static lun_host_result get_nodes(lun_host_call *call)
{
    uint32_t max = api_arg_u32(call, 1);
    if (api_guest_bytes(call, api_arg_u32(call, 0), (uint64_t)max * 8) == NULL)
        return LUN_HOST_TRAP;
    return api_return_i32(call, 0);
}

static lun_host_result not_initialized(lun_host_call *call)
{
    return api_trap(call, "distributed is not initialized");
}

static lun_host_result certificates_unsupported(lun_host_call *call)
{
    return api_trap(call, "lunatic::distributed certificate helpers are not supported yet");
}

const api_function_def api_distributed_functions[] = {
    {"nodes_count", "", "i32", zero_i32},
    {"get_nodes", "i32 i32", "i32", get_nodes},
    {"node_id", "", "i64", zero_i64},
    {"module_id", "", "i64", zero_i64},
    {"spawn", "i64 i64 i64 i32 i32 i32 i32 i32", "i32", not_initialized},
    {"send", "i64 i64", "i32", not_initialized},
    {"send_receive_skip_search", "i64 i64 i64 i64", "i32", not_initialized},
    {"exec_lookup_nodes", "i32 i32 i32 i32 i32", "i32", not_initialized},
    {"copy_lookup_nodes_results", "i64 i32 i32 i32", "i32", not_initialized},
    {"test_root_cert", "i32", "i32", certificates_unsupported},
    {"default_server_certificates", "i32 i32 i32 i32 i32", "i32", certificates_unsupported},
    {"sign_node", "i32 i32 i32 i32 i32 i32 i32", "i32", certificates_unsupported},
    {NULL, NULL, NULL, NULL},
};
