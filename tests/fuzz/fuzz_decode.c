/*
 * libFuzzer target: the decoder and validator. Any input must give either a
 * module or an error value, never a crash, a leak or undefined behaviour;
 * a module that decodes must answer every introspection call.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lunatic/wasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A type that a validated function may have (SIMD is rejected). */
static bool is_value_type(lun_valtype type)
{
    switch (type) {
    case LUN_I32:
    case LUN_I64:
    case LUN_F32:
    case LUN_F64:
    case LUN_FUNCREF:
    case LUN_EXTERNREF: return true;
    default: return false;
    }
}

static void inspect(const lun_module *module)
{
    size_t imports = lun_module_import_count(module);
    for (size_t i = 0; i < imports; i++) {
        const char *module_name = NULL, *field_name = NULL;
        lun_extern_kind kind;
        lun_module_import(module, i, &module_name, &field_name, &kind);
        /* strlen reads the names through, so ASan sees a bad one. */
        if (strlen(module_name) + strlen(field_name) == SIZE_MAX) __builtin_trap();
    }
    size_t exports = lun_module_export_count(module);
    for (size_t i = 0; i < exports; i++) {
        const char *name = NULL;
        lun_extern_kind kind;
        lun_module_export(module, i, &name, &kind);
        const lun_valtype *params = NULL, *results = NULL;
        size_t param_count = 0, result_count = 0;
        bool is_func = lun_module_export_func_type(module, name, &params, &param_count, &results,
                                                   &result_count);
        /* Only one way round: a function export whose name holds a NUL
         * byte (valid in Wasm) cannot be found by a C-string name. */
        if (is_func && kind != LUN_EXTERN_FUNC)
            __builtin_trap(); /* the two calls disagree about this export */
        for (size_t p = 0; is_func && p < param_count; p++) {
            if (!is_value_type(params[p])) __builtin_trap();
        }
        for (size_t r = 0; is_func && r < result_count; r++) {
            if (!is_value_type(results[r])) __builtin_trap();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lun_module *module = NULL;
    lun_error error;
    lun_status status = lun_module_decode(data, size, &module, &error);
    if (status == LUN_OK) {
        if (!module) __builtin_trap();
        inspect(module);
        lun_module_free(lun_module_retain(module));
        lun_module_free(module);
    } else if (module || error.code != status || error.message[0] == '\0') {
        __builtin_trap(); /* an error must leave no module and a message */
    }
    return 0;
}
