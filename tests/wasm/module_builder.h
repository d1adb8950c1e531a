/*
 * A tiny module builder for the decoder and validator tests: a growing byte
 * buffer, LEB128 numbers, the module header and sections, so a test can
 * write a module byte by byte. Include after <cmocka.h>.
 */
#ifndef LUNATIC_TESTS_WASM_MODULE_BUILDER_H
#define LUNATIC_TESTS_WASM_MODULE_BUILDER_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct buffer {
    uint8_t *data;
    size_t size;
    size_t capacity;
} buffer;

static inline void put(buffer *target, const void *bytes, size_t size)
{
    if (target->size + size > target->capacity) {
        size_t capacity = target->capacity < 256 ? 256 : target->capacity;
        while (capacity < target->size + size)
            capacity *= 2;
        target->data = realloc(target->data, capacity);
        assert_non_null(target->data);
        target->capacity = capacity;
    }
    if (size > 0) memcpy(target->data + target->size, bytes, size);
    target->size += size;
}

static inline void put_byte(buffer *target, uint8_t byte)
{
    put(target, &byte, 1);
}

static inline void put_u32(buffer *target, uint32_t value)
{
    do {
        uint8_t byte = value & 0x7F;
        value >>= 7;
        put_byte(target, value != 0 ? byte | 0x80 : byte);
    } while (value != 0);
}

/* The magic number and version 1. */
static inline void put_header(buffer *module)
{
    put(module, "\0asm\1\0\0\0", 8);
}

static inline void put_section(buffer *module, uint8_t id, const void *content, size_t size)
{
    put_byte(module, id);
    put_u32(module, (uint32_t)size);
    put(module, content, size);
}

#define BYTES(...)               (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})
#define SECTION(module, id, ...) put_section(module, id, BYTES(__VA_ARGS__))

#endif
