/*
 * lunatic::version: the lunatic release this runtime is compatible with.
 */
#include "api_internal.h"

static lun_host_result major(lun_host_call *call)
{
    return api_return_i32(call, LUN_API_VERSION_MAJOR);
}

static lun_host_result minor(lun_host_call *call)
{
    return api_return_i32(call, LUN_API_VERSION_MINOR);
}

static lun_host_result patch(lun_host_call *call)
{
    return api_return_i32(call, LUN_API_VERSION_PATCH);
}

const api_function_def api_version_functions[] = {
    {"major", "", "i32", major},
    {"minor", "", "i32", minor},
    {"patch", "", "i32", patch},
    {NULL, NULL, NULL, NULL},
};
