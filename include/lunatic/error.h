/*
 * Error values shared by every layer of the runtime.
 *
 * A fallible function returns a lun_status (LUN_OK is zero) and, when the
 * caller passed a lun_error, fills it with the same code and a one-line
 * message for a human ("at byte 0x1c: unexpected end of section"). Passing
 * NULL for the lun_error is always allowed.
 */
#ifndef LUNATIC_ERROR_H
#define LUNATIC_ERROR_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lun_status {
    LUN_OK = 0,
    LUN_ERR_INVALID_ARGUMENT, /* a null handle, a bad flag, a bad index */
    LUN_ERR_NO_MEMORY,        /* an allocation failed or a limit was reached */
    LUN_ERR_NOT_FOUND,        /* no such process, export, name, resource */
    LUN_ERR_MALFORMED,        /* a Wasm binary that does not decode */
    LUN_ERR_INVALID,          /* a Wasm module that decodes but does not validate */
    LUN_ERR_UNSUPPORTED,      /* a feature this runtime does not implement (SIMD) */
    LUN_ERR_LINK,             /* an import missing or of the wrong type */
    LUN_ERR_TRAP,             /* Wasm execution trapped; the message is the reason */
    LUN_ERR_TIMEOUT,          /* a wait ended by its timeout */
    LUN_ERR_WOULD_BLOCK,      /* the operation has to wait; retry when woken */
    LUN_ERR_DEAD,             /* the process is gone */
    LUN_ERR_PERMISSION,       /* forbidden by a process's configuration */
    LUN_ERR_IO,               /* an operating-system call failed */
    LUN_ERR_STATE,            /* the call is not allowed in the object's current state */
} lun_status;

enum { LUN_ERROR_MESSAGE_SIZE = 256 };

typedef struct lun_error {
    lun_status code;
    char message[LUN_ERROR_MESSAGE_SIZE];
} lun_error;

/* Fills error (when not NULL) and returns code, so that a caller can write
 * `return lun_error_set(error, LUN_ERR_NOT_FOUND, "no export %s", name);`. */
lun_status lun_error_set(lun_error *error, lun_status code, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
lun_status lun_error_set_va(lun_error *error, lun_status code, const char *format, va_list args);

/* Clears error (when not NULL) to LUN_OK with an empty message. */
void lun_error_clear(lun_error *error);

/* A short constant name for a status ("not found", "trap", ...). */
const char *lun_status_name(lun_status code);

#ifdef __cplusplus
}
#endif

#endif
