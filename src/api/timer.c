/*
 * lunatic::timer: delayed sends and their cancellation (docs/lunatic-abi.md
 * §7). The table maps the guest's timer ids to the core's; as this project
 * decides (§17), cancel_timer returns 1 only for a timer still pending.
 */
#include "api_internal.h"

static lun_host_result send_after(lun_host_call *call)
{
    API_PROCESS(call, process);
    if (process->scratch == NULL)
        return api_trap(call, "send_after: no message in the scratch area");
    api_table *table = api_process_table(process, &process->timers, NULL);
    if (table == NULL) return api_trap(call, "out of memory");
    lun_message *message = process->scratch;
    process->scratch = NULL;
    uint64_t core_id = 0;
    lun_process *target = lun_environment_get_process(process->environment, api_arg_u64(call, 0));
    if (target == NULL) {
        lun_message_free(message); /* lunatic drops it at expiry; nobody can tell */
    } else {
        lun_status status =
            lun_timer_send_after(target, message, api_arg_u64(call, 1), &core_id, NULL);
        lun_process_release(target);
        if (status != LUN_OK) return api_trap(call, "send_after: %s", lun_status_name(status));
        core_id++; /* 0 stays "no core timer" */
    }
    uint64_t id;
    if (!api_table_add(table, (api_value){.number = core_id}, &id)) {
        if (core_id != 0) lun_timer_cancel(process->host->runtime, core_id - 1);
        return api_trap(call, "out of memory");
    }
    return api_return_i64(call, (int64_t)id);
}

static lun_host_result cancel_timer(lun_host_call *call)
{
    API_PROCESS(call, process);
    api_value value;
    if (process->timers == NULL || !api_table_take(process->timers, api_arg_u64(call, 0), &value))
        return api_return_i32(call, 0);
    bool cancelled =
        value.number != 0 && lun_timer_cancel(process->host->runtime, value.number - 1);
    return api_return_i32(call, cancelled);
}

const api_function_def api_timer_functions[] = {
    {"send_after", "i64 i64", "i64", send_after},
    {"cancel_timer", "i64", "i32", cancel_timer},
    {NULL, NULL, NULL, NULL},
};
