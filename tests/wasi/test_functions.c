/*
 * Every WASI function called directly, without the engine: a fake guest
 * memory, a context with redirected stdio and a preopened temporary
 * directory, and checks of results, memory layouts and errno codes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

enum { MEMORY_SIZE = 65536 };

typedef struct env {
    lun_wasi_ctx *ctx;
    lun_wasi_host host;
    uint8_t *memory;
    lun_memory *guest_memory;
    lun_host_call last;
    char root[64];
    int root_fd;
    /* hooks' records */
    int wait_calls;
    uint64_t wait_deadline;
    bool wait_passes;
    int yield_calls;
} env;

static const wasi_function_def *find(const char *name)
{
    const wasi_function_def *lists[] = {wasi_args_functions, wasi_clock_functions,
                                        wasi_fd_functions, wasi_path_functions,
                                        wasi_proc_functions};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        for (const wasi_function_def *def = lists[i]; def->name != NULL; def++)
            if (strcmp(def->name, name) == 0) return def;
    fail_msg("no WASI function %s", name);
    return NULL;
}

static int call_wasi(env *e, const char *name, const uint64_t *args, size_t count)
{
    const wasi_function_def *def = find(name);
    /* the signature declares exactly as many parameters as we pass */
    size_t params = 0;
    for (const char *p = def->params; *p != '\0'; p++)
        if (*p == 'i' || *p == 'f') params++;
    assert_int_equal(params, count);
    uint64_t results[1] = {0xdead};
    memset(&e->last, 0, sizeof e->last);
    e->last.args = args;
    e->last.results = results;
    wasi_call call = {.ctx = e->ctx,
                      .host = &e->host,
                      .host_call = &e->last,
                      .guest_memory = e->guest_memory,
                      .memory = e->memory};
    return def->function(&call);
}

#define CALL(e, name, ...)                                                                         \
    call_wasi((e), (name), (const uint64_t[]){__VA_ARGS__},                                        \
              sizeof((const uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t))
#define CALL0(e, name) call_wasi((e), (name), NULL, 0)

static uint32_t u32_at(env *e, uint32_t ptr)
{
    return wasi_load_u32(e->memory + ptr);
}

static uint64_t u64_at(env *e, uint32_t ptr)
{
    return wasi_load_u64(e->memory + ptr);
}

/* Puts a string in guest memory; returns its length. */
static uint32_t put_string(env *e, uint32_t ptr, const char *s)
{
    memcpy(e->memory + ptr, s, strlen(s));
    return (uint32_t)strlen(s);
}

static void put_iovec(env *e, uint32_t at, uint32_t buffer, uint32_t length)
{
    wasi_store_u32(e->memory + at, buffer);
    wasi_store_u32(e->memory + at + 4, length);
}

static int setup(void **state)
{
    env *e = calloc(1, sizeof *e);
    assert_int_equal(lun_memory_new(MEMORY_SIZE / 65536, 1, &e->guest_memory, NULL), LUN_OK);
    e->memory = lun_memory_data(e->guest_memory);
    strcpy(e->root, "/tmp/lun-wasi-fn-XXXXXX");
    if (mkdtemp(e->root) == NULL) return -1;
    e->root_fd = open(e->root, O_RDONLY | O_DIRECTORY);
    if (lun_wasi_ctx_new(&e->ctx, NULL) != LUN_OK) return -1;
    if (lun_wasi_ctx_preopen_dir(e->ctx, "/sandbox", e->root, NULL) != LUN_OK) return -1;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    lun_wasi_ctx_free(e->ctx);
    close(e->root_fd);
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", e->root);
    int ignored = system(command);
    (void)ignored;
    lun_memory_free(e->guest_memory);
    free(e);
    return 0;
}

/* Opens path below the preopen (fd 3) with every file right; returns the fd. */
static uint32_t open_file(env *e, const char *path, uint32_t oflags, uint32_t fdflags)
{
    uint32_t length = put_string(e, 2000, path);
    uint64_t rights = WASI_RIGHTS_ALL;
    assert_int_equal(
        CALL(e, "path_open", 3, 1, 2000, length, oflags, rights, rights, fdflags, 2500),
        WASI_ESUCCESS);
    return u32_at(e, 2500);
}

/* ---- arguments and environment ------------------------------------------- */

static void test_args_and_environ(void **state)
{
    env *e = *state;
    lun_wasi_ctx_add_arg(e->ctx, "prog", NULL);
    lun_wasi_ctx_add_arg(e->ctx, "hello world", NULL);
    lun_wasi_ctx_add_env(e->ctx, "A", "1", NULL);
    lun_wasi_ctx_add_env(e->ctx, "B", "two", NULL);
    assert_int_equal(lun_wasi_ctx_add_env(e->ctx, "C=D", "x", NULL), LUN_ERR_INVALID_ARGUMENT);

    assert_int_equal(CALL(e, "args_sizes_get", 100, 104), 0);
    assert_int_equal(u32_at(e, 100), 2);
    assert_int_equal(u32_at(e, 104), 5 + 12);
    assert_int_equal(CALL(e, "args_get", 200, 300), 0);
    assert_int_equal(u32_at(e, 200), 300);
    assert_int_equal(u32_at(e, 204), 305);
    assert_string_equal((char *)e->memory + 300, "prog");
    assert_string_equal((char *)e->memory + 305, "hello world");

    assert_int_equal(CALL(e, "environ_sizes_get", 100, 104), 0);
    assert_int_equal(u32_at(e, 100), 2);
    assert_int_equal(u32_at(e, 104), 4 + 6);
    assert_int_equal(CALL(e, "environ_get", 200, 400), 0);
    assert_string_equal((char *)e->memory + u32_at(e, 200), "A=1");
    assert_string_equal((char *)e->memory + u32_at(e, 204), "B=two");

    /* out-of-range pointers are EFAULT, never a crash */
    assert_int_equal(CALL(e, "args_get", MEMORY_SIZE - 4, 300), WASI_EFAULT);
    assert_int_equal(CALL(e, "args_get", 200, MEMORY_SIZE - 3), WASI_EFAULT);
    assert_int_equal(CALL(e, "args_sizes_get", 0xFFFFFFFF, 104), WASI_EFAULT);
    assert_int_equal(CALL(e, "environ_sizes_get", 100, MEMORY_SIZE - 2), WASI_EFAULT);
}

/* ---- stdio --------------------------------------------------------------- */

static void test_stdout_redirected(void **state)
{
    env *e = *state;
    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    assert_int_equal(lun_wasi_ctx_set_stdio(e->ctx, 1, pipe_fds[1], NULL), LUN_OK);
    close(pipe_fds[1]);
    put_string(e, 300, "hel");
    put_string(e, 400, "lo");
    put_iovec(e, 100, 300, 3);
    put_iovec(e, 108, 400, 2);
    assert_int_equal(CALL(e, "fd_write", 1, 100, 2, 200), 0);
    assert_int_equal(u32_at(e, 200), 5);

    /* a bad count pointer or iovec fails before anything is written */
    assert_int_equal(CALL(e, "fd_write", 1, 100, 2, MEMORY_SIZE), WASI_EFAULT);
    put_iovec(e, 116, MEMORY_SIZE - 1, 2);
    assert_int_equal(CALL(e, "fd_write", 1, 100, 3, 200), WASI_EFAULT);
    assert_int_equal(CALL(e, "fd_write", 1, MEMORY_SIZE - 8, 2, 200), WASI_EFAULT);
    assert_int_equal(CALL(e, "fd_write", 9, 100, 2, 200), WASI_EBADF);

    lun_wasi_ctx_set_stdio(e->ctx, 1, 2, NULL); /* drops our pipe end */
    char buffer[16] = {0};
    assert_int_equal(read(pipe_fds[0], buffer, sizeof buffer), 5);
    assert_string_equal(buffer, "hello");
    close(pipe_fds[0]);
}

static void test_stdin_redirected(void **state)
{
    env *e = *state;
    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    assert_int_equal(write(pipe_fds[1], "abc", 3), 3);
    close(pipe_fds[1]);
    assert_int_equal(lun_wasi_ctx_set_stdio(e->ctx, 0, pipe_fds[0], NULL), LUN_OK);
    close(pipe_fds[0]);
    put_iovec(e, 100, 300, 10);
    assert_int_equal(CALL(e, "fd_read", 0, 100, 1, 200), 0);
    assert_int_equal(u32_at(e, 200), 3);
    assert_memory_equal(e->memory + 300, "abc", 3);
    assert_int_equal(CALL(e, "fd_read", 0, 100, 1, 200), 0);
    assert_int_equal(u32_at(e, 200), 0); /* end of file */
    assert_int_equal(lun_wasi_ctx_set_stdio(e->ctx, 3, 0, NULL), LUN_ERR_INVALID_ARGUMENT);
}

static void test_no_memory_is_efault(void **state)
{
    env *e = *state;
    lun_memory *memory = e->guest_memory;
    uint8_t *bytes = e->memory;
    e->guest_memory = NULL;
    e->memory = NULL;
    assert_int_equal(CALL(e, "fd_write", 1, 0, 0, 0), WASI_EFAULT);
    assert_int_equal(CALL(e, "random_get", 0, 1), WASI_EFAULT);
    assert_int_equal(CALL(e, "random_get", 0, 0), WASI_EFAULT);
    e->guest_memory = memory;
    e->memory = bytes;
}

/* ---- files in a preopen -------------------------------------------------- */

static void test_prestat(void **state)
{
    env *e = *state;
    assert_int_equal(CALL(e, "fd_prestat_get", 3, 100), 0);
    assert_int_equal(e->memory[100], 0);
    assert_int_equal(u32_at(e, 104), 8);
    assert_int_equal(CALL(e, "fd_prestat_dir_name", 3, 200, 8), 0);
    assert_memory_equal(e->memory + 200, "/sandbox", 8);
    assert_int_equal(CALL(e, "fd_prestat_dir_name", 3, 200, 4), WASI_ENAMETOOLONG);
    assert_int_equal(CALL(e, "fd_prestat_dir_name", 3, MEMORY_SIZE - 2, 8), WASI_EFAULT);
    assert_int_equal(CALL(e, "fd_prestat_get", 4, 100), WASI_EBADF);
    assert_int_equal(CALL(e, "fd_prestat_get", 1, 100), WASI_EBADF);
    assert_int_equal(CALL(e, "fd_prestat_get", 3, MEMORY_SIZE - 4), WASI_EFAULT);
}

static void test_file_io(void **state)
{
    env *e = *state;
    uint32_t fd = open_file(e, "data.txt", WASI_OFLAG_CREAT | WASI_OFLAG_TRUNC, 0);
    assert_int_equal(fd, 4);
    put_string(e, 300, "hello world");
    put_iovec(e, 100, 300, 11);
    assert_int_equal(CALL(e, "fd_write", fd, 100, 1, 200), 0);
    assert_int_equal(u32_at(e, 200), 11);

    assert_int_equal(CALL(e, "fd_seek", fd, 6, WASI_WHENCE_SET, 208), 0);
    assert_int_equal(u64_at(e, 208), 6);
    put_iovec(e, 100, 400, 5);
    assert_int_equal(CALL(e, "fd_read", fd, 100, 1, 200), 0);
    assert_int_equal(u32_at(e, 200), 5);
    assert_memory_equal(e->memory + 400, "world", 5);
    assert_int_equal(CALL(e, "fd_tell", fd, 208), 0);
    assert_int_equal(u64_at(e, 208), 11);
    assert_int_equal(CALL(e, "fd_seek", fd, (uint64_t)-3, WASI_WHENCE_END, 208), 0);
    assert_int_equal(u64_at(e, 208), 8);
    assert_int_equal(CALL(e, "fd_seek", fd, 0, 3, 208), WASI_EINVAL);
    assert_int_equal(CALL(e, "fd_seek", fd, 0, 0, MEMORY_SIZE - 7), WASI_EFAULT);

    put_iovec(e, 100, 500, 5);
    assert_int_equal(CALL(e, "fd_pread", fd, 100, 1, 0, 200), 0);
    assert_memory_equal(e->memory + 500, "hello", 5);
    put_string(e, 600, "HELLO");
    put_iovec(e, 100, 600, 5);
    assert_int_equal(CALL(e, "fd_pwrite", fd, 100, 1, 0, 200), 0);
    assert_int_equal(u32_at(e, 200), 5);
    assert_int_equal(CALL(e, "fd_tell", fd, 208), 0);
    assert_int_equal(u64_at(e, 208), 8); /* pwrite leaves the position alone */

    assert_int_equal(CALL(e, "fd_filestat_get", fd, 1000), 0);
    assert_int_equal(e->memory[1000 + 16], WASI_FILETYPE_REGULAR_FILE);
    assert_int_equal(u64_at(e, 1000 + 32), 11);
    assert_int_equal(u64_at(e, 1000 + 24), 1); /* nlink */
    assert_int_equal(CALL(e, "fd_filestat_set_size", fd, 5), 0);
    assert_int_equal(CALL(e, "fd_filestat_get", fd, 1000), 0);
    assert_int_equal(u64_at(e, 1000 + 32), 5);
    assert_int_equal(CALL(e, "fd_filestat_get", fd, MEMORY_SIZE - 63), WASI_EFAULT);
    assert_int_equal(CALL(e, "fd_sync", fd), 0);
    assert_int_equal(CALL(e, "fd_datasync", fd), 0);
    assert_int_equal(CALL(e, "fd_advise", fd, 0, 0, 1), 0);
    assert_int_equal(CALL(e, "fd_advise", fd, 0, 0, 9), WASI_EINVAL);
    assert_int_equal(CALL(e, "fd_allocate", fd, 0, 100), 0);
    assert_int_equal(CALL(e, "fd_filestat_get", fd, 1000), 0);
    assert_int_equal(u64_at(e, 1000 + 32), 100);
    assert_int_equal(CALL(e, "fd_filestat_set_size", fd, 5), 0);
    assert_int_equal(CALL(e, "fd_filestat_set_times", fd, 0, 7000000000u, WASI_FSTFLAG_MTIM), 0);
    assert_int_equal(CALL(e, "fd_filestat_get", fd, 1000), 0);
    assert_int_equal(u64_at(e, 1000 + 48), 7000000000u);
    assert_int_equal(
        CALL(e, "fd_filestat_set_times", fd, 0, 0, WASI_FSTFLAG_MTIM | WASI_FSTFLAG_MTIM_NOW),
        WASI_EINVAL);

    assert_int_equal(CALL(e, "fd_close", fd), 0);
    assert_int_equal(CALL(e, "fd_close", fd), WASI_EBADF);
    assert_int_equal(CALL(e, "fd_read", fd, 100, 1, 200), WASI_EBADF);

    /* the host sees what the guest wrote */
    char buffer[16] = {0};
    int host_fd = openat(e->root_fd, "data.txt", O_RDONLY);
    assert_int_equal(read(host_fd, buffer, sizeof buffer), 5);
    close(host_fd);
    assert_string_equal(buffer, "HELLO");

    uint32_t length = put_string(e, 300, "data.txt");
    assert_int_equal(CALL(e, "path_filestat_get", 3, 0, 300, length, 1000), 0);
    assert_int_equal(u64_at(e, 1000 + 32), 5);
    assert_int_equal(CALL(e, "path_filestat_get", 3, 0, 300, length, MEMORY_SIZE - 8), WASI_EFAULT);
}

static void test_open_rights_and_flags(void **state)
{
    env *e = *state;
    /* read-only open: writing is refused */
    uint32_t length = put_string(e, 300, "ro.txt");
    assert_int_equal(CALL(e, "path_open", 3, 1, 300, length, WASI_OFLAG_CREAT,
                          WASI_RIGHT_FD_READ | WASI_RIGHT_FD_SEEK, 0, 0, 400),
                     0);
    uint32_t fd = u32_at(e, 400);
    put_iovec(e, 100, 300, 1);
    assert_int_equal(CALL(e, "fd_write", fd, 100, 1, 200), WASI_EBADF);
    assert_int_equal(CALL(e, "fd_fdstat_get", fd, 500), 0);
    assert_int_equal(e->memory[500], WASI_FILETYPE_REGULAR_FILE);
    assert_int_equal(u64_at(e, 508), WASI_RIGHT_FD_READ | WASI_RIGHT_FD_SEEK);
    assert_int_equal(CALL(e, "fd_fdstat_set_rights", fd, WASI_RIGHT_FD_READ, 0), 0);
    assert_int_equal(CALL(e, "fd_fdstat_set_rights", fd, WASI_RIGHT_FD_WRITE, 0), WASI_ENOTCAPABLE);

    /* O_EXCL on an existing file, O_DIRECTORY on a file */
    assert_int_equal(CALL(e, "path_open", 3, 1, 300, length, WASI_OFLAG_CREAT | WASI_OFLAG_EXCL,
                          WASI_RIGHTS_ALL, 0, 0, 400),
                     WASI_EEXIST);
    assert_int_equal(
        CALL(e, "path_open", 3, 1, 300, length, WASI_OFLAG_DIRECTORY, WASI_RIGHTS_ALL, 0, 0, 400),
        WASI_ENOTDIR);
    length = put_string(e, 300, "missing.txt");
    assert_int_equal(CALL(e, "path_open", 3, 1, 300, length, 0, WASI_RIGHTS_ALL, 0, 0, 400),
                     WASI_ENOENT);
    assert_int_equal(CALL(e, "path_open", 3, 1, 300, length, 0x10, WASI_RIGHTS_ALL, 0, 0, 400),
                     WASI_EINVAL);
    assert_int_equal(
        CALL(e, "path_open", 3, 1, 300, length, 0, WASI_RIGHTS_ALL, 0, 0, MEMORY_SIZE - 2),
        WASI_EFAULT);

    /* append mode, set through fd_fdstat_set_flags on a file we own */
    fd = open_file(e, "log.txt", WASI_OFLAG_CREAT, 0);
    assert_int_equal(CALL(e, "fd_fdstat_set_flags", fd, WASI_FDFLAG_APPEND), 0);
    assert_int_equal(CALL(e, "fd_fdstat_get", fd, 500), 0);
    assert_int_equal(wasi_load_u16(e->memory + 502), WASI_FDFLAG_APPEND);
    assert_int_equal(CALL(e, "fd_fdstat_set_flags", fd, WASI_FDFLAG_SYNC), WASI_ENOTSUP);
    /* the runtime's own stdout is shared: its flags stay as they are */
    assert_int_equal(CALL(e, "fd_fdstat_set_flags", 1, WASI_FDFLAG_NONBLOCK), WASI_ENOTSUP);

    /* the directory itself */
    assert_int_equal(CALL(e, "fd_fdstat_get", 3, 500), 0);
    assert_int_equal(e->memory[500], WASI_FILETYPE_DIRECTORY);
    assert_true(u64_at(e, 508) & WASI_RIGHT_PATH_OPEN);
    assert_int_equal(CALL(e, "fd_read", 3, 100, 1, 200), WASI_EBADF);
    assert_int_equal(CALL(e, "fd_seek", 3, 0, 0, 200), WASI_EBADF);
}

static void test_sandbox_escapes(void **state)
{
    env *e = *state;
    int outside = open("/tmp/lun-wasi-fn-outside", O_WRONLY | O_CREAT, 0644);
    close(outside);
    symlinkat("/tmp", e->root_fd, "tmp");
    const char *refused[] = {"../lun-wasi-fn-outside", "/tmp/lun-wasi-fn-outside",
                             "tmp/lun-wasi-fn-outside", "a/../../x"};
    mkdirat(e->root_fd, "a", 0755);
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        uint32_t length = put_string(e, 300, refused[i]);
        assert_int_equal(CALL(e, "path_open", 3, 1, 300, length, 0, WASI_RIGHTS_ALL, 0, 0, 400),
                         WASI_ENOTCAPABLE);
        assert_int_equal(CALL(e, "path_filestat_get", 3, 1, 300, length, 1000), WASI_ENOTCAPABLE);
        assert_int_equal(CALL(e, "path_unlink_file", 3, 300, length), WASI_ENOTCAPABLE);
    }
    unlink("/tmp/lun-wasi-fn-outside");

    assert_int_equal(CALL(e, "path_open", 3, 1, MEMORY_SIZE - 2, 4, 0, 0, 0, 0, 400), WASI_EFAULT);
    e->memory[300] = 0xff; /* not UTF-8 */
    assert_int_equal(CALL(e, "path_open", 3, 1, 300, 1, 0, 0, 0, 0, 400), WASI_EILSEQ);
    e->memory[300] = 0;
    assert_int_equal(CALL(e, "path_open", 3, 1, 300, 1, 0, 0, 0, 0, 400), WASI_EILSEQ);
    uint32_t length = put_string(e, 300, "x");
    assert_int_equal(CALL(e, "path_open", 1, 1, 300, length, 0, 0, 0, 0, 400), WASI_ENOTDIR);
    assert_int_equal(CALL(e, "path_open", 42, 1, 300, length, 0, 0, 0, 0, 400), WASI_EBADF);
}

/* ---- directories --------------------------------------------------------- */

typedef struct listed {
    char names[8][16];
    uint8_t types[8];
    uint64_t cookies[8];
    int count;
} listed;

static void parse_dirents(env *e, uint32_t buffer, uint32_t used, listed *out)
{
    uint32_t at = 0;
    out->count = 0;
    while (at + WASI_DIRENT_SIZE <= used && out->count < 8) {
        uint32_t name_length = u32_at(e, buffer + at + 16);
        if (at + WASI_DIRENT_SIZE + name_length > used) break;
        out->cookies[out->count] = u64_at(e, buffer + at);
        out->types[out->count] = e->memory[buffer + at + 20];
        snprintf(out->names[out->count], 16, "%.*s", (int)name_length,
                 (char *)e->memory + buffer + at + WASI_DIRENT_SIZE);
        out->count++;
        at += WASI_DIRENT_SIZE + name_length;
    }
}

static int find_name(const listed *l, const char *name)
{
    for (int i = 0; i < l->count; i++)
        if (strcmp(l->names[i], name) == 0) return i;
    return -1;
}

static void test_readdir(void **state)
{
    env *e = *state;
    close(openat(e->root_fd, "a", O_WRONLY | O_CREAT, 0644));
    close(openat(e->root_fd, "bb", O_WRONLY | O_CREAT, 0644));
    mkdirat(e->root_fd, "ccc", 0755);
    assert_int_equal(CALL(e, "fd_readdir", 3, 1000, 4096, 0, 100), 0);
    uint32_t used = u32_at(e, 100);
    assert_true(used < 4096);
    listed all;
    parse_dirents(e, 1000, used, &all);
    assert_int_equal(all.count, 5); /* ., .., a, bb, ccc */
    assert_int_equal(all.types[find_name(&all, "a")], WASI_FILETYPE_REGULAR_FILE);
    assert_int_equal(all.types[find_name(&all, "ccc")], WASI_FILETYPE_DIRECTORY);
    assert_true(find_name(&all, "bb") >= 0);
    assert_true(find_name(&all, ".") >= 0);

    /* a small buffer is filled completely, the last entry cut off */
    assert_int_equal(CALL(e, "fd_readdir", 3, 1000, 30, 0, 100), 0);
    assert_int_equal(u32_at(e, 100), 30);

    /* resuming from an entry's cookie gives the entries after it */
    assert_int_equal(CALL(e, "fd_readdir", 3, 1000, 4096, all.cookies[1], 100), 0);
    listed rest;
    parse_dirents(e, 1000, u32_at(e, 100), &rest);
    assert_int_equal(rest.count, 3);
    assert_string_equal(rest.names[0], all.names[2]);
    assert_string_equal(rest.names[2], all.names[4]);

    assert_int_equal(CALL(e, "fd_readdir", 3, MEMORY_SIZE - 10, 4096, 0, 100), WASI_EFAULT);
    assert_int_equal(CALL(e, "fd_readdir", 1, 1000, 100, 0, 100), WASI_ENOTDIR);
}

static void test_directories_and_links(void **state)
{
    env *e = *state;
    uint32_t length = put_string(e, 300, "d");
    assert_int_equal(CALL(e, "path_create_directory", 3, 300, length), 0);
    assert_int_equal(CALL(e, "path_create_directory", 3, 300, length), WASI_EEXIST);

    uint32_t contents = put_string(e, 400, "../f");
    length = put_string(e, 300, "d/link");
    assert_int_equal(CALL(e, "path_symlink", 400, contents, 3, 300, length), 0);
    assert_int_equal(CALL(e, "path_readlink", 3, 300, length, 500, 64, 100), 0);
    assert_int_equal(u32_at(e, 100), 4);
    assert_memory_equal(e->memory + 500, "../f", 4);
    assert_int_equal(CALL(e, "path_readlink", 3, 300, length, 500, 2, 100), 0);
    assert_int_equal(u32_at(e, 100), 2); /* truncated to the buffer */

    uint32_t fd = open_file(e, "f", WASI_OFLAG_CREAT, 0);
    put_string(e, 600, "xyz");
    put_iovec(e, 100, 600, 3);
    assert_int_equal(CALL(e, "fd_write", fd, 100, 1, 200), 0);
    /* reading through the symlink (inside the sandbox) works */
    uint32_t through = open_file(e, "d/link", 0, 0);
    put_iovec(e, 100, 700, 8);
    assert_int_equal(CALL(e, "fd_read", through, 100, 1, 200), 0);
    assert_int_equal(u32_at(e, 200), 3);
    assert_int_equal(CALL(e, "path_filestat_get", 3, 0, 300, length, 1000), 0);
    assert_int_equal(e->memory[1000 + 16], WASI_FILETYPE_SYMBOLIC_LINK);
    assert_int_equal(CALL(e, "path_filestat_get", 3, 1, 300, length, 1000), 0);
    assert_int_equal(e->memory[1000 + 16], WASI_FILETYPE_REGULAR_FILE);

    uint32_t old_length = put_string(e, 300, "d");
    uint32_t new_length = put_string(e, 400, "e");
    assert_int_equal(CALL(e, "path_rename", 3, 300, old_length, 3, 400, new_length), 0);
    assert_int_equal(CALL(e, "path_filestat_get", 3, 0, 400, new_length, 1000), 0);
    assert_int_equal(e->memory[1000 + 16], WASI_FILETYPE_DIRECTORY);

    old_length = put_string(e, 300, "f");
    new_length = put_string(e, 400, "g");
    assert_int_equal(CALL(e, "path_link", 3, 0, 300, old_length, 3, 400, new_length), 0);
    assert_int_equal(CALL(e, "path_filestat_get", 3, 0, 400, new_length, 1000), 0);
    assert_int_equal(u64_at(e, 1000 + 24), 2); /* two links */
    assert_int_equal(CALL(e, "path_unlink_file", 3, 400, new_length), 0);
    assert_int_equal(CALL(e, "path_unlink_file", 3, 400, new_length), WASI_ENOENT);

    assert_int_equal(CALL(e, "path_filestat_set_times", 3, 0, 300, old_length, 3000000000u, 0,
                          WASI_FSTFLAG_ATIM),
                     0);
    assert_int_equal(CALL(e, "path_filestat_get", 3, 0, 300, old_length, 1000), 0);
    assert_int_equal(u64_at(e, 1000 + 40), 3000000000u);

    length = put_string(e, 300, "e");
    assert_int_equal(CALL(e, "path_unlink_file", 3, 300, length), WASI_EISDIR);
    assert_int_equal(CALL(e, "path_remove_directory", 3, 300, length), WASI_ENOTEMPTY);
    length = put_string(e, 300, "e/link");
    assert_int_equal(CALL(e, "path_unlink_file", 3, 300, length), 0);
    length = put_string(e, 300, "e");
    assert_int_equal(CALL(e, "path_remove_directory", 3, 300, length), 0);
    assert_int_equal(CALL(e, "path_remove_directory", 3, 300, length), WASI_ENOENT);
}

static void test_renumber(void **state)
{
    env *e = *state;
    uint32_t first = open_file(e, "one", WASI_OFLAG_CREAT, 0);
    uint32_t second = open_file(e, "two", WASI_OFLAG_CREAT, 0);
    put_string(e, 600, "1");
    put_iovec(e, 100, 600, 1);
    assert_int_equal(CALL(e, "fd_write", first, 100, 1, 200), 0);
    assert_int_equal(CALL(e, "fd_renumber", first, second), 0);
    assert_int_equal(CALL(e, "fd_close", first), WASI_EBADF);
    assert_int_equal(CALL(e, "fd_filestat_get", second, 1000), 0);
    assert_int_equal(u64_at(e, 1000 + 32), 1); /* it is "one" now */
    assert_int_equal(CALL(e, "fd_renumber", second, 77), WASI_EBADF);
    /* the freed number is reused by the next open */
    assert_int_equal(open_file(e, "three", WASI_OFLAG_CREAT, 0), first);
}

/* ---- process, random, clocks --------------------------------------------- */

static void test_proc_exit(void **state)
{
    env *e = *state;
    uint32_t code = 99;
    assert_false(lun_wasi_ctx_exit_code(e->ctx, &code));
    assert_int_equal(CALL(e, "proc_exit", 3), WASI_RESULT_TRAP);
    assert_true(lun_wasi_ctx_exit_code(e->ctx, &code));
    assert_int_equal(code, 3);
    assert_string_equal(e->last.trap_message, "wasi proc_exit(3)");
    assert_int_equal(strncmp(e->last.trap_message, LUN_WASI_EXIT_MESSAGE_PREFIX,
                             strlen(LUN_WASI_EXIT_MESSAGE_PREFIX)),
                     0);
    assert_int_equal(CALL(e, "proc_raise", 9), WASI_ENOSYS);
}

static void test_random(void **state)
{
    env *e = *state;
    assert_int_equal(CALL(e, "random_get", 100, 64), 0);
    assert_int_equal(CALL(e, "random_get", 200, 64), 0);
    static const uint8_t zeros[64];
    assert_memory_not_equal(e->memory + 100, zeros, 64);
    assert_memory_not_equal(e->memory + 100, e->memory + 200, 64);
    assert_int_equal(CALL(e, "random_get", MEMORY_SIZE - 10, 11), WASI_EFAULT);
    assert_int_equal(CALL(e, "random_get", 0xFFFFFFFF, 2), WASI_EFAULT);
}

static void test_clocks(void **state)
{
    env *e = *state;
    assert_int_equal(CALL(e, "clock_time_get", WASI_CLOCK_MONOTONIC, 0, 100), 0);
    assert_int_equal(CALL(e, "clock_time_get", WASI_CLOCK_MONOTONIC, 0, 108), 0);
    assert_true(u64_at(e, 108) >= u64_at(e, 100));
    assert_int_equal(CALL(e, "clock_time_get", WASI_CLOCK_REALTIME, 1000, 100), 0);
    uint64_t year_2020 = UINT64_C(1577836800) * 1000000000u;
    assert_true(u64_at(e, 100) > year_2020);
    assert_int_equal(CALL(e, "clock_res_get", WASI_CLOCK_MONOTONIC, 100), 0);
    assert_true(u64_at(e, 100) > 0);
    assert_int_equal(CALL(e, "clock_time_get", WASI_CLOCK_PROCESS_CPUTIME, 0, 100), WASI_EBADF);
    assert_int_equal(CALL(e, "clock_time_get", 9, 0, 100), WASI_EINVAL);
    assert_int_equal(CALL(e, "clock_time_get", WASI_CLOCK_REALTIME, 0, MEMORY_SIZE - 4),
                     WASI_EFAULT);
    assert_int_equal(CALL(e, "clock_res_get", WASI_CLOCK_REALTIME, MEMORY_SIZE), WASI_EFAULT);
}

static void put_clock_subscription(env *e, uint32_t at, uint64_t userdata, uint32_t clock,
                                   uint64_t timeout, uint16_t flags)
{
    memset(e->memory + at, 0, WASI_SUBSCRIPTION_SIZE);
    wasi_store_u64(e->memory + at, userdata);
    e->memory[at + 8] = WASI_EVENT_CLOCK;
    wasi_store_u32(e->memory + at + 16, clock);
    wasi_store_u64(e->memory + at + 24, timeout);
    wasi_store_u16(e->memory + at + 40, flags);
}

static void put_fd_subscription(env *e, uint32_t at, uint64_t userdata, uint8_t type, uint32_t fd)
{
    memset(e->memory + at, 0, WASI_SUBSCRIPTION_SIZE);
    wasi_store_u64(e->memory + at, userdata);
    e->memory[at + 8] = type;
    wasi_store_u32(e->memory + at + 16, fd);
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void test_poll_sleeps_without_hooks(void **state)
{
    env *e = *state;
    put_clock_subscription(e, 1000, 42, WASI_CLOCK_MONOTONIC, 2000000, 0);
    uint64_t start = monotonic_ns();
    assert_int_equal(CALL(e, "poll_oneoff", 1000, 2000, 1, 100), 0);
    assert_true(monotonic_ns() - start >= 2000000);
    assert_int_equal(u32_at(e, 100), 1);
    assert_int_equal(u64_at(e, 2000), 42);
    assert_int_equal(wasi_load_u16(e->memory + 2008), 0);
    assert_int_equal(e->memory[2010], WASI_EVENT_CLOCK);

    assert_int_equal(CALL(e, "poll_oneoff", 1000, 2000, 0, 100), WASI_EINVAL);
    assert_int_equal(CALL(e, "poll_oneoff", MEMORY_SIZE - 40, 2000, 1, 100), WASI_EFAULT);
    assert_int_equal(CALL(e, "poll_oneoff", 1000, MEMORY_SIZE - 31, 1, 100), WASI_EFAULT);
    assert_int_equal(CALL(e, "poll_oneoff", 1000, 2000, 0x10000000, 100), WASI_EFAULT);

    /* an fd subscription that is ready wins over a long timeout; a bad fd
     * gives an error event */
    uint32_t fd = open_file(e, "ready", WASI_OFLAG_CREAT, 0);
    put_string(e, 600, "12345");
    put_iovec(e, 300, 600, 5);
    assert_int_equal(CALL(e, "fd_pwrite", fd, 300, 1, 0, 200), 0);
    put_clock_subscription(e, 1000, 1, WASI_CLOCK_MONOTONIC, UINT64_C(60000000000), 0);
    put_fd_subscription(e, 1048, 2, WASI_EVENT_FD_READ, fd);
    put_fd_subscription(e, 1096, 3, WASI_EVENT_FD_WRITE, 99);
    assert_int_equal(CALL(e, "poll_oneoff", 1000, 2000, 3, 100), 0);
    assert_int_equal(u32_at(e, 100), 2);
    assert_int_equal(u64_at(e, 2000), 2);
    assert_int_equal(e->memory[2010], WASI_EVENT_FD_READ);
    assert_int_equal(u64_at(e, 2016), 5); /* nbytes */
    assert_int_equal(u64_at(e, 2032), 3);
    assert_int_equal(wasi_load_u16(e->memory + 2040), WASI_EBADF);

    /* a pipe with data is readable */
    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    assert_int_equal(write(pipe_fds[1], "ab", 2), 2);
    lun_wasi_ctx_set_stdio(e->ctx, 0, pipe_fds[0], NULL);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    put_fd_subscription(e, 1000, 7, WASI_EVENT_FD_READ, 0);
    assert_int_equal(CALL(e, "poll_oneoff", 1000, 2000, 1, 100), 0);
    assert_int_equal(u32_at(e, 100), 1);
    assert_int_equal(u64_at(e, 2000), 7);
    assert_int_equal(u64_at(e, 2016), 2);
}

static bool fake_wait_until(void *hook_data, lun_wasi_ctx *ctx, lun_instance *instance,
                            uint64_t deadline_ns)
{
    env *e = hook_data;
    e->wait_calls++;
    e->wait_deadline = deadline_ns;
    return e->wait_passes;
}

static bool fake_yield(void *hook_data, lun_wasi_ctx *ctx, lun_instance *instance)
{
    env *e = hook_data;
    e->yield_calls++;
    return true;
}

static void test_poll_suspends_with_hook(void **state)
{
    env *e = *state;
    e->host.hooks.wait_until = fake_wait_until;
    e->host.hooks.hook_data = e;
    const uint64_t ten_seconds = UINT64_C(10000000000);
    uint64_t before = monotonic_ns();
    put_clock_subscription(e, 1000, 5, WASI_CLOCK_MONOTONIC, ten_seconds, 0);
    assert_int_equal(CALL(e, "poll_oneoff", 1000, 2000, 1, 100), WASI_RESULT_SUSPEND);
    uint64_t deadline = e->wait_deadline;
    assert_true(deadline >= before + ten_seconds);
    assert_true(deadline <= monotonic_ns() + ten_seconds);

    /* a retry keeps the deadline of the first attempt */
    struct timespec pause = {0, 2000000};
    nanosleep(&pause, NULL);
    assert_int_equal(CALL(e, "poll_oneoff", 1000, 2000, 1, 100), WASI_RESULT_SUSPEND);
    assert_int_equal(e->wait_deadline, deadline);
    assert_int_equal(e->wait_calls, 2);

    /* once the time has come the retry completes (a shorter timeout stands
     * in for ten seconds passing) */
    put_clock_subscription(e, 1000, 5, WASI_CLOCK_MONOTONIC, 1000000, 0);
    assert_int_equal(CALL(e, "poll_oneoff", 1000, 2000, 1, 100), 0);
    assert_int_equal(u32_at(e, 100), 1);
    assert_int_equal(u64_at(e, 2000), 5);
    assert_int_equal(e->wait_calls, 2);

    /* a fresh call counts from its own start again */
    put_clock_subscription(e, 1000, 5, WASI_CLOCK_MONOTONIC, ten_seconds, 0);
    assert_int_equal(CALL(e, "poll_oneoff", 1000, 2000, 1, 100), WASI_RESULT_SUSPEND);
    assert_true(e->wait_deadline > deadline);

    /* a hook may answer "passed" (its timer fired already): the call then
     * looks again instead of suspending, and completes at the deadline */
    put_clock_subscription(e, 1000, 8, WASI_CLOCK_MONOTONIC, 5000000, 0);
    e->ctx->poll_pending = false;
    e->wait_passes = true;
    e->wait_calls = 0;
    uint64_t start = monotonic_ns();
    assert_int_equal(CALL(e, "poll_oneoff", 1000, 2000, 1, 100), 0);
    assert_true(monotonic_ns() - start >= 5000000);
    assert_int_equal(u64_at(e, 2000), 8);

    /* an absolute realtime deadline in the past is ready at once */
    put_clock_subscription(e, 1000, 6, WASI_CLOCK_REALTIME, 1, WASI_SUBCLOCK_ABSTIME);
    e->wait_calls = 0;
    assert_int_equal(CALL(e, "poll_oneoff", 1000, 2000, 1, 100), 0);
    assert_int_equal(e->wait_calls, 0);
    assert_int_equal(u64_at(e, 2000), 6);
}

static void test_poll_fd_with_hook(void **state)
{
    env *e = *state;
    e->host.hooks.wait_until = fake_wait_until;
    e->host.hooks.hook_data = e;
    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    lun_wasi_ctx_set_stdio(e->ctx, 0, pipe_fds[0], NULL);
    close(pipe_fds[0]);
    put_fd_subscription(e, 1000, 11, WASI_EVENT_FD_READ, 0);
    /* nothing to read: suspend, asking to be woken for another look soon */
    uint64_t before = monotonic_ns();
    assert_int_equal(CALL(e, "poll_oneoff", 1000, 2000, 1, 100), WASI_RESULT_SUSPEND);
    assert_true(e->wait_deadline >= before + LUN_WASI_FD_POLL_INTERVAL_NS);
    assert_true(e->wait_deadline <= monotonic_ns() + LUN_WASI_FD_POLL_INTERVAL_NS);
    assert_int_equal(write(pipe_fds[1], "x", 1), 1);
    assert_int_equal(CALL(e, "poll_oneoff", 1000, 2000, 1, 100), 0);
    assert_int_equal(u32_at(e, 100), 1);
    assert_int_equal(u64_at(e, 2000), 11);
    assert_int_equal(u64_at(e, 2016), 1);
    /* the writer is gone: readable with a hang-up */
    put_iovec(e, 300, 400, 8);
    assert_int_equal(CALL(e, "fd_read", 0, 300, 1, 200), 0);
    close(pipe_fds[1]);
    assert_int_equal(CALL(e, "poll_oneoff", 1000, 2000, 1, 100), 0);
    assert_int_equal(wasi_load_u16(e->memory + 2024), WASI_EVENTRW_HANGUP);
}

static void test_sched_yield(void **state)
{
    env *e = *state;
    assert_int_equal(CALL0(e, "sched_yield"), 0);
    e->host.hooks.yield = fake_yield;
    e->host.hooks.hook_data = e;
    assert_int_equal(CALL0(e, "sched_yield"), WASI_RESULT_SUSPEND);
    assert_int_equal(CALL0(e, "sched_yield"), 0); /* the retry completes */
    assert_int_equal(e->yield_calls, 1);
    assert_int_equal(CALL0(e, "sched_yield"), WASI_RESULT_SUSPEND);
    assert_int_equal(e->yield_calls, 2);
}

static void test_sockets_unsupported(void **state)
{
    env *e = *state;
    assert_int_equal(CALL(e, "sock_accept", 1, 0, 100), WASI_ENOTSUP);
    assert_int_equal(CALL(e, "sock_recv", 0, 100, 1, 0, 200, 204), WASI_ENOTSUP);
    assert_int_equal(CALL(e, "sock_send", 1, 100, 1, 0, 200), WASI_ENOTSUP);
    assert_int_equal(CALL(e, "sock_shutdown", 3, 1), WASI_ENOTSUP);
    assert_int_equal(CALL(e, "sock_shutdown", 50, 1), WASI_EBADF);
}

static int open_fd_count(void)
{
    DIR *dir = opendir("/proc/self/fd");
    int count = 0;
    while (readdir(dir) != NULL)
        count++;
    closedir(dir);
    return count;
}

/* A context releases every host fd it holds; a shared directory outlives
 * the lun_wasi_dir handle while contexts still use it. */
static void test_contexts_release_everything(void **state)
{
    env *e = *state;
    int before = open_fd_count();
    lun_wasi_dir *dir;
    assert_int_equal(lun_wasi_dir_open(e->root, &dir, NULL), LUN_OK);
    assert_int_equal(lun_wasi_dir_open("/nonexistent/dir", &(lun_wasi_dir *){NULL}, NULL),
                     LUN_ERR_IO);
    lun_wasi_ctx *first, *second;
    assert_int_equal(lun_wasi_ctx_new(&first, NULL), LUN_OK);
    assert_int_equal(lun_wasi_ctx_new(&second, NULL), LUN_OK);
    assert_int_equal(lun_wasi_ctx_preopen(first, "/a", dir, NULL), LUN_OK);
    assert_int_equal(lun_wasi_ctx_preopen(second, "/b", dir, NULL), LUN_OK);
    assert_int_equal(lun_wasi_ctx_set_stdio(first, 1, 2, NULL), LUN_OK);
    lun_wasi_dir_free(dir); /* the contexts keep the directory open */

    lun_wasi_ctx *saved = e->ctx;
    e->ctx = first;
    uint32_t fd = open_file(e, "kept", WASI_OFLAG_CREAT, 0);
    assert_int_equal(fd, 4);
    assert_int_equal(CALL(e, "fd_readdir", 3, 1000, 4096, 0, 100), 0); /* opens a stream */
    assert_true(u32_at(e, 100) > 0);
    e->ctx = second;
    uint32_t length = put_string(e, 300, "kept");
    assert_int_equal(CALL(e, "path_filestat_get", 3, 0, 300, length, 1000), 0);
    e->ctx = saved;
    assert_true(open_fd_count() > before);
    lun_wasi_ctx_free(first);
    lun_wasi_ctx_free(second);
    assert_int_equal(open_fd_count(), before);
    lun_wasi_ctx_free(NULL);
    lun_wasi_dir_free(NULL);
}

/* A context for the random calls: fds 0-2 on an empty pipe and a file,
 * fd 3 the preopen "sandbox", fd 4 a file and fd 5 a directory in it. */
static lun_wasi_ctx *fuzz_context(env *e)
{
    lun_wasi_ctx *ctx;
    char path[128];
    snprintf(path, sizeof path, "%s/sandbox", e->root);
    assert_int_equal(lun_wasi_ctx_new(&ctx, NULL), LUN_OK);
    assert_int_equal(lun_wasi_ctx_preopen_dir(ctx, "sandbox", path, NULL), LUN_OK);
    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    close(pipe_fds[1]);
    lun_wasi_ctx_set_stdio(ctx, 0, pipe_fds[0], NULL); /* reads see end of file */
    close(pipe_fds[0]);
    int sink = openat(e->root_fd, "sink", O_WRONLY | O_CREAT, 0644);
    lun_wasi_ctx_set_stdio(ctx, 1, sink, NULL);
    lun_wasi_ctx_set_stdio(ctx, 2, sink, NULL);
    close(sink);
    lun_wasi_ctx *saved = e->ctx;
    e->ctx = ctx;
    uint32_t length = put_string(e, 100, "f");
    assert_int_equal(CALL(e, "path_open", 3, 1, 100, length, WASI_OFLAG_CREAT, WASI_RIGHTS_ALL,
                          WASI_RIGHTS_ALL, 0, 200),
                     0);
    put_string(e, 100, ".");
    assert_int_equal(CALL(e, "path_open", 3, 1, 100, 1, WASI_OFLAG_DIRECTORY, WASI_RIGHTS_ALL,
                          WASI_RIGHTS_ALL, 0, 200),
                     0);
    e->ctx = saved;
    return ctx;
}

static uint64_t fuzz_value(unsigned *seed, uint64_t memory_size, bool wide)
{
    uint32_t pick = (uint32_t)rand_r(seed);
    if (wide && pick % 9 == 0) return (UINT64_C(1) << 62) + pick; /* huge: fails at once */
    switch (pick % 6) {
    case 0: return pick % 8;                                        /* fds, flags */
    case 1: return memory_size - (pick % 80);                       /* near the end of memory */
    case 2: return pick % (uint32_t)memory_size;                    /* anywhere inside */
    case 3: return wide ? pick % 65536 : 0xFFFFFFFFu - (pick % 16); /* far outside */
    case 4: return pick % 64;
    default: return 3; /* the preopen */
    }
}

/* Random arguments for every function but poll_oneoff (whose random
 * timeouts would sleep): pointers around the end of memory, small fds,
 * memory full of path-like text. Nothing may crash or touch memory outside
 * the guest's (the sanitizer builds check that), results are errnos, and
 * nothing appears outside the preopened directory. */
static void test_random_calls_never_crash(void **state)
{
    env *e = *state;
    assert_int_equal(mkdirat(e->root_fd, "sandbox", 0755), 0);
    static const char alphabet[] = "ab./ab./ab./\xff";
    unsigned seed = 12345;
    const wasi_function_def *lists[] = {wasi_args_functions, wasi_clock_functions,
                                        wasi_fd_functions, wasi_path_functions,
                                        wasi_proc_functions};
    lun_wasi_ctx *saved = e->ctx;
    for (int round = 0; round < 400; round++) {
        e->ctx = fuzz_context(e);
        for (size_t i = 0; i < MEMORY_SIZE; i++)
            e->memory[i] = (uint8_t)alphabet[rand_r(&seed) % (sizeof alphabet - 1)];
        for (int repeat = 0; repeat < 3; repeat++) {
            for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
                for (const wasi_function_def *def = lists[l]; def->name != NULL; def++) {
                    if (strcmp(def->name, "poll_oneoff") == 0) continue;
                    uint64_t args[9];
                    size_t count = 0;
                    for (const char *p = def->params; *p != '\0'; p++) {
                        if (*p != 'i') continue;
                        bool wide = p[1] == '6';
                        uint64_t value = fuzz_value(&seed, MEMORY_SIZE, wide);
                        if (count == 0 && rand_r(&seed) % 4 != 0) value = 3 + rand_r(&seed) % 3;
                        args[count++] = wide ? value : (uint32_t)value;
                        p += 2;
                    }
                    int result = call_wasi(e, def->name, args, count);
                    if (strcmp(def->name, "proc_exit") == 0)
                        assert_int_equal(result, WASI_RESULT_TRAP);
                    else if (result < 0 || result > WASI_ENOTCAPABLE)
                        fail_msg("%s returned %d", def->name, result);
                }
            }
        }
        lun_wasi_ctx_free(e->ctx);
    }
    e->ctx = saved;
    /* the root holds what the test made there and nothing the guest made */
    DIR *dir = fdopendir(dup(e->root_fd));
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        const char *name = entry->d_name;
        if (strcmp(name, ".") && strcmp(name, "..") && strcmp(name, "sandbox") &&
            strcmp(name, "sink"))
            fail_msg("the guest escaped: %s/%s exists", e->root, name);
    }
    closedir(dir);
}

static void test_every_function_is_listed(void **state)
{
    static const char *names[] = {"args_get",
                                  "args_sizes_get",
                                  "environ_get",
                                  "environ_sizes_get",
                                  "clock_res_get",
                                  "clock_time_get",
                                  "fd_advise",
                                  "fd_allocate",
                                  "fd_close",
                                  "fd_datasync",
                                  "fd_fdstat_get",
                                  "fd_fdstat_set_flags",
                                  "fd_fdstat_set_rights",
                                  "fd_filestat_get",
                                  "fd_filestat_set_size",
                                  "fd_filestat_set_times",
                                  "fd_pread",
                                  "fd_prestat_get",
                                  "fd_prestat_dir_name",
                                  "fd_pwrite",
                                  "fd_read",
                                  "fd_readdir",
                                  "fd_renumber",
                                  "fd_seek",
                                  "fd_sync",
                                  "fd_tell",
                                  "fd_write",
                                  "path_create_directory",
                                  "path_filestat_get",
                                  "path_filestat_set_times",
                                  "path_link",
                                  "path_open",
                                  "path_readlink",
                                  "path_remove_directory",
                                  "path_rename",
                                  "path_symlink",
                                  "path_unlink_file",
                                  "poll_oneoff",
                                  "proc_exit",
                                  "proc_raise",
                                  "random_get",
                                  "sched_yield",
                                  "sock_accept",
                                  "sock_recv",
                                  "sock_send",
                                  "sock_shutdown"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_non_null(find(names[i]));
}

int main(void)
{
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_args_and_environ),
        TEST(test_stdout_redirected),
        TEST(test_stdin_redirected),
        TEST(test_no_memory_is_efault),
        TEST(test_prestat),
        TEST(test_file_io),
        TEST(test_open_rights_and_flags),
        TEST(test_sandbox_escapes),
        TEST(test_readdir),
        TEST(test_directories_and_links),
        TEST(test_renumber),
        TEST(test_proc_exit),
        TEST(test_random),
        TEST(test_clocks),
        TEST(test_poll_sleeps_without_hooks),
        TEST(test_poll_suspends_with_hook),
        TEST(test_poll_fd_with_hook),
        TEST(test_sched_yield),
        TEST(test_sockets_unsupported),
        TEST(test_contexts_release_everything),
        TEST(test_random_calls_never_crash),
        TEST(test_every_function_is_listed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
