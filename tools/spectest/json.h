/*
 * A small, strict JSON reader for the scripts wast2json writes.
 *
 * It accepts RFC 8259 JSON with one restriction: numbers must be integers
 * that fit in an int64_t (wast2json writes only line numbers as numbers;
 * values travel as strings). Strings are decoded to UTF-8 (escapes included,
 * so a string may hold an embedded NUL: use its length), nesting is limited
 * to SPECTEST_JSON_MAX_DEPTH and the caller bounds the input size, so a
 * hostile file costs at most a bounded amount of memory and time.
 */
#ifndef SPECTEST_JSON_H
#define SPECTEST_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lunatic/error.h"

enum { SPECTEST_JSON_MAX_DEPTH = 64, SPECTEST_JSON_MAX_MEMBERS = 4096 };

typedef enum spectest_json_kind {
    SPECTEST_JSON_NULL,
    SPECTEST_JSON_BOOL,
    SPECTEST_JSON_INTEGER,
    SPECTEST_JSON_STRING,
    SPECTEST_JSON_ARRAY,
    SPECTEST_JSON_OBJECT,
} spectest_json_kind;

typedef struct spectest_json spectest_json;
typedef struct spectest_json_member spectest_json_member;

struct spectest_json {
    spectest_json_kind kind;
    union {
        bool boolean;
        int64_t integer;
        struct {
            char *data; /* NUL-terminated, but may also contain NULs */
            size_t length;
        } string;
        struct {
            spectest_json *items;
            size_t count;
        } array;
        struct {
            spectest_json_member *members; /* in file order; keys are unique */
            size_t count;
        } object;
    };
};

struct spectest_json_member {
    char *key;
    size_t key_length;
    spectest_json value;
};

/* Parses text (length bytes, no terminator needed) into a tree owned by the
 * caller. Errors: LUN_ERR_MALFORMED with the line and column, or
 * LUN_ERR_NO_MEMORY. */
lun_status spectest_json_parse(const char *text, size_t length, spectest_json **root,
                               lun_error *error);
void spectest_json_free(spectest_json *root); /* NULL is a no-op */

/* The member named key of an object; NULL when json is not an object or has
 * no such member. */
const spectest_json *spectest_json_get(const spectest_json *json, const char *key);
/* The string member named key, or NULL when absent or not a string. */
const char *spectest_json_get_string(const spectest_json *json, const char *key);
/* The array member named key, or NULL when absent or not an array. */
const spectest_json *spectest_json_get_array(const spectest_json *json, const char *key);
/* Reads the integer member named key; false when absent or not an integer. */
bool spectest_json_get_integer(const spectest_json *json, const char *key, int64_t *value);

#endif
