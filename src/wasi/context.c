/*
 * The per-process WASI context: arguments, environment, the fd table with its
 * stdio and preopened directories, and the shared host handles behind them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* ---- handles ------------------------------------------------------------- */

wasi_handle *wasi_handle_new(int fd, bool owned)
{
    wasi_handle *handle = malloc(sizeof *handle);
    if (handle == NULL) return NULL;
    atomic_init(&handle->references, 1);
    handle->fd = fd;
    handle->owned = owned;
    return handle;
}

wasi_handle *wasi_handle_retain(wasi_handle *handle)
{
    atomic_fetch_add_explicit(&handle->references, 1, memory_order_relaxed);
    return handle;
}

void wasi_handle_release(wasi_handle *handle)
{
    if (handle == NULL) return;
    if (atomic_fetch_sub_explicit(&handle->references, 1, memory_order_acq_rel) != 1) return;
    if (handle->owned) close(handle->fd);
    free(handle);
}

/* ---- shared directories -------------------------------------------------- */

lun_status lun_wasi_dir_open(const char *host_path, lun_wasi_dir **dir, lun_error *error)
{
    if (host_path == NULL || dir == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null argument");
    int fd = open(host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return lun_error_set(error, LUN_ERR_IO, "cannot open directory %s: %s", host_path,
                             strerror(errno));
    lun_wasi_dir *result = malloc(sizeof *result);
    wasi_handle *handle = wasi_handle_new(fd, true);
    if (result == NULL || handle == NULL) {
        free(result);
        free(handle);
        close(fd);
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    }
    atomic_init(&result->references, 1);
    result->handle = handle;
    *dir = result;
    return LUN_OK;
}

lun_wasi_dir *lun_wasi_dir_retain(lun_wasi_dir *dir)
{
    if (dir != NULL) atomic_fetch_add_explicit(&dir->references, 1, memory_order_relaxed);
    return dir;
}

void lun_wasi_dir_free(lun_wasi_dir *dir)
{
    if (dir == NULL) return;
    if (atomic_fetch_sub_explicit(&dir->references, 1, memory_order_acq_rel) != 1) return;
    wasi_handle_release(dir->handle); /* fds opened from it keep their own references */
    free(dir);
}

/* ---- fd table ------------------------------------------------------------ */

uint8_t wasi_filetype_from_mode(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFBLK: return WASI_FILETYPE_BLOCK_DEVICE;
    case S_IFCHR: return WASI_FILETYPE_CHARACTER_DEVICE;
    case S_IFDIR: return WASI_FILETYPE_DIRECTORY;
    case S_IFREG: return WASI_FILETYPE_REGULAR_FILE;
    case S_IFSOCK: return WASI_FILETYPE_SOCKET_STREAM;
    case S_IFLNK: return WASI_FILETYPE_SYMBOLIC_LINK;
    default: return WASI_FILETYPE_UNKNOWN;
    }
}

wasi_fd_entry *wasi_fd_get(lun_wasi_ctx *ctx, uint32_t fd)
{
    if (fd >= ctx->fd_count || ctx->fds[fd].handle == NULL) return NULL;
    return &ctx->fds[fd];
}

void wasi_fd_entry_clear(wasi_fd_entry *entry)
{
    if (entry->dir != NULL) closedir(entry->dir);
    wasi_handle_release(entry->handle);
    free(entry->preopen_name);
    memset(entry, 0, sizeof *entry);
}

static uint16_t grow_fd_table(lun_wasi_ctx *ctx)
{
    if (ctx->fd_count >= LUN_WASI_MAX_FDS) return WASI_EMFILE;
    uint32_t count = ctx->fd_count < 8 ? 8 : ctx->fd_count * 2;
    if (count > LUN_WASI_MAX_FDS) count = LUN_WASI_MAX_FDS;
    wasi_fd_entry *fds = realloc(ctx->fds, count * sizeof *fds);
    if (fds == NULL) return WASI_ENOMEM;
    memset(fds + ctx->fd_count, 0, (count - ctx->fd_count) * sizeof *fds);
    ctx->fds = fds;
    ctx->fd_count = count;
    return WASI_ESUCCESS;
}

uint16_t wasi_fd_insert(lun_wasi_ctx *ctx, wasi_handle *handle, uint8_t filetype,
                        uint64_t rights_base, uint64_t rights_inheriting, uint32_t *fd)
{
    uint32_t index = 0;
    while (index < ctx->fd_count && ctx->fds[index].handle != NULL)
        index++;
    if (index == ctx->fd_count) {
        uint16_t status = grow_fd_table(ctx);
        if (status != WASI_ESUCCESS) {
            wasi_handle_release(handle);
            return status;
        }
    }
    wasi_fd_entry *entry = &ctx->fds[index];
    memset(entry, 0, sizeof *entry);
    entry->handle = handle;
    entry->filetype = filetype;
    entry->rights_base = rights_base;
    entry->rights_inheriting = rights_inheriting;
    *fd = index;
    return WASI_ESUCCESS;
}

/* Rights of an fd of this type: everything that makes sense for it. */
static uint64_t rights_for(uint8_t filetype)
{
    const uint64_t directory_only =
        WASI_RIGHT_PATH_CREATE_DIRECTORY | WASI_RIGHT_PATH_CREATE_FILE |
        WASI_RIGHT_PATH_LINK_SOURCE | WASI_RIGHT_PATH_LINK_TARGET | WASI_RIGHT_PATH_OPEN |
        WASI_RIGHT_FD_READDIR | WASI_RIGHT_PATH_READLINK | WASI_RIGHT_PATH_RENAME_SOURCE |
        WASI_RIGHT_PATH_RENAME_TARGET | WASI_RIGHT_PATH_FILESTAT_GET |
        WASI_RIGHT_PATH_FILESTAT_SET_SIZE | WASI_RIGHT_PATH_FILESTAT_SET_TIMES |
        WASI_RIGHT_PATH_SYMLINK | WASI_RIGHT_PATH_REMOVE_DIRECTORY | WASI_RIGHT_PATH_UNLINK_FILE;
    if (filetype == WASI_FILETYPE_DIRECTORY)
        return directory_only | WASI_RIGHT_FD_FDSTAT_SET_FLAGS | WASI_RIGHT_FD_SYNC |
               WASI_RIGHT_FD_ADVISE | WASI_RIGHT_FD_FILESTAT_GET |
               WASI_RIGHT_FD_FILESTAT_SET_TIMES | WASI_RIGHT_POLL_FD_READWRITE;
    uint64_t rights = WASI_RIGHTS_ALL & ~directory_only;
    if (filetype == WASI_FILETYPE_CHARACTER_DEVICE)
        rights &= ~(WASI_RIGHT_FD_SEEK | WASI_RIGHT_FD_TELL); /* how libc spots a tty */
    return rights;
}

static uint8_t filetype_of(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return WASI_FILETYPE_UNKNOWN;
    return wasi_filetype_from_mode(st.st_mode);
}

static lun_status set_stdio_handle(lun_wasi_ctx *ctx, uint32_t guest_fd, wasi_handle *handle)
{
    wasi_fd_entry *entry = &ctx->fds[guest_fd];
    wasi_fd_entry_clear(entry);
    entry->handle = handle;
    entry->filetype = filetype_of(handle->fd);
    entry->rights_base = rights_for(entry->filetype);
    entry->rights_inheriting = 0;
    return LUN_OK;
}

/* ---- contexts ------------------------------------------------------------ */

lun_status lun_wasi_ctx_new(lun_wasi_ctx **ctx, lun_error *error)
{
    if (ctx == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null argument");
    lun_wasi_ctx *result = calloc(1, sizeof *result);
    if (result == NULL || grow_fd_table(result) != WASI_ESUCCESS) {
        free(result);
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    }
    for (uint32_t fd = 0; fd < 3; fd++) {
        wasi_handle *handle = wasi_handle_new((int)fd, false);
        if (handle == NULL) {
            lun_wasi_ctx_free(result);
            return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
        }
        set_stdio_handle(result, fd, handle);
    }
    *ctx = result;
    return LUN_OK;
}

static void free_strings(char **strings, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(strings[i]);
    free(strings);
}

void lun_wasi_ctx_free(lun_wasi_ctx *ctx)
{
    if (ctx == NULL) return;
    for (uint32_t fd = 0; fd < ctx->fd_count; fd++)
        wasi_fd_entry_clear(&ctx->fds[fd]);
    free(ctx->fds);
    free_strings(ctx->args, ctx->arg_count);
    free_strings(ctx->env, ctx->env_count);
    free(ctx);
}

static lun_status append_string(char ***strings, size_t *count, char *string, lun_error *error)
{
    if (string == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    char **grown = realloc(*strings, (*count + 1) * sizeof *grown);
    if (grown == NULL) {
        free(string);
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    }
    grown[(*count)++] = string;
    *strings = grown;
    return LUN_OK;
}

lun_status lun_wasi_ctx_add_arg(lun_wasi_ctx *ctx, const char *arg, lun_error *error)
{
    if (ctx == NULL || arg == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null argument");
    return append_string(&ctx->args, &ctx->arg_count, strdup(arg), error);
}

lun_status lun_wasi_ctx_add_env(lun_wasi_ctx *ctx, const char *key, const char *value,
                                lun_error *error)
{
    if (ctx == NULL || key == NULL || value == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null argument");
    if (strchr(key, '=') != NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "'=' in variable name %s", key);
    size_t key_length = strlen(key), value_length = strlen(value);
    char *pair = malloc(key_length + value_length + 2);
    if (pair != NULL) {
        memcpy(pair, key, key_length);
        pair[key_length] = '=';
        memcpy(pair + key_length + 1, value, value_length + 1);
    }
    return append_string(&ctx->env, &ctx->env_count, pair, error);
}

lun_status lun_wasi_ctx_preopen(lun_wasi_ctx *ctx, const char *guest_name, lun_wasi_dir *dir,
                                lun_error *error)
{
    if (ctx == NULL || guest_name == NULL || dir == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null argument");
    char *name = strdup(guest_name);
    if (name == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    uint64_t rights = rights_for(WASI_FILETYPE_DIRECTORY);
    uint32_t fd;
    uint16_t status = wasi_fd_insert(ctx, wasi_handle_retain(dir->handle), WASI_FILETYPE_DIRECTORY,
                                     rights, WASI_RIGHTS_ALL, &fd);
    if (status != WASI_ESUCCESS) {
        free(name);
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "cannot add preopen %s: fd table full",
                             guest_name);
    }
    ctx->fds[fd].preopen_name = name;
    return LUN_OK;
}

lun_status lun_wasi_ctx_preopen_dir(lun_wasi_ctx *ctx, const char *guest_name,
                                    const char *host_path, lun_error *error)
{
    lun_wasi_dir *dir = NULL;
    lun_status status = lun_wasi_dir_open(host_path, &dir, error);
    if (status != LUN_OK) return status;
    status = lun_wasi_ctx_preopen(ctx, guest_name, dir, error);
    lun_wasi_dir_free(dir);
    return status;
}

lun_status lun_wasi_ctx_set_stdio(lun_wasi_ctx *ctx, uint32_t guest_fd, int host_fd,
                                  lun_error *error)
{
    if (ctx == NULL || guest_fd > 2)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "stdio fd must be 0, 1 or 2");
    int copy = fcntl(host_fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0)
        return lun_error_set(error, LUN_ERR_IO, "cannot duplicate fd %d: %s", host_fd,
                             strerror(errno));
    wasi_handle *handle = wasi_handle_new(copy, true);
    if (handle == NULL) {
        close(copy);
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory");
    }
    return set_stdio_handle(ctx, guest_fd, handle);
}

bool lun_wasi_ctx_exit_code(const lun_wasi_ctx *ctx, uint32_t *code)
{
    if (ctx == NULL || !ctx->exited) return false;
    if (code != NULL) *code = ctx->exit_code;
    return true;
}
