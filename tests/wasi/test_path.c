/*
 * Unit tests of the WASI sandbox alone: wasi_path_resolve on a real
 * directory tree with symlinks that stay inside and ones that lead out.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

typedef struct fixture {
    char root[64];
    int base_fd; /* root/sandbox */
} fixture;

static void make_file(int dir_fd, const char *name, const char *contents)
{
    int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, contents, strlen(contents)), (ssize_t)strlen(contents));
    close(fd);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    strcpy(f->root, "/tmp/lun-wasi-path-XXXXXX");
    if (mkdtemp(f->root) == NULL) return -1;
    int root_fd = open(f->root, O_RDONLY | O_DIRECTORY);
    make_file(root_fd, "outside.txt", "secret");
    mkdirat(root_fd, "sandbox", 0755);
    f->base_fd = openat(root_fd, "sandbox", O_RDONLY | O_DIRECTORY);
    close(root_fd);
    int b = f->base_fd;
    make_file(b, "file.txt", "inside");
    mkdirat(b, "sub", 0755);
    int sub = openat(b, "sub", O_RDONLY | O_DIRECTORY);
    make_file(sub, "inner.txt", "inner");
    symlinkat("..", sub, "up");
    symlinkat("../..", sub, "escape");
    close(sub);
    symlinkat("/etc", b, "abs");
    symlinkat("../outside.txt", b, "out");
    symlinkat("loop", b, "loop");
    symlinkat("sub", b, "linkdir");
    symlinkat("file.txt", b, "filelink");
    symlinkat("sub/up/sub/inner.txt", b, "winding");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    close(f->base_fd);
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", f->root);
    int ignored = system(command);
    (void)ignored;
    free(f);
    return 0;
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

/* Resolves and checks that (dir_fd, name) names a file with these contents. */
static void assert_reaches(fixture *f, const char *path, bool follow, const char *contents)
{
    wasi_resolved r;
    assert_int_equal(wasi_path_resolve(f->base_fd, path, follow, &r), WASI_ESUCCESS);
    int fd = openat(r.dir_fd, r.name, O_RDONLY | O_NOFOLLOW);
    assert_true(fd >= 0);
    char buffer[32] = {0};
    assert_true(read(fd, buffer, sizeof buffer - 1) >= 0);
    close(fd);
    assert_string_equal(buffer, contents);
    wasi_resolved_release(&r);
}

static void assert_refused(fixture *f, const char *path, bool follow, uint16_t expected)
{
    wasi_resolved r;
    assert_int_equal(wasi_path_resolve(f->base_fd, path, follow, &r), expected);
    assert_int_equal(r.dir_fd, -1);
    assert_null(r.name);
}

static void test_plain_paths(void **state)
{
    fixture *f = *state;
    int before = open_fd_count();
    assert_reaches(f, "file.txt", false, "inside");
    assert_reaches(f, "sub/inner.txt", false, "inner");
    assert_reaches(f, "./sub//inner.txt", false, "inner");
    assert_reaches(f, "sub/../file.txt", false, "inside");
    assert_int_equal(open_fd_count(), before);
}

static void test_base_is_not_owned(void **state)
{
    fixture *f = *state;
    wasi_resolved r;
    assert_int_equal(wasi_path_resolve(f->base_fd, "file.txt", false, &r), WASI_ESUCCESS);
    assert_int_equal(r.dir_fd, f->base_fd);
    assert_false(r.dir_fd_owned);
    wasi_resolved_release(&r);
    assert_true(fcntl(f->base_fd, F_GETFD) >= 0); /* still open */

    assert_int_equal(wasi_path_resolve(f->base_fd, "sub/..", false, &r), WASI_ESUCCESS);
    assert_int_equal(r.dir_fd, f->base_fd);
    assert_string_equal(r.name, ".");
    wasi_resolved_release(&r);

    assert_int_equal(wasi_path_resolve(f->base_fd, ".", false, &r), WASI_ESUCCESS);
    assert_string_equal(r.name, ".");
    wasi_resolved_release(&r);
}

static void test_trailing_slash(void **state)
{
    fixture *f = *state;
    wasi_resolved r;
    assert_int_equal(wasi_path_resolve(f->base_fd, "sub/", false, &r), WASI_ESUCCESS);
    assert_string_equal(r.name, "sub");
    assert_true(r.trailing_slash);
    wasi_resolved_release(&r);
}

static void test_escapes_are_refused(void **state)
{
    fixture *f = *state;
    int before = open_fd_count();
    assert_refused(f, "../outside.txt", false, WASI_ENOTCAPABLE);
    assert_refused(f, "sub/../../outside.txt", false, WASI_ENOTCAPABLE);
    assert_refused(f, "..", false, WASI_ENOTCAPABLE);
    assert_refused(f, "/etc/passwd", false, WASI_ENOTCAPABLE);
    assert_refused(f, "/", true, WASI_ENOTCAPABLE);
    assert_refused(f, "abs/passwd", false, WASI_ENOTCAPABLE);
    assert_refused(f, "abs", true, WASI_ENOTCAPABLE);
    assert_refused(f, "out", true, WASI_ENOTCAPABLE);
    assert_refused(f, "sub/escape/outside.txt", false, WASI_ENOTCAPABLE);
    assert_refused(f, "sub/escape", true, WASI_ENOTCAPABLE);
    assert_int_equal(open_fd_count(), before);
}

static void test_links_inside_are_followed(void **state)
{
    fixture *f = *state;
    assert_reaches(f, "linkdir/inner.txt", false, "inner");
    assert_reaches(f, "sub/up/file.txt", false, "inside");
    assert_reaches(f, "filelink", true, "inside");
    assert_reaches(f, "winding", true, "inner");
}

static void test_last_link_not_followed(void **state)
{
    fixture *f = *state;
    wasi_resolved r;
    /* Without follow the link itself is named; acting on it with O_NOFOLLOW
     * cannot leave the sandbox. */
    assert_int_equal(wasi_path_resolve(f->base_fd, "out", false, &r), WASI_ESUCCESS);
    assert_string_equal(r.name, "out");
    assert_int_equal(openat(r.dir_fd, r.name, O_RDONLY | O_NOFOLLOW), -1);
    wasi_resolved_release(&r);
}

static void test_errors(void **state)
{
    fixture *f = *state;
    assert_refused(f, "", false, WASI_ENOENT);
    assert_refused(f, "missing/x", false, WASI_ENOENT);
    assert_refused(f, "filelink/x", false, WASI_ENOTDIR);
    assert_refused(f, "file.txt/x", false, WASI_ENOTDIR);
    assert_refused(f, "loop/x", false, WASI_ELOOP);
    assert_refused(f, "loop", true, WASI_ELOOP);
    char long_name[NAME_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_refused(f, long_name, false, WASI_ENAMETOOLONG);
}

static void test_depth_limit(void **state)
{
    fixture *f = *state;
    /* LUN_WASI_MAX_PATH_DEPTH nested directories are fine, one more is not. */
    size_t size = (LUN_WASI_MAX_PATH_DEPTH + 2) * 2 + 16;
    char *path = calloc(1, size);
    int dir = dup(f->base_fd);
    for (int i = 0; i <= LUN_WASI_MAX_PATH_DEPTH; i++) {
        mkdirat(dir, "d", 0755);
        int next = openat(dir, "d", O_RDONLY | O_DIRECTORY);
        close(dir);
        dir = next;
        assert_true(dir >= 0);
    }
    close(dir);
    for (int i = 0; i < LUN_WASI_MAX_PATH_DEPTH; i++)
        strcat(path, "d/");
    strcat(path, "x");
    wasi_resolved r;
    assert_int_equal(wasi_path_resolve(f->base_fd, path, false, &r), WASI_ESUCCESS);
    assert_string_equal(r.name, "x");
    wasi_resolved_release(&r);
    path[strlen(path) - 1] = '\0';
    strcat(path, "d/x");
    assert_refused(f, path, false, WASI_ENAMETOOLONG);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_base_is_not_owned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_slash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links_inside_are_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_link_not_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
