/*
 * Running one converted spec script (see script.h): the module registry,
 * actions run under a fuel budget, and the checks of every assertion.
 */
#include "script.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "json.h"
#include "lists.h"
#include "value.h"
#include "lunatic/wasm.h"

enum {
    MAX_JSON_BYTES = 256 << 20,
    MAX_MODULE_BYTES = 64 << 20,
    FUEL_SLICE = 1000000, /* run in slices, as the scheduler will */
};

typedef struct script_module {
    char *name;             /* "$M" as the script names it, or NULL */
    lun_module *module;     /* NULL when it failed to decode */
    lun_instance *instance; /* NULL when it failed to load */
    bool abandoned;         /* a run was left unfinished: the instance is unusable */
    int64_t line;
} script_module;

typedef struct script {
    const spectest_options *options;
    const char *name;
    char *directory;
    lun_imports *imports;
    spectest_host host;
    script_module *modules;
    size_t module_count;
    size_t module_capacity;
    size_t current; /* index into modules; module_count means none yet */
    spectest_counts counts;
    const char *command_type;
    int64_t line;
} script;

typedef enum action_outcome {
    ACTION_RETURNED,
    ACTION_TRAPPED,
    ACTION_ERROR, /* could not be run, or ran away: never a pass */
} action_outcome;

typedef struct action_result {
    action_outcome outcome;
    lun_value *values;
    size_t count;
    char message[LUN_ERROR_MESSAGE_SIZE + 128];
} action_result;

static void passed(script *s)
{
    s->counts.passed++;
}

static void not_applicable(script *s)
{
    s->counts.not_applicable++;
}

static void failed(script *s, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void failed(script *s, const char *format, ...)
{
    s->counts.failed++;
    if (!s->options->verbose) return;
    va_list args;
    va_start(args, format);
    printf("%s:%" PRId64 ": %s failed: ", s->name, s->line, s->command_type);
    vprintf(format, args);
    printf("\n");
    va_end(args);
}

static void note(script *s, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void note(script *s, const char *format, ...)
{
    if (!s->options->verbose) return;
    va_list args;
    va_start(args, format);
    printf("%s:%" PRId64 ": note: %s: ", s->name, s->line, s->command_type);
    vprintf(format, args);
    printf("\n");
    va_end(args);
}

static void set_message(action_result *result, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void set_message(action_result *result, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(result->message, sizeof result->message, format, args);
    va_end(args);
}

/* ---- the module registry ----------------------------------------------- */

/* Appends an empty entry; NULL when out of memory. */
static script_module *add_module(script *s, const char *name)
{
    if (s->module_count == s->module_capacity) {
        size_t grown = s->module_capacity ? s->module_capacity * 2 : 16;
        script_module *modules = realloc(s->modules, grown * sizeof *modules);
        if (modules == NULL) return NULL;
        s->modules = modules;
        s->module_capacity = grown;
    }
    char *copy = NULL;
    if (name != NULL && (copy = strdup(name)) == NULL) return NULL;
    script_module *module = &s->modules[s->module_count++];
    *module = (script_module){.name = copy, .line = s->line};
    return module;
}

/* The module a command names (NULL name: the current one), or NULL with
 * the reason in result. */
static script_module *find_instance(script *s, const char *name, action_result *result)
{
    script_module *module = NULL;
    if (name == NULL) {
        if (s->current < s->module_count)
            module = &s->modules[s->current];
        else
            set_message(result, "no module defined yet");
    } else {
        for (size_t i = s->module_count; i-- > 0;) {
            if (s->modules[i].name != NULL && strcmp(s->modules[i].name, name) == 0) {
                module = &s->modules[i];
                break;
            }
        }
        if (module == NULL) set_message(result, "no module named %s", name);
    }
    if (module == NULL) return NULL;
    if (module->instance == NULL) {
        set_message(result, "the module of line %" PRId64 " failed to load", module->line);
        return NULL;
    }
    if (module->abandoned) {
        set_message(result, "the module of line %" PRId64 " has an unfinished run", module->line);
        return NULL;
    }
    return module;
}

static void free_modules(script *s)
{
    /* Newest first: an instance may borrow from an older one. */
    for (size_t i = s->module_count; i-- > 0;) {
        if (s->modules[i].instance != NULL) lun_instance_free(s->modules[i].instance);
        lun_module_free(s->modules[i].module);
        free(s->modules[i].name);
    }
    free(s->modules);
    s->modules = NULL;
    s->module_count = s->module_capacity = 0;
}

/* ---- loading modules ---------------------------------------------------- */

static lun_status decode_file(script *s, const char *filename, lun_module **module,
                              lun_error *error)
{
    *module = NULL;
    if (filename == NULL || filename[0] == '\0' || strchr(filename, '/') != NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "bad module file name");
    size_t path_size = strlen(s->directory) + strlen(filename) + 2;
    char *path = malloc(path_size);
    if (path == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    snprintf(path, path_size, "%s/%s", s->directory, filename);
    char *bytes = NULL;
    size_t size = 0;
    lun_status status = spectest_read_file(path, MAX_MODULE_BYTES, &bytes, &size, error);
    free(path);
    if (status != LUN_OK) return status;
    status = lun_module_decode((const uint8_t *)bytes, size, module, error);
    free(bytes);
    if (status != LUN_OK) *module = NULL;
    return status;
}

static lun_status instantiate(script *s, lun_module *module, lun_instance **instance,
                              lun_error *error)
{
    lun_instance_config config = {.fuel_limit = s->options->fuel};
    *instance = NULL;
    lun_status status = lun_instantiate(module, s->imports, &config, instance, error);
    if (status != LUN_OK) *instance = NULL;
    return status;
}

static bool is_out_of_fuel(const char *message)
{
    return message != NULL && strstr(message, "out of fuel") != NULL;
}

static void command_module(script *s, const spectest_json *command)
{
    script_module *module = add_module(s, spectest_json_get_string(command, "name"));
    if (module == NULL) {
        failed(s, "out of memory");
        return;
    }
    s->current = s->module_count - 1;
    lun_error error;
    lun_error_clear(&error);
    lun_status status =
        decode_file(s, spectest_json_get_string(command, "filename"), &module->module, &error);
    if (status != LUN_OK) {
        failed(s, "decode: %s: %s", lun_status_name(status), error.message);
        return;
    }
    status = instantiate(s, module->module, &module->instance, &error);
    if (status != LUN_OK) {
        failed(s, "instantiate: %s: %s", lun_status_name(status), error.message);
        return;
    }
    passed(s);
}

static void command_register(script *s, const spectest_json *command)
{
    action_result result = {0};
    const char *as = spectest_json_get_string(command, "as");
    script_module *module = find_instance(s, spectest_json_get_string(command, "name"), &result);
    if (as == NULL) {
        failed(s, "no \"as\"");
        return;
    }
    if (module == NULL) {
        failed(s, "%s", result.message);
        return;
    }
    lun_error error;
    lun_error_clear(&error);
    lun_status status = lun_imports_add_instance(s->imports, as, module->instance, &error);
    if (status != LUN_OK) failed(s, "%s: %s", lun_status_name(status), error.message);
    /* A registration that works is not a command the reference counts. */
}

/* ---- actions ------------------------------------------------------------- */

static bool run_to_end(script *s, script_module *module, action_result *result)
{
    uint64_t spent = 0;
    for (;;) {
        uint64_t fuel = s->options->fuel - spent;
        if (fuel > FUEL_SLICE) fuel = FUEL_SLICE;
        switch (lun_instance_run(module->instance, fuel)) {
        case LUN_RUN_FINISHED: return true;
        case LUN_RUN_TRAPPED: {
            const char *message = lun_instance_trap_message(module->instance);
            if (message == NULL) message = "(no trap message)";
            result->outcome = ACTION_TRAPPED;
            set_message(result, "%s", message);
            if (is_out_of_fuel(message)) {
                result->outcome = ACTION_ERROR;
                set_message(result,
                            "instance fuel limit of %" PRIu64 " reached (endless loop?): %s",
                            s->options->fuel, message);
            }
            return false;
        }
        case LUN_RUN_OUT_OF_FUEL:
            spent += fuel;
            if (spent < s->options->fuel) continue;
            module->abandoned = true;
            result->outcome = ACTION_ERROR;
            set_message(result, "fuel budget of %" PRIu64 " exhausted (endless loop?)",
                        s->options->fuel);
            return false;
        case LUN_RUN_SUSPENDED:
            module->abandoned = true;
            result->outcome = ACTION_ERROR;
            set_message(result, "a host function suspended");
            return false;
        }
        module->abandoned = true;
        result->outcome = ACTION_ERROR;
        set_message(result, "lun_instance_run returned an unknown state");
        return false;
    }
}

/* Reads the arguments of an invoke, checking them against the export's type. */
static bool read_arguments(const spectest_json *action, const lun_valtype *params,
                           size_t param_count, lun_value *args, action_result *result)
{
    const spectest_json *list = spectest_json_get_array(action, "args");
    size_t count = list != NULL ? list->array.count : 0;
    if (count != param_count) {
        set_message(result, "%zu arguments for %zu parameters", count, param_count);
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        spectest_value value;
        lun_error error;
        lun_error_clear(&error);
        if (spectest_value_parse(&list->array.items[i], false, &value, &error) != LUN_OK) {
            set_message(result, "argument %zu: %s", i, error.message);
            return false;
        }
        if (value.value.type != params[i]) {
            set_message(result, "argument %zu is %s, the parameter %s", i,
                        spectest_valtype_name(value.value.type), spectest_valtype_name(params[i]));
            return false;
        }
        args[i] = value.value;
    }
    return true;
}

/* The export an action names (its name may hold NUL bytes); false with the
 * reason in result when there is none. */
static bool find_export(script_module *module, const spectest_json *field, lun_extern *value,
                        action_result *result)
{
    lun_error error;
    lun_error_clear(&error);
    lun_status status = lun_instance_export_bytes(module->instance, field->string.data,
                                                  field->string.length, value, &error);
    if (status != LUN_OK) {
        set_message(result, "export \"%s\": %s: %s", field->string.data, lun_status_name(status),
                    error.message);
        return false;
    }
    return true;
}

static void invoke(script *s, script_module *module, const spectest_json *action,
                   const spectest_json *field, action_result *result)
{
    lun_extern value;
    if (!find_export(module, field, &value, result)) return;
    if (value.kind != LUN_EXTERN_FUNC) {
        set_message(result, "export \"%s\" is not a function", field->string.data);
        return;
    }
    const lun_valtype *params, *results;
    size_t param_count, result_count;
    lun_func_type(value.func, &params, &param_count, &results, &result_count);
    lun_value *args = calloc(param_count + 1, sizeof *args);
    result->values = calloc(result_count + 1, sizeof *result->values);
    if (args == NULL || result->values == NULL) {
        free(args);
        set_message(result, "out of memory");
        return;
    }
    if (read_arguments(action, params, param_count, args, result)) {
        lun_error error;
        lun_error_clear(&error);
        lun_status status =
            lun_instance_start_func(module->instance, value.func, args, param_count, &error);
        if (status != LUN_OK) {
            set_message(result, "start: %s: %s", lun_status_name(status), error.message);
        } else if (run_to_end(s, module, result)) {
            result->count = lun_instance_results(module->instance, result->values, result_count);
            result->outcome = ACTION_RETURNED;
            if (result->count != result_count) {
                result->outcome = ACTION_ERROR;
                set_message(result, "%zu results for %zu result types", result->count,
                            result_count);
            }
        }
    }
    free(args);
}

static void get_global(script_module *module, const spectest_json *field, action_result *result)
{
    lun_extern value;
    if (!find_export(module, field, &value, result)) return;
    if (value.kind != LUN_EXTERN_GLOBAL) {
        set_message(result, "export \"%s\" is not a global", field->string.data);
        return;
    }
    result->values = calloc(1, sizeof *result->values);
    if (result->values == NULL) {
        set_message(result, "out of memory");
        return;
    }
    result->values[0] = lun_global_get(value.global);
    result->count = 1;
    result->outcome = ACTION_RETURNED;
}

/* Performs the "action" of a command. The result owns result->values. */
static void perform(script *s, const spectest_json *command, action_result *result)
{
    *result = (action_result){.outcome = ACTION_ERROR};
    const spectest_json *action = spectest_json_get(command, "action");
    const char *type = spectest_json_get_string(action, "type");
    const spectest_json *field = spectest_json_get(action, "field");
    if (type == NULL || field == NULL || field->kind != SPECTEST_JSON_STRING) {
        set_message(result, "no action type or field");
        return;
    }
    script_module *module = find_instance(s, spectest_json_get_string(action, "module"), result);
    if (module == NULL) return;
    if (strcmp(type, "invoke") == 0)
        invoke(s, module, action, field, result);
    else if (strcmp(type, "get") == 0)
        get_global(module, field, result);
    else
        set_message(result, "unknown action type \"%s\"", type);
}

static void format_values(const lun_value *values, size_t count, char *buffer, size_t size)
{
    size_t used = 0;
    buffer[0] = '\0';
    for (size_t i = 0; i < count && used + 1 < size; i++) {
        char one[64];
        spectest_value_format(values[i], one, sizeof one);
        int written = snprintf(buffer + used, size - used, "%s%s", i ? " " : "", one);
        if (written < 0) break;
        used += (size_t)written;
    }
}

static void format_expected(const spectest_json *list, char *buffer, size_t size)
{
    size_t used = 0;
    buffer[0] = '\0';
    for (size_t i = 0; list != NULL && i < list->array.count && used + 1 < size; i++) {
        char one[64];
        spectest_value value;
        if (spectest_value_parse(&list->array.items[i], true, &value, NULL) == LUN_OK)
            spectest_expected_format(&value, one, sizeof one);
        else
            snprintf(one, sizeof one, "?");
        int written = snprintf(buffer + used, size - used, "%s%s", i ? " " : "", one);
        if (written < 0) break;
        used += (size_t)written;
    }
}

/* Whether the results equal the expected list; the reason in why if not. */
static bool results_match(const spectest_json *expected, const action_result *result, char *why,
                          size_t why_size)
{
    size_t count = expected != NULL ? expected->array.count : 0;
    bool match = count == result->count;
    for (size_t i = 0; match && i < count; i++) {
        spectest_value value;
        lun_error error;
        lun_error_clear(&error);
        if (spectest_value_parse(&expected->array.items[i], true, &value, &error) != LUN_OK) {
            snprintf(why, why_size, "expected value %zu: %s", i, error.message);
            return false;
        }
        match = spectest_value_matches(&value, result->values[i]);
    }
    if (!match) {
        char got[512], want[512];
        format_values(result->values, result->count, got, sizeof got);
        format_expected(expected, want, sizeof want);
        snprintf(why, why_size, "got (%s), expected (%s)", got, want);
    }
    return match;
}

static void command_action(script *s, const spectest_json *command)
{
    action_result result;
    perform(s, command, &result);
    if (result.outcome == ACTION_RETURNED)
        passed(s);
    else if (result.outcome == ACTION_TRAPPED)
        failed(s, "trapped: %s", result.message);
    else
        failed(s, "%s", result.message);
    free(result.values);
}

static void command_assert_return(script *s, const spectest_json *command)
{
    action_result result;
    perform(s, command, &result);
    if (result.outcome == ACTION_RETURNED) {
        char why[1200];
        if (results_match(spectest_json_get_array(command, "expected"), &result, why, sizeof why))
            passed(s);
        else
            failed(s, "%s", why);
    } else if (result.outcome == ACTION_TRAPPED) {
        failed(s, "trapped: %s", result.message);
    } else {
        failed(s, "%s", result.message);
    }
    free(result.values);
}

/* A trap counts whatever its message; a different message is only noted. */
static void check_trap_message(script *s, const char *message, const char *expected)
{
    if (expected != NULL && strstr(message, expected) == NULL)
        note(s, "trap message \"%s\" does not contain \"%s\"", message, expected);
}

static void command_assert_trap_action(script *s, const spectest_json *command)
{
    action_result result;
    perform(s, command, &result);
    if (result.outcome == ACTION_TRAPPED) {
        passed(s);
        check_trap_message(s, result.message, spectest_json_get_string(command, "text"));
    } else if (result.outcome == ACTION_RETURNED) {
        failed(s, "returned instead of trapping");
    } else {
        failed(s, "%s", result.message);
    }
    free(result.values);
}

/* Keeps an instance that loaded although it should not have: it may have
 * written references to its functions into shared tables. */
static void keep_instance(script *s, lun_module *module, lun_instance *instance)
{
    script_module *entry = add_module(s, NULL);
    if (entry == NULL) {
        /* Out of memory: leaking is safer than freeing what tables may use. */
        return;
    }
    entry->module = module;
    entry->instance = instance;
}

/* Whether a rejection of the other class than the script's still passes:
 * only where converting the script to binary changes the class. The one
 * case: a module that uses memory.init or data.drop but has no data segment
 * (memory_init.wast:190 and :227) is invalid in the
 * text format ("unknown data segment", "unknown memory"), but wast2json then
 * writes no data count section, and without one the binary format makes
 * those instructions malformed. Everything else must be classified as the
 * script says (the spec decodes a whole module before validating it). */
static bool class_changed_by_conversion(lun_status expected, lun_status status, const char *message)
{
    return expected == LUN_ERR_INVALID && status == LUN_ERR_MALFORMED &&
           strstr(message, "data count section required") != NULL;
}

/* The module assertions: expected is the status the engine must answer,
 * LUN_ERR_MALFORMED or LUN_ERR_INVALID from decoding (the other one passes
 * only as class_changed_by_conversion allows, with a note), LUN_ERR_LINK or
 * LUN_ERR_TRAP from instantiation. */
static void command_assert_module(script *s, const spectest_json *command, lun_status expected)
{
    const char *module_type = spectest_json_get_string(command, "module_type");
    if (module_type != NULL && strcmp(module_type, "text") == 0) {
        not_applicable(s); /* the text format is wast2json's business */
        return;
    }
    lun_module *module = NULL;
    lun_instance *instance = NULL;
    lun_error error;
    lun_error_clear(&error);
    lun_status status =
        decode_file(s, spectest_json_get_string(command, "filename"), &module, &error);
    bool decode_expected = expected == LUN_ERR_MALFORMED || expected == LUN_ERR_INVALID;
    if (status == LUN_OK && !decode_expected) status = instantiate(s, module, &instance, &error);
    if (decode_expected && status != expected &&
        class_changed_by_conversion(expected, status, error.message)) {
        passed(s);
        note(s, "rejected as %s (%s), the script says %s (\"%s\")", lun_status_name(status),
             error.message, lun_status_name(expected), spectest_json_get_string(command, "text"));
    } else if (status == expected && !(expected == LUN_ERR_TRAP && is_out_of_fuel(error.message))) {
        passed(s);
        if (expected == LUN_ERR_TRAP)
            check_trap_message(s, error.message, spectest_json_get_string(command, "text"));
    } else if (status == LUN_OK) {
        failed(s, "%s, expected %s (\"%s\")", decode_expected ? "decoded" : "instantiated",
               lun_status_name(expected), spectest_json_get_string(command, "text"));
    } else {
        failed(s, "%s: %s, expected %s (\"%s\")", lun_status_name(status), error.message,
               lun_status_name(expected), spectest_json_get_string(command, "text"));
    }
    if (instance != NULL)
        keep_instance(s, module, instance);
    else
        lun_module_free(module);
}

/* ---- the script ---------------------------------------------------------- */

static void run_command(script *s, const spectest_json *command)
{
    const char *type = spectest_json_get_string(command, "type");
    s->line = 0;
    spectest_json_get_integer(command, "line", &s->line);
    s->command_type = type != NULL ? type : "command";
    if (type == NULL)
        failed(s, "command without a type");
    else if (strcmp(type, "module") == 0)
        command_module(s, command);
    else if (strcmp(type, "register") == 0)
        command_register(s, command);
    else if (strcmp(type, "action") == 0)
        command_action(s, command);
    else if (strcmp(type, "assert_return") == 0)
        command_assert_return(s, command);
    else if (strcmp(type, "assert_trap") == 0 || strcmp(type, "assert_exhaustion") == 0) {
        if (spectest_json_get(command, "action") != NULL)
            command_assert_trap_action(s, command);
        else
            command_assert_module(s, command, LUN_ERR_TRAP);
    } else if (strcmp(type, "assert_invalid") == 0)
        command_assert_module(s, command, LUN_ERR_INVALID);
    else if (strcmp(type, "assert_malformed") == 0)
        command_assert_module(s, command, LUN_ERR_MALFORMED);
    else if (strcmp(type, "assert_unlinkable") == 0)
        command_assert_module(s, command, LUN_ERR_LINK);
    else if (strcmp(type, "assert_uninstantiable") == 0)
        command_assert_module(s, command, LUN_ERR_TRAP);
    else
        failed(s, "unknown command type");
}

static char *directory_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) return strdup(".");
    size_t length = slash == path ? 1 : (size_t)(slash - path);
    char *directory = malloc(length + 1);
    if (directory != NULL) {
        memcpy(directory, path, length);
        directory[length] = '\0';
    }
    return directory;
}

static lun_status read_script(const char *json_path, spectest_json **root,
                              const spectest_json **commands, lun_error *error)
{
    char *text = NULL;
    size_t size = 0;
    lun_status status = spectest_read_file(json_path, MAX_JSON_BYTES, &text, &size, error);
    if (status != LUN_OK) return status;
    status = spectest_json_parse(text, size, root, error);
    free(text);
    if (status != LUN_OK) return status;
    *commands = spectest_json_get_array(*root, "commands");
    if (*commands == NULL) {
        spectest_json_free(*root);
        *root = NULL;
        return lun_error_set(error, LUN_ERR_MALFORMED, "%s: no \"commands\" array", json_path);
    }
    return LUN_OK;
}

static lun_status script_open(script *s, const char *json_path, lun_error *error)
{
    s->directory = directory_of(json_path);
    if (s->directory == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    lun_status status = lun_imports_new(&s->imports, error);
    if (status == LUN_OK)
        status = spectest_host_init(&s->host, s->imports, s->options->verbose, error);
    return status;
}

static void script_close(script *s)
{
    free_modules(s);
    if (s->imports != NULL) lun_imports_free(s->imports);
    spectest_host_free(&s->host);
    free(s->directory);
}

lun_status spectest_script_run(const char *json_path, const char *name,
                               const spectest_options *options, spectest_progress_fn progress,
                               void *progress_data, spectest_counts *counts, lun_error *error)
{
    *counts = (spectest_counts){0};
    spectest_json *root = NULL;
    const spectest_json *commands = NULL;
    lun_status status = read_script(json_path, &root, &commands, error);
    if (status != LUN_OK) return status;
    script s = {.options = options, .name = name};
    status = script_open(&s, json_path, error);
    if (status == LUN_OK) {
        if (progress != NULL) progress(&s.counts, 0, commands->array.count, 0, progress_data);
        for (size_t i = 0; i < commands->array.count; i++) {
            run_command(&s, &commands->array.items[i]);
            fflush(stdout);
            if (progress != NULL)
                progress(&s.counts, i + 1, commands->array.count, s.line, progress_data);
        }
        *counts = s.counts;
    }
    script_close(&s);
    spectest_json_free(root);
    return status;
}
