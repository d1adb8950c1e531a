/*
 * The "spectest" host module that the spec scripts import from, made as the
 * reference harness makes it: print functions, four globals, a table and a
 * memory.
 */
#ifndef SPECTEST_HOST_H
#define SPECTEST_HOST_H

#include <stdbool.h>

#include "lunatic/error.h"
#include "lunatic/wasm.h"

enum { SPECTEST_HOST_FUNCTION_COUNT = 7, SPECTEST_HOST_GLOBAL_COUNT = 4 };

typedef struct spectest_host_function {
    const char *name;
    const char *params;
    bool verbose; /* print the arguments when called */
    lun_func *func;
} spectest_host_function;

typedef struct spectest_host {
    spectest_host_function functions[SPECTEST_HOST_FUNCTION_COUNT];
    lun_global *globals[SPECTEST_HOST_GLOBAL_COUNT];
    lun_table *table;
    lun_memory *memory;
} spectest_host;

/* Makes the objects and adds them to imports under "spectest". The host
 * must stay in place (its functions point into it) and outlive every
 * instance linked against it. */
lun_status spectest_host_init(spectest_host *host, lun_imports *imports, bool verbose,
                              lun_error *error);
/* Frees what spectest_host_init made; safe after a failed init. */
void spectest_host_free(spectest_host *host);

#endif
