/*
 * Running one converted spec script: the commands of a wast2json .json file
 * (modules, registrations, actions and assertions) against the engine, with
 * a fresh "spectest" host module and fresh module registry per script.
 */
#ifndef SPECTEST_SCRIPT_H
#define SPECTEST_SCRIPT_H

#include <stdbool.h>
#include <stdint.h>

#include "lunatic/error.h"

typedef struct spectest_counts {
    uint64_t passed;
    uint64_t failed;
    uint64_t not_applicable;
} spectest_counts;

typedef struct spectest_options {
    bool verbose;  /* print every failure with its .wast line and reason */
    uint64_t fuel; /* budget of one invocation, and of one instance's lifetime */
} spectest_options;

/* Called before the first command and after each one, so that a supervising
 * process knows how far a script got if the engine crashes: done commands of
 * total_commands have run, the last one at last_line of the .wast. */
typedef void (*spectest_progress_fn)(const spectest_counts *counts, uint64_t done,
                                     uint64_t total_commands, int64_t last_line, void *data);

/* Runs the script json_path (its modules are beside it); name is what
 * messages call the script. counts receives the results. Returns an error
 * only when the JSON itself cannot be read; engine failures are counted. */
lun_status spectest_script_run(const char *json_path, const char *name,
                               const spectest_options *options, spectest_progress_fn progress,
                               void *progress_data, spectest_counts *counts, lun_error *error);

#endif
