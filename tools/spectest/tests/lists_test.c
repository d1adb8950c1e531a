/*
 * Tests of the spec-test runner's list files: MANIFEST.tsv, the
 * known-failures list with its path matching, SIMD paths, and the bounded
 * file reader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lists.h"

static void test_manifest(void **state)
{
    (void)state;
    const char *text = "path\twast2json_flags\tspectest_interp_passed/total\tnote\n"
                       "wast/address.wast\tnone\t260/260\tload/store\n"
                       "\n"
                       "wast/simd/simd_add.wast\t--enable-x --y\t10/12\tsimd\r\n"
                       "wast/bare.wast\n";
    spectest_manifest manifest;
    assert_int_equal(spectest_manifest_parse(text, strlen(text), &manifest, NULL), LUN_OK);
    assert_int_equal(manifest.count, 3);
    assert_string_equal(manifest.entries[0].path, "wast/address.wast");
    assert_null(manifest.entries[0].flags);
    assert_int_equal(manifest.entries[0].expected_total, 260);
    assert_string_equal(manifest.entries[1].path, "wast/simd/simd_add.wast");
    assert_string_equal(manifest.entries[1].flags, "--enable-x --y");
    assert_int_equal(manifest.entries[1].expected_total, 12);
    assert_string_equal(manifest.entries[2].path, "wast/bare.wast");
    assert_null(manifest.entries[2].flags);
    assert_int_equal(manifest.entries[2].expected_total, -1);
    spectest_manifest_free(&manifest);
    assert_int_equal(manifest.count, 0);
}

static void test_manifest_errors(void **state)
{
    (void)state;
    spectest_manifest manifest;
    lun_error error;
    assert_int_equal(spectest_manifest_parse("", 0, &manifest, &error), LUN_ERR_MALFORMED);
    const char *no_path = "header\n\tnone\t1/1\n";
    assert_int_equal(spectest_manifest_parse(no_path, strlen(no_path), &manifest, &error),
                     LUN_ERR_MALFORMED);
    assert_non_null(strstr(error.message, "line 2"));
    /* Only a header: no scripts, no error. */
    assert_int_equal(spectest_manifest_parse("header\n", 7, &manifest, NULL), LUN_OK);
    assert_int_equal(manifest.count, 0);
    spectest_manifest_free(&manifest);
}

static void test_expectations(void **state)
{
    (void)state;
    const char *text = "# Scripts that fail today.\n"
                       "wast/i32.wast\t3\n"
                       "\n"
                       "  \n"
                       "wast/simd/simd_x.wast\t0\r\n"
                       "simd_x.wast\t7\n";
    spectest_expectations list;
    assert_int_equal(spectest_expectations_parse(text, strlen(text), &list, NULL), LUN_OK);
    assert_int_equal(list.count, 3);
    spectest_expectation *found = spectest_expectations_find(&list, "wast/i32.wast");
    assert_non_null(found);
    assert_int_equal(found->failed, 3);
    assert_false(found->seen);
    /* A path matches by whole trailing components. */
    assert_ptr_equal(spectest_expectations_find(&list, "/x/wasm-spec/wast/i32.wast"), found);
    assert_null(spectest_expectations_find(&list, "wast/xi32.wast"));
    assert_null(spectest_expectations_find(&list, "i32.wast"));
    /* The longest listed path wins. */
    found = spectest_expectations_find(&list, "wast/simd/simd_x.wast");
    assert_non_null(found);
    assert_int_equal(found->failed, 0);
    found = spectest_expectations_find(&list, "other/simd_x.wast");
    assert_non_null(found);
    assert_int_equal(found->failed, 7);
    spectest_expectations_free(&list);
}

static void test_expectation_errors(void **state)
{
    (void)state;
    const char *bad[] = {
        "wast/a.wast\n", "wast/a.wast\tx\n",       "wast/a.wast\t-1\n", "wast/a.wast\t1\t2\n",
        "\t1\n",         "a.wast\t1\na.wast\t2\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        spectest_expectations list;
        lun_error error;
        lun_error_clear(&error);
        assert_int_equal(spectest_expectations_parse(bad[i], strlen(bad[i]), &list, &error),
                         LUN_ERR_MALFORMED);
        assert_int_equal(list.count, 0);
        assert_non_null(strstr(error.message, "line"));
    }
}

static void test_simd_paths(void **state)
{
    (void)state;
    assert_true(spectest_is_simd_path("wast/simd/simd_add.wast"));
    assert_true(spectest_is_simd_path("/work/shared/wasm-spec/wast/simd/simd_add.wast"));
    assert_false(spectest_is_simd_path("wast/i32.wast"));
    assert_false(spectest_is_simd_path("wast/simd_add.wast"));
}

static void test_read_file(void **state)
{
    (void)state;
    char path[] = "/tmp/spectest_lists_test.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char content[10000];
    for (size_t i = 0; i < sizeof content; i++)
        content[i] = (char)('a' + i % 26);
    assert_int_equal(write(fd, content, sizeof content), (ssize_t)sizeof content);
    close(fd);

    char *data = NULL;
    size_t size = 0;
    assert_int_equal(spectest_read_file(path, sizeof content, &data, &size, NULL), LUN_OK);
    assert_int_equal(size, sizeof content);
    assert_memory_equal(data, content, size);
    assert_int_equal(data[size], '\0');
    free(data);

    lun_error error;
    assert_int_equal(spectest_read_file(path, sizeof content - 1, &data, &size, &error),
                     LUN_ERR_NO_MEMORY);
    assert_int_equal(spectest_read_file(path, 100, &data, &size, &error), LUN_ERR_NO_MEMORY);
    unlink(path);
    assert_int_equal(spectest_read_file(path, 100, &data, &size, &error), LUN_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest),     cmocka_unit_test(test_manifest_errors),
        cmocka_unit_test(test_expectations), cmocka_unit_test(test_expectation_errors),
        cmocka_unit_test(test_simd_paths),   cmocka_unit_test(test_read_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
