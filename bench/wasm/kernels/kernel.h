/*
 * The one entry point every compute kernel defines.
 *
 * A kernel is freestanding C (no libc, no builtins) so that the same source
 * compiles natively and to a bare wasm32 module whose only export is `run`.
 * Natively several kernels are linked into one program (the smoke test), so
 * the build may rename `run` with -DKERNEL_RUN=<name>.
 */
#ifndef BENCH_WASM_KERNEL_H
#define BENCH_WASM_KERNEL_H

#include <stdint.h>

#ifndef KERNEL_RUN
#define KERNEL_RUN run
#endif

/* Does an amount of work that grows with n and returns a checksum of it, the
 * same on every target. */
uint64_t KERNEL_RUN(uint32_t n);

#endif
