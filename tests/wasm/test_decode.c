/*
 * Tests of the binary decoder (decode.c, module.c, reader.h): LEB128 edge
 * cases, every section, and the errors for malformed and hostile binaries.
 * Test modules are built byte by byte with a small builder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "module.h"
#include "module_builder.h"
#include "reader.h"

static lun_status decode(const buffer *module, lun_module **decoded, lun_error *error)
{
    return wasm_decode(module->data, module->size, decoded, error);
}

/* Decodes a module that must fail with code and a message containing text. */
static void expect_failure(const buffer *module, lun_status code, const char *text)
{
    lun_module *decoded = (lun_module *)1;
    lun_error error;
    lun_error_clear(&error);
    lun_status status = decode(module, &decoded, &error);
    if (status != code || strstr(error.message, text) == NULL)
        print_error("expected status %d with \"%s\", got %d: %s\n", code, text, status,
                    error.message);
    assert_int_equal(status, code);
    assert_int_equal(error.code, code);
    assert_non_null(strstr(error.message, text));
    assert_null(decoded);
}

/* Decodes a module of the header and one section that must fail like
 * expect_failure; the buffer is reused. */
static void expect_section_failure(buffer *module, uint8_t id, const uint8_t *content, size_t size,
                                   lun_status code, const char *text)
{
    module->size = 0;
    put_header(module);
    put_section(module, id, content, size);
    expect_failure(module, code, text);
}

static lun_module *expect_success(const buffer *module)
{
    lun_module *decoded = NULL;
    lun_error error;
    lun_error_clear(&error);
    lun_status status = decode(module, &decoded, &error);
    if (status != LUN_OK) print_error("unexpected failure: %s\n", error.message);
    assert_int_equal(status, LUN_OK);
    assert_non_null(decoded);
    return decoded;
}

/* ---- LEB128 --------------------------------------------------------------- */

static lun_status read_u32_from(const uint8_t *bytes, size_t size, uint32_t *value,
                                lun_error *error)
{
    wasm_reader reader = {bytes, 0, size};
    lun_status status = wasm_read_u32(&reader, value, error);
    if (status == LUN_OK) assert_int_equal(reader.position, size); /* every byte consumed */
    return status;
}

static lun_status read_signed_from(unsigned bits, const uint8_t *bytes, size_t size, int64_t *value,
                                   lun_error *error)
{
    wasm_reader reader = {bytes, 0, size};
    lun_status status = wasm_read_signed(&reader, bits, value, error);
    if (status == LUN_OK) assert_int_equal(reader.position, size);
    return status;
}

static void test_leb128_unsigned(void **unused)
{
    uint32_t value;
    lun_error error;
    assert_int_equal(read_u32_from(BYTES(0x00), &value, &error), LUN_OK);
    assert_int_equal(value, 0);
    assert_int_equal(read_u32_from(BYTES(0xE5, 0x8E, 0x26), &value, &error), LUN_OK);
    assert_int_equal(value, 624485);
    /* Non-minimal encodings within five bytes are allowed. */
    assert_int_equal(read_u32_from(BYTES(0x80, 0x80, 0x80, 0x80, 0x00), &value, &error), LUN_OK);
    assert_int_equal(value, 0);
    assert_int_equal(read_u32_from(BYTES(0xFF, 0xFF, 0xFF, 0xFF, 0x0F), &value, &error), LUN_OK);
    assert_int_equal(value, UINT32_MAX);

    assert_int_equal(read_u32_from(BYTES(0xFF, 0xFF, 0xFF, 0xFF, 0x1F), &value, &error),
                     LUN_ERR_MALFORMED);
    assert_non_null(strstr(error.message, "integer too large"));
    assert_int_equal(read_u32_from(BYTES(0x80, 0x80, 0x80, 0x80, 0x80, 0x00), &value, &error),
                     LUN_ERR_MALFORMED);
    assert_non_null(strstr(error.message, "integer representation too long"));
    assert_int_equal(read_u32_from(BYTES(0x80, 0x80), &value, &error), LUN_ERR_MALFORMED);
    assert_non_null(strstr(error.message, "unexpected end"));
    assert_non_null(strstr(error.message, "at byte 0x2"));
}

static void test_leb128_signed(void **unused)
{
    int64_t value;
    lun_error error;
    assert_int_equal(read_signed_from(32, BYTES(0x7F), &value, &error), LUN_OK);
    assert_int_equal(value, -1);
    assert_int_equal(read_signed_from(32, BYTES(0x3F), &value, &error), LUN_OK);
    assert_int_equal(value, 63);
    assert_int_equal(read_signed_from(32, BYTES(0xC0, 0x00), &value, &error), LUN_OK);
    assert_int_equal(value, 64);
    assert_int_equal(read_signed_from(32, BYTES(0x80, 0x80, 0x80, 0x80, 0x78), &value, &error),
                     LUN_OK);
    assert_int_equal(value, INT32_MIN);
    assert_int_equal(read_signed_from(32, BYTES(0xFF, 0xFF, 0xFF, 0xFF, 0x07), &value, &error),
                     LUN_OK);
    assert_int_equal(value, INT32_MAX);
    /* The unused bits of the last byte must extend the sign. */
    assert_int_equal(read_signed_from(32, BYTES(0xFF, 0xFF, 0xFF, 0xFF, 0x0F), &value, &error),
                     LUN_ERR_MALFORMED);
    assert_non_null(strstr(error.message, "integer too large"));
    assert_int_equal(read_signed_from(32, BYTES(0x80, 0x80, 0x80, 0x80, 0x70), &value, &error),
                     LUN_ERR_MALFORMED);
    assert_int_equal(
        read_signed_from(32, BYTES(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F), &value, &error),
        LUN_ERR_MALFORMED);
    assert_non_null(strstr(error.message, "integer representation too long"));

    assert_int_equal(
        read_signed_from(64, BYTES(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7F),
                         &value, &error),
        LUN_OK);
    assert_true(value == INT64_MIN);
    assert_int_equal(
        read_signed_from(64, BYTES(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00),
                         &value, &error),
        LUN_OK);
    assert_true(value == INT64_MAX);
    assert_int_equal(
        read_signed_from(64, BYTES(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
                         &value, &error),
        LUN_ERR_MALFORMED);
    assert_non_null(strstr(error.message, "integer too large"));

    /* s33 (block types): type index 2^32-1 fits, the sign must be clear. */
    assert_int_equal(read_signed_from(33, BYTES(0xFF, 0xFF, 0xFF, 0xFF, 0x0F), &value, &error),
                     LUN_OK);
    assert_true(value == UINT32_MAX);
    assert_int_equal(read_signed_from(33, BYTES(0x40), &value, &error), LUN_OK);
    assert_int_equal(value, -64);
    assert_int_equal(read_signed_from(33, BYTES(0xFF, 0xFF, 0xFF, 0xFF, 0x2F), &value, &error),
                     LUN_ERR_MALFORMED);
}

/* ---- header and section framing ----------------------------------------- */

static void test_empty_module(void **unused)
{
    buffer module = {0};
    put_header(&module);
    lun_module *decoded = expect_success(&module);
    assert_int_equal(decoded->type_count, 0);
    assert_int_equal(decoded->total_function_count, 0);
    assert_int_equal(lun_module_import_count(decoded), 0);
    assert_int_equal(lun_module_export_count(decoded), 0);
    /* The module keeps its own copy of the bytes. */
    assert_ptr_not_equal(decoded->bytes, module.data);
    assert_memory_equal(decoded->bytes, module.data, module.size);
    wasm_module_destroy(decoded);
    free(module.data);
}

static void test_header_errors(void **unused)
{
    buffer module = {0};
    expect_failure(&module, LUN_ERR_MALFORMED, "unexpected end");
    put(&module, "\0as", 3);
    expect_failure(&module, LUN_ERR_MALFORMED, "unexpected end");
    module.size = 0;
    put(&module, "asm\0\1\0\0\0", 8);
    expect_failure(&module, LUN_ERR_MALFORMED, "magic header not detected");
    module.size = 0;
    put(&module, "\0asm\1\0\0", 7);
    expect_failure(&module, LUN_ERR_MALFORMED, "unexpected end");
    module.size = 0;
    put(&module, "\0asm\2\0\0\0", 8);
    expect_failure(&module, LUN_ERR_MALFORMED, "unknown binary version");
    free(module.data);
}

static void test_section_framing_errors(void **unused)
{
    buffer module = {0};
    expect_section_failure(&module, 13, BYTES(0x00), LUN_ERR_MALFORMED, "malformed section id");

    module.size = 0;
    put_header(&module);
    SECTION(&module, 1, 0x00);
    SECTION(&module, 1, 0x00);
    expect_failure(&module, LUN_ERR_MALFORMED, "unexpected content after last section");

    module.size = 0;
    put_header(&module);
    SECTION(&module, 3, 0x00);
    SECTION(&module, 1, 0x00);
    expect_failure(&module, LUN_ERR_MALFORMED, "unexpected content after last section");

    /* Section content shorter than its declared size. */
    expect_section_failure(&module, 1, BYTES(0x00, 0x00), LUN_ERR_MALFORMED,
                           "section size mismatch");

    /* Declared size past the end of the file. */
    module.size = 0;
    put_header(&module);
    put(&module, BYTES(0x01, 0x10, 0x00));
    expect_failure(&module, LUN_ERR_MALFORMED, "length out of bounds");
    free(module.data);
}

/* A count of 2^32-1 elements in a tiny file fails before any allocation. */
static void test_huge_counts(void **unused)
{
    static const uint8_t sections[] = {1, 2, 3, 4, 5, 6, 7, 9, 10, 11};
    for (size_t index = 0; index < sizeof sections; index++) {
        buffer module = {0};
        put_header(&module);
        SECTION(&module, sections[index], 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00);
        expect_failure(&module, LUN_ERR_MALFORMED, "length out of bounds");
        free(module.data);
    }
}

/* ---- sections ------------------------------------------------------------- */

static void put_type_section(buffer *module)
{
    /* 0: [] -> [], 1: [i32 f64] -> [i64 externref] */
    SECTION(module, 1, 0x02, 0x60, 0x00, 0x00, 0x60, 0x02, 0x7F, 0x7C, 0x02, 0x7E, 0x6F);
}

static void test_type_section(void **unused)
{
    buffer module = {0};
    put_header(&module);
    put_type_section(&module);
    lun_module *decoded = expect_success(&module);
    assert_int_equal(decoded->type_count, 2);
    assert_int_equal(decoded->types[0].param_count, 0);
    assert_int_equal(decoded->types[0].result_count, 0);
    const wasm_functype *type = &decoded->types[1];
    assert_int_equal(type->param_count, 2);
    assert_int_equal(type->result_count, 2);
    assert_int_equal(type->types[0], LUN_I32);
    assert_int_equal(type->types[1], LUN_F64);
    assert_int_equal(type->types[2], LUN_I64);
    assert_int_equal(type->types[3], LUN_EXTERNREF);
    wasm_module_destroy(decoded);

    expect_section_failure(&module, 1, BYTES(0x01, 0x60, 0x01, 0x7B, 0x00), LUN_ERR_UNSUPPORTED,
                           "v128");

    expect_section_failure(&module, 1, BYTES(0x01, 0x60, 0x01, 0x7A, 0x00), LUN_ERR_MALFORMED,
                           "malformed value type");

    expect_section_failure(&module, 1, BYTES(0x01, 0x61, 0x00, 0x00), LUN_ERR_MALFORMED,
                           "function type");
    free(module.data);
}

static void test_import_section(void **unused)
{
    buffer module = {0};
    put_header(&module);
    put_type_section(&module);
    SECTION(&module, 2, 0x04,                                   /* four imports */
            0x01, 'm', 0x01, 'f', 0x00, 0x01,                   /* func type 1 */
            0x01, 'm', 0x01, 't', 0x01, 0x70, 0x01, 0x02, 0x03, /* table funcref 2..3 */
            0x01, 'm', 0x02, 'm', 'e', 0x02, 0x00, 0x01,        /* memory 1.. */
            0x02, 0xC3, 0xA9, 0x01, 'g', 0x03, 0x7E, 0x01);     /* "é".g mut i64 */
    lun_module *decoded = expect_success(&module);
    assert_int_equal(decoded->import_count, 4);
    assert_int_equal(decoded->imported_function_count, 1);
    assert_int_equal(decoded->imported_table_count, 1);
    assert_int_equal(decoded->imported_memory_count, 1);
    assert_int_equal(decoded->imported_global_count, 1);
    assert_int_equal(decoded->total_function_count, 1);
    assert_int_equal(decoded->imports[0].type_index, 1);
    assert_int_equal(decoded->imports[1].table.element_type, LUN_FUNCREF);
    assert_int_equal(decoded->imports[1].table.limits.min, 2);
    assert_true(decoded->imports[1].table.limits.has_max);
    assert_int_equal(decoded->imports[1].table.limits.max, 3);
    assert_int_equal(decoded->imports[2].memory.min, 1);
    assert_false(decoded->imports[2].memory.has_max);
    assert_int_equal(decoded->imports[3].global.type, LUN_I64);
    assert_true(decoded->imports[3].global.is_mutable);

    const char *module_name, *field_name;
    lun_extern_kind kind;
    lun_module_import(decoded, 2, &module_name, &field_name, &kind);
    assert_string_equal(module_name, "m");
    assert_string_equal(field_name, "me");
    assert_int_equal(kind, LUN_EXTERN_MEMORY);
    lun_module_import(decoded, 3, &module_name, &field_name, &kind);
    assert_string_equal(module_name, "\xC3\xA9");
    assert_int_equal(kind, LUN_EXTERN_GLOBAL);
    assert_ptr_equal(wasm_function_type(decoded, 0), &decoded->types[1]);
    assert_null(wasm_function_type(decoded, 1));
    wasm_module_destroy(decoded);
    free(module.data);
}

static void test_import_errors(void **unused)
{
    buffer module = {0};
    expect_section_failure(&module, 2, BYTES(0x01, 0x01, 'm', 0x01, 'f', 0x04, 0x00),
                           LUN_ERR_MALFORMED, "malformed import kind");

    expect_section_failure(&module, 2,
                           BYTES(0x01, 0x01, 0xFF, 0x01, 'f', 0x00, 0x00), /* 0xFF is never UTF-8 */
                           LUN_ERR_MALFORMED, "malformed UTF-8 encoding");

    expect_section_failure(&module, 2,
                           BYTES(0x01, 0x02, 0xED, 0xA0, 0x01, 'f', 0x00, 0x00), /* truncated */
                           LUN_ERR_MALFORMED, "malformed UTF-8 encoding");

    expect_section_failure(
        &module, 2, BYTES(0x01, 0x03, 0xED, 0xA0, 0x80, 0x01, 'f', 0x00, 0x00), /* surrogate */
        LUN_ERR_MALFORMED, "malformed UTF-8 encoding");

    expect_section_failure(&module, 2, BYTES(0x01, 0x01, 'm', 0x01, 'g', 0x03, 0x7F, 0x02),
                           LUN_ERR_MALFORMED, "malformed mutability");

    expect_section_failure(&module, 2, BYTES(0x01, 0x01, 'm', 0x01, 't', 0x01, 0x7F, 0x00, 0x01),
                           LUN_ERR_MALFORMED, "malformed reference type");

    expect_section_failure(&module, 2, BYTES(0x01, 0x01, 'm', 0x08, 'f', 0x00, 0x00),
                           LUN_ERR_MALFORMED, "length out of bounds");
    free(module.data);
}

static void test_functions_and_code(void **unused)
{
    buffer module = {0};
    put_header(&module);
    put_type_section(&module);
    SECTION(&module, 3, 0x02, 0x00, 0x01);
    SECTION(&module, 10, 0x02,                               /* two bodies */
            0x02, 0x00, 0x0B,                                /* no locals */
            0x07, 0x02, 0x02, 0x7F, 0x01, 0x70, 0x01, 0x0B); /* 2 x i32, 1 x funcref */
    lun_module *decoded = expect_success(&module);
    assert_int_equal(decoded->function_count, 2);
    assert_int_equal(decoded->total_function_count, 2);
    assert_int_equal(decoded->function_type_indexes[1], 1);
    const wasm_function *function = &decoded->functions[1];
    assert_int_equal(function->type_index, 1);
    assert_int_equal(function->local_count, 3);
    assert_int_equal(function->local_types[0], LUN_I32);
    assert_int_equal(function->local_types[1], LUN_I32);
    assert_int_equal(function->local_types[2], LUN_FUNCREF);
    assert_int_equal(function->body_size, 2);
    assert_int_equal(function->body[0], 0x01);
    assert_ptr_equal(function->body, decoded->bytes + function->body_offset);
    assert_int_equal(decoded->functions[0].local_count, 0);
    assert_null(decoded->functions[0].local_types);
    wasm_module_destroy(decoded);

    module.size = 0;
    put_header(&module);
    put_type_section(&module);
    SECTION(&module, 3, 0x02, 0x00, 0x00);
    SECTION(&module, 10, 0x01, 0x02, 0x00, 0x0B);
    expect_failure(&module, LUN_ERR_MALFORMED,
                   "function and code section have inconsistent lengths");

    module.size = 0;
    put_header(&module);
    put_type_section(&module);
    SECTION(&module, 3, 0x01, 0x00);
    expect_failure(&module, LUN_ERR_MALFORMED,
                   "function and code section have inconsistent lengths");

    /* A body whose size runs past its section. */
    module.size = 0;
    put_header(&module);
    put_type_section(&module);
    SECTION(&module, 3, 0x01, 0x00);
    SECTION(&module, 10, 0x01, 0x09, 0x00, 0x0B);
    expect_failure(&module, LUN_ERR_MALFORMED, "unexpected end");
    free(module.data);
}

static void test_too_many_locals(void **unused)
{
    buffer module = {0};
    /* 2^32-1 + 1 locals in two groups: the spec's "too many locals". */
    put_header(&module);
    put_type_section(&module);
    SECTION(&module, 3, 0x01, 0x00);
    SECTION(&module, 10, 0x01, 0x0A, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x7F, 0x01, 0x7E, 0x0B);
    expect_failure(&module, LUN_ERR_MALFORMED, "too many locals");

    /* Past this runtime's own per-function limit. */
    module.size = 0;
    put_header(&module);
    put_type_section(&module);
    SECTION(&module, 3, 0x01, 0x01);
    buffer code = {0};
    put_byte(&code, 0x01);
    buffer body = {0};
    put_byte(&body, 0x01);
    put_u32(&body, WASM_MAX_FUNCTION_LOCALS - 1); /* plus two parameters */
    put_byte(&body, 0x7F);
    put_byte(&body, 0x0B);
    put_u32(&code, (uint32_t)body.size);
    put(&code, body.data, body.size);
    put_section(&module, 10, code.data, code.size);
    expect_failure(&module, LUN_ERR_UNSUPPORTED, "too many locals");

    /* Exactly at the limit is fine. */
    module.size = 0;
    code.size = 0;
    body.size = 0;
    put_header(&module);
    put_type_section(&module);
    SECTION(&module, 3, 0x01, 0x01);
    put_byte(&code, 0x01);
    put_byte(&body, 0x01);
    put_u32(&body, WASM_MAX_FUNCTION_LOCALS - 2);
    put_byte(&body, 0x7F);
    put_byte(&body, 0x0B);
    put_u32(&code, (uint32_t)body.size);
    put(&code, body.data, body.size);
    put_section(&module, 10, code.data, code.size);
    lun_module *decoded = expect_success(&module);
    assert_int_equal(decoded->functions[0].local_count, WASM_MAX_FUNCTION_LOCALS - 2);
    wasm_module_destroy(decoded);

    /* Many small functions that each declare many locals hit the module's
     * limit long before gigabytes are allocated. */
    module.size = 0;
    code.size = 0;
    put_header(&module);
    put_type_section(&module);
    uint32_t count = 4000;
    buffer functions = {0};
    put_u32(&functions, count);
    put_u32(&code, count);
    for (uint32_t index = 0; index < count; index++) {
        put_byte(&functions, 0x00);
        put(&code, BYTES(0x06, 0x01, 0xC0, 0x84, 0x03, 0x7F, 0x0B)); /* 49,728 locals */
    }
    put_section(&module, 3, functions.data, functions.size);
    put_section(&module, 10, code.data, code.size);
    expect_failure(&module, LUN_ERR_UNSUPPORTED, "too many locals");
    free(functions.data);
    free(body.data);
    free(code.data);
    free(module.data);
}

static void test_tables_memories_globals(void **unused)
{
    buffer module = {0};
    put_header(&module);
    SECTION(&module, 4, 0x02, 0x70, 0x00, 0x05, 0x6F, 0x01, 0x00, 0x0A);
    SECTION(&module, 5, 0x01, 0x01, 0x01, 0x80, 0x80, 0x04);
    SECTION(&module, 6, 0x04,                               /* four globals */
            0x7F, 0x00, 0x41, 0x7F, 0x0B,                   /* i32 = -1 */
            0x7E, 0x01, 0x42, 0x80, 0x01, 0x0B,             /* mut i64 = 128 */
            0x7D, 0x00, 0x43, 0x00, 0x00, 0x80, 0x3F, 0x0B, /* f32 = 1.0 */
            0x6F, 0x00, 0xD0, 0x6F, 0x0B);                  /* externref null */
    lun_module *decoded = expect_success(&module);
    assert_int_equal(decoded->table_count, 2);
    assert_int_equal(decoded->tables[0].element_type, LUN_FUNCREF);
    assert_int_equal(decoded->tables[0].limits.min, 5);
    assert_false(decoded->tables[0].limits.has_max);
    assert_int_equal(decoded->tables[1].element_type, LUN_EXTERNREF);
    assert_int_equal(decoded->tables[1].limits.max, 10);
    assert_int_equal(decoded->memory_count, 1);
    assert_int_equal(decoded->memories[0].min, 1);
    assert_int_equal(decoded->memories[0].max, 65536);
    assert_int_equal(decoded->global_count, 4);
    assert_int_equal(decoded->globals[0].init.kind, WASM_CONST_I32);
    assert_int_equal(decoded->globals[0].init.value.i32, -1);
    assert_false(decoded->globals[0].type.is_mutable);
    assert_int_equal(decoded->globals[1].init.kind, WASM_CONST_I64);
    assert_int_equal(decoded->globals[1].init.value.i64, 128);
    assert_true(decoded->globals[1].type.is_mutable);
    assert_int_equal(decoded->globals[2].init.kind, WASM_CONST_F32);
    assert_int_equal(decoded->globals[2].init.value.f32_bits, 0x3F800000);
    assert_int_equal(decoded->globals[3].init.kind, WASM_CONST_REF_NULL);
    assert_int_equal(decoded->globals[3].init.value.type, LUN_EXTERNREF);
    wasm_module_destroy(decoded);

    expect_section_failure(&module, 5, BYTES(0x01, 0x02, 0x01), LUN_ERR_MALFORMED, "limits");

    expect_section_failure(&module, 6, BYTES(0x01, 0x7F, 0x00, 0x41, 0x00, 0x41, 0x00, 0x0B),
                           LUN_ERR_INVALID, "type mismatch");

    expect_section_failure(&module, 6, BYTES(0x01, 0x7F, 0x00, 0x41, 0x00, 0x41, 0x00, 0x6A, 0x0B),
                           LUN_ERR_INVALID, "constant expression required");

    expect_section_failure(&module, 6, BYTES(0x01, 0x7F, 0x00, 0x0B), LUN_ERR_INVALID,
                           "type mismatch");

    expect_section_failure(&module, 6, BYTES(0x01, 0x7F, 0x00, 0x41, 0x00), LUN_ERR_MALFORMED,
                           "unexpected end");
    free(module.data);
}

static void test_exports_and_start(void **unused)
{
    buffer module = {0};
    put_header(&module);
    put_type_section(&module);
    SECTION(&module, 3, 0x02, 0x00, 0x01);
    SECTION(&module, 7, 0x02, 0x03, 'r', 'u', 'n', 0x00, 0x01, 0x02, 'g', 0x00, 0x03, 0x00);
    SECTION(&module, 8, 0x00);
    SECTION(&module, 10, 0x02, 0x02, 0x00, 0x0B, 0x02, 0x00, 0x0B);
    lun_module *decoded = expect_success(&module);
    assert_int_equal(lun_module_export_count(decoded), 2);
    const char *name;
    lun_extern_kind kind;
    lun_module_export(decoded, 0, &name, &kind);
    assert_string_equal(name, "run");
    assert_int_equal(kind, LUN_EXTERN_FUNC);
    lun_module_export(decoded, 1, &name, &kind);
    assert_int_equal(name[1], '\0');
    assert_int_equal(kind, LUN_EXTERN_GLOBAL);
    assert_true(decoded->has_start);
    assert_int_equal(decoded->start_function, 0);

    const lun_valtype *params, *results;
    size_t param_count, result_count;
    assert_true(lun_module_export_func_type(decoded, "run", &params, &param_count, &results,
                                            &result_count));
    assert_int_equal(param_count, 2);
    assert_int_equal(params[1], LUN_F64);
    assert_int_equal(result_count, 2);
    assert_int_equal(results[0], LUN_I64);
    assert_false(
        lun_module_export_func_type(decoded, "g", &params, &param_count, &results, &result_count));
    assert_false(lun_module_export_func_type(decoded, "missing", &params, &param_count, &results,
                                             &result_count));
    /* Exported functions may be named by ref.func. */
    assert_true(decoded->declared_function_refs[0] & 2);
    assert_false(decoded->declared_function_refs[0] & 1);
    wasm_module_destroy(decoded);

    expect_section_failure(&module, 7, BYTES(0x02, 0x01, 'a', 0x00, 0x00, 0x01, 'a', 0x03, 0x00),
                           LUN_ERR_INVALID, "duplicate export name");

    /* Names are compared as bytes, NUL characters included. */
    module.size = 0;
    put_header(&module);
    SECTION(&module, 7, 0x02, 0x02, 'a', 0x00, 0x02, 0x00, 0x02, 'a', 0x01, 0x03, 0x00);
    lun_module *with_nul = expect_success(&module);
    wasm_module_destroy(with_nul);

    expect_section_failure(&module, 7, BYTES(0x01, 0x01, 'a', 0x04, 0x00), LUN_ERR_MALFORMED,
                           "malformed export kind");
    free(module.data);
}

static void test_element_segments(void **unused)
{
    buffer module = {0};
    put_header(&module);
    put_type_section(&module);
    SECTION(&module, 3, 0x03, 0x00, 0x00, 0x00);
    SECTION(&module, 4, 0x01, 0x70, 0x00, 0x01);
    SECTION(&module, 9, 0x05,                   /* five segments */
            0x00, 0x41, 0x00, 0x0B, 0x01, 0x00, /* active, funcs [0] */
            0x01, 0x00, 0x02, 0x01, 0x02,       /* passive, funcs [1 2] */
            0x03, 0x00, 0x01, 0x02,             /* declarative, funcs [2] */
            0x05, 0x6F, 0x01, 0xD0, 0x6F, 0x0B, /* passive externref null */
            0x06, 0x00, 0x41, 0x01, 0x0B, 0x70, 0x01, 0xD2, 0x01, 0x0B); /* table 0, exprs */
    SECTION(&module, 10, 0x03, 0x02, 0x00, 0x0B, 0x02, 0x00, 0x0B, 0x02, 0x00, 0x0B);
    lun_module *decoded = expect_success(&module);
    assert_int_equal(decoded->element_count, 5);
    const wasm_element *elements = decoded->elements;
    assert_int_equal(elements[0].mode, WASM_SEGMENT_ACTIVE);
    assert_int_equal(elements[0].table_index, 0);
    assert_int_equal(elements[0].offset.kind, WASM_CONST_I32);
    assert_int_equal(elements[0].item_count, 1);
    assert_int_equal(elements[0].items[0].kind, WASM_CONST_REF_FUNC);
    assert_int_equal(elements[1].mode, WASM_SEGMENT_PASSIVE);
    assert_int_equal(elements[1].items[1].index, 2);
    assert_int_equal(elements[2].mode, WASM_SEGMENT_DECLARATIVE);
    assert_int_equal(elements[3].type, LUN_EXTERNREF);
    assert_int_equal(elements[3].items[0].kind, WASM_CONST_REF_NULL);
    assert_int_equal(elements[4].mode, WASM_SEGMENT_ACTIVE);
    assert_int_equal(elements[4].offset.value.i32, 1);
    assert_int_equal(elements[4].items[0].index, 1);
    assert_int_equal(decoded->declared_function_refs[0] & 7, 7);
    wasm_module_destroy(decoded);

    expect_section_failure(&module, 9, BYTES(0x01, 0x08, 0x00), LUN_ERR_MALFORMED,
                           "malformed elements segment kind");

    expect_section_failure(&module, 9, BYTES(0x01, 0x01, 0x01, 0x00), LUN_ERR_MALFORMED,
                           "malformed element kind");
    free(module.data);
}

static void test_data_segments(void **unused)
{
    buffer module = {0};
    put_header(&module);
    SECTION(&module, 5, 0x01, 0x00, 0x01);
    SECTION(&module, 12, 0x03);
    SECTION(&module, 11, 0x03,                      /* three segments */
            0x00, 0x41, 0x08, 0x0B, 0x02, 'h', 'i', /* active at 8 */
            0x01, 0x01, 'x',                        /* passive */
            0x02, 0x00, 0x41, 0x00, 0x0B, 0x00);    /* memory 0, empty */
    lun_module *decoded = expect_success(&module);
    assert_true(decoded->has_data_count);
    assert_int_equal(decoded->data_count, 3);
    assert_int_equal(decoded->data_segment_count, 3);
    const wasm_data *data = decoded->data_segments;
    assert_int_equal(data[0].mode, WASM_SEGMENT_ACTIVE);
    assert_int_equal(data[0].offset.value.i32, 8);
    assert_int_equal(data[0].size, 2);
    assert_memory_equal(data[0].bytes, "hi", 2);
    assert_true(data[0].bytes > decoded->bytes && data[0].bytes < decoded->bytes + decoded->size);
    assert_int_equal(data[1].mode, WASM_SEGMENT_PASSIVE);
    assert_int_equal(data[1].bytes[0], 'x');
    assert_int_equal(data[2].size, 0);
    wasm_module_destroy(decoded);

    module.size = 0;
    put_header(&module);
    SECTION(&module, 12, 0x02);
    SECTION(&module, 11, 0x01, 0x01, 0x00);
    expect_failure(&module, LUN_ERR_MALFORMED,
                   "data count and data section have inconsistent lengths");

    expect_section_failure(&module, 12, BYTES(0x01), LUN_ERR_MALFORMED,
                           "data count and data section have inconsistent lengths");

    expect_section_failure(&module, 11, BYTES(0x01, 0x01, 0x05, 'a'), LUN_ERR_MALFORMED,
                           "unexpected end");

    expect_section_failure(&module, 11, BYTES(0x01, 0x03, 0x00), LUN_ERR_MALFORMED,
                           "malformed data segment kind");
    free(module.data);
}

static void test_custom_and_name_sections(void **unused)
{
    buffer module = {0};
    put_header(&module);
    SECTION(&module, 0, 0x03, 'f', 'o', 'o', 0xFF, 0xFF); /* any content */
    put_type_section(&module);
    SECTION(&module, 2, 0x01, 0x01, 'm', 0x01, 'f', 0x00, 0x00);
    SECTION(&module, 3, 0x02, 0x00, 0x00);
    SECTION(&module, 10, 0x02, 0x02, 0x00, 0x0B, 0x02, 0x00, 0x0B);
    SECTION(&module, 0, 0x04, 'n', 'a', 'm', 'e', /* name section */
            0x00, 0x02, 0x01, 'M',                /* module name */
            0x01, 0x0B, 0x02,                     /* function names: two */
            0x00, 0x03, 'i', 'm', 'p', 0x02, 0x03, 'd', 'e', 'f');
    lun_module *decoded = expect_success(&module);
    assert_string_equal(wasm_function_name(decoded, 0), "imp");
    assert_null(wasm_function_name(decoded, 1));
    assert_string_equal(wasm_function_name(decoded, 2), "def");
    assert_null(wasm_function_name(decoded, 3));
    wasm_module_destroy(decoded);

    /* A malformed name section is ignored. */
    module.size = 0;
    put_header(&module);
    put_type_section(&module);
    SECTION(&module, 3, 0x01, 0x00);
    SECTION(&module, 10, 0x01, 0x02, 0x00, 0x0B);
    SECTION(&module, 0, 0x04, 'n', 'a', 'm', 'e', 0x01, 0x09, 0x05, 0x00, 0x40, 'x');
    decoded = expect_success(&module);
    assert_null(wasm_function_name(decoded, 0));
    wasm_module_destroy(decoded);

    /* The custom section's own name must be valid UTF-8. */
    expect_section_failure(&module, 0, BYTES(0x02, 0xC0, 0x80), LUN_ERR_MALFORMED,
                           "malformed UTF-8 encoding");

    expect_section_failure(&module, 0, BYTES(0x05, 'a'), LUN_ERR_MALFORMED, "length out of bounds");
    free(module.data);
}

/* Every prefix of a valid module, and every single-byte change of it, is an
 * error or a module: never a crash (the sanitizer builds check the rest). */
static void test_truncations_and_corruptions(void **unused)
{
    buffer module = {0};
    put_header(&module);
    put_type_section(&module);
    SECTION(&module, 2, 0x01, 0x01, 'm', 0x01, 'f', 0x00, 0x00);
    SECTION(&module, 3, 0x01, 0x01);
    SECTION(&module, 4, 0x01, 0x70, 0x00, 0x01);
    SECTION(&module, 5, 0x01, 0x00, 0x01);
    SECTION(&module, 6, 0x01, 0x7F, 0x01, 0x41, 0x00, 0x0B);
    SECTION(&module, 7, 0x01, 0x01, 'r', 0x00, 0x01);
    SECTION(&module, 9, 0x01, 0x00, 0x41, 0x00, 0x0B, 0x01, 0x01);
    SECTION(&module, 12, 0x01);
    SECTION(&module, 10, 0x01, 0x09, 0x01, 0x01, 0x7E, 0x20, 0x00, 0x42, 0x01, 0x1A, 0x0B);
    SECTION(&module, 11, 0x01, 0x01, 0x02, 'h', 'i');
    lun_module *decoded = expect_success(&module);
    wasm_module_destroy(decoded);

    size_t accepted = 0;
    for (size_t size = 0; size < module.size; size++) {
        lun_error error;
        if (wasm_decode(module.data, size, &decoded, &error) == LUN_OK) {
            accepted++; /* a prefix that ends at a section boundary may be a module */
            wasm_module_destroy(decoded);
            continue;
        }
        assert_null(decoded);
        assert_non_null(strstr(error.message, "at byte 0x"));
    }
    assert_true(accepted < 8);
    uint8_t *copy = malloc(module.size);
    assert_non_null(copy);
    static const uint8_t replacements[] = {0x00, 0x01, 0x7F, 0x80, 0xFF, 0x0B, 0x40, 0x70};
    for (size_t offset = 8; offset < module.size; offset++) {
        for (size_t index = 0; index < sizeof replacements; index++) {
            memcpy(copy, module.data, module.size);
            copy[offset] = replacements[index];
            if (wasm_decode(copy, module.size, &decoded, NULL) == LUN_OK) {
                (void)wasm_validate(decoded, NULL);
                wasm_module_destroy(decoded);
            }
        }
    }
    free(copy);
    free(module.data);
}

static void test_reference_counting(void **unused)
{
    buffer module = {0};
    put_header(&module);
    lun_module *decoded = expect_success(&module);
    assert_ptr_equal(lun_module_retain(decoded), decoded);
    lun_module_free(decoded); /* one reference left */
    assert_int_equal(atomic_load(&decoded->references), 1);
    lun_module_free(decoded);
    lun_module_free(NULL);
    free(module.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leb128_unsigned),
        cmocka_unit_test(test_leb128_signed),
        cmocka_unit_test(test_empty_module),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_section_framing_errors),
        cmocka_unit_test(test_huge_counts),
        cmocka_unit_test(test_type_section),
        cmocka_unit_test(test_import_section),
        cmocka_unit_test(test_import_errors),
        cmocka_unit_test(test_functions_and_code),
        cmocka_unit_test(test_too_many_locals),
        cmocka_unit_test(test_tables_memories_globals),
        cmocka_unit_test(test_exports_and_start),
        cmocka_unit_test(test_element_segments),
        cmocka_unit_test(test_data_segments),
        cmocka_unit_test(test_custom_and_name_sections),
        cmocka_unit_test(test_truncations_and_corruptions),
        cmocka_unit_test(test_reference_counting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
