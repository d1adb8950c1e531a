/*
 * Tests of the spec-test runner's values: the decimal bit patterns of
 * wast2json, the canonical and arithmetic NaN checks of both widths, and
 * references (null, ref.extern N, any non-null).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "value.h"

/* Parses {"type": type, "value": value} (value NULL: no "value" member). */
static lun_status parse(const char *type, const char *value, bool is_expected,
                        spectest_value *result)
{
    char text[256];
    if (value != NULL)
        snprintf(text, sizeof text, "{\"type\": \"%s\", \"value\": \"%s\"}", type, value);
    else
        snprintf(text, sizeof text, "{\"type\": \"%s\"}", type);
    spectest_json *json = NULL;
    assert_int_equal(spectest_json_parse(text, strlen(text), &json, NULL), LUN_OK);
    lun_status status = spectest_value_parse(json, is_expected, result, NULL);
    spectest_json_free(json);
    return status;
}

static spectest_value parse_ok(const char *type, const char *value, bool is_expected)
{
    spectest_value result;
    assert_int_equal(parse(type, value, is_expected, &result), LUN_OK);
    return result;
}

static lun_value f32_bits(uint32_t bits)
{
    lun_value value = {.type = LUN_F32, .f32_bits = bits};
    return value;
}

static lun_value f64_bits(uint64_t bits)
{
    lun_value value = {.type = LUN_F64, .f64_bits = bits};
    return value;
}

static void test_integers(void **state)
{
    (void)state;
    spectest_value v = parse_ok("i32", "4294967295", false);
    assert_int_equal(v.kind, SPECTEST_VALUE_EXACT);
    assert_int_equal(v.value.type, LUN_I32);
    assert_int_equal(v.value.i32, -1);
    assert_true(spectest_value_matches(&v, lun_value_i32(-1)));
    assert_false(spectest_value_matches(&v, lun_value_i32(1)));
    assert_false(spectest_value_matches(&v, lun_value_i64(-1))); /* types differ */

    v = parse_ok("i64", "18446744073709551615", false);
    assert_true(v.value.i64 == -1);
    v = parse_ok("i64", "9223372036854775808", false);
    assert_true(v.value.i64 == INT64_MIN);

    spectest_value bad;
    assert_int_equal(parse("i32", "4294967296", false, &bad), LUN_ERR_MALFORMED);
    assert_int_equal(parse("i64", "18446744073709551616", false, &bad), LUN_ERR_MALFORMED);
    assert_int_equal(parse("i32", "-1", false, &bad), LUN_ERR_MALFORMED);
    assert_int_equal(parse("i32", "", false, &bad), LUN_ERR_MALFORMED);
    assert_int_equal(parse("i32", "01", false, &bad), LUN_ERR_MALFORMED);
    assert_int_equal(parse("i32", "1 ", false, &bad), LUN_ERR_MALFORMED);
    assert_int_equal(parse("i32", NULL, false, &bad), LUN_ERR_MALFORMED);
    assert_int_equal(parse("i31", "1", false, &bad), LUN_ERR_MALFORMED);
    assert_int_equal(parse("v128", "1", false, &bad), LUN_ERR_UNSUPPORTED);
}

static void test_float_bits(void **state)
{
    (void)state;
    spectest_value v = parse_ok("f32", "1065353216", false); /* 1.0 */
    assert_true(spectest_value_matches(&v, lun_value_f32(1.0f)));
    assert_false(spectest_value_matches(&v, lun_value_f32(-1.0f)));
    /* Exact means exact bits: +0 is not -0, and one NaN is not another. */
    v = parse_ok("f32", "0", false);
    assert_false(spectest_value_matches(&v, f32_bits(0x80000000u)));
    v = parse_ok("f32", "2143289345", false); /* 0x7fc00001 */
    assert_true(spectest_value_matches(&v, f32_bits(0x7fc00001u)));
    assert_false(spectest_value_matches(&v, f32_bits(0x7fc00000u)));

    v = parse_ok("f64", "4607182418800017408", false); /* 1.0 */
    assert_true(spectest_value_matches(&v, lun_value_f64(1.0)));
    assert_false(spectest_value_matches(&v, f32_bits(0x3f800000u)));
    spectest_value bad;
    assert_int_equal(parse("f32", "4294967296", false, &bad), LUN_ERR_MALFORMED);
}

static void test_nan_canonical(void **state)
{
    (void)state;
    spectest_value v = parse_ok("f32", "nan:canonical", true);
    assert_int_equal(v.kind, SPECTEST_VALUE_NAN_CANONICAL);
    assert_true(spectest_value_matches(&v, f32_bits(0x7fc00000u)));
    assert_true(spectest_value_matches(&v, f32_bits(0xffc00000u)));
    assert_false(spectest_value_matches(&v, f32_bits(0x7fc00001u))); /* extra payload */
    assert_false(spectest_value_matches(&v, f32_bits(0x7fa00000u))); /* signalling */
    assert_false(spectest_value_matches(&v, f32_bits(0x7f800000u))); /* infinity */
    assert_false(spectest_value_matches(&v, f64_bits(0x7ff8000000000000ull)));

    v = parse_ok("f64", "nan:canonical", true);
    assert_true(spectest_value_matches(&v, f64_bits(0x7ff8000000000000ull)));
    assert_true(spectest_value_matches(&v, f64_bits(0xfff8000000000000ull)));
    assert_false(spectest_value_matches(&v, f64_bits(0x7ff8000000000001ull)));
    assert_false(spectest_value_matches(&v, f64_bits(0x7ff4000000000000ull)));
    assert_false(spectest_value_matches(&v, f64_bits(0x7ff0000000000000ull)));
}

static void test_nan_arithmetic(void **state)
{
    (void)state;
    spectest_value v = parse_ok("f32", "nan:arithmetic", true);
    assert_int_equal(v.kind, SPECTEST_VALUE_NAN_ARITHMETIC);
    assert_true(spectest_value_matches(&v, f32_bits(0x7fc00000u)));
    assert_true(spectest_value_matches(&v, f32_bits(0xffc00001u)));
    assert_true(spectest_value_matches(&v, f32_bits(0x7fffffffu)));
    assert_false(spectest_value_matches(&v, f32_bits(0x7fa00000u))); /* quiet bit clear */
    assert_false(spectest_value_matches(&v, f32_bits(0x7f800000u)));
    assert_false(spectest_value_matches(&v, f32_bits(0x3fc00000u)));

    v = parse_ok("f64", "nan:arithmetic", true);
    assert_true(spectest_value_matches(&v, f64_bits(0x7ff8000000000000ull)));
    assert_true(spectest_value_matches(&v, f64_bits(0xfffc000000000001ull)));
    assert_false(spectest_value_matches(&v, f64_bits(0x7ff0000000000001ull)));
    assert_false(spectest_value_matches(&v, f64_bits(0x7ff0000000000000ull)));

    /* A NaN pattern is no argument. */
    spectest_value bad;
    assert_int_equal(parse("f32", "nan:arithmetic", false, &bad), LUN_ERR_MALFORMED);
    assert_int_equal(parse("f64", "nan:canonical", false, &bad), LUN_ERR_MALFORMED);
    assert_int_equal(parse("i32", "nan:canonical", true, &bad), LUN_ERR_MALFORMED);
}

static void test_references(void **state)
{
    (void)state;
    lun_value null_extern = {.type = LUN_EXTERNREF, .ref = NULL};
    lun_value null_func = {.type = LUN_FUNCREF, .ref = NULL};
    lun_value extern_1 = {.type = LUN_EXTERNREF, .ref = spectest_extern_reference(1)};
    lun_value extern_0 = {.type = LUN_EXTERNREF, .ref = spectest_extern_reference(0)};

    assert_non_null(spectest_extern_reference(0));
    assert_ptr_not_equal(spectest_extern_reference(0), spectest_extern_reference(1));

    spectest_value v = parse_ok("externref", "null", false);
    assert_true(spectest_value_matches(&v, null_extern));
    assert_false(spectest_value_matches(&v, null_func));
    assert_false(spectest_value_matches(&v, extern_0));

    v = parse_ok("externref", "1", false);
    assert_ptr_equal(v.value.ref, spectest_extern_reference(1));
    assert_true(spectest_value_matches(&v, extern_1));
    assert_false(spectest_value_matches(&v, extern_0));
    assert_false(spectest_value_matches(&v, null_extern));

    v = parse_ok("funcref", "null", true);
    assert_true(spectest_value_matches(&v, null_func));
    assert_false(spectest_value_matches(&v, null_extern));

    /* "(ref.func)" and "(ref.extern)" without an index: any non-null. */
    v = parse_ok("funcref", NULL, true);
    assert_int_equal(v.kind, SPECTEST_VALUE_ANY_REFERENCE);
    lun_value some_func = {.type = LUN_FUNCREF, .ref = &v};
    assert_true(spectest_value_matches(&v, some_func));
    assert_false(spectest_value_matches(&v, null_func));
    v = parse_ok("externref", NULL, true);
    assert_true(spectest_value_matches(&v, extern_0));
    assert_false(spectest_value_matches(&v, null_extern));

    spectest_value bad;
    assert_int_equal(parse("externref", NULL, false, &bad), LUN_ERR_MALFORMED);
    assert_int_equal(parse("funcref", "3", false, &bad), LUN_ERR_UNSUPPORTED);
    assert_int_equal(parse("externref", "18446744073709551615", false, &bad), LUN_ERR_MALFORMED);
    assert_int_equal(parse("externref", "x", false, &bad), LUN_ERR_MALFORMED);
}

static void test_not_an_object(void **state)
{
    (void)state;
    spectest_json *json = NULL;
    assert_int_equal(spectest_json_parse("[1]", 3, &json, NULL), LUN_OK);
    spectest_value value;
    lun_error error;
    assert_int_equal(spectest_value_parse(json, true, &value, &error), LUN_ERR_MALFORMED);
    assert_int_equal(spectest_value_parse(NULL, true, &value, NULL), LUN_ERR_MALFORMED);
    spectest_json_free(json);
    const char *number_value = "{\"type\": \"i32\", \"value\": 5}";
    assert_int_equal(spectest_json_parse(number_value, strlen(number_value), &json, NULL), LUN_OK);
    assert_int_equal(spectest_value_parse(json, true, &value, NULL), LUN_ERR_MALFORMED);
    spectest_json_free(json);
}

static void test_format(void **state)
{
    (void)state;
    char buffer[64];
    spectest_value_format(lun_value_i32(-1), buffer, sizeof buffer);
    assert_string_equal(buffer, "i32:4294967295");
    spectest_value_format(f32_bits(0x7fc00000u), buffer, sizeof buffer);
    assert_string_equal(buffer, "f32:0x7fc00000");
    spectest_value_format(f64_bits(1), buffer, sizeof buffer);
    assert_string_equal(buffer, "f64:0x0000000000000001");
    lun_value extern_7 = {.type = LUN_EXTERNREF, .ref = spectest_extern_reference(7)};
    spectest_value_format(extern_7, buffer, sizeof buffer);
    assert_string_equal(buffer, "externref:7");
    lun_value null_func = {.type = LUN_FUNCREF, .ref = NULL};
    spectest_value_format(null_func, buffer, sizeof buffer);
    assert_string_equal(buffer, "funcref:null");
    spectest_value nan = parse_ok("f64", "nan:arithmetic", true);
    spectest_expected_format(&nan, buffer, sizeof buffer);
    assert_string_equal(buffer, "f64:nan:arithmetic");
    spectest_value exact = parse_ok("i64", "5", true);
    spectest_expected_format(&exact, buffer, sizeof buffer);
    assert_string_equal(buffer, "i64:5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),      cmocka_unit_test(test_float_bits),
        cmocka_unit_test(test_nan_canonical), cmocka_unit_test(test_nan_arithmetic),
        cmocka_unit_test(test_references),    cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
