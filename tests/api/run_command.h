/*
 * Runs a program for the api integration tests: its exit status and what it
 * wrote on stdout and stderr.
 */
#ifndef LUN_TEST_RUN_COMMAND_H
#define LUN_TEST_RUN_COMMAND_H

typedef struct command_result {
    int status;   /* exit status, or 128 + signal */
    char *output; /* stdout, NUL-terminated (malloc'ed) */
    char *errors; /* stderr */
} command_result;

/* argv ends with NULL; directory may be NULL (current one). Returns 0, or -1
 * when the program could not be started or ran longer than timeout_seconds
 * (it is killed then). */
int run_command(const char *const *argv, const char *directory, int timeout_seconds,
                command_result *result);
void command_result_free(command_result *result);

#endif
