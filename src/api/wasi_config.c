/*
 * lunatic::wasi: editing the WASI part of a config — environment variables,
 * command-line arguments and preopened directories (docs/lunatic-abi.md §5).
 */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"

static lun_host_result add_environment_variable(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_process_config *config = api_config_lookup(call, process, api_arg_i64(call, 0));
    if (config == NULL) return LUN_HOST_TRAP;
    char *key = api_guest_string(call, api_arg_u32(call, 1), api_arg_u32(call, 2));
    char *value = key ? api_guest_string(call, api_arg_u32(call, 3), api_arg_u32(call, 4)) : NULL;
    lun_host_result result = LUN_HOST_TRAP;
    if (value != NULL && strchr(key, '=') != NULL) {
        api_trap(call, "environment variable name contains '='");
    } else if (value != NULL) {
        config = api_config_for_edit(call, process, api_arg_i64(call, 0));
        if (config != NULL) {
            if (lun_process_config_add_env(config, key, value, NULL) == LUN_OK)
                result = LUN_HOST_RETURN;
            else
                api_trap(call, "out of memory");
        }
    }
    free(key);
    free(value);
    return result;
}

static lun_host_result add_command_line_argument(lun_host_call *call)
{
    API_PROCESS(call, process);
    if (api_config_lookup(call, process, api_arg_i64(call, 0)) == NULL) return LUN_HOST_TRAP;
    char *argument = api_guest_string(call, api_arg_u32(call, 1), api_arg_u32(call, 2));
    if (argument == NULL) return LUN_HOST_TRAP;
    lun_process_config *config = api_config_for_edit(call, process, api_arg_i64(call, 0));
    lun_host_result result = LUN_HOST_TRAP;
    if (config != NULL) {
        if (lun_process_config_add_arg(config, argument, NULL) == LUN_OK)
            result = LUN_HOST_RETURN;
        else
            api_trap(call, "out of memory");
    }
    free(argument);
    return result;
}

static lun_host_result preopen_dir(lun_host_call *call)
{
    API_PROCESS(call, process);
    if (api_config_lookup(call, process, api_arg_i64(call, 0)) == NULL) return LUN_HOST_TRAP;
    char *directory = api_guest_string(call, api_arg_u32(call, 1), api_arg_u32(call, 2));
    if (directory == NULL) return LUN_HOST_TRAP;
    const char *host_path = directory;
    if (strcmp(directory, "~") == 0) {
        const char *home = getenv("HOME");
        if (home != NULL && home[0] != '\0') host_path = home;
    }
    lun_process_config *config = api_config_for_edit(call, process, api_arg_i64(call, 0));
    lun_host_result result = LUN_HOST_TRAP;
    if (config != NULL) {
        if (lun_process_config_add_preopen(config, directory, host_path, NULL) == LUN_OK)
            result = LUN_HOST_RETURN;
        else
            api_trap(call, "out of memory");
    }
    free(directory);
    return result;
}

const api_function_def api_wasi_config_functions[] = {
    {"config_add_environment_variable", "i64 i32 i32 i32 i32", "", add_environment_variable},
    {"config_add_command_line_argument", "i64 i32 i32", "", add_command_line_argument},
    {"config_preopen_dir", "i64 i32 i32", "", preopen_dir},
    {NULL, NULL, NULL, NULL},
};
