/*
 * The stand-in engine of script_test.c (see fake_engine.c): the
 * lunatic/wasm.h API plus counters of the objects alive.
 */
#ifndef SPECTEST_FAKE_ENGINE_H
#define SPECTEST_FAKE_ENGINE_H

#include "lunatic/wasm.h"

typedef struct fake_engine_counts {
    int modules;
    int instances;
    int imports;
    int host_objects;
    int runs; /* lun_instance_run calls, not an object */
} fake_engine_counts;

extern fake_engine_counts fake_engine_live;

#endif
