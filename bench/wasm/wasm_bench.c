/*
 * Timing driver for the Wasm engine (lunatic_wasm), used by run.sh.
 *
 *   wasm_bench run FILE.wasm N REPEATS
 *       decodes and instantiates FILE once, calls its export run(N) REPEATS
 *       times; prints "result <checksum> best <s> median <s>" like the
 *       native and Node.js drivers.
 *   wasm_bench instantiate COUNT
 *       instantiates a small module with one 64 KiB memory page COUNT times
 *       (each freed at once); prints "instantiate_us <median>".
 *   wasm_bench instances COUNT
 *       keeps COUNT instances of that module alive at once; prints
 *       "instance_bytes <resident-set growth per instance>". Memory pages
 *       that no one touched are not resident, so this is the engine's own
 *       bookkeeping per instance.
 *   wasm_bench instances_touched COUNT
 *       the same, writing one byte of each instance's memory first; prints
 *       "instance_bytes_touched <growth per instance>".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lunatic/wasm.h"

/* (module (memory 1) (func (export "f") (result i32) i32.const 42)) */
static const uint8_t small_module[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, /* magic, version */
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,       /* type: () -> i32 */
    0x03, 0x02, 0x01, 0x00,                         /* function 0: type 0 */
    0x05, 0x03, 0x01, 0x00, 0x01,                   /* memory: min 1 page */
    0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00,       /* export "f" = func 0 */
    0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b, /* code: i32.const 42 */
};

enum { MAX_REPEATS = 100 };

static double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int fail(const char *what, const lun_error *error)
{
    fprintf(stderr, "wasm_bench: %s: %s: %s\n", what, lun_status_name(error->code), error->message);
    return 1;
}

/* Reads a whole file into a malloc'ed buffer; NULL on failure. */
static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    uint8_t *bytes = NULL;
    long length = -1;
    if (fseek(file, 0, SEEK_END) == 0) length = ftell(file);
    if (length >= 0 && fseek(file, 0, SEEK_SET) == 0) {
        bytes = malloc(length > 0 ? (size_t)length : 1);
        if (bytes && fread(bytes, 1, (size_t)length, file) != (size_t)length) {
            free(bytes);
            bytes = NULL;
        }
    }
    fclose(file);
    *size = (size_t)length;
    return bytes;
}

static int time_calls(lun_instance *instance, uint32_t n, int repeats)
{
    double seconds[MAX_REPEATS];
    uint64_t first = 0;
    lun_error error;
    for (int i = 0; i < repeats; i++) {
        lun_value arg = lun_value_i32((int32_t)n), result;
        size_t result_count = 0;
        double start = now_seconds();
        lun_status status =
            lun_instance_call(instance, "run", &arg, 1, &result, 1, &result_count, &error);
        seconds[i] = now_seconds() - start;
        if (status != LUN_OK) return fail("calling run", &error);
        if (result_count != 1 || result.type != LUN_I64) {
            fprintf(stderr, "wasm_bench: run did not return one i64\n");
            return 1;
        }
        if (i == 0) {
            first = (uint64_t)result.i64;
        } else if ((uint64_t)result.i64 != first) {
            fprintf(stderr, "wasm_bench: result changed between runs\n");
            return 1;
        }
    }
    qsort(seconds, (size_t)repeats, sizeof seconds[0], compare_doubles);
    printf("result %" PRIu64 " best %.6f median %.6f\n", first, seconds[0], seconds[repeats / 2]);
    return 0;
}

static int bench_run(const char *path, uint32_t n, int repeats)
{
    size_t size = 0;
    uint8_t *bytes = read_file(path, &size);
    if (!bytes) {
        fprintf(stderr, "wasm_bench: cannot read %s\n", path);
        return 1;
    }
    lun_error error;
    lun_module *module = NULL;
    lun_status status = lun_module_decode(bytes, size, &module, &error);
    free(bytes);
    if (status != LUN_OK) return fail(path, &error);
    lun_instance *instance = NULL;
    status = lun_instantiate(module, NULL, NULL, &instance, &error);
    int exit_code =
        status == LUN_OK ? time_calls(instance, n, repeats) : fail("instantiate", &error);
    lun_instance_free(instance);
    lun_module_free(module);
    return exit_code;
}

static int bench_instantiate(lun_module *module, long count)
{
    double *seconds = malloc((size_t)count * sizeof *seconds);
    if (!seconds) return 1;
    lun_error error;
    for (long i = 0; i < count; i++) {
        lun_instance *instance = NULL;
        double start = now_seconds();
        lun_status status = lun_instantiate(module, NULL, NULL, &instance, &error);
        seconds[i] = now_seconds() - start;
        if (status != LUN_OK) {
            free(seconds);
            return fail("instantiate", &error);
        }
        lun_instance_free(instance);
    }
    qsort(seconds, (size_t)count, sizeof seconds[0], compare_doubles);
    printf("instantiate_us %.3f\n", seconds[count / 2] * 1e6);
    free(seconds);
    return 0;
}

static long resident_bytes(void)
{
    long pages_total = 0, pages_resident = 0;
    FILE *statm = fopen("/proc/self/statm", "r");
    if (!statm) return -1;
    int fields = fscanf(statm, "%ld %ld", &pages_total, &pages_resident);
    fclose(statm);
    return fields == 2 ? pages_resident * sysconf(_SC_PAGESIZE) : -1;
}

/* touch: write one byte of each instance's memory, as any real program
 * does, so that its first page counts too. */
static int bench_instances(lun_module *module, long count, bool touch)
{
    lun_instance **instances = calloc((size_t)count, sizeof *instances);
    if (!instances) return 1;
    lun_error error;
    int exit_code = 0;
    long before = resident_bytes();
    long made = 0;
    for (; made < count; made++) {
        if (lun_instantiate(module, NULL, NULL, &instances[made], &error) != LUN_OK) {
            exit_code = fail("instantiate", &error);
            break;
        }
        lun_memory *memory = lun_instance_memory(instances[made]);
        if (touch && memory) lun_memory_data(memory)[0] = 1;
    }
    long after = resident_bytes();
    if (exit_code == 0 && before >= 0 && after >= 0)
        printf("%s %.0f\n", touch ? "instance_bytes_touched" : "instance_bytes",
               (double)(after - before) / (double)count);
    for (long i = 0; i < made; i++)
        lun_instance_free(instances[i]);
    free(instances);
    return exit_code;
}

static int usage(void)
{
    fprintf(stderr, "usage: wasm_bench run FILE.wasm N REPEATS\n"
                    "       wasm_bench instantiate COUNT\n"
                    "       wasm_bench instances COUNT\n"
                    "       wasm_bench instances_touched COUNT\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "run") == 0) {
        int repeats = atoi(argv[4]);
        if (repeats < 1 || repeats > MAX_REPEATS) return usage();
        return bench_run(argv[2], (uint32_t)strtoul(argv[3], NULL, 10), repeats);
    }
    if (argc != 3) return usage();
    long count = atol(argv[2]);
    if (count < 1) return usage();
    lun_error error;
    lun_module *module = NULL;
    if (lun_module_decode(small_module, sizeof small_module, &module, &error) != LUN_OK)
        return fail("decoding the small module", &error);
    int exit_code;
    if (strcmp(argv[1], "instantiate") == 0)
        exit_code = bench_instantiate(module, count);
    else if (strcmp(argv[1], "instances") == 0)
        exit_code = bench_instances(module, count, false);
    else if (strcmp(argv[1], "instances_touched") == 0)
        exit_code = bench_instances(module, count, true);
    else
        exit_code = usage();
    lun_module_free(module);
    return exit_code;
}
