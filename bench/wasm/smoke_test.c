/*
 * Smoke test of the compute benchmark: runs every kernel once, at a tiny
 * size, through the Wasm engine and checks its checksum against the same
 * kernel compiled natively into this program. Correctness only: nothing
 * here is timed.
 *
 * The build generates smoke_kernels.h, one BENCH_KERNEL(name, n) line per
 * kernel of kernels.txt, and defines BENCH_WASM_DIR, the folder of the
 * kernels' .wasm files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "lunatic/wasm.h"

#define BENCH_KERNEL(name, n) uint64_t kernel_##name##_run(uint32_t);
#include "smoke_kernels.h"
#undef BENCH_KERNEL

typedef struct kernel {
    const char *name;
    uint32_t n;
    uint64_t (*native_run)(uint32_t);
} kernel;

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    uint8_t *bytes = NULL;
    long length = -1;
    if (fseek(file, 0, SEEK_END) == 0) length = ftell(file);
    if (length > 0 && fseek(file, 0, SEEK_SET) == 0) {
        bytes = malloc((size_t)length);
        if (bytes && fread(bytes, 1, (size_t)length, file) != (size_t)length) {
            free(bytes);
            bytes = NULL;
        }
    }
    fclose(file);
    *size = (size_t)length;
    return bytes;
}

static void test_kernel(void **state)
{
    const kernel *k = *state;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.wasm", BENCH_WASM_DIR, k->name);
    size_t size = 0;
    uint8_t *bytes = read_file(path, &size);
    assert_non_null(bytes);

    lun_error error = {0};
    lun_module *module = NULL;
    lun_status status = lun_module_decode(bytes, size, &module, &error);
    free(bytes);
    if (status != LUN_OK) fail_msg("decoding %s: %s", path, error.message);

    lun_instance *instance = NULL;
    status = lun_instantiate(module, NULL, NULL, &instance, &error);
    if (status != LUN_OK) fail_msg("instantiating %s: %s", path, error.message);

    lun_value arg = lun_value_i32((int32_t)k->n), result = {0};
    size_t result_count = 0;
    status = lun_instance_call(instance, "run", &arg, 1, &result, 1, &result_count, &error);
    if (status != LUN_OK) fail_msg("%s: run(%u): %s", k->name, (unsigned)k->n, error.message);
    assert_int_equal(result_count, 1);
    assert_int_equal(result.type, LUN_I64);
    assert_int_equal((uint64_t)result.i64, k->native_run(k->n));

    lun_instance_free(instance);
    lun_module_free(module);
}

int main(void)
{
    static kernel kernels[] = {
#define BENCH_KERNEL(name, n) {#name, n, kernel_##name##_run},
#include "smoke_kernels.h"
#undef BENCH_KERNEL
    };
    static struct CMUnitTest tests[sizeof kernels / sizeof kernels[0]];
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++) {
        tests[i] = (struct CMUnitTest){
            .name = kernels[i].name, .test_func = test_kernel, .initial_state = &kernels[i]};
    }
    return _cmocka_run_group_tests("bench_wasm_smoke", tests, sizeof tests / sizeof tests[0], NULL,
                                   NULL);
}
