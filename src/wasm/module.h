/*
 * The decoded form of a module, internal to the engine.
 *
 * decode.c fills a wasm_module from the binary, validate.c checks it against
 * the spec's typing rules, compile.c translates every function body to the
 * interpreter's internal code. After lun_module_decode returns, a module is
 * never written again (but for its reference count), so any number of
 * instances on any number of threads may read it.
 *
 * Index spaces follow the spec: imported functions, tables, memories and
 * globals come first, then the module's own definitions.
 */
#ifndef LUNATIC_WASM_MODULE_H
#define LUNATIC_WASM_MODULE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lunatic/wasm.h"

typedef struct wasm_functype {
    uint32_t param_count;
    uint32_t result_count;
    lun_valtype *types; /* param_count parameters, then result_count results */
} wasm_functype;

typedef struct wasm_limits {
    uint32_t min;
    uint32_t max; /* meaningful only when has_max */
    bool has_max;
} wasm_limits;

typedef struct wasm_tabletype {
    lun_valtype element_type; /* LUN_FUNCREF or LUN_EXTERNREF */
    wasm_limits limits;
} wasm_tabletype;

typedef struct wasm_globaltype {
    lun_valtype type;
    bool is_mutable;
} wasm_globaltype;

/* A constant expression of WebAssembly 2.0: exactly one instruction. */
typedef enum wasm_const_kind {
    WASM_CONST_I32,
    WASM_CONST_I64,
    WASM_CONST_F32,
    WASM_CONST_F64,
    WASM_CONST_REF_NULL,   /* value.type holds the reference type */
    WASM_CONST_REF_FUNC,   /* index is a function index */
    WASM_CONST_GLOBAL_GET, /* index is a global index */
} wasm_const_kind;

typedef struct wasm_const_expr {
    wasm_const_kind kind;
    uint32_t index;
    lun_value value; /* for the *_CONST and REF_NULL kinds */
} wasm_const_expr;

/* Names are NUL-terminated copies, but a name may itself hold NUL bytes:
 * compare them with their lengths. */
typedef struct wasm_import {
    char *module_name;
    char *field_name;
    uint32_t module_name_length;
    uint32_t field_name_length;
    lun_extern_kind kind;
    union {
        uint32_t type_index; /* LUN_EXTERN_FUNC */
        wasm_tabletype table;
        wasm_limits memory;
        wasm_globaltype global;
    };
} wasm_import;

typedef struct wasm_export {
    char *name; /* NUL-terminated; may hold NUL bytes before name_length */
    uint32_t name_length;
    lun_extern_kind kind;
    uint32_t index;
} wasm_export;

/* A function defined by the module (imports are not listed here). */
typedef struct wasm_function {
    uint32_t type_index;
    uint32_t local_count;     /* declared locals, not counting parameters */
    lun_valtype *local_types; /* local_count entries */
    const uint8_t *body;      /* the expression after the local declarations */
    size_t body_size;
    size_t body_offset; /* of body within the module bytes, for error messages */
    void *compiled;     /* owned by compile.c */
} wasm_function;

typedef struct wasm_global {
    wasm_globaltype type;
    wasm_const_expr init;
} wasm_global;

typedef enum wasm_segment_mode {
    WASM_SEGMENT_ACTIVE,
    WASM_SEGMENT_PASSIVE,
    WASM_SEGMENT_DECLARATIVE, /* element segments only */
} wasm_segment_mode;

typedef struct wasm_element {
    wasm_segment_mode mode;
    lun_valtype type;       /* LUN_FUNCREF or LUN_EXTERNREF */
    uint32_t table_index;   /* active only */
    wasm_const_expr offset; /* active only */
    uint32_t item_count;
    wasm_const_expr *items; /* REF_FUNC, REF_NULL or GLOBAL_GET */
} wasm_element;

typedef struct wasm_data {
    wasm_segment_mode mode;
    uint32_t memory_index;  /* active only */
    wasm_const_expr offset; /* active only */
    const uint8_t *bytes;   /* points into lun_module.bytes */
    uint32_t size;
} wasm_data;

struct lun_module {
    atomic_uint references;
    uint8_t *bytes; /* the module's own copy of the binary */
    size_t size;

    uint32_t type_count;
    wasm_functype *types;

    uint32_t import_count;
    wasm_import *imports;
    uint32_t imported_function_count;
    uint32_t imported_table_count;
    uint32_t imported_memory_count;
    uint32_t imported_global_count;

    /* Function index space: type index of every function, imports first. */
    uint32_t total_function_count;
    uint32_t *function_type_indexes;

    uint32_t function_count; /* defined functions */
    wasm_function *functions;

    uint32_t table_count; /* defined tables */
    wasm_tabletype *tables;
    uint32_t memory_count; /* defined memories */
    wasm_limits *memories;
    uint32_t global_count; /* defined globals */
    wasm_global *globals;

    uint32_t export_count;
    wasm_export *exports;

    bool has_start;
    uint32_t start_function;

    uint32_t element_count;
    wasm_element *elements;

    bool has_data_count;
    uint32_t data_count;
    uint32_t data_segment_count;
    wasm_data *data_segments;

    /* Functions referenced outside function bodies (exports, elements,
     * globals): the only valid targets of ref.func in code. One bit per
     * function index. */
    uint8_t *declared_function_refs;
    /* The own functions that may need a function object (the declared ones
     * and the start function): how many, and each own function's slot among
     * them (UINT32_MAX: none). Instances keep these objects in their own
     * block instead of allocating each. */
    uint32_t function_object_count;
    uint32_t *function_object_slots;

    /* From the "name" custom section: one entry per function index, NULL
     * where no name is given. */
    char **function_names;
};

/* Internal entry points between the engine's files. */

/* decode.c: the binary format into *module (allocated); no validation of
 * function bodies. LUN_ERR_MALFORMED or LUN_ERR_UNSUPPORTED on failure. */
lun_status wasm_decode(const uint8_t *bytes, size_t size, lun_module **module, lun_error *error);
/* decode.c: the value type a type byte at `offset` stands for;
 * LUN_ERR_UNSUPPORTED for v128, LUN_ERR_MALFORMED for any other byte. Also
 * for the block types and typed selects of function bodies (validate.c). */
lun_status wasm_check_value_type(size_t offset, uint8_t byte, lun_valtype *type, lun_error *error);
/* validate.c: every rule of the spec's validation, function bodies included. */
lun_status wasm_validate(const lun_module *module, lun_error *error);
/* scan.c: the syntax of every function body, without types; LUN_ERR_MALFORMED
 * for the first body that does not decode. For classifying modules that
 * failed validation. */
lun_status wasm_scan_bodies(const lun_module *module, lun_error *error);
/* compile.c: internal code for every defined function (called after
 * validation, so it may trust the bodies). */
lun_status wasm_compile(lun_module *module, lun_error *error);
void wasm_compiled_free(lun_module *module);
/* module.c: releases everything decode and compile allocated. */
void wasm_module_destroy(lun_module *module);

/* Type of a function, a table, a memory or a global by its index in the
 * module's index space (imports first). */
const wasm_functype *wasm_function_type(const lun_module *module, uint32_t function_index);
const char *wasm_function_name(const lun_module *module, uint32_t function_index);
/* module.c: the export named by `length` bytes (which may hold NULs), or NULL. */
const wasm_export *wasm_find_export(const lun_module *module, const char *name, size_t length);

#endif
