/*
 * Logging of the runtime: leveled lines to stderr (or a sink set by the
 * embedder or a test). The level comes from LUNATIC_LOG, default warn.
 */
#include "core_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Atomic int log_level = -1; /* -1: not read from the environment yet */
static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static lun_log_sink log_sink;
static void *log_sink_context;

static lun_log_level level_from_environment(void)
{
    static const struct {
        const char *name;
        lun_log_level level;
    } names[] = {
        {"off", LUN_LOG_OFF},      {"error", LUN_LOG_ERROR}, {"warn", LUN_LOG_WARN},
        {"info", LUN_LOG_INFO},    {"debug", LUN_LOG_DEBUG}, {"trace", LUN_LOG_TRACE},
        {"warning", LUN_LOG_WARN},
    };
    const char *value = getenv("LUNATIC_LOG");
    if (value == NULL) return LUN_LOG_WARN;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcasecmp(value, names[i].name) == 0) return names[i].level;
    return LUN_LOG_WARN;
}

lun_log_level lun_log_get_level(void)
{
    int level = atomic_load_explicit(&log_level, memory_order_relaxed);
    if (level < 0) {
        int expected = -1;
        atomic_compare_exchange_strong(&log_level, &expected, (int)level_from_environment());
        level = atomic_load(&log_level);
    }
    return (lun_log_level)level;
}

void lun_log_set_level(lun_log_level level)
{
    if (level > LUN_LOG_TRACE) level = LUN_LOG_TRACE;
    atomic_store(&log_level, (int)level);
}

bool core_log_enabled(lun_log_level level)
{
    return level != LUN_LOG_OFF && level <= lun_log_get_level();
}

void lun_log_set_sink(lun_log_sink sink, void *context)
{
    pthread_mutex_lock(&sink_lock);
    log_sink = sink;
    log_sink_context = context;
    pthread_mutex_unlock(&sink_lock);
}

static const char *level_name(lun_log_level level)
{
    switch (level) {
    case LUN_LOG_ERROR: return "ERROR";
    case LUN_LOG_WARN: return "WARN";
    case LUN_LOG_INFO: return "INFO";
    case LUN_LOG_DEBUG: return "DEBUG";
    case LUN_LOG_TRACE: return "TRACE";
    default: return "";
    }
}

void lun_log(lun_log_level level, const char *format, ...)
{
    if (!core_log_enabled(level) || format == NULL) return;
    char line[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(line, sizeof line, format, args);
    va_end(args);
    pthread_mutex_lock(&sink_lock);
    if (log_sink != NULL)
        log_sink(level, line, log_sink_context);
    else
        fprintf(stderr, "[lunatic %s] %s\n", level_name(level), line);
    pthread_mutex_unlock(&sink_lock);
}
