/*
 * A wasm32-wasi guest program for the WASI tests (built with clang at build
 * time). argv[1] names the scenario; the host test checks what it prints,
 * its exit code and the files it leaves. It expects the directory
 * "/sandbox" to be preopened.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        printf("FAILED: %s (errno %d)\n", what, errno);
        failures++;
    }
}

static int hello(void)
{
    printf("hello from wasi\n");
    fprintf(stderr, "to stderr\n");
    return 0;
}

static int args(int argc, char **argv)
{
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    const char *greeting = getenv("GREETING");
    printf("GREETING=%s\n", greeting ? greeting : "(unset)");
    printf("MISSING=%s\n", getenv("MISSING") ? "set" : "(unset)");
    return 0;
}

static int echo_stdin(void)
{
    char buffer[256];
    size_t total = 0, got;
    while ((got = fread(buffer + total, 1, sizeof buffer - 1 - total, stdin)) > 0)
        total += got;
    buffer[total] = '\0';
    for (size_t i = 0; i < total; i++)
        if (buffer[i] >= 'a' && buffer[i] <= 'z') buffer[i] -= 32;
    printf("stdin=%s\n", buffer);
    return 0;
}

static int files(void)
{
    FILE *f = fopen("/sandbox/data.txt", "w");
    check(f != NULL, "create data.txt");
    if (f == NULL) return 1;
    check(fputs("hello world", f) >= 0, "write");
    check(fclose(f) == 0, "close");

    int fd = open("/sandbox/data.txt", O_RDWR);
    check(fd >= 0, "reopen");
    char buffer[16] = {0};
    check(lseek(fd, 6, SEEK_SET) == 6, "seek");
    check(read(fd, buffer, 5) == 5 && memcmp(buffer, "world", 5) == 0, "read world");
    check(lseek(fd, 0, SEEK_CUR) == 11, "tell");
    check(pwrite(fd, "HELLO", 5, 0) == 5, "pwrite");
    check(lseek(fd, 0, SEEK_END) == 11, "seek end");
    check(write(fd, "!", 1) == 1, "append byte");
    struct stat st;
    check(fstat(fd, &st) == 0 && st.st_size == 12 && S_ISREG(st.st_mode), "fstat");
    check(close(fd) == 0, "close fd");

    check(stat("/sandbox/data.txt", &st) == 0 && st.st_size == 12, "stat");
    check(mkdir("/sandbox/made", 0755) == 0, "mkdir");
    check(rename("/sandbox/data.txt", "/sandbox/made/moved.txt") == 0, "rename");
    check(access("/sandbox/data.txt", F_OK) != 0 && errno == ENOENT, "old name gone");
    f = fopen("/sandbox/made/moved.txt", "r");
    check(f != NULL && fgets(buffer, sizeof buffer, f) != NULL, "read moved");
    if (f != NULL) fclose(f);
    printf("contents=%s\n", buffer);
    check(open("/sandbox/nothere", O_RDONLY) < 0 && errno == ENOENT, "ENOENT");
    check(unlink("/sandbox/made/moved.txt") == 0 && rmdir("/sandbox/made") == 0, "cleanup");
    printf("files %s\n", failures ? "failed" : "ok");
    return failures ? 1 : 0;
}

static int compare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int listdir(void)
{
    DIR *dir = opendir("/sandbox/dir");
    check(dir != NULL, "opendir");
    if (dir == NULL) return 1;
    char *names[64];
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL && count < 64) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        names[count++] = strdup(entry->d_name);
    }
    closedir(dir);
    qsort(names, count, sizeof names[0], compare);
    for (int i = 0; i < count; i++) {
        printf("entry %s\n", names[i]);
        free(names[i]);
    }
    printf("count=%d\n", count);
    return 0;
}

static void try_open(const char *label, const char *path)
{
    errno = 0;
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        printf("%s: opened\n", label);
        close(fd);
    } else {
        printf("%s: refused errno=%s\n", label,
               errno == ENOTCAPABLE ? "ENOTCAPABLE" : strerror(errno));
    }
}

static int escape(void)
{
    try_open("inside", "/sandbox/inside.txt");
    try_open("dotdot", "/sandbox/../outside.txt");
    try_open("deep-dotdot", "/sandbox/sub/../../outside.txt");
    try_open("absolute", "/etc/passwd");
    try_open("symlink", "/sandbox/link_out/outside.txt");
    try_open("abs-symlink", "/sandbox/link_etc/passwd");
    /* the raw call, without libc's preopen lookup in between */
    __wasi_fd_t fd;
    __wasi_errno_t raw = __wasi_path_open(3, 0, "/etc/passwd", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd);
    printf("raw-absolute: errno=%d\n", raw);
    raw = __wasi_path_open(3, 0, "../outside.txt", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd);
    printf("raw-dotdot: errno=%d\n", raw);
    return 0;
}

/* lunatic preopens "." first: relative paths go through it. */
static int relative(void)
{
    char buffer[16] = {0};
    FILE *f = fopen("inside.txt", "r");
    check(f != NULL && fgets(buffer, sizeof buffer, f) != NULL, "read inside.txt");
    if (f != NULL) fclose(f);
    printf("relative=%s\n", buffer);
    try_open("relative-dotdot", "../outside.txt");
    return 0;
}

static long long elapsed_ns(struct timespec a, struct timespec b)
{
    return (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
}

static int clock_scenario(void)
{
    struct timespec start, end;
    check(clock_gettime(CLOCK_MONOTONIC, &start) == 0, "monotonic");
    struct timespec pause = {0, 20 * 1000 * 1000};
    check(nanosleep(&pause, NULL) == 0, "nanosleep");
    check(clock_gettime(CLOCK_MONOTONIC, &end) == 0, "monotonic again");
    check(elapsed_ns(start, end) >= 20 * 1000 * 1000, "slept 20 ms");
    check(time(NULL) > 1577836800, "realtime after 2020");
    printf("clock %s\n", failures ? "failed" : "ok");
    return failures ? 1 : 0;
}

static int yield_scenario(void)
{
    for (int i = 0; i < 3; i++)
        check(sched_yield() == 0, "sched_yield");
    printf("yield %s\n", failures ? "failed" : "ok");
    return failures ? 1 : 0;
}

static int random_scenario(void)
{
    unsigned char a[32] = {0}, b[32] = {0};
    check(getentropy(a, sizeof a) == 0, "getentropy");
    check(getentropy(b, sizeof b) == 0, "getentropy again");
    int nonzero = 0;
    for (size_t i = 0; i < sizeof a; i++)
        nonzero |= a[i];
    check(nonzero != 0, "not all zero");
    check(memcmp(a, b, sizeof a) != 0, "two draws differ");
    printf("random %s\n", failures ? "failed" : "ok");
    return failures ? 1 : 0;
}

/* The raw import: libc's wrapper would measure the path with strlen. */
__attribute__((import_module("wasi_snapshot_preview1"), import_name("path_open"))) int32_t
raw_path_open(int32_t fd, int32_t dirflags, int32_t path, int32_t path_length, int32_t oflags,
              int64_t rights_base, int64_t rights_inheriting, int32_t fdflags, int32_t fd_out);

static int efault(void)
{
    unsigned long end = __builtin_wasm_memory_size(0) * 65536ul;
    __wasi_ciovec_t iov = {(const uint8_t *)(end - 2), 10};
    __wasi_size_t written = 0;
    printf("efault-iovec: errno=%d\n", __wasi_fd_write(1, &iov, 1, &written));
    __wasi_fd_t fd;
    printf("efault-path: errno=%d\n",
           raw_path_open(3, 0, (int32_t)(end - 1), 10, 0, __WASI_RIGHTS_FD_READ, 0, 0,
                         (int32_t)(uintptr_t)&fd));
    printf("efault-random: errno=%d\n", __wasi_random_get((uint8_t *)(end - 4), 8));
    return 0;
}

__attribute__((import_module("wasi_snapshot_preview1"), import_name("proc_raise"))) int32_t
raw_proc_raise(int32_t signal);

/* Imports every preview-1 function (so linking checks all 46 signatures)
 * and calls each on fd 99, which is not open, or with harmless arguments. */
static int every_function(void)
{
    const __wasi_fd_t bad = 99;
    uint8_t buffer[64];
    __wasi_size_t size, count;
    uint8_t *pointers[8];
    __wasi_iovec_t iov = {buffer, sizeof buffer};
    __wasi_ciovec_t ciov = {buffer, sizeof buffer};
    __wasi_fdstat_t fdstat;
    __wasi_filestat_t filestat;
    __wasi_prestat_t prestat;
    __wasi_filesize_t position;
    __wasi_timestamp_t timestamp;
    __wasi_fd_t fd;
    __wasi_roflags_t roflags;
    __wasi_subscription_t subscription;
    __wasi_event_t event;
#define SHOW(name, call) printf("%s=%d\n", name, (int)(call))
    SHOW("args_sizes_get", __wasi_args_sizes_get(&count, &size));
    SHOW("args_get", __wasi_args_get(pointers, buffer));
    SHOW("environ_sizes_get", __wasi_environ_sizes_get(&count, &size));
    SHOW("environ_get", __wasi_environ_get(pointers, buffer));
    SHOW("clock_res_get", __wasi_clock_res_get(__WASI_CLOCKID_MONOTONIC, &timestamp));
    SHOW("clock_time_get", __wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &timestamp));
    SHOW("fd_advise", __wasi_fd_advise(bad, 0, 0, __WASI_ADVICE_NORMAL));
    SHOW("fd_allocate", __wasi_fd_allocate(bad, 0, 1));
    SHOW("fd_close", __wasi_fd_close(bad));
    SHOW("fd_datasync", __wasi_fd_datasync(bad));
    SHOW("fd_fdstat_get", __wasi_fd_fdstat_get(bad, &fdstat));
    SHOW("fd_fdstat_set_flags", __wasi_fd_fdstat_set_flags(bad, 0));
    SHOW("fd_fdstat_set_rights", __wasi_fd_fdstat_set_rights(bad, 0, 0));
    SHOW("fd_filestat_get", __wasi_fd_filestat_get(bad, &filestat));
    SHOW("fd_filestat_set_size", __wasi_fd_filestat_set_size(bad, 0));
    SHOW("fd_filestat_set_times", __wasi_fd_filestat_set_times(bad, 0, 0, 0));
    SHOW("fd_pread", __wasi_fd_pread(bad, &iov, 1, 0, &size));
    SHOW("fd_prestat_get", __wasi_fd_prestat_get(bad, &prestat));
    SHOW("fd_prestat_dir_name", __wasi_fd_prestat_dir_name(bad, buffer, sizeof buffer));
    SHOW("fd_pwrite", __wasi_fd_pwrite(bad, &ciov, 1, 0, &size));
    SHOW("fd_read", __wasi_fd_read(bad, &iov, 1, &size));
    SHOW("fd_readdir", __wasi_fd_readdir(bad, buffer, sizeof buffer, 0, &size));
    SHOW("fd_renumber", __wasi_fd_renumber(bad, 1));
    SHOW("fd_seek", __wasi_fd_seek(bad, 0, __WASI_WHENCE_SET, &position));
    SHOW("fd_sync", __wasi_fd_sync(bad));
    SHOW("fd_tell", __wasi_fd_tell(bad, &position));
    SHOW("fd_write", __wasi_fd_write(bad, &ciov, 1, &size));
    SHOW("path_create_directory", __wasi_path_create_directory(bad, "x"));
    SHOW("path_filestat_get", __wasi_path_filestat_get(bad, 0, "x", &filestat));
    SHOW("path_filestat_set_times", __wasi_path_filestat_set_times(bad, 0, "x", 0, 0, 0));
    SHOW("path_link", __wasi_path_link(bad, 0, "x", bad, "y"));
    SHOW("path_open", __wasi_path_open(bad, 0, "x", 0, 0, 0, 0, &fd));
    SHOW("path_readlink", __wasi_path_readlink(bad, "x", buffer, sizeof buffer, &size));
    SHOW("path_remove_directory", __wasi_path_remove_directory(bad, "x"));
    SHOW("path_rename", __wasi_path_rename(bad, "x", bad, "y"));
    SHOW("path_symlink", __wasi_path_symlink("x", bad, "y"));
    SHOW("path_unlink_file", __wasi_path_unlink_file(bad, "x"));
    SHOW("poll_oneoff", __wasi_poll_oneoff(&subscription, &event, 0, &size));
    SHOW("proc_raise", raw_proc_raise(9));
    SHOW("random_get", __wasi_random_get(buffer, sizeof buffer));
    SHOW("sched_yield", __wasi_sched_yield());
    SHOW("sock_accept", __wasi_sock_accept(bad, 0, &fd));
    SHOW("sock_recv", __wasi_sock_recv(bad, &iov, 1, 0, &size, &roflags));
    SHOW("sock_send", __wasi_sock_send(bad, &ciov, 1, 0, &size));
    SHOW("sock_shutdown", __wasi_sock_shutdown(bad, __WASI_SDFLAGS_RD));
#undef SHOW
    return 0;
}

int main(int argc, char **argv)
{
    const char *scenario = argc > 1 ? argv[1] : "hello";
    if (strcmp(scenario, "hello") == 0) return hello();
    if (strcmp(scenario, "args") == 0) return args(argc, argv);
    if (strcmp(scenario, "stdin") == 0) return echo_stdin();
    if (strcmp(scenario, "files") == 0) return files();
    if (strcmp(scenario, "listdir") == 0) return listdir();
    if (strcmp(scenario, "escape") == 0) return escape();
    if (strcmp(scenario, "relative") == 0) return relative();
    if (strcmp(scenario, "clock") == 0) return clock_scenario();
    if (strcmp(scenario, "random") == 0) return random_scenario();
    if (strcmp(scenario, "yield") == 0) return yield_scenario();
    if (strcmp(scenario, "efault") == 0) return efault();
    if (strcmp(scenario, "every-function") == 0) return every_function();
    if (strcmp(scenario, "trap") == 0) __builtin_trap();
    if (strcmp(scenario, "exit3") == 0) {
        printf("exiting with 3\n");
        fflush(stdout);
        exit(3);
    }
    printf("unknown scenario %s\n", scenario);
    return 2;
}
