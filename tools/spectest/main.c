/*
 * build/spectest: runs the official WebAssembly spec scripts (.wast) against
 * the engine and counts passed, failed and not-applicable commands.
 *
 * Each script is converted by wabt's wast2json into a private temporary
 * folder and run in a child process, so that an engine crash or hang costs
 * that script's remaining commands rather than the whole run. The child
 * reports its counts through a pipe after every command.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lists.h"
#include "script.h"
#include "value.h"

extern char **environ;

enum {
    EXIT_FAILURES = 1,
    EXIT_USAGE = 2,
    EXIT_SKIPPED = 77,
    MAX_LIST_BYTES = 1 << 20,
    MAX_FLAGS = 32,
};

typedef struct runner_options {
    spectest_options script;
    const char *manifest;
    const char *expect_failures;
    unsigned timeout_seconds; /* per script; 0: none */
    bool fork;
} runner_options;

typedef struct job {
    char *name;  /* as printed and matched against known failures */
    char *path;  /* of the .wast */
    char *flags; /* extra wast2json flags, or NULL */
    int64_t expected_total;
    bool simd;
    spectest_counts counts;
} job;

typedef struct job_list {
    job *items;
    size_t count;
} job_list;

/* What a child reports after every command. */
typedef struct progress_record {
    uint32_t finished;
    spectest_counts counts;
    uint64_t done; /* commands run */
    uint64_t total;
    int64_t line;
} progress_record;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: spectest [options] FILE.wast...\n"
            "  -v, --verbose            print every failure with its line and reason\n"
            "  --manifest FILE          run every script listed in a MANIFEST.tsv\n"
            "  --expect-failures FILE   tolerate the failure counts listed in FILE\n"
            "  --fuel N                 fuel budget of one invocation (default 10^10)\n"
            "  --timeout SECONDS        wall-clock limit of one script (default 600, 0: none)\n"
            "  --no-fork                run scripts in this process (for debuggers)\n");
}

/* ---- jobs ---------------------------------------------------------------- */

static char *join_path(const char *directory, const char *name)
{
    size_t size = strlen(directory) + strlen(name) + 2;
    char *path = malloc(size);
    if (path != NULL) snprintf(path, size, "%s/%s", directory, name);
    return path;
}

static bool add_job(job_list *jobs, const char *name, const char *path, const char *flags,
                    int64_t expected_total)
{
    job *items = realloc(jobs->items, (jobs->count + 1) * sizeof *items);
    if (items == NULL) return false;
    jobs->items = items;
    job *added = &items[jobs->count];
    *added = (job){.expected_total = expected_total};
    added->name = strdup(name);
    added->path = strdup(path);
    added->flags = flags != NULL ? strdup(flags) : NULL;
    jobs->count++;
    return added->name != NULL && added->path != NULL && (flags == NULL || added->flags != NULL);
}

static void free_jobs(job_list *jobs)
{
    for (size_t i = 0; i < jobs->count; i++) {
        free(jobs->items[i].name);
        free(jobs->items[i].path);
        free(jobs->items[i].flags);
    }
    free(jobs->items);
}

/* Adds the manifest's scripts; EXIT_SKIPPED when the manifest is absent. */
static int add_manifest_jobs(job_list *jobs, const char *manifest_path)
{
    char *text = NULL;
    size_t size = 0;
    lun_error error;
    lun_error_clear(&error);
    lun_status status = spectest_read_file(manifest_path, MAX_LIST_BYTES, &text, &size, &error);
    if (status == LUN_ERR_NOT_FOUND) {
        printf("spec tests skipped: %s not found\n", manifest_path);
        return EXIT_SKIPPED;
    }
    spectest_manifest manifest = {0};
    if (status == LUN_OK) status = spectest_manifest_parse(text, size, &manifest, &error);
    free(text);
    if (status != LUN_OK) {
        fprintf(stderr, "spectest: %s\n", error.message);
        return EXIT_USAGE;
    }
    const char *slash = strrchr(manifest_path, '/');
    char *directory =
        slash == NULL ? strdup(".") : strndup(manifest_path, (size_t)(slash - manifest_path));
    int result = directory != NULL ? 0 : EXIT_USAGE;
    for (size_t i = 0; result == 0 && i < manifest.count; i++) {
        const spectest_manifest_entry *entry = &manifest.entries[i];
        char *path = join_path(directory, entry->path);
        if (path == NULL || !add_job(jobs, entry->path, path, entry->flags, entry->expected_total))
            result = EXIT_USAGE;
        else
            jobs->items[jobs->count - 1].simd = spectest_is_simd_path(entry->path);
        free(path);
    }
    if (result != 0) fprintf(stderr, "spectest: out of memory\n");
    free(directory);
    spectest_manifest_free(&manifest);
    return result;
}

static bool read_expectations(const char *path, spectest_expectations *expectations)
{
    char *text = NULL;
    size_t size = 0;
    lun_error error;
    lun_error_clear(&error);
    lun_status status = spectest_read_file(path, MAX_LIST_BYTES, &text, &size, &error);
    if (status == LUN_OK) status = spectest_expectations_parse(text, size, expectations, &error);
    free(text);
    if (status != LUN_OK) fprintf(stderr, "spectest: %s\n", error.message);
    return status == LUN_OK;
}

/* ---- converting with wast2json ------------------------------------------- */

/* Whether an executable named name is in PATH. */
static bool in_path(const char *name)
{
    const char *path = getenv("PATH");
    char *copy = strdup(path != NULL ? path : "/usr/bin:/bin");
    bool found = false;
    for (char *save = NULL, *folder = copy != NULL ? strtok_r(copy, ":", &save) : NULL;
         folder != NULL && !found; folder = strtok_r(NULL, ":", &save)) {
        char *candidate = join_path(folder, name);
        found = candidate != NULL && access(candidate, X_OK) == 0;
        free(candidate);
    }
    free(copy);
    return found;
}

static void remove_directory(const char *directory)
{
    DIR *dir = opendir(directory);
    if (dir != NULL) {
        struct dirent *entry;
        while ((entry = readdir(dir)) != NULL) {
            if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
            char *path = join_path(directory, entry->d_name);
            if (path != NULL) unlink(path);
            free(path);
        }
        closedir(dir);
    }
    rmdir(directory);
}

static void print_log(const char *path)
{
    char *text = NULL;
    size_t size = 0;
    if (spectest_read_file(path, 8192, &text, &size, NULL) == LUN_OK && size > 0)
        printf("%s%s", text, text[size - 1] == '\n' ? "" : "\n");
    free(text);
}

/* Runs wast2json FLAGS wast -o directory/script.json; false on failure. */
static bool convert(const job *script, const char *directory, const char *json_path)
{
    char *flags = script->flags != NULL ? strdup(script->flags) : NULL;
    char *log_path = join_path(directory, "wast2json.log");
    char *argv[MAX_FLAGS + 6];
    size_t argc = 0;
    bool ok = log_path != NULL && (script->flags == NULL || flags != NULL);
    argv[argc++] = "wast2json";
    for (char *save = NULL, *flag = flags != NULL ? strtok_r(flags, " ", &save) : NULL;
         flag != NULL && argc < MAX_FLAGS; flag = strtok_r(NULL, " ", &save))
        argv[argc++] = flag;
    argv[argc++] = script->path;
    argv[argc++] = "-o";
    argv[argc++] = (char *)json_path;
    argv[argc] = NULL;
    posix_spawn_file_actions_t actions;
    pid_t pid;
    int error = ok ? posix_spawn_file_actions_init(&actions) : ENOMEM;
    if (error == 0) {
        posix_spawn_file_actions_addopen(&actions, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        error = posix_spawnp(&pid, "wast2json", &actions, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
    }
    int status = 0;
    if (error != 0) {
        printf("%s: cannot run wast2json: %s\n", script->name, strerror(error));
        ok = false;
    } else if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("%s: wast2json failed:\n", script->name);
        print_log(log_path);
        ok = false;
    }
    free(flags);
    free(log_path);
    return ok;
}

/* ---- running one script -------------------------------------------------- */

static void write_record(int fd, const progress_record *record)
{
    const char *bytes = (const char *)record;
    size_t left = sizeof *record;
    while (left > 0) {
        ssize_t written = write(fd, bytes, left);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) return;
        bytes += written;
        left -= (size_t)written;
    }
}

static void report_progress(const spectest_counts *counts, uint64_t done, uint64_t total,
                            int64_t line, void *data)
{
    progress_record record = {.counts = *counts, .done = done, .total = total, .line = line};
    write_record(*(int *)data, &record);
}

/* Converts and runs a script; what the child process does. fd (or -1) gets
 * progress records. */
static spectest_counts run_script(const job *script, const char *directory,
                                  const runner_options *options, int fd)
{
    spectest_counts counts = {0};
    char *json_path = join_path(directory, "script.json");
    if (json_path == NULL || !convert(script, directory, json_path)) {
        counts.failed = 1;
    } else {
        lun_error error;
        lun_error_clear(&error);
        lun_status status =
            spectest_script_run(json_path, script->name, &options->script,
                                fd >= 0 ? report_progress : NULL, &fd, &counts, &error);
        if (status != LUN_OK) {
            printf("%s: %s\n", script->name, error.message);
            counts.failed++;
        }
    }
    free(json_path);
    fflush(stdout);
    return counts;
}

static double seconds_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* Reads the child's records until it closes the pipe or the time is up;
 * false on timeout. */
static bool collect_progress(int fd, unsigned timeout_seconds, progress_record *last)
{
    double deadline = seconds_now() + timeout_seconds;
    progress_record record;
    size_t have = 0;
    for (;;) {
        int wait_ms = -1;
        if (timeout_seconds > 0) {
            double left = deadline - seconds_now();
            if (left <= 0) return false;
            wait_ms = (int)(left * 1000) + 1;
        }
        struct pollfd poll_fd = {.fd = fd, .events = POLLIN};
        int ready = poll(&poll_fd, 1, wait_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready == 0) continue; /* the deadline check above ends the wait */
        ssize_t got = read(fd, (char *)&record + have, sizeof record - have);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return true;
        have += (size_t)got;
        if (have == sizeof record) {
            *last = record;
            have = 0;
        }
    }
}

/* Counts the commands a dead child did not report as failed. */
static void count_lost(job *script, const progress_record *last)
{
    script->counts = last->counts;
    script->counts.failed += last->total > last->done ? last->total - last->done : 1;
}

static void run_in_child(job *script, const char *directory, const runner_options *options)
{
    int fds[2];
    fflush(stdout);
    fflush(stderr);
    if (pipe2(fds, O_CLOEXEC) != 0) {
        printf("%s: pipe: %s\n", script->name, strerror(errno));
        script->counts.failed = 1;
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        printf("%s: fork: %s\n", script->name, strerror(errno));
        script->counts.failed = 1;
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        /* Its own process group, so that a timeout also ends its wast2json. */
        setpgid(0, 0);
        close(fds[0]);
        progress_record record = {.finished = 1};
        record.counts = run_script(script, directory, options, fds[1]);
        write_record(fds[1], &record);
        close(fds[1]);
        exit(0); /* exit, not _exit: leak checkers report at exit */
    }
    setpgid(pid, pid); /* also here: whichever runs first wins the race */
    close(fds[1]);
    progress_record last = {0};
    bool in_time = collect_progress(fds[0], options->timeout_seconds, &last);
    close(fds[0]);
    if (!in_time && kill(-pid, SIGKILL) != 0) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        continue;
    if (!in_time) {
        count_lost(script, &last);
        printf("%s: timed out after %u s at line %" PRId64 "; the rest counts as failed\n",
               script->name, options->timeout_seconds, last.line);
    } else if (!last.finished) {
        count_lost(script, &last);
        printf("%s: runner process died (%s %d) after line %" PRId64
               "; the rest counts as failed\n",
               script->name, WIFSIGNALED(status) ? "signal" : "exit status",
               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), last.line);
    } else {
        script->counts = last.counts;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            printf("%s: runner process ended with status 0x%x after the last command "
                   "(sanitizer report?)\n",
                   script->name, (unsigned)status);
            script->counts.failed++;
        }
    }
}

static void run_job(job *script, const runner_options *options)
{
    if (script->simd) {
        script->counts.not_applicable =
            script->expected_total > 0 ? (uint64_t)script->expected_total : 1;
        return;
    }
    const char *tmp = getenv("TMPDIR");
    char *template = join_path(tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp", "spectest.XXXXXX");
    if (template == NULL || mkdtemp(template) == NULL) {
        printf("%s: cannot make a temporary folder: %s\n", script->name, strerror(errno));
        script->counts.failed = 1;
        free(template);
        return;
    }
    if (options->fork)
        run_in_child(script, template, options);
    else
        script->counts = run_script(script, template, options, -1);
    remove_directory(template);
    free(template);
}

static void print_job(const job *script)
{
    const spectest_counts *c = &script->counts;
    printf("%s: %" PRIu64 " passed, %" PRIu64 " failed, %" PRIu64 " not applicable%s\n",
           script->name, c->passed, c->failed, c->not_applicable,
           script->simd ? " (SIMD not supported yet)" : "");
    uint64_t total = c->passed + c->failed + c->not_applicable;
    if (!script->simd && script->expected_total >= 0 && total != (uint64_t)script->expected_total)
        printf("%s: note: counted %" PRIu64 " commands, the manifest %" PRId64 "\n", script->name,
               total, script->expected_total);
    fflush(stdout);
}

/* ---- the verdict --------------------------------------------------------- */

/* With a known-failures list: true when no script fails more than listed. */
static bool judge(job_list *jobs, spectest_expectations *expectations)
{
    bool ok = true;
    for (size_t i = 0; i < jobs->count; i++) {
        const job *script = &jobs->items[i];
        spectest_expectation *known = spectest_expectations_find(expectations, script->name);
        uint64_t allowed = known != NULL ? known->failed : 0;
        if (known != NULL) known->seen = true;
        if (script->counts.failed > allowed) {
            printf("regression: %s: %" PRIu64 " failed, %" PRIu64 " allowed\n", script->name,
                   script->counts.failed, allowed);
            ok = false;
        } else if (script->counts.failed < allowed) {
            printf("improved: %s: %" PRIu64 " failed, %" PRIu64
                   " listed (lower it in the known-failures list)\n",
                   script->name, script->counts.failed, allowed);
        }
    }
    for (size_t i = 0; i < expectations->count; i++) {
        if (!expectations->items[i].seen)
            printf("note: known-failures lists %s, which did not run\n",
                   expectations->items[i].path);
    }
    return ok;
}

static int parse_number_option(const char *name, const char *text, uint64_t max, uint64_t *value)
{
    if (text == NULL || spectest_parse_unsigned(text, max, value, NULL) != LUN_OK) {
        fprintf(stderr, "spectest: %s needs a number\n", name);
        return EXIT_USAGE;
    }
    return 0;
}

static int parse_options(int argc, char **argv, runner_options *options, job_list *jobs)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t number;
        int result = 0;
        if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0) {
            options->script.verbose = true;
        } else if (strcmp(arg, "--no-fork") == 0) {
            options->fork = false;
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            return -1;
        } else if (strcmp(arg, "--manifest") == 0 || strcmp(arg, "--expect-failures") == 0) {
            if (next == NULL) {
                fprintf(stderr, "spectest: %s needs a file\n", arg);
                return EXIT_USAGE;
            }
            *(arg[2] == 'm' ? &options->manifest : &options->expect_failures) = next;
            i++;
        } else if (strcmp(arg, "--fuel") == 0) {
            result = parse_number_option(arg, next, UINT64_MAX, &number);
            options->script.fuel = number;
            i++;
        } else if (strcmp(arg, "--timeout") == 0) {
            result = parse_number_option(arg, next, 86400, &number);
            options->timeout_seconds = (unsigned)number;
            i++;
        } else if (arg[0] == '-') {
            fprintf(stderr, "spectest: unknown option %s\n", arg);
            usage(stderr);
            return EXIT_USAGE;
        } else if (!add_job(jobs, arg, arg, NULL, -1)) {
            fprintf(stderr, "spectest: out of memory\n");
            return EXIT_USAGE;
        }
        if (result != 0) return result;
    }
    if (options->script.fuel == 0) {
        fprintf(stderr, "spectest: --fuel must be positive\n");
        return EXIT_USAGE;
    }
    return 0;
}

int main(int argc, char **argv)
{
    runner_options options = {
        .script = {.fuel = 10000000000ull},
        .timeout_seconds = 600,
        .fork = true,
    };
    job_list jobs = {0};
    spectest_expectations expectations = {0};
    int result = parse_options(argc, argv, &options, &jobs);
    if (result == 0 && options.manifest != NULL)
        result = add_manifest_jobs(&jobs, options.manifest);
    if (result == 0 && jobs.count == 0) {
        usage(stderr);
        result = EXIT_USAGE;
    }
    if (result == 0 && options.expect_failures != NULL &&
        !read_expectations(options.expect_failures, &expectations))
        result = EXIT_USAGE;
    if (result == 0 && !in_path("wast2json")) {
        fprintf(stderr, "spectest: wast2json not found in PATH (install wabt 1.0.32)\n");
        result = EXIT_USAGE;
    }
    if (result != 0) {
        spectest_expectations_free(&expectations);
        free_jobs(&jobs);
        return result < 0 ? 0 : result;
    }
    spectest_counts total = {0};
    for (size_t i = 0; i < jobs.count; i++) {
        run_job(&jobs.items[i], &options);
        print_job(&jobs.items[i]);
        total.passed += jobs.items[i].counts.passed;
        total.failed += jobs.items[i].counts.failed;
        total.not_applicable += jobs.items[i].counts.not_applicable;
    }
    bool ok = options.expect_failures != NULL ? judge(&jobs, &expectations) : total.failed == 0;
    printf("total: %" PRIu64 " passed, %" PRIu64 " failed, %" PRIu64
           " not applicable in %zu files\n",
           total.passed, total.failed, total.not_applicable, jobs.count);
    printf("%" PRIu64 " passed, %" PRIu64 " failed\n", total.passed, total.failed);
    spectest_expectations_free(&expectations);
    free_jobs(&jobs);
    return ok ? 0 : EXIT_FAILURES;
}
