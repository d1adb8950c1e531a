/*
 * Helpers for the engine's execution tests: load a module that CMake built
 * from tests/wasm/modules/<name>.wat, and build typed values.
 */
#ifndef LUNATIC_TESTS_ENGINE_TEST_SUPPORT_H
#define LUNATIC_TESTS_ENGINE_TEST_SUPPORT_H

#include <stdio.h>
#include <stdlib.h>

#include "lunatic/wasm.h"

static inline lun_module *load_test_module(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.wasm", LUN_TEST_WASM_DIR, name);
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    uint8_t *bytes = NULL;
    size_t size = 0, capacity = 0;
    for (;;) {
        if (size == capacity) {
            capacity = capacity ? capacity * 2 : 4096;
            uint8_t *grown = realloc(bytes, capacity);
            if (grown == NULL) break;
            bytes = grown;
        }
        size_t got = fread(bytes + size, 1, capacity - size, file);
        if (got == 0) break;
        size += got;
    }
    fclose(file);
    lun_module *module = NULL;
    lun_error error;
    if (lun_module_decode(bytes, size, &module, &error) != LUN_OK) {
        fprintf(stderr, "%s: %s\n", path, error.message);
        module = NULL;
    }
    free(bytes);
    return module;
}

static inline lun_value f32_bits(uint32_t bits)
{
    lun_value value = {.type = LUN_F32, .f32_bits = bits};
    return value;
}

static inline lun_value f64_bits(uint64_t bits)
{
    lun_value value = {.type = LUN_F64, .f64_bits = bits};
    return value;
}

#endif
