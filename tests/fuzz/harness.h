/*
 * The run harness of the fuzz targets that execute code (fuzz_run,
 * fuzz_body).
 *
 * fuzz_run_module decodes a module and, when it decodes, links it against a
 * small "spectest"-like import set (spectest.print*, global_*, table,
 * memory, plus fuzz.suspend, fuzz.trap and fuzz.increment), instantiates it
 * with bounded memory, call depth and fuel, and runs every exported function
 * with zero-valued arguments: two calls in three in fuel slices
 * (lun_instance_start/run, abandoning a call that does not finish within 20
 * slices), the third at once (lun_instance_call). Whatever the module does,
 * the engine must finish, trap or run out of fuel cleanly; a broken API
 * promise (result count, trap message, memory or fuel limit exceeded) calls
 * __builtin_trap().
 *
 * FUZZ_RUN_VERBOSE=1 in the environment prints what happens to each input.
 */
#ifndef FUZZ_HARNESS_H
#define FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

void fuzz_run_module(const uint8_t *data, size_t size);

#endif
