/*
 * args_* and environ_*: the process's command line and environment, copied
 * into guest memory as arrays of pointers to NUL-terminated strings.
 */
#include <string.h>

#include "internal.h"

static uint64_t strings_size(char *const *strings, size_t count)
{
    uint64_t size = 0;
    for (size_t i = 0; i < count; i++)
        size += strlen(strings[i]) + 1;
    return size;
}

static int sizes_get(wasi_call *call, char *const *strings, size_t count)
{
    uint32_t count_ptr = wasi_arg_u32(call, 0), size_ptr = wasi_arg_u32(call, 1);
    if (!wasi_memory_ok(call, count_ptr, 4) || !wasi_memory_ok(call, size_ptr, 4))
        return WASI_EFAULT;
    uint64_t size = strings_size(strings, count);
    if (size > UINT32_MAX || count > UINT32_MAX) return WASI_EOVERFLOW;
    wasi_store_u32(wasi_memory_at(call, count_ptr), (uint32_t)count);
    wasi_store_u32(wasi_memory_at(call, size_ptr), (uint32_t)size);
    return WASI_ESUCCESS;
}

static int strings_get(wasi_call *call, char *const *strings, size_t count)
{
    uint32_t pointers = wasi_arg_u32(call, 0), buffer = wasi_arg_u32(call, 1);
    uint64_t size = strings_size(strings, count);
    if (!wasi_memory_ok(call, pointers, (uint64_t)count * 4) || !wasi_memory_ok(call, buffer, size))
        return WASI_EFAULT;
    uint32_t offset = buffer;
    for (size_t i = 0; i < count; i++) {
        size_t length = strlen(strings[i]) + 1;
        wasi_store_u32(wasi_memory_at(call, pointers + (uint32_t)i * 4), offset);
        memcpy(wasi_memory_at(call, offset), strings[i], length);
        offset += (uint32_t)length;
    }
    return WASI_ESUCCESS;
}

static int args_sizes_get(wasi_call *call)
{
    return sizes_get(call, call->ctx->args, call->ctx->arg_count);
}

static int args_get(wasi_call *call)
{
    return strings_get(call, call->ctx->args, call->ctx->arg_count);
}

static int environ_sizes_get(wasi_call *call)
{
    return sizes_get(call, call->ctx->env, call->ctx->env_count);
}

static int environ_get(wasi_call *call)
{
    return strings_get(call, call->ctx->env, call->ctx->env_count);
}

const wasi_function_def wasi_args_functions[] = {
    {"args_get", "i32 i32", "i32", args_get},
    {"args_sizes_get", "i32 i32", "i32", args_sizes_get},
    {"environ_get", "i32 i32", "i32", environ_get},
    {"environ_sizes_get", "i32 i32", "i32", environ_sizes_get},
    {NULL, NULL, NULL, NULL},
};
