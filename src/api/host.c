/*
 * The host object: a runtime plus the set of host functions every module is
 * linked against (every lunatic::* import module and WASI), and module
 * loading with the import check lunatic does at compile time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_internal.h"
#include "lunatic/net.h"

typedef struct import_module {
    const char *name;
    const api_function_def *functions;
} import_module;

static const import_module import_modules[] = {
    {"lunatic::process", api_process_functions},
    {"lunatic::message", api_message_functions},
    {"lunatic::timer", api_timer_functions},
    {"lunatic::registry", api_registry_functions},
    {"lunatic::error", api_error_functions},
    {"lunatic::version", api_version_functions},
    {"lunatic::wasi", api_wasi_config_functions},
    {"lunatic::trap", api_trap_functions},
    {"lunatic::metrics", api_metrics_functions},
    {"lunatic::distributed", api_distributed_functions},
    {"lunatic::networking", api_networking_functions},
    {"lunatic::sqlite", api_sqlite_functions},
};

enum { IMPORT_MODULE_COUNT = sizeof import_modules / sizeof import_modules[0] };

/* ---- WASI hooks: the process's context, and waits that park the process ---- */

static lun_wasi_ctx *wasi_context(void *hook_data, lun_instance *instance)
{
    api_process *process = lun_instance_user_data(instance);
    return process ? api_process_wasi(process) : NULL;
}

static uint64_t monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * UINT64_C(1000000000) + (uint64_t)now.tv_nsec;
}

static bool wasi_wait_until(void *hook_data, lun_wasi_ctx *ctx, lun_instance *instance,
                            uint64_t deadline_ns)
{
    api_process *process = lun_instance_user_data(instance);
    for (;;) {
        uint64_t now = monotonic_ns();
        if (now >= deadline_ns) {
            if (process != NULL && process->self != NULL) lun_process_cancel_wait(process->self);
            return true;
        }
        uint64_t remaining = deadline_ns - now;
        if (process == NULL || process->self == NULL) {
            /* During instantiation there is no process to park: sleep. */
            struct timespec pause = {.tv_sec = (time_t)(remaining / 1000000000u),
                                     .tv_nsec = (long)(remaining % 1000000000u)};
            while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
                continue;
            continue;
        }
        uint64_t milliseconds = (remaining + 999999u) / 1000000u;
        lun_status status = lun_process_sleep(process->self, milliseconds, NULL);
        if (status == LUN_ERR_WOULD_BLOCK) return false;
        if (status != LUN_OK) return true;
        /* An earlier sleep just completed; loop to check the clock again. */
    }
}

static bool wasi_yield(void *hook_data, lun_wasi_ctx *ctx, lun_instance *instance)
{
    api_process *process = lun_instance_user_data(instance);
    if (process == NULL || process->self == NULL) return false;
    process->yield_requested = true;
    return true;
}

/* ---- construction ----------------------------------------------------------------- */

static lun_status add_functions(lun_host *host, lun_error *error)
{
    size_t total = 0;
    for (size_t m = 0; m < IMPORT_MODULE_COUNT; m++)
        for (const api_function_def *def = import_modules[m].functions; def->name; def++)
            total++;
    host->funcs = calloc(total, sizeof *host->funcs);
    if (host->funcs == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    for (size_t m = 0; m < IMPORT_MODULE_COUNT; m++) {
        for (const api_function_def *def = import_modules[m].functions; def->name; def++) {
            lun_func *func;
            lun_status status =
                lun_func_new_host(def->params, def->results, def->function, host, &func, error);
            if (status != LUN_OK) return status;
            host->funcs[host->func_count++] = func;
            lun_extern value = {.kind = LUN_EXTERN_FUNC, .func = func};
            status =
                lun_imports_add(host->imports, import_modules[m].name, def->name, value, error);
            if (status != LUN_OK) return status;
        }
    }
    return LUN_OK;
}

lun_status lun_host_new(const lun_host_options *options, lun_host **out, lun_error *error)
{
    if (out == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null output");
    *out = NULL;
    lun_host *host = calloc(1, sizeof *host);
    if (host == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    pthread_mutex_init(&host->net_lock, NULL);
    lun_status status = LUN_OK;
    if (options != NULL) {
        host->open_output = options->open_output;
        host->output_context = options->output_context;
    }
    if (options != NULL && options->runtime != NULL) {
        host->runtime = options->runtime;
    } else {
        lun_runtime_config config = {.workers = options ? options->workers : 0};
        status = lun_runtime_new(&config, &host->runtime, error);
        host->owns_runtime = status == LUN_OK;
    }
    if (status == LUN_OK) status = lun_imports_new(&host->imports, error);
    if (status == LUN_OK) {
        lun_wasi_hooks hooks = {
            .context = wasi_context, .wait_until = wasi_wait_until, .yield = wasi_yield};
        status = lun_wasi_host_new(&hooks, &host->wasi, error);
    }
    if (status == LUN_OK) status = lun_wasi_add_imports(host->wasi, host->imports, error);
    if (status == LUN_OK) status = add_functions(host, error);
    if (status != LUN_OK) {
        lun_host_free(host);
        return status;
    }
    *out = host;
    return LUN_OK;
}

void lun_host_free(lun_host *host)
{
    if (host == NULL) return;
    /* Processes hold instances linked against the functions below. */
    if (host->owns_runtime) lun_runtime_free(host->runtime);
    /* After the runtime: its processes released their sockets. */
    lun_net_free(host->net);
    pthread_mutex_destroy(&host->net_lock);
    lun_imports_free(host->imports);
    lun_wasi_host_free(host->wasi);
    for (size_t i = 0; i < host->func_count; i++)
        lun_func_free(host->funcs[i]);
    free(host->funcs);
    free(host);
}

lun_status api_host_net(lun_host *host, lun_net **out, lun_error *error)
{
    pthread_mutex_lock(&host->net_lock);
    lun_status status = LUN_OK;
    if (host->net == NULL) status = lun_net_new(NULL, &host->net, error);
    *out = host->net;
    pthread_mutex_unlock(&host->net_lock);
    return status;
}

lun_runtime *lun_host_runtime(lun_host *host)
{
    return host->runtime;
}

/* ---- modules ------------------------------------------------------------------------ */

lun_status api_host_check_imports(const lun_host *host, const lun_module *module, lun_error *error)
{
    size_t count = lun_module_import_count(module);
    for (size_t i = 0; i < count; i++) {
        const char *module_name, *field_name;
        lun_extern_kind kind;
        lun_module_import(module, i, &module_name, &field_name, &kind);
        lun_extern value;
        if (kind != LUN_EXTERN_FUNC ||
            !lun_imports_find(host->imports, module_name, field_name, &value))
            return lun_error_set(error, LUN_ERR_LINK,
                                 "unknown import: `%s::%s` has not been defined", module_name,
                                 field_name);
    }
    return LUN_OK;
}

lun_status lun_host_load_module(lun_host *host, const uint8_t *bytes, size_t size, lun_module **out,
                                lun_error *error)
{
    if (host == NULL || out == NULL || (bytes == NULL && size > 0))
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null argument");
    lun_module *module;
    lun_status status = lun_module_decode(bytes, size, &module, error);
    if (status != LUN_OK) return status;
    status = api_host_check_imports(host, module, error);
    if (status != LUN_OK) {
        lun_module_free(module);
        return status;
    }
    *out = module;
    return LUN_OK;
}

lun_status lun_host_load_file(lun_host *host, const char *path, lun_module **out, lun_error *error)
{
    if (host == NULL || path == NULL || out == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null argument");
    FILE *file = fopen(path, "rb");
    if (file == NULL) return lun_error_set(error, LUN_ERR_NOT_FOUND, "Module '%s' not found", path);
    uint8_t *bytes = NULL;
    size_t size = 0, capacity = 0;
    lun_status status = LUN_OK;
    for (;;) {
        if (size == capacity) {
            capacity = capacity ? capacity * 2 : 65536;
            uint8_t *grown = realloc(bytes, capacity);
            if (grown == NULL) {
                status =
                    lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory reading '%s'", path);
                break;
            }
            bytes = grown;
        }
        size_t got = fread(bytes + size, 1, capacity - size, file);
        size += got;
        if (got == 0) {
            if (ferror(file)) status = lun_error_set(error, LUN_ERR_IO, "cannot read '%s'", path);
            break;
        }
    }
    fclose(file);
    if (status == LUN_OK) status = lun_host_load_module(host, bytes, size, out, error);
    free(bytes);
    return status;
}
