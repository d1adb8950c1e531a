/*
 * What the files of the `lunatic` command share: the parsed options of
 * `run` and the two ways of running a module (normal run, test mode).
 */
#ifndef LUNATIC_CLI_H
#define LUNATIC_CLI_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cli_run_options {
    const char *path;
    const char **dirs; /* --dir values, in order */
    size_t dir_count;
    bool bench;
    char **guest_args;
    int guest_arg_count;
} cli_run_options;

/* Runs the module's _start; returns the exit status of the command. */
int cli_run(const cli_run_options *options);

/* Test mode (docs/lunatic-abi.md §14). */
bool cli_test_mode_selected(const cli_run_options *options);
int cli_test(const cli_run_options *options);

#endif
