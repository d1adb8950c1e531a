/*
 * The Wasm process: a core process whose step runs its instance for one fuel
 * slice. Out of fuel is a yield (preemption), a suspended host call is a
 * wait (the call registered what it waits for with the core, and runs again
 * when the process is stepped), a return is a normal end, a trap a failure
 * (except WASI proc_exit(0), which is a normal end).
 */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"

void api_destroy_config(void *pointer)
{
    lun_process_config_release(pointer);
}

void api_destroy_module(void *pointer)
{
    lun_module_free(pointer);
}

static void free_table(api_table *table)
{
    if (table == NULL) return;
    api_table_clear(table);
    free(table);
}

api_table *api_process_table(api_process *process, api_table **slot, void (*destroy)(void *pointer))
{
    if (*slot == NULL) {
        api_table *table = malloc(sizeof *table);
        if (table == NULL) return NULL;
        api_table_init(table, destroy);
        *slot = table;
    }
    return *slot;
}

bool api_error_add(api_process *process, const char *message, uint64_t *id)
{
    api_table *table = api_process_table(process, &process->errors, free);
    char *copy = strdup(message);
    if (table == NULL || copy == NULL) {
        free(copy);
        return false;
    }
    if (!api_table_add(table, (api_value){.pointer = copy}, id)) {
        free(copy);
        return false;
    }
    return true;
}

static void release_pending(api_process *process)
{
    lun_module_free(process->pending_module);
    free(process->pending_function);
    free(process->pending_args);
    process->pending_module = NULL;
    process->pending_function = NULL;
    process->pending_args = NULL;
}

static void process_free(void *state)
{
    api_process *process = state;
    if (process == NULL) return;
    release_pending(process);
    lun_message_free(process->scratch);
    free_table(process->configs);
    free_table(process->modules);
    free_table(process->errors);
    free_table(process->timers);
    /* Sockets close here (unless a message or a clone holds them), and a
     * call killed while waiting gives back its half-done object. */
    api_net_state_free(process->net);
    /* The instance goes before the context its host calls used. */
    lun_instance_free(process->instance);
    lun_wasi_ctx_free(process->wasi);
    lun_process_config_release(process->config);
    lun_environment_release(process->environment);
    free(process->entry_error);
    free(process);
}

lun_wasi_ctx *api_process_wasi(api_process *process)
{
    if (process->wasi != NULL) return process->wasi;
    lun_wasi_ctx *ctx;
    if (api_config_make_wasi(process->config, &ctx, NULL) != LUN_OK) return NULL;
    lun_host *host = process->host;
    int output = -1;
    if (host->open_output != NULL)
        output = host->open_output(host->output_context,
                                   process->self ? lun_process_id(process->self) : 0);
    if (output >= 0 && (lun_wasi_ctx_set_stdio(ctx, 1, output, NULL) != LUN_OK ||
                        lun_wasi_ctx_set_stdio(ctx, 2, output, NULL) != LUN_OK)) {
        lun_wasi_ctx_free(ctx);
        return NULL;
    }
    process->wasi = ctx;
    return ctx;
}

static lun_step_result finish_trap(lun_process *self, api_process *process)
{
    uint32_t code;
    if (process->wasi != NULL && lun_wasi_ctx_exit_code(process->wasi, &code)) {
        if (process->exit != NULL) {
            process->exit->exited = true;
            process->exit->code = code;
        }
        if (code == 0) return LUN_STEP_DONE;
        lun_process_fail(self, "process exited with code %u", code);
        return LUN_STEP_FAILED;
    }
    lun_process_fail(self, "%s", lun_instance_trap_message(process->instance));
    return LUN_STEP_FAILED;
}

static void start_entry(api_process *process, lun_module *module, const char *name,
                        const lun_value *args, size_t arg_count);

/* Carries out a spawn put off to the first step; false after failing the
 * process (out of memory is the only way left for it to fail). */
static bool instantiate_pending(lun_process *self, api_process *process)
{
    lun_error error;
    if (lun_instantiate(process->pending_module, process->host->imports, &process->pending_config,
                        &process->instance, &error) != LUN_OK) {
        lun_process_fail(self, "%s", error.message);
        return false;
    }
    start_entry(process, process->pending_module, process->pending_function, process->pending_args,
                process->pending_arg_count);
    release_pending(process);
    return true;
}

static lun_step_result wasm_step(lun_process *self, void *state)
{
    api_process *process = state;
    process->self = self;
    if (process->instance == NULL && !instantiate_pending(self, process)) return LUN_STEP_FAILED;
    if (process->entry_error != NULL) {
        lun_process_fail(self, "%s", process->entry_error);
        return LUN_STEP_FAILED;
    }
    lun_run_state run = lun_instance_run(process->instance, API_FUEL_SLICE);
    switch (run) {
    case LUN_RUN_FINISHED: return LUN_STEP_DONE;
    case LUN_RUN_OUT_OF_FUEL: return LUN_STEP_YIELD;
    case LUN_RUN_SUSPENDED:
        if (process->yield_requested) {
            process->yield_requested = false;
            return LUN_STEP_YIELD;
        }
        return LUN_STEP_WAIT;
    case LUN_RUN_TRAPPED: break;
    }
    return finish_trap(self, process);
}

/* Prepares the entry call; a failure is kept for the first step, because in
 * lunatic the spawn succeeds and the child fails at once. */
static void start_entry(api_process *process, lun_module *module, const char *name,
                        const lun_value *args, size_t arg_count)
{
    const lun_valtype *params, *results;
    size_t param_count, result_count;
    lun_error error;
    char message[LUN_ERROR_MESSAGE_SIZE + 64];
    if (!lun_module_export_func_type(module, name, &params, &param_count, &results,
                                     &result_count)) {
        snprintf(message, sizeof message, "failed to find function export `%s`", name);
    } else if (result_count != 0) {
        snprintf(message, sizeof message, "entry function `%s` must not return values", name);
    } else if (lun_instance_start(process->instance, name, args, arg_count, &error) != LUN_OK) {
        snprintf(message, sizeof message, "cannot call `%s`: %s", name, error.message);
    } else {
        return;
    }
    process->entry_error = strdup(message);
    if (process->entry_error == NULL) process->entry_error = strdup("out of memory");
}

static lun_status defer_instance(api_process *process, const lun_wasm_spawn *spawn,
                                 const lun_instance_config *config, lun_error *error)
{
    process->pending_config = *config;
    process->pending_function = strdup(spawn->function);
    if (spawn->arg_count > 0) {
        process->pending_args = malloc(spawn->arg_count * sizeof *process->pending_args);
        if (process->pending_args != NULL)
            memcpy(process->pending_args, spawn->args,
                   spawn->arg_count * sizeof *process->pending_args);
    }
    process->pending_arg_count = spawn->arg_count;
    if (process->pending_function == NULL ||
        (spawn->arg_count > 0 && process->pending_args == NULL))
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    process->pending_module = lun_module_retain(spawn->module);
    return LUN_OK;
}

lun_status api_spawn(lun_host *host, const lun_wasm_spawn *spawn, lun_process **out,
                     api_spawn_stage *stage, lun_error *error)
{
    if (out) *out = NULL;
    *stage = API_SPAWN_CONTEXT;
    api_process *process = calloc(1, sizeof *process);
    if (process == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    process->host = host;
    process->exit = spawn->exit;
    process->environment = lun_environment_retain(spawn->environment);
    process->config = lun_process_config_retain(spawn->config);
    /* lunatic opens the preopens at spawn (a missing directory makes spawn
     * trap); the context itself waits for the first WASI call. */
    lun_status status = api_config_open_dirs(spawn->config, error);
    if (status != LUN_OK) {
        process_free(process);
        return status;
    }
    *stage = API_SPAWN_INSTANCE;
    uint64_t fuel_limit = spawn->config->max_fuel;
    if (fuel_limit > UINT64_MAX / API_FUEL_SLICE) fuel_limit = UINT64_MAX / API_FUEL_SLICE;
    /* The engine reads 0 as "no limit"; lunatic's 0 allows no memory. */
    uint64_t max_memory = spawn->config->max_memory ? spawn->config->max_memory : 1;
    lun_instance_config instance_config = {
        .max_memory_bytes = max_memory,
        .fuel_limit = fuel_limit * API_FUEL_SLICE,
        .user_data = process,
    };
    if (lun_module_instantiates_surely(spawn->module, host->imports, max_memory)) {
        /* lunatic's spawn reports instantiation errors; this one cannot
         * have any, so the child instantiates itself: its memory is then
         * made, written and freed on the worker that runs it, instead of
         * crossing between the spawner's core and the child's. */
        status = defer_instance(process, spawn, &instance_config, error);
    } else {
        status = lun_instantiate(spawn->module, host->imports, &instance_config, &process->instance,
                                 error);
        if (status == LUN_OK)
            start_entry(process, spawn->module, spawn->function, spawn->args, spawn->arg_count);
    }
    if (status != LUN_OK) {
        process_free(process);
        return status;
    }
    *stage = API_SPAWN_PROCESS;
    lun_spawn_options options = {
        .state_free = process_free, .link_with = spawn->link_with, .link_tag = spawn->link_tag};
    return lun_process_spawn(spawn->environment, wasm_step, process, &options, out, error);
}

lun_status lun_host_spawn(lun_host *host, const lun_wasm_spawn *spawn, lun_process **out,
                          lun_error *error)
{
    if (out) *out = NULL;
    if (host == NULL || spawn == NULL || spawn->environment == NULL || spawn->module == NULL ||
        spawn->config == NULL || spawn->function == NULL ||
        (spawn->args == NULL && spawn->arg_count))
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "incomplete spawn request");
    lun_status status = api_host_check_imports(host, spawn->module, error);
    if (status != LUN_OK) return status;
    api_spawn_stage stage;
    return api_spawn(host, spawn, out, &stage, error);
}
