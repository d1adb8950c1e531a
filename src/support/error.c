/*
 * Error values: the one place that formats and names lun_status codes.
 */
#include "lunatic/error.h"

#include <stdio.h>

lun_status lun_error_set_va(lun_error *error, lun_status code, const char *format, va_list args)
{
    if (error != NULL) {
        error->code = code;
        vsnprintf(error->message, sizeof error->message, format, args);
    }
    return code;
}

lun_status lun_error_set(lun_error *error, lun_status code, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    lun_error_set_va(error, code, format, args);
    va_end(args);
    return code;
}

void lun_error_clear(lun_error *error)
{
    if (error != NULL) {
        error->code = LUN_OK;
        error->message[0] = '\0';
    }
}

const char *lun_status_name(lun_status code)
{
    switch (code) {
    case LUN_OK: return "ok";
    case LUN_ERR_INVALID_ARGUMENT: return "invalid argument";
    case LUN_ERR_NO_MEMORY: return "out of memory";
    case LUN_ERR_NOT_FOUND: return "not found";
    case LUN_ERR_MALFORMED: return "malformed module";
    case LUN_ERR_INVALID: return "invalid module";
    case LUN_ERR_UNSUPPORTED: return "unsupported";
    case LUN_ERR_LINK: return "link error";
    case LUN_ERR_TRAP: return "trap";
    case LUN_ERR_TIMEOUT: return "timeout";
    case LUN_ERR_WOULD_BLOCK: return "would block";
    case LUN_ERR_DEAD: return "process dead";
    case LUN_ERR_PERMISSION: return "permission denied";
    case LUN_ERR_IO: return "i/o error";
    case LUN_ERR_STATE: return "wrong state";
    }
    return "unknown status";
}
