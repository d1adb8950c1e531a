/*
 * Guest of the test-mode tests: exports named like lunatic-rs's
 * #[lunatic::test] functions. Built into .../target/wasm32-wasi/debug/deps/
 * so that `lunatic run` selects test mode when CARGO_MANIFEST_DIR is set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#include "lunatic_guest.h"

__attribute__((export_name("#lunatic_test_passes"))) void passes(void)
{
    printf("output of a passing test\n");
    if (lun_self() != 1) abort();
}

__attribute__((export_name("#lunatic_test_fails"))) void fails(void)
{
    printf("output of a failing test\n");
    fflush(stdout);
    __builtin_trap();
}

__attribute__((export_name("#lunatic_test_#panic_boom \\# here#panics"))) void panics(void)
{
    printf("thread 'main' panicked at 'boom # here!', src/lib.rs:1:1\n");
    fflush(stdout);
    __builtin_trap();
}

__attribute__((export_name("#lunatic_test_#panic_other#panics_wrongly"))) void panics_wrongly(void)
{
    printf("thread 'main' panicked at 'boom', src/lib.rs:1:1\n");
    fflush(stdout);
    __builtin_trap();
}

static void child_prints(int64_t parent)
{
    printf("output of a child process\n");
    fflush(stdout);
    lun_send((uint64_t)parent, 0, "done", 4);
}

__attribute__((export_name("#lunatic_test_child_output"))) void child_output(void)
{
    printf("output of the test process\n");
    fflush(stdout);
    lun_spawn(child_prints, (int64_t)lun_self());
    lun_received message;
    lun_receive(NULL, 0, 10000, NULL, 0, &message);
    __builtin_trap(); /* fail, so that the output is shown */
}

__attribute__((export_name("#lunatic_test_#ignore_skipped"))) void skipped(void)
{
    printf("ignored test ran\n");
}

__attribute__((export_name("#lunatic_test_own_registry"))) void own_registry(void)
{
    /* Each test has its own registry: nobody registered this before. */
    uint64_t pid;
    if (lun_lookup("test-name", &pid)) __builtin_trap();
    lun_register("test-name", lun_self());
}

__attribute__((export_name("#lunatic_test_own_registry_again"))) void own_registry_again(void)
{
    own_registry();
}

/* The directory of the guest argument "--rendezvous=DIR", or NULL. */
static const char *rendezvous_dir(char *buffer, size_t size)
{
    __wasi_size_t count, bytes;
    uint8_t *args[16];
    if (__wasi_args_sizes_get(&count, &bytes) != 0 || count > 16 || bytes > size ||
        __wasi_args_get(args, (uint8_t *)buffer) != 0)
        return NULL;
    for (__wasi_size_t i = 0; i < count; i++)
        if (strncmp((const char *)args[i], "--rendezvous=", 13) == 0)
            return (const char *)args[i] + 13;
    return NULL;
}

/* Leaves this test's mark in the rendezvous directory and waits (10 s at
 * most) for the other test's: both pass only when they run at the same
 * time. Without the argument (the other runs of this guest) they pass. */
static void rendezvous(const char *mine, const char *theirs)
{
    char args[1024], path[1100];
    const char *dir = rendezvous_dir(args, sizeof args);
    if (dir == NULL) return;
    snprintf(path, sizeof path, "%s/%s", dir, mine);
    FILE *mark = fopen(path, "w");
    if (mark == NULL) __builtin_trap();
    fclose(mark);
    snprintf(path, sizeof path, "%s/%s", dir, theirs);
    for (int i = 0; i < 1000; i++) {
        FILE *other = fopen(path, "r");
        if (other != NULL) {
            fclose(other);
            return;
        }
        lun_sleep_ms(10);
    }
    printf("the other rendezvous test never ran beside this one\n");
    fflush(stdout);
    __builtin_trap();
}

__attribute__((export_name("#lunatic_test_rendezvous_first"))) void rendezvous_first(void)
{
    rendezvous("first", "second");
}

__attribute__((export_name("#lunatic_test_rendezvous_second"))) void rendezvous_second(void)
{
    rendezvous("second", "first");
}

int main(void)
{
    return 0;
}
