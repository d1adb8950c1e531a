/*
 * Helpers shared by the process-core benchmark programs (see
 * bench_common.h).
 */
#include "bench_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool bench_parse_divisor(int argc, char **argv, uint64_t *divisor)
{
    *divisor = 1;
    if (argc < 2) return true;
    char *end = NULL;
    unsigned long long value = strtoull(argv[1], &end, 10);
    if (argc > 2 || end == argv[1] || *end != '\0' || value == 0) {
        fprintf(stderr, "usage: %s [DIVISOR]  (every size is divided by DIVISOR)\n", argv[0]);
        return false;
    }
    *divisor = value;
    return true;
}

uint64_t bench_scaled(uint64_t count, uint64_t divisor, uint64_t minimum)
{
    uint64_t scaled = count / divisor;
    return scaled < minimum ? minimum : scaled;
}

uint64_t bench_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

uint64_t bench_rss_bytes(void)
{
    FILE *status = fopen("/proc/self/status", "r");
    if (!status) return 0;
    char line[256];
    uint64_t kilobytes = 0;
    while (fgets(line, sizeof line, status)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kilobytes = strtoull(line + 6, NULL, 10);
            break;
        }
    }
    fclose(status);
    return kilobytes * 1024;
}

void bench_report(const char *name, double value, const char *unit)
{
    if (strcmp(unit, "per_s") == 0 || strcmp(unit, "bytes") == 0)
        printf("BENCH core.%s %.0f %s\n", name, value, unit);
    else
        printf("BENCH core.%s %.1f %s\n", name, value, unit);
    fflush(stdout);
}

int bench_fail(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("error: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    return 1;
}

bool bench_runtime_start(bench_runtime *bench)
{
    lun_error error;
    bench->runtime = NULL;
    bench->environment = NULL;
    /* Killing what is left at the end logs a warning per process otherwise. */
    lun_log_set_level(LUN_LOG_ERROR);
    lun_runtime_config config = {.workers = 0};
    if (lun_runtime_new(&config, &bench->runtime, &error) != LUN_OK) {
        bench_fail("cannot start the runtime: %s", error.message);
        return false;
    }
    if (lun_environment_new(bench->runtime, 1, &bench->environment, &error) != LUN_OK) {
        bench_fail("cannot create the environment: %s", error.message);
        lun_runtime_free(bench->runtime);
        bench->runtime = NULL;
        return false;
    }
    return true;
}

void bench_runtime_stop(bench_runtime *bench)
{
    lun_environment_release(bench->environment);
    lun_runtime_free(bench->runtime);
    bench->environment = NULL;
    bench->runtime = NULL;
}

bool bench_join(lun_process *process, const char *what)
{
    lun_process_result result;
    lun_error error;
    lun_status status = lun_process_join(process, BENCH_JOIN_TIMEOUT_MS, &result, &error);
    if (status != LUN_OK) {
        bench_fail("%s: join: %s", what, error.message);
        return false;
    }
    if (result.kind != LUN_RESULT_OK) {
        bench_fail("%s: process failed: %s", what, result.message);
        return false;
    }
    return true;
}

bool bench_run(bench_runtime *bench, lun_step_fn step, void *state,
               const lun_spawn_options *options, const char *what)
{
    lun_process *process = NULL;
    lun_error error;
    if (lun_process_spawn(bench->environment, step, state, options, &process, &error) != LUN_OK) {
        bench_fail("spawn the %s: %s", what, error.message);
        return false;
    }
    bool ended = bench_join(process, what);
    lun_process_release(process);
    return ended;
}

lun_status bench_send_number(lun_process *target, int64_t tag, uint64_t value)
{
    return lun_process_send_data(target, tag, &value, sizeof value, NULL);
}

bool bench_message_number(const lun_message *message, uint64_t *value)
{
    if (lun_message_get_kind(message) != LUN_MESSAGE_DATA) return false;
    if (lun_message_size(message) != sizeof *value) return false;
    memcpy(value, lun_message_data(message), sizeof *value);
    return true;
}

bool bench_receive_number(lun_process *self, bench_number *number, lun_step_result *stop)
{
    lun_message *message;
    lun_status status = lun_process_receive(self, NULL, 0, LUN_TIMEOUT_INFINITE, &message, NULL);
    if (status == LUN_ERR_WOULD_BLOCK) {
        *stop = LUN_STEP_WAIT;
        return false;
    }
    if (status != LUN_OK) {
        lun_process_fail(self, "receive: %s", lun_status_name(status));
        *stop = LUN_STEP_FAILED;
        return false;
    }
    number->value = 0;
    number->valid = bench_message_number(message, &number->value);
    number->tag = lun_message_tag(message);
    lun_message_free(message);
    return true;
}
