/*
 * Real wasm32-wasi C programs (tests/wasi/guest) run by the engine against
 * the WASI host functions: printing, arguments and environment, stdin,
 * files and directories in a preopen, sandbox escapes, clocks (also through
 * the suspend path), random bytes, EFAULT, proc_exit and traps.
 */
#define _GNU_SOURCE
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

#include "lunatic/wasi.h"
#include "lunatic/wasm.h"

static lun_module *module;
static char root[64];
static char sandbox[96];

typedef struct run_result {
    lun_status status;
    char error[LUN_ERROR_MESSAGE_SIZE];
    bool exited;
    uint32_t exit_code;
    char out[4096];
    char err[1024];
    int suspensions;
} run_result;

/* ---- the suspend path: hooks of an embedder with timers ------------------ */

typedef struct fake_scheduler {
    lun_wasi_ctx *ctx;
    uint64_t timer; /* deadline registered by wait_until, 0: none */
    int waits;
    int yields;
} fake_scheduler;

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static lun_wasi_ctx *scheduler_context(void *hook_data, lun_instance *instance)
{
    return ((fake_scheduler *)hook_data)->ctx;
}

static bool scheduler_wait_until(void *hook_data, lun_wasi_ctx *ctx, lun_instance *instance,
                                 uint64_t deadline_ns)
{
    fake_scheduler *scheduler = hook_data;
    assert_ptr_equal(ctx, scheduler->ctx);
    scheduler->waits++;
    if (monotonic_ns() >= deadline_ns) return true;
    scheduler->timer = deadline_ns;
    return false;
}

static bool scheduler_yield(void *hook_data, lun_wasi_ctx *ctx, lun_instance *instance)
{
    fake_scheduler *scheduler = hook_data;
    scheduler->yields++;
    scheduler->timer = 0; /* runnable again at once */
    return true;
}

/* ---- running a guest ----------------------------------------------------- */

static void read_all(int fd, char *buffer, size_t size)
{
    lseek(fd, 0, SEEK_SET);
    ssize_t got = read(fd, buffer, size - 1);
    buffer[got > 0 ? got : 0] = '\0';
}

static int temp_fd(void)
{
    char name[] = "/tmp/lun-wasi-out-XXXXXX";
    int fd = mkstemp(name);
    assert_true(fd >= 0);
    unlink(name);
    return fd;
}

static lun_wasi_ctx *make_context(const char *scenario, const char *stdin_text, int out_fd,
                                  int err_fd)
{
    lun_wasi_ctx *ctx;
    lun_error error;
    assert_int_equal(lun_wasi_ctx_new(&ctx, &error), LUN_OK);
    assert_int_equal(lun_wasi_ctx_add_arg(ctx, "wasi_guest.wasm", NULL), LUN_OK);
    assert_int_equal(lun_wasi_ctx_add_arg(ctx, scenario, NULL), LUN_OK);
    assert_int_equal(lun_wasi_ctx_add_arg(ctx, "two words", NULL), LUN_OK);
    assert_int_equal(lun_wasi_ctx_add_env(ctx, "GREETING", "hi there", NULL), LUN_OK);
    assert_int_equal(lun_wasi_ctx_preopen_dir(ctx, "/sandbox", sandbox, &error), LUN_OK);
    assert_int_equal(lun_wasi_ctx_preopen_dir(ctx, ".", sandbox, &error), LUN_OK);
    assert_int_equal(lun_wasi_ctx_set_stdio(ctx, 1, out_fd, NULL), LUN_OK);
    assert_int_equal(lun_wasi_ctx_set_stdio(ctx, 2, err_fd, NULL), LUN_OK);
    if (stdin_text != NULL) {
        int pipe_fds[2];
        assert_int_equal(pipe(pipe_fds), 0);
        assert_int_equal(write(pipe_fds[1], stdin_text, strlen(stdin_text)),
                         (ssize_t)strlen(stdin_text));
        close(pipe_fds[1]);
        assert_int_equal(lun_wasi_ctx_set_stdio(ctx, 0, pipe_fds[0], NULL), LUN_OK);
        close(pipe_fds[0]);
    }
    return ctx;
}

/* Runs _start of the guest with argv = {name, scenario, "two words"}. With a
 * scheduler the run is sliced and suspensions wait for the fake timer. */
static void run_guest(const char *scenario, const char *stdin_text, fake_scheduler *scheduler,
                      run_result *result)
{
    memset(result, 0, sizeof *result);
    int out_fd = temp_fd(), err_fd = temp_fd();
    lun_wasi_ctx *ctx = make_context(scenario, stdin_text, out_fd, err_fd);
    lun_wasi_hooks hooks = {0};
    if (scheduler != NULL) {
        scheduler->ctx = ctx;
        hooks.context = scheduler_context;
        hooks.wait_until = scheduler_wait_until;
        hooks.yield = scheduler_yield;
        hooks.hook_data = scheduler;
    }
    lun_error error;
    lun_wasi_host *host;
    lun_imports *imports;
    assert_int_equal(lun_wasi_host_new(scheduler ? &hooks : NULL, &host, &error), LUN_OK);
    assert_int_equal(lun_imports_new(&imports, &error), LUN_OK);
    assert_int_equal(lun_wasi_add_imports(host, imports, &error), LUN_OK);
    lun_instance_config config = {.user_data = scheduler ? NULL : ctx};
    lun_instance *instance;
    lun_status status = lun_instantiate(module, imports, &config, &instance, &error);
    if (status != LUN_OK) fail_msg("instantiate: %s", error.message);

    if (scheduler == NULL) {
        size_t result_count;
        result->status =
            lun_instance_call(instance, "_start", NULL, 0, NULL, 0, &result_count, &error);
        if (result->status != LUN_OK)
            snprintf(result->error, sizeof result->error, "%s", error.message);
    } else {
        assert_int_equal(lun_instance_start(instance, "_start", NULL, 0, &error), LUN_OK);
        lun_run_state state;
        while ((state = lun_instance_run(instance, 100000)) != LUN_RUN_FINISHED &&
               state != LUN_RUN_TRAPPED) {
            if (state != LUN_RUN_SUSPENDED) continue;
            result->suspensions++;
            /* the timer fires: wait for it, then the process runs again */
            struct timespec pause = {0, 1000000};
            while (monotonic_ns() < scheduler->timer)
                nanosleep(&pause, NULL);
        }
        result->status = state == LUN_RUN_FINISHED ? LUN_OK : LUN_ERR_TRAP;
        if (state == LUN_RUN_TRAPPED)
            snprintf(result->error, sizeof result->error, "%s",
                     lun_instance_trap_message(instance));
    }
    result->exited = lun_wasi_ctx_exit_code(ctx, &result->exit_code);
    lun_instance_free(instance);
    lun_imports_free(imports);
    lun_wasi_host_free(host);
    lun_wasi_ctx_free(ctx);
    read_all(out_fd, result->out, sizeof result->out);
    read_all(err_fd, result->err, sizeof result->err);
    close(out_fd);
    close(err_fd);
}

static void assert_finished(const run_result *result)
{
    if (result->status != LUN_OK)
        fail_msg("guest failed: %s (%s); stdout: %s", lun_status_name(result->status),
                 result->error, result->out);
    assert_false(result->exited);
}

static void assert_contains(const char *text, const char *part)
{
    if (strstr(text, part) == NULL) fail_msg("expected \"%s\" in:\n%s", part, text);
}

/* ---- fixture ------------------------------------------------------------- */

static void make_file(const char *dir, const char *name, const char *contents)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(contents, f);
    fclose(f);
}

static int group_setup(void **state)
{
    FILE *f = fopen(LUN_WASI_GUEST, "rb");
    if (f == NULL) return -1;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *bytes = malloc((size_t)size);
    size_t got = fread(bytes, 1, (size_t)size, f);
    fclose(f);
    lun_error error;
    lun_status status = lun_module_decode(bytes, got, &module, &error);
    free(bytes);
    if (status != LUN_OK) {
        fprintf(stderr, "decoding %s: %s\n", LUN_WASI_GUEST, error.message);
        return -1;
    }
    strcpy(root, "/tmp/lun-wasi-prog-XXXXXX");
    if (mkdtemp(root) == NULL) return -1;
    snprintf(sandbox, sizeof sandbox, "%s/sandbox", root);
    char path[160];
    mkdir(sandbox, 0755);
    make_file(root, "outside.txt", "secret");
    make_file(sandbox, "inside.txt", "fine");
    snprintf(path, sizeof path, "%s/sub", sandbox);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/link_out", sandbox);
    if (symlink("..", path) != 0) return -1;
    snprintf(path, sizeof path, "%s/link_etc", sandbox);
    if (symlink("/etc", path) != 0) return -1;
    snprintf(path, sizeof path, "%s/dir", sandbox);
    mkdir(path, 0755);
    make_file(path, "alpha", "a");
    make_file(path, "beta", "b");
    snprintf(path, sizeof path, "%s/dir/gamma", sandbox);
    mkdir(path, 0755);
    return 0;
}

static int group_teardown(void **state)
{
    lun_module_free(module);
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", root);
    int ignored = system(command);
    (void)ignored;
    return 0;
}

/* ---- tests --------------------------------------------------------------- */

static void test_hello(void **state)
{
    run_result r;
    run_guest("hello", NULL, NULL, &r);
    assert_finished(&r);
    assert_string_equal(r.out, "hello from wasi\n");
    assert_string_equal(r.err, "to stderr\n");
}

static void test_args_and_env(void **state)
{
    run_result r;
    run_guest("args", NULL, NULL, &r);
    assert_finished(&r);
    assert_string_equal(r.out, "argc=3\n"
                               "argv[0]=wasi_guest.wasm\n"
                               "argv[1]=args\n"
                               "argv[2]=two words\n"
                               "GREETING=hi there\n"
                               "MISSING=(unset)\n");
}

static void test_stdin(void **state)
{
    run_result r;
    run_guest("stdin", "shout this", NULL, &r);
    assert_finished(&r);
    assert_string_equal(r.out, "stdin=SHOUT THIS\n");
}

static void test_files(void **state)
{
    run_result r;
    run_guest("files", NULL, NULL, &r);
    assert_finished(&r);
    assert_contains(r.out, "contents=HELLO world!\n");
    assert_contains(r.out, "files ok\n");
    char path[160];
    snprintf(path, sizeof path, "%s/made", sandbox);
    assert_int_equal(access(path, F_OK), -1); /* the guest cleaned up */
}

static void test_listdir(void **state)
{
    run_result r;
    run_guest("listdir", NULL, NULL, &r);
    assert_finished(&r);
    assert_string_equal(r.out, "entry alpha\nentry beta\nentry gamma\ncount=3\n");
}

static void test_escapes_refused(void **state)
{
    run_result r;
    run_guest("escape", NULL, NULL, &r);
    assert_finished(&r);
    assert_contains(r.out, "inside: opened\n");
    assert_contains(r.out, "dotdot: refused errno=ENOTCAPABLE\n");
    assert_contains(r.out, "deep-dotdot: refused errno=ENOTCAPABLE\n");
    assert_contains(r.out, "symlink: refused errno=ENOTCAPABLE\n");
    assert_contains(r.out, "abs-symlink: refused errno=ENOTCAPABLE\n");
    /* libc finds no preopen for /etc; the raw calls reach the host */
    assert_contains(r.out, "absolute: refused");
    assert_contains(r.out, "raw-absolute: errno=76\n");
    assert_contains(r.out, "raw-dotdot: errno=76\n");
    assert_null(strstr(r.out, "dotdot: opened"));
    assert_null(strstr(r.out, "absolute: opened"));
}

static void test_relative_paths(void **state)
{
    run_result r;
    run_guest("relative", NULL, NULL, &r);
    assert_finished(&r);
    assert_string_equal(r.out, "relative=fine\n"
                               "relative-dotdot: refused errno=ENOTCAPABLE\n");
}

static void test_clock_blocking(void **state)
{
    run_result r;
    run_guest("clock", NULL, NULL, &r);
    assert_finished(&r);
    assert_string_equal(r.out, "clock ok\n");
}

static void test_clock_suspends(void **state)
{
    fake_scheduler scheduler = {0};
    run_result r;
    run_guest("clock", NULL, &scheduler, &r);
    assert_finished(&r);
    assert_string_equal(r.out, "clock ok\n");
    assert_true(r.suspensions >= 1);
    assert_true(scheduler.waits >= 1);
}

static void test_yield_suspends(void **state)
{
    fake_scheduler scheduler = {0};
    run_result r;
    run_guest("yield", NULL, &scheduler, &r);
    assert_finished(&r);
    assert_string_equal(r.out, "yield ok\n");
    assert_int_equal(scheduler.yields, 3);
    assert_int_equal(r.suspensions, 3);
}

static void test_random(void **state)
{
    run_result r;
    run_guest("random", NULL, NULL, &r);
    assert_finished(&r);
    assert_string_equal(r.out, "random ok\n");
}

static void test_efault(void **state)
{
    run_result r;
    run_guest("efault", NULL, NULL, &r);
    assert_finished(&r);
    assert_string_equal(r.out, "efault-iovec: errno=21\n"
                               "efault-path: errno=21\n"
                               "efault-random: errno=21\n");
}

/* The guest imports all 46 functions: instantiation checked every
 * signature; each call on a closed fd answers EBADF (8). */
static void test_every_function_links(void **state)
{
    run_result r;
    run_guest("every-function", NULL, NULL, &r);
    assert_finished(&r);
    assert_string_equal(r.out, "args_sizes_get=0\n"
                               "args_get=0\n"
                               "environ_sizes_get=0\n"
                               "environ_get=0\n"
                               "clock_res_get=0\n"
                               "clock_time_get=0\n"
                               "fd_advise=8\n"
                               "fd_allocate=8\n"
                               "fd_close=8\n"
                               "fd_datasync=8\n"
                               "fd_fdstat_get=8\n"
                               "fd_fdstat_set_flags=8\n"
                               "fd_fdstat_set_rights=8\n"
                               "fd_filestat_get=8\n"
                               "fd_filestat_set_size=8\n"
                               "fd_filestat_set_times=8\n"
                               "fd_pread=8\n"
                               "fd_prestat_get=8\n"
                               "fd_prestat_dir_name=8\n"
                               "fd_pwrite=8\n"
                               "fd_read=8\n"
                               "fd_readdir=8\n"
                               "fd_renumber=8\n"
                               "fd_seek=8\n"
                               "fd_sync=8\n"
                               "fd_tell=8\n"
                               "fd_write=8\n"
                               "path_create_directory=8\n"
                               "path_filestat_get=8\n"
                               "path_filestat_set_times=8\n"
                               "path_link=8\n"
                               "path_open=8\n"
                               "path_readlink=8\n"
                               "path_remove_directory=8\n"
                               "path_rename=8\n"
                               "path_symlink=8\n"
                               "path_unlink_file=8\n"
                               "poll_oneoff=28\n"
                               "proc_raise=52\n"
                               "random_get=0\n"
                               "sched_yield=0\n"
                               "sock_accept=8\n"
                               "sock_recv=8\n"
                               "sock_send=8\n"
                               "sock_shutdown=8\n");
    /* every import of the guest is a WASI function */
    size_t imports = lun_module_import_count(module);
    size_t wasi_functions = 0;
    for (size_t i = 0; i < imports; i++) {
        const char *module_name, *field_name;
        lun_extern_kind kind;
        lun_module_import(module, i, &module_name, &field_name, &kind);
        if (strcmp(module_name, LUN_WASI_MODULE_NAME) == 0 && kind == LUN_EXTERN_FUNC)
            wasi_functions++;
    }
    assert_int_equal(wasi_functions, 46);
}

static void test_proc_exit(void **state)
{
    run_result r;
    run_guest("exit3", NULL, NULL, &r);
    assert_int_equal(r.status, LUN_ERR_TRAP);
    assert_true(r.exited);
    assert_int_equal(r.exit_code, 3);
    assert_contains(r.error, LUN_WASI_EXIT_MESSAGE_PREFIX "3)");
    assert_string_equal(r.out, "exiting with 3\n");
}

static void test_trap_is_not_exit(void **state)
{
    run_result r;
    run_guest("trap", NULL, NULL, &r);
    assert_int_equal(r.status, LUN_ERR_TRAP);
    assert_false(r.exited);
}

/* An instance whose user data is not a context traps on its first WASI call
 * instead of crashing. */
static void test_missing_context_traps(void **state)
{
    lun_error error;
    lun_wasi_host *host;
    lun_imports *imports;
    assert_int_equal(lun_wasi_host_new(NULL, &host, &error), LUN_OK);
    assert_int_equal(lun_imports_new(&imports, &error), LUN_OK);
    assert_int_equal(lun_wasi_add_imports(host, imports, &error), LUN_OK);
    lun_instance *instance;
    assert_int_equal(lun_instantiate(module, imports, NULL, &instance, &error), LUN_OK);
    size_t count;
    assert_int_equal(lun_instance_call(instance, "_start", NULL, 0, NULL, 0, &count, &error),
                     LUN_ERR_TRAP);
    assert_non_null(strstr(error.message, "no WASI context"));
    lun_instance_free(instance);
    lun_imports_free(imports);
    lun_wasi_host_free(host);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_args_and_env),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_listdir),
        cmocka_unit_test(test_escapes_refused),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_clock_blocking),
        cmocka_unit_test(test_clock_suspends),
        cmocka_unit_test(test_yield_suspends),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_efault),
        cmocka_unit_test(test_every_function_links),
        cmocka_unit_test(test_proc_exit),
        cmocka_unit_test(test_trap_is_not_exit),
        cmocka_unit_test(test_missing_context_traps),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
