/*
 * The C guest SDK: write lunatic processes in C, compiled for wasm32-wasi
 * (clang --target=wasm32-wasi) and linked with liblunatic_guest.a.
 *
 * Two levels:
 *   - lun_sys_*: the raw host imports, exactly as docs/lunatic-abi.md
 *     declares them (module lunatic::process, lunatic::message, ...);
 *   - the rest: small helpers over them — spawn a C function with a 64-bit
 *     argument, send and receive byte messages with tags and timeouts,
 *     request/reply, the registry, timers, configs.
 *
 * Spawning a C function: lun_spawn(entry, argument, ...) spawns the same
 * module with entry "lun_spawn_entry" (exported by this library) and the
 * parameters [i32 table index of `entry`, i64 argument] in lunatic's params
 * encoding; the trampoline calls entry(argument) in the new process. A
 * process's memory is its own: pass data by message, not by pointer.
 *
 * Names start with lun_ (the project's prefix); they live in guest modules
 * only and never meet the runtime's own lun_ symbols.
 */
#ifndef LUNATIC_GUEST_H
#define LUNATIC_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LUN_IMPORT(module, name) __attribute__((import_module(module), import_name(name)))

/* ---- raw imports: lunatic::process ----------------------------------------- */

LUN_IMPORT("lunatic::process", "compile_module")
int32_t lun_sys_compile_module(const void *data, uint32_t length, uint64_t *id);
LUN_IMPORT("lunatic::process", "drop_module") void lun_sys_drop_module(int64_t module_id);
LUN_IMPORT("lunatic::process", "create_config") int64_t lun_sys_create_config(void);
LUN_IMPORT("lunatic::process", "drop_config") void lun_sys_drop_config(int64_t config_id);
LUN_IMPORT("lunatic::process", "config_set_max_memory")
void lun_sys_config_set_max_memory(int64_t config_id, int64_t bytes);
LUN_IMPORT("lunatic::process", "config_get_max_memory")
int64_t lun_sys_config_get_max_memory(int64_t config_id);
LUN_IMPORT("lunatic::process", "config_set_max_fuel")
void lun_sys_config_set_max_fuel(int64_t config_id, int64_t slices);
LUN_IMPORT("lunatic::process", "config_get_max_fuel")
int64_t lun_sys_config_get_max_fuel(int64_t config_id);
LUN_IMPORT("lunatic::process", "config_can_compile_modules")
int32_t lun_sys_config_can_compile_modules(int64_t config_id);
LUN_IMPORT("lunatic::process", "config_set_can_compile_modules")
void lun_sys_config_set_can_compile_modules(int64_t config_id, int32_t flag);
LUN_IMPORT("lunatic::process", "config_can_create_configs")
int32_t lun_sys_config_can_create_configs(int64_t config_id);
LUN_IMPORT("lunatic::process", "config_set_can_create_configs")
void lun_sys_config_set_can_create_configs(int64_t config_id, int32_t flag);
LUN_IMPORT("lunatic::process", "config_can_spawn_processes")
int32_t lun_sys_config_can_spawn_processes(int64_t config_id);
LUN_IMPORT("lunatic::process", "config_set_can_spawn_processes")
void lun_sys_config_set_can_spawn_processes(int64_t config_id, int32_t flag);
LUN_IMPORT("lunatic::process", "spawn")
int32_t lun_sys_spawn(int64_t link, int64_t config_id, int64_t module_id, const char *function,
                      uint32_t function_length, const void *params, uint32_t params_length,
                      uint64_t *id);
LUN_IMPORT("lunatic::process", "get_or_spawn")
int32_t lun_sys_get_or_spawn(const char *name, uint32_t name_length, int64_t link,
                             int64_t config_id, int64_t module_id, const char *function,
                             uint32_t function_length, const void *params, uint32_t params_length,
                             uint64_t *node_id, uint64_t *id);
LUN_IMPORT("lunatic::process", "sleep_ms") void lun_sys_sleep_ms(uint64_t milliseconds);
LUN_IMPORT("lunatic::process", "die_when_link_dies") void lun_sys_die_when_link_dies(int32_t flag);
LUN_IMPORT("lunatic::process", "process_id") uint64_t lun_sys_process_id(void);
LUN_IMPORT("lunatic::process", "environment_id") uint64_t lun_sys_environment_id(void);
LUN_IMPORT("lunatic::process", "link") void lun_sys_link(int64_t tag, uint64_t process_id);
LUN_IMPORT("lunatic::process", "unlink") void lun_sys_unlink(uint64_t process_id);
LUN_IMPORT("lunatic::process", "monitor") void lun_sys_monitor(uint64_t process_id);
LUN_IMPORT("lunatic::process", "stop_monitoring") void lun_sys_stop_monitoring(uint64_t process_id);
LUN_IMPORT("lunatic::process", "kill") void lun_sys_kill(uint64_t process_id);
LUN_IMPORT("lunatic::process", "exists") int32_t lun_sys_exists(uint64_t process_id);

/* ---- raw imports: lunatic::message ------------------------------------------ */

LUN_IMPORT("lunatic::message", "create_data")
void lun_sys_create_data(int64_t tag, uint64_t capacity);
LUN_IMPORT("lunatic::message", "write_data")
uint32_t lun_sys_write_data(const void *data, uint32_t length);
LUN_IMPORT("lunatic::message", "read_data") uint32_t lun_sys_read_data(void *data, uint32_t length);
LUN_IMPORT("lunatic::message", "seek_data") void lun_sys_seek_data(uint64_t position);
LUN_IMPORT("lunatic::message", "get_tag") int64_t lun_sys_get_tag(void);
LUN_IMPORT("lunatic::message", "get_process_id") uint64_t lun_sys_get_process_id(void);
LUN_IMPORT("lunatic::message", "data_size") uint64_t lun_sys_data_size(void);
LUN_IMPORT("lunatic::message", "push_module") uint64_t lun_sys_push_module(int64_t module_id);
LUN_IMPORT("lunatic::message", "take_module") int64_t lun_sys_take_module(uint64_t index);
LUN_IMPORT("lunatic::message", "send") int32_t lun_sys_send(uint64_t process_id);
LUN_IMPORT("lunatic::message", "send_receive_skip_search")
int32_t lun_sys_send_receive_skip_search(uint64_t process_id, int64_t wait_tag, uint64_t timeout);
LUN_IMPORT("lunatic::message", "receive")
int32_t lun_sys_receive(const int64_t *tags, uint32_t tag_count, uint64_t timeout);

/* ---- raw imports: timer, registry, error, version, wasi --------------------- */

LUN_IMPORT("lunatic::timer", "send_after")
int64_t lun_sys_send_after(uint64_t process_id, uint64_t delay_ms);
LUN_IMPORT("lunatic::timer", "cancel_timer") int32_t lun_sys_cancel_timer(int64_t timer_id);
LUN_IMPORT("lunatic::registry", "put")
void lun_sys_registry_put(const char *name, uint32_t length, uint64_t node_id, uint64_t process_id);
LUN_IMPORT("lunatic::registry", "get")
int32_t lun_sys_registry_get(const char *name, uint32_t length, uint64_t *node_id,
                             uint64_t *process_id);
LUN_IMPORT("lunatic::registry", "remove")
void lun_sys_registry_remove(const char *name, uint32_t length);
LUN_IMPORT("lunatic::error", "string_size") uint32_t lun_sys_error_string_size(int64_t error_id);
LUN_IMPORT("lunatic::error", "to_string") void lun_sys_error_to_string(int64_t error_id, char *out);
LUN_IMPORT("lunatic::error", "drop") void lun_sys_error_drop(int64_t error_id);
LUN_IMPORT("lunatic::version", "major") uint32_t lun_sys_version_major(void);
LUN_IMPORT("lunatic::version", "minor") uint32_t lun_sys_version_minor(void);
LUN_IMPORT("lunatic::version", "patch") uint32_t lun_sys_version_patch(void);
LUN_IMPORT("lunatic::wasi", "config_add_environment_variable")
void lun_sys_config_add_environment_variable(int64_t config_id, const char *key,
                                             uint32_t key_length, const char *value,
                                             uint32_t value_length);
LUN_IMPORT("lunatic::wasi", "config_add_command_line_argument")
void lun_sys_config_add_command_line_argument(int64_t config_id, const char *arg, uint32_t length);
LUN_IMPORT("lunatic::wasi", "config_preopen_dir")
void lun_sys_config_preopen_dir(int64_t config_id, const char *dir, uint32_t length);

LUN_IMPORT("lunatic::trap", "catch") int32_t lun_sys_catch(int32_t function, int32_t pointer);

/* ---- helpers ----------------------------------------------------------------- */

/* Results of receive calls (docs/lunatic-abi.md §6). */
enum {
    LUN_DATA = 0,
    LUN_LINK_DIED = 1,
    LUN_PROCESS_DIED = 2,
    LUN_TIMEOUT = 9027,
};

/* Wait forever. */
#define LUN_FOREVER ((int64_t)-1)
/* "The caller's own" config or module, for spawn. */
#define LUN_INHERIT ((int64_t)-1)

typedef void (*lun_entry)(int64_t argument);

typedef struct lun_spawn_options {
    int64_t link_tag;  /* 0: no link; else linked, the child reports this tag */
    int64_t config_id; /* LUN_INHERIT or an id from lun_config_create */
    int64_t module_id; /* LUN_INHERIT or an id from lun_sys_compile_module */
} lun_spawn_options;

/* Spawns entry(argument) as a new process. Returns 0 and the pid in *pid,
 * or 1 and an error id in *pid (instantiation failed). options may be NULL
 * (no link, inherited config and module). */
int lun_spawn_with(lun_entry entry, int64_t argument, const lun_spawn_options *options,
                   uint64_t *pid);
/* Shorthands; return the pid, or 0 when the spawn failed. */
uint64_t lun_spawn(lun_entry entry, int64_t argument);
uint64_t lun_spawn_link(lun_entry entry, int64_t argument, int64_t tag);

static inline uint64_t lun_self(void)
{
    return lun_sys_process_id();
}

/* Links and monitors (docs/lunatic-abi.md §4): a failing linked process
 * kills this one unless lun_die_when_link_dies(false) was called, in which
 * case a LUN_LINK_DIED message carrying the link's tag arrives instead. */
static inline void lun_link(int64_t tag, uint64_t pid)
{
    lun_sys_link(tag, pid);
}

static inline void lun_unlink(uint64_t pid)
{
    lun_sys_unlink(pid);
}

static inline void lun_monitor(uint64_t pid)
{
    lun_sys_monitor(pid);
}

static inline void lun_stop_monitoring(uint64_t pid)
{
    lun_sys_stop_monitoring(pid);
}

static inline void lun_die_when_link_dies(bool flag)
{
    lun_sys_die_when_link_dies(flag);
}

static inline void lun_kill(uint64_t pid)
{
    lun_sys_kill(pid);
}

static inline bool lun_exists(uint64_t pid)
{
    return lun_sys_exists(pid) != 0;
}

/* Sends a data message (tag 0 = none). */
void lun_send(uint64_t pid, int64_t tag, const void *data, size_t length);

typedef struct lun_received {
    int kind;            /* LUN_DATA, LUN_LINK_DIED, LUN_PROCESS_DIED or LUN_TIMEOUT */
    int64_t tag;         /* the message's tag (a LinkDied carries the link's tag) */
    uint64_t process_id; /* the dead process of a ProcessDied */
    size_t size;         /* data bytes in the message */
    size_t copied;       /* data bytes copied into the buffer (at most its capacity) */
} lun_received;

/* Receives the oldest message whose tag is one of tags[0..tag_count) (any
 * message when tag_count is 0), waiting at most timeout_ms (LUN_FOREVER:
 * no limit). Data is copied into buffer. Returns out->kind. */
int lun_receive(const int64_t *tags, size_t tag_count, int64_t timeout_ms, void *buffer,
                size_t capacity, lun_received *out);

/* Request/reply: sends a data message tagged `tag` (which the server
 * should use for its reply; a fresh one from lun_new_tag), then waits for a
 * message with that tag arriving after the send. Returns out->kind. */
int lun_request(uint64_t pid, int64_t tag, const void *data, size_t length, int64_t timeout_ms,
                void *reply, size_t capacity, lun_received *out);
/* A tag not used before by this process (counts up from 1,000,000). */
int64_t lun_new_tag(void);

/* Registry: name -> pid (node 0). lun_lookup returns true when found. */
void lun_register(const char *name, uint64_t pid);
bool lun_lookup(const char *name, uint64_t *pid);
void lun_unregister(const char *name);

/* Timers: deliver a data message after delay_ms; returns the timer id. */
int64_t lun_send_after(uint64_t pid, int64_t tag, const void *data, size_t length,
                       uint64_t delay_ms);
bool lun_cancel_timer(int64_t timer_id);

static inline void lun_sleep_ms(uint64_t milliseconds)
{
    lun_sys_sleep_ms(milliseconds);
}

/* Runs function(argument) behind a trap barrier (lunatic::trap::catch via
 * the exported `_lunatic_catch_trap`): its result, or 0 when it trapped
 * (the process goes on). The function may wait (receive, sleep) and nest
 * further catches. */
typedef int32_t (*lun_catch_fn)(int32_t argument);
static inline int32_t lun_catch(lun_catch_fn function, int32_t argument)
{
    return lun_sys_catch((int32_t)(uintptr_t)function, argument);
}

/* Copies the message of an error id into buffer (NUL-terminated, cut to
 * fit) and drops the error. */
void lun_error_take(int64_t error_id, char *buffer, size_t capacity);

/* Configs (lunatic::process and lunatic::wasi); -1 when not permitted. */
int64_t lun_config_create(void);
void lun_config_add_arg(int64_t config_id, const char *arg);
void lun_config_add_env(int64_t config_id, const char *key, const char *value);
void lun_config_preopen_dir(int64_t config_id, const char *dir);

#ifdef __cplusplus
}
#endif

#endif
