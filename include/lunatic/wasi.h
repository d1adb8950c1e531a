/*
 * WASI preview 1 (`wasi_snapshot_preview1`) for Wasm processes.
 *
 * Two objects:
 *
 * - lun_wasi_ctx: what one process sees of the outside world: its arguments,
 *   its environment, its file descriptor table (fds 0, 1, 2 are stdio, then
 *   one fd per preopened directory, in the order they were added) and, once
 *   the guest called proc_exit, its exit code. A context is used by one
 *   thread at a time (the thread running its process).
 *
 * - lun_wasi_host: the host functions themselves, made once and shared by
 *   every instance on every thread (lun_wasi_add_imports adds them to a
 *   lun_imports set). A host function finds the context of the calling
 *   instance through lun_wasi_hooks.context; without that hook the instance's
 *   user data (lun_instance_config.user_data) must be the lun_wasi_ctx.
 *   Free the host after every instance linked against it.
 *
 * Sandbox: a guest reaches files only through preopened directories. Paths
 * are resolved one component at a time below the preopen (openat with
 * O_NOFOLLOW at every step): absolute paths, `..` above the preopen and
 * symbolic links leading out of it (absolute targets included) fail with
 * ENOTCAPABLE (76). Resolution keeps at most LUN_WASI_MAX_PATH_DEPTH
 * directories open below the preopen; deeper paths fail with ENAMETOOLONG.
 *
 * proc_exit(code): the host function records the code in the context and
 * returns LUN_HOST_TRAP with the message "wasi proc_exit(<code>)". The
 * embedder tells an exit from a real trap with lun_wasi_ctx_exit_code (the
 * message alone is a hint for humans: a trap raised elsewhere could carry the
 * same text). lunatic's reading: proc_exit(0) is a normal death, any other
 * code a failure.
 *
 * Waiting: poll_oneoff and sched_yield never block a worker thread when the
 * embedder installs hooks. poll_oneoff first collects what is ready; if
 * nothing is, it calls hooks.wait_until with the monotonic time (ns) at which
 * the call must be tried again (the earliest clock deadline, or a short
 * polling interval, LUN_WASI_FD_POLL_INTERVAL_NS, while it waits on fds). The
 * hook returns true if that time has already passed, or registers a timer
 * that will wake the process and returns false: the host function then
 * returns LUN_HOST_SUSPEND and the engine retries the same call when the
 * process runs again. Relative clock timeouts count from the first attempt,
 * so retries do not move the deadline. Without the hook, poll_oneoff sleeps
 * the thread (nanosleep/poll), which suits standalone use with
 * lun_instance_call. sched_yield asks hooks.yield whether to suspend once
 * (returning 0 when retried); without the hook it returns 0 at once.
 * A suspended call must be retried (the context remembers that it is
 * pending). fd_read and fd_write on stdio are ordinary (blocking) host
 * calls, as in lunatic. A write to a pipe whose reader is gone returns EPIPE
 * only if the embedding program ignores SIGPIPE (the command-line tool
 * should); otherwise the signal ends the whole runtime.
 *
 * Sockets: sock_accept, sock_recv, sock_send and sock_shutdown return
 * ENOTSUP (58) for every open fd (EBADF for others) until the networking
 * layer gives processes sockets.
 */
#ifndef LUNATIC_WASI_H
#define LUNATIC_WASI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lunatic/error.h"
#include "lunatic/wasm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LUN_WASI_MODULE_NAME         "wasi_snapshot_preview1"
#define LUN_WASI_EXIT_MESSAGE_PREFIX "wasi proc_exit("

enum {
    LUN_WASI_MAX_PATH_DEPTH = 128,
    LUN_WASI_MAX_FDS = 4096, /* per context; more opens fail with EMFILE */
};

#define LUN_WASI_FD_POLL_INTERVAL_NS UINT64_C(10000000)

/* ---- per-process context ------------------------------------------------- */

typedef struct lun_wasi_ctx lun_wasi_ctx;

/* A host directory opened once and shared, read-only, by any number of
 * contexts (the api layer opens a config's preopens once, not once per
 * process). Reference counted; thread-safe. */
typedef struct lun_wasi_dir lun_wasi_dir;

lun_status lun_wasi_dir_open(const char *host_path, lun_wasi_dir **dir, lun_error *error);
lun_wasi_dir *lun_wasi_dir_retain(lun_wasi_dir *dir);
void lun_wasi_dir_free(lun_wasi_dir *dir); /* drops one reference; NULL is a no-op */

/* A new context: no arguments, no environment, no preopens, fds 0/1/2 on the
 * host's stdin/stdout/stderr. */
lun_status lun_wasi_ctx_new(lun_wasi_ctx **ctx, lun_error *error);
void lun_wasi_ctx_free(lun_wasi_ctx *ctx);

/* Appends one argument (argv[0] first). The string is copied. */
lun_status lun_wasi_ctx_add_arg(lun_wasi_ctx *ctx, const char *arg, lun_error *error);
/* Appends the variable KEY=VALUE (copied; the key must not contain '='). */
lun_status lun_wasi_ctx_add_env(lun_wasi_ctx *ctx, const char *key, const char *value,
                                lun_error *error);
/* Gives the guest the next fd (3, 4, ...) as the directory guest_name. */
lun_status lun_wasi_ctx_preopen(lun_wasi_ctx *ctx, const char *guest_name, lun_wasi_dir *dir,
                                lun_error *error);
/* Same, opening host_path first. */
lun_status lun_wasi_ctx_preopen_dir(lun_wasi_ctx *ctx, const char *guest_name,
                                    const char *host_path, lun_error *error);
/* Points guest fd 0, 1 or 2 at a duplicate of host_fd (the caller keeps
 * host_fd). Used to feed stdin or capture output, e.g. in tests. */
lun_status lun_wasi_ctx_set_stdio(lun_wasi_ctx *ctx, uint32_t guest_fd, int host_fd,
                                  lun_error *error);

/* True once the guest called proc_exit; *code (may be NULL) gets its code. */
bool lun_wasi_ctx_exit_code(const lun_wasi_ctx *ctx, uint32_t *code);

/* ---- host functions ------------------------------------------------------ */

typedef struct lun_wasi_hooks {
    /* The context of the process running instance; NULL makes the call trap.
     * When this hook is NULL the instance's user data is the context. */
    lun_wasi_ctx *(*context)(void *hook_data, lun_instance *instance);
    /* See "Waiting" above: true when deadline_ns (CLOCK_MONOTONIC) has passed;
     * false after arranging a wake-up, to suspend the call. */
    bool (*wait_until)(void *hook_data, lun_wasi_ctx *ctx, lun_instance *instance,
                       uint64_t deadline_ns);
    /* sched_yield: true to suspend the call once (the process is rescheduled). */
    bool (*yield)(void *hook_data, lun_wasi_ctx *ctx, lun_instance *instance);
    void *hook_data;
} lun_wasi_hooks;

typedef struct lun_wasi_host lun_wasi_host;

/* hooks may be NULL (standalone use: contexts in user data, blocking waits). */
lun_status lun_wasi_host_new(const lun_wasi_hooks *hooks, lun_wasi_host **host, lun_error *error);
void lun_wasi_host_free(lun_wasi_host *host);

/* Adds every wasi_snapshot_preview1 function of host to imports. The
 * functions stay owned by host. */
lun_status lun_wasi_add_imports(lun_wasi_host *host, lun_imports *imports, lun_error *error);

#ifdef __cplusplus
}
#endif

#endif
