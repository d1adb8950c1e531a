/*
 * Helpers shared by the process-core benchmark programs: the size divisor
 * read from the command line, a monotonic clock, the resident memory of this
 * OS process, the `BENCH <name> <value> <unit>` line, a runtime with one
 * environment, and messages that carry one 64-bit number.
 */
#ifndef LUN_BENCH_COMMON_H
#define LUN_BENCH_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "lunatic/core.h"

/* How long the main thread waits for a benchmark's result before it calls
 * the run failed (a hang in the core must not hang CI). */
enum { BENCH_JOIN_TIMEOUT_MS = 300000 };

/* Reads the optional first argument, a divisor applied to every size of the
 * benchmark (1 for the real run; the CTest smoke run passes e.g. 100).
 * Returns false and prints the usage when the argument is not a positive
 * integer. */
bool bench_parse_divisor(int argc, char **argv, uint64_t *divisor);

/* count / divisor, but never below minimum. */
uint64_t bench_scaled(uint64_t count, uint64_t divisor, uint64_t minimum);

/* Nanoseconds from a monotonic clock. */
uint64_t bench_now_ns(void);

/* VmRSS of this OS process in bytes (/proc/self/status), or 0 when it
 * cannot be read. */
uint64_t bench_rss_bytes(void);

/* Prints `BENCH core.<name> <value> <unit>`: integers for rates and sizes,
 * one decimal otherwise. */
void bench_report(const char *name, double value, const char *unit);

/* Prints `error: <message>` on stderr and returns 1 (the exit status of a
 * benchmark that failed or computed a wrong answer). */
int bench_fail(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* A runtime with one worker per core and one environment (id 1). */
typedef struct bench_runtime {
    lun_runtime *runtime;
    lun_environment *environment;
} bench_runtime;

/* Returns false (after printing the error) when the runtime cannot start. */
bool bench_runtime_start(bench_runtime *bench);
/* Kills what is still alive and frees everything. */
void bench_runtime_stop(bench_runtime *bench);

/* Waits for the process to end; false (after printing why) when it failed
 * or did not end within BENCH_JOIN_TIMEOUT_MS. */
bool bench_join(lun_process *process, const char *what);

/* Spawns step(state) with options (may be NULL) in the benchmark's
 * environment and waits for it to end; false (after printing why, naming the
 * process `what`) when it cannot be spawned, fails or does not end within
 * BENCH_JOIN_TIMEOUT_MS. */
bool bench_run(bench_runtime *bench, lun_step_fn step, void *state,
               const lun_spawn_options *options, const char *what);

/* Sends a data message with `tag` and `value` (8 bytes) to target. */
lun_status bench_send_number(lun_process *target, int64_t tag, uint64_t value);

/* The 64-bit number a message made by bench_send_number carries; false when
 * the message is not such a message. */
bool bench_message_number(const lun_message *message, uint64_t *value);

/* A message made by bench_send_number, as received. */
typedef struct bench_number {
    int64_t tag;
    uint64_t value; /* 0 when not valid */
    bool valid;     /* false: the message carried no number */
} bench_number;

/* Takes the next message of any tag (no timeout) into *number and frees it.
 * Returns false when the step must return *stop: LUN_STEP_WAIT when the
 * mailbox is empty, LUN_STEP_FAILED (the process failed with "receive:
 * <status>") when the receive failed. */
bool bench_receive_number(lun_process *self, bench_number *number, lun_step_result *stop);

#endif
