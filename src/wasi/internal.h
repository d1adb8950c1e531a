/*
 * What the files of the WASI layer share: the preview-1 constants, the
 * context and fd table, guest-memory access with bounds checks, and the
 * sandboxed path resolver. Private to src/wasi (and its unit tests).
 */
#ifndef LUNATIC_WASI_INTERNAL_H
#define LUNATIC_WASI_INTERNAL_H

#include <dirent.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lunatic/wasi.h"

/* ---- preview-1 constants ------------------------------------------------- */

enum {
    WASI_ESUCCESS = 0,
    WASI_E2BIG = 1,
    WASI_EACCES = 2,
    WASI_EADDRINUSE = 3,
    WASI_EADDRNOTAVAIL = 4,
    WASI_EAFNOSUPPORT = 5,
    WASI_EAGAIN = 6,
    WASI_EALREADY = 7,
    WASI_EBADF = 8,
    WASI_EBADMSG = 9,
    WASI_EBUSY = 10,
    WASI_ECANCELED = 11,
    WASI_ECHILD = 12,
    WASI_ECONNABORTED = 13,
    WASI_ECONNREFUSED = 14,
    WASI_ECONNRESET = 15,
    WASI_EDEADLK = 16,
    WASI_EDESTADDRREQ = 17,
    WASI_EDOM = 18,
    WASI_EDQUOT = 19,
    WASI_EEXIST = 20,
    WASI_EFAULT = 21,
    WASI_EFBIG = 22,
    WASI_EHOSTUNREACH = 23,
    WASI_EIDRM = 24,
    WASI_EILSEQ = 25,
    WASI_EINPROGRESS = 26,
    WASI_EINTR = 27,
    WASI_EINVAL = 28,
    WASI_EIO = 29,
    WASI_EISCONN = 30,
    WASI_EISDIR = 31,
    WASI_ELOOP = 32,
    WASI_EMFILE = 33,
    WASI_EMLINK = 34,
    WASI_EMSGSIZE = 35,
    WASI_EMULTIHOP = 36,
    WASI_ENAMETOOLONG = 37,
    WASI_ENETDOWN = 38,
    WASI_ENETRESET = 39,
    WASI_ENETUNREACH = 40,
    WASI_ENFILE = 41,
    WASI_ENOBUFS = 42,
    WASI_ENODEV = 43,
    WASI_ENOENT = 44,
    WASI_ENOEXEC = 45,
    WASI_ENOLCK = 46,
    WASI_ENOLINK = 47,
    WASI_ENOMEM = 48,
    WASI_ENOMSG = 49,
    WASI_ENOPROTOOPT = 50,
    WASI_ENOSPC = 51,
    WASI_ENOSYS = 52,
    WASI_ENOTCONN = 53,
    WASI_ENOTDIR = 54,
    WASI_ENOTEMPTY = 55,
    WASI_ENOTRECOVERABLE = 56,
    WASI_ENOTSOCK = 57,
    WASI_ENOTSUP = 58,
    WASI_ENOTTY = 59,
    WASI_ENXIO = 60,
    WASI_EOVERFLOW = 61,
    WASI_EOWNERDEAD = 62,
    WASI_EPERM = 63,
    WASI_EPIPE = 64,
    WASI_EPROTO = 65,
    WASI_EPROTONOSUPPORT = 66,
    WASI_EPROTOTYPE = 67,
    WASI_ERANGE = 68,
    WASI_EROFS = 69,
    WASI_ESPIPE = 70,
    WASI_ESRCH = 71,
    WASI_ESTALE = 72,
    WASI_ETIMEDOUT = 73,
    WASI_ETXTBSY = 74,
    WASI_EXDEV = 75,
    WASI_ENOTCAPABLE = 76,
};

enum {
    WASI_FILETYPE_UNKNOWN = 0,
    WASI_FILETYPE_BLOCK_DEVICE = 1,
    WASI_FILETYPE_CHARACTER_DEVICE = 2,
    WASI_FILETYPE_DIRECTORY = 3,
    WASI_FILETYPE_REGULAR_FILE = 4,
    WASI_FILETYPE_SOCKET_DGRAM = 5,
    WASI_FILETYPE_SOCKET_STREAM = 6,
    WASI_FILETYPE_SYMBOLIC_LINK = 7,
};

enum {
    WASI_FDFLAG_APPEND = 1 << 0,
    WASI_FDFLAG_DSYNC = 1 << 1,
    WASI_FDFLAG_NONBLOCK = 1 << 2,
    WASI_FDFLAG_RSYNC = 1 << 3,
    WASI_FDFLAG_SYNC = 1 << 4,
};

enum {
    WASI_OFLAG_CREAT = 1 << 0,
    WASI_OFLAG_DIRECTORY = 1 << 1,
    WASI_OFLAG_EXCL = 1 << 2,
    WASI_OFLAG_TRUNC = 1 << 3,
};

enum { WASI_LOOKUP_SYMLINK_FOLLOW = 1 };

enum {
    WASI_FSTFLAG_ATIM = 1 << 0,
    WASI_FSTFLAG_ATIM_NOW = 1 << 1,
    WASI_FSTFLAG_MTIM = 1 << 2,
    WASI_FSTFLAG_MTIM_NOW = 1 << 3,
};

enum { WASI_WHENCE_SET = 0, WASI_WHENCE_CUR = 1, WASI_WHENCE_END = 2 };

enum {
    WASI_CLOCK_REALTIME = 0,
    WASI_CLOCK_MONOTONIC = 1,
    WASI_CLOCK_PROCESS_CPUTIME = 2,
    WASI_CLOCK_THREAD_CPUTIME = 3,
};

enum { WASI_EVENT_CLOCK = 0, WASI_EVENT_FD_READ = 1, WASI_EVENT_FD_WRITE = 2 };
enum { WASI_SUBCLOCK_ABSTIME = 1 };
enum { WASI_EVENTRW_HANGUP = 1 };
enum { WASI_PREOPEN_DIR = 0 };

#define WASI_RIGHT(n)                      ((uint64_t)1 << (n))
#define WASI_RIGHT_FD_DATASYNC             WASI_RIGHT(0)
#define WASI_RIGHT_FD_READ                 WASI_RIGHT(1)
#define WASI_RIGHT_FD_SEEK                 WASI_RIGHT(2)
#define WASI_RIGHT_FD_FDSTAT_SET_FLAGS     WASI_RIGHT(3)
#define WASI_RIGHT_FD_SYNC                 WASI_RIGHT(4)
#define WASI_RIGHT_FD_TELL                 WASI_RIGHT(5)
#define WASI_RIGHT_FD_WRITE                WASI_RIGHT(6)
#define WASI_RIGHT_FD_ADVISE               WASI_RIGHT(7)
#define WASI_RIGHT_FD_ALLOCATE             WASI_RIGHT(8)
#define WASI_RIGHT_PATH_CREATE_DIRECTORY   WASI_RIGHT(9)
#define WASI_RIGHT_PATH_CREATE_FILE        WASI_RIGHT(10)
#define WASI_RIGHT_PATH_LINK_SOURCE        WASI_RIGHT(11)
#define WASI_RIGHT_PATH_LINK_TARGET        WASI_RIGHT(12)
#define WASI_RIGHT_PATH_OPEN               WASI_RIGHT(13)
#define WASI_RIGHT_FD_READDIR              WASI_RIGHT(14)
#define WASI_RIGHT_PATH_READLINK           WASI_RIGHT(15)
#define WASI_RIGHT_PATH_RENAME_SOURCE      WASI_RIGHT(16)
#define WASI_RIGHT_PATH_RENAME_TARGET      WASI_RIGHT(17)
#define WASI_RIGHT_PATH_FILESTAT_GET       WASI_RIGHT(18)
#define WASI_RIGHT_PATH_FILESTAT_SET_SIZE  WASI_RIGHT(19)
#define WASI_RIGHT_PATH_FILESTAT_SET_TIMES WASI_RIGHT(20)
#define WASI_RIGHT_FD_FILESTAT_GET         WASI_RIGHT(21)
#define WASI_RIGHT_FD_FILESTAT_SET_SIZE    WASI_RIGHT(22)
#define WASI_RIGHT_FD_FILESTAT_SET_TIMES   WASI_RIGHT(23)
#define WASI_RIGHT_PATH_SYMLINK            WASI_RIGHT(24)
#define WASI_RIGHT_PATH_REMOVE_DIRECTORY   WASI_RIGHT(25)
#define WASI_RIGHT_PATH_UNLINK_FILE        WASI_RIGHT(26)
#define WASI_RIGHT_POLL_FD_READWRITE       WASI_RIGHT(27)
#define WASI_RIGHT_SOCK_SHUTDOWN           WASI_RIGHT(28)
#define WASI_RIGHT_SOCK_ACCEPT             WASI_RIGHT(29)
#define WASI_RIGHTS_ALL                    (WASI_RIGHT(30) - 1)

/* Sizes of the preview-1 records in guest memory. */
enum {
    WASI_IOVEC_SIZE = 8,
    WASI_FDSTAT_SIZE = 24,
    WASI_FILESTAT_SIZE = 64,
    WASI_PRESTAT_SIZE = 8,
    WASI_DIRENT_SIZE = 24,
    WASI_SUBSCRIPTION_SIZE = 48,
    WASI_EVENT_SIZE = 32,
};

/* ---- host handles and the fd table -------------------------------------- */

/* A host fd shared by fd-table entries of one or several contexts. */
typedef struct wasi_handle {
    atomic_uint references;
    int fd;
    bool owned; /* close fd when the last reference goes (false for host stdio) */
} wasi_handle;

wasi_handle *wasi_handle_new(int fd, bool owned); /* NULL when out of memory */
wasi_handle *wasi_handle_retain(wasi_handle *handle);
void wasi_handle_release(wasi_handle *handle);

typedef struct wasi_fd_entry {
    wasi_handle *handle; /* NULL: the fd is free */
    uint8_t filetype;
    uint64_t rights_base;
    uint64_t rights_inheriting;
    char *preopen_name; /* set for preopened directories */
    DIR *dir;           /* fd_readdir stream, opened on first use */
} wasi_fd_entry;

struct lun_wasi_dir {
    atomic_uint references;
    wasi_handle *handle;
};

struct lun_wasi_ctx {
    char **args;
    size_t arg_count;
    char **env; /* "KEY=VALUE" */
    size_t env_count;
    wasi_fd_entry *fds;
    uint32_t fd_count; /* entries allocated */
    bool exited;
    uint32_t exit_code;
    bool poll_pending; /* a suspended poll_oneoff is being retried */
    uint64_t poll_start_ns;
    bool yield_pending;
};

/* The entry for fd, or NULL when fd is not open. */
wasi_fd_entry *wasi_fd_get(lun_wasi_ctx *ctx, uint32_t fd);
/* Puts handle (one reference taken over) in the lowest free fd. Returns a
 * WASI errno; on failure the reference is released. */
uint16_t wasi_fd_insert(lun_wasi_ctx *ctx, wasi_handle *handle, uint8_t filetype,
                        uint64_t rights_base, uint64_t rights_inheriting, uint32_t *fd);
void wasi_fd_entry_clear(wasi_fd_entry *entry);
uint8_t wasi_filetype_from_mode(unsigned mode);

struct stat;
struct timespec;
/* Writes a preview-1 filestat record (64 bytes). */
void wasi_store_filestat(uint8_t *out, const struct stat *st);
/* Turns WASI (atim, mtim, fst_flags) into utimensat's two timespecs. */
uint16_t wasi_times_from_flags(uint64_t atim, uint64_t mtim, uint32_t flags,
                               struct timespec *times);

/* ---- errno --------------------------------------------------------------- */

uint16_t wasi_errno_from_host(int host_errno);

/* ---- calls and guest memory ---------------------------------------------- */

struct lun_wasi_host;

typedef struct wasi_call {
    lun_wasi_ctx *ctx;
    const struct lun_wasi_host *host;
    lun_host_call *host_call;
    lun_memory *guest_memory; /* the caller's memory, or NULL */
    uint8_t *memory;          /* its bytes at the time of the call */
} wasi_call;

/* What a WASI function returns: an errno (>= 0) or one of these. */
enum { WASI_RESULT_SUSPEND = -1, WASI_RESULT_TRAP = -2 };

static inline uint32_t wasi_arg_u32(const wasi_call *call, size_t index)
{
    return (uint32_t)call->host_call->args[index];
}

static inline uint64_t wasi_arg_u64(const wasi_call *call, size_t index)
{
    return call->host_call->args[index];
}

/* True when [ptr, ptr + length) lies inside the caller's memory; the range
 * may then be written (the memory records it). Every access is checked
 * with this first. */
static inline bool wasi_memory_ok(const wasi_call *call, uint32_t ptr, uint64_t length)
{
    return call->memory != NULL && lun_memory_range(call->guest_memory, ptr, length) != NULL;
}

static inline uint8_t *wasi_memory_at(const wasi_call *call, uint32_t ptr)
{
    return call->memory + ptr;
}

static inline void wasi_store_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void wasi_store_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void wasi_store_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t wasi_load_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t wasi_load_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t wasi_load_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Copies the guest string (ptr, length) into a new NUL-terminated string.
 * EFAULT out of memory bounds, EILSEQ for invalid UTF-8 or an embedded NUL,
 * ENAMETOOLONG past PATH_MAX, ENOMEM. */
uint16_t wasi_read_path(const wasi_call *call, uint32_t ptr, uint32_t length, char **path);

/* Gathers guest iovecs into host ones (at most IOV_MAX; the rest is left for
 * a later call, as a short read or write). *iovs is malloc'd. */
struct iovec;
uint16_t wasi_read_iovecs(const wasi_call *call, uint32_t iovs_ptr, uint32_t iovs_count,
                          struct iovec **iovs, int *count);

/* ---- path resolution (the sandbox) --------------------------------------- */

typedef struct wasi_resolved {
    int dir_fd;        /* directory holding the last component */
    bool dir_fd_owned; /* close dir_fd in wasi_resolved_release */
    char *name;        /* the last component: one name, never "..", "" or with '/' */
    bool trailing_slash;
} wasi_resolved;

/* Resolves path below the directory base_fd without leaving it: absolute
 * paths, ".." above base_fd and symlinks pointing outside give ENOTCAPABLE.
 * Symlinks in the middle of the path are followed (within the sandbox); the
 * last component is followed only when follow_last. Returns a WASI errno; on
 * success release *out with wasi_resolved_release. */
uint16_t wasi_path_resolve(int base_fd, const char *path, bool follow_last, wasi_resolved *out);
void wasi_resolved_release(wasi_resolved *resolved);

/* ---- the functions ------------------------------------------------------- */

typedef int (*wasi_function)(wasi_call *call);

typedef struct wasi_function_def {
    const char *name;
    const char *params;
    const char *results;
    wasi_function function;
} wasi_function_def;

/* Each file of the layer lists its functions; host.c registers them all. */
extern const wasi_function_def wasi_args_functions[];
extern const wasi_function_def wasi_clock_functions[];
extern const wasi_function_def wasi_fd_functions[];
extern const wasi_function_def wasi_path_functions[];
extern const wasi_function_def wasi_proc_functions[];

struct lun_wasi_host {
    lun_wasi_hooks hooks;
    size_t func_count;
    lun_func **funcs;
    struct wasi_binding *bindings;
};

#endif
