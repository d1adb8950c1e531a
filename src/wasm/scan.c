/*
 * The syntax of function bodies alone, without types: used to classify a
 * module that failed validation.
 *
 * The spec decodes a whole module before it validates any of it, so a module
 * with a typing error in one place and a malformed instruction sequence
 * anywhere in its code (later in the same body, in a later body, a missing
 * `end`) is malformed, not invalid. validate.c reads bodies once, checking
 * types as it goes, and stops at the first error; when that error is a typing
 * error, wasm_scan_bodies re-reads every body for syntax only, so that the
 * module is reported malformed where the spec says so. Valid modules never
 * pay for this second pass.
 */
#include <stdlib.h>
#include <string.h>

#include "module.h"
#include "reader.h"

/* What an open block accepts next: `else` only right inside an `if`. */
enum { OPEN_BLOCK = 0, OPEN_IF = 1 };

typedef struct scanner {
    const lun_module *module;
    wasm_reader reader;
    uint32_t function_index;
    lun_error *error;
    uint8_t *open; /* one entry per open block, the function's own at 0 */
    size_t open_count;
    size_t open_capacity;
} scanner;

static lun_status fail(scanner *state, size_t offset, const char *message)
{
    return wasm_reader_fail_at(offset, state->error, LUN_ERR_MALFORMED, "%s (function %u)", message,
                               state->function_index);
}

static lun_status open_block(scanner *state, uint8_t kind)
{
    if (state->open_count == state->open_capacity) {
        size_t capacity = state->open_capacity ? state->open_capacity * 2 : 64;
        uint8_t *grown = realloc(state->open, capacity);
        if (grown == NULL) return lun_error_set(state->error, LUN_ERR_NO_MEMORY, "out of memory");
        state->open = grown;
        state->open_capacity = capacity;
    }
    state->open[state->open_count++] = kind;
    return LUN_OK;
}

static lun_status skip_u32(scanner *state, uint32_t count)
{
    for (uint32_t index = 0; index < count; index++) {
        uint32_t ignored;
        WASM_TRY(wasm_read_u32(&state->reader, &ignored, state->error));
    }
    return LUN_OK;
}

static lun_status skip_zero_byte(scanner *state)
{
    size_t offset = state->reader.position;
    uint8_t byte;
    WASM_TRY(wasm_read_u8(&state->reader, &byte, state->error));
    return byte == 0 ? LUN_OK : fail(state, offset, "zero byte expected");
}

static bool is_value_type(uint8_t byte)
{
    return byte == LUN_I32 || byte == LUN_I64 || byte == LUN_F32 || byte == LUN_F64 ||
           byte == LUN_FUNCREF || byte == LUN_EXTERNREF || byte == LUN_V128;
}

/* An s33: 0x40 (empty), a value type byte, or a type index (its range is a
 * typing rule). */
static lun_status skip_block_type(scanner *state)
{
    size_t offset = state->reader.position;
    int64_t value;
    WASM_TRY(wasm_read_signed(&state->reader, 33, &value, state->error));
    if (value >= 0 || value == -0x40) return LUN_OK;
    if (state->reader.position - offset != 1 || !is_value_type((uint8_t)(value & 0x7F)))
        return fail(state, offset, "malformed block type");
    return LUN_OK;
}

static lun_status skip_value_types(scanner *state)
{
    uint32_t count;
    WASM_TRY(wasm_read_u32(&state->reader, &count, state->error));
    for (uint32_t index = 0; index < count; index++) {
        size_t offset = state->reader.position;
        uint8_t byte;
        WASM_TRY(wasm_read_u8(&state->reader, &byte, state->error));
        if (!is_value_type(byte)) return fail(state, offset, "malformed value type");
    }
    return LUN_OK;
}

static lun_status skip_data_index(scanner *state, size_t offset)
{
    WASM_TRY(skip_u32(state, 1));
    if (!state->module->has_data_count) return fail(state, offset, "data count section required");
    return LUN_OK;
}

static lun_status skip_prefixed(scanner *state, size_t offset)
{
    uint32_t operation;
    WASM_TRY(wasm_read_u32(&state->reader, &operation, state->error));
    switch (operation) {
    case 0 ... 7: return LUN_OK;
    case 8: WASM_TRY(skip_data_index(state, offset)); return skip_zero_byte(state);
    case 9: return skip_data_index(state, offset);
    case 10: WASM_TRY(skip_zero_byte(state)); return skip_zero_byte(state);
    case 11: return skip_zero_byte(state);
    case 12:
    case 14: return skip_u32(state, 2);
    case 13:
    case 15 ... 17: return skip_u32(state, 1);
    default: return fail(state, offset, "illegal opcode");
    }
}

/* The end of a block, an else, or the end of the body. */
static lun_status structure(scanner *state, uint8_t opcode, size_t offset)
{
    if (opcode == 0x0B) {
        state->open_count--;
        return LUN_OK;
    }
    if (state->open[state->open_count - 1] != OPEN_IF)
        return fail(state, offset, "else without a matching if");
    state->open[state->open_count - 1] = OPEN_BLOCK;
    return LUN_OK;
}

/* LUN_OK also for instructions this engine does not support (SIMD): the
 * scan then stops, finding nothing. */
static lun_status skip_instruction(scanner *state, uint8_t opcode, size_t offset)
{
    switch (opcode) {
    case 0x00:
    case 0x01:
    case 0x0F:
    case 0x1A:
    case 0x1B:
    case 0x45 ... 0xC4:
    case 0xD1: return LUN_OK;
    case 0x02:
    case 0x03: WASM_TRY(skip_block_type(state)); return open_block(state, OPEN_BLOCK);
    case 0x04: WASM_TRY(skip_block_type(state)); return open_block(state, OPEN_IF);
    case 0x05:
    case 0x0B: return structure(state, opcode, offset);
    case 0x0C:
    case 0x0D:
    case 0x10:
    case 0x20 ... 0x26:
    case 0xD2: return skip_u32(state, 1);
    case 0x0E: {
        uint32_t count;
        WASM_TRY(wasm_read_u32(&state->reader, &count, state->error));
        if (count > wasm_reader_remaining(&state->reader))
            return fail(state, offset, "unexpected end of section or function");
        return skip_u32(state, count + 1);
    }
    case 0x11:
    case 0x28 ... 0x3E: return skip_u32(state, 2);
    case 0x1C: return skip_value_types(state);
    case 0x3F:
    case 0x40: return skip_zero_byte(state);
    case 0x41: {
        int32_t ignored;
        return wasm_read_s32(&state->reader, &ignored, state->error);
    }
    case 0x42: {
        int64_t ignored;
        return wasm_read_s64(&state->reader, &ignored, state->error);
    }
    case 0x43: return wasm_reader_skip(&state->reader, 4, state->error);
    case 0x44: return wasm_reader_skip(&state->reader, 8, state->error);
    case 0xD0: {
        uint8_t type;
        WASM_TRY(wasm_read_u8(&state->reader, &type, state->error));
        if (type != LUN_FUNCREF && type != LUN_EXTERNREF)
            return fail(state, offset + 1, "malformed reference type");
        return LUN_OK;
    }
    case 0xFC: return skip_prefixed(state, offset);
    default: return fail(state, offset, "illegal opcode");
    }
}

static lun_status scan_function(scanner *state, uint32_t defined_index)
{
    const lun_module *module = state->module;
    const wasm_function *function = &module->functions[defined_index];
    state->function_index = module->imported_function_count + defined_index;
    state->reader = (wasm_reader){module->bytes, function->body_offset,
                                  function->body_offset + function->body_size};
    state->open_count = 0;
    WASM_TRY(open_block(state, OPEN_BLOCK));
    while (state->open_count > 0) {
        size_t offset = state->reader.position;
        if (wasm_reader_at_end(&state->reader))
            return fail(state, offset,
                        "unexpected end of section or function: END opcode "
                        "expected");
        uint8_t opcode = state->reader.bytes[state->reader.position++];
        if (opcode == 0xFD) return LUN_OK;
        WASM_TRY(skip_instruction(state, opcode, offset));
    }
    if (!wasm_reader_at_end(&state->reader))
        return fail(state, state->reader.position,
                    "section size mismatch: bytes after the end of the function");
    return LUN_OK;
}

lun_status wasm_scan_bodies(const lun_module *module, lun_error *error)
{
    scanner state = {.module = module, .error = error};
    lun_status status = LUN_OK;
    for (uint32_t index = 0; index < module->function_count && status == LUN_OK; index++)
        status = scan_function(&state, index);
    free(state.open);
    return status;
}
