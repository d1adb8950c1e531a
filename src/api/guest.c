/*
 * Helpers for host functions: reaching the calling process, bounds-checked
 * access to guest memory, UTF-8 strings, and trap messages.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"

api_process *api_process_of(const lun_host_call *call)
{
    return lun_instance_user_data(call->instance);
}

lun_host_result api_trap(lun_host_call *call, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(call->trap_message, sizeof call->trap_message, format, args);
    va_end(args);
    return LUN_HOST_TRAP;
}

uint8_t *api_guest_bytes(lun_host_call *call, uint32_t pointer, uint64_t length)
{
    lun_memory *memory = lun_instance_memory(call->instance);
    if (memory == NULL) {
        api_trap(call, "the module has no exported memory");
        return NULL;
    }
    uint8_t *bytes = lun_memory_range(memory, pointer, length);
    if (bytes == NULL)
        api_trap(call, "out of bounds memory access (%u + %llu > %zu)", pointer,
                 (unsigned long long)length, lun_memory_size(memory));
    return bytes;
}

bool api_guest_write_u64(lun_host_call *call, uint32_t pointer, uint64_t value)
{
    uint8_t *bytes = api_guest_bytes(call, pointer, 8);
    if (bytes == NULL) return false;
    for (int i = 0; i < 8; i++)
        bytes[i] = (uint8_t)(value >> (8 * i));
    return true;
}

bool api_utf8_valid(const uint8_t *bytes, size_t length)
{
    size_t i = 0;
    while (i < length) {
        uint8_t byte = bytes[i];
        if (byte < 0x80) {
            i++;
            continue;
        }
        size_t extra;
        uint32_t minimum, code;
        if ((byte & 0xE0) == 0xC0) {
            extra = 1, minimum = 0x80, code = byte & 0x1F;
        } else if ((byte & 0xF0) == 0xE0) {
            extra = 2, minimum = 0x800, code = byte & 0x0F;
        } else if ((byte & 0xF8) == 0xF0) {
            extra = 3, minimum = 0x10000, code = byte & 0x07;
        } else {
            return false;
        }
        if (length - i <= extra) return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((bytes[i + k] & 0xC0) != 0x80) return false;
            code = (code << 6) | (bytes[i + k] & 0x3F);
        }
        if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
        i += extra + 1;
    }
    return true;
}

char *api_guest_string(lun_host_call *call, uint32_t pointer, uint32_t length)
{
    const uint8_t *bytes = api_guest_bytes(call, pointer, length);
    if (bytes == NULL) return NULL;
    if (!api_utf8_valid(bytes, length)) {
        api_trap(call, "string is not valid UTF-8");
        return NULL;
    }
    if (memchr(bytes, 0, length) != NULL) {
        api_trap(call, "string contains a NUL character (not supported)");
        return NULL;
    }
    char *copy = malloc((size_t)length + 1);
    if (copy == NULL) {
        api_trap(call, "out of memory");
        return NULL;
    }
    memcpy(copy, bytes, length);
    copy[length] = '\0';
    return copy;
}
