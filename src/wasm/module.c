/*
 * Modules as the public API sees them: decoding (decode, validate, compile),
 * reference counting, release, and the queries on imports and exports.
 */
#include <stdlib.h>
#include <string.h>

#include "module.h"

/* Gives a slot to every own function that may need a function object. */
static lun_status plan_function_objects(lun_module *module, lun_error *error)
{
    if (module->function_count == 0) return LUN_OK;
    module->function_object_slots = malloc(module->function_count * sizeof(uint32_t));
    if (module->function_object_slots == NULL)
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    for (uint32_t i = 0; i < module->function_count; i++) {
        uint32_t index = module->imported_function_count + i;
        bool declared = (module->declared_function_refs[index / 8] >> (index % 8)) & 1;
        bool needed = declared || (module->has_start && module->start_function == index);
        module->function_object_slots[i] = needed ? module->function_object_count++ : UINT32_MAX;
    }
    return LUN_OK;
}

lun_status lun_module_decode(const uint8_t *bytes, size_t size, lun_module **module,
                             lun_error *error)
{
    if (module == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no place for the module");
    *module = NULL;
    lun_module *decoded;
    lun_status status = wasm_decode(bytes, size, &decoded, error);
    if (status != LUN_OK) return status;
    status = wasm_validate(decoded, error);
    if (status == LUN_OK) status = wasm_compile(decoded, error);
    if (status == LUN_OK) status = plan_function_objects(decoded, error);
    if (status != LUN_OK) {
        wasm_module_destroy(decoded);
        return status;
    }
    *module = decoded;
    return LUN_OK;
}

lun_module *lun_module_retain(lun_module *module)
{
    if (module != NULL) atomic_fetch_add_explicit(&module->references, 1, memory_order_relaxed);
    return module;
}

void lun_module_free(lun_module *module)
{
    if (module == NULL) return;
    if (atomic_fetch_sub_explicit(&module->references, 1, memory_order_acq_rel) == 1)
        wasm_module_destroy(module);
}

static void free_functions(lun_module *module)
{
    for (uint32_t index = 0; index < module->function_count; index++)
        free(module->functions[index].local_types);
    free(module->functions);
}

static void free_imports_and_exports(lun_module *module)
{
    for (uint32_t index = 0; index < module->import_count; index++) {
        free(module->imports[index].module_name);
        free(module->imports[index].field_name);
    }
    free(module->imports);
    for (uint32_t index = 0; index < module->export_count; index++)
        free(module->exports[index].name);
    free(module->exports);
}

void wasm_module_destroy(lun_module *module)
{
    if (module == NULL) return;
    wasm_compiled_free(module);
    for (uint32_t index = 0; index < module->type_count; index++)
        free(module->types[index].types);
    free(module->types);
    free_imports_and_exports(module);
    free(module->function_type_indexes);
    free_functions(module);
    free(module->tables);
    free(module->memories);
    free(module->globals);
    for (uint32_t index = 0; index < module->element_count; index++)
        free(module->elements[index].items);
    free(module->elements);
    free(module->data_segments);
    free(module->declared_function_refs);
    free(module->function_object_slots);
    if (module->function_names != NULL) {
        for (uint32_t index = 0; index < module->total_function_count; index++)
            free(module->function_names[index]);
        free(module->function_names);
    }
    free(module->bytes);
    free(module);
}

const wasm_functype *wasm_function_type(const lun_module *module, uint32_t function_index)
{
    if (function_index >= module->total_function_count) return NULL;
    uint32_t type_index = module->function_type_indexes[function_index];
    return type_index < module->type_count ? &module->types[type_index] : NULL;
}

const char *wasm_function_name(const lun_module *module, uint32_t function_index)
{
    if (module->function_names == NULL || function_index >= module->total_function_count)
        return NULL;
    return module->function_names[function_index];
}

size_t lun_module_import_count(const lun_module *module)
{
    return module == NULL ? 0 : module->import_count;
}

void lun_module_import(const lun_module *module, size_t index, const char **module_name,
                       const char **field_name, lun_extern_kind *kind)
{
    const wasm_import *import = NULL;
    if (module != NULL && index < module->import_count) import = &module->imports[index];
    if (module_name != NULL) *module_name = import != NULL ? import->module_name : NULL;
    if (field_name != NULL) *field_name = import != NULL ? import->field_name : NULL;
    if (kind != NULL) *kind = import != NULL ? import->kind : LUN_EXTERN_FUNC;
}

size_t lun_module_export_count(const lun_module *module)
{
    return module == NULL ? 0 : module->export_count;
}

void lun_module_export(const lun_module *module, size_t index, const char **name,
                       lun_extern_kind *kind)
{
    const wasm_export *export_ = NULL;
    if (module != NULL && index < module->export_count) export_ = &module->exports[index];
    if (name != NULL) *name = export_ != NULL ? export_->name : NULL;
    if (kind != NULL) *kind = export_ != NULL ? export_->kind : LUN_EXTERN_FUNC;
}

static void describe_type(const wasm_functype *type, const lun_valtype **params,
                          size_t *param_count, const lun_valtype **results, size_t *result_count)
{
    if (params != NULL) *params = type->types;
    if (param_count != NULL) *param_count = type->param_count;
    if (results != NULL) *results = type->types + type->param_count;
    if (result_count != NULL) *result_count = type->result_count;
}

const wasm_export *wasm_find_export(const lun_module *module, const char *name, size_t length)
{
    for (uint32_t index = 0; index < module->export_count; index++) {
        const wasm_export *export_ = &module->exports[index];
        if (export_->name_length == length &&
            (length == 0 || memcmp(export_->name, name, length) == 0))
            return export_;
    }
    return NULL;
}

bool lun_module_export_func_type(const lun_module *module, const char *name,
                                 const lun_valtype **params, size_t *param_count,
                                 const lun_valtype **results, size_t *result_count)
{
    if (module == NULL || name == NULL) return false;
    const wasm_export *export_ = wasm_find_export(module, name, strlen(name));
    if (export_ == NULL || export_->kind != LUN_EXTERN_FUNC) return false;
    const wasm_functype *type = wasm_function_type(module, export_->index);
    if (type == NULL) return false;
    describe_type(type, params, param_count, results, result_count);
    return true;
}

bool lun_module_import_func_type(const lun_module *module, size_t index, const lun_valtype **params,
                                 size_t *param_count, const lun_valtype **results,
                                 size_t *result_count)
{
    if (module == NULL || index >= module->import_count) return false;
    const wasm_import *import = &module->imports[index];
    if (import->kind != LUN_EXTERN_FUNC || import->type_index >= module->type_count) return false;
    describe_type(&module->types[import->type_index], params, param_count, results, result_count);
    return true;
}
