/*
 * The WebAssembly engine: decode, validate, instantiate and run modules.
 *
 * The engine knows nothing of processes. It is built for many small
 * instances: a module is decoded, validated and compiled once, is then
 * immutable and may be shared by every instance on every thread; an instance
 * is plain heap data (its memory, tables, globals and an explicit execution
 * stack), so a run can stop at any call or loop edge and resume later on any
 * thread.
 *
 * Ownership: every *_new / *_decode / *_instantiate result is released with
 * the matching *_free (modules are reference counted: lun_module_retain and
 * lun_module_free). An instance that imports a table, memory, global or
 * function from another instance (or from a host object made with the
 * lun_*_new functions below) borrows it: free the importer first.
 *
 * Threads: a module may be used from any thread at once; an instance, and
 * everything it owns, by one thread at a time.
 */
#ifndef LUNATIC_WASM_H
#define LUNATIC_WASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lunatic/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- values ------------------------------------------------------------ */

/* Value types, numbered as in the binary format. */
typedef enum lun_valtype {
    LUN_I32 = 0x7F,
    LUN_I64 = 0x7E,
    LUN_F32 = 0x7D,
    LUN_F64 = 0x7C,
    LUN_V128 = 0x7B, /* decoded only to be rejected as unsupported */
    LUN_FUNCREF = 0x70,
    LUN_EXTERNREF = 0x6F,
} lun_valtype;

/* A typed value. Floats are kept as their IEEE-754 bits so that NaN payloads
 * survive every copy. A funcref is a lun_func pointer, an externref an opaque
 * host pointer; NULL is the null reference of either. */
typedef struct lun_value {
    lun_valtype type;
    union {
        int32_t i32;
        int64_t i64;
        uint32_t f32_bits;
        uint64_t f64_bits;
        void *ref;
    };
} lun_value;

static inline lun_value lun_value_i32(int32_t v)
{
    lun_value value = {.type = LUN_I32, .i32 = v};
    return value;
}

static inline lun_value lun_value_i64(int64_t v)
{
    lun_value value = {.type = LUN_I64, .i64 = v};
    return value;
}

static inline lun_value lun_value_f32(float v)
{
    lun_value value = {.type = LUN_F32};
    __builtin_memcpy(&value.f32_bits, &v, sizeof v);
    return value;
}

static inline lun_value lun_value_f64(double v)
{
    lun_value value = {.type = LUN_F64};
    __builtin_memcpy(&value.f64_bits, &v, sizeof v);
    return value;
}

/* ---- modules ----------------------------------------------------------- */

typedef struct lun_module lun_module;

/* Decodes, validates and compiles a binary module. The bytes are copied.
 * Errors: LUN_ERR_MALFORMED (with the byte offset in the message),
 * LUN_ERR_INVALID, LUN_ERR_UNSUPPORTED (SIMD), LUN_ERR_NO_MEMORY. */
lun_status lun_module_decode(const uint8_t *bytes, size_t size, lun_module **module,
                             lun_error *error);
lun_module *lun_module_retain(lun_module *module);
void lun_module_free(lun_module *module); /* drops one reference; NULL is a no-op */

typedef enum lun_extern_kind {
    LUN_EXTERN_FUNC = 0,
    LUN_EXTERN_TABLE = 1,
    LUN_EXTERN_MEMORY = 2,
    LUN_EXTERN_GLOBAL = 3,
} lun_extern_kind;

/* Imports and exports in declaration order (names stay owned by the module). */
size_t lun_module_import_count(const lun_module *module);
void lun_module_import(const lun_module *module, size_t index, const char **module_name,
                       const char **field_name, lun_extern_kind *kind);
size_t lun_module_export_count(const lun_module *module);
void lun_module_export(const lun_module *module, size_t index, const char **name,
                       lun_extern_kind *kind);

/* Parameter and result types of an exported function; false when there is no
 * function export of that name. The arrays stay owned by the module. */
bool lun_module_export_func_type(const lun_module *module, const char *name,
                                 const lun_valtype **params, size_t *param_count,
                                 const lun_valtype **results, size_t *result_count);

/* Parameter and result types of the function import at `index` (in
 * declaration order, as lun_module_import counts them); false when there is
 * no import at index or it is not a function. The arrays stay owned by the
 * module. */
bool lun_module_import_func_type(const lun_module *module, size_t index, const lun_valtype **params,
                                 size_t *param_count, const lun_valtype **results,
                                 size_t *result_count);

/* ---- host objects and externs ------------------------------------------ */

typedef struct lun_func lun_func;
typedef struct lun_table lun_table;
typedef struct lun_memory lun_memory;
typedef struct lun_global lun_global;
typedef struct lun_instance lun_instance;

typedef struct lun_extern {
    lun_extern_kind kind;
    union {
        lun_func *func;
        lun_table *table;
        lun_memory *memory;
        lun_global *global;
    };
} lun_extern;

/* What a host function sees of its call. Arguments and results are raw
 * 64-bit slots, one per value: i32 and f32 bits in the low 32 bits, i64 and
 * f64 bits whole, references as pointer bits. */
typedef struct lun_host_call {
    lun_instance *instance; /* the instance whose code made the call */
    void *data;             /* the pointer given when the function was made */
    const uint64_t *args;
    uint64_t *results;
    char trap_message[128]; /* filled by the host function before returning LUN_HOST_TRAP */
} lun_host_call;

typedef enum lun_host_result {
    LUN_HOST_RETURN = 0, /* results are set; execution continues */
    LUN_HOST_TRAP,       /* trap with call->trap_message */
    LUN_HOST_SUSPEND,    /* cannot complete now: lun_instance_run returns LUN_RUN_SUSPENDED
                            and the next lun_instance_run calls this function again with
                            the same arguments; keep side effects for the attempt that
                            completes */
} lun_host_result;

typedef lun_host_result (*lun_host_fn)(lun_host_call *call);

/* A host function. params and results name the types separated by spaces,
 * e.g. params "i32 i64" and results "i32"; "" for none. Type names: i32, i64,
 * f32, f64, funcref, externref. */
lun_status lun_func_new_host(const char *params, const char *results, lun_host_fn fn, void *data,
                             lun_func **func, lun_error *error);
void lun_func_free(lun_func *func); /* only for functions made by lun_func_new_host */
/* Parameter and result types of any function (host or Wasm); the arrays live
 * as long as the function. */
void lun_func_type(const lun_func *func, const lun_valtype **params, size_t *param_count,
                   const lun_valtype **results, size_t *result_count);

/* Host-owned tables, memories and globals, to be imported by instances
 * (the spec tests' "spectest" module uses them). max UINT32_MAX (tables) or
 * UINT32_MAX (memories, in 64 KiB pages) means "no maximum". */
lun_status lun_table_new(lun_valtype element_type, uint32_t min, uint32_t max, lun_table **table,
                         lun_error *error);
void lun_table_free(lun_table *table);
lun_status lun_memory_new(uint32_t min_pages, uint32_t max_pages, lun_memory **memory,
                          lun_error *error);
void lun_memory_free(lun_memory *memory);
lun_status lun_global_new(lun_value value, bool mutable_, lun_global **global, lun_error *error);
void lun_global_free(lun_global *global);

lun_value lun_global_get(const lun_global *global);
size_t lun_memory_size(const lun_memory *memory); /* in bytes */
/* The bytes [offset, offset + length) of the memory, for reading and
 * writing, or NULL when they are not all inside it; valid until the memory
 * grows. A memory records what may have been written (the range asked for
 * here) so that, when released, it clears only that for its next user: a
 * write must stay inside a range asked for. */
uint8_t *lun_memory_range(lun_memory *memory, uint64_t offset, uint64_t length);
/* The whole memory (lun_memory_range of all of it). */
uint8_t *lun_memory_data(lun_memory *memory);

/* ---- imports ----------------------------------------------------------- */

/* A set of named externs that instances are linked against. It does not own
 * the externs it names, only its copies of the names. */
typedef struct lun_imports lun_imports;

lun_status lun_imports_new(lun_imports **imports, lun_error *error);
void lun_imports_free(lun_imports *imports);
/* Adds or replaces module_name.field_name. */
lun_status lun_imports_add(lun_imports *imports, const char *module_name, const char *field_name,
                           lun_extern value, lun_error *error);
/* Adds every export of instance under module_name (the spec's "register"). */
lun_status lun_imports_add_instance(lun_imports *imports, const char *module_name,
                                    lun_instance *instance, lun_error *error);
bool lun_imports_find(const lun_imports *imports, const char *module_name, const char *field_name,
                      lun_extern *value);

/* ---- instances --------------------------------------------------------- */

typedef struct lun_instance_config {
    uint64_t max_memory_bytes; /* 0: only the module's own limits; applies to the
                                  instance's own memory, not to imported ones */
    uint32_t max_call_depth;   /* Wasm frames; 0: LUN_DEFAULT_MAX_CALL_DEPTH */
    uint64_t fuel_limit;       /* lifetime fuel; 0: unlimited; past it runs trap "out of fuel" */
    void *user_data;           /* for the embedder; see lun_instance_user_data */
} lun_instance_config;

enum { LUN_DEFAULT_MAX_CALL_DEPTH = 20000 };

/* True when instantiating the module against imports, within
 * max_memory_bytes (0: no limit), could fail only for lack of memory: it
 * imports only functions, all found with their types; it has no start
 * function; its memory's initial size fits; its tables are not too large;
 * and its active segments, at constant offsets, lie inside its initial
 * memory and tables. Such an instantiation can be put off and run where
 * the instance will run. */
bool lun_module_instantiates_surely(lun_module *module, const lun_imports *imports,
                                    uint64_t max_memory_bytes);

/* Creates an instance: resolves every import in imports (LUN_ERR_LINK names
 * the import that is missing or mistyped), builds memories, tables and
 * globals, applies element and data segments and runs the start function.
 * A trap during instantiation returns LUN_ERR_TRAP. config may be NULL. */
lun_status lun_instantiate(lun_module *module, const lun_imports *imports,
                           const lun_instance_config *config, lun_instance **instance,
                           lun_error *error);
void lun_instance_free(lun_instance *instance);

lun_module *lun_instance_module(const lun_instance *instance);
void *lun_instance_user_data(const lun_instance *instance);
/* The instance's first memory (own or imported), or NULL. */
lun_memory *lun_instance_memory(lun_instance *instance);
lun_status lun_instance_export(lun_instance *instance, const char *name, lun_extern *value,
                               lun_error *error);
/* The same with the name as name_length bytes: export names may hold NUL
 * bytes, which a C string cannot. */
lun_status lun_instance_export_bytes(lun_instance *instance, const char *name, size_t name_length,
                                     lun_extern *value, lun_error *error);
/* Fuel used since instantiation. */
uint64_t lun_instance_fuel_used(const lun_instance *instance);

/* Calls an exported function and runs it to its end (no fuel slicing).
 * results must have room for the function's results. A trap returns
 * LUN_ERR_TRAP with its reason as the message ("integer divide by zero",
 * "call stack exhausted", ...). A host function that suspends is an error
 * here (LUN_ERR_STATE). */
lun_status lun_instance_call(lun_instance *instance, const char *export_name, const lun_value *args,
                             size_t arg_count, lun_value *results, size_t result_capacity,
                             size_t *result_count, lun_error *error);

/* Resumable execution: lun_instance_start prepares a call of an exported
 * function; each lun_instance_run then runs for at most `fuel` units (one
 * unit is charged at every function entry and loop back-edge). */
typedef enum lun_run_state {
    LUN_RUN_FINISHED = 0, /* returned; read the results with lun_instance_results */
    LUN_RUN_TRAPPED,      /* trapped; lun_instance_trap_message says why */
    LUN_RUN_OUT_OF_FUEL,  /* this slice is spent; call lun_instance_run again */
    LUN_RUN_SUSPENDED,    /* a host function suspended; lun_instance_run retries it */
} lun_run_state;

lun_status lun_instance_start(lun_instance *instance, const char *export_name,
                              const lun_value *args, size_t arg_count, lun_error *error);
/* The same with a function handle instead of a name: an export of this
 * instance (lun_instance_export / lun_instance_export_bytes) or any function
 * the instance may call (a funcref it holds, a host function). The function
 * must stay alive until the run ends. */
lun_status lun_instance_start_func(lun_instance *instance, const lun_func *func,
                                   const lun_value *args, size_t arg_count, lun_error *error);
lun_run_state lun_instance_run(lun_instance *instance, uint64_t fuel);
size_t lun_instance_results(const lun_instance *instance, lun_value *results, size_t capacity);
const char *lun_instance_trap_message(const lun_instance *instance);

/* ---- guest calls from host functions ----------------------------------- */

/* A host function that must run a Wasm function (lunatic::trap::catch)
 * calls lun_host_call_guest and returns LUN_HOST_SUSPEND. The engine does not
 * pause: it runs the function on the instance's own stack behind a trap
 * barrier (the function may run out of fuel or suspend like any code), then
 * calls the host function again with the same arguments, where
 * lun_host_guest_outcome says whether the guest call returned (with its
 * results) or trapped (a trap below the barrier unwinds to it instead of
 * ending the run). Guest calls may nest. A host function must not call
 * lun_instance_call on the instance that is running it. */
typedef enum lun_guest_outcome {
    LUN_GUEST_NONE = 0, /* no guest call has ended for this host call attempt */
    LUN_GUEST_RETURNED, /* results hold the guest function's results */
    LUN_GUEST_TRAPPED,  /* trap_message says why */
} lun_guest_outcome;

/* Only with the lun_host_call the engine passed to the host function. func
 * must be a Wasm function with at most 16 results; args (its parameter
 * count of slots) must stay valid until the host function returns. */
lun_status lun_host_call_guest(lun_host_call *call, const lun_func *func, const uint64_t *args,
                               lun_error *error);
lun_guest_outcome lun_host_guest_outcome(const lun_host_call *call, const uint64_t **results,
                                         const char **trap_message);

#ifdef __cplusplus
}
#endif

#endif
