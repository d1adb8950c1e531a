/*
 * The path_* functions. Each resolves its path(s) inside the sandbox first
 * (path.c) and then acts with one *at call on (directory fd, last name).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Reads the path (ptr, len) at argument index path_arg and resolves it below
 * the directory fd of argument fd_arg. */
static uint16_t resolve_arg(wasi_call *call, size_t fd_arg, size_t path_arg, bool follow,
                            wasi_resolved *out)
{
    wasi_fd_entry *entry = wasi_fd_get(call->ctx, wasi_arg_u32(call, fd_arg));
    if (entry == NULL) return WASI_EBADF;
    if (entry->filetype != WASI_FILETYPE_DIRECTORY) return WASI_ENOTDIR;
    char *path;
    uint16_t status =
        wasi_read_path(call, wasi_arg_u32(call, path_arg), wasi_arg_u32(call, path_arg + 1), &path);
    if (status != WASI_ESUCCESS) return status;
    status = wasi_path_resolve(entry->handle->fd, path, follow, out);
    free(path);
    return status;
}

/* Releases the resolved path(s) and turns result (< 0: failed with errno)
 * into a WASI errno, reading errno before close() can change it. */
static int finish_two(wasi_resolved *first, wasi_resolved *second, int result)
{
    int saved = errno;
    wasi_resolved_release(first);
    if (second != NULL) wasi_resolved_release(second);
    return result < 0 ? wasi_errno_from_host(saved) : WASI_ESUCCESS;
}

static int finish(wasi_resolved *resolved, int result)
{
    return finish_two(resolved, NULL, result);
}

static int path_create_directory(wasi_call *call)
{
    wasi_resolved target;
    uint16_t status = resolve_arg(call, 0, 1, false, &target);
    if (status != WASI_ESUCCESS) return status;
    return finish(&target, mkdirat(target.dir_fd, target.name, 0777));
}

static int path_filestat_get(wasi_call *call)
{
    uint32_t out = wasi_arg_u32(call, 4);
    if (!wasi_memory_ok(call, out, WASI_FILESTAT_SIZE)) return WASI_EFAULT;
    bool follow = (wasi_arg_u32(call, 1) & WASI_LOOKUP_SYMLINK_FOLLOW) != 0;
    wasi_resolved target;
    uint16_t status = resolve_arg(call, 0, 2, follow, &target);
    if (status != WASI_ESUCCESS) return status;
    struct stat st;
    int result = fstatat(target.dir_fd, target.name, &st, AT_SYMLINK_NOFOLLOW);
    if (result == 0) wasi_store_filestat(wasi_memory_at(call, out), &st);
    return finish(&target, result);
}

static int path_filestat_set_times(wasi_call *call)
{
    struct timespec times[2];
    uint16_t status = wasi_times_from_flags(wasi_arg_u64(call, 4), wasi_arg_u64(call, 5),
                                            wasi_arg_u32(call, 6), times);
    if (status != WASI_ESUCCESS) return status;
    bool follow = (wasi_arg_u32(call, 1) & WASI_LOOKUP_SYMLINK_FOLLOW) != 0;
    wasi_resolved target;
    status = resolve_arg(call, 0, 2, follow, &target);
    if (status != WASI_ESUCCESS) return status;
    return finish(&target, utimensat(target.dir_fd, target.name, times, AT_SYMLINK_NOFOLLOW));
}

static int path_link(wasi_call *call)
{
    bool follow = (wasi_arg_u32(call, 1) & WASI_LOOKUP_SYMLINK_FOLLOW) != 0;
    wasi_resolved source, target;
    uint16_t status = resolve_arg(call, 0, 2, follow, &source);
    if (status != WASI_ESUCCESS) return status;
    status = resolve_arg(call, 4, 5, false, &target);
    if (status != WASI_ESUCCESS) {
        wasi_resolved_release(&source);
        return status;
    }
    int result = linkat(source.dir_fd, source.name, target.dir_fd, target.name, 0);
    return finish_two(&source, &target, result);
}

static int path_readlink(wasi_call *call)
{
    uint32_t buffer = wasi_arg_u32(call, 3), length = wasi_arg_u32(call, 4);
    uint32_t used_ptr = wasi_arg_u32(call, 5);
    if (!wasi_memory_ok(call, buffer, length) || !wasi_memory_ok(call, used_ptr, 4))
        return WASI_EFAULT;
    wasi_resolved target;
    uint16_t status = resolve_arg(call, 0, 1, false, &target);
    if (status != WASI_ESUCCESS) return status;
    char contents[PATH_MAX];
    ssize_t size = readlinkat(target.dir_fd, target.name, contents, sizeof contents);
    if (size >= 0) {
        uint32_t copied = (uint64_t)size < length ? (uint32_t)size : length;
        memcpy(wasi_memory_at(call, buffer), contents, copied);
        wasi_store_u32(wasi_memory_at(call, used_ptr), copied);
    }
    return finish(&target, size < 0 ? -1 : 0);
}

static int path_remove_directory(wasi_call *call)
{
    wasi_resolved target;
    uint16_t status = resolve_arg(call, 0, 1, false, &target);
    if (status != WASI_ESUCCESS) return status;
    return finish(&target, unlinkat(target.dir_fd, target.name, AT_REMOVEDIR));
}

static int path_rename(wasi_call *call)
{
    wasi_resolved source, target;
    uint16_t status = resolve_arg(call, 0, 1, false, &source);
    if (status != WASI_ESUCCESS) return status;
    status = resolve_arg(call, 3, 4, false, &target);
    if (status != WASI_ESUCCESS) {
        wasi_resolved_release(&source);
        return status;
    }
    int result = renameat(source.dir_fd, source.name, target.dir_fd, target.name);
    return finish_two(&source, &target, result);
}

/* The link's contents are stored as given: following it later goes through
 * the same sandbox, so an absolute or escaping target cannot be used. */
static int path_symlink(wasi_call *call)
{
    char *contents;
    uint16_t status = wasi_read_path(call, wasi_arg_u32(call, 0), wasi_arg_u32(call, 1), &contents);
    if (status != WASI_ESUCCESS) return status;
    wasi_resolved target;
    status = resolve_arg(call, 2, 3, false, &target);
    if (status != WASI_ESUCCESS) {
        free(contents);
        return status;
    }
    int result = symlinkat(contents, target.dir_fd, target.name);
    int saved = errno;
    free(contents);
    errno = saved;
    return finish(&target, result);
}

static int path_unlink_file(wasi_call *call)
{
    wasi_resolved target;
    uint16_t status = resolve_arg(call, 0, 1, false, &target);
    if (status != WASI_ESUCCESS) return status;
    struct stat st;
    if (fstatat(target.dir_fd, target.name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        uint16_t refused = S_ISDIR(st.st_mode)     ? WASI_EISDIR
                           : target.trailing_slash ? WASI_ENOTDIR
                                                   : WASI_ESUCCESS;
        if (refused != WASI_ESUCCESS) {
            wasi_resolved_release(&target);
            return refused;
        }
    }
    return finish(&target, unlinkat(target.dir_fd, target.name, 0));
}

/* ---- path_open ----------------------------------------------------------- */

static int open_flags(uint32_t oflags, uint64_t rights, uint32_t fdflags, bool trailing_slash)
{
    int flags = O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
    bool read = (rights & (WASI_RIGHT_FD_READ | WASI_RIGHT_FD_READDIR)) != 0;
    bool write = (rights & (WASI_RIGHT_FD_WRITE | WASI_RIGHT_FD_ALLOCATE |
                            WASI_RIGHT_FD_FILESTAT_SET_SIZE)) != 0;
    if ((oflags & WASI_OFLAG_DIRECTORY) || trailing_slash)
        flags |= O_DIRECTORY | O_RDONLY;
    else if (write)
        flags |= read ? O_RDWR : O_WRONLY;
    else
        flags |= O_RDONLY;
    if (oflags & WASI_OFLAG_CREAT) flags |= O_CREAT;
    if (oflags & WASI_OFLAG_EXCL) flags |= O_EXCL;
    if (oflags & WASI_OFLAG_TRUNC) flags |= O_TRUNC;
    if (fdflags & WASI_FDFLAG_APPEND) flags |= O_APPEND;
    if (fdflags & WASI_FDFLAG_NONBLOCK) flags |= O_NONBLOCK;
    if (fdflags & WASI_FDFLAG_DSYNC) flags |= O_DSYNC;
    if (fdflags & WASI_FDFLAG_SYNC) flags |= O_SYNC;
    if (fdflags & WASI_FDFLAG_RSYNC) flags |= O_RSYNC;
    return flags;
}

static int path_open(wasi_call *call)
{
    uint32_t oflags = wasi_arg_u32(call, 4), fdflags = wasi_arg_u32(call, 7);
    uint64_t rights_base = wasi_arg_u64(call, 5), rights_inheriting = wasi_arg_u64(call, 6);
    uint32_t fd_ptr = wasi_arg_u32(call, 8);
    if (!wasi_memory_ok(call, fd_ptr, 4)) return WASI_EFAULT;
    if ((oflags & ~0xFu) != 0 || (fdflags & ~0x1Fu) != 0) return WASI_EINVAL;
    wasi_fd_entry *parent = wasi_fd_get(call->ctx, wasi_arg_u32(call, 0));
    if (parent == NULL) return WASI_EBADF;
    uint64_t allowed = parent->rights_inheriting;
    bool follow = (wasi_arg_u32(call, 1) & WASI_LOOKUP_SYMLINK_FOLLOW) != 0;
    wasi_resolved target;
    uint16_t status = resolve_arg(call, 0, 2, follow, &target);
    if (status != WASI_ESUCCESS) return status;
    int flags = open_flags(oflags, rights_base, fdflags, target.trailing_slash);
    int fd = openat(target.dir_fd, target.name, flags, 0666);
    int saved = errno;
    wasi_resolved_release(&target);
    if (fd < 0) return wasi_errno_from_host(saved);
    struct stat st;
    wasi_handle *handle = fstat(fd, &st) == 0 ? wasi_handle_new(fd, true) : NULL;
    if (handle == NULL) {
        close(fd);
        return WASI_ENOMEM;
    }
    uint32_t new_fd;
    status = wasi_fd_insert(call->ctx, handle, wasi_filetype_from_mode(st.st_mode),
                            rights_base & allowed, rights_inheriting & allowed, &new_fd);
    if (status != WASI_ESUCCESS) return status;
    wasi_store_u32(wasi_memory_at(call, fd_ptr), new_fd);
    return WASI_ESUCCESS;
}

const wasi_function_def wasi_path_functions[] = {
    {"path_create_directory", "i32 i32 i32", "i32", path_create_directory},
    {"path_filestat_get", "i32 i32 i32 i32 i32", "i32", path_filestat_get},
    {"path_filestat_set_times", "i32 i32 i32 i32 i64 i64 i32", "i32", path_filestat_set_times},
    {"path_link", "i32 i32 i32 i32 i32 i32 i32", "i32", path_link},
    {"path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32", "i32", path_open},
    {"path_readlink", "i32 i32 i32 i32 i32 i32", "i32", path_readlink},
    {"path_remove_directory", "i32 i32 i32", "i32", path_remove_directory},
    {"path_rename", "i32 i32 i32 i32 i32 i32", "i32", path_rename},
    {"path_symlink", "i32 i32 i32 i32 i32", "i32", path_symlink},
    {"path_unlink_file", "i32 i32 i32", "i32", path_unlink_file},
    {NULL, NULL, NULL, NULL},
};
