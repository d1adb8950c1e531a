/*
 * lunatic::message: the per-process scratch message, sending, and selective
 * receive (docs/lunatic-abi.md §6). Waiting calls register their wait with
 * the core and suspend; the engine runs them again when the process wakes.
 */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"

/* A guest's capacity hint is trusted only this far (it is only a hint). */
enum { MAX_CAPACITY_HINT = 64 * 1024, INLINE_TAGS = 16 };

static void destroy_module(void *resource)
{
    lun_module_free(resource);
}

static const lun_resource_type module_resource = {"module", destroy_module};

lun_message *api_scratch_data(lun_host_call *call, api_process *process, const char *what)
{
    if (process->scratch == NULL) {
        api_trap(call, "%s: no message in the scratch area", what);
        return NULL;
    }
    if (lun_message_get_kind(process->scratch) != LUN_MESSAGE_DATA) {
        api_trap(call, "%s: the scratch message is not a data message", what);
        return NULL;
    }
    return process->scratch;
}

static lun_host_result create_data(lun_host_call *call)
{
    API_PROCESS(call, process);
    uint64_t capacity = api_arg_u64(call, 1);
    if (capacity > MAX_CAPACITY_HINT) capacity = MAX_CAPACITY_HINT;
    lun_message *message = lun_message_new_data(api_arg_i64(call, 0), (size_t)capacity);
    if (message == NULL) return api_trap(call, "out of memory");
    lun_message_free(process->scratch);
    process->scratch = message;
    return LUN_HOST_RETURN;
}

static lun_host_result write_data(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_message *message = api_scratch_data(call, process, "write_data");
    if (message == NULL) return LUN_HOST_TRAP;
    uint32_t length = api_arg_u32(call, 1);
    const uint8_t *bytes = api_guest_bytes(call, api_arg_u32(call, 0), length);
    if (bytes == NULL) return LUN_HOST_TRAP;
    lun_error error;
    if (lun_message_write(message, bytes, length, &error) != LUN_OK)
        return api_trap(call, "write_data: %s", error.message);
    return api_return_i32(call, (int32_t)length);
}

static lun_host_result read_data(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_message *message = api_scratch_data(call, process, "read_data");
    if (message == NULL) return LUN_HOST_TRAP;
    uint32_t length = api_arg_u32(call, 1);
    uint8_t *bytes = api_guest_bytes(call, api_arg_u32(call, 0), length);
    if (bytes == NULL) return LUN_HOST_TRAP;
    size_t read = 0;
    lun_error error;
    if (lun_message_read(message, bytes, length, &read, &error) != LUN_OK)
        return api_trap(call, "read_data: %s", error.message);
    return api_return_i32(call, (int32_t)read);
}

static lun_host_result seek_data(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_message *message = api_scratch_data(call, process, "seek_data");
    if (message == NULL) return LUN_HOST_TRAP;
    uint64_t position = api_arg_u64(call, 0);
    if (position > SIZE_MAX) position = SIZE_MAX;
    lun_message_seek(message, (size_t)position, NULL);
    return LUN_HOST_RETURN;
}

static lun_host_result get_tag(lun_host_call *call)
{
    API_PROCESS(call, process);
    if (process->scratch == NULL) return api_trap(call, "get_tag: no message in the scratch area");
    return api_return_i64(call, lun_message_tag(process->scratch));
}

static lun_host_result get_process_id(lun_host_call *call)
{
    API_PROCESS(call, process);
    if (process->scratch == NULL)
        return api_trap(call, "get_process_id: no message in the scratch area");
    return api_return_i64(call, (int64_t)lun_message_process_id(process->scratch));
}

static lun_host_result data_size(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_message *message = api_scratch_data(call, process, "data_size");
    if (message == NULL) return LUN_HOST_TRAP;
    return api_return_i64(call, (int64_t)lun_message_size(message));
}

static lun_host_result push_module(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_message *message = api_scratch_data(call, process, "push_module");
    if (message == NULL) return LUN_HOST_TRAP;
    api_value value;
    if (process->modules == NULL || !api_table_get(process->modules, api_arg_u64(call, 0), &value))
        return api_trap(call, "push_module: unknown module id %lld",
                        (long long)api_arg_i64(call, 0));
    lun_module *module = lun_module_retain(value.pointer);
    size_t index;
    if (lun_message_push_resource(message, module, &module_resource, &index, NULL) != LUN_OK) {
        lun_module_free(module);
        return api_trap(call, "out of memory");
    }
    return api_return_i64(call, (int64_t)index);
}

static lun_host_result take_module(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_message *message = api_scratch_data(call, process, "take_module");
    if (message == NULL) return LUN_HOST_TRAP;
    api_table *table = api_process_table(process, &process->modules, api_destroy_module);
    if (table == NULL) return api_trap(call, "out of memory");
    uint64_t index = api_arg_u64(call, 0);
    void *resource;
    lun_error error;
    if (index > SIZE_MAX || lun_message_take_resource(message, (size_t)index, &module_resource,
                                                      &resource, &error) != LUN_OK)
        return api_trap(call, "take_module: no module at index %llu", (unsigned long long)index);
    uint64_t id;
    if (!api_table_add(table, (api_value){.pointer = resource}, &id)) {
        lun_module_free(resource);
        return api_trap(call, "out of memory");
    }
    return api_return_i64(call, (int64_t)id);
}

static lun_host_result send_scratch(lun_host_call *call, api_process *process, uint64_t pid)
{
    if (process->scratch == NULL) return api_trap(call, "send: no message in the scratch area");
    lun_message *message = process->scratch;
    process->scratch = NULL;
    lun_signal signal = {.kind = LUN_SIGNAL_MESSAGE, .message = message};
    lun_environment_send(process->environment, pid, &signal, NULL);
    return LUN_HOST_RETURN;
}

static lun_host_result send(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_host_result result = send_scratch(call, process, api_arg_u64(call, 0));
    if (result != LUN_HOST_RETURN) return result;
    return api_return_i32(call, 0);
}

static int64_t core_timeout(int64_t timeout)
{
    return timeout < 0 ? LUN_TIMEOUT_INFINITE : timeout;
}

/* Ends a receive: the message goes into the scratch area. */
static lun_host_result received(lun_host_call *call, api_process *process, lun_status status,
                                lun_message *message)
{
    if (status == LUN_ERR_WOULD_BLOCK) return LUN_HOST_SUSPEND;
    if (status == LUN_ERR_TIMEOUT) return api_return_i32(call, API_TIMEOUT_CODE);
    if (status != LUN_OK) return api_trap(call, "receive: %s", lun_status_name(status));
    lun_message_free(process->scratch);
    process->scratch = message;
    return api_return_i32(call, (int32_t)lun_message_get_kind(message));
}

static lun_host_result send_receive_skip_search(lun_host_call *call)
{
    API_PROCESS(call, process);
    /* A retry (the process was woken) must not send a second time. */
    if (!lun_process_is_waiting(process->self)) {
        lun_host_result result = send_scratch(call, process, api_arg_u64(call, 0));
        if (result != LUN_HOST_RETURN) return result;
    }
    lun_message *message = NULL;
    lun_status status = lun_process_receive_skip_search(
        process->self, api_arg_i64(call, 1), core_timeout(api_arg_i64(call, 2)), &message, NULL);
    return received(call, process, status, message);
}

static lun_host_result receive(lun_host_call *call)
{
    API_PROCESS(call, process);
    uint32_t count = api_arg_u32(call, 1);
    const uint8_t *bytes = api_guest_bytes(call, api_arg_u32(call, 0), (uint64_t)count * 8);
    if (bytes == NULL) return LUN_HOST_TRAP;
    int64_t inline_tags[INLINE_TAGS];
    int64_t *tags = count <= INLINE_TAGS ? inline_tags : malloc((size_t)count * sizeof *tags);
    if (tags == NULL) return api_trap(call, "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        uint64_t tag = 0;
        for (int k = 0; k < 8; k++)
            tag |= (uint64_t)bytes[(size_t)i * 8 + k] << (8 * k);
        tags[i] = (int64_t)tag;
    }
    lun_message *message = NULL;
    lun_status status = lun_process_receive(process->self, tags, count,
                                            core_timeout(api_arg_i64(call, 2)), &message, NULL);
    if (tags != inline_tags) free(tags);
    return received(call, process, status, message);
}

const api_function_def api_message_functions[] = {
    {"create_data", "i64 i64", "", create_data},
    {"write_data", "i32 i32", "i32", write_data},
    {"read_data", "i32 i32", "i32", read_data},
    {"seek_data", "i64", "", seek_data},
    {"get_tag", "", "i64", get_tag},
    {"get_process_id", "", "i64", get_process_id},
    {"data_size", "", "i64", data_size},
    {"push_module", "i64", "i64", push_module},
    {"take_module", "i64", "i64", take_module},
    {"push_tcp_stream", "i64", "i64", api_push_tcp_stream},
    {"take_tcp_stream", "i64", "i64", api_take_tcp_stream},
    {"push_tls_stream", "i64", "i64", api_push_tls_stream},
    {"take_tls_stream", "i64", "i64", api_take_tls_stream},
    {"push_udp_socket", "i64", "i64", api_push_udp_socket},
    {"take_udp_socket", "i64", "i64", api_take_udp_socket},
    {"send", "i64", "i32", send},
    {"send_receive_skip_search", "i64 i64 i64", "i32", send_receive_skip_search},
    {"receive", "i32 i32 i64", "i32", receive},
    {NULL, NULL, NULL, NULL},
};
