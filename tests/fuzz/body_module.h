/*
 * The fixed module around a fuzzed function body (fuzz_body and the
 * differential checker fuzz_exec share it).
 *
 * Function 2, exported as "f", has the body; its type is one of
 *   0 () -> ()             1 () -> i32           2 (i32) -> i32
 *   3 (i32 i64 f32 f64) -> f64                   4 (i64 i64) -> i64
 *   5 () -> (i32 i64)
 * Functions 0 and 1 are the imports fuzz.increment (i32) -> i32 (returns
 * its argument plus one) and fuzz.suspend () -> (). The module also has a
 * funcref table of 4 holding {2, 0}, a memory of 1 to 2 pages exported as
 * "m", two mutable globals (i32, i64, both 0) and one passive data segment
 * ("data").
 */
#ifndef FUZZ_BODY_MODULE_H
#define FUZZ_BODY_MODULE_H

#include <stddef.h>
#include <stdint.h>

enum { FUZZ_BODY_MAX = 1 << 16, FUZZ_BODY_TYPE_COUNT = 6 };

/* The type index that an input whose first byte is `selector` gives. */
static inline uint8_t fuzz_body_type(uint8_t selector)
{
    return (uint8_t)(selector % FUZZ_BODY_TYPE_COUNT);
}

/* The module for an input (a malloc'ed buffer of *length bytes), or NULL
 * when the input is empty, longer than FUZZ_BODY_MAX + 1 or memory ran out. */
uint8_t *fuzz_body_module(const uint8_t *data, size_t size, size_t *length);

#endif
