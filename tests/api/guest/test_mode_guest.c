/*
 * Guest of the test-mode tests: exports named like lunatic-rs's
 * #[lunatic::test] functions. Built into .../target/wasm32-wasi/debug/deps/
 * so that `lunatic run` selects test mode when CARGO_MANIFEST_DIR is set.
 */
#include <stdio.h>
#include <stdlib.h>

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

int main(void)
{
    return 0;
}
