/*
 * The `lunatic` command: argument parsing and `lunatic run`, which loads a
 * module, spawns its `_start` as the first process (environment 1, the
 * config of docs/lunatic-abi.md §5) and exits with that process's status
 * (§17: its proc_exit code, 0 when it returns, 1 with the reason on stderr
 * when it fails).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lunatic/api.h"

static void print_help(FILE *out)
{
    fprintf(out,
            "lunatic %d.%d.%d (C runtime)\n"
            "\n"
            "Usage:\n"
            "  lunatic run [--dir DIR]... [--bench] FILE.wasm [--] [ARGS]...\n"
            "  lunatic [--dir DIR]... FILE.wasm [ARGS]...   (run is implied)\n"
            "  lunatic --help | --version\n"
            "\n"
            "Runs FILE.wasm's _start as the first process; the command exits\n"
            "with that process's status. Options:\n"
            "  --dir DIR   give the guest access to DIR (repeatable; \".\" always)\n"
            "  --bench     append the argument --bench to the guest's arguments\n"
            "\n"
            "Environment: LUNATIC_LOG=error|warn|info|debug|trace|off (default warn).\n"
            "Test mode (lunatic-rs `cargo test`): when CARGO_MANIFEST_DIR is set and\n"
            "FILE is .../target/wasm32-wasi/(debug|release)/deps/*.wasm.\n",
            LUN_API_VERSION_MAJOR, LUN_API_VERSION_MINOR, LUN_API_VERSION_PATCH);
}

static bool starts_with(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *text, const char *suffix)
{
    size_t length = strlen(text), suffix_length = strlen(suffix);
    return length >= suffix_length && strcmp(text + length - suffix_length, suffix) == 0;
}

/* Parses `run`'s arguments (argv[0] is the first after "run"). Returns 0 on
 * success, else the exit status (2 = usage error). */
static int parse_run(int argc, char **argv, cli_run_options *options)
{
    int i = 0;
    while (i < argc) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(arg, "--dir") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "error: --dir needs a directory\n");
                return 2;
            }
            options->dirs[options->dir_count++] = argv[i + 1];
            i += 2;
        } else if (starts_with(arg, "--dir=")) {
            options->dirs[options->dir_count++] = arg + strlen("--dir=");
            i++;
        } else if (strcmp(arg, "--bench") == 0) {
            options->bench = true;
            i++;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help(stdout);
            return -1;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "error: unknown option '%s' (see lunatic --help)\n", arg);
            return 2;
        } else {
            break;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "error: missing FILE.wasm (see lunatic --help)\n");
        return 2;
    }
    options->path = argv[i++];
    if (i < argc && strcmp(argv[i], "--") == 0) i++;
    options->guest_args = argv + i;
    options->guest_arg_count = argc - i;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 ||
        strcmp(command, "help") == 0) {
        print_help(stdout);
        return 0;
    }
    if (strcmp(command, "--version") == 0 || strcmp(command, "-V") == 0) {
        printf("lunatic %d.%d.%d\n", LUN_API_VERSION_MAJOR, LUN_API_VERSION_MINOR,
               LUN_API_VERSION_PATCH);
        return 0;
    }
    int first;
    if (strcmp(command, "run") == 0) {
        first = 2;
    } else if (starts_with(command, "--bench") || starts_with(command, "--dir") ||
               ends_with(command, ".wasm")) {
        first = 1;
    } else if (strcmp(command, "init") == 0 || strcmp(command, "node") == 0 ||
               strcmp(command, "control") == 0 || strcmp(command, "login") == 0 ||
               strcmp(command, "app") == 0 || strcmp(command, "deploy") == 0) {
        fprintf(stderr, "error: 'lunatic %s' is not supported by this runtime yet\n", command);
        return 2;
    } else {
        fprintf(stderr, "error: unknown command '%s' (see lunatic --help)\n", command);
        return 2;
    }
    cli_run_options options = {0};
    options.dirs = calloc((size_t)argc, sizeof *options.dirs);
    if (options.dirs == NULL) {
        fprintf(stderr, "Error: out of memory\n");
        return 1;
    }
    int status = parse_run(argc - first, argv + first, &options);
    if (status == 0) {
        if (cli_test_mode_selected(&options))
            status = cli_test(&options);
        else
            status = cli_run(&options);
    } else if (status < 0) {
        status = 0;
    }
    free(options.dirs);
    return status;
}
