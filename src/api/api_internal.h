/*
 * What the files of the api layer share: the per-process state of a Wasm
 * process, the resource tables, process configurations, the host object and
 * the helpers host functions use to reach guest memory and report traps.
 */
#ifndef LUNATIC_API_INTERNAL_H
#define LUNATIC_API_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lunatic/api.h"
#include "lunatic/core.h"
#include "lunatic/wasi.h"
#include "lunatic/wasm.h"

/* lunatic preempts guest code every 100,000 fuel units; max_fuel counts
 * such slices. */
#define API_FUEL_SLICE     UINT64_C(100000)
#define API_TIMEOUT_CODE   9027
#define API_DEFAULT_MEMORY UINT64_C(4294967295)

/* ---- host function definitions ---------------------------------------------- */

typedef struct api_function_def {
    const char *name;
    const char *params;
    const char *results;
    lun_host_fn function;
} api_function_def;

/* One list per import module, each ended by an entry with a NULL name. */
extern const api_function_def api_process_functions[];
extern const api_function_def api_message_functions[];
extern const api_function_def api_timer_functions[];
extern const api_function_def api_registry_functions[];
extern const api_function_def api_error_functions[];
extern const api_function_def api_version_functions[];
extern const api_function_def api_wasi_config_functions[];
extern const api_function_def api_trap_functions[];
extern const api_function_def api_metrics_functions[];
extern const api_function_def api_distributed_functions[];
extern const api_function_def api_networking_functions[];
extern const api_function_def api_sqlite_functions[];

/* ---- resource tables -------------------------------------------------------- */

/* Ids start at 0, grow by one and are never reused; an open-addressing hash
 * map keeps the live ones so that dropped ids cost nothing. */
typedef union api_value {
    void *pointer;
    uint64_t number;
} api_value;

typedef struct api_table {
    uint64_t next_id;
    size_t count;    /* live entries */
    size_t capacity; /* slots, a power of two, or 0 */
    uint64_t *keys;  /* id + 1; 0 marks an empty slot */
    api_value *values;
    void (*destroy)(void *pointer); /* for pointer values; NULL for numbers */
} api_table;

void api_table_init(api_table *table, void (*destroy)(void *pointer));
void api_table_clear(api_table *table); /* destroys every value, frees the map */
/* Stores value under a new id; false when out of memory (value not taken). */
bool api_table_add(api_table *table, api_value value, uint64_t *id);
bool api_table_get(const api_table *table, uint64_t id, api_value *value);
/* Removes the entry and hands its value back (not destroyed). */
bool api_table_take(api_table *table, uint64_t id, api_value *value);
/* Replaces the value of an existing entry (the old one is not destroyed). */
bool api_table_set(api_table *table, uint64_t id, api_value value);

/* ---- configurations ---------------------------------------------------------- */

typedef struct api_strings {
    char **items;
    size_t count;
    size_t capacity;
} api_strings;

/* lun_process_config: reference counted; shared read-only once more than
 * one holder has it (copy on write in the guest's config table). */
struct lun_process_config {
    atomic_uint references;
    uint64_t max_memory;
    uint64_t max_fuel;
    bool can_compile_modules;
    bool can_create_configs;
    bool can_spawn_processes;
    api_strings args;
    api_strings env_keys;
    api_strings env_values;
    api_strings preopen_names;
    api_strings preopen_paths;
    /* Opened on the first spawn that needs them, then shared by every
     * process spawned with this config. A slot per preopen is made when the
     * preopen is added; spawns (on any thread) only fill slots. */
    _Atomic(lun_wasi_dir *) *dirs;
    size_t dir_capacity;
};

lun_process_config *api_config_copy(const lun_process_config *config);
bool api_strings_push(api_strings *strings, const char *text, size_t length);
/* Opens the config's preopened directories (once per config: the handles
 * are shared by every process spawned with it). */
lun_status api_config_open_dirs(lun_process_config *config, lun_error *error);
/* Builds a WASI context from the config (opens its preopens if needed). */
lun_status api_config_make_wasi(lun_process_config *config, lun_wasi_ctx **ctx, lun_error *error);

/* ---- the host ---------------------------------------------------------------- */

struct lun_host {
    lun_runtime *runtime;
    bool owns_runtime;
    lun_imports *imports;
    lun_wasi_host *wasi;
    lun_func **funcs;
    size_t func_count;
    int (*open_output)(void *context, uint64_t process_id); /* see lun_host_options */
    void *output_context;
    /* The networking context, started by the first networking call (most
     * programs make none); freed after the runtime. */
    pthread_mutex_t net_lock;
    struct lun_net *net;
};

/* The host's networking context, started on first use. */
lun_status api_host_net(lun_host *host, struct lun_net **out, lun_error *error);

/* True when every function import of module is provided by the host set
 * (with a message naming the first that is not). */
lun_status api_host_check_imports(const lun_host *host, const lun_module *module, lun_error *error);

/* ---- Wasm processes ----------------------------------------------------------- */

/* Sockets, DNS iterators and pending networking calls (networking.h). */
typedef struct api_net_state api_net_state;
void api_net_state_free(api_net_state *state); /* NULL: no-op */

typedef struct api_process {
    lun_host *host;
    lun_process *self; /* set by every step; NULL while instantiating */
    lun_environment *environment;
    lun_instance *instance;
    lun_wasi_ctx *wasi; /* built on the first WASI call (most processes make none) */
    lun_process_config *config;
    lun_message *scratch;
    api_table *configs; /* lun_process_config *; created on first use */
    api_table *modules; /* lun_module * */
    api_table *errors;  /* char * */
    api_table *timers;  /* core timer ids (numbers) */
    api_net_state *net; /* created on the first networking call */
    lun_wasm_exit *exit;
    char *entry_error; /* set when the entry function cannot be started */
    bool yield_requested;
    /* A spawn whose instantiation cannot fail is carried out by the first
     * step, on the worker that runs the process (see api_spawn); until
     * then instance is NULL and these hold the request. */
    lun_module *pending_module;
    char *pending_function;
    lun_value *pending_args;
    size_t pending_arg_count;
    lun_instance_config pending_config;
} api_process;

/* The process's WASI context, built from its config on first use; NULL
 * when it cannot be built (out of memory). */
lun_wasi_ctx *api_process_wasi(api_process *process);

/* The process whose instance made the call; NULL while instantiating. */
api_process *api_process_of(const lun_host_call *call);

/* Spawns a Wasm process (the core of lun_host_spawn and of the spawn host
 * functions). On failure *stage says where it failed: a guest's spawn traps
 * when the context could not be built and returns an error id otherwise. */
typedef enum api_spawn_stage {
    API_SPAWN_CONTEXT,  /* building the WASI context (a preopen failed) */
    API_SPAWN_INSTANCE, /* instantiating the module */
    API_SPAWN_PROCESS,  /* spawning the core process */
} api_spawn_stage;

lun_status api_spawn(lun_host *host, const lun_wasm_spawn *spawn, lun_process **out,
                     api_spawn_stage *stage, lun_error *error);

/* A table of the process, created on first use; NULL when out of memory. */
api_table *api_process_table(api_process *process, api_table **slot,
                             void (*destroy)(void *pointer));

/* Destroy functions of the config and module tables. */
void api_destroy_config(void *pointer);
void api_destroy_module(void *pointer);

/* lunatic::message push/take of sockets (networking.c). */
lun_host_result api_push_tcp_stream(lun_host_call *call);
lun_host_result api_take_tcp_stream(lun_host_call *call);
lun_host_result api_push_tls_stream(lun_host_call *call);
lun_host_result api_take_tls_stream(lun_host_call *call);
lun_host_result api_push_udp_socket(lun_host_call *call);
lun_host_result api_take_udp_socket(lun_host_call *call);

/* The caller's scratch message when it is a data message, or NULL after
 * setting the trap message (prefixed with what) (message.c). */
lun_message *api_scratch_data(lun_host_call *call, api_process *process, const char *what);

/* Stores a copy of message as an error resource; false when out of memory. */
bool api_error_add(api_process *process, const char *message, uint64_t *id);

/* ---- host call helpers --------------------------------------------------------- */

lun_host_result api_trap(lun_host_call *call, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* The process of the call, trapping when there is none yet (a host call made
 * by the start function during instantiation). */
#define API_PROCESS(call, process)                                                                 \
    api_process *process = api_process_of(call);                                                   \
    if (process == NULL || process->self == NULL)                                                  \
        return api_trap(call, "lunatic host call during module instantiation");

static inline uint32_t api_arg_u32(const lun_host_call *call, size_t index)
{
    return (uint32_t)call->args[index];
}

static inline int32_t api_arg_i32(const lun_host_call *call, size_t index)
{
    return (int32_t)(uint32_t)call->args[index];
}

static inline uint64_t api_arg_u64(const lun_host_call *call, size_t index)
{
    return call->args[index];
}

static inline int64_t api_arg_i64(const lun_host_call *call, size_t index)
{
    return (int64_t)call->args[index];
}

static inline lun_host_result api_return_i32(lun_host_call *call, int32_t value)
{
    call->results[0] = (uint32_t)value;
    return LUN_HOST_RETURN;
}

static inline lun_host_result api_return_i64(lun_host_call *call, int64_t value)
{
    call->results[0] = (uint64_t)value;
    return LUN_HOST_RETURN;
}

/* Guest memory [pointer, pointer + length), or NULL after setting the call's
 * trap message (out of bounds, or no memory). */
uint8_t *api_guest_bytes(lun_host_call *call, uint32_t pointer, uint64_t length);
bool api_guest_write_u64(lun_host_call *call, uint32_t pointer, uint64_t value);
/* A NUL-terminated copy of a guest UTF-8 string (malloc'ed), or NULL after
 * setting the trap message (bounds, invalid UTF-8, embedded NUL, memory). */
char *api_guest_string(lun_host_call *call, uint32_t pointer, uint32_t length);
bool api_utf8_valid(const uint8_t *bytes, size_t length);

/* A config of the caller's table, or NULL after setting the trap message. */
lun_process_config *api_config_lookup(lun_host_call *call, api_process *process, int64_t id);
/* A config of the caller's table that the caller may edit in place (copied
 * first when it is shared), or NULL after setting the trap message. */
lun_process_config *api_config_for_edit(lun_host_call *call, api_process *process, int64_t id);

/* The shared part of process::spawn and get_or_spawn. Returns LUN_HOST_TRAP,
 * or LUN_HOST_RETURN with *code 0 (child in *child) or 1 (error id in *value). */
lun_host_result api_spawn_from_guest(lun_host_call *call, api_process *process, int64_t link,
                                     int64_t config_id, int64_t module_id, uint32_t func_pointer,
                                     uint32_t func_length, uint32_t params_pointer,
                                     uint32_t params_length, int *code, uint64_t *value);

#endif
