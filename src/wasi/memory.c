/*
 * Reading the guest's strings and iovec arrays out of its linear memory,
 * every pointer and length checked against the memory's current size.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "internal.h"

static bool valid_utf8(const uint8_t *bytes, size_t length)
{
    size_t i = 0;
    while (i < length) {
        uint8_t byte = bytes[i];
        size_t extra;
        uint32_t code;
        if (byte < 0x80) {
            i++;
            continue;
        } else if ((byte & 0xE0) == 0xC0) {
            extra = 1;
            code = byte & 0x1F;
        } else if ((byte & 0xF0) == 0xE0) {
            extra = 2;
            code = byte & 0x0F;
        } else if ((byte & 0xF8) == 0xF0) {
            extra = 3;
            code = byte & 0x07;
        } else {
            return false;
        }
        if (length - i <= extra) return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((bytes[i + k] & 0xC0) != 0x80) return false;
            code = (code << 6) | (bytes[i + k] & 0x3F);
        }
        static const uint32_t smallest[4] = {0, 0x80, 0x800, 0x10000};
        if (code < smallest[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
            return false;
        i += extra + 1;
    }
    return true;
}

uint16_t wasi_read_path(const wasi_call *call, uint32_t ptr, uint32_t length, char **path)
{
    if (!wasi_memory_ok(call, ptr, length)) return WASI_EFAULT;
    if (length >= PATH_MAX) return WASI_ENAMETOOLONG;
    const uint8_t *bytes = wasi_memory_at(call, ptr);
    if (memchr(bytes, 0, length) != NULL || !valid_utf8(bytes, length)) return WASI_EILSEQ;
    char *copy = malloc((size_t)length + 1);
    if (copy == NULL) return WASI_ENOMEM;
    memcpy(copy, bytes, length);
    copy[length] = '\0';
    *path = copy;
    return WASI_ESUCCESS;
}

uint16_t wasi_read_iovecs(const wasi_call *call, uint32_t iovs_ptr, uint32_t iovs_count,
                          struct iovec **iovs, int *count)
{
    if (!wasi_memory_ok(call, iovs_ptr, (uint64_t)iovs_count * WASI_IOVEC_SIZE)) return WASI_EFAULT;
    uint32_t used = iovs_count < IOV_MAX ? iovs_count : IOV_MAX;
    struct iovec *result = malloc((used > 0 ? used : 1) * sizeof *result);
    if (result == NULL) return WASI_ENOMEM;
    /* The byte count goes back to the guest as a u32: keep the total below it. */
    uint64_t budget = INT32_MAX;
    for (uint32_t i = 0; i < used; i++) {
        const uint8_t *record = wasi_memory_at(call, iovs_ptr + i * WASI_IOVEC_SIZE);
        uint32_t buffer = wasi_load_u32(record), length = wasi_load_u32(record + 4);
        if (!wasi_memory_ok(call, buffer, length)) {
            free(result);
            return WASI_EFAULT;
        }
        if (length > budget) length = (uint32_t)budget;
        budget -= length;
        result[i].iov_base = wasi_memory_at(call, buffer);
        result[i].iov_len = length;
    }
    *iovs = result;
    *count = (int)used;
    return WASI_ESUCCESS;
}
