/*
 * Replays fuzz inputs without libFuzzer, so that a gcc build and its
 * sanitizers run them as a CTest test: every file of each folder given on
 * the command line is passed once to the target's LLVMFuzzerTestOneInput
 * (fuzz_decode.c or fuzz_run.c, linked beside this file). A crash, a
 * sanitizer report or a leak fails the test; the target traps on any
 * broken API promise.
 *
 * Usage: <target>_replay FOLDER...   (each folder is one cmocka test)
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_FOLDERS = 16, MAX_INPUT_SIZE = 1 << 20 };

/* Reads at most MAX_INPUT_SIZE bytes of path into a malloc'ed buffer. */
static uint8_t *read_input(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    uint8_t *bytes = malloc(MAX_INPUT_SIZE);
    if (bytes) *size = fread(bytes, 1, MAX_INPUT_SIZE, file);
    fclose(file);
    return bytes;
}

static void replay_folder(void **state)
{
    const char *folder = *state;
    DIR *directory = opendir(folder);
    if (!directory) fail_msg("cannot open %s", folder);
    size_t replayed = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", folder, entry->d_name);
        struct stat info;
        if (stat(path, &info) != 0 || !S_ISREG(info.st_mode)) continue;
        size_t size = 0;
        uint8_t *bytes = read_input(path, &size);
        assert_non_null(bytes);
        LLVMFuzzerTestOneInput(bytes, size);
        free(bytes);
        replayed++;
    }
    closedir(directory);
    print_message("%zu inputs from %s\n", replayed, folder);
    assert_true(replayed > 0);
}

int main(int argc, char **argv)
{
    struct CMUnitTest tests[MAX_FOLDERS];
    int count = 0;
    for (int i = 1; i < argc && count < MAX_FOLDERS; i++) {
        tests[count++] = (struct CMUnitTest){
            .name = argv[i], .test_func = replay_folder, .initial_state = argv[i]};
    }
    if (count == 0) {
        fprintf(stderr, "usage: %s FOLDER...\n", argv[0]);
        return 2;
    }
    return _cmocka_run_group_tests("fuzz_replay", tests, (size_t)count, NULL, NULL);
}
