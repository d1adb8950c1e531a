/*
 * Differential checking, our half: runs fuzz_body inputs on the engine and
 * prints what happened, for differential.mjs to compare with Node.js (V8).
 *
 * Usage: fuzz_exec OUT_DIR INPUT...
 * For each input, writes its module (see body_module.h) to
 * OUT_DIR/<input name>.wasm, calls "f" with zero arguments (fuel-bounded)
 * and prints one line:
 *   <name> invalid | link | fuel
 *   <name> trap
 *   <name> ok <results> mem <pages>:<FNV-1a of the memory>
 * with results as type:value (i32/i64 unsigned decimal, f32/f64 bits in hex,
 * or "nan": NaN payloads may differ between engines). Only "ok" and "trap"
 * lines are compared.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "body_module.h"
#include "lunatic/wasm.h"

enum { FUEL_SLICE = 10000, SLICES = 10, MAX_INPUT = FUZZ_BODY_MAX + 1 };

static lun_host_result increment(lun_host_call *call)
{
    call->results[0] = (uint32_t)(call->args[0] + 1);
    return LUN_HOST_RETURN;
}

static lun_host_result nothing(lun_host_call *call)
{
    return LUN_HOST_RETURN;
}

static void print_value(lun_value value)
{
    switch (value.type) {
    case LUN_I32: printf(" i32:%" PRIu32, (uint32_t)value.i32); break;
    case LUN_I64: printf(" i64:%" PRIu64, (uint64_t)value.i64); break;
    case LUN_F32:
        if ((value.f32_bits & 0x7fffffffu) > 0x7f800000u)
            printf(" f32:nan");
        else
            printf(" f32:%08" PRIx32, value.f32_bits);
        break;
    case LUN_F64:
        if ((value.f64_bits & 0x7fffffffffffffffull) > 0x7ff0000000000000ull)
            printf(" f64:nan");
        else
            printf(" f64:%016" PRIx64, value.f64_bits);
        break;
    default: printf(" other"); break;
    }
}

static void print_memory(lun_instance *instance)
{
    lun_memory *memory = lun_instance_memory(instance);
    size_t size = memory ? lun_memory_size(memory) : 0;
    const uint8_t *bytes = memory ? lun_memory_data(memory) : NULL;
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < size; i++)
        hash = (hash ^ bytes[i]) * 16777619u;
    printf(" mem %zu:%08" PRIx32, size / 65536, hash);
}

/* Runs "f" and prints the outcome after the name. */
static void run(lun_module *module, const lun_imports *imports)
{
    lun_instance *instance = NULL;
    if (lun_instantiate(module, imports, NULL, &instance, NULL) != LUN_OK) {
        printf(" link\n");
        return;
    }
    const lun_valtype *params, *results;
    size_t param_count = 0, result_count = 0;
    lun_value args[4] = {0};
    if (!lun_module_export_func_type(module, "f", &params, &param_count, &results, &result_count) ||
        param_count > 4) {
        printf(" link\n");
        lun_instance_free(instance);
        return;
    }
    for (size_t i = 0; i < param_count; i++)
        args[i].type = params[i];
    lun_run_state state = LUN_RUN_TRAPPED;
    if (lun_instance_start(instance, "f", args, param_count, NULL) == LUN_OK) {
        for (int slice = 0; slice < SLICES; slice++) {
            state = lun_instance_run(instance, FUEL_SLICE);
            if (state == LUN_RUN_FINISHED || state == LUN_RUN_TRAPPED) break;
        }
    }
    if (state == LUN_RUN_FINISHED) {
        lun_value values[8];
        size_t count = lun_instance_results(instance, values, 8);
        printf(" ok");
        for (size_t i = 0; i < count; i++)
            print_value(values[i]);
        print_memory(instance);
        printf("\n");
    } else if (state == LUN_RUN_TRAPPED) {
        printf(" trap\n");
    } else {
        printf(" fuel\n");
    }
    lun_instance_free(instance);
}

static int check_file(const char *path, const char *out_dir, const lun_imports *imports,
                      uint8_t *input)
{
    FILE *file = fopen(path, "rb");
    if (!file) return 1;
    size_t size = fread(input, 1, MAX_INPUT, file);
    fclose(file);
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t length = 0;
    uint8_t *bytes = fuzz_body_module(input, size, &length);
    if (!bytes) return 0;
    char module_path[4096];
    snprintf(module_path, sizeof module_path, "%s/%s.wasm", out_dir, name);
    FILE *out = fopen(module_path, "wb");
    if (out) {
        fwrite(bytes, 1, length, out);
        fclose(out);
    }
    printf("%s", name);
    lun_module *module = NULL;
    if (lun_module_decode(bytes, length, &module, NULL) != LUN_OK)
        printf(" invalid\n");
    else
        run(module, imports);
    lun_module_free(module);
    free(bytes);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s OUT_DIR INPUT...\n", argv[0]);
        return 2;
    }
    lun_imports *imports = NULL;
    lun_func *funcs[2] = {NULL, NULL};
    int status = 1;
    uint8_t *input = malloc(MAX_INPUT);
    if (input && lun_imports_new(&imports, NULL) == LUN_OK &&
        lun_func_new_host("i32", "i32", increment, NULL, &funcs[0], NULL) == LUN_OK &&
        lun_func_new_host("", "", nothing, NULL, &funcs[1], NULL) == LUN_OK &&
        lun_imports_add(imports, "fuzz", "increment",
                        (lun_extern){.kind = LUN_EXTERN_FUNC, .func = funcs[0]}, NULL) == LUN_OK &&
        lun_imports_add(imports, "fuzz", "suspend",
                        (lun_extern){.kind = LUN_EXTERN_FUNC, .func = funcs[1]}, NULL) == LUN_OK) {
        status = 0;
        for (int i = 2; i < argc; i++)
            status |= check_file(argv[i], argv[1], imports, input);
    }
    if (imports) lun_imports_free(imports);
    for (int i = 0; i < 2; i++) {
        if (funcs[i]) lun_func_free(funcs[i]);
    }
    free(input);
    return status;
}
