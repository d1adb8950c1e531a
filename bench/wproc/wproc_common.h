/*
 * Helpers shared by the Wasm-process benchmark guests (the .c files of bench/wproc,
 * built for wasm32-wasi with the guest SDK and run with `lunatic run`):
 * the size divisor from the command line, a monotonic clock, the resident
 * memory of the lunatic OS process and the BENCH line. Header only, so that
 * each guest is one C file linked with the SDK alone.
 */
#ifndef WPROC_COMMON_H
#define WPROC_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wasi/api.h>

#include "lunatic_guest.h"

/* Reads argv[index] as a positive integer into *value (left alone when the
 * argument is absent); false when it is malformed. */
static inline bool wproc_parse_argument(int argc, char **argv, int index, uint64_t *value)
{
    if (argc <= index) return true;
    char *end = NULL;
    unsigned long long parsed = strtoull(argv[index], &end, 10);
    if (end == argv[index] || *end != '\0' || parsed == 0) return false;
    *value = parsed;
    return true;
}

/* argv[1], when given, divides every size (LUN_BENCH_DIVISOR in run.sh);
 * at most `max_arguments` arguments are accepted. */
static inline bool wproc_parse_divisor(int argc, char **argv, int max_arguments, uint64_t *divisor)
{
    *divisor = 1;
    if (argc - 1 > max_arguments || !wproc_parse_argument(argc, argv, 1, divisor)) {
        fprintf(stderr, "usage: %s [DIVISOR]%s  (every size is divided by DIVISOR)\n", argv[0],
                max_arguments > 1 ? " [MORE]" : "");
        return false;
    }
    return true;
}

static inline uint64_t wproc_scaled(uint64_t count, uint64_t divisor, uint64_t minimum)
{
    uint64_t scaled = count / divisor;
    return scaled < minimum ? minimum : scaled;
}

static inline uint64_t wproc_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* The file descriptor of the preopened directory `name`, or -1. */
static inline int wproc_preopen(const char *name)
{
    for (__wasi_fd_t fd = 3; fd < 32; fd++) {
        __wasi_prestat_t prestat;
        if (__wasi_fd_prestat_get(fd, &prestat) != 0) break;
        char path[64];
        size_t length = prestat.u.dir.pr_name_len;
        if (length >= sizeof path ||
            __wasi_fd_prestat_dir_name(fd, (uint8_t *)path, (__wasi_size_t)length) != 0)
            continue;
        path[length] = '\0';
        if (strcmp(path, name) == 0) return (int)fd;
    }
    return -1;
}

/* VmRSS of the lunatic OS process, read through the preopened directory
 * /proc/self (`lunatic run --dir /proc/self ...`); 0 when it is not
 * readable. The same measure as bench/core and the Erlang twins take.
 *
 * Raw WASI calls, not fopen: fopen links wasi-libc's preopen table, whose
 * constructor wasm-ld then runs at the start of every exported entry,
 * lun_spawn_entry included, so that every spawned process would call
 * fd_prestat_get (creating its WASI context) and initialise malloc. */
static inline uint64_t wproc_rss_bytes(void)
{
    int directory = wproc_preopen("/proc/self");
    __wasi_fd_t fd;
    if (directory < 0 || __wasi_path_open((__wasi_fd_t)directory, 0, "status", 0,
                                          __WASI_RIGHTS_FD_READ, 0, 0, &fd) != 0)
        return 0;
    static char text[4096];
    size_t length = 0;
    for (;;) {
        __wasi_iovec_t vector = {(uint8_t *)text + length, sizeof text - 1 - length};
        __wasi_size_t got;
        if (__wasi_fd_read(fd, &vector, 1, &got) != 0 || got == 0) break;
        length += got;
        if (length == sizeof text - 1) break;
    }
    (void)__wasi_fd_close(fd);
    text[length] = '\0';
    const char *line = strstr(text, "VmRSS:");
    if (line == NULL) return 0;
    return strtoull(line + 6, NULL, 10) * 1024;
}

/* Prints `BENCH wproc.<name> <value> <unit>`: the metric part
 * "wproc.<name>" pairs with run.sh's erlang.wproc.<name> in bench/run.sh's
 * summary and stays apart from bench/core's rows of the same name. Times
 * get one decimal, written without printf's floating point, whose
 * formatting needs more than 7 KiB of the guest's small stack. */
static inline void wproc_report(const char *name, double value, const char *unit)
{
    unsigned long long tenths = (unsigned long long)(value * 10.0 + 0.5);
    if (strcmp(unit, "ns") == 0 || strcmp(unit, "ms") == 0)
        printf("BENCH wproc.%s %llu.%llu %s\n", name, tenths / 10, tenths % 10, unit);
    else
        printf("BENCH wproc.%s %llu %s\n", name, (tenths + 5) / 10, unit);
    fflush(stdout);
}

/* Prints "error: ..." and returns the exit status of a failed benchmark. */
__attribute__((format(printf, 1, 2))) static inline int wproc_fail(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("error: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    fflush(stderr);
    return 1;
}

#endif
