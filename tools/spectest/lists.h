/*
 * The two list files of the spec-test runner: the spec suite's MANIFEST.tsv
 * (which scripts to run) and the known-failures list (how many commands of
 * a script may fail today), plus reading a whole file with a size bound.
 */
#ifndef SPECTEST_LISTS_H
#define SPECTEST_LISTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lunatic/error.h"

typedef struct spectest_manifest_entry {
    char *path;             /* relative to the manifest's folder */
    char *flags;            /* extra wast2json flags, NULL for "none" */
    int64_t expected_total; /* commands counted by the reference run; -1 when unknown */
} spectest_manifest_entry;

typedef struct spectest_manifest {
    spectest_manifest_entry *entries;
    size_t count;
} spectest_manifest;

/* Reads MANIFEST.tsv text: a header line, then lines "path<TAB>flags<TAB>
 * passed/total<TAB>note" (only the path is required). */
lun_status spectest_manifest_parse(const char *text, size_t length, spectest_manifest *manifest,
                                   lun_error *error);
void spectest_manifest_free(spectest_manifest *manifest);

typedef struct spectest_expectation {
    char *path;
    uint64_t failed; /* commands allowed to fail */
    bool seen;       /* set by the caller when the script was run */
} spectest_expectation;

typedef struct spectest_expectations {
    spectest_expectation *items;
    size_t count;
} spectest_expectations;

/* Reads lines "path<TAB>failed-count"; blank lines and lines starting with
 * '#' are ignored. A path listed twice is an error. */
lun_status spectest_expectations_parse(const char *text, size_t length,
                                       spectest_expectations *expectations, lun_error *error);
void spectest_expectations_free(spectest_expectations *expectations);
/* The entry for a script, matched by equal path or by path suffix after a
 * '/' (so "wast/i32.wast" matches "/x/wasm-spec/wast/i32.wast"); NULL when
 * not listed. */
spectest_expectation *spectest_expectations_find(spectest_expectations *expectations,
                                                 const char *path);

/* Whether a manifest path is a SIMD script (under wast/simd/). */
bool spectest_is_simd_path(const char *path);

/* Reads a whole file into a NUL-terminated heap buffer of at most max_size
 * bytes (LUN_ERR_NO_MEMORY beyond). */
lun_status spectest_read_file(const char *path, size_t max_size, char **data, size_t *size,
                              lun_error *error);

#endif
