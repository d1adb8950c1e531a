/*
 * The sandbox: resolves a guest path below a preopened directory one
 * component at a time, so that nothing outside the directory can be reached.
 *
 * Every directory entered is opened with O_PATH | O_NOFOLLOW, so a component
 * is never followed by the kernel. Symbolic links are read with readlinkat
 * and their (relative) target is spliced into the rest of the path; ".." is
 * taken by closing the directory entered last, never by asking the kernel
 * for "..", so renaming directories under our feet cannot lift the walk out
 * of the preopen. The caller then acts on (dir_fd, name) with *at calls that
 * do not follow a final symlink.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

enum { MAX_SYMLINKS = 40, MAX_WORK_LENGTH = 4 * PATH_MAX };

typedef struct walk {
    int base_fd;
    int stack[LUN_WASI_MAX_PATH_DEPTH];
    int depth;
    char *work; /* the path still to resolve (symlink targets get spliced in) */
    unsigned links;
} walk;

static int walk_top(const walk *w)
{
    return w->depth > 0 ? w->stack[w->depth - 1] : w->base_fd;
}

static void walk_close_all(walk *w)
{
    while (w->depth > 0)
        close(w->stack[--w->depth]);
}

/* Replaces w->work by target followed by w->work[rest..]. Returns -1 when
 * (dir_fd, name) is not a symlink, else a WASI errno (0: spliced). */
static int splice_symlink(walk *w, int dir_fd, const char *name, size_t rest)
{
    char target[PATH_MAX];
    ssize_t length = readlinkat(dir_fd, name, target, sizeof target);
    if (length < 0) return errno == EINVAL || errno == ENOENT ? -1 : wasi_errno_from_host(errno);
    if ((size_t)length == sizeof target) return WASI_ENAMETOOLONG;
    if (++w->links > MAX_SYMLINKS) return WASI_ELOOP;
    if (length == 0) return WASI_ENOENT;
    if (target[0] == '/') return WASI_ENOTCAPABLE;
    size_t rest_length = strlen(w->work + rest);
    if ((size_t)length + rest_length > MAX_WORK_LENGTH) return WASI_ENAMETOOLONG;
    char *work = malloc((size_t)length + rest_length + 1);
    if (work == NULL) return WASI_ENOMEM;
    memcpy(work, target, (size_t)length);
    memcpy(work + length, w->work + rest, rest_length + 1);
    free(w->work);
    w->work = work;
    return WASI_ESUCCESS;
}

/* Enters the directory name (not the last component). */
static int enter_directory(walk *w, const char *name, size_t rest)
{
    int fd = openat(walk_top(w), name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        if (w->depth == LUN_WASI_MAX_PATH_DEPTH) {
            close(fd);
            return WASI_ENAMETOOLONG;
        }
        w->stack[w->depth++] = fd;
        return WASI_ESUCCESS;
    }
    int saved = errno;
    if (saved == ENOTDIR || saved == ELOOP) {
        int spliced = splice_symlink(w, walk_top(w), name, rest);
        if (spliced >= 0) return spliced == WASI_ESUCCESS ? -1 : spliced;
    }
    return wasi_errno_from_host(saved);
}

static uint16_t finish(walk *w, const char *name, bool trailing_slash, wasi_resolved *out)
{
    out->name = strdup(name);
    if (out->name == NULL) return WASI_ENOMEM;
    out->dir_fd = walk_top(w);
    out->dir_fd_owned = w->depth > 0;
    out->trailing_slash = trailing_slash;
    if (w->depth > 0) w->depth--; /* the top now belongs to out */
    walk_close_all(w);
    return WASI_ESUCCESS;
}

static uint16_t resolve(walk *w, bool follow_last, wasi_resolved *out)
{
    char name[NAME_MAX + 1];
    size_t pos = 0;
    for (;;) {
        while (w->work[pos] == '/')
            pos++;
        size_t start = pos, end = pos;
        while (w->work[end] != '\0' && w->work[end] != '/')
            end++;
        size_t next = end;
        while (w->work[next] == '/')
            next++;
        bool last = w->work[next] == '\0';
        bool trailing = last && next != end;
        size_t length = end - start;

        if (length == 0 || (length == 1 && w->work[start] == '.')) {
            if (last) return finish(w, ".", trailing, out);
            pos = next;
            continue;
        }
        if (length == 2 && w->work[start] == '.' && w->work[start + 1] == '.') {
            if (w->depth == 0) return WASI_ENOTCAPABLE;
            close(w->stack[--w->depth]);
            if (last) return finish(w, ".", trailing, out);
            pos = next;
            continue;
        }
        if (length > NAME_MAX) return WASI_ENAMETOOLONG;
        memcpy(name, w->work + start, length);
        name[length] = '\0';

        if (!last) {
            int status = enter_directory(w, name, end);
            if (status == -1) { /* a symlink was spliced in: start over on the new text */
                pos = 0;
                continue;
            }
            if (status != WASI_ESUCCESS) return (uint16_t)status;
            pos = next;
            continue;
        }
        if (follow_last) {
            int spliced = splice_symlink(w, walk_top(w), name, end);
            if (spliced == WASI_ESUCCESS) {
                pos = 0;
                continue;
            }
            if (spliced > 0) return (uint16_t)spliced;
        }
        return finish(w, name, trailing, out);
    }
}

uint16_t wasi_path_resolve(int base_fd, const char *path, bool follow_last, wasi_resolved *out)
{
    memset(out, 0, sizeof *out);
    out->dir_fd = -1;
    if (path[0] == '\0') return WASI_ENOENT;
    if (path[0] == '/') return WASI_ENOTCAPABLE;
    walk w = {.base_fd = base_fd, .depth = 0, .work = strdup(path), .links = 0};
    if (w.work == NULL) return WASI_ENOMEM;
    uint16_t status = resolve(&w, follow_last, out);
    walk_close_all(&w);
    free(w.work);
    return status;
}

void wasi_resolved_release(wasi_resolved *resolved)
{
    if (resolved->dir_fd_owned) close(resolved->dir_fd);
    free(resolved->name);
    memset(resolved, 0, sizeof *resolved);
    resolved->dir_fd = -1;
}
