/*
 * Embedding API: a runtime with lunatic's host API, to load Wasm modules and
 * spawn them as processes.
 *
 * A lun_host joins the process core (core.h), the engine (wasm.h) and WASI
 * (wasi.h): it owns a lun_runtime (or borrows one), the set of host
 * functions every module is linked against (all `lunatic::*` import modules
 * of the ABI document shared/docs/lunatic-abi.md and `wasi_snapshot_preview1`),
 * and spawns Wasm processes: core processes whose step runs the instance for
 * one fuel slice (100,000 units; then the process yields), parks it while a
 * host call waits (receive, sleep_ms, ...), and ends it when the entry
 * function returns (Normal), traps or calls proc_exit (0: Normal, else
 * Failure).
 *
 * Modules are shared by every process spawned from them (lun_module is
 * reference counted); configs are reference counted and copied only when a
 * shared one is edited.
 *
 *     lun_host *host;
 *     lun_host_new(NULL, &host, &error);
 *     lun_module *module;
 *     lun_host_load_file(host, "app.wasm", &module, &error);
 *     lun_process_config *config;
 *     lun_process_config_new_main(&config, &error);   // the config of §5
 *     lun_process_config_add_arg(config, "app.wasm", &error);
 *     lun_environment *env;
 *     lun_environment_new(lun_host_runtime(host), 1, &env, &error);
 *     lun_wasm_exit exit = {0};
 *     lun_wasm_spawn spawn = {.environment = env, .module = module, .config = config,
 *                             .function = "_start", .exit = &exit};
 *     lun_process *process;
 *     lun_host_spawn(host, &spawn, &process, &error);
 *     lun_process_join(process, LUN_TIMEOUT_INFINITE, &result, &error);
 */
#ifndef LUNATIC_API_H
#define LUNATIC_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lunatic/core.h"
#include "lunatic/error.h"
#include "lunatic/wasm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* lunatic's version, as reported by lunatic::version. */
enum { LUN_API_VERSION_MAJOR = 0, LUN_API_VERSION_MINOR = 13, LUN_API_VERSION_PATCH = 2 };

typedef struct lun_host lun_host;

typedef struct lun_host_options {
    unsigned workers;     /* worker threads of a new runtime; 0 = one per core */
    lun_runtime *runtime; /* when not NULL, use this runtime (borrowed) */
    /* When not NULL, called (from any worker thread) on a process's first
     * WASI call, with its process id (0 during instantiation): an fd that
     * fds 1 and 2 of that process write to (a duplicate is taken), or -1 for
     * the host's stdout and stderr. Test mode captures output this way. */
    int (*open_output)(void *context, uint64_t process_id);
    void *output_context;
} lun_host_options;

/* options may be NULL. */
lun_status lun_host_new(const lun_host_options *options, lun_host **out, lun_error *error);
/* Frees the runtime first when the host owns it (every process is killed).
 * A borrowed runtime must be freed before its host: its processes use the
 * host's functions until they end. */
void lun_host_free(lun_host *host);
lun_runtime *lun_host_runtime(lun_host *host);

/* Decodes, validates and compiles a module, and checks that every function
 * it imports is one the host provides (LUN_ERR_LINK names the first that
 * is not). */
lun_status lun_host_load_module(lun_host *host, const uint8_t *bytes, size_t size, lun_module **out,
                                lun_error *error);
/* Same from a file (LUN_ERR_NOT_FOUND: "Module '<path>' not found"). */
lun_status lun_host_load_file(lun_host *host, const char *path, lun_module **out, lun_error *error);

/* ---- process configurations (docs/lunatic-abi.md §5) ----------------------- */

typedef struct lun_process_config lun_process_config;

/* Defaults of lunatic::process::create_config: max_memory 4294967295,
 * unlimited fuel, no permissions, no args, env or preopens. */
lun_status lun_process_config_new(lun_process_config **out, lun_error *error);
/* The first process's config: every permission, the host's whole
 * environment, and "." preopened. Arguments are added by the caller. */
lun_status lun_process_config_new_main(lun_process_config **out, lun_error *error);
lun_process_config *lun_process_config_retain(lun_process_config *config);
void lun_process_config_release(lun_process_config *config); /* NULL is a no-op */

/* Setters must not be used on a config shared with running processes. */
void lun_process_config_set_max_memory(lun_process_config *config, uint64_t bytes);
void lun_process_config_set_max_fuel(lun_process_config *config, uint64_t slices);
void lun_process_config_set_permissions(lun_process_config *config, bool compile_modules,
                                        bool create_configs, bool spawn_processes);
lun_status lun_process_config_add_arg(lun_process_config *config, const char *arg,
                                      lun_error *error);
lun_status lun_process_config_add_env(lun_process_config *config, const char *key,
                                      const char *value, lun_error *error);
/* Guest name and host path; opened when a process is spawned. */
lun_status lun_process_config_add_preopen(lun_process_config *config, const char *guest_name,
                                          const char *host_path, lun_error *error);

/* ---- spawning ------------------------------------------------------------- */

/* Filled by the process's last step: whether the guest called proc_exit and
 * with which code (lunatic run returns it). Read it after lun_process_join. */
typedef struct lun_wasm_exit {
    bool exited;
    uint32_t code;
} lun_wasm_exit;

typedef struct lun_wasm_spawn {
    lun_environment *environment;
    lun_module *module;         /* retained by the process */
    lun_process_config *config; /* retained by the process */
    const char *function;       /* entry export; must take args and return nothing */
    const lun_value *args;
    size_t arg_count;
    lun_process *link_with; /* optional: linked before the child runs */
    int64_t link_tag;       /* the tag the child reports to link_with */
    lun_wasm_exit *exit;    /* optional; must outlive the process */
} lun_wasm_spawn;

/* Instantiates the module (start function included) in the calling thread
 * and spawns the process. A missing or mistyped entry export is not an
 * error here: the process fails at its first step, as in lunatic. */
lun_status lun_host_spawn(lun_host *host, const lun_wasm_spawn *spawn, lun_process **out,
                          lun_error *error);

#ifdef __cplusplus
}
#endif

#endif
