/*
 * Test mode of `lunatic run` (docs/lunatic-abi.md §14): selected when
 * CARGO_MANIFEST_DIR is set and the module is a cargo test binary
 * (.../target/wasm32-wasi/debug/deps/NAME.wasm). Every export named
 * `#lunatic_test_[#ignore_][#panic_<text>#]<name>` is a test; each runs as
 * the first process of environment 0 of its own runtime (so with its own
 * registry), with its output captured (one buffer for the test process, one
 * per other process that writes, shown under " --- process N stdout ---"),
 * and the report mimics the Rust test harness. As in lunatic, the tests run
 * concurrently: as many at once as there are cores (at least four), each
 * test's line printed when it ends. Captured fds are plain files here
 * (lunatic reports pipes).
 */
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lunatic/api.h"

#define TEST_PREFIX "#lunatic_test_"

enum { MIN_RUNNERS = 4 };

typedef struct test_options {
    const char *filter;
    bool exact, ignored, nocapture, show_output, list;
    const char **dirs;
    size_t dir_count;
    const char **guest_args;
    size_t guest_arg_count;
} test_options;

typedef struct test_entry {
    const char *export_name;
    const char *name;
    char *panic_text; /* NULL: must end normally */
    bool ignore;
    bool selected;
} test_entry;

bool cli_test_mode_selected(const cli_run_options *options)
{
    if (getenv("CARGO_MANIFEST_DIR") == NULL || options->bench) return false;
    for (int i = 0; i < options->guest_arg_count; i++)
        if (strcmp(options->guest_args[i], "--bench") == 0) return false;
    regex_t pattern;
    if (regcomp(&pattern, "target/wasm32-(wasi|unknown-unknown)/(debug|release)/deps/[^/]*\\.wasm$",
                REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    bool match = regexec(&pattern, options->path, 0, NULL, 0) == 0;
    regfree(&pattern);
    return match;
}

static void parse_test_options(const cli_run_options *run, test_options *options)
{
    for (size_t i = 0; i < run->dir_count; i++)
        options->dirs[options->dir_count++] = run->dirs[i];
    for (int i = 0; i < run->guest_arg_count; i++) {
        const char *arg = run->guest_args[i];
        if (strcmp(arg, "--dir") == 0 && i + 1 < run->guest_arg_count)
            options->dirs[options->dir_count++] = run->guest_args[++i];
        else if (strcmp(arg, "--exact") == 0)
            options->exact = true;
        else if (strcmp(arg, "--ignored") == 0)
            options->ignored = true;
        else if (strcmp(arg, "--nocapture") == 0)
            options->nocapture = true;
        else if (strcmp(arg, "--show-output") == 0)
            options->show_output = true;
        else if (strcmp(arg, "--list") == 0)
            options->list = true;
        else if (strcmp(arg, "--format") == 0 && i + 1 < run->guest_arg_count)
            i++; /* only the terse format exists here */
        else if (arg[0] != '-' && options->filter == NULL)
            options->filter = arg;
        else
            options->guest_args[options->guest_arg_count++] = arg;
    }
}

/* Splits `[#ignore_][#panic_<text>#]<name>`; false when out of memory. */
static bool parse_test_name(const char *export_name, test_entry *entry)
{
    const char *rest = export_name + strlen(TEST_PREFIX);
    entry->export_name = export_name;
    if (strncmp(rest, "#ignore_", 8) == 0) {
        entry->ignore = true;
        rest += 8;
    }
    if (strncmp(rest, "#panic_", 7) == 0) {
        rest += 7;
        entry->panic_text = malloc(strlen(rest) + 1);
        if (entry->panic_text == NULL) return false;
        size_t length = 0;
        while (*rest != '\0' && *rest != '#') {
            if (rest[0] == '\\' && rest[1] == '#') rest++;
            entry->panic_text[length++] = *rest++;
        }
        entry->panic_text[length] = '\0';
        if (*rest == '#') rest++;
    }
    entry->name = rest;
    return true;
}

/* lunatic's check: `thread '…' panicked at '…<text>…', ` in the output. */
static bool panicked_with(const char *output, const char *text)
{
    const char *marker = "' panicked at '";
    for (const char *at = strstr(output, marker); at != NULL; at = strstr(at + 1, marker)) {
        const char *message = at + strlen(marker);
        const char *end = strstr(message, "', ");
        if (end == NULL) continue;
        const char *found = strstr(message, text);
        if (found != NULL && found + strlen(text) <= end) return true;
    }
    return false;
}

static char *read_all(FILE *file)
{
    long size;
    if (fseek(file, 0, SEEK_END) != 0 || (size = ftell(file)) < 0) return NULL;
    rewind(file);
    char *text = malloc((size_t)size + 1);
    if (text == NULL) return NULL;
    size_t got = fread(text, 1, (size_t)size, file);
    text[got] = '\0';
    return text;
}

static lun_status build_config(const test_options *options, lun_process_config **out,
                               lun_error *error)
{
    lun_process_config *config;
    lun_status status = lun_process_config_new_main(&config, error);
    for (size_t i = 0; status == LUN_OK && i < options->dir_count; i++)
        status = lun_process_config_add_preopen(config, options->dirs[i], options->dirs[i], error);
    for (size_t i = 0; status == LUN_OK && i < options->guest_arg_count; i++)
        status = lun_process_config_add_arg(config, options->guest_args[i], error);
    if (status != LUN_OK) {
        lun_process_config_release(config);
        return status;
    }
    *out = config;
    return LUN_OK;
}

/* A test's captured output: one buffer (a temporary file) for the test's
 * first process, and one for each other process that writes. */
typedef struct capture_buffer {
    uint64_t process_id;
    FILE *file;
} capture_buffer;

typedef struct capture_group {
    pthread_mutex_t lock;
    FILE *main;
    capture_buffer *buffers;
    size_t count, capacity;
} capture_group;

static int open_output(void *context, uint64_t process_id)
{
    capture_group *group = context;
    if (process_id <= 1) return fileno(group->main);
    int fd = -1;
    pthread_mutex_lock(&group->lock);
    if (group->count == group->capacity) {
        size_t capacity = group->capacity ? group->capacity * 2 : 8;
        capture_buffer *grown = realloc(group->buffers, capacity * sizeof *grown);
        if (grown != NULL) {
            group->buffers = grown;
            group->capacity = capacity;
        }
    }
    FILE *file = group->count < group->capacity ? tmpfile() : NULL;
    if (file != NULL) {
        group->buffers[group->count++] = (capture_buffer){process_id, file};
        fd = fileno(file);
    } else {
        fd = fileno(group->main); /* out of files: share the main buffer */
    }
    pthread_mutex_unlock(&group->lock);
    return fd;
}

static char *read_all(FILE *file);

/* The group's text: the main buffer, then each non-empty other buffer
 * under a " --- process N stdout ---" header. */
static char *collect_output(capture_group *group)
{
    char *text = read_all(group->main);
    for (size_t i = 0; text != NULL && i < group->count; i++) {
        char *more = read_all(group->buffers[i].file);
        if (more != NULL && more[0] != '\0') {
            size_t length = strlen(text) + strlen(more) + 64;
            char *joined = malloc(length);
            if (joined != NULL)
                snprintf(joined, length, "%s --- process %llu stdout ---\n%s", text,
                         (unsigned long long)group->buffers[i].process_id, more);
            free(text);
            text = joined;
        }
        free(more);
    }
    return text;
}

static void capture_group_close(capture_group *group)
{
    for (size_t i = 0; i < group->count; i++)
        fclose(group->buffers[i].file);
    free(group->buffers);
    if (group->main) fclose(group->main);
    pthread_mutex_destroy(&group->lock);
}

/* Runs one test in a runtime of its own; *output gets what it printed. */
static bool run_test(const test_entry *entry, lun_module *module, const test_options *options,
                     char **output)
{
    *output = NULL;
    capture_group group = {.main = options->nocapture ? NULL : tmpfile()};
    pthread_mutex_init(&group.lock, NULL);
    lun_host_options host_options = {.open_output = group.main ? open_output : NULL,
                                     .output_context = &group};
    lun_error error = {0};
    lun_host *host = NULL;
    lun_process_config *config = NULL;
    lun_environment *environment = NULL;
    lun_process *process = NULL;
    lun_process_result result = {.kind = LUN_RESULT_SPAWN_ERROR, .message = error.message};
    bool ok = lun_host_new(&host_options, &host, &error) == LUN_OK &&
              build_config(options, &config, &error) == LUN_OK &&
              lun_environment_new(lun_host_runtime(host), 0, &environment, &error) == LUN_OK;
    if (ok) {
        lun_wasm_spawn spawn = {.environment = environment,
                                .module = module,
                                .config = config,
                                .function = entry->export_name};
        ok = lun_host_spawn(host, &spawn, &process, &error) == LUN_OK &&
             lun_process_join(process, LUN_TIMEOUT_INFINITE, &result, &error) == LUN_OK;
    }
    bool passed;
    if (!ok)
        passed = false;
    else if (entry->panic_text == NULL)
        passed = result.kind == LUN_RESULT_OK;
    else
        passed = result.kind != LUN_RESULT_OK; /* the output is checked below */
    /* Why it failed, kept before the process handle (owner of the result's
     * message) goes. */
    char reason[LUN_ERROR_MESSAGE_SIZE + 64];
    snprintf(reason, sizeof reason, "%s",
             ok ? (result.kind == LUN_RESULT_OK ? "the test did not fail" : result.message)
                : error.message);
    /* The host goes first: its processes may still be writing. */
    lun_process_release(process);
    lun_environment_release(environment);
    lun_process_config_release(config);
    lun_host_free(host);
    char *text = group.main ? collect_output(&group) : NULL;
    if (text == NULL) text = strdup("");
    if (passed && entry->panic_text != NULL && entry->panic_text[0] != '\0' && text != NULL)
        passed = panicked_with(text, entry->panic_text);
    if (!passed && text != NULL) {
        /* Say why, below the test's own output. */
        size_t length = strlen(text) + strlen(reason) + 32;
        char *longer = malloc(length);
        if (longer != NULL) {
            snprintf(longer, length, "%sError: %s\n", text, reason);
            free(text);
            text = longer;
        }
    }
    *output = text;
    capture_group_close(&group);
    return passed;
}

static bool selected(const test_entry *entry, const test_options *options)
{
    if (options->filter != NULL) {
        if (options->exact ? strcmp(entry->name, options->filter) != 0
                           : strstr(entry->name, options->filter) == NULL)
            return false;
    }
    return !options->ignored || entry->ignore;
}

static size_t collect_tests(lun_module *module, test_entry *tests, const test_options *options)
{
    size_t count = 0, exports = lun_module_export_count(module);
    for (size_t i = 0; i < exports; i++) {
        const char *name;
        lun_extern_kind kind;
        lun_module_export(module, i, &name, &kind);
        if (kind != LUN_EXTERN_FUNC || strncmp(name, TEST_PREFIX, strlen(TEST_PREFIX)) != 0)
            continue;
        test_entry *entry = &tests[count];
        memset(entry, 0, sizeof *entry);
        if (!parse_test_name(name, entry)) break;
        entry->selected = selected(entry, options);
        count++;
    }
    return count;
}

static double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* What the runner threads share: the next test to take, and the results. */
typedef struct test_run {
    test_entry *tests;
    size_t count;
    lun_module *module;
    const test_options *options;
    pthread_mutex_t lock; /* next, the counts, and stdout */
    size_t next;
    size_t passed, failed;
    char **outputs;
    bool *failures;
} test_run;

/* Takes the next test to run; false when none is left. */
static bool next_test(test_run *run, size_t *index)
{
    bool found = false;
    pthread_mutex_lock(&run->lock);
    while (run->next < run->count && !found) {
        const test_entry *entry = &run->tests[run->next];
        found = entry->selected && (!entry->ignore || run->options->ignored);
        *index = run->next++;
    }
    pthread_mutex_unlock(&run->lock);
    return found;
}

static void *runner_main(void *argument)
{
    test_run *run = argument;
    size_t i;
    while (next_test(run, &i)) {
        char *output = NULL;
        bool ok = run_test(&run->tests[i], run->module, run->options, &output);
        pthread_mutex_lock(&run->lock);
        run->outputs[i] = output;
        run->failures[i] = !ok;
        ok ? run->passed++ : run->failed++;
        printf("test %s ... %s\n", run->tests[i].name, ok ? "ok" : "FAILED");
        fflush(stdout);
        pthread_mutex_unlock(&run->lock);
    }
    return NULL;
}

/* Runs the selected tests on one thread per core, at least four (this one
 * included; tests mostly wait, and lunatic starts them all at once). With
 * no thread to spare, they run here one after the other. */
static void run_concurrently(test_run *run, size_t to_run)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t wanted = cores > MIN_RUNNERS ? (size_t)cores : MIN_RUNNERS;
    if (wanted > to_run) wanted = to_run;
    pthread_t *threads = calloc(wanted ? wanted : 1, sizeof *threads);
    size_t started = 0;
    while (threads != NULL && started + 1 < wanted &&
           pthread_create(&threads[started], NULL, runner_main, run) == 0)
        started++;
    runner_main(run);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
}

static void print_report(const test_run *run, size_t ignored, size_t to_run, double start)
{
    const test_entry *tests = run->tests;
    if (run->options->show_output && run->passed > 0) {
        printf("\nsuccesses:\n\n");
        for (size_t i = 0; i < run->count; i++)
            if (run->outputs[i] != NULL && !run->failures[i])
                printf("---- %s stdout ----\n%s\n", tests[i].name, run->outputs[i]);
    }
    if (run->failed > 0) {
        printf("\nfailures:\n\n");
        for (size_t i = 0; i < run->count; i++)
            if (run->failures[i])
                printf("---- %s stdout ----\n%s\n", tests[i].name, run->outputs[i]);
        printf("\nfailures:\n");
        for (size_t i = 0; i < run->count; i++)
            if (run->failures[i]) printf("    %s\n", tests[i].name);
    }
    printf("\ntest result: %s. %zu passed; %zu failed; %zu ignored; 0 measured; %zu filtered "
           "out; finished in %.2fs\n\n",
           run->failed ? "FAILED" : "ok", run->passed, run->failed, ignored, run->count - to_run,
           now_seconds() - start);
}

static int run_all(test_entry *tests, size_t count, lun_module *module, const test_options *options)
{
    size_t to_run = 0, ignored = 0;
    for (size_t i = 0; i < count; i++)
        to_run += tests[i].selected;
    printf("\nrunning %zu test%s\n", to_run, to_run == 1 ? "" : "s");
    for (size_t i = 0; i < count; i++) {
        if (tests[i].selected && tests[i].ignore && !options->ignored) {
            printf("test %s ... ignored\n", tests[i].name);
            ignored++;
        }
    }
    fflush(stdout);
    double start = now_seconds();
    test_run run = {.tests = tests, .count = count, .module = module, .options = options};
    run.outputs = calloc(count ? count : 1, sizeof *run.outputs);
    run.failures = calloc(count ? count : 1, sizeof *run.failures);
    if (run.outputs == NULL || run.failures == NULL) {
        free(run.outputs);
        free(run.failures);
        fprintf(stderr, "Error: out of memory\n");
        return 1;
    }
    pthread_mutex_init(&run.lock, NULL);
    run_concurrently(&run, to_run - ignored);
    pthread_mutex_destroy(&run.lock);
    print_report(&run, ignored, to_run, start);
    for (size_t i = 0; i < count; i++)
        free(run.outputs[i]);
    free(run.outputs);
    free(run.failures);
    return run.failed ? 1 : 0;
}

int cli_test(const cli_run_options *run)
{
    size_t capacity = run->dir_count + (size_t)run->guest_arg_count + 1;
    test_options options = {0};
    options.dirs = calloc(capacity, sizeof *options.dirs);
    options.guest_args = calloc(capacity, sizeof *options.guest_args);
    lun_host *loader = NULL;
    lun_module *module = NULL;
    test_entry *tests = NULL;
    size_t count = 0;
    int status = 1;
    lun_error error = {0};
    if (options.dirs == NULL || options.guest_args == NULL) {
        lun_error_set(&error, LUN_ERR_NO_MEMORY, "out of memory");
        goto fail;
    }
    parse_test_options(run, &options);
    if (getenv("LUNATIC_LOG") == NULL) lun_log_set_level(LUN_LOG_ERROR);
    /* A module does not depend on the host that checked it: load it once. */
    lun_host_options loader_options = {.workers = 1};
    if (lun_host_new(&loader_options, &loader, &error) != LUN_OK ||
        lun_host_load_file(loader, run->path, &module, &error) != LUN_OK)
        goto fail;
    tests = calloc(lun_module_export_count(module) + 1, sizeof *tests);
    if (tests == NULL) {
        lun_error_set(&error, LUN_ERR_NO_MEMORY, "out of memory");
        goto fail;
    }
    count = collect_tests(module, tests, &options);
    if (options.list) {
        for (size_t i = 0; i < count; i++)
            if (tests[i].selected) printf("%s: test\n", tests[i].name);
        status = 0;
    } else {
        status = run_all(tests, count, module, &options);
    }
    goto done;
fail:
    fprintf(stderr, "Error: %s\n", error.message);
done:
    for (size_t i = 0; i < count; i++)
        free(tests[i].panic_text);
    free(tests);
    lun_module_free(module);
    lun_host_free(loader);
    free(options.dirs);
    free(options.guest_args);
    fflush(stdout);
    return status;
}
