/*
 * libFuzzer target: function bodies. Most mutations of a whole module break
 * its section sizes and stop in the decoder; here the input is only one
 * function's body (its first byte picks the function's type, the rest is the
 * locals and code), wrapped in a fixed, well-formed module that gives the
 * code something to use: two imported host functions, a table holding
 * functions, a memory, mutable globals and a passive data segment. The
 * module then goes through harness.c like fuzz_run's inputs, so the
 * validator and the interpreter see far more plausible code.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "body_module.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t length = 0;
    uint8_t *module = fuzz_body_module(data, size, &length);
    if (module) fuzz_run_module(module, length);
    free(module);
    return 0;
}
