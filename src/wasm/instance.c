/*
 * Instances and the objects they are made of: host functions, tables,
 * memories and globals, import sets, linking, instantiation per the spec
 * (imports checked, globals, tables and memories built, element and data
 * segments applied in order, then the start function) and the public calls
 * into an instance.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

/* ---- function types ---------------------------------------------------- */

bool wasm_functype_equal(const wasm_functype *a, const wasm_functype *b)
{
    if (a == b) return true;
    if (a->param_count != b->param_count || a->result_count != b->result_count) return false;
    size_t count = (size_t)a->param_count + a->result_count;
    return count == 0 || memcmp(a->types, b->types, count * sizeof *a->types) == 0;
}

static bool parse_valtype(const char *name, size_t length, lun_valtype *type)
{
    static const struct {
        const char *name;
        lun_valtype type;
    } names[] = {{"i32", LUN_I32}, {"i64", LUN_I64},         {"f32", LUN_F32},
                 {"f64", LUN_F64}, {"funcref", LUN_FUNCREF}, {"externref", LUN_EXTERNREF}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) == length && memcmp(names[i].name, name, length) == 0) {
            *type = names[i].type;
            return true;
        }
    }
    return false;
}

/* Counts (types NULL) or fills the types of a space-separated list. */
static bool parse_types(const char *text, lun_valtype *types, uint32_t *count)
{
    uint32_t n = 0;
    const char *p = text ? text : "";
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p) break;
        const char *start = p;
        while (*p && *p != ' ')
            p++;
        lun_valtype type;
        if (!parse_valtype(start, (size_t)(p - start), &type)) return false;
        if (types) types[n] = type;
        n++;
    }
    *count = n;
    return true;
}

/* ---- host functions ---------------------------------------------------- */

/* A host function and the type it owns. */
typedef struct host_func {
    lun_func func; /* first: a lun_func * is a host_func * */
    wasm_functype own_type;
} host_func;

lun_status lun_func_new_host(const char *params, const char *results, lun_host_fn fn, void *data,
                             lun_func **func, lun_error *error)
{
    if (func == NULL || fn == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no function given");
    *func = NULL;
    uint32_t param_count, result_count;
    if (!parse_types(params, NULL, &param_count) || !parse_types(results, NULL, &result_count))
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "bad type list \"%s\" -> \"%s\"",
                             params ? params : "", results ? results : "");
    host_func *h = calloc(1, sizeof *h);
    lun_valtype *types = calloc((size_t)param_count + result_count + 1, sizeof *types);
    if (h == NULL || types == NULL) {
        free(h);
        free(types);
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    }
    parse_types(params, types, &param_count);
    parse_types(results, types + param_count, &result_count);
    h->own_type.param_count = param_count;
    h->own_type.result_count = result_count;
    h->own_type.types = types;
    h->func.kind = WASM_FUNC_HOST;
    h->func.type = &h->own_type;
    h->func.host = fn;
    h->func.data = data;
    *func = &h->func;
    lun_error_clear(error);
    return LUN_OK;
}

void lun_func_free(lun_func *func)
{
    if (func == NULL || func->kind != WASM_FUNC_HOST) return;
    host_func *h = (host_func *)func;
    free(h->own_type.types);
    free(h);
}

/* ---- tables, memories, globals ----------------------------------------- */

/* `inline_elements`: room for min zeroed elements in an instance's block,
 * or NULL to allocate them. */
static lun_status table_init(lun_table *table, lun_valtype type, uint32_t min, uint32_t max,
                             void **inline_elements, lun_error *error)
{
    if (min > WASM_TABLE_SIZE_LIMIT)
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "table of %u elements is too large", min);
    table->element_type = type;
    table->size = min;
    table->max = max;
    table->inline_elements = inline_elements;
    table->elements =
        inline_elements ? inline_elements : calloc(min ? min : 1, sizeof *table->elements);
    if (table->elements == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    return LUN_OK;
}

static bool table_inline(uint32_t min)
{
    return min > 0 && min <= WASM_INLINE_TABLE_ELEMENTS;
}

static void table_release_elements(lun_table *table)
{
    if (table->elements != table->inline_elements) free(table->elements);
}

int32_t wasm_table_grow(lun_table *table, uint32_t count, void *init)
{
    uint64_t old = table->size;
    uint64_t size = old + count;
    if (size > table->max || size > WASM_TABLE_SIZE_LIMIT) return -1;
    if (count == 0) return (int32_t)old;
    void **elements;
    if (table->elements == table->inline_elements) {
        elements = malloc(size * sizeof *elements);
        if (elements != NULL) memcpy(elements, table->elements, old * sizeof *elements);
    } else {
        elements = realloc(table->elements, size * sizeof *elements);
    }
    if (elements == NULL) return -1;
    for (uint64_t i = old; i < size; i++)
        elements[i] = init;
    table->elements = elements;
    table->size = (uint32_t)size;
    return (int32_t)old;
}

lun_status lun_table_new(lun_valtype element_type, uint32_t min, uint32_t max, lun_table **table,
                         lun_error *error)
{
    if (table == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no table");
    *table = NULL;
    if ((element_type != LUN_FUNCREF && element_type != LUN_EXTERNREF) || min > max)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "bad table type");
    lun_table *t = calloc(1, sizeof *t);
    if (t == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    lun_status status = table_init(t, element_type, min, max, NULL, error);
    if (status != LUN_OK) {
        free(t);
        return status;
    }
    *table = t;
    return LUN_OK;
}

void lun_table_free(lun_table *table)
{
    if (table == NULL) return;
    table_release_elements(table);
    free(table);
}

lun_status lun_memory_new(uint32_t min_pages, uint32_t max_pages, lun_memory **memory,
                          lun_error *error)
{
    if (memory == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no memory");
    *memory = NULL;
    if (min_pages > max_pages || min_pages > WASM_MAX_PAGES)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "bad memory limits");
    lun_memory *m = calloc(1, sizeof *m);
    if (m == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    lun_status status = wasm_memory_init(m, min_pages, max_pages, error);
    if (status != LUN_OK) {
        free(m);
        return status;
    }
    m->declared_max_pages = max_pages;
    *memory = m;
    return LUN_OK;
}

void lun_memory_free(lun_memory *memory)
{
    if (memory == NULL) return;
    wasm_memory_release(memory);
    free(memory);
}

uint8_t *lun_memory_data(lun_memory *memory)
{
    if (memory == NULL) return NULL;
    wasm_memory_note_written(memory, 0, memory->size);
    return memory->data;
}

uint8_t *lun_memory_range(lun_memory *memory, uint64_t offset, uint64_t length)
{
    if (memory == NULL || offset > memory->size || length > memory->size - offset) return NULL;
    wasm_memory_note_written(memory, offset, length);
    return memory->data + offset;
}

size_t lun_memory_size(const lun_memory *memory)
{
    return memory ? (size_t)memory->size : 0;
}

static uint64_t slot_of_value(lun_value value)
{
    switch (value.type) {
    case LUN_I32: return (uint32_t)value.i32;
    case LUN_F32: return value.f32_bits;
    case LUN_I64: return (uint64_t)value.i64;
    case LUN_F64: return value.f64_bits;
    default: return (uint64_t)(uintptr_t)value.ref;
    }
}

static lun_value value_of_slot(lun_valtype type, uint64_t slot)
{
    lun_value value;
    memset(&value, 0, sizeof value);
    value.type = type;
    switch (type) {
    case LUN_I32: value.i32 = (int32_t)(uint32_t)slot; break;
    case LUN_F32: value.f32_bits = (uint32_t)slot; break;
    case LUN_I64: value.i64 = (int64_t)slot; break;
    case LUN_F64: value.f64_bits = slot; break;
    default: value.ref = (void *)(uintptr_t)slot; break;
    }
    return value;
}

lun_status lun_global_new(lun_value value, bool mutable_, lun_global **global, lun_error *error)
{
    if (global == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no global");
    lun_global *g = calloc(1, sizeof *g);
    if (g == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    g->type = value.type;
    g->is_mutable = mutable_;
    g->value = slot_of_value(value);
    *global = g;
    return LUN_OK;
}

void lun_global_free(lun_global *global)
{
    free(global);
}

lun_value lun_global_get(const lun_global *global)
{
    return value_of_slot(global->type, global->value);
}

/* ---- import sets ------------------------------------------------------- */

/* Names are kept with their lengths: an export registered under a name
 * holding NUL bytes must match an import of that same name. */
typedef struct import_name {
    const char *text;
    size_t length;
} import_name;

typedef struct import_entry {
    char *module_name; /* NUL-terminated copies */
    char *field_name;
    size_t module_name_length;
    size_t field_name_length;
    uint64_t hash;
    lun_extern value;
} import_entry;

/* The externs of every import of one module, found by name in an import
 * set: instantiating the same module against the same set again (a spawn
 * after another) skips the name look-ups. */
typedef struct import_cache {
    struct import_cache *next;
    lun_module *module;  /* retained, so that its address names it */
    lun_extern values[]; /* one per import of the module */
} import_cache;

/* Modules with resolved imports kept per import set. */
enum { IMPORT_CACHE_MAX = 8 };

struct lun_imports {
    import_entry *entries; /* open addressing; module_name NULL marks a free slot */
    size_t capacity;       /* a power of two */
    size_t count;
    /* Pushed by concurrent instantiations, emptied only by lun_imports_add
     * and lun_imports_free (which must not run beside an instantiation
     * with this set, as they change the entries too). */
    _Atomic(import_cache *) caches;
    atomic_size_t cache_count;
};

static void imports_forget_caches(lun_imports *imports)
{
    import_cache *cache = atomic_exchange(&imports->caches, NULL);
    while (cache != NULL) {
        import_cache *next = cache->next;
        lun_module_free(cache->module);
        free(cache);
        cache = next;
    }
    atomic_store(&imports->cache_count, 0);
}

static uint64_t name_hash(import_name module_name, import_name field_name)
{
    uint64_t hash = 1469598103934665603ull;
    for (size_t i = 0; i < module_name.length; i++)
        hash = (hash ^ (uint8_t)module_name.text[i]) * 1099511628211ull;
    hash = (hash ^ 0xFF) * 1099511628211ull;
    for (size_t i = 0; i < field_name.length; i++)
        hash = (hash ^ (uint8_t)field_name.text[i]) * 1099511628211ull;
    return hash;
}

static bool same_name(const char *text, size_t length, import_name name)
{
    return length == name.length && (length == 0 || memcmp(text, name.text, length) == 0);
}

lun_status lun_imports_new(lun_imports **imports, lun_error *error)
{
    if (imports == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no imports");
    *imports = calloc(1, sizeof **imports);
    if (*imports == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    return LUN_OK;
}

void lun_imports_free(lun_imports *imports)
{
    if (imports == NULL) return;
    imports_forget_caches(imports);
    for (size_t i = 0; i < imports->capacity; i++) {
        free(imports->entries[i].module_name);
        free(imports->entries[i].field_name);
    }
    free(imports->entries);
    free(imports);
}

static import_entry *find_entry(const lun_imports *imports, import_name module_name,
                                import_name field_name, uint64_t hash)
{
    if (imports->capacity == 0) return NULL;
    size_t mask = imports->capacity - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        import_entry *entry = &imports->entries[i];
        if (entry->module_name == NULL) return entry;
        if (entry->hash == hash &&
            same_name(entry->module_name, entry->module_name_length, module_name) &&
            same_name(entry->field_name, entry->field_name_length, field_name))
            return entry;
    }
}

static bool imports_rehash(lun_imports *imports)
{
    size_t capacity = imports->capacity ? imports->capacity * 2 : 32;
    import_entry *entries = calloc(capacity, sizeof *entries);
    if (entries == NULL) return false;
    lun_imports grown = {.entries = entries, .capacity = capacity};
    for (size_t i = 0; i < imports->capacity; i++) {
        import_entry *old = &imports->entries[i];
        if (old->module_name == NULL) continue;
        import_name module_name = {old->module_name, old->module_name_length};
        import_name field_name = {old->field_name, old->field_name_length};
        *find_entry(&grown, module_name, field_name, old->hash) = *old;
    }
    free(imports->entries);
    imports->entries = grown.entries;
    imports->capacity = grown.capacity;
    return true;
}

static char *copy_name(import_name name)
{
    char *copy = malloc(name.length + 1);
    if (copy != NULL) {
        if (name.length > 0) memcpy(copy, name.text, name.length);
        copy[name.length] = '\0';
    }
    return copy;
}

static lun_status add_import(lun_imports *imports, import_name module_name, import_name field_name,
                             lun_extern value, lun_error *error)
{
    imports_forget_caches(imports);
    if ((imports->count + 1) * 2 > imports->capacity && !imports_rehash(imports))
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    uint64_t hash = name_hash(module_name, field_name);
    import_entry *entry = find_entry(imports, module_name, field_name, hash);
    if (entry->module_name == NULL) {
        char *m = copy_name(module_name);
        char *f = copy_name(field_name);
        if (m == NULL || f == NULL) {
            free(m);
            free(f);
            return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
        }
        entry->module_name = m;
        entry->field_name = f;
        entry->module_name_length = module_name.length;
        entry->field_name_length = field_name.length;
        entry->hash = hash;
        imports->count++;
    }
    entry->value = value;
    return LUN_OK;
}

lun_status lun_imports_add(lun_imports *imports, const char *module_name, const char *field_name,
                           lun_extern value, lun_error *error)
{
    if (imports == NULL || module_name == NULL || field_name == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no import name");
    import_name module = {module_name, strlen(module_name)};
    import_name field = {field_name, strlen(field_name)};
    return add_import(imports, module, field, value, error);
}

static bool find_import(const lun_imports *imports, import_name module_name, import_name field_name,
                        lun_extern *value)
{
    import_entry *entry =
        find_entry(imports, module_name, field_name, name_hash(module_name, field_name));
    if (entry == NULL || entry->module_name == NULL) return false;
    if (value) *value = entry->value;
    return true;
}

bool lun_imports_find(const lun_imports *imports, const char *module_name, const char *field_name,
                      lun_extern *value)
{
    if (imports == NULL || module_name == NULL || field_name == NULL) return false;
    import_name module = {module_name, strlen(module_name)};
    import_name field = {field_name, strlen(field_name)};
    return find_import(imports, module, field, value);
}

lun_func *wasm_instance_function(lun_instance *instance, uint32_t index)
{
    lun_func *f = instance->functions[index];
    if (f != NULL) return f;
    const lun_module *m = instance->module;
    if (index < m->imported_function_count || index >= m->total_function_count) return NULL;
    uint32_t slot = m->function_object_slots[index - m->imported_function_count];
    f = slot != UINT32_MAX ? &instance->function_objects[slot] : calloc(1, sizeof *f);
    if (f == NULL) return NULL;
    if (slot == UINT32_MAX) instance->heap_function_objects++;
    const wasm_function *function = &m->functions[index - m->imported_function_count];
    f->kind = WASM_FUNC_WASM;
    f->type = &m->types[function->type_index];
    f->instance = instance;
    f->code = function->compiled;
    instance->functions[index] = f;
    return f;
}

/* value.func is NULL when out of memory. */
static lun_extern export_extern(lun_instance *instance, const wasm_export *export)
{
    lun_extern value;
    value.kind = export->kind;
    switch (export->kind) {
    case LUN_EXTERN_FUNC: value.func = wasm_instance_function(instance, export->index); break;
    case LUN_EXTERN_TABLE: value.table = instance->tables[export->index]; break;
    case LUN_EXTERN_MEMORY: value.memory = instance->memory; break;
    default:
        /* A global's value slot is its first member. */
        value.global = (lun_global *)(void *)instance->globals[export->index];
        break;
    }
    return value;
}

lun_status lun_imports_add_instance(lun_imports *imports, const char *module_name,
                                    lun_instance *instance, lun_error *error)
{
    if (imports == NULL || module_name == NULL || instance == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no imports, name or instance");
    const lun_module *module = instance->module;
    import_name module_key = {module_name, strlen(module_name)};
    for (uint32_t i = 0; i < module->export_count; i++) {
        const wasm_export *export = &module->exports[i];
        lun_extern value = export_extern(instance, export);
        if (value.kind == LUN_EXTERN_FUNC && value.func == NULL)
            return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
        import_name field_key = {export->name, export->name_length};
        lun_status status = add_import(imports, module_key, field_key, value, error);
        if (status != LUN_OK) return status;
    }
    return LUN_OK;
}

/* ---- linking ----------------------------------------------------------- */

static const char *kind_name(lun_extern_kind kind)
{
    switch (kind) {
    case LUN_EXTERN_FUNC: return "function";
    case LUN_EXTERN_TABLE: return "table";
    case LUN_EXTERN_MEMORY: return "memory";
    default: return "global";
    }
}

static bool limits_match(uint64_t size, uint64_t max, const wasm_limits *wanted)
{
    if (size < wanted->min) return false;
    if (!wanted->has_max) return true;
    return max != UINT32_MAX && max <= wanted->max;
}

static const import_cache *find_cache(const lun_imports *imports, const lun_module *module)
{
    import_cache *cache = atomic_load_explicit(&imports->caches, memory_order_acquire);
    for (; cache != NULL; cache = cache->next)
        if (cache->module == module) return cache;
    return NULL;
}

/* Keeps the externs found for every import of `module` (best effort: out
 * of memory or a full cache keeps nothing). */
static void remember_imports(const lun_imports *imports, lun_module *module,
                             const lun_extern *values)
{
    lun_imports *set = (lun_imports *)imports; /* the cache is not part of its value */
    if (atomic_fetch_add(&set->cache_count, 1) >= IMPORT_CACHE_MAX) {
        atomic_fetch_sub(&set->cache_count, 1);
        return;
    }
    import_cache *cache = malloc(sizeof *cache + module->import_count * sizeof *values);
    if (cache == NULL) {
        atomic_fetch_sub(&set->cache_count, 1);
        return;
    }
    cache->module = lun_module_retain(module);
    memcpy(cache->values, values, module->import_count * sizeof *values);
    cache->next = atomic_load_explicit(&set->caches, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&set->caches, &cache->next, cache,
                                                  memory_order_release, memory_order_relaxed)) {
    }
}

/* Finds every import of the module by name; keeps the result for the next
 * instantiation against the same set. */
static lun_status resolve_imports(lun_module *module, const lun_imports *imports,
                                  lun_extern *values, lun_error *error)
{
    for (uint32_t i = 0; i < module->import_count; i++) {
        const wasm_import *import = &module->imports[i];
        import_name module_key = {import->module_name, import->module_name_length};
        import_name field_key = {import->field_name, import->field_name_length};
        if (imports == NULL || !find_import(imports, module_key, field_key, &values[i]))
            return lun_error_set(error, LUN_ERR_LINK, "unknown import %s.%s (a %s)",
                                 import->module_name, import->field_name, kind_name(import->kind));
    }
    remember_imports(imports, module, values);
    return LUN_OK;
}

/* Types and limits are checked at every instantiation: a memory or a table
 * may have grown since the last one. */
static lun_status check_imports(lun_instance *instance, const lun_extern *values, lun_error *error)
{
    const lun_module *module = instance->module;
    uint32_t functions = 0, tables = 0, globals = 0;
    for (uint32_t i = 0; i < module->import_count; i++) {
        const wasm_import *import = &module->imports[i];
        lun_extern value = values[i];
        bool ok = value.kind == import->kind;
        if (ok) {
            switch (import->kind) {
            case LUN_EXTERN_FUNC:
                ok = value.func != NULL &&
                     wasm_functype_equal(value.func->type, &module->types[import->type_index]);
                if (ok) instance->functions[functions++] = value.func;
                break;
            case LUN_EXTERN_TABLE:
                ok = value.table != NULL &&
                     value.table->element_type == import->table.element_type &&
                     limits_match(value.table->size, value.table->max, &import->table.limits);
                if (ok) instance->tables[tables++] = value.table;
                break;
            case LUN_EXTERN_MEMORY:
                ok = value.memory != NULL &&
                     limits_match(value.memory->size / WASM_PAGE_SIZE,
                                  value.memory->declared_max_pages, &import->memory);
                if (ok) instance->memory = value.memory;
                break;
            default:
                ok = value.global != NULL && value.global->type == import->global.type &&
                     value.global->is_mutable == import->global.is_mutable;
                if (ok) instance->globals[globals++] = &value.global->value;
                break;
            }
        }
        if (!ok)
            return lun_error_set(error, LUN_ERR_LINK, "incompatible import type for %s.%s (a %s)",
                                 import->module_name, import->field_name, kind_name(import->kind));
    }
    return LUN_OK;
}

static lun_status link_imports(lun_instance *instance, const lun_imports *imports, lun_error *error)
{
    lun_module *module = instance->module;
    if (module->import_count == 0) return LUN_OK;
    const import_cache *cache = imports != NULL ? find_cache(imports, module) : NULL;
    if (cache != NULL) return check_imports(instance, cache->values, error);
    lun_extern *values = malloc(module->import_count * sizeof *values);
    if (values == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    lun_status status = resolve_imports(module, imports, values, error);
    if (status == LUN_OK) status = check_imports(instance, values, error);
    free(values);
    return status;
}

/* Every import is a function, found, of the declared type. */
static bool function_imports_fit(lun_module *module, const lun_imports *imports)
{
    if (module->import_count == 0) return true;
    const import_cache *cache = imports != NULL ? find_cache(imports, module) : NULL;
    lun_extern *resolved = NULL;
    const lun_extern *values = cache != NULL ? cache->values : NULL;
    if (values == NULL) {
        resolved = malloc(module->import_count * sizeof *resolved);
        if (resolved == NULL || resolve_imports(module, imports, resolved, NULL) != LUN_OK) {
            free(resolved);
            return false;
        }
        values = resolved;
    }
    bool fit = true;
    for (uint32_t i = 0; i < module->import_count && fit; i++) {
        const wasm_import *import = &module->imports[i];
        fit = import->kind == LUN_EXTERN_FUNC && values[i].kind == LUN_EXTERN_FUNC &&
              values[i].func != NULL &&
              wasm_functype_equal(values[i].func->type, &module->types[import->type_index]);
    }
    free(resolved);
    return fit;
}

/* An active segment's offset, when it is a constant. */
static bool constant_offset(const wasm_const_expr *offset, uint64_t *value)
{
    if (offset->kind != WASM_CONST_I32) return false;
    *value = (uint32_t)offset->value.i32;
    return true;
}

static bool segments_fit(const lun_module *m)
{
    uint64_t memory_bytes = m->memory_count > 0 ? (uint64_t)m->memories[0].min * WASM_PAGE_SIZE : 0;
    for (uint32_t i = 0; i < m->data_segment_count; i++) {
        const wasm_data *segment = &m->data_segments[i];
        uint64_t offset;
        if (segment->mode != WASM_SEGMENT_ACTIVE) continue;
        if (!constant_offset(&segment->offset, &offset) || offset + segment->size > memory_bytes)
            return false;
    }
    for (uint32_t i = 0; i < m->element_count; i++) {
        const wasm_element *segment = &m->elements[i];
        uint64_t offset;
        if (segment->mode != WASM_SEGMENT_ACTIVE) continue;
        if (segment->table_index >= m->table_count || !constant_offset(&segment->offset, &offset) ||
            offset + segment->item_count > m->tables[segment->table_index].limits.min)
            return false;
    }
    return true;
}

bool lun_module_instantiates_surely(lun_module *module, const lun_imports *imports,
                                    uint64_t max_memory_bytes)
{
    const lun_module *m = module;
    if (m == NULL || m->has_start || m->imported_table_count > 0 || m->imported_memory_count > 0 ||
        m->imported_global_count > 0)
        return false;
    if (m->memory_count > 0) {
        uint64_t min = m->memories[0].min;
        if (min > WASM_MAX_PAGES ||
            (max_memory_bytes != 0 && min * WASM_PAGE_SIZE > max_memory_bytes))
            return false;
    }
    for (uint32_t i = 0; i < m->table_count; i++)
        if (m->tables[i].limits.min > WASM_TABLE_SIZE_LIMIT) return false;
    return segments_fit(m) && function_imports_fit(module, imports);
}

/* ---- instantiation ----------------------------------------------------- */

/* Failed instances whose functions may have escaped into imported tables or
 * globals (the spec keeps such instances alive); kept until exit. */
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static lun_instance **kept_instances;
static size_t kept_count, kept_capacity;

static void keep_instance(lun_instance *instance)
{
    pthread_mutex_lock(&kept_lock);
    if (kept_count == kept_capacity) {
        size_t capacity = kept_capacity ? kept_capacity * 2 : 8;
        lun_instance **grown = realloc(kept_instances, capacity * sizeof *grown);
        if (grown == NULL) {
            pthread_mutex_unlock(&kept_lock);
            return; /* leaked rather than freed while referenced */
        }
        kept_instances = grown;
        kept_capacity = capacity;
    }
    kept_instances[kept_count++] = instance;
    pthread_mutex_unlock(&kept_lock);
}

/* false when out of memory (a function object could not be made). */
static bool const_value(lun_instance *instance, const wasm_const_expr *expr, uint64_t *value)
{
    switch (expr->kind) {
    case WASM_CONST_GLOBAL_GET: *value = *instance->globals[expr->index]; return true;
    case WASM_CONST_REF_FUNC: {
        lun_func *f = wasm_instance_function(instance, expr->index);
        *value = (uint64_t)(uintptr_t)f;
        return f != NULL;
    }
    case WASM_CONST_REF_NULL: *value = 0; return true;
    default: *value = slot_of_value(expr->value); return true;
    }
}

/* The instance and the arrays whose sizes the module fixes, in one block:
 * spawning a process costs one allocation for them instead of ten. */
typedef struct instance_layout {
    size_t functions, function_objects, tables, own_tables, globals, own_globals, own_memory;
    size_t stack, frames, table_elements;
    size_t element_dropped, data_dropped, total;
} instance_layout;

static size_t layout_add(size_t *total, size_t count, size_t size)
{
    size_t offset = *total;
    size_t align = _Alignof(max_align_t);
    *total += (count * size + align - 1) / align * align;
    return offset;
}

static instance_layout layout_of(const lun_module *m)
{
    instance_layout l;
    size_t total = 0;
    layout_add(&total, 1, sizeof(lun_instance));
    l.functions = layout_add(&total, m->total_function_count, sizeof(lun_func *));
    l.function_objects = layout_add(&total, m->function_object_count, sizeof(lun_func));
    l.stack = layout_add(&total, WASM_INLINE_STACK_SLOTS, sizeof(uint64_t));
    l.frames = layout_add(&total, WASM_INLINE_FRAMES, sizeof(wasm_frame));
    size_t inline_elements = 0;
    for (uint32_t i = 0; i < m->table_count; i++)
        if (table_inline(m->tables[i].limits.min)) inline_elements += m->tables[i].limits.min;
    l.table_elements = layout_add(&total, inline_elements, sizeof(void *));
    l.tables =
        layout_add(&total, (size_t)m->imported_table_count + m->table_count, sizeof(lun_table *));
    l.own_tables = layout_add(&total, m->table_count, sizeof(lun_table));
    l.globals =
        layout_add(&total, (size_t)m->imported_global_count + m->global_count, sizeof(uint64_t *));
    l.own_globals = layout_add(&total, m->global_count, sizeof(lun_global));
    l.own_memory = layout_add(&total, m->memory_count > 0 ? 1 : 0, sizeof(lun_memory));
    l.element_dropped = layout_add(&total, m->element_count, sizeof(bool));
    l.data_dropped = layout_add(&total, m->data_segment_count, sizeof(bool));
    l.total = total;
    return l;
}

static lun_instance *instance_allocate(const lun_module *m)
{
    instance_layout l = layout_of(m);
    char *block = calloc(1, l.total);
    if (block == NULL) return NULL;
    lun_instance *in = (lun_instance *)block;
    in->functions = (lun_func **)(block + l.functions);
    in->function_objects = (lun_func *)(block + l.function_objects);
    in->stack = in->inline_stack = (uint64_t *)(block + l.stack);
    in->stack_capacity = WASM_INLINE_STACK_SLOTS;
    in->frames = in->inline_frames = (wasm_frame *)(block + l.frames);
    in->frame_capacity = WASM_INLINE_FRAMES;
    in->tables = (lun_table **)(block + l.tables);
    in->own_tables = (lun_table *)(block + l.own_tables);
    in->globals = (uint64_t **)(block + l.globals);
    in->own_globals = (lun_global *)(block + l.own_globals);
    in->element_dropped = (bool *)(block + l.element_dropped);
    in->data_dropped = (bool *)(block + l.data_dropped);
    return in;
}

static lun_status build_objects(lun_instance *instance, lun_error *error)
{
    const lun_module *m = instance->module;
    instance_layout l = layout_of(m);
    void **next_elements = (void **)((char *)instance + l.table_elements);
    for (uint32_t i = 0; i < m->table_count; i++) {
        const wasm_tabletype *type = &m->tables[i];
        uint32_t min = type->limits.min, max = type->limits.has_max ? type->limits.max : UINT32_MAX;
        void **inline_elements = table_inline(min) ? next_elements : NULL;
        if (inline_elements != NULL) next_elements += min;
        lun_status status = table_init(&instance->own_tables[i], type->element_type, min, max,
                                       inline_elements, error);
        if (status != LUN_OK) return status;
        instance->tables[m->imported_table_count + i] = &instance->own_tables[i];
    }
    if (m->memory_count > 0) {
        const wasm_limits *limits = &m->memories[0];
        uint64_t max = limits->has_max ? limits->max : WASM_MAX_PAGES;
        uint64_t cap = instance->config.max_memory_bytes;
        if (cap != 0 && cap / WASM_PAGE_SIZE < max) max = cap / WASM_PAGE_SIZE;
        lun_memory *memory = (lun_memory *)((char *)instance + l.own_memory);
        lun_status status = wasm_memory_init(memory, limits->min, (uint32_t)max, error);
        if (status != LUN_OK) return status;
        instance->own_memory = memory;
        instance->own_memory->declared_max_pages = limits->has_max ? limits->max : UINT32_MAX;
        instance->memory = instance->own_memory;
    }
    for (uint32_t i = 0; i < m->global_count; i++) {
        lun_global *g = &instance->own_globals[i];
        g->type = m->globals[i].type.type;
        g->is_mutable = m->globals[i].type.is_mutable;
        if (!const_value(instance, &m->globals[i].init, &g->value))
            return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
        instance->globals[m->imported_global_count + i] = &g->value;
    }
    return LUN_OK;
}

static lun_status trap_error(lun_instance *instance, lun_error *error, const char *reason)
{
    snprintf(instance->trap_message, sizeof instance->trap_message, "%s", reason);
    return lun_error_set(error, LUN_ERR_TRAP, "%s", reason);
}

static lun_status apply_segments(lun_instance *instance, lun_error *error)
{
    const lun_module *m = instance->module;
    for (uint32_t i = 0; i < m->element_count; i++) {
        const wasm_element *segment = &m->elements[i];
        if (segment->mode == WASM_SEGMENT_PASSIVE) continue;
        instance->element_dropped[i] = true;
        if (segment->mode != WASM_SEGMENT_ACTIVE) continue;
        lun_table *table = instance->tables[segment->table_index];
        uint64_t offset;
        const_value(instance, &segment->offset, &offset);
        offset = (uint32_t)offset;
        if (offset + segment->item_count > table->size)
            return trap_error(instance, error, "out of bounds table access");
        for (uint32_t j = 0; j < segment->item_count; j++) {
            uint64_t item;
            if (!const_value(instance, &segment->items[j], &item))
                return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
            table->elements[offset + j] = (void *)(uintptr_t)item;
        }
    }
    for (uint32_t i = 0; i < m->data_segment_count; i++) {
        const wasm_data *segment = &m->data_segments[i];
        if (segment->mode != WASM_SEGMENT_ACTIVE) continue;
        instance->data_dropped[i] = true;
        lun_memory *memory = instance->memory;
        uint64_t offset;
        const_value(instance, &segment->offset, &offset);
        offset = (uint32_t)offset;
        if (memory == NULL || offset + segment->size > memory->size)
            return trap_error(instance, error, "out of bounds memory access");
        if (segment->size == 0) continue;
        memcpy(memory->data + offset, segment->bytes, segment->size);
        wasm_memory_note_written(memory, offset, segment->size);
    }
    return LUN_OK;
}

static void prepare_call(lun_instance *instance, const lun_func *func);

static lun_status run_start(lun_instance *instance, lun_error *error)
{
    const lun_module *m = instance->module;
    if (!m->has_start) return LUN_OK;
    if (!wasm_stack_reserve(instance, 64))
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    const lun_func *start = wasm_instance_function(instance, m->start_function);
    if (start == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    prepare_call(instance, start);
    instance->running = true;
    lun_run_state state = wasm_interp_run(instance, UINT64_MAX);
    instance->running = false;
    instance->state = WASM_EXEC_IDLE;
    if (state == LUN_RUN_TRAPPED)
        return lun_error_set(error, LUN_ERR_TRAP, "%s", instance->trap_message);
    if (state != LUN_RUN_FINISHED)
        return lun_error_set(error, LUN_ERR_STATE, "the start function suspended");
    return LUN_OK;
}

static void instance_destroy(lun_instance *instance)
{
    const lun_module *m = instance->module;
    if (instance->own_tables != NULL)
        for (uint32_t i = 0; i < m->table_count; i++)
            table_release_elements(&instance->own_tables[i]);
    if (instance->own_memory != NULL) wasm_memory_release(instance->own_memory);
    for (uint32_t i = 0; instance->heap_function_objects > 0 && i < m->function_count; i++)
        if (m->function_object_slots[i] == UINT32_MAX)
            free(instance->functions[m->imported_function_count + i]);
    /* The arrays of the index spaces live in the instance's own block. */
    if (instance->stack != instance->inline_stack) free(instance->stack);
    if (instance->frames != instance->inline_frames) free(instance->frames);
    if (instance->guest != NULL) free(instance->guest->barriers);
    free(instance->guest);
    lun_module_free(instance->module);
    free(instance);
}

lun_status lun_instantiate(lun_module *module, const lun_imports *imports,
                           const lun_instance_config *config, lun_instance **instance,
                           lun_error *error)
{
    if (module == NULL || instance == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no module");
    *instance = NULL;
    const lun_module *m = module;
    lun_instance *in = instance_allocate(m);
    if (in == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    in->module = lun_module_retain(module);
    if (config) in->config = *config;
    lun_status status = link_imports(in, imports, error);
    if (status == LUN_OK) status = build_objects(in, error);
    if (status != LUN_OK) {
        instance_destroy(in);
        return status;
    }
    in->exec_memory = in->memory ? in->memory : &wasm_no_memory;
    status = apply_segments(in, error);
    if (status == LUN_OK) status = run_start(in, error);
    if (status != LUN_OK) {
        /* Segments or the start function may have put this instance's
         * functions into imported tables or globals. */
        if (m->imported_table_count > 0 || m->imported_global_count > 0)
            keep_instance(in);
        else
            instance_destroy(in);
        return status;
    }
    *instance = in;
    lun_error_clear(error);
    return LUN_OK;
}

void lun_instance_free(lun_instance *instance)
{
    if (instance != NULL) instance_destroy(instance);
}

lun_module *lun_instance_module(const lun_instance *instance)
{
    return instance->module;
}

void *lun_instance_user_data(const lun_instance *instance)
{
    return instance->config.user_data;
}

lun_memory *lun_instance_memory(lun_instance *instance)
{
    return instance->memory;
}

uint64_t lun_instance_fuel_used(const lun_instance *instance)
{
    return instance->fuel_used;
}

lun_status lun_instance_export_bytes(lun_instance *instance, const char *name, size_t name_length,
                                     lun_extern *value, lun_error *error)
{
    if (instance == NULL || (name == NULL && name_length > 0) || value == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no instance or name");
    const wasm_export *export = wasm_find_export(instance->module, name, name_length);
    if (export == NULL)
        return lun_error_set(error, LUN_ERR_NOT_FOUND, "no export \"%.*s\"", (int)name_length,
                             name);
    *value = export_extern(instance, export);
    if (value->kind == LUN_EXTERN_FUNC && value->func == NULL)
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    return LUN_OK;
}

lun_status lun_instance_export(lun_instance *instance, const char *name, lun_extern *value,
                               lun_error *error)
{
    if (name == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no instance or name");
    return lun_instance_export_bytes(instance, name, strlen(name), value, error);
}

void lun_func_type(const lun_func *func, const lun_valtype **params, size_t *param_count,
                   const lun_valtype **results, size_t *result_count)
{
    const wasm_functype *type = func != NULL ? func->type : NULL;
    if (params != NULL) *params = type != NULL ? type->types : NULL;
    if (param_count != NULL) *param_count = type != NULL ? type->param_count : 0;
    if (results != NULL) *results = type != NULL ? type->types + type->param_count : NULL;
    if (result_count != NULL) *result_count = type != NULL ? type->result_count : 0;
}

/* ---- running ----------------------------------------------------------- */

static void prepare_call(lun_instance *instance, const lun_func *func)
{
    const int32_t *handlers = wasm_interp_handler_offsets();
    instance->entry_code[0] = (uint32_t)handlers[WASM_OP_call_func];
    instance->entry_code[1] = (uint64_t)(uintptr_t)func;
    instance->entry_code[2] = (uint32_t)handlers[WASM_OP_halt];
    instance->entry_func = func;
    instance->pc = instance->entry_code;
    instance->fp = 0;
    instance->current = instance;
    instance->frame_count = 0;
    instance->fuel_pending = false;
    if (instance->guest != NULL) {
        instance->guest->barrier_count = 0;
        instance->guest->outcome = 0;
    }
    instance->trap_message[0] = '\0';
    instance->state = WASM_EXEC_READY;
}

lun_status lun_instance_start_func(lun_instance *instance, const lun_func *func,
                                   const lun_value *args, size_t arg_count, lun_error *error)
{
    if (instance == NULL || func == NULL || (args == NULL && arg_count > 0))
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no instance, function or arguments");
    if (instance->running) return lun_error_set(error, LUN_ERR_STATE, "the instance is running");
    const wasm_functype *type = func->type;
    if (arg_count != type->param_count)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT,
                             "the function takes %u arguments, not %zu", type->param_count,
                             arg_count);
    for (size_t i = 0; i < arg_count; i++)
        if (args[i].type != type->types[i])
            return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "argument %zu has the wrong type",
                                 i);
    size_t slots = (size_t)type->param_count + type->result_count + 16;
    if (!wasm_stack_reserve(instance, slots))
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < arg_count; i++)
        instance->stack[i] = slot_of_value(args[i]);
    prepare_call(instance, func);
    lun_error_clear(error);
    return LUN_OK;
}

lun_status lun_instance_start(lun_instance *instance, const char *export_name,
                              const lun_value *args, size_t arg_count, lun_error *error)
{
    if (instance == NULL || export_name == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no instance or name");
    if (instance->running) return lun_error_set(error, LUN_ERR_STATE, "the instance is running");
    const wasm_export *export =
        wasm_find_export(instance->module, export_name, strlen(export_name));
    if (export == NULL || export->kind != LUN_EXTERN_FUNC)
        return lun_error_set(error, LUN_ERR_NOT_FOUND, "no exported function \"%s\"", export_name);
    const lun_func *func = wasm_instance_function(instance, export->index);
    if (func == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    lun_status status = lun_instance_start_func(instance, func, args, arg_count, error);
    if (status == LUN_ERR_INVALID_ARGUMENT && error != NULL) {
        char reason[sizeof error->message];
        snprintf(reason, sizeof reason, "%s", error->message);
        lun_error_set(error, status, "\"%s\": %s", export_name, reason);
    }
    return status;
}

lun_run_state lun_instance_run(lun_instance *instance, uint64_t fuel)
{
    if (instance->state == WASM_EXEC_FINISHED) return LUN_RUN_FINISHED;
    if (instance->state != WASM_EXEC_READY || instance->running) {
        if (instance->trap_message[0] == '\0')
            snprintf(instance->trap_message, sizeof instance->trap_message, "no call was started");
        return LUN_RUN_TRAPPED;
    }
    instance->running = true;
    lun_run_state state = wasm_interp_run(instance, fuel);
    instance->running = false;
    return state;
}

size_t lun_instance_results(const lun_instance *instance, lun_value *results, size_t capacity)
{
    if (instance->state != WASM_EXEC_FINISHED || instance->entry_func == NULL) return 0;
    const wasm_functype *type = instance->entry_func->type;
    size_t count = type->result_count;
    for (size_t i = 0; i < count && i < capacity; i++)
        results[i] = value_of_slot(type->types[type->param_count + i], instance->stack[i]);
    return count;
}

const char *lun_instance_trap_message(const lun_instance *instance)
{
    return instance->trap_message;
}

lun_status lun_instance_call(lun_instance *instance, const char *export_name, const lun_value *args,
                             size_t arg_count, lun_value *results, size_t result_capacity,
                             size_t *result_count, lun_error *error)
{
    lun_status status = lun_instance_start(instance, export_name, args, arg_count, error);
    if (status != LUN_OK) return status;
    size_t needed = instance->entry_func->type->result_count;
    if (needed > result_capacity) {
        instance->state = WASM_EXEC_IDLE;
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT,
                             "\"%s\" has %zu results, room for %zu", export_name, needed,
                             result_capacity);
    }
    lun_run_state state = lun_instance_run(instance, UINT64_MAX);
    if (state == LUN_RUN_TRAPPED)
        return lun_error_set(error, LUN_ERR_TRAP, "%s", instance->trap_message);
    if (state != LUN_RUN_FINISHED) {
        instance->state = WASM_EXEC_IDLE;
        return lun_error_set(error, LUN_ERR_STATE, "a host function suspended in \"%s\"",
                             export_name);
    }
    size_t count = lun_instance_results(instance, results, result_capacity);
    if (result_count) *result_count = count;
    lun_error_clear(error);
    return LUN_OK;
}
