/*
 * lunatic::metrics: guest metrics. They have no guest-visible effect; this
 * runtime does not export them yet, so the calls only check their name
 * (bad memory or invalid UTF-8 traps, as in lunatic).
 */
#include "api_internal.h"

static lun_host_result check_name(lun_host_call *call)
{
    uint32_t length = api_arg_u32(call, 1);
    const uint8_t *name = api_guest_bytes(call, api_arg_u32(call, 0), length);
    if (name == NULL) return LUN_HOST_TRAP;
    if (!api_utf8_valid(name, length)) return api_trap(call, "metric name is not valid UTF-8");
    return LUN_HOST_RETURN;
}

const api_function_def api_metrics_functions[] = {
    {"counter", "i32 i32 i64", "", check_name},
    {"increment_counter", "i32 i32", "", check_name},
    {"gauge", "i32 i32 f64", "", check_name},
    {"increment_gauge", "i32 i32 f64", "", check_name},
    {"decrement_gauge", "i32 i32 f64", "", check_name},
    {"histogram", "i32 i32 f64", "", check_name},
    {NULL, NULL, NULL, NULL},
};
