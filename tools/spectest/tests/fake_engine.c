/*
 * A stand-in for the engine (the lunatic/wasm.h API) for script_test.c, so
 * that the runner's bookkeeping is tested apart from the real engine.
 *
 * A "module binary" here is a line of text naming its behaviour:
 *   "malformed" / "invalid"   decoding fails with that status;
 *   "datacount"               malformed for want of a data count section;
 *   "unlinkable"              instantiation fails with LUN_ERR_LINK;
 *   "start-trap"              instantiation traps;
 *   "import M F"              instantiation needs M.F in the imports;
 *   "ok"                      decodes and instantiates.
 * Every module exports the functions of `exports` below and a global "g"
 * (i32 42). Live objects are counted so that the test can check the runner
 * frees everything it makes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_engine.h"

struct lun_module {
    int references;
    char text[64];
};

struct lun_func {
    lun_host_fn fn;
    void *data;
    size_t export_index; /* functions of `exports` below: its index + 1; host functions 0 */
};

struct lun_table {
    int unused;
};

struct lun_memory {
    uint8_t data[16];
};

struct lun_global {
    lun_value value;
};

typedef struct import_entry {
    char *module_name;
    char *field_name;
    lun_extern value;
    lun_instance *instance; /* set by lun_imports_add_instance */
} import_entry;

struct lun_imports {
    import_entry *entries;
    size_t count;
};

struct lun_instance {
    lun_module *module;
    lun_global global;
    const char *running; /* the export started, or NULL */
    lun_value args[4];
    lun_value results[2];
    size_t result_count;
    char trap[64];
    uint64_t fuel_limit;
    uint64_t fuel_used;
};

static const struct {
    const char *name;
    lun_valtype params[2];
    size_t param_count;
    lun_valtype results[2];
    size_t result_count;
} exports[] = {
    {"add", {LUN_I32, LUN_I32}, 2, {LUN_I32}, 1},
    {"div", {LUN_I32, LUN_I32}, 2, {LUN_I32}, 1},
    {"nan", {0}, 0, {LUN_F32}, 1},
    {"id", {LUN_EXTERNREF}, 1, {LUN_EXTERNREF}, 1},
    {"two", {0}, 0, {LUN_I32, LUN_I64}, 2},
    {"spin", {0}, 0, {0}, 0},
    {"print", {0}, 0, {0}, 0},
};
enum { EXPORT_COUNT = sizeof exports / sizeof exports[0] };

/* The function handles of the exports, shared by every fake instance. */
static lun_func export_funcs[EXPORT_COUNT] = {
    {.export_index = 1}, {.export_index = 2}, {.export_index = 3}, {.export_index = 4},
    {.export_index = 5}, {.export_index = 6}, {.export_index = 7},
};
_Static_assert(sizeof export_funcs / sizeof export_funcs[0] == EXPORT_COUNT,
               "one handle per export");

fake_engine_counts fake_engine_live;

static bool starts_with(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

lun_status lun_module_decode(const uint8_t *bytes, size_t size, lun_module **module,
                             lun_error *error)
{
    char text[64] = {0};
    memcpy(text, bytes, size < sizeof text - 1 ? size : sizeof text - 1);
    if (starts_with(text, "malformed"))
        return lun_error_set(error, LUN_ERR_MALFORMED, "fake: malformed");
    if (starts_with(text, "invalid")) return lun_error_set(error, LUN_ERR_INVALID, "fake: invalid");
    if (starts_with(text, "datacount"))
        return lun_error_set(error, LUN_ERR_MALFORMED, "fake: data count section required");
    lun_module *made = calloc(1, sizeof *made);
    if (made == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "fake: out of memory");
    made->references = 1;
    memcpy(made->text, text, sizeof made->text);
    fake_engine_live.modules++;
    *module = made;
    return LUN_OK;
}

lun_module *lun_module_retain(lun_module *module)
{
    module->references++;
    return module;
}

void lun_module_free(lun_module *module)
{
    if (module != NULL && --module->references == 0) {
        free(module);
        fake_engine_live.modules--;
    }
}

bool lun_module_export_func_type(const lun_module *module, const char *name,
                                 const lun_valtype **params, size_t *param_count,
                                 const lun_valtype **results, size_t *result_count)
{
    (void)module;
    for (size_t i = 0; i < EXPORT_COUNT; i++) {
        if (strcmp(exports[i].name, name) == 0) {
            *params = exports[i].params;
            *param_count = exports[i].param_count;
            *results = exports[i].results;
            *result_count = exports[i].result_count;
            return true;
        }
    }
    return false;
}

lun_status lun_func_new_host(const char *params, const char *results, lun_host_fn fn, void *data,
                             lun_func **func, lun_error *error)
{
    (void)params;
    (void)results;
    (void)error;
    *func = calloc(1, sizeof **func);
    (*func)->fn = fn;
    (*func)->data = data;
    fake_engine_live.host_objects++;
    return LUN_OK;
}

void lun_func_free(lun_func *func)
{
    free(func);
    fake_engine_live.host_objects--;
}

lun_status lun_table_new(lun_valtype element_type, uint32_t min, uint32_t max, lun_table **table,
                         lun_error *error)
{
    (void)element_type;
    (void)error;
    if (min != 10 || max != 20)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "fake: spectest table limits");
    *table = calloc(1, sizeof **table);
    fake_engine_live.host_objects++;
    return LUN_OK;
}

void lun_table_free(lun_table *table)
{
    free(table);
    fake_engine_live.host_objects--;
}

lun_status lun_memory_new(uint32_t min_pages, uint32_t max_pages, lun_memory **memory,
                          lun_error *error)
{
    if (min_pages != 1 || max_pages != 2)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "fake: spectest memory limits");
    *memory = calloc(1, sizeof **memory);
    fake_engine_live.host_objects++;
    return LUN_OK;
}

void lun_memory_free(lun_memory *memory)
{
    free(memory);
    fake_engine_live.host_objects--;
}

lun_status lun_global_new(lun_value value, bool mutable_, lun_global **global, lun_error *error)
{
    (void)mutable_;
    (void)error;
    *global = calloc(1, sizeof **global);
    (*global)->value = value;
    fake_engine_live.host_objects++;
    return LUN_OK;
}

void lun_global_free(lun_global *global)
{
    free(global);
    fake_engine_live.host_objects--;
}

lun_value lun_global_get(const lun_global *global)
{
    return global->value;
}

lun_status lun_imports_new(lun_imports **imports, lun_error *error)
{
    (void)error;
    *imports = calloc(1, sizeof **imports);
    fake_engine_live.imports++;
    return LUN_OK;
}

void lun_imports_free(lun_imports *imports)
{
    for (size_t i = 0; i < imports->count; i++) {
        free(imports->entries[i].module_name);
        free(imports->entries[i].field_name);
    }
    free(imports->entries);
    free(imports);
    fake_engine_live.imports--;
}

static lun_status add_entry(lun_imports *imports, const char *module_name, const char *field_name,
                            lun_extern value, lun_instance *instance)
{
    import_entry *entries =
        realloc(imports->entries, (imports->count + 1) * sizeof *imports->entries);
    if (entries == NULL) return LUN_ERR_NO_MEMORY;
    imports->entries = entries;
    entries[imports->count++] = (import_entry){
        .module_name = strdup(module_name),
        .field_name = strdup(field_name),
        .value = value,
        .instance = instance,
    };
    return LUN_OK;
}

lun_status lun_imports_add(lun_imports *imports, const char *module_name, const char *field_name,
                           lun_extern value, lun_error *error)
{
    (void)error;
    return add_entry(imports, module_name, field_name, value, NULL);
}

lun_status lun_imports_add_instance(lun_imports *imports, const char *module_name,
                                    lun_instance *instance, lun_error *error)
{
    (void)error;
    return add_entry(imports, module_name, "*", (lun_extern){0}, instance);
}

bool lun_imports_find(const lun_imports *imports, const char *module_name, const char *field_name,
                      lun_extern *value)
{
    for (size_t i = 0; i < imports->count; i++) {
        const import_entry *entry = &imports->entries[i];
        if (strcmp(entry->module_name, module_name) != 0) continue;
        if (strcmp(entry->field_name, field_name) == 0 || entry->instance != NULL) {
            *value = entry->value;
            return true;
        }
    }
    return false;
}

lun_status lun_instantiate(lun_module *module, const lun_imports *imports,
                           const lun_instance_config *config, lun_instance **instance,
                           lun_error *error)
{
    char module_name[24], field_name[24];
    lun_extern found;
    if (starts_with(module->text, "unlinkable"))
        return lun_error_set(error, LUN_ERR_LINK, "fake: unknown import");
    if (sscanf(module->text, "import %23s %23s", module_name, field_name) == 2 &&
        !lun_imports_find(imports, module_name, field_name, &found))
        return lun_error_set(error, LUN_ERR_LINK, "fake: unknown import %s.%s", module_name,
                             field_name);
    if (starts_with(module->text, "start-trap"))
        return lun_error_set(error, LUN_ERR_TRAP, "unreachable");
    lun_instance *made = calloc(1, sizeof *made);
    made->module = lun_module_retain(module);
    made->global.value = lun_value_i32(42);
    made->fuel_limit = config != NULL ? config->fuel_limit : 0;
    fake_engine_live.instances++;
    *instance = made;
    return LUN_OK;
}

void lun_instance_free(lun_instance *instance)
{
    lun_module_free(instance->module);
    free(instance);
    fake_engine_live.instances--;
}

lun_module *lun_instance_module(const lun_instance *instance)
{
    return instance->module;
}

lun_status lun_instance_export_bytes(lun_instance *instance, const char *name, size_t name_length,
                                     lun_extern *value, lun_error *error)
{
    if (name_length == 1 && name[0] == 'g') {
        *value = (lun_extern){.kind = LUN_EXTERN_GLOBAL, .global = &instance->global};
        return LUN_OK;
    }
    for (size_t i = 0; i < EXPORT_COUNT; i++) {
        if (strlen(exports[i].name) == name_length &&
            memcmp(exports[i].name, name, name_length) == 0) {
            *value = (lun_extern){.kind = LUN_EXTERN_FUNC, .func = &export_funcs[i]};
            return LUN_OK;
        }
    }
    return lun_error_set(error, LUN_ERR_NOT_FOUND, "fake: no export %.*s", (int)name_length, name);
}

lun_status lun_instance_export(lun_instance *instance, const char *name, lun_extern *value,
                               lun_error *error)
{
    return lun_instance_export_bytes(instance, name, strlen(name), value, error);
}

void lun_func_type(const lun_func *func, const lun_valtype **params, size_t *param_count,
                   const lun_valtype **results, size_t *result_count)
{
    static const lun_valtype none[1];
    size_t i = func->export_index;
    *params = i > 0 ? exports[i - 1].params : none;
    *param_count = i > 0 ? exports[i - 1].param_count : 0;
    *results = i > 0 ? exports[i - 1].results : none;
    *result_count = i > 0 ? exports[i - 1].result_count : 0;
}

lun_status lun_instance_start_func(lun_instance *instance, const lun_func *func,
                                   const lun_value *args, size_t arg_count, lun_error *error)
{
    if (func == NULL || func->export_index == 0)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "fake: not an export");
    return lun_instance_start(instance, exports[func->export_index - 1].name, args, arg_count,
                              error);
}

lun_status lun_instance_start(lun_instance *instance, const char *export_name,
                              const lun_value *args, size_t arg_count, lun_error *error)
{
    if (instance->running != NULL)
        return lun_error_set(error, LUN_ERR_STATE, "fake: a run is in progress");
    for (size_t i = 0; i < EXPORT_COUNT; i++) {
        if (strcmp(exports[i].name, export_name) == 0) {
            if (arg_count != exports[i].param_count)
                return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "fake: arguments");
            memcpy(instance->args, args, arg_count * sizeof *args);
            instance->running = exports[i].name;
            return LUN_OK;
        }
    }
    return lun_error_set(error, LUN_ERR_NOT_FOUND, "fake: no export %s", export_name);
}

static lun_run_state finish(lun_instance *instance, size_t count, lun_value first, lun_value second)
{
    instance->results[0] = first;
    instance->results[1] = second;
    instance->result_count = count;
    instance->running = NULL;
    return LUN_RUN_FINISHED;
}

static lun_run_state trap(lun_instance *instance, const char *message)
{
    strcpy(instance->trap, message);
    instance->running = NULL;
    return LUN_RUN_TRAPPED;
}

lun_run_state lun_instance_run(lun_instance *instance, uint64_t fuel)
{
    const char *name = instance->running;
    const lun_value *args = instance->args;
    lun_value none = {0};
    if (name == NULL) return trap(instance, "fake: nothing to run");
    fake_engine_live.runs++;
    if (strcmp(name, "spin") == 0) {
        instance->fuel_used += fuel;
        if (instance->fuel_limit != 0 && instance->fuel_used > instance->fuel_limit)
            return trap(instance, "out of fuel");
        return LUN_RUN_OUT_OF_FUEL;
    }
    if (strcmp(name, "add") == 0)
        return finish(instance, 1, lun_value_i32(args[0].i32 + args[1].i32), none);
    if (strcmp(name, "div") == 0) {
        if (args[1].i32 == 0) return trap(instance, "integer divide by zero");
        return finish(instance, 1, lun_value_i32(args[0].i32 / args[1].i32), none);
    }
    if (strcmp(name, "nan") == 0) {
        lun_value nan = {.type = LUN_F32, .f32_bits = 0xffc00000u};
        return finish(instance, 1, nan, none);
    }
    if (strcmp(name, "id") == 0) return finish(instance, 1, args[0], none);
    if (strcmp(name, "two") == 0) return finish(instance, 2, lun_value_i32(1), lun_value_i64(-1));
    return finish(instance, 0, none, none);
}

size_t lun_instance_results(const lun_instance *instance, lun_value *results, size_t capacity)
{
    size_t count = instance->result_count < capacity ? instance->result_count : capacity;
    memcpy(results, instance->results, count * sizeof *results);
    return count;
}

const char *lun_instance_trap_message(const lun_instance *instance)
{
    return instance->trap;
}
