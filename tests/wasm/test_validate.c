/*
 * Tests of the validator (validate.c): typing of instructions and of the
 * polymorphic stack, control frames, module-level rules, the errors that
 * come from function bodies, and modules far larger or deeper than usual.
 * Modules are built byte by byte around a fixed context (types, tables, a
 * memory, globals, element and data segments), usually with one function
 * whose body varies.
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

/* The context every test function sees:
 *   types   0 [] -> [], 1 [i32] -> [i32], 2 [] -> [i32], 3 [i32 i32] -> [i32],
 *           4 [] -> [i32 i64], 5 [i64] -> []
 *   functions 0: the function under test, 1: type 0, never referenced
 *   tables  0 funcref (1), 1 externref (1)
 *   memory  0 of 1 page (unless without_memory)
 *   globals 0 mutable i32, 1 immutable i64
 *   element segment 0: passive funcref [function 0]
 *   data segment 0: passive "x", with a data count section (unless
 *   without_data_count) */
typedef struct test_context {
    uint32_t type_index;
    bool without_memory;
    bool without_data_count;
} test_context;

static void build_module(buffer *module, const test_context *context, const uint8_t *body,
                         size_t body_size)
{
    put_header(module);
    SECTION(module, 1, 0x06, 0x60, 0x00, 0x00, 0x60, 0x01, 0x7F, 0x01, 0x7F, 0x60, 0x00, 0x01, 0x7F,
            0x60, 0x02, 0x7F, 0x7F, 0x01, 0x7F, 0x60, 0x00, 0x02, 0x7F, 0x7E, 0x60, 0x01, 0x7E,
            0x00);
    SECTION(module, 3, 0x02, (uint8_t)context->type_index, 0x00);
    SECTION(module, 4, 0x02, 0x70, 0x00, 0x01, 0x6F, 0x00, 0x01);
    if (!context->without_memory) SECTION(module, 5, 0x01, 0x00, 0x01);
    SECTION(module, 6, 0x02, 0x7F, 0x01, 0x41, 0x00, 0x0B, 0x7E, 0x00, 0x42, 0x00, 0x0B);
    SECTION(module, 9, 0x01, 0x01, 0x00, 0x01, 0x00);
    if (!context->without_data_count) SECTION(module, 12, 0x01);
    buffer code = {0};
    put_byte(&code, 0x02);
    put_u32(&code, (uint32_t)body_size);
    put(&code, body, body_size);
    put(&code, BYTES(0x02, 0x00, 0x0B));
    put_section(module, 10, code.data, code.size);
    free(code.data);
    SECTION(module, 11, 0x01, 0x01, 0x01, 'x');
}

static lun_status decode_and_validate(const buffer *module, lun_error *error)
{
    lun_module *decoded;
    lun_status status = wasm_decode(module->data, module->size, &decoded, error);
    if (status != LUN_OK) return status;
    status = wasm_validate(decoded, error);
    wasm_module_destroy(decoded);
    return status;
}

static lun_status check_body_in(const test_context *context, const uint8_t *body, size_t size,
                                lun_error *error)
{
    buffer module = {0};
    build_module(&module, context, body, size);
    lun_status status = decode_and_validate(&module, error);
    free(module.data);
    return status;
}

static void expect(lun_status status, const lun_error *error, lun_status code, const char *text)
{
    if (status != code || (text != NULL && strstr(error->message, text) == NULL))
        print_error("expected status %d with \"%s\", got %d: %s\n", code, text ? text : "", status,
                    error->message);
    assert_int_equal(status, code);
    if (text != NULL) assert_non_null(strstr(error->message, text));
}

/* A body (locals vector, instructions, final end) for a function of type
 * type_index in the standard context. */
#define VALID(type, ...)                                                                           \
    do {                                                                                           \
        test_context context_ = {.type_index = (type)};                                            \
        lun_error error_;                                                                          \
        lun_error_clear(&error_);                                                                  \
        expect(check_body_in(&context_, BYTES(__VA_ARGS__), &error_), &error_, LUN_OK, NULL);      \
    } while (0)

#define FAILS(code, text, type, ...)                                                               \
    do {                                                                                           \
        test_context context_ = {.type_index = (type)};                                            \
        lun_error error_;                                                                          \
        lun_error_clear(&error_);                                                                  \
        expect(check_body_in(&context_, BYTES(__VA_ARGS__), &error_), &error_, code, text);        \
    } while (0)

#define INVALID(text, type_index, ...) FAILS(LUN_ERR_INVALID, text, type_index, __VA_ARGS__)
#define MALFORMED(text, type, ...)     FAILS(LUN_ERR_MALFORMED, text, type, __VA_ARGS__)

/* ---- instructions ---------------------------------------------------------- */

static void test_context_is_valid(void **unused)
{
    VALID(0, 0x00, 0x0B);
    VALID(1, 0x00, 0x20, 0x00, 0x0B);
    VALID(4, 0x00, 0x41, 0x01, 0x42, 0x02, 0x0B);
}

static void test_numeric_typing(void **unused)
{
    VALID(2, 0x00, 0x41, 0x01, 0x41, 0x02, 0x6A, 0x0B);             /* i32.add */
    VALID(2, 0x00, 0x42, 0x01, 0x42, 0x02, 0x51, 0x0B);             /* i64.eq -> i32 */
    VALID(2, 0x00, 0x43, 0, 0, 0, 0, 0xA8, 0x0B);                   /* i32.trunc_f32_s */
    VALID(2, 0x00, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0xFC, 0x03, 0x0B); /* trunc_sat */
    VALID(2, 0x00, 0x41, 0x7F, 0xC0, 0x0B);                         /* i32.extend8_s */
    VALID(0, 0x00, 0x42, 0x00, 0xC4, 0x1A, 0x0B);                   /* i64.extend32_s */
    VALID(0, 0x00, 0x41, 0x00, 0xBE, 0xBB, 0xBD, 0xA7, 0x1A, 0x0B); /* conversions chain */
    INVALID("type mismatch", 2, 0x00, 0x41, 0x01, 0x42, 0x02, 0x6A, 0x0B);
    INVALID("type mismatch", 2, 0x00, 0x41, 0x01, 0x6A, 0x0B);       /* one operand */
    INVALID("type mismatch", 2, 0x00, 0x42, 0x01, 0x0B);             /* wrong result */
    INVALID("type mismatch", 0, 0x00, 0x41, 0x01, 0x0B);             /* value left */
    INVALID("type mismatch", 2, 0x00, 0x0B);                         /* value missing */
    INVALID("type mismatch", 2, 0x00, 0x42, 0x00, 0xA7, 0xA7, 0x0B); /* wrap of i32 */
}

static void test_locals_and_globals(void **unused)
{
    VALID(1, 0x01, 0x01, 0x7E, 0x20, 0x00, 0x21, 0x00, 0x20, 0x01, 0x22, 0x01, 0x1A, 0x20, 0x00,
          0x0B);
    VALID(0, 0x00, 0x23, 0x00, 0x24, 0x00, 0x23, 0x01, 0x1A, 0x0B);
    INVALID("unknown local", 1, 0x00, 0x20, 0x01, 0x1A, 0x20, 0x00, 0x0B);
    INVALID("type mismatch", 1, 0x01, 0x01, 0x7E, 0x20, 0x01, 0x0B);
    INVALID("unknown global", 0, 0x00, 0x23, 0x02, 0x1A, 0x0B);
    INVALID("global is immutable", 0, 0x00, 0x42, 0x00, 0x24, 0x01, 0x0B);
    INVALID("type mismatch", 0, 0x00, 0x42, 0x00, 0x24, 0x00, 0x0B);
}

static void test_blocks_and_branches(void **unused)
{
    /* block (result i32) i32.const 1 end */
    VALID(2, 0x00, 0x02, 0x7F, 0x41, 0x01, 0x0B, 0x0B);
    /* multi-value: block (type 3) with two i32 parameters */
    VALID(2, 0x00, 0x41, 0x01, 0x41, 0x02, 0x02, 0x03, 0x6A, 0x0B, 0x0B);
    /* loop (type 1): a branch to a loop carries its parameters */
    VALID(2, 0x00, 0x41, 0x01, 0x03, 0x01, 0x0C, 0x00, 0x0B, 0x0B);
    /* if (result i32) then 1 else 2 */
    VALID(2, 0x00, 0x41, 0x01, 0x04, 0x7F, 0x41, 0x01, 0x05, 0x41, 0x02, 0x0B, 0x0B);
    /* if (type 1) without else: parameters pass through */
    VALID(2, 0x00, 0x41, 0x07, 0x41, 0x01, 0x04, 0x01, 0x0B, 0x0B);
    /* br_if keeps the label's values on the stack */
    VALID(2, 0x00, 0x02, 0x7F, 0x41, 0x01, 0x41, 0x00, 0x0D, 0x00, 0x0B, 0x0B);
    /* br_table with two targets of the same arity */
    VALID(2, 0x00, 0x02, 0x7F, 0x02, 0x7F, 0x41, 0x01, 0x41, 0x00, 0x0E, 0x01, 0x00, 0x01, 0x0B,
          0x0B, 0x0B);
    /* return with the function's results */
    VALID(4, 0x00, 0x41, 0x01, 0x42, 0x02, 0x0F, 0x0B);

    INVALID("type mismatch", 2, 0x00, 0x02, 0x7F, 0x0B, 0x0B); /* block empty */
    INVALID("type mismatch", 2, 0x00, 0x41, 0x01, 0x04, 0x7F, 0x41, 0x01, 0x0B, 0x0B);
    INVALID("type mismatch", 0, 0x00, 0x04, 0x40, 0x0B, 0x0B); /* if without i32 */
    INVALID("unknown label", 0, 0x00, 0x0C, 0x01, 0x0B);
    INVALID("type mismatch", 2, 0x00, 0x02, 0x7F, 0x42, 0x00, 0x0C, 0x00, 0x0B, 0x0B);
    INVALID("type mismatch", 2, 0x00, 0x02, 0x7F, 0x02, 0x40, 0x41, 0x00, 0x41, 0x00, 0x0E, 0x01,
            0x01, 0x00, 0x0B, 0x0B, 0x0B); /* br_table arities 1 and 0 */
    INVALID("unknown type", 0, 0x00, 0x02, 0x09, 0x0B, 0x0B);
    MALFORMED("else", 0, 0x00, 0x05, 0x0B);
    MALFORMED("malformed block type", 0, 0x00, 0x02, 0xFF, 0x7F, 0x0B, 0x0B);
    MALFORMED("malformed value type", 0, 0x00, 0x02, 0x7A, 0x0B, 0x0B);
}

static void test_polymorphic_stack(void **unused)
{
    /* After unreachable anything can be popped. */
    VALID(2, 0x00, 0x00, 0x6A, 0x0B);
    VALID(4, 0x00, 0x00, 0x0B);
    VALID(2, 0x00, 0x02, 0x40, 0x0C, 0x00, 0x6A, 0x1A, 0x0B, 0x41, 0x00, 0x0B);
    VALID(2, 0x00, 0x00, 0x1B, 0x0B); /* select of unknowns */
    VALID(0, 0x00, 0x00, 0xD1, 0x1A, 0x0B);
    /* ...but known values still have to match. */
    INVALID("type mismatch", 2, 0x00, 0x00, 0x42, 0x00, 0x6A, 0x0B);
    INVALID("type mismatch", 2, 0x00, 0x0F, 0x42, 0x00, 0x0B);
    /* br_table in unreachable code still checks what is on the stack. */
    INVALID("type mismatch", 2, 0x00, 0x02, 0x7F, 0x00, 0x42, 0x00, 0x41, 0x00, 0x0E, 0x00, 0x00,
            0x0B, 0x0B);
}

static void test_calls(void **unused)
{
    VALID(2, 0x00, 0x10, 0x00, 0x0B); /* recursive call of itself */
    VALID(0, 0x00, 0x10, 0x01, 0x0B);
    VALID(2, 0x00, 0x41, 0x05, 0x41, 0x00, 0x11, 0x01, 0x00, 0x0B); /* call_indirect type 1 */
    INVALID("unknown function", 0, 0x00, 0x10, 0x02, 0x0B);
    INVALID("type mismatch", 1, 0x00, 0x42, 0x00, 0x10, 0x00, 0x0B);
    INVALID("unknown type", 0, 0x00, 0x41, 0x00, 0x11, 0x09, 0x00, 0x0B);
    INVALID("unknown table", 0, 0x00, 0x41, 0x00, 0x11, 0x00, 0x05, 0x0B);
    INVALID("type mismatch", 0, 0x00, 0x41, 0x00, 0x11, 0x00, 0x01, 0x0B); /* externref table */
}

static void test_select_and_references(void **unused)
{
    VALID(2, 0x00, 0x41, 0x01, 0x41, 0x02, 0x41, 0x00, 0x1B, 0x0B);
    VALID(0, 0x00, 0xD0, 0x70, 0xD2, 0x00, 0x41, 0x00, 0x1C, 0x01, 0x70, 0x1A, 0x0B);
    VALID(2, 0x00, 0xD0, 0x6F, 0xD1, 0x0B);
    INVALID("type mismatch", 0, 0x00, 0xD0, 0x70, 0xD0, 0x70, 0x41, 0x00, 0x1B, 0x1A, 0x0B);
    INVALID("type mismatch", 0, 0x00, 0x41, 0x01, 0x42, 0x02, 0x41, 0x00, 0x1B, 0x1A, 0x0B);
    INVALID("invalid result arity", 0, 0x00, 0x41, 0x01, 0x41, 0x02, 0x41, 0x00, 0x1C, 0x02, 0x7F,
            0x7F, 0x1A, 0x0B);
    INVALID("undeclared function reference", 0, 0x00, 0xD2, 0x01, 0x1A, 0x0B);
    INVALID("unknown function", 0, 0x00, 0xD2, 0x05, 0x1A, 0x0B);
    INVALID("type mismatch", 2, 0x00, 0x41, 0x00, 0xD1, 0x0B);
    MALFORMED("malformed reference type", 0, 0x00, 0xD0, 0x7F, 0x1A, 0x0B);
}

static void test_memory_instructions(void **unused)
{
    VALID(2, 0x00, 0x41, 0x00, 0x28, 0x02, 0x00, 0x0B);             /* i32.load */
    VALID(0, 0x00, 0x41, 0x00, 0x42, 0x00, 0x37, 0x03, 0x08, 0x0B); /* i64.store */
    VALID(2, 0x00, 0x3F, 0x00, 0x40, 0x00, 0x0B);                   /* size, grow */
    VALID(0, 0x00, 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xFC, 0x08, 0x00, 0x00, 0xFC, 0x09, 0x00,
          0x0B); /* init, drop */
    VALID(0, 0x00, 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xFC, 0x0A, 0x00, 0x00, 0x41, 0x00, 0x41,
          0x00, 0x41, 0x00, 0xFC, 0x0B, 0x00, 0x0B); /* copy, fill */
    INVALID("alignment must not be larger than natural", 2, 0x00, 0x41, 0x00, 0x28, 0x03, 0x00,
            0x0B);
    INVALID("alignment must not be larger than natural", 2, 0x00, 0x41, 0x00, 0x2D, 0x01, 0x00,
            0x0B);
    INVALID("type mismatch", 0, 0x00, 0x41, 0x00, 0x41, 0x00, 0x37, 0x03, 0x00, 0x0B);
    INVALID("unknown data segment", 0, 0x00, 0xFC, 0x09, 0x01, 0x0B);
    MALFORMED("zero byte expected", 2, 0x00, 0x3F, 0x01, 0x0B);
    MALFORMED("zero byte expected", 0, 0x00, 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xFC, 0x0B, 0x01,
              0x0B);

    test_context without_memory = {.type_index = 2, .without_memory = true};
    lun_error error;
    expect(check_body_in(&without_memory, BYTES(0x00, 0x41, 0x00, 0x28, 0x02, 0x00, 0x0B), &error),
           &error, LUN_ERR_INVALID, "unknown memory");
    expect(check_body_in(&without_memory, BYTES(0x00, 0x3F, 0x00, 0x0B), &error), &error,
           LUN_ERR_INVALID, "unknown memory");

    test_context without_data_count = {.type_index = 0, .without_data_count = true};
    expect(check_body_in(&without_data_count, BYTES(0x00, 0xFC, 0x09, 0x00, 0x0B), &error), &error,
           LUN_ERR_MALFORMED, "data count section required");
}

static void test_table_instructions(void **unused)
{
    VALID(0, 0x00, 0x41, 0x00, 0x25, 0x00, 0x1A, 0x0B);                         /* table.get */
    VALID(0, 0x00, 0x41, 0x00, 0xD0, 0x6F, 0x26, 0x01, 0x0B);                   /* table.set */
    VALID(2, 0x00, 0xD0, 0x70, 0x41, 0x01, 0xFC, 0x0F, 0x00, 0x0B);             /* table.grow */
    VALID(2, 0x00, 0xFC, 0x10, 0x01, 0x0B);                                     /* table.size */
    VALID(0, 0x00, 0x41, 0x00, 0xD0, 0x6F, 0x41, 0x01, 0xFC, 0x11, 0x01, 0x0B); /* fill */
    VALID(0, 0x00, 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xFC, 0x0C, 0x00, 0x00, 0xFC, 0x0D, 0x00,
          0x0B); /* init, drop */
    VALID(0, 0x00, 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xFC, 0x0E, 0x00, 0x00, 0x0B); /* copy */
    INVALID("type mismatch", 0, 0x00, 0x41, 0x00, 0xD0, 0x70, 0x26, 0x01, 0x0B);
    INVALID("unknown table", 0, 0x00, 0x41, 0x00, 0x25, 0x02, 0x1A, 0x0B);
    INVALID("unknown elem segment", 0, 0x00, 0xFC, 0x0D, 0x01, 0x0B);
    INVALID("type mismatch", 0, 0x00, 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xFC, 0x0C, 0x00, 0x01,
            0x0B); /* funcref segment into the externref table */
    INVALID("type mismatch", 0, 0x00, 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xFC, 0x0E, 0x00, 0x01,
            0x0B);
}

static void test_malformed_bodies(void **unused)
{
    MALFORMED("illegal opcode", 0, 0x00, 0x06, 0x0B);
    MALFORMED("illegal opcode", 0, 0x00, 0xFC, 0x12, 0x0B);
    MALFORMED("END opcode expected", 0, 0x00, 0x01);
    MALFORMED("END opcode expected", 0, 0x00, 0x02, 0x40, 0x0B);
    MALFORMED("section size mismatch", 0, 0x00, 0x0B, 0x01);
    MALFORMED("integer representation too long", 2, 0x00, 0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
              0x0B);
    MALFORMED("unexpected end", 2, 0x00, 0x43, 0x00, 0x00);
    FAILS(LUN_ERR_UNSUPPORTED, "SIMD", 0, 0x00, 0xFD, 0x0C, 0x0B);
    FAILS(LUN_ERR_UNSUPPORTED, "v128", 0, 0x00, 0x02, 0x7B, 0x0B, 0x0B);
    FAILS(LUN_ERR_UNSUPPORTED, "v128", 0, 0x01, 0x01, 0x7B, 0x0B);
}

/* The spec decodes the whole module before validating it: a malformed body
 * outranks a typing error found earlier (binary.wast:1817). */
static void test_malformed_outranks_invalid(void **unused)
{
    /* i32.add of nothing, then a block of unknown type 11 never ended. */
    MALFORMED("END opcode expected", 0, 0x00, 0x6A, 0x02, 0x0B, 0x0B);
    MALFORMED("unexpected end", 2, 0x00, 0x02, 0x0B, 0x0E, 0x05);
    /* A type error, then an illegal opcode, a bad immediate, else in a block. */
    MALFORMED("illegal opcode", 0, 0x00, 0x42, 0x00, 0x6A, 0x06, 0x0B);
    MALFORMED("illegal opcode", 0, 0x00, 0x6A, 0x1A, 0xFC, 0x12, 0x0B);
    MALFORMED("zero byte expected", 0, 0x00, 0x6A, 0x3F, 0x01, 0x0B);
    MALFORMED("else without a matching if", 0, 0x00, 0x6A, 0x02, 0x40, 0x05, 0x0B, 0x0B);
    MALFORMED("section size mismatch", 0, 0x00, 0x6A, 0x0B, 0x01);
    /* A typing error with well-formed code stays invalid. */
    INVALID("type mismatch", 0, 0x00, 0x6A, 0x1A, 0x04, 0x40, 0x05, 0x0B, 0x0B);
    INVALID("unknown type", 0, 0x00, 0x02, 0x0B, 0x0B, 0xFC, 0x0A, 0x00, 0x00, 0x0B);
}

/* ---- module-level rules ------------------------------------------------- */

static void expect_module(lun_status code, const char *text, const uint8_t *sections, size_t size)
{
    buffer module = {0};
    put_header(&module);
    put(&module, sections, size);
    lun_error error;
    lun_error_clear(&error);
    expect(decode_and_validate(&module, &error), &error, code, text);
    free(module.data);
}

#define MODULE(code, text, ...) expect_module(code, text, BYTES(__VA_ARGS__))

static void test_limits(void **unused)
{
    /* An export of an unknown function (invalid) and an illegal opcode in
     * the body (malformed): malformed. */
    MODULE(LUN_ERR_MALFORMED, "illegal opcode", 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02,
           0x01, 0x00, 0x07, 0x05, 0x01, 0x01, 'f', 0x00, 0x05, 0x0A, 0x05, 0x01, 0x03, 0x00, 0x06,
           0x0B);
    MODULE(LUN_ERR_INVALID, "unknown function", 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02,
           0x01, 0x00, 0x07, 0x05, 0x01, 0x01, 'f', 0x00, 0x05, 0x0A, 0x04, 0x01, 0x02, 0x00, 0x0B);
    MODULE(LUN_OK, NULL, 5, 0x04, 0x01, 0x01, 0x00, 0x00);             /* memory 0..0 */
    MODULE(LUN_OK, NULL, 5, 0x06, 0x01, 0x01, 0x00, 0x80, 0x80, 0x04); /* max 65536 */
    MODULE(LUN_ERR_INVALID, "memory size must be at most 65536 pages (4GiB)", 5, 0x06, 0x01, 0x01,
           0x00, 0x81, 0x80, 0x04);
    MODULE(LUN_ERR_INVALID, "memory size must be at most 65536 pages (4GiB)", 5, 0x05, 0x01, 0x00,
           0x81, 0x80, 0x04);
    MODULE(LUN_ERR_INVALID, "size minimum must not be greater than maximum", 5, 0x04, 0x01, 0x01,
           0x02, 0x01);
    MODULE(LUN_ERR_INVALID, "size minimum must not be greater than maximum", 4, 0x05, 0x01, 0x70,
           0x01, 0x02, 0x01);
    MODULE(LUN_OK, NULL, 4, 0x09, 0x01, 0x70, 0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F);
    MODULE(LUN_ERR_INVALID, "multiple memories", 5, 0x05, 0x02, 0x00, 0x00, 0x00, 0x00);
    MODULE(LUN_ERR_INVALID, "multiple memories", 2, 0x06, 0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 5,
           0x03, 0x01, 0x00, 0x00);
    MODULE(LUN_ERR_INVALID, "memory size must be at most 65536 pages (4GiB)", 2, 0x08, 0x01, 0x00,
           0x00, 0x02, 0x00, 0x81, 0x80, 0x04);
}

static void test_globals_and_constant_expressions(void **unused)
{
    /* global.get of an imported immutable global */
    MODULE(LUN_OK, NULL, 2, 0x06, 0x01, 0x00, 0x00, 0x03, 0x7F, 0x00, 6, 0x06, 0x01, 0x7F, 0x00,
           0x23, 0x00, 0x0B);
    MODULE(LUN_ERR_INVALID, "constant expression required", 2, 0x06, 0x01, 0x00, 0x00, 0x03, 0x7F,
           0x01, 6, 0x06, 0x01, 0x7F, 0x00, 0x23, 0x00, 0x0B);
    /* WebAssembly 2.0: not of a global defined by the module */
    MODULE(LUN_ERR_INVALID, "unknown global", 6, 0x0B, 0x02, 0x7F, 0x00, 0x41, 0x00, 0x0B, 0x7F,
           0x00, 0x23, 0x00, 0x0B);
    MODULE(LUN_ERR_INVALID, "type mismatch", 6, 0x06, 0x01, 0x7E, 0x00, 0x41, 0x00, 0x0B);
    MODULE(LUN_ERR_INVALID, "type mismatch", 6, 0x06, 0x01, 0x70, 0x00, 0xD0, 0x6F, 0x0B);
    MODULE(LUN_ERR_INVALID, "unknown function", 6, 0x06, 0x01, 0x70, 0x00, 0xD2, 0x00, 0x0B);
    MODULE(LUN_ERR_INVALID, "constant expression required", 6, 0x06, 0x01, 0x7F, 0x00, 0x20, 0x00,
           0x0B);
}

static void test_exports_start_and_segments(void **unused)
{
    /* type 0 [] -> [], type 1 [i32] -> []; function 0 of type 0, 1 of type 1 */
#define TWO_FUNCTIONS                                                                              \
    1, 0x08, 0x02, 0x60, 0x00, 0x00, 0x60, 0x01, 0x7F, 0x00, 3, 0x03, 0x02, 0x00, 0x01
#define TWO_BODIES 10, 0x07, 0x02, 0x02, 0x00, 0x0B, 0x02, 0x00, 0x0B
    MODULE(LUN_OK, NULL, TWO_FUNCTIONS, 8, 0x01, 0x00, TWO_BODIES);
    MODULE(LUN_ERR_INVALID, "start function", TWO_FUNCTIONS, 8, 0x01, 0x01, TWO_BODIES);
    MODULE(LUN_ERR_INVALID, "unknown function", TWO_FUNCTIONS, 8, 0x01, 0x02, TWO_BODIES);
    MODULE(LUN_ERR_INVALID, "unknown function", TWO_FUNCTIONS, 7, 0x05, 0x01, 0x01, 'f', 0x00, 0x02,
           TWO_BODIES);
    MODULE(LUN_ERR_INVALID, "unknown global", 7, 0x05, 0x01, 0x01, 'g', 0x03, 0x00);
    MODULE(LUN_ERR_INVALID, "unknown memory", 7, 0x05, 0x01, 0x01, 'm', 0x02, 0x00);
    MODULE(LUN_ERR_INVALID, "unknown table", 7, 0x05, 0x01, 0x01, 't', 0x01, 0x00);
    MODULE(LUN_ERR_INVALID, "duplicate export name", TWO_FUNCTIONS, 7, 0x09, 0x02, 0x01, 'f', 0x00,
           0x00, 0x01, 'f', 0x00, 0x01, TWO_BODIES);
    /* ref.func in code is allowed for an exported function only */
    MODULE(LUN_OK, NULL, TWO_FUNCTIONS, 7, 0x05, 0x01, 0x01, 'f', 0x00, 0x01, 10, 0x0A, 0x02, 0x05,
           0x00, 0xD2, 0x01, 0x1A, 0x0B, 0x02, 0x00, 0x0B);
    MODULE(LUN_ERR_INVALID, "undeclared function reference", TWO_FUNCTIONS, 10, 0x0A, 0x02, 0x05,
           0x00, 0xD2, 0x01, 0x1A, 0x0B, 0x02, 0x00, 0x0B);

    /* element segments */
    MODULE(LUN_OK, NULL, TWO_FUNCTIONS, 4, 0x04, 0x01, 0x70, 0x00, 0x02, 9, 0x07, 0x01, 0x00, 0x41,
           0x00, 0x0B, 0x01, 0x01, TWO_BODIES);
    MODULE(LUN_ERR_INVALID, "unknown table", TWO_FUNCTIONS, 9, 0x07, 0x01, 0x00, 0x41, 0x00, 0x0B,
           0x01, 0x01, TWO_BODIES);
    MODULE(LUN_ERR_INVALID, "type mismatch", TWO_FUNCTIONS, 4, 0x04, 0x01, 0x70, 0x00, 0x02, 9,
           0x07, 0x01, 0x00, 0x42, 0x00, 0x0B, 0x01, 0x01, TWO_BODIES);
    MODULE(LUN_ERR_INVALID, "type mismatch", 4, 0x04, 0x01, 0x6F, 0x00, 0x02, 9, 0x06, 0x01, 0x00,
           0x41, 0x00, 0x0B, 0x00);
#undef TWO_FUNCTIONS
#undef TWO_BODIES
}

static void test_data_segments(void **unused)
{
    MODULE(LUN_OK, NULL, 5, 0x03, 0x01, 0x00, 0x01, 11, 0x07, 0x01, 0x00, 0x41, 0x00, 0x0B, 0x01,
           'a');
    MODULE(LUN_ERR_INVALID, "unknown memory", 11, 0x07, 0x01, 0x00, 0x41, 0x00, 0x0B, 0x01, 'a');
    MODULE(LUN_ERR_INVALID, "type mismatch", 5, 0x03, 0x01, 0x00, 0x01, 11, 0x07, 0x01, 0x00, 0x42,
           0x00, 0x0B, 0x01, 'a');
    MODULE(LUN_OK, NULL, 11, 0x04, 0x01, 0x01, 0x01, 'a'); /* passive needs no memory */
}

/* Errors name the byte offset, the function and (from the name section) its
 * name. */
static void test_error_messages(void **unused)
{
    buffer module = {0};
    put_header(&module);
    SECTION(&module, 1, 0x01, 0x60, 0x00, 0x00);
    SECTION(&module, 3, 0x01, 0x00);
    SECTION(&module, 10, 0x01, 0x04, 0x00, 0x41, 0x00, 0x0B); /* leaves an i32 behind */
    SECTION(&module, 0, 0x04, 'n', 'a', 'm', 'e', 0x01, 0x06, 0x01, 0x00, 0x03, 'f', 'o', 'o');
    lun_error error;
    lun_error_clear(&error);
    expect(decode_and_validate(&module, &error), &error, LUN_ERR_INVALID,
           "at byte 0x19: type mismatch");
    assert_non_null(strstr(error.message, "function 0 \"foo\""));
    free(module.data);
}

/* ---- scale ----------------------------------------------------------------- */

/* Nesting far deeper than any C stack could recurse over. */
static void test_deep_nesting(void **unused)
{
    enum { DEPTH = 200000 };
    buffer body = {0};
    put_byte(&body, 0x00);
    for (int index = 0; index < DEPTH; index++)
        put(&body, BYTES(0x02, 0x40));
    for (int index = 0; index < DEPTH; index++)
        put_byte(&body, 0x0B);
    put_byte(&body, 0x0B);
    test_context context = {.type_index = 0};
    lun_error error;
    lun_error_clear(&error);
    expect(check_body_in(&context, body.data, body.size, &error), &error, LUN_OK, NULL);
    /* A branch from the innermost block to the outermost one. */
    body.size = 1 + 2 * DEPTH;
    put(&body, BYTES(0x0C));
    put_u32(&body, DEPTH);
    for (int index = 0; index < DEPTH; index++)
        put_byte(&body, 0x0B);
    put_byte(&body, 0x0B);
    expect(check_body_in(&context, body.data, body.size, &error), &error, LUN_OK, NULL);
    free(body.data);
}

/* The operand stack is bounded (reader.h), so a frame's size is too. */
static void test_operand_stack_limit(void **unused)
{
    buffer body = {0};
    put_byte(&body, 0x00);
    for (int index = 0; index < WASM_MAX_OPERAND_STACK; index++)
        put(&body, BYTES(0x41, 0x00));
    for (int index = 0; index < WASM_MAX_OPERAND_STACK; index++)
        put_byte(&body, 0x1A);
    put_byte(&body, 0x0B);
    test_context context = {.type_index = 0};
    lun_error error;
    lun_error_clear(&error);
    expect(check_body_in(&context, body.data, body.size, &error), &error, LUN_OK, NULL);
    body.size = 1 + 2 * WASM_MAX_OPERAND_STACK;
    put(&body, BYTES(0x41, 0x00));
    for (int index = 0; index <= WASM_MAX_OPERAND_STACK; index++)
        put_byte(&body, 0x1A);
    put_byte(&body, 0x0B);
    expect(check_body_in(&context, body.data, body.size, &error), &error, LUN_ERR_UNSUPPORTED,
           "operand stack");
    free(body.data);
}

static void test_many_functions(void **unused)
{
    enum { COUNT = 10000 };
    buffer module = {0}, functions = {0}, code = {0};
    put_header(&module);
    SECTION(&module, 1, 0x01, 0x60, 0x01, 0x7F, 0x01, 0x7F);
    put_u32(&functions, COUNT);
    put_u32(&code, COUNT);
    for (uint32_t index = 0; index < COUNT; index++) {
        put_byte(&functions, 0x00);
        /* local.get 0, call the next function (or itself), end */
        buffer body = {0};
        put(&body, BYTES(0x01, 0x01, 0x7E, 0x20, 0x00, 0x10));
        put_u32(&body, index + 1 < COUNT ? index + 1 : index);
        put_byte(&body, 0x0B);
        put_u32(&code, (uint32_t)body.size);
        put(&code, body.data, body.size);
        free(body.data);
    }
    put_section(&module, 3, functions.data, functions.size);
    put_section(&module, 10, code.data, code.size);
    lun_error error;
    lun_error_clear(&error);
    expect(decode_and_validate(&module, &error), &error, LUN_OK, NULL);
    free(functions.data);
    free(code.data);
    free(module.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_context_is_valid),
        cmocka_unit_test(test_numeric_typing),
        cmocka_unit_test(test_locals_and_globals),
        cmocka_unit_test(test_blocks_and_branches),
        cmocka_unit_test(test_polymorphic_stack),
        cmocka_unit_test(test_calls),
        cmocka_unit_test(test_select_and_references),
        cmocka_unit_test(test_memory_instructions),
        cmocka_unit_test(test_table_instructions),
        cmocka_unit_test(test_malformed_bodies),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_globals_and_constant_expressions),
        cmocka_unit_test(test_exports_start_and_segments),
        cmocka_unit_test(test_data_segments),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_malformed_outranks_invalid),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_operand_stack_limit),
        cmocka_unit_test(test_many_functions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
