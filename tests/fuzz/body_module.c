/*
 * Wraps a fuzz input into a whole module: the input's first byte picks the
 * type of function 2, the rest is that function's body (see body_module.h).
 */
#include <stdlib.h>
#include <string.h>

#include "body_module.h"

/* Types: 0 () -> (); 1 () -> i32; 2 (i32) -> i32; 3 (i32 i64 f32 f64) -> f64;
 * 4 (i64 i64) -> i64; 5 () -> (i32 i64). */
static const uint8_t type_section[] = {
    0x01, 0x20, 0x06,                               /* id, size, count */
    0x60, 0x00, 0x00,                               /* 0 */
    0x60, 0x00, 0x01, 0x7f,                         /* 1 */
    0x60, 0x01, 0x7f, 0x01, 0x7f,                   /* 2 */
    0x60, 0x04, 0x7f, 0x7e, 0x7d, 0x7c, 0x01, 0x7c, /* 3 */
    0x60, 0x02, 0x7e, 0x7e, 0x01, 0x7e,             /* 4 */
    0x60, 0x00, 0x02, 0x7f, 0x7e,                   /* 5 */
};

/* Functions 0 and 1: fuzz.increment (type 2) and fuzz.suspend (type 0). */
static const uint8_t import_section[] = {
    0x02, 0x21, 0x02, 0x04, 'f', 'u', 'z',  'z',  0x09, 'i',  'n',  'c',
    'r',  'e',  'm',  'e',  'n', 't', 0x00, 0x02, 0x04, 'f',  'u',  'z',
    'z',  0x07, 's',  'u',  's', 'p', 'e',  'n',  'd',  0x00, 0x00,
};

/* After the function section (function 2, of the chosen type). */
static const uint8_t middle_sections[] = {
    0x04, 0x04, 0x01, 0x70, 0x00, 0x04,                         /* table: funcref, min 4 */
    0x05, 0x04, 0x01, 0x01, 0x01, 0x02,                         /* memory: 1 to 2 pages */
    0x06, 0x0b, 0x02,                                           /* globals: */
    0x7f, 0x01, 0x41, 0x00, 0x0b,                               /*   mut i32 = 0 */
    0x7e, 0x01, 0x42, 0x00, 0x0b,                               /*   mut i64 = 0 */
    0x07, 0x09, 0x02,                                           /* exports: */
    0x01, 'f',  0x00, 0x02,                                     /*   "f" = function 2 */
    0x01, 'm',  0x02, 0x00,                                     /*   "m" = memory 0 */
    0x09, 0x08, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x02, 0x02, 0x00, /* table[0..2) = {2, 0} */
    0x0c, 0x01, 0x01,                                           /* data count: 1 */
};

static const uint8_t data_section[] = {
    0x0b, 0x07, 0x01, 0x01, 0x04, 'd', 'a', 't', 'a', /* one passive segment */
};

static size_t put_bytes(uint8_t *out, const uint8_t *bytes, size_t count)
{
    memcpy(out, bytes, count);
    return count;
}

static size_t put_leb128(uint8_t *out, uint32_t value)
{
    size_t length = 0;
    do {
        uint8_t byte = value & 0x7f;
        value >>= 7;
        out[length++] = (uint8_t)(byte | (value ? 0x80 : 0));
    } while (value);
    return length;
}

uint8_t *fuzz_body_module(const uint8_t *data, size_t size, size_t *length)
{
    if (size < 1 || size - 1 > FUZZ_BODY_MAX) return NULL;
    const uint8_t *body = data + 1;
    uint32_t body_size = (uint32_t)(size - 1);
    uint8_t *module = malloc(body_size + 256);
    if (!module) return NULL;
    static const uint8_t header[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    size_t used = put_bytes(module, header, sizeof header);
    used += put_bytes(module + used, type_section, sizeof type_section);
    used += put_bytes(module + used, import_section, sizeof import_section);
    const uint8_t function_section[] = {0x03, 0x02, 0x01, fuzz_body_type(data[0])};
    used += put_bytes(module + used, function_section, sizeof function_section);
    used += put_bytes(module + used, middle_sections, sizeof middle_sections);

    /* Code section: one entry, the body with its size in front. */
    uint8_t body_size_bytes[5];
    size_t body_size_length = put_leb128(body_size_bytes, body_size);
    module[used++] = 0x0a;
    used += put_leb128(module + used, (uint32_t)(1 + body_size_length + body_size));
    module[used++] = 0x01;
    used += put_bytes(module + used, body_size_bytes, body_size_length);
    used += put_bytes(module + used, body, body_size);

    used += put_bytes(module + used, data_section, sizeof data_section);
    *length = used;
    return module;
}
