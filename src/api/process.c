/*
 * lunatic::process: modules, configs, spawn, links, monitors, kill, sleep
 * (docs/lunatic-abi.md §3-§5).
 */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"

/* ---- modules ----------------------------------------------------------------- */

static lun_host_result compile_module(lun_host_call *call)
{
    API_PROCESS(call, process);
    if (!process->config->can_compile_modules) return api_return_i32(call, -1);
    uint32_t length = api_arg_u32(call, 1), id_pointer = api_arg_u32(call, 2);
    const uint8_t *bytes = api_guest_bytes(call, api_arg_u32(call, 0), length);
    if (bytes == NULL || api_guest_bytes(call, id_pointer, 8) == NULL) return LUN_HOST_TRAP;
    api_table *table = api_process_table(process, &process->modules, api_destroy_module);
    if (table == NULL) return api_trap(call, "out of memory");
    lun_error error;
    lun_module *module;
    lun_status status = lun_host_load_module(process->host, bytes, length, &module, &error);
    uint64_t id;
    if (status != LUN_OK) {
        if (!api_error_add(process, error.message, &id)) return api_trap(call, "out of memory");
        api_guest_write_u64(call, id_pointer, id);
        return api_return_i32(call, 1);
    }
    if (!api_table_add(table, (api_value){.pointer = module}, &id)) {
        lun_module_free(module);
        return api_trap(call, "out of memory");
    }
    api_guest_write_u64(call, id_pointer, id);
    return api_return_i32(call, 0);
}

static lun_host_result drop_module(lun_host_call *call)
{
    API_PROCESS(call, process);
    api_value value;
    if (process->modules == NULL || !api_table_take(process->modules, api_arg_u64(call, 0), &value))
        return api_trap(call, "drop_module: unknown module id %lld",
                        (long long)api_arg_i64(call, 0));
    lun_module_free(value.pointer);
    return LUN_HOST_RETURN;
}

/* ---- configs ----------------------------------------------------------------- */

lun_process_config *api_config_lookup(lun_host_call *call, api_process *process, int64_t id)
{
    api_value value;
    if (process->configs == NULL || !api_table_get(process->configs, (uint64_t)id, &value)) {
        api_trap(call, "unknown config id %lld", (long long)id);
        return NULL;
    }
    return value.pointer;
}

lun_process_config *api_config_for_edit(lun_host_call *call, api_process *process, int64_t id)
{
    lun_process_config *config = api_config_lookup(call, process, id);
    if (config == NULL) return NULL;
    if (atomic_load_explicit(&config->references, memory_order_acquire) == 1) return config;
    /* Shared with a spawned process: that one keeps the old version. */
    lun_process_config *copy = api_config_copy(config);
    if (copy == NULL) {
        api_trap(call, "out of memory");
        return NULL;
    }
    api_table_set(process->configs, (uint64_t)id, (api_value){.pointer = copy});
    lun_process_config_release(config);
    return copy;
}

static lun_host_result create_config(lun_host_call *call)
{
    API_PROCESS(call, process);
    if (!process->config->can_create_configs) return api_return_i64(call, -1);
    api_table *table = api_process_table(process, &process->configs, api_destroy_config);
    lun_process_config *config;
    if (table == NULL || lun_process_config_new(&config, NULL) != LUN_OK)
        return api_trap(call, "out of memory");
    uint64_t id;
    if (!api_table_add(table, (api_value){.pointer = config}, &id)) {
        lun_process_config_release(config);
        return api_trap(call, "out of memory");
    }
    return api_return_i64(call, (int64_t)id);
}

static lun_host_result drop_config(lun_host_call *call)
{
    API_PROCESS(call, process);
    api_value value;
    if (process->configs == NULL || !api_table_take(process->configs, api_arg_u64(call, 0), &value))
        return api_trap(call, "drop_config: unknown config id %lld",
                        (long long)api_arg_i64(call, 0));
    lun_process_config_release(value.pointer);
    return LUN_HOST_RETURN;
}

#define CONFIG_GETTER(name, expression, ret)                                                       \
    static lun_host_result name(lun_host_call *call)                                               \
    {                                                                                              \
        API_PROCESS(call, process);                                                                \
        lun_process_config *config = api_config_lookup(call, process, api_arg_i64(call, 0));       \
        if (config == NULL) return LUN_HOST_TRAP;                                                  \
        return ret(call, expression);                                                              \
    }

#define CONFIG_SETTER(name, statement)                                                             \
    static lun_host_result name(lun_host_call *call)                                               \
    {                                                                                              \
        API_PROCESS(call, process);                                                                \
        lun_process_config *config = api_config_for_edit(call, process, api_arg_i64(call, 0));     \
        if (config == NULL) return LUN_HOST_TRAP;                                                  \
        statement;                                                                                 \
        return LUN_HOST_RETURN;                                                                    \
    }

CONFIG_GETTER(config_get_max_memory, (int64_t)config->max_memory, api_return_i64)
CONFIG_GETTER(config_get_max_fuel, (int64_t)config->max_fuel, api_return_i64)
CONFIG_GETTER(config_can_compile_modules, config->can_compile_modules, api_return_i32)
CONFIG_GETTER(config_can_create_configs, config->can_create_configs, api_return_i32)
CONFIG_GETTER(config_can_spawn_processes, config->can_spawn_processes, api_return_i32)
CONFIG_SETTER(config_set_max_memory, config->max_memory = api_arg_u64(call, 1))
CONFIG_SETTER(config_set_max_fuel, config->max_fuel = api_arg_u64(call, 1))
CONFIG_SETTER(config_set_can_compile_modules,
              config->can_compile_modules = api_arg_u32(call, 1) != 0)
CONFIG_SETTER(config_set_can_create_configs, config->can_create_configs = api_arg_u32(call, 1) != 0)
CONFIG_SETTER(config_set_can_spawn_processes,
              config->can_spawn_processes = api_arg_u32(call, 1) != 0)

/* ---- spawn ------------------------------------------------------------------- */

/* MAX_PARAMS bounds what a guest can make the host allocate; no real entry
 * function takes that many arguments. */
enum { PARAM_RECORD = 17, INLINE_PARAMS = 8, MAX_PARAMS = 1000 };

/* Decodes lunatic's params encoding; false after setting the trap message. */
static bool decode_params(lun_host_call *call, const uint8_t *bytes, uint32_t length,
                          lun_value *values)
{
    for (uint32_t i = 0; i < length / PARAM_RECORD; i++) {
        const uint8_t *record = bytes + (size_t)i * PARAM_RECORD;
        uint64_t low = 0;
        for (int k = 0; k < 8; k++)
            low |= (uint64_t)record[1 + k] << (8 * k);
        switch (record[0]) {
        case 0x7F: values[i] = lun_value_i32((int32_t)(uint32_t)low); break;
        case 0x7E: values[i] = lun_value_i64((int64_t)low); break;
        case 0x7B: api_trap(call, "spawn: v128 parameters are not supported"); return false;
        default: api_trap(call, "spawn: unknown parameter type 0x%02x", record[0]); return false;
        }
    }
    return true;
}

static lun_module *module_lookup(lun_host_call *call, api_process *process, int64_t id)
{
    if (id == -1) return lun_instance_module(process->instance);
    api_value value;
    if (process->modules == NULL || !api_table_get(process->modules, (uint64_t)id, &value)) {
        api_trap(call, "spawn: unknown module id %lld", (long long)id);
        return NULL;
    }
    return value.pointer;
}

lun_host_result api_spawn_from_guest(lun_host_call *call, api_process *process, int64_t link,
                                     int64_t config_id, int64_t module_id, uint32_t func_pointer,
                                     uint32_t func_length, uint32_t params_pointer,
                                     uint32_t params_length, int *code, uint64_t *value)
{
    if (!process->config->can_spawn_processes)
        return api_trap(call, "spawn: the process may not spawn processes");
    lun_process_config *config =
        config_id == -1 ? process->config : api_config_lookup(call, process, config_id);
    if (config == NULL) return LUN_HOST_TRAP;
    lun_module *module = module_lookup(call, process, module_id);
    if (module == NULL) return LUN_HOST_TRAP;
    char *function = api_guest_string(call, func_pointer, func_length);
    if (function == NULL) return LUN_HOST_TRAP;
    const uint8_t *param_bytes = api_guest_bytes(call, params_pointer, params_length);
    if (param_bytes == NULL) goto trap;
    if (params_length % PARAM_RECORD != 0) {
        api_trap(call, "spawn: parameters are not a multiple of 17 bytes");
        goto trap;
    }
    size_t count = params_length / PARAM_RECORD;
    if (count > MAX_PARAMS) {
        api_trap(call, "spawn: too many parameters (%zu)", count);
        goto trap;
    }
    lun_value inline_values[INLINE_PARAMS];
    lun_value *values = count <= INLINE_PARAMS ? inline_values : malloc(count * sizeof *values);
    if (values == NULL) {
        api_trap(call, "out of memory");
        goto trap;
    }
    if (!decode_params(call, param_bytes, params_length, values)) {
        if (values != inline_values) free(values);
        goto trap;
    }
    lun_wasm_spawn spawn = {
        .environment = process->environment,
        .module = module,
        .config = config,
        .function = function,
        .args = values,
        .arg_count = count,
        .link_with = link != 0 ? process->self : NULL,
        .link_tag = link,
    };
    lun_error error;
    lun_process *child;
    api_spawn_stage stage;
    lun_status status = api_spawn(process->host, &spawn, &child, &stage, &error);
    if (values != inline_values) free(values);
    free(function);
    if (status != LUN_OK && stage == API_SPAWN_CONTEXT)
        return api_trap(call, "spawn: %s", error.message);
    if (status != LUN_OK) {
        /* lunatic takes the pid before instantiating. */
        if (stage == API_SPAWN_INSTANCE) lun_environment_next_process_id(process->environment);
        if (!api_error_add(process, error.message, value)) return api_trap(call, "out of memory");
        *code = 1;
        return LUN_HOST_RETURN;
    }
    *value = lun_process_id(child);
    lun_process_release(child);
    *code = 0;
    return LUN_HOST_RETURN;
trap:
    free(function);
    return LUN_HOST_TRAP;
}

static lun_host_result spawn(lun_host_call *call)
{
    API_PROCESS(call, process);
    uint32_t id_pointer = api_arg_u32(call, 7);
    if (api_guest_bytes(call, id_pointer, 8) == NULL) return LUN_HOST_TRAP;
    int code;
    uint64_t value;
    lun_host_result result =
        api_spawn_from_guest(call, process, api_arg_i64(call, 0), api_arg_i64(call, 1),
                             api_arg_i64(call, 2), api_arg_u32(call, 3), api_arg_u32(call, 4),
                             api_arg_u32(call, 5), api_arg_u32(call, 6), &code, &value);
    if (result != LUN_HOST_RETURN) return result;
    api_guest_write_u64(call, id_pointer, value);
    return api_return_i32(call, code);
}

typedef struct get_or_spawn_context {
    lun_host_call *call;
    api_process *process;
    lun_host_result result;
    int code;
    uint64_t value;
} get_or_spawn_context;

static lun_status make_entry(void *context, uint64_t *node_id, uint64_t *process_id)
{
    get_or_spawn_context *spawn_context = context;
    lun_host_call *call = spawn_context->call;
    spawn_context->result = api_spawn_from_guest(
        call, spawn_context->process, api_arg_i64(call, 2), api_arg_i64(call, 3),
        api_arg_i64(call, 4), api_arg_u32(call, 5), api_arg_u32(call, 6), api_arg_u32(call, 7),
        api_arg_u32(call, 8), &spawn_context->code, &spawn_context->value);
    if (spawn_context->result != LUN_HOST_RETURN) return LUN_ERR_TRAP;
    /* An error id is not registered as a process (this project's choice). */
    if (spawn_context->code != 0) return LUN_ERR_STATE;
    *node_id = 0;
    *process_id = spawn_context->value;
    return LUN_OK;
}

static lun_host_result get_or_spawn(lun_host_call *call)
{
    API_PROCESS(call, process);
    uint32_t node_pointer = api_arg_u32(call, 9), id_pointer = api_arg_u32(call, 10);
    if (api_guest_bytes(call, node_pointer, 8) == NULL ||
        api_guest_bytes(call, id_pointer, 8) == NULL)
        return LUN_HOST_TRAP;
    char *name = api_guest_string(call, api_arg_u32(call, 0), api_arg_u32(call, 1));
    if (name == NULL) return LUN_HOST_TRAP;
    get_or_spawn_context context = {.call = call, .process = process, .result = LUN_HOST_RETURN};
    uint64_t node_id = 0, process_id = 0;
    bool found = false;
    lun_status status =
        lun_registry_get_or_put(lun_runtime_registry(process->host->runtime), name, make_entry,
                                &context, &node_id, &process_id, &found, NULL);
    free(name);
    if (context.result != LUN_HOST_RETURN) return context.result;
    if (found) {
        api_guest_write_u64(call, node_pointer, node_id);
        api_guest_write_u64(call, id_pointer, process_id);
        return api_return_i32(call, 2);
    }
    if (status != LUN_OK && context.code == 0)
        return api_trap(call, "get_or_spawn: registry error (%s)", lun_status_name(status));
    api_guest_write_u64(call, node_pointer, 0);
    api_guest_write_u64(call, id_pointer, context.value);
    return api_return_i32(call, context.code);
}

/* ---- the process itself ----------------------------------------------------------- */

static lun_host_result sleep_ms(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_status status = lun_process_sleep(process->self, api_arg_u64(call, 0), NULL);
    if (status == LUN_ERR_WOULD_BLOCK) return LUN_HOST_SUSPEND;
    if (status != LUN_OK) return api_trap(call, "sleep_ms: %s", lun_status_name(status));
    return LUN_HOST_RETURN;
}

static lun_host_result die_when_link_dies(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_process_die_when_link_dies(process->self, api_arg_u32(call, 0) != 0, NULL);
    return LUN_HOST_RETURN;
}

static lun_host_result process_id(lun_host_call *call)
{
    API_PROCESS(call, process);
    return api_return_i64(call, (int64_t)lun_process_id(process->self));
}

static lun_host_result environment_id(lun_host_call *call)
{
    API_PROCESS(call, process);
    return api_return_i64(call, (int64_t)lun_environment_id(process->environment));
}

static lun_host_result link(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_process_link(process->self, api_arg_i64(call, 0), api_arg_u64(call, 1), NULL);
    return LUN_HOST_RETURN;
}

static lun_host_result unlink_(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_process_unlink(process->self, api_arg_u64(call, 0), NULL);
    return LUN_HOST_RETURN;
}

static lun_host_result monitor(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_process_monitor(process->self, api_arg_u64(call, 0), NULL);
    return LUN_HOST_RETURN;
}

static lun_host_result stop_monitoring(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_process_stop_monitoring(process->self, api_arg_u64(call, 0), NULL);
    return LUN_HOST_RETURN;
}

static lun_host_result kill_(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_signal signal = {.kind = LUN_SIGNAL_KILL};
    lun_environment_send(process->environment, api_arg_u64(call, 0), &signal, NULL);
    return LUN_HOST_RETURN;
}

static lun_host_result exists(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_process *target = lun_environment_get_process(process->environment, api_arg_u64(call, 0));
    lun_process_release(target);
    return api_return_i32(call, target != NULL);
}

const api_function_def api_process_functions[] = {
    {"compile_module", "i32 i32 i32", "i32", compile_module},
    {"drop_module", "i64", "", drop_module},
    {"create_config", "", "i64", create_config},
    {"drop_config", "i64", "", drop_config},
    {"config_set_max_memory", "i64 i64", "", config_set_max_memory},
    {"config_get_max_memory", "i64", "i64", config_get_max_memory},
    {"config_set_max_fuel", "i64 i64", "", config_set_max_fuel},
    {"config_get_max_fuel", "i64", "i64", config_get_max_fuel},
    {"config_can_compile_modules", "i64", "i32", config_can_compile_modules},
    {"config_set_can_compile_modules", "i64 i32", "", config_set_can_compile_modules},
    {"config_can_create_configs", "i64", "i32", config_can_create_configs},
    {"config_set_can_create_configs", "i64 i32", "", config_set_can_create_configs},
    {"config_can_spawn_processes", "i64", "i32", config_can_spawn_processes},
    {"config_set_can_spawn_processes", "i64 i32", "", config_set_can_spawn_processes},
    {"spawn", "i64 i64 i64 i32 i32 i32 i32 i32", "i32", spawn},
    {"get_or_spawn", "i32 i32 i64 i64 i64 i32 i32 i32 i32 i32 i32", "i32", get_or_spawn},
    {"sleep_ms", "i64", "", sleep_ms},
    {"die_when_link_dies", "i32", "", die_when_link_dies},
    {"process_id", "", "i64", process_id},
    {"environment_id", "", "i64", environment_id},
    {"link", "i64 i64", "", link},
    {"unlink", "i64", "", unlink_},
    {"monitor", "i64", "", monitor},
    {"stop_monitoring", "i64", "", stop_monitoring},
    {"kill", "i64", "", kill_},
    {"exists", "i64", "i32", exists},
    {NULL, NULL, NULL, NULL},
};
