/*
 * The binary format decoder: turns the bytes of a module into a wasm_module.
 *
 * Every section is decoded here except the function bodies' instructions,
 * which validate.c reads (it has to walk them anyway). Every count read from
 * the binary is checked against the bytes that remain before anything is
 * allocated, so no input can make the decoder allocate more than a small
 * multiple of its own size.
 */
#include <stdlib.h>
#include <string.h>

#include "module.h"
#include "reader.h"

/* Section ids of the binary format. */
enum {
    SECTION_CUSTOM = 0,
    SECTION_TYPE = 1,
    SECTION_IMPORT = 2,
    SECTION_FUNCTION = 3,
    SECTION_TABLE = 4,
    SECTION_MEMORY = 5,
    SECTION_GLOBAL = 6,
    SECTION_EXPORT = 7,
    SECTION_START = 8,
    SECTION_ELEMENT = 9,
    SECTION_CODE = 10,
    SECTION_DATA = 11,
    SECTION_DATA_COUNT = 12,
};

typedef struct decoder {
    lun_module *module;
    lun_error *error;
    bool has_function_section;
    bool has_code_section;
    uint64_t total_locals;
    bool has_name_section;
    size_t name_section_start;
    size_t name_section_end;
} decoder;

static lun_status out_of_memory(lun_error *error)
{
    return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory while decoding a module");
}

/* calloc of count elements; count was already bounded by the input size. */
static lun_status allocate(void **pointer, size_t count, size_t element_size, lun_error *error)
{
    *pointer = NULL;
    if (count == 0) return LUN_OK;
    *pointer = calloc(count, element_size);
    return *pointer == NULL ? out_of_memory(error) : LUN_OK;
}

/* Reads a vector length, refusing it when the remaining bytes cannot hold
 * that many elements (each takes at least one byte): allocations made for a
 * vector stay within a small multiple of the input's size. */
static lun_status read_count(wasm_reader *reader, uint32_t *count, lun_error *error)
{
    size_t start = reader->position;
    WASM_TRY(wasm_read_u32(reader, count, error));
    if (*count > wasm_reader_remaining(reader))
        return wasm_reader_fail_at(start, error, LUN_ERR_MALFORMED,
                                   "unexpected end of section or function: length out of bounds "
                                   "(%u elements in %zu bytes)",
                                   *count, wasm_reader_remaining(reader));
    return LUN_OK;
}

/* ---- names -------------------------------------------------------------- */

/* Length of the UTF-8 sequence at text (at most `size` bytes), 0 if invalid. */
static size_t utf8_sequence_length(const uint8_t *text, size_t size)
{
    uint8_t lead = text[0];
    if (lead < 0x80) return 1;
    size_t length;
    uint32_t code_point;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
        code_point = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        code_point = lead & 0x0F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        code_point = lead & 0x07;
    } else {
        return 0;
    }
    if (size < length) return 0;
    for (size_t index = 1; index < length; index++) {
        if ((text[index] & 0xC0) != 0x80) return 0;
        code_point = code_point << 6 | (text[index] & 0x3F);
    }
    if ((length == 3 && code_point < 0x800) || (length == 4 && code_point < 0x10000) ||
        code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF))
        return 0;
    return length;
}

static bool is_valid_utf8(const uint8_t *text, size_t size)
{
    size_t index = 0;
    while (index < size) {
        size_t length = utf8_sequence_length(text + index, size - index);
        if (length == 0) return false;
        index += length;
    }
    return true;
}

/* Reads a name without copying it. */
static lun_status read_name_bytes(wasm_reader *reader, const uint8_t **text, uint32_t *length,
                                  lun_error *error)
{
    *text = NULL;
    *length = 0;
    size_t start = reader->position;
    WASM_TRY(wasm_read_u32(reader, length, error));
    if (*length > wasm_reader_remaining(reader))
        return wasm_reader_fail_at(start, error, LUN_ERR_MALFORMED,
                                   "unexpected end of section or function: length out of bounds "
                                   "(name of %u bytes, %zu remain)",
                                   *length, wasm_reader_remaining(reader));
    *text = reader->bytes + reader->position;
    if (!is_valid_utf8(*text, *length))
        return wasm_reader_fail_at(reader->position, error, LUN_ERR_MALFORMED,
                                   "malformed UTF-8 encoding");
    reader->position += *length;
    return LUN_OK;
}

static char *copy_name(const uint8_t *text, uint32_t length)
{
    char *copy = malloc((size_t)length + 1);
    if (copy != NULL) {
        memcpy(copy, text, length);
        copy[length] = '\0';
    }
    return copy;
}

static lun_status read_name(wasm_reader *reader, char **name, uint32_t *length, lun_error *error)
{
    *name = NULL;
    const uint8_t *text;
    WASM_TRY(read_name_bytes(reader, &text, length, error));
    *name = copy_name(text, *length);
    return *name == NULL ? out_of_memory(error) : LUN_OK;
}

/* ---- types -------------------------------------------------------------- */

lun_status wasm_check_value_type(size_t offset, uint8_t byte, lun_valtype *type, lun_error *error)
{
    *type = LUN_I32;
    switch (byte) {
    case LUN_I32:
    case LUN_I64:
    case LUN_F32:
    case LUN_F64:
    case LUN_FUNCREF:
    case LUN_EXTERNREF: *type = (lun_valtype)byte; return LUN_OK;
    case LUN_V128:
        return wasm_reader_fail_at(offset, error, LUN_ERR_UNSUPPORTED,
                                   "value type v128 (SIMD) is not supported");
    default:
        return wasm_reader_fail_at(offset, error, LUN_ERR_MALFORMED, "malformed value type 0x%02x",
                                   byte);
    }
}

static lun_status read_value_type(wasm_reader *reader, lun_valtype *type, lun_error *error)
{
    size_t offset = reader->position;
    uint8_t byte;
    WASM_TRY(wasm_read_u8(reader, &byte, error));
    return wasm_check_value_type(offset, byte, type, error);
}

static lun_status read_reference_type(wasm_reader *reader, lun_valtype *type, lun_error *error)
{
    *type = LUN_FUNCREF;
    size_t offset = reader->position;
    uint8_t byte;
    WASM_TRY(wasm_read_u8(reader, &byte, error));
    if (byte != LUN_FUNCREF && byte != LUN_EXTERNREF)
        return wasm_reader_fail_at(offset, error, LUN_ERR_MALFORMED,
                                   "malformed reference type 0x%02x", byte);
    *type = (lun_valtype)byte;
    return LUN_OK;
}

static lun_status read_limits(wasm_reader *reader, wasm_limits *limits, lun_error *error)
{
    size_t offset = reader->position;
    uint8_t flags;
    WASM_TRY(wasm_read_u8(reader, &flags, error));
    if (flags > 1)
        return wasm_reader_fail_at(
            offset, error, LUN_ERR_MALFORMED, "%s: malformed limits flags 0x%02x",
            flags & 0x80 ? "integer representation too long" : "integer too large", flags);
    WASM_TRY(wasm_read_u32(reader, &limits->min, error));
    limits->has_max = flags == 1;
    limits->max = 0;
    if (limits->has_max) WASM_TRY(wasm_read_u32(reader, &limits->max, error));
    return LUN_OK;
}

static lun_status read_table_type(wasm_reader *reader, wasm_tabletype *table, lun_error *error)
{
    WASM_TRY(read_reference_type(reader, &table->element_type, error));
    return read_limits(reader, &table->limits, error);
}

static lun_status read_global_type(wasm_reader *reader, wasm_globaltype *global, lun_error *error)
{
    WASM_TRY(read_value_type(reader, &global->type, error));
    size_t offset = reader->position;
    uint8_t mutability;
    WASM_TRY(wasm_read_u8(reader, &mutability, error));
    if (mutability > 1)
        return wasm_reader_fail_at(offset, error, LUN_ERR_MALFORMED, "malformed mutability 0x%02x",
                                   mutability);
    global->is_mutable = mutability == 1;
    return LUN_OK;
}

static lun_status read_value_types(wasm_reader *reader, uint32_t count, lun_valtype *types,
                                   lun_error *error)
{
    for (uint32_t index = 0; index < count; index++)
        WASM_TRY(read_value_type(reader, &types[index], error));
    return LUN_OK;
}

static lun_status decode_function_type(wasm_reader *reader, wasm_functype *type, lun_error *error)
{
    size_t offset = reader->position;
    uint8_t form;
    WASM_TRY(wasm_read_u8(reader, &form, error));
    if (form != 0x60)
        return wasm_reader_fail_at(offset, error, LUN_ERR_MALFORMED,
                                   "malformed function type form 0x%02x (0x60 expected)", form);
    uint32_t param_count, result_count;
    size_t count_offset = reader->position;
    WASM_TRY(read_count(reader, &param_count, error));
    if (param_count > WASM_MAX_FUNCTION_PARAMS)
        return wasm_reader_fail_at(count_offset, error, LUN_ERR_UNSUPPORTED,
                                   "function type with %u parameters (limit %d)", param_count,
                                   WASM_MAX_FUNCTION_PARAMS);
    lun_valtype params[WASM_MAX_FUNCTION_PARAMS];
    WASM_TRY(read_value_types(reader, param_count, params, error));
    count_offset = reader->position;
    WASM_TRY(read_count(reader, &result_count, error));
    if (result_count > WASM_MAX_FUNCTION_RESULTS)
        return wasm_reader_fail_at(count_offset, error, LUN_ERR_UNSUPPORTED,
                                   "function type with %u results (limit %d)", result_count,
                                   WASM_MAX_FUNCTION_RESULTS);
    /* One spare entry so that types is never NULL: everyone computes
     * `types + param_count` for the results, also of a () -> () type. */
    WASM_TRY(allocate((void **)&type->types, (size_t)param_count + result_count + 1,
                      sizeof(lun_valtype), error));
    type->param_count = param_count;
    type->result_count = result_count;
    if (param_count > 0) memcpy(type->types, params, param_count * sizeof(lun_valtype));
    return read_value_types(reader, result_count, type->types + param_count, error);
}

/* ---- constant expressions ---------------------------------------------- */

static bool is_constant_opcode(uint8_t opcode)
{
    return (opcode >= 0x41 && opcode <= 0x44) || opcode == 0xD0 || opcode == 0xD2 || opcode == 0x23;
}

/* Whether a byte starts an instruction of WebAssembly 2.0 at all, to tell
 * a malformed constant expression from a non-constant one. */
static bool is_known_opcode(uint8_t opcode)
{
    return opcode <= 0x05 || (opcode >= 0x0B && opcode <= 0x11) ||
           (opcode >= 0x1A && opcode <= 0x1C) || (opcode >= 0x20 && opcode <= 0x26) ||
           (opcode >= 0x28 && opcode <= 0xC4) || (opcode >= 0xD0 && opcode <= 0xD2) ||
           opcode == 0xFC;
}

static lun_status not_constant(size_t offset, uint8_t opcode, lun_error *error)
{
    if (opcode == 0xFD)
        return wasm_reader_fail_at(offset, error, LUN_ERR_UNSUPPORTED,
                                   "SIMD instructions are not supported");
    if (!is_known_opcode(opcode))
        return wasm_reader_fail_at(offset, error, LUN_ERR_MALFORMED, "illegal opcode 0x%02x",
                                   opcode);
    return wasm_reader_fail_at(offset, error, LUN_ERR_INVALID,
                               "constant expression required (opcode 0x%02x)", opcode);
}

/* After the first instruction of a constant expression: end, or an error
 * that says whether the rest is made of constant instructions (too many
 * values: a type mismatch) or not (not a constant expression). */
static lun_status read_const_expr_end(wasm_reader *reader, lun_error *error)
{
    size_t offset = reader->position;
    for (;;) {
        uint8_t opcode;
        WASM_TRY(wasm_read_u8(reader, &opcode, error));
        if (opcode == 0x0B) {
            if (reader->position == offset + 1) return LUN_OK;
            return wasm_reader_fail_at(offset, error, LUN_ERR_INVALID,
                                       "type mismatch: constant expression leaves more than one "
                                       "value");
        }
        if (!is_constant_opcode(opcode)) return not_constant(reader->position - 1, opcode, error);
        int64_t ignored;
        uint32_t index;
        switch (opcode) {
        case 0x41: WASM_TRY(wasm_read_signed(reader, 32, &ignored, error)); break;
        case 0x42: WASM_TRY(wasm_read_signed(reader, 64, &ignored, error)); break;
        case 0x43: WASM_TRY(wasm_reader_skip(reader, 4, error)); break;
        case 0x44: WASM_TRY(wasm_reader_skip(reader, 8, error)); break;
        case 0xD0: WASM_TRY(wasm_reader_skip(reader, 1, error)); break;
        default: WASM_TRY(wasm_read_u32(reader, &index, error)); break;
        }
    }
}

/* A constant expression of WebAssembly 2.0: one constant instruction and end.
 * Anything else is refused here (LUN_ERR_INVALID, as the spec classes it)
 * since wasm_const_expr can only hold one instruction. */
static lun_status read_const_expr(wasm_reader *reader, wasm_const_expr *expression,
                                  lun_error *error)
{
    memset(expression, 0, sizeof *expression);
    size_t offset = reader->position;
    uint8_t opcode;
    WASM_TRY(wasm_read_u8(reader, &opcode, error));
    switch (opcode) {
    case 0x41:
        expression->kind = WASM_CONST_I32;
        expression->value.type = LUN_I32;
        WASM_TRY(wasm_read_s32(reader, &expression->value.i32, error));
        break;
    case 0x42:
        expression->kind = WASM_CONST_I64;
        expression->value.type = LUN_I64;
        WASM_TRY(wasm_read_s64(reader, &expression->value.i64, error));
        break;
    case 0x43:
        expression->kind = WASM_CONST_F32;
        expression->value.type = LUN_F32;
        WASM_TRY(wasm_read_u32_fixed(reader, &expression->value.f32_bits, error));
        break;
    case 0x44:
        expression->kind = WASM_CONST_F64;
        expression->value.type = LUN_F64;
        WASM_TRY(wasm_read_u64_fixed(reader, &expression->value.f64_bits, error));
        break;
    case 0xD0:
        expression->kind = WASM_CONST_REF_NULL;
        WASM_TRY(read_reference_type(reader, &expression->value.type, error));
        break;
    case 0xD2:
        expression->kind = WASM_CONST_REF_FUNC;
        WASM_TRY(wasm_read_u32(reader, &expression->index, error));
        break;
    case 0x23:
        expression->kind = WASM_CONST_GLOBAL_GET;
        WASM_TRY(wasm_read_u32(reader, &expression->index, error));
        break;
    case 0x0B:
        return wasm_reader_fail_at(offset, error, LUN_ERR_INVALID,
                                   "type mismatch: empty constant expression");
    default: return not_constant(offset, opcode, error);
    }
    return read_const_expr_end(reader, error);
}

/* ---- sections ----------------------------------------------------------- */

static lun_status decode_type_section(decoder *state, wasm_reader *reader)
{
    lun_module *module = state->module;
    uint32_t count;
    WASM_TRY(read_count(reader, &count, state->error));
    WASM_TRY(allocate((void **)&module->types, count, sizeof(wasm_functype), state->error));
    module->type_count = count;
    for (uint32_t index = 0; index < count; index++)
        WASM_TRY(decode_function_type(reader, &module->types[index], state->error));
    return LUN_OK;
}

static lun_status decode_import(decoder *state, wasm_reader *reader, wasm_import *import)
{
    lun_module *module = state->module;
    WASM_TRY(read_name(reader, &import->module_name, &import->module_name_length, state->error));
    WASM_TRY(read_name(reader, &import->field_name, &import->field_name_length, state->error));
    size_t offset = reader->position;
    uint8_t kind;
    WASM_TRY(wasm_read_u8(reader, &kind, state->error));
    switch (kind) {
    case LUN_EXTERN_FUNC:
        import->kind = LUN_EXTERN_FUNC;
        WASM_TRY(wasm_read_u32(reader, &import->type_index, state->error));
        module->imported_function_count++;
        return LUN_OK;
    case LUN_EXTERN_TABLE:
        import->kind = LUN_EXTERN_TABLE;
        WASM_TRY(read_table_type(reader, &import->table, state->error));
        module->imported_table_count++;
        return LUN_OK;
    case LUN_EXTERN_MEMORY:
        import->kind = LUN_EXTERN_MEMORY;
        WASM_TRY(read_limits(reader, &import->memory, state->error));
        module->imported_memory_count++;
        return LUN_OK;
    case LUN_EXTERN_GLOBAL:
        import->kind = LUN_EXTERN_GLOBAL;
        WASM_TRY(read_global_type(reader, &import->global, state->error));
        module->imported_global_count++;
        return LUN_OK;
    default:
        return wasm_reader_fail_at(offset, state->error, LUN_ERR_MALFORMED,
                                   "malformed import kind 0x%02x", kind);
    }
}

static lun_status decode_import_section(decoder *state, wasm_reader *reader)
{
    lun_module *module = state->module;
    uint32_t count;
    WASM_TRY(read_count(reader, &count, state->error));
    WASM_TRY(allocate((void **)&module->imports, count, sizeof(wasm_import), state->error));
    module->import_count = count;
    for (uint32_t index = 0; index < count; index++)
        WASM_TRY(decode_import(state, reader, &module->imports[index]));
    return LUN_OK;
}

static lun_status decode_function_section(decoder *state, wasm_reader *reader)
{
    lun_module *module = state->module;
    uint32_t count;
    WASM_TRY(read_count(reader, &count, state->error));
    WASM_TRY(allocate((void **)&module->functions, count, sizeof(wasm_function), state->error));
    module->function_count = count;
    state->has_function_section = true;
    for (uint32_t index = 0; index < count; index++)
        WASM_TRY(wasm_read_u32(reader, &module->functions[index].type_index, state->error));
    return LUN_OK;
}

static lun_status decode_table_section(decoder *state, wasm_reader *reader)
{
    lun_module *module = state->module;
    uint32_t count;
    WASM_TRY(read_count(reader, &count, state->error));
    WASM_TRY(allocate((void **)&module->tables, count, sizeof(wasm_tabletype), state->error));
    module->table_count = count;
    for (uint32_t index = 0; index < count; index++)
        WASM_TRY(read_table_type(reader, &module->tables[index], state->error));
    return LUN_OK;
}

static lun_status decode_memory_section(decoder *state, wasm_reader *reader)
{
    lun_module *module = state->module;
    uint32_t count;
    WASM_TRY(read_count(reader, &count, state->error));
    WASM_TRY(allocate((void **)&module->memories, count, sizeof(wasm_limits), state->error));
    module->memory_count = count;
    for (uint32_t index = 0; index < count; index++)
        WASM_TRY(read_limits(reader, &module->memories[index], state->error));
    return LUN_OK;
}

static lun_status decode_global_section(decoder *state, wasm_reader *reader)
{
    lun_module *module = state->module;
    uint32_t count;
    WASM_TRY(read_count(reader, &count, state->error));
    WASM_TRY(allocate((void **)&module->globals, count, sizeof(wasm_global), state->error));
    module->global_count = count;
    for (uint32_t index = 0; index < count; index++) {
        wasm_global *global = &module->globals[index];
        WASM_TRY(read_global_type(reader, &global->type, state->error));
        WASM_TRY(read_const_expr(reader, &global->init, state->error));
    }
    return LUN_OK;
}

typedef struct export_name {
    const uint8_t *text;
    uint32_t length;
    size_t offset;
} export_name;

static int compare_export_names(const void *left_pointer, const void *right_pointer)
{
    const export_name *left = left_pointer, *right = right_pointer;
    uint32_t common = left->length < right->length ? left->length : right->length;
    int order = common == 0 ? 0 : memcmp(left->text, right->text, common);
    if (order != 0) return order;
    if (left->length != right->length) return left->length < right->length ? -1 : 1;
    return left->offset < right->offset ? -1 : left->offset > right->offset;
}

/* Export names compared as bytes (they may hold NUL characters), in
 * O(n log n) so that modules with many exports stay fast. */
static lun_status check_unique_export_names(export_name *names, uint32_t count, lun_error *error)
{
    if (count < 2) return LUN_OK;
    qsort(names, count, sizeof *names, compare_export_names);
    for (uint32_t index = 1; index < count; index++) {
        const export_name *previous = &names[index - 1], *current = &names[index];
        if (previous->length == current->length &&
            (current->length == 0 || memcmp(previous->text, current->text, current->length) == 0))
            return wasm_reader_fail_at(current->offset, error, LUN_ERR_INVALID,
                                       "duplicate export name \"%.*s\"", (int)current->length,
                                       (const char *)current->text);
    }
    return LUN_OK;
}

static lun_status decode_export(decoder *state, wasm_reader *reader, wasm_export *export_,
                                export_name *name)
{
    name->offset = reader->position;
    WASM_TRY(read_name_bytes(reader, &name->text, &name->length, state->error));
    export_->name = copy_name(name->text, name->length);
    if (export_->name == NULL) return out_of_memory(state->error);
    export_->name_length = name->length;
    size_t offset = reader->position;
    uint8_t kind;
    WASM_TRY(wasm_read_u8(reader, &kind, state->error));
    if (kind > LUN_EXTERN_GLOBAL)
        return wasm_reader_fail_at(offset, state->error, LUN_ERR_MALFORMED,
                                   "malformed export kind 0x%02x", kind);
    export_->kind = (lun_extern_kind)kind;
    return wasm_read_u32(reader, &export_->index, state->error);
}

static lun_status decode_export_section(decoder *state, wasm_reader *reader)
{
    lun_module *module = state->module;
    uint32_t count;
    WASM_TRY(read_count(reader, &count, state->error));
    WASM_TRY(allocate((void **)&module->exports, count, sizeof(wasm_export), state->error));
    module->export_count = count;
    export_name *names;
    WASM_TRY(allocate((void **)&names, count, sizeof *names, state->error));
    lun_status status = LUN_OK;
    for (uint32_t index = 0; index < count && status == LUN_OK; index++)
        status = decode_export(state, reader, &module->exports[index], &names[index]);
    if (status == LUN_OK) status = check_unique_export_names(names, count, state->error);
    free(names);
    return status;
}

static lun_status decode_start_section(decoder *state, wasm_reader *reader)
{
    state->module->has_start = true;
    return wasm_read_u32(reader, &state->module->start_function, state->error);
}

static lun_status read_element_kind(wasm_reader *reader, lun_error *error)
{
    size_t offset = reader->position;
    uint8_t kind;
    WASM_TRY(wasm_read_u8(reader, &kind, error));
    if (kind != 0x00)
        return wasm_reader_fail_at(offset, error, LUN_ERR_MALFORMED,
                                   "malformed element kind 0x%02x", kind);
    return LUN_OK;
}

static lun_status decode_element_items(decoder *state, wasm_reader *reader, wasm_element *element,
                                       bool as_expressions)
{
    uint32_t count;
    WASM_TRY(read_count(reader, &count, state->error));
    WASM_TRY(allocate((void **)&element->items, count, sizeof(wasm_const_expr), state->error));
    element->item_count = count;
    for (uint32_t index = 0; index < count; index++) {
        wasm_const_expr *item = &element->items[index];
        if (as_expressions) {
            WASM_TRY(read_const_expr(reader, item, state->error));
        } else {
            item->kind = WASM_CONST_REF_FUNC;
            item->value.type = LUN_FUNCREF;
            WASM_TRY(wasm_read_u32(reader, &item->index, state->error));
        }
    }
    return LUN_OK;
}

/* The eight element segment encodings: bit 0 passive or declarative, bit 1
 * explicit table index (active) or declarative (otherwise), bit 2 items as
 * expressions rather than function indexes. */
static lun_status decode_element(decoder *state, wasm_reader *reader, wasm_element *element)
{
    size_t offset = reader->position;
    uint32_t flags;
    WASM_TRY(wasm_read_u32(reader, &flags, state->error));
    if (flags > 7)
        return wasm_reader_fail_at(offset, state->error, LUN_ERR_MALFORMED,
                                   "malformed elements segment kind %u", flags);
    bool as_expressions = flags & 4;
    element->type = LUN_FUNCREF;
    if (flags & 1) {
        element->mode = flags & 2 ? WASM_SEGMENT_DECLARATIVE : WASM_SEGMENT_PASSIVE;
    } else {
        element->mode = WASM_SEGMENT_ACTIVE;
        if (flags & 2) WASM_TRY(wasm_read_u32(reader, &element->table_index, state->error));
        WASM_TRY(read_const_expr(reader, &element->offset, state->error));
    }
    if (flags & 3) {
        if (as_expressions)
            WASM_TRY(read_reference_type(reader, &element->type, state->error));
        else
            WASM_TRY(read_element_kind(reader, state->error));
    }
    return decode_element_items(state, reader, element, as_expressions);
}

static lun_status decode_element_section(decoder *state, wasm_reader *reader)
{
    lun_module *module = state->module;
    uint32_t count;
    WASM_TRY(read_count(reader, &count, state->error));
    WASM_TRY(allocate((void **)&module->elements, count, sizeof(wasm_element), state->error));
    module->element_count = count;
    for (uint32_t index = 0; index < count; index++)
        WASM_TRY(decode_element(state, reader, &module->elements[index]));
    return LUN_OK;
}

static lun_status decode_data_count_section(decoder *state, wasm_reader *reader)
{
    state->module->has_data_count = true;
    return wasm_read_u32(reader, &state->module->data_count, state->error);
}

static lun_status decode_locals(decoder *state, wasm_reader *reader, wasm_function *function)
{
    lun_module *module = state->module;
    size_t start = reader->position;
    uint32_t group_count;
    WASM_TRY(read_count(reader, &group_count, state->error));
    uint64_t total = 0;
    wasm_reader groups = *reader;
    for (uint32_t index = 0; index < group_count; index++) {
        uint32_t count;
        lun_valtype type;
        WASM_TRY(wasm_read_u32(&groups, &count, state->error));
        WASM_TRY(read_value_type(&groups, &type, state->error));
        total += count;
    }
    if (total > UINT32_MAX)
        return wasm_reader_fail_at(start, state->error, LUN_ERR_MALFORMED, "too many locals (%llu)",
                                   (unsigned long long)total);
    uint32_t param_count = 0;
    if (function->type_index < module->type_count)
        param_count = module->types[function->type_index].param_count;
    if (total + param_count > WASM_MAX_FUNCTION_LOCALS)
        return wasm_reader_fail_at(start, state->error, LUN_ERR_UNSUPPORTED,
                                   "too many locals: %llu locals and parameters, this runtime's "
                                   "limit is %d per function",
                                   (unsigned long long)(total + param_count),
                                   WASM_MAX_FUNCTION_LOCALS);
    state->total_locals += total;
    if (state->total_locals > WASM_MAX_MODULE_LOCALS(module->size))
        return wasm_reader_fail_at(start, state->error, LUN_ERR_UNSUPPORTED,
                                   "too many locals: %llu in the module's functions, this "
                                   "runtime's limit for a module of %zu bytes is %llu",
                                   (unsigned long long)state->total_locals, module->size,
                                   (unsigned long long)WASM_MAX_MODULE_LOCALS(module->size));
    WASM_TRY(allocate((void **)&function->local_types, (size_t)total, sizeof(lun_valtype),
                      state->error));
    function->local_count = (uint32_t)total;
    uint32_t filled = 0;
    for (uint32_t index = 0; index < group_count; index++) {
        uint32_t count;
        lun_valtype type;
        WASM_TRY(wasm_read_u32(reader, &count, state->error));
        WASM_TRY(read_value_type(reader, &type, state->error));
        for (uint32_t local = 0; local < count; local++)
            function->local_types[filled++] = type;
    }
    return LUN_OK;
}

static lun_status decode_code_section(decoder *state, wasm_reader *reader)
{
    lun_module *module = state->module;
    size_t start = reader->position;
    uint32_t count;
    WASM_TRY(read_count(reader, &count, state->error));
    state->has_code_section = true;
    if (count != module->function_count)
        return wasm_reader_fail_at(start, state->error, LUN_ERR_MALFORMED,
                                   "function and code section have inconsistent lengths "
                                   "(%u functions, %u bodies)",
                                   module->function_count, count);
    for (uint32_t index = 0; index < count; index++) {
        wasm_function *function = &module->functions[index];
        size_t size_offset = reader->position;
        uint32_t size;
        WASM_TRY(wasm_read_u32(reader, &size, state->error));
        if (size > wasm_reader_remaining(reader))
            return wasm_reader_fail_at(size_offset, state->error, LUN_ERR_MALFORMED,
                                       "unexpected end of section or function: body of "
                                       "function %u is %u bytes, %zu remain",
                                       index, size, wasm_reader_remaining(reader));
        wasm_reader body = {reader->bytes, reader->position, reader->position + size};
        WASM_TRY(decode_locals(state, &body, function));
        function->body = body.bytes + body.position;
        function->body_offset = body.position;
        function->body_size = body.end - body.position;
        reader->position = body.end;
    }
    return LUN_OK;
}

static lun_status decode_data(decoder *state, wasm_reader *reader, wasm_data *data)
{
    size_t offset = reader->position;
    uint32_t flags;
    WASM_TRY(wasm_read_u32(reader, &flags, state->error));
    switch (flags) {
    case 0: data->mode = WASM_SEGMENT_ACTIVE; break;
    case 1: data->mode = WASM_SEGMENT_PASSIVE; break;
    case 2:
        data->mode = WASM_SEGMENT_ACTIVE;
        WASM_TRY(wasm_read_u32(reader, &data->memory_index, state->error));
        break;
    default:
        return wasm_reader_fail_at(offset, state->error, LUN_ERR_MALFORMED,
                                   "malformed data segment kind %u", flags);
    }
    if (data->mode == WASM_SEGMENT_ACTIVE)
        WASM_TRY(read_const_expr(reader, &data->offset, state->error));
    size_t size_offset = reader->position;
    WASM_TRY(wasm_read_u32(reader, &data->size, state->error));
    if (data->size > wasm_reader_remaining(reader))
        return wasm_reader_fail_at(size_offset, state->error, LUN_ERR_MALFORMED,
                                   "unexpected end of section or function: data segment of "
                                   "%u bytes, %zu remain",
                                   data->size, wasm_reader_remaining(reader));
    data->bytes = reader->bytes + reader->position;
    reader->position += data->size;
    return LUN_OK;
}

static lun_status decode_data_section(decoder *state, wasm_reader *reader)
{
    lun_module *module = state->module;
    size_t start = reader->position;
    uint32_t count;
    WASM_TRY(read_count(reader, &count, state->error));
    if (module->has_data_count && count != module->data_count)
        return wasm_reader_fail_at(start, state->error, LUN_ERR_MALFORMED,
                                   "data count and data section have inconsistent lengths "
                                   "(%u and %u)",
                                   module->data_count, count);
    WASM_TRY(allocate((void **)&module->data_segments, count, sizeof(wasm_data), state->error));
    module->data_segment_count = count;
    for (uint32_t index = 0; index < count; index++)
        WASM_TRY(decode_data(state, reader, &module->data_segments[index]));
    return LUN_OK;
}

static lun_status decode_custom_section(decoder *state, wasm_reader *reader)
{
    const uint8_t *name;
    uint32_t length;
    WASM_TRY(read_name_bytes(reader, &name, &length, state->error));
    if (length == 4 && memcmp(name, "name", 4) == 0 && !state->has_name_section) {
        state->has_name_section = true;
        state->name_section_start = reader->position;
        state->name_section_end = reader->end;
    }
    reader->position = reader->end; /* the contents of custom sections are not validated */
    return LUN_OK;
}

/* ---- the "name" custom section ----------------------------------------- */

/* Function names, read on a best-effort basis: a malformed name section is
 * ignored, as the spec requires of custom sections. */
static void decode_function_names(decoder *state)
{
    lun_module *module = state->module;
    wasm_reader reader = {module->bytes, state->name_section_start, state->name_section_end};
    while (!wasm_reader_at_end(&reader)) {
        uint8_t id;
        uint32_t size;
        if (wasm_read_u8(&reader, &id, NULL) != LUN_OK ||
            wasm_read_u32(&reader, &size, NULL) != LUN_OK || size > wasm_reader_remaining(&reader))
            return;
        wasm_reader subsection = {reader.bytes, reader.position, reader.position + size};
        reader.position += size;
        if (id != 1) continue;
        uint32_t count;
        if (read_count(&subsection, &count, NULL) != LUN_OK || module->total_function_count == 0)
            return;
        char **names = calloc(module->total_function_count, sizeof(char *));
        if (names == NULL) return;
        module->function_names = names;
        for (uint32_t index = 0; index < count; index++) {
            uint32_t function_index, length;
            char *name;
            if (wasm_read_u32(&subsection, &function_index, NULL) != LUN_OK ||
                read_name(&subsection, &name, &length, NULL) != LUN_OK)
                return;
            if (function_index >= module->total_function_count) {
                free(name);
                continue;
            }
            free(names[function_index]);
            names[function_index] = name;
        }
        return;
    }
}

/* ---- the module --------------------------------------------------------- */

/* Order in which the non-custom sections must appear (the data count section
 * sits between element and code). */
static int section_rank(uint8_t id)
{
    static const int ranks[] = {
        [SECTION_TYPE] = 1,        [SECTION_IMPORT] = 2, [SECTION_FUNCTION] = 3,
        [SECTION_TABLE] = 4,       [SECTION_MEMORY] = 5, [SECTION_GLOBAL] = 6,
        [SECTION_EXPORT] = 7,      [SECTION_START] = 8,  [SECTION_ELEMENT] = 9,
        [SECTION_DATA_COUNT] = 10, [SECTION_CODE] = 11,  [SECTION_DATA] = 12,
    };
    return ranks[id];
}

static lun_status decode_section(decoder *state, uint8_t id, wasm_reader *reader)
{
    switch (id) {
    case SECTION_CUSTOM: return decode_custom_section(state, reader);
    case SECTION_TYPE: return decode_type_section(state, reader);
    case SECTION_IMPORT: return decode_import_section(state, reader);
    case SECTION_FUNCTION: return decode_function_section(state, reader);
    case SECTION_TABLE: return decode_table_section(state, reader);
    case SECTION_MEMORY: return decode_memory_section(state, reader);
    case SECTION_GLOBAL: return decode_global_section(state, reader);
    case SECTION_EXPORT: return decode_export_section(state, reader);
    case SECTION_START: return decode_start_section(state, reader);
    case SECTION_ELEMENT: return decode_element_section(state, reader);
    case SECTION_CODE: return decode_code_section(state, reader);
    case SECTION_DATA: return decode_data_section(state, reader);
    case SECTION_DATA_COUNT: return decode_data_count_section(state, reader);
    default: return LUN_OK;
    }
}

static lun_status decode_sections(decoder *state, wasm_reader *reader)
{
    int last_rank = 0;
    while (!wasm_reader_at_end(reader)) {
        size_t section_offset = reader->position;
        uint8_t id;
        WASM_TRY(wasm_read_u8(reader, &id, state->error));
        if (id > SECTION_DATA_COUNT)
            return wasm_reader_fail_at(section_offset, state->error, LUN_ERR_MALFORMED,
                                       "malformed section id %u", id);
        if (id != SECTION_CUSTOM) {
            int rank = section_rank(id);
            if (rank <= last_rank)
                return wasm_reader_fail_at(section_offset, state->error, LUN_ERR_MALFORMED,
                                           "unexpected content after last section (section "
                                           "id %u is out of order or repeated)",
                                           id);
            last_rank = rank;
        }
        size_t size_offset = reader->position;
        uint32_t size;
        WASM_TRY(wasm_read_u32(reader, &size, state->error));
        if (size > wasm_reader_remaining(reader))
            return wasm_reader_fail_at(
                size_offset, state->error, LUN_ERR_MALFORMED,
                "length out of bounds (unexpected end): section %u of %u bytes, %zu remain", id,
                size, wasm_reader_remaining(reader));
        wasm_reader section = {reader->bytes, reader->position, reader->position + size};
        WASM_TRY(decode_section(state, id, &section));
        if (section.position != section.end)
            return wasm_reader_fail_at(section.position, state->error, LUN_ERR_MALFORMED,
                                       "section size mismatch: section %u ends at byte 0x%zx", id,
                                       section.end);
        reader->position = section.end;
    }
    return LUN_OK;
}

/* Function index space, and the functions that ref.func may name in code. */
static lun_status index_functions(decoder *state)
{
    lun_module *module = state->module;
    uint64_t total = (uint64_t)module->imported_function_count + module->function_count;
    if (total > UINT32_MAX)
        return lun_error_set(state->error, LUN_ERR_MALFORMED, "too many functions");
    module->total_function_count = (uint32_t)total;
    WASM_TRY(
        allocate((void **)&module->function_type_indexes, total, sizeof(uint32_t), state->error));
    uint32_t next = 0;
    for (uint32_t index = 0; index < module->import_count; index++)
        if (module->imports[index].kind == LUN_EXTERN_FUNC)
            module->function_type_indexes[next++] = module->imports[index].type_index;
    for (uint32_t index = 0; index < module->function_count; index++)
        module->function_type_indexes[next++] = module->functions[index].type_index;

    WASM_TRY(allocate((void **)&module->declared_function_refs, total / 8 + 1, 1, state->error));
    uint8_t *declared = module->declared_function_refs;
#define DECLARE(function_index)                                                                    \
    do {                                                                                           \
        uint32_t declared_index_ = (function_index);                                               \
        if (declared_index_ < total)                                                               \
            declared[declared_index_ / 8] |= (uint8_t)(1u << (declared_index_ % 8));               \
    } while (0)
    for (uint32_t index = 0; index < module->export_count; index++)
        if (module->exports[index].kind == LUN_EXTERN_FUNC) DECLARE(module->exports[index].index);
    for (uint32_t index = 0; index < module->global_count; index++)
        if (module->globals[index].init.kind == WASM_CONST_REF_FUNC)
            DECLARE(module->globals[index].init.index);
    for (uint32_t index = 0; index < module->element_count; index++) {
        const wasm_element *element = &module->elements[index];
        for (uint32_t item = 0; item < element->item_count; item++)
            if (element->items[item].kind == WASM_CONST_REF_FUNC)
                DECLARE(element->items[item].index);
    }
#undef DECLARE
    return LUN_OK;
}

static lun_status decode_module(decoder *state)
{
    lun_module *module = state->module;
    wasm_reader reader = {module->bytes, 0, module->size};
    uint32_t magic, version;
    if (module->size < 4)
        return wasm_reader_fail_at(0, state->error, LUN_ERR_MALFORMED,
                                   "unexpected end: magic header not detected");
    WASM_TRY(wasm_read_u32_fixed(&reader, &magic, state->error));
    if (magic != 0x6D736100)
        return wasm_reader_fail_at(0, state->error, LUN_ERR_MALFORMED, "magic header not detected");
    if (module->size < 8)
        return wasm_reader_fail_at(4, state->error, LUN_ERR_MALFORMED,
                                   "unexpected end: unknown binary version");
    WASM_TRY(wasm_read_u32_fixed(&reader, &version, state->error));
    if (version != 1)
        return wasm_reader_fail_at(4, state->error, LUN_ERR_MALFORMED, "unknown binary version %u",
                                   version);
    WASM_TRY(decode_sections(state, &reader));
    if (module->function_count > 0 && !state->has_code_section)
        return wasm_reader_fail_at(module->size, state->error, LUN_ERR_MALFORMED,
                                   "function and code section have inconsistent lengths (%u "
                                   "functions, no code section)",
                                   module->function_count);
    if (module->has_data_count && module->data_count != module->data_segment_count)
        return wasm_reader_fail_at(module->size, state->error, LUN_ERR_MALFORMED,
                                   "data count and data section have inconsistent lengths "
                                   "(%u and %u)",
                                   module->data_count, module->data_segment_count);
    WASM_TRY(index_functions(state));
    if (state->has_name_section) decode_function_names(state);
    return LUN_OK;
}

lun_status wasm_decode(const uint8_t *bytes, size_t size, lun_module **result, lun_error *error)
{
    *result = NULL;
    if (bytes == NULL && size > 0)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no module bytes");
    lun_module *module = calloc(1, sizeof *module);
    if (module == NULL) return out_of_memory(error);
    atomic_init(&module->references, 1);
    module->bytes = malloc(size > 0 ? size : 1);
    if (module->bytes == NULL) {
        free(module);
        return out_of_memory(error);
    }
    if (size > 0) memcpy(module->bytes, bytes, size);
    module->size = size;
    decoder state = {.module = module, .error = error};
    lun_status status = decode_module(&state);
    if (status != LUN_OK) {
        wasm_module_destroy(module);
        return status;
    }
    *result = module;
    return LUN_OK;
}
