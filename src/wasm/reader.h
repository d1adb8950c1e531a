/*
 * Reading the WebAssembly binary format: bytes, LEB128 integers, floats and
 * names from a bounded range of a module, with errors that name the byte
 * offset. Private to the engine (decode.c, validate.c and any file that
 * re-reads function bodies); also the home of the engine's size limits.
 */
#ifndef LUNATIC_WASM_READER_H
#define LUNATIC_WASM_READER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lunatic/error.h"

/* Implementation limits, checked by the decoder so that later stages may rely
 * on them. Past them a module is refused with LUN_ERR_UNSUPPORTED. */
enum {
    /* Parameters plus declared locals of one function. */
    WASM_MAX_FUNCTION_LOCALS = 50000,
    /* Parameters, and results, of one function type. */
    WASM_MAX_FUNCTION_PARAMS = 1000,
    WASM_MAX_FUNCTION_RESULTS = 1000,
    /* Values on a function's operand stack at any point (checked by the
     * validator; with the locals limit it bounds every frame). */
    WASM_MAX_OPERAND_STACK = 100000,
};

/* Declared locals of all functions of a module (they are stored expanded, one
 * lun_valtype each): at most this base plus 8 per byte of the binary, so that a
 * small file cannot make the decoder allocate gigabytes. */
#define WASM_MAX_MODULE_LOCALS(module_size) ((uint64_t)(1u << 20) + 8 * (uint64_t)(module_size))

typedef struct wasm_reader {
    const uint8_t *bytes; /* the whole module: positions are offsets from its start */
    size_t position;
    size_t end; /* one past the last byte this reader may read */
} wasm_reader;

/* Evaluates a lun_status expression and returns it from the caller on error. */
#define WASM_TRY(expression)                                                                       \
    do {                                                                                           \
        lun_status wasm_try_status_ = (expression);                                                \
        if (wasm_try_status_ != LUN_OK) return wasm_try_status_;                                   \
    } while (0)

static inline size_t wasm_reader_remaining(const wasm_reader *reader)
{
    return reader->end - reader->position;
}

static inline bool wasm_reader_at_end(const wasm_reader *reader)
{
    return reader->position >= reader->end;
}

/* Fills error with "at byte 0x<offset>: <message>" and returns code. */
static inline lun_status wasm_reader_fail_at(size_t offset, lun_error *error, lun_status code,
                                             const char *format, ...)
    __attribute__((format(printf, 4, 5)));

static inline lun_status wasm_reader_fail_at(size_t offset, lun_error *error, lun_status code,
                                             const char *format, ...)
{
    if (error == NULL) return code;
    char message[LUN_ERROR_MESSAGE_SIZE];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    return lun_error_set(error, code, "at byte 0x%zx: %s", offset, message);
}

static inline lun_status wasm_reader_unexpected_end(const wasm_reader *reader, lun_error *error)
{
    return wasm_reader_fail_at(reader->position, error, LUN_ERR_MALFORMED,
                               "unexpected end of section or function");
}

/* Every read sets its result, to zero on failure. */
static inline lun_status wasm_read_u8(wasm_reader *reader, uint8_t *value, lun_error *error)
{
    *value = 0;
    if (reader->position >= reader->end) return wasm_reader_unexpected_end(reader, error);
    *value = reader->bytes[reader->position++];
    return LUN_OK;
}

/* Unsigned LEB128 of at most 32 bits. */
static inline lun_status wasm_read_u32(wasm_reader *reader, uint32_t *value, lun_error *error)
{
    size_t start = reader->position;
    uint32_t result = 0;
    *value = 0;
    for (unsigned shift = 0;; shift += 7) {
        if (reader->position >= reader->end) return wasm_reader_unexpected_end(reader, error);
        uint8_t byte = reader->bytes[reader->position++];
        if (shift == 28) {
            if (byte & 0x80)
                return wasm_reader_fail_at(start, error, LUN_ERR_MALFORMED,
                                           "integer representation too long");
            if (byte & 0x70)
                return wasm_reader_fail_at(start, error, LUN_ERR_MALFORMED, "integer too large");
        }
        result |= (uint32_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) break;
    }
    *value = result;
    return LUN_OK;
}

/* Signed LEB128 of at most `bits` bits (32, 33 or 64), sign-extended. */
static inline lun_status wasm_read_signed(wasm_reader *reader, unsigned bits, int64_t *value,
                                          lun_error *error)
{
    size_t start = reader->position;
    *value = 0;
    unsigned max_bytes = (bits + 6) / 7;
    uint64_t result = 0;
    unsigned shift = 0;
    uint8_t byte;
    for (unsigned index = 0;; index++) {
        if (reader->position >= reader->end) return wasm_reader_unexpected_end(reader, error);
        byte = reader->bytes[reader->position++];
        if (index == max_bytes - 1) {
            if (byte & 0x80)
                return wasm_reader_fail_at(start, error, LUN_ERR_MALFORMED,
                                           "integer representation too long");
            /* The bits past `bits` must repeat the sign bit. */
            unsigned used = bits - shift;
            uint8_t sign_and_unused = (uint8_t)(0x7F & ~((1u << (used - 1)) - 1));
            uint8_t top = byte & sign_and_unused;
            if (top != 0 && top != sign_and_unused)
                return wasm_reader_fail_at(start, error, LUN_ERR_MALFORMED, "integer too large");
        }
        result |= (uint64_t)(byte & 0x7F) << shift;
        shift += 7;
        if (!(byte & 0x80)) break;
    }
    if (shift < 64 && (byte & 0x40)) result |= ~(uint64_t)0 << shift;
    *value = (int64_t)result;
    return LUN_OK;
}

static inline lun_status wasm_read_s32(wasm_reader *reader, int32_t *value, lun_error *error)
{
    int64_t wide = 0;
    *value = 0;
    WASM_TRY(wasm_read_signed(reader, 32, &wide, error));
    *value = (int32_t)wide;
    return LUN_OK;
}

static inline lun_status wasm_read_s64(wasm_reader *reader, int64_t *value, lun_error *error)
{
    return wasm_read_signed(reader, 64, value, error);
}

/* Little-endian fixed-width words (the bits of f32 and f64 constants). */
static inline lun_status wasm_read_u32_fixed(wasm_reader *reader, uint32_t *value, lun_error *error)
{
    *value = 0;
    if (wasm_reader_remaining(reader) < 4) return wasm_reader_unexpected_end(reader, error);
    const uint8_t *p = reader->bytes + reader->position;
    *value = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    reader->position += 4;
    return LUN_OK;
}

static inline lun_status wasm_read_u64_fixed(wasm_reader *reader, uint64_t *value, lun_error *error)
{
    uint32_t low = 0, high = 0;
    *value = 0;
    WASM_TRY(wasm_read_u32_fixed(reader, &low, error));
    WASM_TRY(wasm_read_u32_fixed(reader, &high, error));
    *value = (uint64_t)high << 32 | low;
    return LUN_OK;
}

/* Skips count bytes, failing if fewer remain. */
static inline lun_status wasm_reader_skip(wasm_reader *reader, size_t count, lun_error *error)
{
    if (wasm_reader_remaining(reader) < count) return wasm_reader_unexpected_end(reader, error);
    reader->position += count;
    return LUN_OK;
}

#endif
