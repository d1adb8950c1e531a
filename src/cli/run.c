/*
 * `lunatic run`: the first process of environment 1 and the command's exit
 * status (docs/lunatic-abi.md §14, with this project's §17 choice: the
 * status is the first process's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lunatic/api.h"

static lun_status build_config(const cli_run_options *options, lun_process_config **out,
                               lun_error *error)
{
    lun_process_config *config;
    lun_status status = lun_process_config_new_main(&config, error);
    if (status != LUN_OK) return status;
    for (size_t i = 0; status == LUN_OK && i < options->dir_count; i++)
        status = lun_process_config_add_preopen(config, options->dirs[i], options->dirs[i], error);
    const char *slash = strrchr(options->path, '/');
    if (status == LUN_OK)
        status = lun_process_config_add_arg(config, slash ? slash + 1 : options->path, error);
    for (int i = 0; status == LUN_OK && i < options->guest_arg_count; i++)
        status = lun_process_config_add_arg(config, options->guest_args[i], error);
    if (status == LUN_OK && options->bench)
        status = lun_process_config_add_arg(config, "--bench", error);
    if (status != LUN_OK) {
        lun_process_config_release(config);
        return status;
    }
    *out = config;
    return LUN_OK;
}

/* The exit status of the command from the first process's end. */
static int exit_status(const lun_process_result *result, const lun_wasm_exit *exit)
{
    if (exit->exited) return exit->code > 255 ? 1 : (int)exit->code;
    if (result->kind == LUN_RESULT_OK) return 0;
    fprintf(stderr, "Error: process failed: %s\n", result->message);
    return 1;
}

int cli_run(const cli_run_options *options)
{
    lun_error error = {0};
    lun_host *host = NULL;
    lun_module *module = NULL;
    lun_process_config *config = NULL;
    lun_environment *environment = NULL;
    lun_process *process = NULL;
    lun_wasm_exit exit = {0};
    int status = 1;
    if (lun_host_new(NULL, &host, &error) != LUN_OK) goto fail;
    if (lun_host_load_file(host, options->path, &module, &error) != LUN_OK) goto fail;
    if (build_config(options, &config, &error) != LUN_OK) goto fail;
    if (lun_environment_new(lun_host_runtime(host), 1, &environment, &error) != LUN_OK) goto fail;
    lun_wasm_spawn spawn = {.environment = environment,
                            .module = module,
                            .config = config,
                            .function = "_start",
                            .exit = &exit};
    if (lun_host_spawn(host, &spawn, &process, &error) != LUN_OK) goto fail;
    lun_process_result result;
    if (lun_process_join(process, LUN_TIMEOUT_INFINITE, &result, &error) != LUN_OK) goto fail;
    status = exit_status(&result, &exit);
    goto done;
fail:
    fprintf(stderr, "Error: %s\n", error.message);
done:
    /* The other processes are discarded without notification. */
    lun_log_set_level(LUN_LOG_OFF);
    lun_process_release(process);
    lun_environment_release(environment);
    lun_process_config_release(config);
    lun_module_free(module);
    lun_host_free(host);
    fflush(stdout);
    return status;
}
