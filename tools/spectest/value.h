/*
 * Values of the spec-test scripts: reading the {"type", "value"} objects
 * wast2json writes for arguments and expected results, and matching results
 * against them (exact bits, the two NaN patterns, references).
 */
#ifndef SPECTEST_VALUE_H
#define SPECTEST_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "lunatic/error.h"
#include "lunatic/wasm.h"

typedef enum spectest_value_kind {
    SPECTEST_VALUE_EXACT,          /* the bits, or the reference, must be equal */
    SPECTEST_VALUE_NAN_CANONICAL,  /* a NaN of either sign with only the top payload bit */
    SPECTEST_VALUE_NAN_ARITHMETIC, /* a NaN of either sign with the top payload bit set */
    SPECTEST_VALUE_ANY_REFERENCE,  /* any non-null reference of the type */
} spectest_value_kind;

typedef struct spectest_value {
    spectest_value_kind kind;
    lun_value value; /* value.type is always set; the rest only for EXACT */
} spectest_value;

/* Reads a type name of the scripts ("i32", ..., "funcref", "externref").
 * v128 is LUN_ERR_UNSUPPORTED. */
lun_status spectest_valtype_parse(const char *name, lun_valtype *type, lun_error *error);
const char *spectest_valtype_name(lun_valtype type);

/* Reads an unsigned decimal that must not exceed max (no sign, no spaces, no
 * leading zeros but for "0"). */
lun_status spectest_parse_unsigned(const char *text, uint64_t max, uint64_t *value,
                                   lun_error *error);

/* The host pointer standing for "ref.extern n": n + 1, never NULL. */
void *spectest_extern_reference(uint64_t n);

/* Reads one value object. An argument (is_expected false) must be exact; an
 * expected result may also be a NaN pattern or an unspecified reference. */
lun_status spectest_value_parse(const spectest_json *json, bool is_expected, spectest_value *value,
                                lun_error *error);

/* Whether actual satisfies expected (types must be equal too). */
bool spectest_value_matches(const spectest_value *expected, lun_value actual);

/* Human-readable forms for failure messages, such as "i32:4294967295" or
 * "f32:nan:canonical". */
void spectest_value_format(lun_value value, char *buffer, size_t size);
void spectest_expected_format(const spectest_value *expected, char *buffer, size_t size);

#endif
