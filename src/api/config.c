/*
 * Process configurations (docs/lunatic-abi.md §5): limits, permissions,
 * arguments, environment variables and preopened directories. A config is
 * reference counted; the api layer shares it between a guest's table and
 * the processes spawned with it, and copies it before an edit when shared.
 */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"

extern char **environ;

static void strings_free(api_strings *strings)
{
    for (size_t i = 0; i < strings->count; i++)
        free(strings->items[i]);
    free(strings->items);
    *strings = (api_strings){0};
}

bool api_strings_push(api_strings *strings, const char *text, size_t length)
{
    if (strings->count == strings->capacity) {
        size_t capacity = strings->capacity ? strings->capacity * 2 : 4;
        char **items = realloc(strings->items, capacity * sizeof *items);
        if (items == NULL) return false;
        strings->items = items;
        strings->capacity = capacity;
    }
    char *copy = malloc(length + 1);
    if (copy == NULL) return false;
    memcpy(copy, text, length);
    copy[length] = '\0';
    strings->items[strings->count++] = copy;
    return true;
}

static bool strings_copy(api_strings *to, const api_strings *from)
{
    for (size_t i = 0; i < from->count; i++)
        if (!api_strings_push(to, from->items[i], strlen(from->items[i]))) return false;
    return true;
}

lun_status lun_process_config_new(lun_process_config **out, lun_error *error)
{
    if (out == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null output");
    lun_process_config *config = calloc(1, sizeof *config);
    if (config == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    atomic_init(&config->references, 1);
    config->max_memory = API_DEFAULT_MEMORY;
    *out = config;
    return LUN_OK;
}

lun_status lun_process_config_new_main(lun_process_config **out, lun_error *error)
{
    lun_status status = lun_process_config_new(out, error);
    if (status != LUN_OK) return status;
    lun_process_config *config = *out;
    lun_process_config_set_permissions(config, true, true, true);
    for (char **variable = environ; variable != NULL && *variable != NULL; variable++) {
        const char *equals = strchr(*variable, '=');
        if (equals == NULL || equals == *variable) continue;
        if (!api_strings_push(&config->env_keys, *variable, (size_t)(equals - *variable)) ||
            !api_strings_push(&config->env_values, equals + 1, strlen(equals + 1))) {
            lun_process_config_release(config);
            *out = NULL;
            return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
        }
    }
    status = lun_process_config_add_preopen(config, ".", ".", error);
    if (status != LUN_OK) {
        lun_process_config_release(config);
        *out = NULL;
    }
    return status;
}

lun_process_config *lun_process_config_retain(lun_process_config *config)
{
    if (config != NULL) atomic_fetch_add_explicit(&config->references, 1, memory_order_relaxed);
    return config;
}

void lun_process_config_release(lun_process_config *config)
{
    if (config == NULL) return;
    if (atomic_fetch_sub_explicit(&config->references, 1, memory_order_acq_rel) != 1) return;
    strings_free(&config->args);
    strings_free(&config->env_keys);
    strings_free(&config->env_values);
    strings_free(&config->preopen_names);
    strings_free(&config->preopen_paths);
    for (size_t i = 0; i < config->dir_capacity; i++)
        lun_wasi_dir_free(atomic_load(&config->dirs[i]));
    free(config->dirs);
    free(config);
}

lun_process_config *api_config_copy(const lun_process_config *config)
{
    lun_process_config *copy = NULL;
    if (lun_process_config_new(&copy, NULL) != LUN_OK) return NULL;
    copy->max_memory = config->max_memory;
    copy->max_fuel = config->max_fuel;
    copy->can_compile_modules = config->can_compile_modules;
    copy->can_create_configs = config->can_create_configs;
    copy->can_spawn_processes = config->can_spawn_processes;
    if (!strings_copy(&copy->args, &config->args) ||
        !strings_copy(&copy->env_keys, &config->env_keys) ||
        !strings_copy(&copy->env_values, &config->env_values) ||
        !strings_copy(&copy->preopen_names, &config->preopen_names) ||
        !strings_copy(&copy->preopen_paths, &config->preopen_paths)) {
        lun_process_config_release(copy);
        return NULL;
    }
    return copy;
}

void lun_process_config_set_max_memory(lun_process_config *config, uint64_t bytes)
{
    config->max_memory = bytes;
}

void lun_process_config_set_max_fuel(lun_process_config *config, uint64_t slices)
{
    config->max_fuel = slices;
}

void lun_process_config_set_permissions(lun_process_config *config, bool compile_modules,
                                        bool create_configs, bool spawn_processes)
{
    config->can_compile_modules = compile_modules;
    config->can_create_configs = create_configs;
    config->can_spawn_processes = spawn_processes;
}

lun_status lun_process_config_add_arg(lun_process_config *config, const char *arg, lun_error *error)
{
    if (config == NULL || arg == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null argument");
    if (!api_strings_push(&config->args, arg, strlen(arg)))
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    return LUN_OK;
}

lun_status lun_process_config_add_env(lun_process_config *config, const char *key,
                                      const char *value, lun_error *error)
{
    if (config == NULL || key == NULL || value == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null argument");
    if (!api_strings_push(&config->env_keys, key, strlen(key))) goto no_memory;
    if (!api_strings_push(&config->env_values, value, strlen(value))) {
        free(config->env_keys.items[--config->env_keys.count]);
        goto no_memory;
    }
    return LUN_OK;
no_memory:
    return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
}

/* One cache slot per preopen, made when the preopen is added (a config is
 * edited only while it is not shared), so that spawns on several threads
 * only ever fill slots. */
static bool grow_dir_slots(lun_process_config *config, size_t needed)
{
    if (config->dir_capacity >= needed) return true;
    size_t capacity = config->dir_capacity ? config->dir_capacity * 2 : 2;
    if (capacity < needed) capacity = needed;
    _Atomic(lun_wasi_dir *) *dirs = calloc(capacity, sizeof *dirs);
    if (dirs == NULL) return false;
    for (size_t i = 0; i < capacity; i++)
        atomic_init(&dirs[i], i < config->dir_capacity ? atomic_load(&config->dirs[i]) : NULL);
    free(config->dirs);
    config->dirs = dirs;
    config->dir_capacity = capacity;
    return true;
}

lun_status lun_process_config_add_preopen(lun_process_config *config, const char *guest_name,
                                          const char *host_path, lun_error *error)
{
    if (config == NULL || guest_name == NULL || host_path == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null argument");
    if (!grow_dir_slots(config, config->preopen_paths.count + 1)) goto no_memory;
    if (!api_strings_push(&config->preopen_names, guest_name, strlen(guest_name))) goto no_memory;
    if (!api_strings_push(&config->preopen_paths, host_path, strlen(host_path))) {
        free(config->preopen_names.items[--config->preopen_names.count]);
        goto no_memory;
    }
    return LUN_OK;
no_memory:
    return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
}

/* The shared directory handle of preopen `index`, opened once. Several
 * threads may race here (a shared config spawning on many workers); the
 * loser of the exchange drops its handle. */
static lun_status preopen_dir(lun_process_config *config, size_t index, lun_wasi_dir **out,
                              lun_error *error)
{
    lun_wasi_dir *dir = atomic_load(&config->dirs[index]);
    if (dir == NULL) {
        lun_status status = lun_wasi_dir_open(config->preopen_paths.items[index], &dir, error);
        if (status != LUN_OK) return status;
        lun_wasi_dir *expected = NULL;
        if (!atomic_compare_exchange_strong(&config->dirs[index], &expected, dir)) {
            lun_wasi_dir_free(dir);
            dir = expected;
        }
    }
    *out = dir;
    return LUN_OK;
}

lun_status api_config_open_dirs(lun_process_config *config, lun_error *error)
{
    lun_status status = LUN_OK;
    for (size_t i = 0; status == LUN_OK && i < config->preopen_paths.count; i++) {
        lun_wasi_dir *dir;
        status = preopen_dir(config, i, &dir, error);
        if (status != LUN_OK)
            status = lun_error_set(error, LUN_ERR_IO, "cannot open preopened directory '%s'",
                                   config->preopen_paths.items[i]);
    }
    return status;
}

lun_status api_config_make_wasi(lun_process_config *config, lun_wasi_ctx **out, lun_error *error)
{
    lun_status status;
    lun_wasi_ctx *ctx;
    status = lun_wasi_ctx_new(&ctx, error);
    if (status != LUN_OK) return status;
    for (size_t i = 0; status == LUN_OK && i < config->args.count; i++)
        status = lun_wasi_ctx_add_arg(ctx, config->args.items[i], error);
    for (size_t i = 0; status == LUN_OK && i < config->env_keys.count; i++)
        status = lun_wasi_ctx_add_env(ctx, config->env_keys.items[i], config->env_values.items[i],
                                      error);
    for (size_t i = 0; status == LUN_OK && i < config->preopen_paths.count; i++) {
        lun_wasi_dir *dir;
        status = preopen_dir(config, i, &dir, error);
        if (status == LUN_OK)
            status = lun_wasi_ctx_preopen(ctx, config->preopen_names.items[i], dir, error);
        else
            status = lun_error_set(error, LUN_ERR_IO, "cannot open preopened directory '%s'",
                                   config->preopen_paths.items[i]);
    }
    if (status != LUN_OK) {
        lun_wasi_ctx_free(ctx);
        return status;
    }
    *out = ctx;
    return LUN_OK;
}
