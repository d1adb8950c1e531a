/*
 * The fd_* functions: reading, writing, seeking, stat-ing and listing through
 * the process's fd table.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

static wasi_fd_entry *fd_arg(wasi_call *call)
{
    return wasi_fd_get(call->ctx, wasi_arg_u32(call, 0));
}

static uint64_t timespec_ns(struct timespec ts)
{
    if (ts.tv_sec < 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void wasi_store_filestat(uint8_t *out, const struct stat *st)
{
    memset(out, 0, WASI_FILESTAT_SIZE);
    wasi_store_u64(out + 0, (uint64_t)st->st_dev);
    wasi_store_u64(out + 8, (uint64_t)st->st_ino);
    out[16] = wasi_filetype_from_mode(st->st_mode);
    wasi_store_u64(out + 24, (uint64_t)st->st_nlink);
    wasi_store_u64(out + 32, (uint64_t)st->st_size);
    wasi_store_u64(out + 40, timespec_ns(st->st_atim));
    wasi_store_u64(out + 48, timespec_ns(st->st_mtim));
    wasi_store_u64(out + 56, timespec_ns(st->st_ctim));
}

uint16_t wasi_times_from_flags(uint64_t atim, uint64_t mtim, uint32_t flags, struct timespec *times)
{
    if ((flags & ~0xFu) != 0 || ((flags & WASI_FSTFLAG_ATIM) && (flags & WASI_FSTFLAG_ATIM_NOW)) ||
        ((flags & WASI_FSTFLAG_MTIM) && (flags & WASI_FSTFLAG_MTIM_NOW)))
        return WASI_EINVAL;
    const uint64_t values[2] = {atim, mtim};
    const uint32_t set[2] = {WASI_FSTFLAG_ATIM, WASI_FSTFLAG_MTIM};
    const uint32_t now[2] = {WASI_FSTFLAG_ATIM_NOW, WASI_FSTFLAG_MTIM_NOW};
    for (int i = 0; i < 2; i++) {
        times[i].tv_sec = 0;
        if (flags & now[i]) {
            times[i].tv_nsec = UTIME_NOW;
        } else if (flags & set[i]) {
            times[i].tv_sec = (time_t)(values[i] / 1000000000u);
            times[i].tv_nsec = (long)(values[i] % 1000000000u);
        } else {
            times[i].tv_nsec = UTIME_OMIT;
        }
    }
    return WASI_ESUCCESS;
}

static int host_result(int result)
{
    return result < 0 ? wasi_errno_from_host(errno) : WASI_ESUCCESS;
}

/* ---- simple calls -------------------------------------------------------- */

static int fd_advise(wasi_call *call)
{
    wasi_fd_entry *entry = fd_arg(call);
    if (entry == NULL) return WASI_EBADF;
    static const int advice[] = {POSIX_FADV_NORMAL,   POSIX_FADV_SEQUENTIAL, POSIX_FADV_RANDOM,
                                 POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED,   POSIX_FADV_NOREUSE};
    uint32_t which = wasi_arg_u32(call, 3);
    uint64_t offset = wasi_arg_u64(call, 1), length = wasi_arg_u64(call, 2);
    if (which >= 6 || offset > INT64_MAX || length > INT64_MAX) return WASI_EINVAL;
    if (entry->filetype == WASI_FILETYPE_DIRECTORY) return WASI_EBADF;
    int error = posix_fadvise(entry->handle->fd, (off_t)offset, (off_t)length, advice[which]);
    return wasi_errno_from_host(error);
}

static int fd_allocate(wasi_call *call)
{
    wasi_fd_entry *entry = fd_arg(call);
    if (entry == NULL) return WASI_EBADF;
    uint64_t offset = wasi_arg_u64(call, 1), length = wasi_arg_u64(call, 2);
    if (offset > INT64_MAX || length > INT64_MAX || length == 0) return WASI_EINVAL;
    if (entry->filetype == WASI_FILETYPE_DIRECTORY) return WASI_EBADF;
    return wasi_errno_from_host(posix_fallocate(entry->handle->fd, (off_t)offset, (off_t)length));
}

static int fd_close(wasi_call *call)
{
    wasi_fd_entry *entry = fd_arg(call);
    if (entry == NULL) return WASI_EBADF;
    wasi_fd_entry_clear(entry);
    return WASI_ESUCCESS;
}

static int fd_datasync(wasi_call *call)
{
    wasi_fd_entry *entry = fd_arg(call);
    if (entry == NULL) return WASI_EBADF;
    return host_result(fdatasync(entry->handle->fd));
}

static int fd_sync(wasi_call *call)
{
    wasi_fd_entry *entry = fd_arg(call);
    if (entry == NULL) return WASI_EBADF;
    return host_result(fsync(entry->handle->fd));
}

static uint16_t fdflags_of(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return 0;
    uint16_t result = 0;
    if (flags & O_APPEND) result |= WASI_FDFLAG_APPEND;
    if (flags & O_NONBLOCK) result |= WASI_FDFLAG_NONBLOCK;
    if ((flags & O_SYNC) == O_SYNC)
        result |= WASI_FDFLAG_SYNC;
    else if (flags & O_DSYNC)
        result |= WASI_FDFLAG_DSYNC;
    if ((flags & O_RSYNC) == O_RSYNC && (flags & O_SYNC) == O_SYNC) result |= WASI_FDFLAG_RSYNC;
    return result;
}

static int fd_fdstat_get(wasi_call *call)
{
    wasi_fd_entry *entry = fd_arg(call);
    uint32_t out = wasi_arg_u32(call, 1);
    if (entry == NULL) return WASI_EBADF;
    if (!wasi_memory_ok(call, out, WASI_FDSTAT_SIZE)) return WASI_EFAULT;
    uint8_t *record = wasi_memory_at(call, out);
    memset(record, 0, WASI_FDSTAT_SIZE);
    record[0] = entry->filetype;
    wasi_store_u16(record + 2, fdflags_of(entry->handle->fd));
    wasi_store_u64(record + 8, entry->rights_base);
    wasi_store_u64(record + 16, entry->rights_inheriting);
    return WASI_ESUCCESS;
}

/* Only APPEND and NONBLOCK can change, and only on a host fd this context
 * alone owns: flags live on the host's open file, so changing them on the
 * runtime's own stdio or a shared preopen would change them for everyone. */
static int fd_fdstat_set_flags(wasi_call *call)
{
    wasi_fd_entry *entry = fd_arg(call);
    uint32_t wanted = wasi_arg_u32(call, 1);
    if (entry == NULL) return WASI_EBADF;
    if (wanted == fdflags_of(entry->handle->fd)) return WASI_ESUCCESS;
    if ((wanted & ~(uint32_t)(WASI_FDFLAG_APPEND | WASI_FDFLAG_NONBLOCK)) != 0) return WASI_ENOTSUP;
    wasi_handle *handle = entry->handle;
    if (!handle->owned || atomic_load(&handle->references) > 1) return WASI_ENOTSUP;
    int flags = fcntl(handle->fd, F_GETFL);
    if (flags < 0) return wasi_errno_from_host(errno);
    flags &= ~(O_APPEND | O_NONBLOCK);
    if (wanted & WASI_FDFLAG_APPEND) flags |= O_APPEND;
    if (wanted & WASI_FDFLAG_NONBLOCK) flags |= O_NONBLOCK;
    return host_result(fcntl(handle->fd, F_SETFL, flags));
}

static int fd_fdstat_set_rights(wasi_call *call)
{
    wasi_fd_entry *entry = fd_arg(call);
    uint64_t base = wasi_arg_u64(call, 1), inheriting = wasi_arg_u64(call, 2);
    if (entry == NULL) return WASI_EBADF;
    if ((base & ~entry->rights_base) != 0 || (inheriting & ~entry->rights_inheriting) != 0)
        return WASI_ENOTCAPABLE;
    entry->rights_base = base;
    entry->rights_inheriting = inheriting;
    return WASI_ESUCCESS;
}

static int fd_filestat_get(wasi_call *call)
{
    wasi_fd_entry *entry = fd_arg(call);
    uint32_t out = wasi_arg_u32(call, 1);
    if (entry == NULL) return WASI_EBADF;
    if (!wasi_memory_ok(call, out, WASI_FILESTAT_SIZE)) return WASI_EFAULT;
    struct stat st;
    if (fstat(entry->handle->fd, &st) != 0) return wasi_errno_from_host(errno);
    wasi_store_filestat(wasi_memory_at(call, out), &st);
    return WASI_ESUCCESS;
}

static int fd_filestat_set_size(wasi_call *call)
{
    wasi_fd_entry *entry = fd_arg(call);
    uint64_t size = wasi_arg_u64(call, 1);
    if (entry == NULL) return WASI_EBADF;
    if (size > INT64_MAX) return WASI_EINVAL;
    return host_result(ftruncate(entry->handle->fd, (off_t)size));
}

static int fd_filestat_set_times(wasi_call *call)
{
    wasi_fd_entry *entry = fd_arg(call);
    if (entry == NULL) return WASI_EBADF;
    struct timespec times[2];
    uint16_t status = wasi_times_from_flags(wasi_arg_u64(call, 1), wasi_arg_u64(call, 2),
                                            wasi_arg_u32(call, 3), times);
    if (status != WASI_ESUCCESS) return status;
    return host_result(futimens(entry->handle->fd, times));
}

/* ---- reading and writing ------------------------------------------------- */

typedef enum transfer { READ, WRITE, PREAD, PWRITE } transfer;

/* fd_read, fd_write, fd_pread, fd_pwrite: (fd, iovs, iovs_len[, offset], count_ptr). */
static int transfer_data(wasi_call *call, transfer kind)
{
    wasi_fd_entry *entry = fd_arg(call);
    bool positioned = kind == PREAD || kind == PWRITE;
    uint32_t count_ptr = wasi_arg_u32(call, positioned ? 4 : 3);
    uint64_t offset = positioned ? wasi_arg_u64(call, 3) : 0;
    if (entry == NULL) return WASI_EBADF;
    bool reading = kind == READ || kind == PREAD;
    if (!(entry->rights_base & (reading ? WASI_RIGHT_FD_READ : WASI_RIGHT_FD_WRITE)))
        return WASI_EBADF;
    if (entry->filetype == WASI_FILETYPE_DIRECTORY) return WASI_EISDIR;
    if (offset > INT64_MAX) return WASI_EINVAL;
    if (!wasi_memory_ok(call, count_ptr, 4)) return WASI_EFAULT;
    struct iovec *iovs;
    int iov_count;
    uint16_t status =
        wasi_read_iovecs(call, wasi_arg_u32(call, 1), wasi_arg_u32(call, 2), &iovs, &iov_count);
    if (status != WASI_ESUCCESS) return status;
    int fd = entry->handle->fd;
    ssize_t done;
    do {
        switch (kind) {
        case READ: done = readv(fd, iovs, iov_count); break;
        case WRITE: done = writev(fd, iovs, iov_count); break;
        case PREAD: done = preadv(fd, iovs, iov_count, (off_t)offset); break;
        default: done = pwritev(fd, iovs, iov_count, (off_t)offset); break;
        }
    } while (done < 0 && errno == EINTR);
    int saved = errno;
    free(iovs);
    if (done < 0) return wasi_errno_from_host(saved);
    wasi_store_u32(wasi_memory_at(call, count_ptr), (uint32_t)done);
    return WASI_ESUCCESS;
}

static int fd_read(wasi_call *call)
{
    return transfer_data(call, READ);
}

static int fd_write(wasi_call *call)
{
    return transfer_data(call, WRITE);
}

static int fd_pread(wasi_call *call)
{
    return transfer_data(call, PREAD);
}

static int fd_pwrite(wasi_call *call)
{
    return transfer_data(call, PWRITE);
}

static int fd_seek(wasi_call *call)
{
    wasi_fd_entry *entry = fd_arg(call);
    int64_t offset = (int64_t)wasi_arg_u64(call, 1);
    uint32_t whence = wasi_arg_u32(call, 2), out = wasi_arg_u32(call, 3);
    if (entry == NULL) return WASI_EBADF;
    static const int host_whence[] = {SEEK_SET, SEEK_CUR, SEEK_END};
    if (whence > WASI_WHENCE_END) return WASI_EINVAL;
    if (entry->filetype == WASI_FILETYPE_DIRECTORY) return WASI_EBADF;
    if (!wasi_memory_ok(call, out, 8)) return WASI_EFAULT;
    off_t position = lseek(entry->handle->fd, (off_t)offset, host_whence[whence]);
    if (position < 0) return wasi_errno_from_host(errno);
    wasi_store_u64(wasi_memory_at(call, out), (uint64_t)position);
    return WASI_ESUCCESS;
}

static int fd_tell(wasi_call *call)
{
    wasi_fd_entry *entry = fd_arg(call);
    uint32_t out = wasi_arg_u32(call, 1);
    if (entry == NULL) return WASI_EBADF;
    if (entry->filetype == WASI_FILETYPE_DIRECTORY) return WASI_EBADF;
    if (!wasi_memory_ok(call, out, 8)) return WASI_EFAULT;
    off_t position = lseek(entry->handle->fd, 0, SEEK_CUR);
    if (position < 0) return wasi_errno_from_host(errno);
    wasi_store_u64(wasi_memory_at(call, out), (uint64_t)position);
    return WASI_ESUCCESS;
}

/* ---- preopens ------------------------------------------------------------ */

static int fd_prestat_get(wasi_call *call)
{
    wasi_fd_entry *entry = fd_arg(call);
    uint32_t out = wasi_arg_u32(call, 1);
    if (entry == NULL || entry->preopen_name == NULL) return WASI_EBADF;
    if (!wasi_memory_ok(call, out, WASI_PRESTAT_SIZE)) return WASI_EFAULT;
    uint8_t *record = wasi_memory_at(call, out);
    memset(record, 0, WASI_PRESTAT_SIZE);
    record[0] = WASI_PREOPEN_DIR;
    wasi_store_u32(record + 4, (uint32_t)strlen(entry->preopen_name));
    return WASI_ESUCCESS;
}

static int fd_prestat_dir_name(wasi_call *call)
{
    wasi_fd_entry *entry = fd_arg(call);
    uint32_t out = wasi_arg_u32(call, 1), length = wasi_arg_u32(call, 2);
    if (entry == NULL || entry->preopen_name == NULL) return WASI_EBADF;
    size_t name_length = strlen(entry->preopen_name);
    if (length < name_length) return WASI_ENAMETOOLONG;
    if (!wasi_memory_ok(call, out, name_length)) return WASI_EFAULT;
    memcpy(wasi_memory_at(call, out), entry->preopen_name, name_length);
    return WASI_ESUCCESS;
}

static int fd_renumber(wasi_call *call)
{
    uint32_t from = wasi_arg_u32(call, 0), to = wasi_arg_u32(call, 1);
    wasi_fd_entry *source = wasi_fd_get(call->ctx, from);
    wasi_fd_entry *target = wasi_fd_get(call->ctx, to);
    if (source == NULL || target == NULL) return WASI_EBADF;
    if (from == to) return WASI_ESUCCESS;
    wasi_fd_entry_clear(target);
    *target = *source;
    memset(source, 0, sizeof *source);
    return WASI_ESUCCESS;
}

/* ---- fd_readdir ---------------------------------------------------------- */

static uint8_t filetype_of_dirent(DIR *dir, const struct dirent *entry)
{
    switch (entry->d_type) {
    case DT_BLK: return WASI_FILETYPE_BLOCK_DEVICE;
    case DT_CHR: return WASI_FILETYPE_CHARACTER_DEVICE;
    case DT_DIR: return WASI_FILETYPE_DIRECTORY;
    case DT_REG: return WASI_FILETYPE_REGULAR_FILE;
    case DT_SOCK: return WASI_FILETYPE_SOCKET_STREAM;
    case DT_LNK: return WASI_FILETYPE_SYMBOLIC_LINK;
    case DT_UNKNOWN: {
        struct stat st;
        if (fstatat(dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            return WASI_FILETYPE_UNKNOWN;
        return wasi_filetype_from_mode(st.st_mode);
    }
    default: return WASI_FILETYPE_UNKNOWN;
    }
}

static uint16_t open_dir_stream(wasi_fd_entry *entry)
{
    if (entry->dir != NULL) return WASI_ESUCCESS;
    int fd = openat(entry->handle->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return wasi_errno_from_host(errno);
    entry->dir = fdopendir(fd);
    if (entry->dir == NULL) {
        int saved = errno;
        close(fd);
        return wasi_errno_from_host(saved);
    }
    return WASI_ESUCCESS;
}

/* Cookies are the directory stream's telldir positions (0: the start). An
 * entry that does not fit is cut off: a full buffer tells the guest to call
 * again from the last whole entry's cookie. */
static int fd_readdir(wasi_call *call)
{
    wasi_fd_entry *entry = fd_arg(call);
    uint32_t buffer = wasi_arg_u32(call, 1), length = wasi_arg_u32(call, 2);
    uint64_t cookie = wasi_arg_u64(call, 3);
    uint32_t used_ptr = wasi_arg_u32(call, 4);
    if (entry == NULL) return WASI_EBADF;
    if (entry->filetype != WASI_FILETYPE_DIRECTORY) return WASI_ENOTDIR;
    if (!wasi_memory_ok(call, buffer, length) || !wasi_memory_ok(call, used_ptr, 4))
        return WASI_EFAULT;
    if (cookie > (uint64_t)INT64_MAX) return WASI_EINVAL;
    uint16_t status = open_dir_stream(entry);
    if (status != WASI_ESUCCESS) return status;
    if (cookie == 0)
        rewinddir(entry->dir);
    else
        seekdir(entry->dir, (long)cookie);
    uint32_t used = 0;
    while (used < length) {
        errno = 0;
        struct dirent *host_entry = readdir(entry->dir);
        if (host_entry == NULL) {
            if (errno != 0 && used == 0) return wasi_errno_from_host(errno);
            break;
        }
        size_t name_length = strlen(host_entry->d_name);
        uint8_t header[WASI_DIRENT_SIZE] = {0};
        wasi_store_u64(header, (uint64_t)telldir(entry->dir));
        wasi_store_u64(header + 8, (uint64_t)host_entry->d_ino);
        wasi_store_u32(header + 16, (uint32_t)name_length);
        header[20] = filetype_of_dirent(entry->dir, host_entry);
        uint32_t room = length - used;
        uint32_t part = room < WASI_DIRENT_SIZE ? room : WASI_DIRENT_SIZE;
        memcpy(wasi_memory_at(call, buffer + used), header, part);
        used += part;
        room = length - used;
        part = room < name_length ? room : (uint32_t)name_length;
        memcpy(wasi_memory_at(call, buffer + used), host_entry->d_name, part);
        used += part;
    }
    wasi_store_u32(wasi_memory_at(call, used_ptr), used);
    return WASI_ESUCCESS;
}

const wasi_function_def wasi_fd_functions[] = {
    {"fd_advise", "i32 i64 i64 i32", "i32", fd_advise},
    {"fd_allocate", "i32 i64 i64", "i32", fd_allocate},
    {"fd_close", "i32", "i32", fd_close},
    {"fd_datasync", "i32", "i32", fd_datasync},
    {"fd_fdstat_get", "i32 i32", "i32", fd_fdstat_get},
    {"fd_fdstat_set_flags", "i32 i32", "i32", fd_fdstat_set_flags},
    {"fd_fdstat_set_rights", "i32 i64 i64", "i32", fd_fdstat_set_rights},
    {"fd_filestat_get", "i32 i32", "i32", fd_filestat_get},
    {"fd_filestat_set_size", "i32 i64", "i32", fd_filestat_set_size},
    {"fd_filestat_set_times", "i32 i64 i64 i32", "i32", fd_filestat_set_times},
    {"fd_pread", "i32 i32 i32 i64 i32", "i32", fd_pread},
    {"fd_prestat_get", "i32 i32", "i32", fd_prestat_get},
    {"fd_prestat_dir_name", "i32 i32 i32", "i32", fd_prestat_dir_name},
    {"fd_pwrite", "i32 i32 i32 i64 i32", "i32", fd_pwrite},
    {"fd_read", "i32 i32 i32 i32", "i32", fd_read},
    {"fd_readdir", "i32 i32 i32 i64 i32", "i32", fd_readdir},
    {"fd_renumber", "i32 i32", "i32", fd_renumber},
    {"fd_seek", "i32 i64 i32 i32", "i32", fd_seek},
    {"fd_sync", "i32", "i32", fd_sync},
    {"fd_tell", "i32 i32", "i32", fd_tell},
    {"fd_write", "i32 i32 i32 i32", "i32", fd_write},
    {NULL, NULL, NULL, NULL},
};
