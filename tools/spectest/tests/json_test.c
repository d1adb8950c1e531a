/*
 * Tests of the spec-test runner's JSON reader: the shapes wast2json writes,
 * string escapes and UTF-8, integer limits, and rejection of malformed or
 * too deeply nested input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static spectest_json *parse_ok(const char *text)
{
    spectest_json *root = NULL;
    lun_error error;
    lun_error_clear(&error);
    lun_status status = spectest_json_parse(text, strlen(text), &root, &error);
    if (status != LUN_OK) fail_msg("parse of %s failed: %s", text, error.message);
    assert_non_null(root);
    return root;
}

static lun_error parse_error(const char *text, size_t length)
{
    spectest_json *root = (spectest_json *)1;
    lun_error error;
    lun_error_clear(&error);
    lun_status status = spectest_json_parse(text, length, &root, &error);
    assert_int_equal(status, LUN_ERR_MALFORMED);
    assert_int_equal(error.code, LUN_ERR_MALFORMED);
    assert_null(root);
    return error;
}

static void test_wast2json_command(void **state)
{
    (void)state;
    spectest_json *root =
        parse_ok("{\"source_filename\": \"i32.wast\",\n \"commands\": [\n"
                 "  {\"type\": \"module\", \"line\": 3, \"filename\": \"i32.0.wasm\"}, \n"
                 "  {\"type\": \"assert_return\", \"line\": 37, \"action\": {\"type\": \"invoke\", "
                 "\"field\": \"add\", \"args\": [{\"type\": \"i32\", \"value\": \"1\"}]}, "
                 "\"expected\": [{\"type\": \"i32\", \"value\": \"2\"}]}]}\n");
    assert_int_equal(root->kind, SPECTEST_JSON_OBJECT);
    assert_string_equal(spectest_json_get_string(root, "source_filename"), "i32.wast");
    const spectest_json *commands = spectest_json_get_array(root, "commands");
    assert_non_null(commands);
    assert_int_equal(commands->array.count, 2);
    const spectest_json *module = &commands->array.items[0];
    int64_t line = 0;
    assert_true(spectest_json_get_integer(module, "line", &line));
    assert_int_equal(line, 3);
    assert_string_equal(spectest_json_get_string(module, "filename"), "i32.0.wasm");
    assert_null(spectest_json_get(module, "name"));
    const spectest_json *action = spectest_json_get(&commands->array.items[1], "action");
    const spectest_json *args = spectest_json_get_array(action, "args");
    assert_non_null(args);
    assert_int_equal(args->array.count, 1);
    assert_string_equal(spectest_json_get_string(&args->array.items[0], "value"), "1");
    /* Getters refuse the wrong kinds. */
    assert_null(spectest_json_get_string(module, "line"));
    assert_false(spectest_json_get_integer(module, "filename", &line));
    assert_null(spectest_json_get_array(module, "type"));
    assert_null(spectest_json_get(commands, "type"));
    spectest_json_free(root);
}

static void test_literals_and_empty_containers(void **state)
{
    (void)state;
    spectest_json *root = parse_ok(" [true, false, null, [], {}, -0, 0] ");
    assert_int_equal(root->array.count, 7);
    assert_int_equal(root->array.items[0].kind, SPECTEST_JSON_BOOL);
    assert_true(root->array.items[0].boolean);
    assert_false(root->array.items[1].boolean);
    assert_int_equal(root->array.items[2].kind, SPECTEST_JSON_NULL);
    assert_int_equal(root->array.items[3].kind, SPECTEST_JSON_ARRAY);
    assert_int_equal(root->array.items[3].array.count, 0);
    assert_int_equal(root->array.items[4].kind, SPECTEST_JSON_OBJECT);
    assert_int_equal(root->array.items[4].object.count, 0);
    assert_int_equal(root->array.items[5].integer, 0);
    spectest_json_free(root);
}

static void test_integer_limits(void **state)
{
    (void)state;
    spectest_json *root = parse_ok("[9223372036854775807, -9223372036854775808, -12]");
    assert_true(root->array.items[0].integer == INT64_MAX);
    assert_true(root->array.items[1].integer == INT64_MIN);
    assert_true(root->array.items[2].integer == -12);
    spectest_json_free(root);
    parse_error("9223372036854775808", 19);
    parse_error("-9223372036854775809", 20);
    parse_error("01", 2);
    parse_error("-", 1);
    parse_error("1.5", 3);
    parse_error("1e3", 3);
}

static void test_string_escapes(void **state)
{
    (void)state;
    /* What names.wast turns into: control characters, quote, backslash. */
    spectest_json *root = parse_ok("\"a\\u0000b\\u005c\\u0022\\n\\t\\/\\b\\f\\r\"");
    assert_int_equal(root->kind, SPECTEST_JSON_STRING);
    assert_int_equal(root->string.length, 11);
    assert_memory_equal(root->string.data, "a\0b\\\"\n\t/\b\f\r", 12);
    spectest_json_free(root);

    root = parse_ok("\"\\u00c5\\u20ac\\ud83d\\ude00\"");
    assert_string_equal(root->string.data, "\xC3\x85\xE2\x82\xAC\xF0\x9F\x98\x80");
    spectest_json_free(root);

    /* Raw UTF-8 passes through unchanged. */
    root = parse_ok("\"\xEF\xBB\xBF\xC3\x85\"");
    assert_string_equal(root->string.data, "\xEF\xBB\xBF\xC3\x85");
    spectest_json_free(root);
}

static void test_bad_strings(void **state)
{
    (void)state;
    const char *bad[] = {
        "\"abc",       /* unterminated */
        "\"a\nb\"",    /* raw control character */
        "\"\\x\"",     /* unknown escape */
        "\"\\u12\"",   /* short \u */
        "\"\\ud800\"", /* lone high surrogate */
        "\"\\udc00\"", /* lone low surrogate */
        "\"\\ud800\\u0041\"",
        "\"\xC3\"",         /* truncated UTF-8 */
        "\"\xC0\x80\"",     /* overlong */
        "\"\xED\xA0\x80\"", /* encoded surrogate */
        "\"\xF5\x80\x80\x80\"",
        "\"\xFF\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        parse_error(bad[i], strlen(bad[i]));
}

static void test_structure_errors(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "   ",
        "[1,]",
        "[1 2]",
        "{\"a\" 1}",
        "{\"a\":1,}",
        "{a:1}",
        "[1] x",
        "tru",
        "nul",
        "[",
        "{\"a\":",
        "{\"a\":1 \"b\":2}",
        "]",
        "{\"k\":1,\"k\":2}",
        "+1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        parse_error(bad[i], strlen(bad[i]));
}

static void test_error_position(void **state)
{
    (void)state;
    lun_error error = parse_error("{\n  \"a\": 1,\n  \"a\": 2}", 21);
    assert_non_null(strstr(error.message, "line 3"));
    assert_non_null(strstr(error.message, "duplicate"));
}

static void test_embedded_nul_in_input(void **state)
{
    (void)state;
    /* The length, not a terminator, bounds the input. */
    parse_error("[1]\0", 4);
    spectest_json *root = NULL;
    assert_int_equal(spectest_json_parse("[1]xyz", 3, &root, NULL), LUN_OK);
    assert_int_equal(root->array.count, 1);
    spectest_json_free(root);
}

static void test_depth_limit(void **state)
{
    (void)state;
    char text[2 * SPECTEST_JSON_MAX_DEPTH + 8];
    size_t depth = SPECTEST_JSON_MAX_DEPTH;
    for (size_t i = 0; i < depth; i++) {
        text[i] = '[';
        text[depth + i] = ']';
    }
    spectest_json *root = NULL;
    assert_int_equal(spectest_json_parse(text, 2 * depth, &root, NULL), LUN_OK);
    spectest_json_free(root);

    depth++;
    for (size_t i = 0; i < depth; i++) {
        text[i] = '[';
        text[depth + i] = ']';
    }
    lun_error error = parse_error(text, 2 * depth);
    assert_non_null(strstr(error.message, "deep"));
}

static void test_member_limit(void **state)
{
    (void)state;
    size_t count = SPECTEST_JSON_MAX_MEMBERS + 1;
    char *text = malloc(count * 16 + 2);
    assert_non_null(text);
    size_t length = 0;
    text[length++] = '{';
    for (size_t i = 0; i < count; i++)
        length += (size_t)sprintf(text + length, "%s\"k%zu\":0", i ? "," : "", i);
    text[length++] = '}';
    lun_error error = parse_error(text, length);
    assert_non_null(strstr(error.message, "too many"));
    free(text);
}

static void test_free_null(void **state)
{
    (void)state;
    spectest_json_free(NULL);
    assert_null(spectest_json_get(NULL, "x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wast2json_command),
        cmocka_unit_test(test_literals_and_empty_containers),
        cmocka_unit_test(test_integer_limits),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_bad_strings),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_error_position),
        cmocka_unit_test(test_embedded_nul_in_input),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_member_limit),
        cmocka_unit_test(test_free_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
