/*
 * Validation of a decoded module against the typing rules of WebAssembly 2.0
 * (without SIMD).
 *
 * Function bodies are checked with the algorithm of the spec's validation
 * appendix: an operand stack of value types (with "unknown" for the values a
 * polymorphic stack makes up after unreachable, br, br_table or return) and a
 * stack of control frames, both on the heap and reused from one function to
 * the next, so that validation is linear in the size of the module and deep
 * nesting costs no C stack. The instructions are read here for the first
 * time, so malformed bodies (unknown opcodes, bad immediates) are reported
 * here too, as LUN_ERR_MALFORMED.
 */
#include <stdlib.h>
#include <string.h>

#include "module.h"
#include "reader.h"

/* The operand stack's entries are value type codes; 0 is "unknown". */
enum { UNKNOWN = 0 };

enum { MAX_MEMORY_PAGES = 65536 };

typedef struct block_type {
    uint32_t param_count;
    uint32_t result_count;
    const lun_valtype *params;
    const lun_valtype *results;
} block_type;

typedef struct control_frame {
    uint8_t opcode; /* 0x02 block, 0x03 loop, 0x04 if, 0x05 else, 0x00 the function */
    bool unreachable;
    size_t height;
    block_type type;
    uint64_t br_table_mark; /* the last br_table that checked a branch to this frame */
} control_frame;

typedef struct validator {
    const lun_module *module;
    lun_error *error;

    /* Types of every table, memory and global in index space order. */
    uint32_t table_count;
    const wasm_tabletype **tables;
    uint32_t memory_count;
    uint32_t global_count;
    const wasm_globaltype **globals;

    /* The function being checked. */
    uint32_t function_index;
    const wasm_functype *function_type;
    const wasm_function *function;
    wasm_reader reader;
    size_t instruction_offset;

    uint8_t *values;
    size_t value_count;
    size_t value_capacity;
    control_frame *frames;
    size_t frame_count;
    size_t frame_capacity;
    uint64_t br_table_count;
} validator;

/* Storage for single-result block types, so that a block_type may point at it. */
static const lun_valtype single_types[] = {LUN_I32, LUN_I64,     LUN_F32,
                                           LUN_F64, LUN_FUNCREF, LUN_EXTERNREF};

static const lun_valtype *single_type(lun_valtype type)
{
    for (size_t index = 0; index < sizeof single_types / sizeof single_types[0]; index++)
        if (single_types[index] == type) return &single_types[index];
    return NULL;
}

static const char *type_name(uint8_t type)
{
    switch (type) {
    case LUN_I32: return "i32";
    case LUN_I64: return "i64";
    case LUN_F32: return "f32";
    case LUN_F64: return "f64";
    case LUN_V128: return "v128";
    case LUN_FUNCREF: return "funcref";
    case LUN_EXTERNREF: return "externref";
    case UNKNOWN: return "unknown";
    default: return "?";
    }
}

static bool is_reference(uint8_t type)
{
    return type == LUN_FUNCREF || type == LUN_EXTERNREF;
}

/* ---- errors --------------------------------------------------------------- */

static lun_status invalid(validator *state, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static lun_status malformed(validator *state, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static lun_status report(validator *state, lun_status code, const char *format, va_list args)
{
    if (state->error == NULL) return code;
    char message[LUN_ERROR_MESSAGE_SIZE];
    vsnprintf(message, sizeof message, format, args);
    if (state->function == NULL) return lun_error_set(state->error, code, "%s", message);
    const char *name = wasm_function_name(state->module, state->function_index);
    return wasm_reader_fail_at(
        state->instruction_offset, state->error, code, "%s (function %u%s%s%s, opcode 0x%02x)",
        message, state->function_index, name != NULL ? " \"" : "", name != NULL ? name : "",
        name != NULL ? "\"" : "", state->reader.bytes[state->instruction_offset]);
}

static lun_status invalid(validator *state, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    lun_status status = report(state, LUN_ERR_INVALID, format, args);
    va_end(args);
    return status;
}

static lun_status malformed(validator *state, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    lun_status status = report(state, LUN_ERR_MALFORMED, format, args);
    va_end(args);
    return status;
}

static lun_status out_of_memory(validator *state)
{
    return lun_error_set(state->error, LUN_ERR_NO_MEMORY, "out of memory while validating");
}

/* ---- operand and control stacks ---------------------------------------- */

static lun_status grow(validator *state, void **array, size_t *capacity, size_t element_size)
{
    size_t new_capacity = *capacity < 64 ? 64 : *capacity * 2;
    void *grown = realloc(*array, new_capacity * element_size);
    if (grown == NULL) return out_of_memory(state);
    *array = grown;
    *capacity = new_capacity;
    return LUN_OK;
}

static lun_status push(validator *state, uint8_t type)
{
    if (state->value_count >= WASM_MAX_OPERAND_STACK)
        return wasm_reader_fail_at(state->instruction_offset, state->error, LUN_ERR_UNSUPPORTED,
                                   "more than %d values on the operand stack of function %u",
                                   WASM_MAX_OPERAND_STACK, state->function_index);
    if (state->value_count == state->value_capacity)
        WASM_TRY(grow(state, (void **)&state->values, &state->value_capacity, 1));
    state->values[state->value_count++] = type;
    return LUN_OK;
}

static lun_status push_types(validator *state, const lun_valtype *types, uint32_t count)
{
    for (uint32_t index = 0; index < count; index++)
        WASM_TRY(push(state, (uint8_t)types[index]));
    return LUN_OK;
}

static control_frame *top_frame(validator *state)
{
    return &state->frames[state->frame_count - 1];
}

static lun_status pop(validator *state, uint8_t *type)
{
    *type = UNKNOWN;
    const control_frame *frame = top_frame(state);
    if (state->value_count == frame->height) {
        if (frame->unreachable) {
            *type = UNKNOWN;
            return LUN_OK;
        }
        return invalid(state, "type mismatch: a value is expected but the stack is empty");
    }
    *type = state->values[--state->value_count];
    return LUN_OK;
}

static lun_status pop_expect(validator *state, uint8_t expected, uint8_t *actual)
{
    uint8_t type;
    WASM_TRY(pop(state, &type));
    if (type != expected && type != UNKNOWN && expected != UNKNOWN)
        return invalid(state, "type mismatch: %s expected, found %s", type_name(expected),
                       type_name(type));
    if (actual != NULL) *actual = type;
    return LUN_OK;
}

static lun_status pop_types(validator *state, const lun_valtype *types, uint32_t count)
{
    for (uint32_t index = count; index > 0; index--)
        WASM_TRY(pop_expect(state, (uint8_t)types[index - 1], NULL));
    return LUN_OK;
}

static lun_status push_frame(validator *state, uint8_t opcode, block_type type)
{
    if (state->frame_count == state->frame_capacity)
        WASM_TRY(
            grow(state, (void **)&state->frames, &state->frame_capacity, sizeof(control_frame)));
    control_frame *frame = &state->frames[state->frame_count++];
    frame->opcode = opcode;
    frame->unreachable = false;
    frame->height = state->value_count;
    frame->type = type;
    frame->br_table_mark = 0;
    return push_types(state, type.params, type.param_count);
}

static lun_status pop_frame(validator *state, control_frame *popped)
{
    if (state->frame_count == 0) return malformed(state, "unexpected end of function body");
    control_frame *frame = top_frame(state);
    WASM_TRY(pop_types(state, frame->type.results, frame->type.result_count));
    if (state->value_count != frame->height)
        return invalid(state,
                       "type mismatch: %zu values left on the stack at the end of a "
                       "block",
                       state->value_count - frame->height);
    *popped = *frame;
    state->frame_count--;
    return LUN_OK;
}

static void set_unreachable(validator *state)
{
    control_frame *frame = top_frame(state);
    state->value_count = frame->height;
    frame->unreachable = true;
}

/* The types a branch to a frame carries: its parameters for a loop, its
 * results otherwise. */
static void label_types(const control_frame *frame, const lun_valtype **types, uint32_t *count)
{
    if (frame->opcode == 0x03) {
        *types = frame->type.params;
        *count = frame->type.param_count;
    } else {
        *types = frame->type.results;
        *count = frame->type.result_count;
    }
}

/* ---- immediates ------------------------------------------------------------ */

static lun_status read_index(validator *state, uint32_t *index)
{
    return wasm_read_u32(&state->reader, index, state->error);
}

static lun_status read_zero_byte(validator *state)
{
    size_t offset = state->reader.position;
    uint8_t byte;
    WASM_TRY(wasm_read_u8(&state->reader, &byte, state->error));
    if (byte != 0)
        return wasm_reader_fail_at(offset, state->error, LUN_ERR_MALFORMED,
                                   "zero byte expected (found 0x%02x)", byte);
    return LUN_OK;
}

static lun_status read_label(validator *state, control_frame **frame)
{
    *frame = NULL;
    uint32_t depth;
    WASM_TRY(read_index(state, &depth));
    if (depth >= state->frame_count) return invalid(state, "unknown label %u", depth);
    *frame = &state->frames[state->frame_count - 1 - depth];
    return LUN_OK;
}

static lun_status read_block_type(validator *state, block_type *type)
{
    memset(type, 0, sizeof *type);
    size_t offset = state->reader.position;
    int64_t value;
    WASM_TRY(wasm_read_signed(&state->reader, 33, &value, state->error));
    memset(type, 0, sizeof *type);
    if (value == -0x40) return LUN_OK;
    if (value < 0) {
        if (state->reader.position - offset != 1)
            return wasm_reader_fail_at(offset, state->error, LUN_ERR_MALFORMED,
                                       "malformed block type");
        lun_valtype result;
        WASM_TRY(wasm_check_value_type(offset, (uint8_t)(value & 0x7F), &result, state->error));
        type->results = single_type(result);
        type->result_count = 1;
        return LUN_OK;
    }
    if ((uint64_t)value >= state->module->type_count)
        return invalid(state, "unknown type %lld", (long long)value);
    const wasm_functype *function_type = &state->module->types[value];
    type->param_count = function_type->param_count;
    type->params = function_type->types;
    type->result_count = function_type->result_count;
    type->results = function_type->types + function_type->param_count;
    return LUN_OK;
}

static lun_status read_table(validator *state, const wasm_tabletype **table)
{
    *table = NULL;
    uint32_t index;
    WASM_TRY(read_index(state, &index));
    if (index >= state->table_count) return invalid(state, "unknown table %u", index);
    *table = state->tables[index];
    return LUN_OK;
}

static lun_status check_memory(validator *state)
{
    if (state->memory_count == 0) return invalid(state, "unknown memory 0");
    return LUN_OK;
}

/* ---- instruction groups ---------------------------------------------------- */

static lun_status check_block(validator *state, uint8_t opcode)
{
    block_type type;
    WASM_TRY(read_block_type(state, &type));
    if (opcode == 0x04) WASM_TRY(pop_expect(state, LUN_I32, NULL));
    WASM_TRY(pop_types(state, type.params, type.param_count));
    return push_frame(state, opcode, type);
}

static lun_status check_else(validator *state)
{
    if (top_frame(state)->opcode != 0x04) return malformed(state, "else without a matching if");
    control_frame frame;
    WASM_TRY(pop_frame(state, &frame));
    return push_frame(state, 0x05, frame.type);
}

static bool same_types(const lun_valtype *left, uint32_t left_count, const lun_valtype *right,
                       uint32_t right_count)
{
    if (left_count != right_count) return false;
    return left_count == 0 || memcmp(left, right, left_count * sizeof *left) == 0;
}

static lun_status check_end(validator *state)
{
    control_frame frame;
    WASM_TRY(pop_frame(state, &frame));
    /* An if without else passes its parameters through the missing branch. */
    if (frame.opcode == 0x04 && !same_types(frame.type.params, frame.type.param_count,
                                            frame.type.results, frame.type.result_count))
        return invalid(state, "type mismatch: if without else must have matching parameters "
                              "and results");
    if (state->frame_count == 0) return LUN_OK;
    return push_types(state, frame.type.results, frame.type.result_count);
}

static lun_status check_branch(validator *state, bool conditional)
{
    control_frame *frame;
    WASM_TRY(read_label(state, &frame));
    const lun_valtype *types;
    uint32_t count;
    label_types(frame, &types, &count);
    if (!conditional) {
        WASM_TRY(pop_types(state, types, count));
        set_unreachable(state);
        return LUN_OK;
    }
    WASM_TRY(pop_expect(state, LUN_I32, NULL));
    WASM_TRY(pop_types(state, types, count));
    return push_types(state, types, count);
}

/* Whether the top of the stack could be passed to a label of these types,
 * without changing the stack (the spec's push_vals(pop_vals(...)), which only
 * matters for the errors it raises). */
static lun_status check_label_operands(validator *state, const lun_valtype *types, uint32_t count)
{
    const control_frame *frame = top_frame(state);
    size_t available = state->value_count - frame->height;
    for (uint32_t index = 0; index < count; index++) {
        uint32_t depth = count - 1 - index; /* 0 for the top of the stack */
        if (depth >= available) {
            if (frame->unreachable) continue;
            return invalid(state, "type mismatch: branch target needs %u values", count);
        }
        uint8_t actual = state->values[state->value_count - 1 - depth];
        if (actual != UNKNOWN && actual != (uint8_t)types[index])
            return invalid(state, "type mismatch: %s expected by a branch target, found %s",
                           type_name((uint8_t)types[index]), type_name(actual));
    }
    return LUN_OK;
}

static lun_status check_br_table(validator *state)
{
    uint32_t count;
    WASM_TRY(read_index(state, &count));
    if (count > wasm_reader_remaining(&state->reader))
        return wasm_reader_fail_at(state->reader.position, state->error, LUN_ERR_MALFORMED,
                                   "unexpected end of section or function: br_table of %u "
                                   "labels",
                                   count);
    /* The default label comes last but decides the arity: find it first. */
    wasm_reader targets = state->reader;
    for (uint32_t index = 0; index < count; index++) {
        uint32_t ignored;
        WASM_TRY(read_index(state, &ignored));
    }
    control_frame *default_frame;
    WASM_TRY(read_label(state, &default_frame));
    const lun_valtype *default_types;
    uint32_t default_count;
    label_types(default_frame, &default_types, &default_count);
    WASM_TRY(pop_expect(state, LUN_I32, NULL));
    uint64_t mark = ++state->br_table_count;
    wasm_reader after = state->reader;
    state->reader = targets;
    for (uint32_t index = 0; index < count; index++) {
        control_frame *frame;
        WASM_TRY(read_label(state, &frame));
        const lun_valtype *types;
        uint32_t type_count;
        label_types(frame, &types, &type_count);
        if (type_count != default_count)
            return invalid(state,
                           "type mismatch: br_table targets of different arities "
                           "(%u and %u)",
                           type_count, default_count);
        /* Each frame is checked once per br_table, so that a long table of
         * labels with many values each stays linear. */
        if (types != default_types && frame->br_table_mark != mark) {
            frame->br_table_mark = mark;
            WASM_TRY(check_label_operands(state, types, type_count));
        }
    }
    state->reader = after;
    WASM_TRY(pop_types(state, default_types, default_count));
    set_unreachable(state);
    return LUN_OK;
}

static lun_status check_call_type(validator *state, const wasm_functype *type)
{
    WASM_TRY(pop_types(state, type->types, type->param_count));
    return push_types(state, type->types + type->param_count, type->result_count);
}

static lun_status check_call(validator *state)
{
    uint32_t index;
    WASM_TRY(read_index(state, &index));
    if (index >= state->module->total_function_count)
        return invalid(state, "unknown function %u", index);
    const wasm_functype *type = wasm_function_type(state->module, index);
    if (type == NULL) return invalid(state, "unknown type of function %u", index);
    return check_call_type(state, type);
}

static lun_status check_call_indirect(validator *state)
{
    uint32_t type_index;
    WASM_TRY(read_index(state, &type_index));
    const wasm_tabletype *table;
    WASM_TRY(read_table(state, &table));
    if (table->element_type != LUN_FUNCREF)
        return invalid(state, "type mismatch: call_indirect through a table of %s",
                       type_name((uint8_t)table->element_type));
    if (type_index >= state->module->type_count)
        return invalid(state, "unknown type %u", type_index);
    WASM_TRY(pop_expect(state, LUN_I32, NULL));
    return check_call_type(state, &state->module->types[type_index]);
}

static lun_status check_select(validator *state, bool typed)
{
    uint8_t expected = UNKNOWN;
    if (typed) {
        uint32_t count;
        WASM_TRY(read_index(state, &count));
        if (count != 1) return invalid(state, "invalid result arity %u for select", count);
        size_t offset = state->reader.position;
        uint8_t byte;
        lun_valtype type;
        WASM_TRY(wasm_read_u8(&state->reader, &byte, state->error));
        WASM_TRY(wasm_check_value_type(offset, byte, &type, state->error));
        expected = (uint8_t)type;
    }
    WASM_TRY(pop_expect(state, LUN_I32, NULL));
    uint8_t first = UNKNOWN, second = UNKNOWN;
    WASM_TRY(pop_expect(state, expected, &first));
    WASM_TRY(pop_expect(state, expected, &second));
    if (typed) return push(state, expected);
    if (is_reference(first) || is_reference(second))
        return invalid(state, "type mismatch: select without a type needs numeric operands");
    if (first != second && first != UNKNOWN && second != UNKNOWN)
        return invalid(state, "type mismatch: select operands %s and %s", type_name(second),
                       type_name(first));
    return push(state, first == UNKNOWN ? second : first);
}

static lun_status local_type(validator *state, uint8_t *type)
{
    *type = UNKNOWN;
    uint32_t index;
    WASM_TRY(read_index(state, &index));
    uint32_t param_count = state->function_type->param_count;
    if (index < param_count) {
        *type = (uint8_t)state->function_type->types[index];
        return LUN_OK;
    }
    if (index - param_count < state->function->local_count) {
        *type = (uint8_t)state->function->local_types[index - param_count];
        return LUN_OK;
    }
    return invalid(state, "unknown local %u", index);
}

static lun_status check_variable(validator *state, uint8_t opcode)
{
    uint8_t type = UNKNOWN;
    if (opcode <= 0x22) {
        WASM_TRY(local_type(state, &type));
        if (opcode == 0x20) return push(state, type);
        WASM_TRY(pop_expect(state, type, NULL));
        return opcode == 0x22 ? push(state, type) : LUN_OK;
    }
    uint32_t index;
    WASM_TRY(read_index(state, &index));
    if (index >= state->global_count) return invalid(state, "unknown global %u", index);
    const wasm_globaltype *global = state->globals[index];
    if (opcode == 0x23) return push(state, (uint8_t)global->type);
    if (!global->is_mutable)
        return invalid(state, "global is immutable: global.set of global %u", index);
    return pop_expect(state, (uint8_t)global->type, NULL);
}

static lun_status check_table_access(validator *state, uint8_t opcode)
{
    const wasm_tabletype *table;
    WASM_TRY(read_table(state, &table));
    uint8_t element = (uint8_t)table->element_type;
    if (opcode == 0x25) {
        WASM_TRY(pop_expect(state, LUN_I32, NULL));
        return push(state, element);
    }
    WASM_TRY(pop_expect(state, element, NULL));
    return pop_expect(state, LUN_I32, NULL);
}

/* Loads and stores, 0x28 to 0x3E: natural alignment (log2) and value type. */
static const struct {
    uint8_t alignment;
    uint8_t type;
} memory_accesses[] = {
    {2, LUN_I32}, {3, LUN_I64}, {2, LUN_F32}, {3, LUN_F64}, {0, LUN_I32}, {0, LUN_I32},
    {1, LUN_I32}, {1, LUN_I32}, {0, LUN_I64}, {0, LUN_I64}, {1, LUN_I64}, {1, LUN_I64},
    {2, LUN_I64}, {2, LUN_I64}, {2, LUN_I32}, {3, LUN_I64}, {2, LUN_F32}, {3, LUN_F64},
    {0, LUN_I32}, {1, LUN_I32}, {0, LUN_I64}, {1, LUN_I64}, {2, LUN_I64},
};

static lun_status check_memory_access(validator *state, uint8_t opcode)
{
    uint32_t alignment, offset;
    WASM_TRY(read_index(state, &alignment));
    WASM_TRY(read_index(state, &offset));
    WASM_TRY(check_memory(state));
    uint8_t natural = memory_accesses[opcode - 0x28].alignment;
    uint8_t type = memory_accesses[opcode - 0x28].type;
    if (alignment > natural)
        return invalid(state, "alignment must not be larger than natural (2^%u > %u bytes)",
                       alignment, 1u << natural);
    if (opcode <= 0x35) {
        WASM_TRY(pop_expect(state, LUN_I32, NULL));
        return push(state, type);
    }
    WASM_TRY(pop_expect(state, type, NULL));
    return pop_expect(state, LUN_I32, NULL);
}

static lun_status check_memory_size_or_grow(validator *state, uint8_t opcode)
{
    WASM_TRY(read_zero_byte(state));
    WASM_TRY(check_memory(state));
    if (opcode == 0x40) WASM_TRY(pop_expect(state, LUN_I32, NULL));
    return push(state, LUN_I32);
}

static lun_status check_constant(validator *state, uint8_t opcode)
{
    switch (opcode) {
    case 0x41: {
        int32_t value;
        WASM_TRY(wasm_read_s32(&state->reader, &value, state->error));
        return push(state, LUN_I32);
    }
    case 0x42: {
        int64_t value;
        WASM_TRY(wasm_read_s64(&state->reader, &value, state->error));
        return push(state, LUN_I64);
    }
    case 0x43:
        WASM_TRY(wasm_reader_skip(&state->reader, 4, state->error));
        return push(state, LUN_F32);
    default:
        WASM_TRY(wasm_reader_skip(&state->reader, 8, state->error));
        return push(state, LUN_F64);
    }
}

/* Numeric instructions 0x45 to 0xC4: operand types (second 0 for unary) and
 * result type. */
#define I LUN_I32
#define L LUN_I64
#define F LUN_F32
#define D LUN_F64
static const struct {
    uint8_t first, second, result;
} numeric_ops[0xC5] = {
    [0x45] = {I, 0, I},          [0x46 ... 0x4F] = {I, I, I}, [0x50] = {L, 0, I},
    [0x51 ... 0x5A] = {L, L, I}, [0x5B ... 0x60] = {F, F, I}, [0x61 ... 0x66] = {D, D, I},
    [0x67 ... 0x69] = {I, 0, I}, [0x6A ... 0x78] = {I, I, I}, [0x79 ... 0x7B] = {L, 0, L},
    [0x7C ... 0x8A] = {L, L, L}, [0x8B ... 0x91] = {F, 0, F}, [0x92 ... 0x98] = {F, F, F},
    [0x99 ... 0x9F] = {D, 0, D}, [0xA0 ... 0xA6] = {D, D, D}, [0xA7] = {L, 0, I},
    [0xA8 ... 0xA9] = {F, 0, I}, [0xAA ... 0xAB] = {D, 0, I}, [0xAC ... 0xAD] = {I, 0, L},
    [0xAE ... 0xAF] = {F, 0, L}, [0xB0 ... 0xB1] = {D, 0, L}, [0xB2 ... 0xB3] = {I, 0, F},
    [0xB4 ... 0xB5] = {L, 0, F}, [0xB6] = {D, 0, F},          [0xB7 ... 0xB8] = {I, 0, D},
    [0xB9 ... 0xBA] = {L, 0, D}, [0xBB] = {F, 0, D},          [0xBC] = {F, 0, I},
    [0xBD] = {D, 0, L},          [0xBE] = {I, 0, F},          [0xBF] = {L, 0, D},
    [0xC0 ... 0xC1] = {I, 0, I}, [0xC2 ... 0xC4] = {L, 0, L},
};

/* 0xFC 0 to 7: saturating truncations. */
static const struct {
    uint8_t operand, result;
} saturating_truncations[8] = {
    {F, I}, {F, I}, {D, I}, {D, I}, {F, L}, {F, L}, {D, L}, {D, L},
};
#undef I
#undef L
#undef F
#undef D

static lun_status check_numeric(validator *state, uint8_t opcode)
{
    if (numeric_ops[opcode].second != 0)
        WASM_TRY(pop_expect(state, numeric_ops[opcode].second, NULL));
    WASM_TRY(pop_expect(state, numeric_ops[opcode].first, NULL));
    return push(state, numeric_ops[opcode].result);
}

static lun_status check_reference(validator *state, uint8_t opcode)
{
    if (opcode == 0xD0) {
        size_t offset = state->reader.position;
        uint8_t byte;
        WASM_TRY(wasm_read_u8(&state->reader, &byte, state->error));
        if (!is_reference(byte))
            return wasm_reader_fail_at(offset, state->error, LUN_ERR_MALFORMED,
                                       "malformed reference type 0x%02x", byte);
        return push(state, byte);
    }
    if (opcode == 0xD1) {
        uint8_t type;
        WASM_TRY(pop(state, &type));
        if (type != UNKNOWN && !is_reference(type))
            return invalid(state, "type mismatch: ref.is_null of %s", type_name(type));
        return push(state, LUN_I32);
    }
    uint32_t index;
    WASM_TRY(read_index(state, &index));
    if (index >= state->module->total_function_count)
        return invalid(state, "unknown function %u", index);
    const uint8_t *declared = state->module->declared_function_refs;
    if (declared == NULL || !(declared[index / 8] & (1u << (index % 8))))
        return invalid(state, "undeclared function reference %u", index);
    return push(state, LUN_FUNCREF);
}

static lun_status pop_i32s(validator *state, int count)
{
    for (int index = 0; index < count; index++)
        WASM_TRY(pop_expect(state, LUN_I32, NULL));
    return LUN_OK;
}

static lun_status read_data_index(validator *state)
{
    uint32_t index;
    WASM_TRY(read_index(state, &index));
    if (!state->module->has_data_count) return malformed(state, "data count section required");
    if (index >= state->module->data_count) return invalid(state, "unknown data segment %u", index);
    return LUN_OK;
}

static lun_status check_element_index(validator *state, uint32_t index,
                                      const wasm_element **element)
{
    *element = NULL;
    if (index >= state->module->element_count)
        return invalid(state, "unknown elem segment %u", index);
    *element = &state->module->elements[index];
    return LUN_OK;
}

static lun_status check_table_instruction(validator *state, uint32_t operation)
{
    const wasm_tabletype *table = NULL, *source = NULL;
    const wasm_element *element = NULL;
    uint32_t element_index = 0;
    switch (operation) {
    case 12: /* table.init elem table */
        WASM_TRY(read_index(state, &element_index));
        WASM_TRY(read_table(state, &table));
        WASM_TRY(check_element_index(state, element_index, &element));
        if (element->type != table->element_type)
            return invalid(state, "type mismatch: table.init of %s elements into a %s table",
                           type_name((uint8_t)element->type),
                           type_name((uint8_t)table->element_type));
        return pop_i32s(state, 3);
    case 13: /* elem.drop */
        WASM_TRY(read_index(state, &element_index));
        return check_element_index(state, element_index, &element);
    case 14: /* table.copy destination source */
        WASM_TRY(read_table(state, &table));
        WASM_TRY(read_table(state, &source));
        if (table->element_type != source->element_type)
            return invalid(state, "type mismatch: table.copy between %s and %s tables",
                           type_name((uint8_t)source->element_type),
                           type_name((uint8_t)table->element_type));
        return pop_i32s(state, 3);
    case 15: /* table.grow */
        WASM_TRY(read_table(state, &table));
        WASM_TRY(pop_expect(state, LUN_I32, NULL));
        WASM_TRY(pop_expect(state, (uint8_t)table->element_type, NULL));
        return push(state, LUN_I32);
    case 16: /* table.size */ WASM_TRY(read_table(state, &table)); return push(state, LUN_I32);
    default: /* 17 table.fill */
        WASM_TRY(read_table(state, &table));
        WASM_TRY(pop_expect(state, LUN_I32, NULL));
        WASM_TRY(pop_expect(state, (uint8_t)table->element_type, NULL));
        return pop_expect(state, LUN_I32, NULL);
    }
}

static lun_status check_prefixed(validator *state)
{
    uint32_t operation;
    WASM_TRY(read_index(state, &operation));
    if (operation < 8) {
        WASM_TRY(pop_expect(state, saturating_truncations[operation].operand, NULL));
        return push(state, saturating_truncations[operation].result);
    }
    switch (operation) {
    case 8: /* memory.init data 0 */
        WASM_TRY(read_data_index(state));
        WASM_TRY(read_zero_byte(state));
        WASM_TRY(check_memory(state));
        return pop_i32s(state, 3);
    case 9: /* data.drop */ return read_data_index(state);
    case 10: /* memory.copy 0 0 */
        WASM_TRY(read_zero_byte(state));
        WASM_TRY(read_zero_byte(state));
        WASM_TRY(check_memory(state));
        return pop_i32s(state, 3);
    case 11: /* memory.fill 0 */
        WASM_TRY(read_zero_byte(state));
        WASM_TRY(check_memory(state));
        return pop_i32s(state, 3);
    case 12:
    case 13:
    case 14:
    case 15:
    case 16:
    case 17: return check_table_instruction(state, operation);
    default: return malformed(state, "illegal opcode 0xfc %u", operation);
    }
}

/* ---- function bodies ------------------------------------------------------- */

static lun_status check_instruction(validator *state, uint8_t opcode)
{
    switch (opcode) {
    case 0x00: set_unreachable(state); return LUN_OK;
    case 0x01: return LUN_OK;
    case 0x02:
    case 0x03:
    case 0x04: return check_block(state, opcode);
    case 0x05: return check_else(state);
    case 0x0B: return check_end(state);
    case 0x0C: return check_branch(state, false);
    case 0x0D: return check_branch(state, true);
    case 0x0E: return check_br_table(state);
    case 0x0F: {
        const wasm_functype *type = state->function_type;
        WASM_TRY(pop_types(state, type->types + type->param_count, type->result_count));
        set_unreachable(state);
        return LUN_OK;
    }
    case 0x10: return check_call(state);
    case 0x11: return check_call_indirect(state);
    case 0x1A: {
        uint8_t ignored;
        return pop(state, &ignored);
    }
    case 0x1B: return check_select(state, false);
    case 0x1C: return check_select(state, true);
    case 0x20 ... 0x24: return check_variable(state, opcode);
    case 0x25:
    case 0x26: return check_table_access(state, opcode);
    case 0x28 ... 0x3E: return check_memory_access(state, opcode);
    case 0x3F:
    case 0x40: return check_memory_size_or_grow(state, opcode);
    case 0x41 ... 0x44: return check_constant(state, opcode);
    case 0x45 ... 0xC4: return check_numeric(state, opcode);
    case 0xD0 ... 0xD2: return check_reference(state, opcode);
    case 0xFC: return check_prefixed(state);
    case 0xFD:
        return wasm_reader_fail_at(state->instruction_offset, state->error, LUN_ERR_UNSUPPORTED,
                                   "SIMD instructions (prefix 0xfd) are not supported "
                                   "(function %u)",
                                   state->function_index);
    default: return malformed(state, "illegal opcode 0x%02x", opcode);
    }
}

static lun_status check_function(validator *state, uint32_t defined_index)
{
    const lun_module *module = state->module;
    const wasm_function *function = &module->functions[defined_index];
    state->function = NULL;
    state->function_index = module->imported_function_count + defined_index;
    if (function->type_index >= module->type_count)
        return invalid(state, "unknown type %u of function %u", function->type_index,
                       state->function_index);
    state->function_type = &module->types[function->type_index];
    state->function = function;
    state->reader = (wasm_reader){module->bytes, function->body_offset,
                                  function->body_offset + function->body_size};
    state->value_count = 0;
    state->frame_count = 0;
    const wasm_functype *type = state->function_type;
    block_type body_type = {0, type->result_count, NULL, type->types + type->param_count};
    WASM_TRY(push_frame(state, 0x00, body_type));
    while (state->frame_count > 0) {
        state->instruction_offset = state->reader.position;
        if (wasm_reader_at_end(&state->reader))
            return wasm_reader_fail_at(state->reader.position, state->error, LUN_ERR_MALFORMED,
                                       "END opcode expected at the end of function %u",
                                       state->function_index);
        uint8_t opcode = state->reader.bytes[state->reader.position++];
        WASM_TRY(check_instruction(state, opcode));
    }
    if (!wasm_reader_at_end(&state->reader))
        return wasm_reader_fail_at(state->reader.position, state->error, LUN_ERR_MALFORMED,
                                   "section size mismatch: bytes after the end of function %u",
                                   state->function_index);
    state->function = NULL;
    return LUN_OK;
}

/* ---- module-level rules ---------------------------------------------------- */

static lun_status check_limits(validator *state, const wasm_limits *limits, uint64_t bound,
                               const char *what, uint32_t index)
{
    if (limits->min > bound || (limits->has_max && limits->max > bound))
        return invalid(state, "memory size must be at most 65536 pages (4GiB) (%s %u)", what,
                       index);
    if (limits->has_max && limits->min > limits->max)
        return invalid(state, "size minimum must not be greater than maximum (%s %u: %u > %u)",
                       what, index, limits->min, limits->max);
    return LUN_OK;
}

/* The type of a constant expression; global.get may only name an imported
 * immutable global (WebAssembly 2.0). */
static lun_status check_const_expr(validator *state, const wasm_const_expr *expression,
                                   uint8_t expected, const char *what, uint32_t index)
{
    uint8_t type;
    switch (expression->kind) {
    case WASM_CONST_I32: type = LUN_I32; break;
    case WASM_CONST_I64: type = LUN_I64; break;
    case WASM_CONST_F32: type = LUN_F32; break;
    case WASM_CONST_F64: type = LUN_F64; break;
    case WASM_CONST_REF_NULL: type = (uint8_t)expression->value.type; break;
    case WASM_CONST_REF_FUNC:
        if (expression->index >= state->module->total_function_count)
            return invalid(state, "unknown function %u in the initializer of %s %u",
                           expression->index, what, index);
        type = LUN_FUNCREF;
        break;
    default:
        if (expression->index >= state->module->imported_global_count)
            return invalid(state, "unknown global %u in the initializer of %s %u",
                           expression->index, what, index);
        if (state->globals[expression->index]->is_mutable)
            return invalid(state,
                           "constant expression required: global.get of mutable "
                           "global %u in %s %u",
                           expression->index, what, index);
        type = (uint8_t)state->globals[expression->index]->type;
        break;
    }
    if (type != expected)
        return invalid(state, "type mismatch: %s expected in the initializer of %s %u, found %s",
                       type_name(expected), what, index, type_name(type));
    return LUN_OK;
}

/* Gathers the index spaces of tables, memories and globals. */
static lun_status index_module(validator *state)
{
    const lun_module *module = state->module;
    size_t tables = (size_t)module->imported_table_count + module->table_count;
    size_t globals = (size_t)module->imported_global_count + module->global_count;
    state->tables = calloc(tables + 1, sizeof *state->tables);
    state->globals = calloc(globals + 1, sizeof *state->globals);
    if (state->tables == NULL || state->globals == NULL) return out_of_memory(state);
    for (uint32_t index = 0; index < module->import_count; index++) {
        const wasm_import *import = &module->imports[index];
        if (import->kind == LUN_EXTERN_TABLE)
            state->tables[state->table_count++] = &import->table;
        else if (import->kind == LUN_EXTERN_GLOBAL)
            state->globals[state->global_count++] = &import->global;
    }
    for (uint32_t index = 0; index < module->table_count; index++)
        state->tables[state->table_count++] = &module->tables[index];
    for (uint32_t index = 0; index < module->global_count; index++)
        state->globals[state->global_count++] = &module->globals[index].type;
    state->memory_count = module->imported_memory_count + module->memory_count;
    return LUN_OK;
}

static lun_status check_imports(validator *state)
{
    const lun_module *module = state->module;
    for (uint32_t index = 0; index < module->import_count; index++) {
        const wasm_import *import = &module->imports[index];
        switch (import->kind) {
        case LUN_EXTERN_FUNC:
            if (import->type_index >= module->type_count)
                return invalid(state, "unknown type %u of imported function %s.%s",
                               import->type_index, import->module_name, import->field_name);
            break;
        case LUN_EXTERN_TABLE:
            WASM_TRY(check_limits(state, &import->table.limits, UINT32_MAX, "import", index));
            break;
        case LUN_EXTERN_MEMORY:
            WASM_TRY(check_limits(state, &import->memory, MAX_MEMORY_PAGES, "import", index));
            break;
        case LUN_EXTERN_GLOBAL: break;
        }
    }
    return LUN_OK;
}

static lun_status check_definitions(validator *state)
{
    const lun_module *module = state->module;
    for (uint32_t index = 0; index < module->function_count; index++)
        if (module->functions[index].type_index >= module->type_count)
            return invalid(state, "unknown type %u of function %u",
                           module->functions[index].type_index,
                           module->imported_function_count + index);
    for (uint32_t index = 0; index < module->table_count; index++)
        WASM_TRY(check_limits(state, &module->tables[index].limits, UINT32_MAX, "table",
                              module->imported_table_count + index));
    if (state->memory_count > 1)
        return invalid(state, "multiple memories (%u)", state->memory_count);
    for (uint32_t index = 0; index < module->memory_count; index++)
        WASM_TRY(check_limits(state, &module->memories[index], MAX_MEMORY_PAGES, "memory",
                              module->imported_memory_count + index));
    for (uint32_t index = 0; index < module->global_count; index++)
        WASM_TRY(check_const_expr(state, &module->globals[index].init,
                                  (uint8_t)module->globals[index].type.type, "global",
                                  module->imported_global_count + index));
    return LUN_OK;
}

static lun_status check_exports(validator *state)
{
    const lun_module *module = state->module;
    for (uint32_t index = 0; index < module->export_count; index++) {
        const wasm_export *export_ = &module->exports[index];
        uint32_t limit = 0;
        const char *what = "";
        switch (export_->kind) {
        case LUN_EXTERN_FUNC:
            limit = module->total_function_count;
            what = "function";
            break;
        case LUN_EXTERN_TABLE:
            limit = state->table_count;
            what = "table";
            break;
        case LUN_EXTERN_MEMORY:
            limit = state->memory_count;
            what = "memory";
            break;
        case LUN_EXTERN_GLOBAL:
            limit = state->global_count;
            what = "global";
            break;
        }
        if (export_->index >= limit)
            return invalid(state, "unknown %s %u in export \"%s\"", what, export_->index,
                           export_->name);
    }
    if (module->has_start) {
        if (module->start_function >= module->total_function_count)
            return invalid(state, "unknown function %u as start function", module->start_function);
        const wasm_functype *type = wasm_function_type(module, module->start_function);
        if (type == NULL || type->param_count != 0 || type->result_count != 0)
            return invalid(state,
                           "start function %u must take no parameters and return "
                           "nothing",
                           module->start_function);
    }
    return LUN_OK;
}

static lun_status check_segments(validator *state)
{
    const lun_module *module = state->module;
    for (uint32_t index = 0; index < module->element_count; index++) {
        const wasm_element *element = &module->elements[index];
        if (element->mode == WASM_SEGMENT_ACTIVE) {
            if (element->table_index >= state->table_count)
                return invalid(state, "unknown table %u in element segment %u",
                               element->table_index, index);
            if (state->tables[element->table_index]->element_type != element->type)
                return invalid(
                    state,
                    "type mismatch: element segment %u of %s for a table "
                    "of %s",
                    index, type_name((uint8_t)element->type),
                    type_name((uint8_t)state->tables[element->table_index]->element_type));
            WASM_TRY(check_const_expr(state, &element->offset, LUN_I32, "element segment", index));
        }
        for (uint32_t item = 0; item < element->item_count; item++)
            WASM_TRY(check_const_expr(state, &element->items[item], (uint8_t)element->type,
                                      "element segment", index));
    }
    for (uint32_t index = 0; index < module->data_segment_count; index++) {
        const wasm_data *data = &module->data_segments[index];
        if (data->mode != WASM_SEGMENT_ACTIVE) continue;
        if (data->memory_index >= state->memory_count)
            return invalid(state, "unknown memory %u in data segment %u", data->memory_index,
                           index);
        WASM_TRY(check_const_expr(state, &data->offset, LUN_I32, "data segment", index));
    }
    return LUN_OK;
}

static lun_status check_module(validator *state)
{
    WASM_TRY(index_module(state));
    WASM_TRY(check_imports(state));
    WASM_TRY(check_definitions(state));
    WASM_TRY(check_exports(state));
    WASM_TRY(check_segments(state));
    for (uint32_t index = 0; index < state->module->function_count; index++)
        WASM_TRY(check_function(state, index));
    return LUN_OK;
}

lun_status wasm_validate(const lun_module *module, lun_error *error)
{
    if (module == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no module to validate");
    validator state = {.module = module, .error = error};
    lun_status status = check_module(&state);
    if (status == LUN_ERR_INVALID) {
        /* The spec decodes everything before it validates anything: a
         * malformed body anywhere outranks this typing error. */
        lun_error syntax_error;
        lun_status syntax = wasm_scan_bodies(module, &syntax_error);
        if (syntax == LUN_ERR_MALFORMED) {
            status = syntax;
            if (error != NULL) *error = syntax_error;
        }
    }
    free(state.tables);
    free(state.globals);
    free(state.values);
    free(state.frames);
    return status;
}
