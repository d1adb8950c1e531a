/*
 * proc_exit, proc_raise, random_get, and the sock_* functions, which answer
 * ENOTSUP until the networking layer gives processes sockets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

#include "internal.h"

/* Ends the guest by trapping; the context keeps the code (see wasi.h). */
static int proc_exit(wasi_call *call)
{
    uint32_t code = wasi_arg_u32(call, 0);
    call->ctx->exited = true;
    call->ctx->exit_code = code;
    snprintf(call->host_call->trap_message, sizeof call->host_call->trap_message,
             LUN_WASI_EXIT_MESSAGE_PREFIX "%u)", code);
    return WASI_RESULT_TRAP;
}

/* Signals are not part of lunatic's process model (wasmtime refuses too). */
static int proc_raise(wasi_call *call)
{
    return WASI_ENOSYS;
}

static int random_get(wasi_call *call)
{
    uint32_t buffer = wasi_arg_u32(call, 0), length = wasi_arg_u32(call, 1);
    if (!wasi_memory_ok(call, buffer, length)) return WASI_EFAULT;
    uint8_t *out = wasi_memory_at(call, buffer);
    while (length > 0) {
        ssize_t got = getrandom(out, length, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            return wasi_errno_from_host(errno);
        }
        out += got;
        length -= (uint32_t)got;
    }
    return WASI_ESUCCESS;
}

static int no_sockets(wasi_call *call)
{
    return wasi_fd_get(call->ctx, wasi_arg_u32(call, 0)) == NULL ? WASI_EBADF : WASI_ENOTSUP;
}

const wasi_function_def wasi_proc_functions[] = {
    {"proc_exit", "i32", "", proc_exit},
    {"proc_raise", "i32", "i32", proc_raise},
    {"random_get", "i32 i32", "i32", random_get},
    {"sock_accept", "i32 i32 i32", "i32", no_sockets},
    {"sock_recv", "i32 i32 i32 i32 i32 i32", "i32", no_sockets},
    {"sock_send", "i32 i32 i32 i32 i32", "i32", no_sockets},
    {"sock_shutdown", "i32 i32", "i32", no_sockets},
    {NULL, NULL, NULL, NULL},
};
