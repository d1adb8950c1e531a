/*
 * The C guest SDK's helpers over lunatic's host imports (see
 * sdk/include/lunatic_guest.h), and the exported trampoline through which a
 * spawned process starts a C function.
 */
#include <string.h>

#include "lunatic_guest.h"

/* The entry of every process spawned by lun_spawn_with: `function` is the
 * table index of a lun_entry (a C function pointer in wasm32). */
__attribute__((export_name("lun_spawn_entry"))) void lun_spawn_entry(int32_t function,
                                                                     int64_t argument)
{
    lun_entry entry = (lun_entry)(uintptr_t)(uint32_t)function;
    entry(argument);
}

/* Called by the host for lunatic::trap::catch: `function` is the table
 * index of a lun_catch_fn. */
__attribute__((export_name("_lunatic_catch_trap"))) int32_t lun_catch_trap_entry(int32_t function,
                                                                                 int32_t pointer)
{
    lun_catch_fn entry = (lun_catch_fn)(uintptr_t)(uint32_t)function;
    return entry(pointer);
}

/* One record of lunatic's params encoding: type code, 16-byte LE value
 * (wasm32 is little-endian: the value's own bytes are the encoding). */
static void put_param(uint8_t *record, uint8_t type, uint64_t value)
{
    memset(record, 0, 17);
    record[0] = type;
    memcpy(record + 1, &value, sizeof value);
}

int lun_spawn_with(lun_entry entry, int64_t argument, const lun_spawn_options *options,
                   uint64_t *pid)
{
    static const char function[] = "lun_spawn_entry";
    uint8_t params[34];
    put_param(params, 0x7F, (uint32_t)(uintptr_t)entry);
    put_param(params + 17, 0x7E, (uint64_t)argument);
    lun_spawn_options defaults = {0, LUN_INHERIT, LUN_INHERIT};
    if (options == NULL) options = &defaults;
    return lun_sys_spawn(options->link_tag, options->config_id, options->module_id, function,
                         sizeof function - 1, params, sizeof params, pid);
}

uint64_t lun_spawn(lun_entry entry, int64_t argument)
{
    uint64_t pid;
    if (lun_spawn_with(entry, argument, NULL, &pid) != 0) {
        lun_sys_error_drop((int64_t)pid);
        return 0;
    }
    return pid;
}

uint64_t lun_spawn_link(lun_entry entry, int64_t argument, int64_t tag)
{
    lun_spawn_options options = {tag, LUN_INHERIT, LUN_INHERIT};
    uint64_t pid;
    if (lun_spawn_with(entry, argument, &options, &pid) != 0) {
        lun_sys_error_drop((int64_t)pid);
        return 0;
    }
    return pid;
}

static void build(int64_t tag, const void *data, size_t length)
{
    lun_sys_create_data(tag, length);
    if (length > 0) lun_sys_write_data(data, (uint32_t)length);
}

void lun_send(uint64_t pid, int64_t tag, const void *data, size_t length)
{
    build(tag, data, length);
    lun_sys_send(pid);
}

/* Fills out from the message now in the scratch area. */
static int describe(int kind, void *buffer, size_t capacity, lun_received *out)
{
    lun_received result = {.kind = kind};
    if (kind != LUN_TIMEOUT) {
        result.tag = lun_sys_get_tag();
        result.process_id = lun_sys_get_process_id();
        if (kind == LUN_DATA) {
            result.size = (size_t)lun_sys_data_size();
            size_t want = result.size < capacity ? result.size : capacity;
            if (want > 0) result.copied = lun_sys_read_data(buffer, (uint32_t)want);
        }
    }
    if (out != NULL) *out = result;
    return kind;
}

int lun_receive(const int64_t *tags, size_t tag_count, int64_t timeout_ms, void *buffer,
                size_t capacity, lun_received *out)
{
    int kind = lun_sys_receive(tags, (uint32_t)tag_count, (uint64_t)timeout_ms);
    return describe(kind, buffer, capacity, out);
}

int lun_request(uint64_t pid, int64_t tag, const void *data, size_t length, int64_t timeout_ms,
                void *reply, size_t capacity, lun_received *out)
{
    build(tag, data, length);
    /* 0 is read as data: a LinkDied carrying the request's tag would need a
     * link tagged like the request, which lun_new_tag's tags never are. */
    int kind = lun_sys_send_receive_skip_search(pid, tag, (uint64_t)timeout_ms);
    return describe(kind, reply, capacity, out);
}

int64_t lun_new_tag(void)
{
    static int64_t next = 1000000;
    return next++;
}

void lun_register(const char *name, uint64_t pid)
{
    lun_sys_registry_put(name, (uint32_t)strlen(name), 0, pid);
}

bool lun_lookup(const char *name, uint64_t *pid)
{
    uint64_t node;
    return lun_sys_registry_get(name, (uint32_t)strlen(name), &node, pid) == 0;
}

void lun_unregister(const char *name)
{
    lun_sys_registry_remove(name, (uint32_t)strlen(name));
}

int64_t lun_send_after(uint64_t pid, int64_t tag, const void *data, size_t length,
                       uint64_t delay_ms)
{
    build(tag, data, length);
    return lun_sys_send_after(pid, delay_ms);
}

bool lun_cancel_timer(int64_t timer_id)
{
    return lun_sys_cancel_timer(timer_id) == 1;
}

void lun_error_take(int64_t error_id, char *buffer, size_t capacity)
{
    if (capacity == 0) return;
    uint32_t size = lun_sys_error_string_size(error_id);
    char message[size + 1];
    lun_sys_error_to_string(error_id, message);
    size_t copy = size < capacity - 1 ? size : capacity - 1;
    memcpy(buffer, message, copy);
    buffer[copy] = '\0';
    lun_sys_error_drop(error_id);
}

int64_t lun_config_create(void)
{
    return lun_sys_create_config();
}

void lun_config_add_arg(int64_t config_id, const char *arg)
{
    lun_sys_config_add_command_line_argument(config_id, arg, (uint32_t)strlen(arg));
}

void lun_config_add_env(int64_t config_id, const char *key, const char *value)
{
    lun_sys_config_add_environment_variable(config_id, key, (uint32_t)strlen(key), value,
                                            (uint32_t)strlen(value));
}

void lun_config_preopen_dir(int64_t config_id, const char *dir)
{
    lun_sys_config_preopen_dir(config_id, dir, (uint32_t)strlen(dir));
}
