/*
 * libFuzzer target: decode, instantiate and run. The input is a whole
 * module; harness.c links it against a small import set and runs every
 * export with bounded fuel and memory. Whatever the module does, the engine
 * must finish, trap or run out of fuel cleanly: no crash, leak, hang or
 * undefined behaviour.
 *
 * Check the harness on a few files: FUZZ_RUN_VERBOSE=1 fuzz_run FILE...
 */
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_run_module(data, size);
    return 0;
}
