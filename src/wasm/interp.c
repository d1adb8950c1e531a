/*
 * The interpreter: runs the internal code of code.h.
 *
 * One C function executes every Wasm call of a run, with the frames on the
 * instance's own heap stack (no C recursion per Wasm call), dispatching with
 * computed goto. Everything needed to continue lives in the instance when
 * the function returns (out of fuel, a host function suspended), so a run
 * may continue later on any thread. A call into another instance's function
 * runs on this stack with that instance's memory, tables and globals.
 */
/* Wasm arithmetic is exact IEEE: never fuse a multiply and an add into one
 * rounding (the fused handlers below compute both steps). */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "runtime.h"

/* What the engine passes to a host function: the public part first, so that
 * lun_host_call_guest can find the rest. */
typedef struct host_frame {
    lun_host_call call;
    const lun_func *guest_func; /* set by lun_host_call_guest */
    const uint64_t *guest_args;
    lun_guest_outcome outcome;
    const uint64_t *guest_results;
    const char *guest_trap_message;
} host_frame;

lun_status lun_host_call_guest(lun_host_call *call, const lun_func *func, const uint64_t *args,
                               lun_error *error)
{
    if (call == NULL || func == NULL || func->kind != WASM_FUNC_WASM)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT,
                             "a host function can only call a Wasm function");
    if (func->type->result_count > WASM_GUEST_RESULTS_MAX)
        return lun_error_set(error, LUN_ERR_UNSUPPORTED, "a guest call returns at most %d values",
                             WASM_GUEST_RESULTS_MAX);
    if (func->type->param_count > 0 && args == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no arguments for the guest call");
    host_frame *frame = (host_frame *)call;
    frame->guest_func = func;
    frame->guest_args = args;
    return LUN_OK;
}

lun_guest_outcome lun_host_guest_outcome(const lun_host_call *call, const uint64_t **results,
                                         const char **trap_message)
{
    const host_frame *frame = (const host_frame *)call;
    if (results) *results = frame->guest_results;
    if (trap_message) *trap_message = frame->guest_trap_message;
    return frame->outcome;
}

static bool barriers_reserve(lun_instance *instance)
{
    if (instance->guest == NULL) {
        instance->guest = calloc(1, sizeof *instance->guest);
        if (instance->guest == NULL) return false;
    }
    wasm_guest_calls *guest = instance->guest;
    if (guest->barrier_count < guest->barrier_capacity) return true;
    size_t capacity = guest->barrier_capacity ? guest->barrier_capacity * 2 : 4;
    wasm_barrier *barriers = realloc(guest->barriers, capacity * sizeof *barriers);
    if (barriers == NULL) return false;
    guest->barriers = barriers;
    guest->barrier_capacity = capacity;
    return true;
}

static inline float f32_of(uint64_t slot)
{
    uint32_t bits = (uint32_t)slot;
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static inline uint64_t slot_of_f32(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

static inline double f64_of(uint64_t slot)
{
    double value;
    memcpy(&value, &slot, sizeof value);
    return value;
}

static inline uint64_t slot_of_f64(double value)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

/* min and max per the spec: NaN propagates, -0 is below +0. */
static inline float f32_min(float a, float b)
{
    if (a != a || b != b) return a + b;
    if (a == b) return f32_of(slot_of_f32(a) | slot_of_f32(b));
    return a < b ? a : b;
}

static inline float f32_max(float a, float b)
{
    if (a != a || b != b) return a + b;
    if (a == b) return f32_of(slot_of_f32(a) & slot_of_f32(b));
    return a > b ? a : b;
}

static inline double f64_min(double a, double b)
{
    if (a != a || b != b) return a + b;
    if (a == b) return f64_of(slot_of_f64(a) | slot_of_f64(b));
    return a < b ? a : b;
}

static inline double f64_max(double a, double b)
{
    if (a != a || b != b) return a + b;
    if (a == b) return f64_of(slot_of_f64(a) & slot_of_f64(b));
    return a > b ? a : b;
}

static inline uint32_t rotl32(uint32_t x, uint32_t n)
{
    n &= 31;
    return (x << n) | (x >> ((32 - n) & 31));
}

static inline uint32_t rotr32(uint32_t x, uint32_t n)
{
    n &= 31;
    return (x >> n) | (x << ((32 - n) & 31));
}

static inline uint64_t rotl64(uint64_t x, uint64_t n)
{
    n &= 63;
    return (x << n) | (x >> ((64 - n) & 63));
}

static inline uint64_t rotr64(uint64_t x, uint64_t n)
{
    n &= 63;
    return (x >> n) | (x << ((64 - n) & 63));
}

/* Saturating conversions (the trapping ones check the range first and then
 * use the same casts). */
static inline uint64_t sat_i32_s(double x)
{
    if (x != x) return 0;
    if (x <= -2147483648.0) return (uint32_t)INT32_MIN;
    if (x >= 2147483647.0) return (uint32_t)INT32_MAX;
    return (uint32_t)(int32_t)x;
}

static inline uint64_t sat_i32_u(double x)
{
    if (x != x || x <= 0) return 0;
    if (x >= 4294967295.0) return UINT32_MAX;
    return (uint32_t)x;
}

static inline uint64_t sat_i64_s(double x)
{
    if (x != x) return 0;
    if (x < -9223372036854775808.0) return (uint64_t)INT64_MIN;
    if (x >= 9223372036854775808.0) return (uint64_t)INT64_MAX;
    return (uint64_t)(int64_t)x;
}

static inline uint64_t sat_i64_u(double x)
{
    if (x != x || x <= 0) return 0;
    if (x >= 18446744073709551616.0) return UINT64_MAX;
    return (uint64_t)x;
}

/* realloc, except that a buffer in the instance's block is copied out. */
static void *grow_buffer(void *buffer, const void *inline_buffer, size_t used, size_t bytes)
{
    if (buffer != inline_buffer) return realloc(buffer, bytes);
    void *moved = malloc(bytes);
    if (moved != NULL && used > 0) memcpy(moved, buffer, used);
    return moved;
}

bool wasm_stack_reserve(lun_instance *instance, size_t slots)
{
    if (slots <= instance->stack_capacity) return true;
    if (slots > WASM_MAX_STACK_SLOTS) return false;
    size_t capacity = instance->stack_capacity ? instance->stack_capacity : 64;
    while (capacity < slots)
        capacity *= 2;
    if (capacity > WASM_MAX_STACK_SLOTS) capacity = WASM_MAX_STACK_SLOTS;
    uint64_t *stack =
        grow_buffer(instance->stack, instance->inline_stack,
                    instance->stack_capacity * sizeof *stack, capacity * sizeof *stack);
    if (stack == NULL) return false;
    instance->stack = stack;
    instance->stack_capacity = capacity;
    return true;
}

static bool frames_reserve(lun_instance *instance)
{
    if (instance->frame_count < instance->frame_capacity) return true;
    size_t capacity = instance->frame_capacity ? instance->frame_capacity * 2 : 16;
    wasm_frame *frames =
        grow_buffer(instance->frames, instance->inline_frames,
                    instance->frame_capacity * sizeof *frames, capacity * sizeof *frames);
    if (frames == NULL) return false;
    instance->frames = frames;
    instance->frame_capacity = capacity;
    return true;
}

/* false when out of memory. */
static bool element_value(lun_instance *instance, const wasm_const_expr *item, void **value)
{
    switch (item->kind) {
    case WASM_CONST_REF_FUNC:
        *value = wasm_instance_function(instance, item->index);
        return *value != NULL;
    case WASM_CONST_GLOBAL_GET: *value = (void *)(uintptr_t)*instance->globals[item->index]; break;
    default: *value = NULL; break;
    }
    return true;
}

/* The function whose code holds pc (for trap messages), or NULL. */
static const wasm_code *code_at(const lun_module *module, const uint64_t *pc)
{
    for (uint32_t i = 0; i < module->function_count; i++) {
        const wasm_code *code = module->functions[i].compiled;
        if (code != NULL && pc >= code->cells && pc < code->cells + code->cell_count) return code;
    }
    return NULL;
}

static const int32_t *handler_offsets;

/* With instance NULL, only publishes the handler offsets. */
static lun_run_state execute(lun_instance *instance, uint64_t budget, bool lifetime_budget)
{
#define WASM_LABEL_OFFSET(name) (int32_t)((char *)&&L_##name - (char *)&&L_unreachable),
    static const int32_t offsets[] = {WASM_INTERNAL_OPS(WASM_LABEL_OFFSET)};
#undef WASM_LABEL_OFFSET
    if (instance == NULL) {
        handler_offsets = offsets;
        return LUN_RUN_FINISHED;
    }

    lun_instance *const self = instance;
    lun_instance *current = self->current;
    const uint64_t *pc = self->pc;
    uint64_t *stack = self->stack;
    uint64_t *fp = stack + self->fp;
    uint64_t fuel = budget;
    uint32_t max_depth =
        self->config.max_call_depth ? self->config.max_call_depth : LUN_DEFAULT_MAX_CALL_DEPTH;
    uint8_t *memory = NULL;
    uint64_t memory_size = 0;
    uint64_t **globals = NULL;
    const char *trap_reason = NULL;

    /* For the call paths. */
    const lun_func *callee = NULL;
    const wasm_code *callee_code = NULL;
    lun_instance *callee_instance = NULL;
    size_t call_length = 0;
    uint32_t arg_slot = 0;
    uint64_t *stack_end = stack + self->stack_capacity;
    wasm_frame *frame_top = self->frames + self->frame_count;
    wasm_frame *frame_limit =
        self->frames + (self->frame_capacity < max_depth ? self->frame_capacity : max_depth);

#define LOAD_CONTEXT()                                                                             \
    do {                                                                                           \
        globals = current->globals;                                                                \
        memory = current->exec_memory->data;                                                       \
        memory_size = current->exec_memory->size;                                                  \
    } while (0)
/* A store of `length` (at most 8) bytes at `address`: inside the memory's
 * written window (two loads, a subtraction and a comparison: below the
 * window the difference wraps around to a huge number; the window lives in
 * the memory, not in locals, which would cost the loop registers), or
 * inside the memory (the window widens), or a trap. A bulk operation's
 * length may exceed the span, so it compares both ends. */
#define CHECK_STORE(address, length)                                                               \
    do {                                                                                           \
        const lun_memory *window = current->exec_memory;                                           \
        if (__builtin_expect((address)-window->written_low > window->written_span - (length), 0))  \
            WIDEN_WINDOW(address, length);                                                         \
    } while (0)
#define CHECK_BULK_STORE(address, length)                                                          \
    do {                                                                                           \
        const lun_memory *window = current->exec_memory;                                           \
        if ((address) < window->written_low ||                                                     \
            (address) + (length) > window->written_low + window->written_span)                     \
            WIDEN_WINDOW(address, length);                                                         \
    } while (0)
#define WIDEN_WINDOW(address, length)                                                              \
    do {                                                                                           \
        if ((address) + (length) > memory_size) TRAP("out of bounds memory access");               \
        wasm_memory_note_written(current->exec_memory, (address), (length));                       \
    } while (0)
#define SAVE_STATE()                                                                               \
    do {                                                                                           \
        self->pc = pc;                                                                             \
        self->fp = (size_t)(fp - stack);                                                           \
        self->current = current;                                                                   \
        self->frame_count = (size_t)(frame_top - self->frames);                                    \
        self->fuel_used += budget - fuel;                                                          \
        budget = fuel;                                                                             \
    } while (0)
#define X          ((uint32_t)(pc[0] >> 32))
#define LOW1       ((uint32_t)pc[1])
#define HIGH1      ((uint32_t)(pc[1] >> 32))
#define LOW2       ((uint32_t)pc[2])
#define HIGH2      ((uint32_t)(pc[2] >> 32))
#define DISPATCH() goto *(&&L_unreachable + (int32_t)(uint32_t)pc[0])
#define NEXT(n)                                                                                    \
    do {                                                                                           \
        pc += (n);                                                                                 \
        DISPATCH();                                                                                \
    } while (0)
#define TRAP(reason)                                                                               \
    do {                                                                                           \
        trap_reason = (reason);                                                                    \
        goto trap;                                                                                 \
    } while (0)
#define CHARGE_FUEL()                                                                              \
    do {                                                                                           \
        if (__builtin_expect(fuel == 0, 0)) goto out_of_fuel;                                      \
        fuel--;                                                                                    \
    } while (0)

    LOAD_CONTEXT();
    if (self->fuel_pending) {
        /* Paused on a loop back-edge that could not pay: it pays now. */
        if (fuel == 0) goto out_of_fuel;
        fuel--;
        self->fuel_pending = false;
    }
    DISPATCH();

L_unreachable:
    TRAP("unreachable");
L_halt:
    SAVE_STATE();
    self->state = WASM_EXEC_FINISHED;
    return LUN_RUN_FINISHED;
L_nop:
    NEXT(1);

    /* ---- branches ---- */
L_br:
    pc += (int32_t)X;
    DISPATCH();
L_br_if:
    if ((uint32_t)fp[X]) {
        pc += (int64_t)pc[1];
        DISPATCH();
    }
    NEXT(2);
L_br_unless:
    if (!(uint32_t)fp[X]) {
        pc += (int64_t)pc[1];
        DISPATCH();
    }
    NEXT(2);
L_br_table : {
    uint64_t index = (uint32_t)fp[X];
    uint64_t count = pc[1];
    if (index > count) index = count;
    pc += (int64_t)pc[2 + index];
    DISPATCH();
}
L_loop_fuel:
    CHARGE_FUEL();
    NEXT(1);

/* The integer comparisons of the fused compare-and-branch instructions:
 * APPLY(name, compared as, word type, operator). */
#define INTEGER_COMPARES(APPLY)                                                                    \
    APPLY(i32_eq, uint32_t, uint32_t, ==)                                                          \
    APPLY(i32_ne, uint32_t, uint32_t, !=)                                                          \
    APPLY(i32_lt_s, int32_t, uint32_t, <)                                                          \
    APPLY(i32_lt_u, uint32_t, uint32_t, <)                                                         \
    APPLY(i32_gt_s, int32_t, uint32_t, >)                                                          \
    APPLY(i32_gt_u, uint32_t, uint32_t, >)                                                         \
    APPLY(i32_le_s, int32_t, uint32_t, <=)                                                         \
    APPLY(i32_le_u, uint32_t, uint32_t, <=)                                                        \
    APPLY(i32_ge_s, int32_t, uint32_t, >=)                                                         \
    APPLY(i32_ge_u, uint32_t, uint32_t, >=)                                                        \
    APPLY(i64_eq, uint64_t, uint64_t, ==)                                                          \
    APPLY(i64_ne, uint64_t, uint64_t, !=)                                                          \
    APPLY(i64_lt_s, int64_t, uint64_t, <)                                                          \
    APPLY(i64_lt_u, uint64_t, uint64_t, <)                                                         \
    APPLY(i64_gt_s, int64_t, uint64_t, >)                                                          \
    APPLY(i64_gt_u, uint64_t, uint64_t, >)                                                         \
    APPLY(i64_le_s, int64_t, uint64_t, <=)                                                         \
    APPLY(i64_le_u, uint64_t, uint64_t, <=)                                                        \
    APPLY(i64_ge_s, int64_t, uint64_t, >=)                                                         \
    APPLY(i64_ge_u, uint64_t, uint64_t, >=)
#define BRANCH_COMPARE(name, type, word, op)                                                       \
    L_br_##name : if ((type)fp[LOW1] op(type) fp[HIGH1])                                           \
    {                                                                                              \
        pc += (int32_t)X;                                                                          \
        DISPATCH();                                                                                \
    }                                                                                              \
    NEXT(2);
    INTEGER_COMPARES(BRANCH_COMPARE)
#undef BRANCH_COMPARE

    /* Back-edges: the target is a loop body, just after its loop_fuel; when
     * the fuel is spent, pause on that loop_fuel so that resuming charges it. */
#define TAKE_BACK_EDGE(relative)                                                                   \
    do {                                                                                           \
        if (__builtin_expect(fuel == 0, 0)) {                                                      \
            pc += (relative);                                                                      \
            self->fuel_pending = true;                                                             \
            goto out_of_fuel;                                                                      \
        }                                                                                          \
        fuel--;                                                                                    \
        pc += (relative);                                                                          \
        DISPATCH();                                                                                \
    } while (0)
L_br_loop:
    TAKE_BACK_EDGE((int32_t)X);
L_br_if_loop:
    if ((uint32_t)fp[X]) TAKE_BACK_EDGE((int64_t)pc[1]);
    NEXT(2);
L_br_unless_loop:
    if (!(uint32_t)fp[X]) TAKE_BACK_EDGE((int64_t)pc[1]);
    NEXT(2);
#define BRANCH_COMPARE_LOOP(name, type, word, op)                                                  \
    L_br_##name##_loop : if ((type)fp[LOW1] op(type) fp[HIGH1]) TAKE_BACK_EDGE((int32_t)X);        \
    NEXT(2);
    INTEGER_COMPARES(BRANCH_COMPARE_LOOP)
#undef BRANCH_COMPARE_LOOP
#define ADD_BRANCH(name, type, sum_type, op)                                                       \
    L_add_br_##name:                                                                               \
    {                                                                                              \
        sum_type sum = (sum_type)(fp[LOW1] + fp[HIGH1]);                                           \
        fp[LOW2] = sum;                                                                            \
        if ((type)sum op(type) fp[HIGH2]) {                                                        \
            pc += (int32_t)X;                                                                      \
            DISPATCH();                                                                            \
        }                                                                                          \
        NEXT(3);                                                                                   \
    }                                                                                              \
    L_add_br_##name##_loop:                                                                        \
    {                                                                                              \
        sum_type sum = (sum_type)(fp[LOW1] + fp[HIGH1]);                                           \
        fp[LOW2] = sum;                                                                            \
        if ((type)sum op(type) fp[HIGH2]) TAKE_BACK_EDGE((int32_t)X);                              \
        NEXT(3);                                                                                   \
    }
    INTEGER_COMPARES(ADD_BRANCH)
#undef ADD_BRANCH
#undef TAKE_BACK_EDGE
#undef INTEGER_COMPARES

    /* ---- calls ---- */
L_call_local:
    callee_code = (const wasm_code *)(uintptr_t)pc[1];
    callee_instance = current;
    arg_slot = X;
    call_length = 2;
    goto enter_wasm;
L_call_import:
    callee = current->functions[pc[1]];
    arg_slot = X;
    call_length = 2;
    goto call_func;
L_call_func:
    callee = (const lun_func *)(uintptr_t)pc[1];
    arg_slot = X;
    call_length = 2;
    goto call_func;
L_call_indirect : {
    const lun_table *table = current->tables[HIGH1];
    uint32_t index = (uint32_t)fp[pc[2]];
    if (index >= table->size) TRAP("undefined element");
    callee = table->elements[index];
    if (callee == NULL) TRAP("uninitialized element");
    const wasm_functype *expected = &current->module->types[LOW1];
    if (callee->type != expected && !wasm_functype_equal(callee->type, expected))
        TRAP("indirect call type mismatch");
    arg_slot = X;
    call_length = 3;
    goto call_func;
}

call_func:
    if (callee->kind == WASM_FUNC_WASM) {
        callee_code = callee->code;
        callee_instance = callee->instance;
        goto enter_wasm;
    }
    goto call_host;

enter_wasm : {
    CHARGE_FUEL();
    if (__builtin_expect(frame_top >= frame_limit, 0)) {
        size_t depth = (size_t)(frame_top - self->frames);
        if (depth >= max_depth) TRAP("call stack exhausted");
        self->frame_count = depth;
        if (!frames_reserve(self)) TRAP("call stack exhausted");
        frame_top = self->frames + depth;
        frame_limit =
            self->frames + (self->frame_capacity < max_depth ? self->frame_capacity : max_depth);
    }
    uint64_t *new_fp = fp + arg_slot;
    if (__builtin_expect(new_fp + callee_code->frame_size > stack_end, 0)) {
        size_t fp_offset = (size_t)(fp - stack);
        size_t needed = fp_offset + arg_slot + callee_code->frame_size;
        if (!wasm_stack_reserve(self, needed)) TRAP("call stack exhausted");
        stack = self->stack;
        stack_end = stack + self->stack_capacity;
        fp = stack + fp_offset;
        new_fp = fp + arg_slot;
    }
    frame_top->return_pc = pc + call_length;
    frame_top->return_fp = (size_t)(fp - stack);
    frame_top->return_instance = current;
    frame_top++;
    {
        uint64_t *locals = new_fp + callee_code->param_count;
        const uint64_t *init = callee_code->init;
        /* Usually one padded block of slots (an inline copy) or a handful. */
        if (__builtin_expect(callee_code->init_count == WASM_INIT_BLOCK, 1))
            memcpy(locals, init, WASM_INIT_BLOCK * sizeof *locals);
        else
            switch (callee_code->init_count) {
            default: memcpy(locals, init, callee_code->init_count * sizeof *locals); break;
            case 8: locals[7] = init[7]; __attribute__((fallthrough));
            case 7: locals[6] = init[6]; __attribute__((fallthrough));
            case 6: locals[5] = init[5]; __attribute__((fallthrough));
            case 5: locals[4] = init[4]; __attribute__((fallthrough));
            case 4: locals[3] = init[3]; __attribute__((fallthrough));
            case 3: locals[2] = init[2]; __attribute__((fallthrough));
            case 2: locals[1] = init[1]; __attribute__((fallthrough));
            case 1: locals[0] = init[0]; __attribute__((fallthrough));
            case 0: break;
            }
    }
    fp = new_fp;
    pc = callee_code->cells;
    if (callee_instance != current) {
        current = callee_instance;
        LOAD_CONTEXT();
    }
    DISPATCH();
}

call_host : {
    const wasm_functype *type = callee->type;
    size_t base = (size_t)(fp - stack) + arg_slot;
    if (!wasm_stack_reserve(self, base + type->param_count + type->result_count + 1))
        TRAP("call stack exhausted");
    stack = self->stack;
    stack_end = stack + self->stack_capacity;
    fp = stack + (base - arg_slot);
    host_frame frame;
    lun_host_call *call = &frame.call;
    call->instance = current;
    call->data = callee->data;
    call->args = stack + base;
    call->results = stack + base + type->param_count;
    call->trap_message[0] = '\0';
    frame.guest_func = NULL;
    frame.guest_args = NULL;
    frame.outcome = self->guest ? (lun_guest_outcome)self->guest->outcome : LUN_GUEST_NONE;
    frame.guest_results = self->guest ? self->guest->results : NULL;
    frame.guest_trap_message = self->guest ? self->guest->trap_message : NULL;
    SAVE_STATE();
    lun_host_result result = callee->host(call);
    stack = self->stack;
    stack_end = stack + self->stack_capacity;
    fp = stack + (base - arg_slot);
    if (result == LUN_HOST_SUSPEND && frame.guest_func == NULL) {
        self->state = WASM_EXEC_READY;
        return LUN_RUN_SUSPENDED;
    }
    if (self->guest) self->guest->outcome = LUN_GUEST_NONE; /* this attempt consumed it */
    if (result == LUN_HOST_SUSPEND) {
        /* Run the requested guest call behind a barrier; when it ends, this
         * host call runs again. */
        const lun_func *guest = frame.guest_func;
        size_t guest_base = base + type->param_count + type->result_count;
        if (!wasm_stack_reserve(self, guest_base + guest->type->param_count + 1) ||
            !barriers_reserve(self))
            TRAP("call stack exhausted");
        stack = self->stack;
        stack_end = stack + self->stack_capacity;
        fp = stack + (base - arg_slot);
        if (guest->type->param_count > 0)
            memcpy(stack + guest_base, frame.guest_args, guest->type->param_count * sizeof *stack);
        wasm_guest_calls *guest_calls = self->guest;
        wasm_barrier *barrier = &guest_calls->barriers[guest_calls->barrier_count++];
        barrier->host_pc = pc;
        barrier->host_fp = (size_t)(fp - stack);
        barrier->host_instance = current;
        barrier->frame_depth = (size_t)(frame_top - self->frames);
        barrier->results_offset = guest_base;
        barrier->result_count = guest->type->result_count;
        guest_calls->barrier_code[0] = ((uint64_t)(guest_base - (size_t)(fp - stack)) << 32) |
                                       (uint32_t)offsets[WASM_OP_call_func];
        guest_calls->barrier_code[1] = (uint64_t)(uintptr_t)guest;
        guest_calls->barrier_code[2] = (uint32_t)offsets[WASM_OP_barrier_return];
        pc = guest_calls->barrier_code;
        DISPATCH();
    }
    if (result != LUN_HOST_RETURN) {
        snprintf(self->trap_message, sizeof self->trap_message, "%s",
                 call->trap_message[0] ? call->trap_message : "host function trapped");
        trap_reason = NULL;
        goto trap_formatted;
    }
    memmove(stack + base, stack + base + type->param_count, type->result_count * sizeof *stack);
    LOAD_CONTEXT();
    NEXT(call_length);
}

L_barrier_return : {
    /* A guest call made by a host function returned: keep its results and
     * run the host call again. */
    wasm_guest_calls *guest_calls = self->guest;
    wasm_barrier *barrier = &guest_calls->barriers[--guest_calls->barrier_count];
    memcpy(guest_calls->results, stack + barrier->results_offset,
           barrier->result_count * sizeof *stack);
    guest_calls->outcome = LUN_GUEST_RETURNED;
    pc = barrier->host_pc;
    fp = stack + barrier->host_fp;
    current = barrier->host_instance;
    LOAD_CONTEXT();
    DISPATCH();
}

L_return0:
    goto do_return;
L_return1:
    fp[0] = fp[X];
    goto do_return;
L_return_n:
    memmove(fp, fp + X, pc[1] * sizeof *fp);
    goto do_return;
do_return : {
    frame_top--;
    pc = frame_top->return_pc;
    fp = stack + frame_top->return_fp;
    /* A callee of this instance that grew the memory reloaded it itself
     * (memory.grow, host calls and barriers reload the context); another
     * instance may have grown a memory it shares with this one. */
    if (frame_top->return_instance != current) {
        current = frame_top->return_instance;
        LOAD_CONTEXT();
    }
    DISPATCH();
}

    /* ---- values, variables, references ---- */
L_copy:
    fp[X] = fp[pc[1]];
    NEXT(2);
L_select : {
    uint64_t a = fp[LOW1], b = fp[HIGH1];
    fp[X] = (uint32_t)fp[pc[2]] ? a : b;
    NEXT(3);
}
L_global_get:
    fp[X] = *globals[pc[1]];
    NEXT(2);
L_global_set:
    *globals[X] = fp[pc[1]];
    NEXT(2);
L_ref_func : {
    lun_func *f = wasm_instance_function(current, (uint32_t)pc[1]);
    if (f == NULL) TRAP("out of memory");
    fp[X] = (uint64_t)(uintptr_t)f;
    NEXT(2);
}
L_ref_is_null:
    fp[X] = fp[pc[1]] == 0;
    NEXT(2);

    /* ---- tables ---- */
L_table_get : {
    const lun_table *table = current->tables[HIGH1];
    uint32_t index = (uint32_t)fp[LOW1];
    if (index >= table->size) TRAP("out of bounds table access");
    fp[X] = (uint64_t)(uintptr_t)table->elements[index];
    NEXT(2);
}
L_table_set : {
    lun_table *table = current->tables[X];
    uint32_t index = (uint32_t)fp[LOW1];
    if (index >= table->size) TRAP("out of bounds table access");
    table->elements[index] = (void *)(uintptr_t)fp[HIGH1];
    NEXT(2);
}
L_table_size:
    fp[X] = current->tables[pc[1]]->size;
    NEXT(2);
L_table_grow : {
    void *init = (void *)(uintptr_t)fp[LOW1];
    uint32_t count = (uint32_t)fp[HIGH1];
    fp[X] = (uint32_t)wasm_table_grow(current->tables[pc[2]], count, init);
    NEXT(3);
}
L_table_fill : {
    lun_table *table = current->tables[X];
    uint64_t index = (uint32_t)fp[LOW1];
    void *value = (void *)(uintptr_t)fp[HIGH1];
    uint64_t count = (uint32_t)fp[pc[2]];
    if (index + count > table->size) TRAP("out of bounds table access");
    for (uint64_t i = 0; i < count; i++)
        table->elements[index + i] = value;
    NEXT(3);
}
L_table_copy : {
    lun_table *target = current->tables[X];
    lun_table *source = current->tables[HIGH2];
    uint64_t d = (uint32_t)fp[LOW1], s = (uint32_t)fp[HIGH1], n = (uint32_t)fp[LOW2];
    if (s + n > source->size || d + n > target->size) TRAP("out of bounds table access");
    memmove(target->elements + d, source->elements + s, n * sizeof(void *));
    NEXT(3);
}
L_table_init : {
    lun_table *table = current->tables[X];
    const wasm_element *segment = &current->module->elements[HIGH2];
    uint64_t d = (uint32_t)fp[LOW1], s = (uint32_t)fp[HIGH1], n = (uint32_t)fp[LOW2];
    uint64_t length = current->element_dropped[HIGH2] ? 0 : segment->item_count;
    if (s + n > length || d + n > table->size) TRAP("out of bounds table access");
    for (uint64_t i = 0; i < n; i++)
        if (!element_value(current, &segment->items[s + i], &table->elements[d + i]))
            TRAP("out of memory");
    NEXT(3);
}
L_elem_drop:
    current->element_dropped[X] = true;
    NEXT(1);

    /* ---- memory ---- */
L_memory_size:
    fp[X] = memory_size / WASM_PAGE_SIZE;
    NEXT(1);
L_memory_grow : {
    uint32_t pages = (uint32_t)fp[pc[1]];
    int32_t old = current->memory ? wasm_memory_grow(current->memory, pages) : -1;
    LOAD_CONTEXT();
    fp[X] = (uint32_t)old;
    NEXT(2);
}
L_memory_init : {
    const wasm_data *segment = &current->module->data_segments[X];
    uint64_t d = (uint32_t)fp[LOW1], s = (uint32_t)fp[HIGH1], n = (uint32_t)fp[pc[2]];
    uint64_t length = current->data_dropped[X] ? 0 : segment->size;
    if (s + n > length || d + n > memory_size) TRAP("out of bounds memory access");
    if (n) {
        CHECK_BULK_STORE(d, n);
        memcpy(memory + d, segment->bytes + s, n);
    }
    NEXT(3);
}
L_data_drop:
    current->data_dropped[X] = true;
    NEXT(1);
L_memory_copy : {
    uint64_t d = (uint32_t)fp[X], s = (uint32_t)fp[LOW1], n = (uint32_t)fp[HIGH1];
    if (s + n > memory_size || d + n > memory_size) TRAP("out of bounds memory access");
    if (n) {
        CHECK_BULK_STORE(d, n);
        memmove(memory + d, memory + s, n);
    }
    NEXT(2);
}
L_memory_fill : {
    uint64_t d = (uint32_t)fp[X], n = (uint32_t)fp[HIGH1];
    uint8_t value = (uint8_t)fp[LOW1];
    if (d + n > memory_size) TRAP("out of bounds memory access");
    if (n) {
        CHECK_BULK_STORE(d, n);
        memset(memory + d, value, n);
    }
    NEXT(2);
}

#define LOAD(name, type, convert)                                                                  \
    L_##name:                                                                                      \
    {                                                                                              \
        uint64_t address = (uint64_t)(uint32_t)fp[LOW1] + HIGH1;                                   \
        if (__builtin_expect(address + sizeof(type) > memory_size, 0))                             \
            TRAP("out of bounds memory access");                                                   \
        type value;                                                                                \
        memcpy(&value, memory + address, sizeof value);                                            \
        fp[X] = convert;                                                                           \
        NEXT(2);                                                                                   \
    }
    LOAD(i32_load, uint32_t, value)
    LOAD(i64_load, uint64_t, value)
    LOAD(i32_load8_s, int8_t, (uint32_t)(int32_t)value)
    LOAD(i32_load8_u, uint8_t, value)
    LOAD(i32_load16_s, int16_t, (uint32_t)(int32_t)value)
    LOAD(i32_load16_u, uint16_t, value)
    LOAD(i64_load8_s, int8_t, (uint64_t)(int64_t)value)
    LOAD(i64_load8_u, uint8_t, value)
    LOAD(i64_load16_s, int16_t, (uint64_t)(int64_t)value)
    LOAD(i64_load16_u, uint16_t, value)
    LOAD(i64_load32_s, int32_t, (uint64_t)(int64_t)value)
    LOAD(i64_load32_u, uint32_t, value)
#undef LOAD

#define STORE(name, type)                                                                          \
    L_##name:                                                                                      \
    {                                                                                              \
        uint64_t address = (uint64_t)(uint32_t)fp[X] + HIGH1;                                      \
        CHECK_STORE(address, sizeof(type));                                                        \
        type value = (type)fp[LOW1];                                                               \
        memcpy(memory + address, &value, sizeof value);                                            \
        NEXT(2);                                                                                   \
    }
    STORE(i32_store, uint32_t)
    STORE(i64_store, uint64_t)
    STORE(i32_store8, uint8_t)
    STORE(i32_store16, uint16_t)
#undef STORE
#define STORE_THEN_ADD(name, type)                                                                 \
    L_##name:                                                                                      \
    {                                                                                              \
        uint64_t address = (uint64_t)(uint32_t)fp[LOW2] + (uint32_t)pc[3];                         \
        CHECK_STORE(address, sizeof(type));                                                        \
        type value = (type)fp[HIGH2];                                                              \
        memcpy(memory + address, &value, sizeof value);                                            \
        fp[X] = (uint32_t)(fp[LOW1] + fp[HIGH1]);                                                  \
        NEXT(4);                                                                                   \
    }
    STORE_THEN_ADD(i32_store8_then_add, uint8_t)
    STORE_THEN_ADD(i32_store_then_add, uint32_t)
    STORE_THEN_ADD(i64_store_then_add, uint64_t)
#undef STORE_THEN_ADD

    /* ---- numbers ---- */
#define UNARY(name, type, expr)                                                                    \
    L_##name:                                                                                      \
    {                                                                                              \
        type a = (type)fp[pc[1]];                                                                  \
        fp[X] = (expr);                                                                            \
        NEXT(2);                                                                                   \
    }
#define BINARY(name, type, expr)                                                                   \
    L_##name:                                                                                      \
    {                                                                                              \
        type a = (type)fp[LOW1];                                                                   \
        type b = (type)fp[HIGH1];                                                                  \
        fp[X] = (expr);                                                                            \
        NEXT(2);                                                                                   \
    }
#define UNARY_F32(name, expr)                                                                      \
    L_##name:                                                                                      \
    {                                                                                              \
        float a = f32_of(fp[pc[1]]);                                                               \
        fp[X] = slot_of_f32(expr);                                                                 \
        NEXT(2);                                                                                   \
    }
#define UNARY_F64(name, expr)                                                                      \
    L_##name:                                                                                      \
    {                                                                                              \
        double a = f64_of(fp[pc[1]]);                                                              \
        fp[X] = slot_of_f64(expr);                                                                 \
        NEXT(2);                                                                                   \
    }
#define BINARY_F32(name, expr)                                                                     \
    L_##name:                                                                                      \
    {                                                                                              \
        float a = f32_of(fp[LOW1]);                                                                \
        float b = f32_of(fp[HIGH1]);                                                               \
        fp[X] = slot_of_f32(expr);                                                                 \
        NEXT(2);                                                                                   \
    }
#define BINARY_F64(name, expr)                                                                     \
    L_##name:                                                                                      \
    {                                                                                              \
        double a = f64_of(fp[LOW1]);                                                               \
        double b = f64_of(fp[HIGH1]);                                                              \
        fp[X] = slot_of_f64(expr);                                                                 \
        NEXT(2);                                                                                   \
    }
#define COMPARE_F32(name, op)                                                                      \
    L_##name:                                                                                      \
    {                                                                                              \
        float a = f32_of(fp[LOW1]);                                                                \
        float b = f32_of(fp[HIGH1]);                                                               \
        fp[X] = a op b;                                                                            \
        NEXT(2);                                                                                   \
    }
#define COMPARE_F64(name, op)                                                                      \
    L_##name:                                                                                      \
    {                                                                                              \
        double a = f64_of(fp[LOW1]);                                                               \
        double b = f64_of(fp[HIGH1]);                                                              \
        fp[X] = a op b;                                                                            \
        NEXT(2);                                                                                   \
    }

    UNARY(i32_eqz, uint32_t, a == 0)
    BINARY(i32_eq, uint32_t, a == b)
    BINARY(i32_ne, uint32_t, a != b)
    BINARY(i32_lt_s, uint32_t, (int32_t)a < (int32_t)b)
    BINARY(i32_lt_u, uint32_t, a < b)
    BINARY(i32_gt_s, uint32_t, (int32_t)a > (int32_t)b)
    BINARY(i32_gt_u, uint32_t, a > b)
    BINARY(i32_le_s, uint32_t, (int32_t)a <= (int32_t)b)
    BINARY(i32_le_u, uint32_t, a <= b)
    BINARY(i32_ge_s, uint32_t, (int32_t)a >= (int32_t)b)
    BINARY(i32_ge_u, uint32_t, a >= b)
    UNARY(i64_eqz, uint64_t, a == 0)
    BINARY(i64_eq, uint64_t, a == b)
    BINARY(i64_ne, uint64_t, a != b)
    BINARY(i64_lt_s, uint64_t, (int64_t)a < (int64_t)b)
    BINARY(i64_lt_u, uint64_t, a < b)
    BINARY(i64_gt_s, uint64_t, (int64_t)a > (int64_t)b)
    BINARY(i64_gt_u, uint64_t, a > b)
    BINARY(i64_le_s, uint64_t, (int64_t)a <= (int64_t)b)
    BINARY(i64_le_u, uint64_t, a <= b)
    BINARY(i64_ge_s, uint64_t, (int64_t)a >= (int64_t)b)
    BINARY(i64_ge_u, uint64_t, a >= b)
    COMPARE_F32(f32_eq, ==)
    COMPARE_F32(f32_ne, !=)
    COMPARE_F32(f32_lt, <)
    COMPARE_F32(f32_gt, >)
    COMPARE_F32(f32_le, <=)
    COMPARE_F32(f32_ge, >=)
    COMPARE_F64(f64_eq, ==)
    COMPARE_F64(f64_ne, !=)
    COMPARE_F64(f64_lt, <)
    COMPARE_F64(f64_gt, >)
    COMPARE_F64(f64_le, <=)
    COMPARE_F64(f64_ge, >=)

    UNARY(i32_clz, uint32_t, (uint32_t)(a ? __builtin_clz(a) : 32))
    UNARY(i32_ctz, uint32_t, (uint32_t)(a ? __builtin_ctz(a) : 32))
    UNARY(i32_popcnt, uint32_t, (uint32_t)__builtin_popcount(a))
    BINARY(i32_add, uint32_t, (uint32_t)(a + b))
    BINARY(i32_sub, uint32_t, (uint32_t)(a - b))
    BINARY(i32_mul, uint32_t, (uint32_t)(a * b))
L_i32_div_s : {
    int32_t a = (int32_t)fp[LOW1], b = (int32_t)fp[HIGH1];
    if (b == 0) TRAP("integer divide by zero");
    if (a == INT32_MIN && b == -1) TRAP("integer overflow");
    fp[X] = (uint32_t)(a / b);
    NEXT(2);
}
L_i32_div_u : {
    uint32_t a = (uint32_t)fp[LOW1], b = (uint32_t)fp[HIGH1];
    if (b == 0) TRAP("integer divide by zero");
    fp[X] = a / b;
    NEXT(2);
}
L_i32_rem_s : {
    int32_t a = (int32_t)fp[LOW1], b = (int32_t)fp[HIGH1];
    if (b == 0) TRAP("integer divide by zero");
    fp[X] = b == -1 ? 0 : (uint32_t)(a % b);
    NEXT(2);
}
L_i32_rem_u : {
    uint32_t a = (uint32_t)fp[LOW1], b = (uint32_t)fp[HIGH1];
    if (b == 0) TRAP("integer divide by zero");
    fp[X] = a % b;
    NEXT(2);
}
    BINARY(i32_and, uint32_t, a & b)
    BINARY(i32_or, uint32_t, a | b)
    BINARY(i32_xor, uint32_t, a ^ b)
    BINARY(i32_shl, uint32_t, (uint32_t)(a << (b & 31)))
    BINARY(i32_shr_s, uint32_t, (uint32_t)((int32_t)a >> (b & 31)))
    BINARY(i32_shr_u, uint32_t, a >> (b & 31))
    BINARY(i32_rotl, uint32_t, rotl32(a, b))
    BINARY(i32_rotr, uint32_t, rotr32(a, b))

    UNARY(i64_clz, uint64_t, (uint64_t)(a ? __builtin_clzll(a) : 64))
    UNARY(i64_ctz, uint64_t, (uint64_t)(a ? __builtin_ctzll(a) : 64))
    UNARY(i64_popcnt, uint64_t, (uint64_t)__builtin_popcountll(a))
    BINARY(i64_add, uint64_t, a + b)
    BINARY(i64_sub, uint64_t, a - b)
    BINARY(i64_mul, uint64_t, a * b)
L_i64_div_s : {
    int64_t a = (int64_t)fp[LOW1], b = (int64_t)fp[HIGH1];
    if (b == 0) TRAP("integer divide by zero");
    if (a == INT64_MIN && b == -1) TRAP("integer overflow");
    fp[X] = (uint64_t)(a / b);
    NEXT(2);
}
L_i64_div_u : {
    uint64_t a = fp[LOW1], b = fp[HIGH1];
    if (b == 0) TRAP("integer divide by zero");
    fp[X] = a / b;
    NEXT(2);
}
L_i64_rem_s : {
    int64_t a = (int64_t)fp[LOW1], b = (int64_t)fp[HIGH1];
    if (b == 0) TRAP("integer divide by zero");
    fp[X] = b == -1 ? 0 : (uint64_t)(a % b);
    NEXT(2);
}
L_i64_rem_u : {
    uint64_t a = fp[LOW1], b = fp[HIGH1];
    if (b == 0) TRAP("integer divide by zero");
    fp[X] = a % b;
    NEXT(2);
}
    BINARY(i64_and, uint64_t, a & b)
    BINARY(i64_or, uint64_t, a | b)
    BINARY(i64_xor, uint64_t, a ^ b)
    BINARY(i64_shl, uint64_t, a << (b & 63))
    BINARY(i64_shr_s, uint64_t, (uint64_t)((int64_t)a >> (b & 63)))
    BINARY(i64_shr_u, uint64_t, a >> (b & 63))
    BINARY(i64_rotl, uint64_t, rotl64(a, b))
    BINARY(i64_rotr, uint64_t, rotr64(a, b))

L_f32_abs:
    fp[X] = (uint32_t)fp[pc[1]] & 0x7FFFFFFFu;
    NEXT(2);
L_f32_neg:
    fp[X] = (uint32_t)fp[pc[1]] ^ 0x80000000u;
    NEXT(2);
    UNARY_F32(f32_ceil, a != a ? a + a : ceilf(a))
    UNARY_F32(f32_floor, a != a ? a + a : floorf(a))
    UNARY_F32(f32_trunc, a != a ? a + a : truncf(a))
    UNARY_F32(f32_nearest, a != a ? a + a : nearbyintf(a))
    UNARY_F32(f32_sqrt, sqrtf(a))
    BINARY_F32(f32_add, a + b)
    BINARY_F32(f32_sub, a - b)
    BINARY_F32(f32_mul, a * b)
    BINARY_F32(f32_div, a / b)
    BINARY_F32(f32_min, f32_min(a, b))
    BINARY_F32(f32_max, f32_max(a, b))
L_f32_copysign:
    fp[X] = ((uint32_t)fp[LOW1] & 0x7FFFFFFFu) | ((uint32_t)fp[HIGH1] & 0x80000000u);
    NEXT(2);
L_f64_abs:
    fp[X] = fp[pc[1]] & 0x7FFFFFFFFFFFFFFFull;
    NEXT(2);
L_f64_neg:
    fp[X] = fp[pc[1]] ^ 0x8000000000000000ull;
    NEXT(2);
    UNARY_F64(f64_ceil, a != a ? a + a : ceil(a))
    UNARY_F64(f64_floor, a != a ? a + a : floor(a))
    UNARY_F64(f64_trunc, a != a ? a + a : trunc(a))
    UNARY_F64(f64_nearest, a != a ? a + a : nearbyint(a))
    UNARY_F64(f64_sqrt, sqrt(a))
    BINARY_F64(f64_add, a + b)
    BINARY_F64(f64_sub, a - b)
    BINARY_F64(f64_mul, a * b)
    BINARY_F64(f64_div, a / b)
    BINARY_F64(f64_min, f64_min(a, b))
    BINARY_F64(f64_max, f64_max(a, b))
L_f64_copysign:
    fp[X] = (fp[LOW1] & 0x7FFFFFFFFFFFFFFFull) | (fp[HIGH1] & 0x8000000000000000ull);
    NEXT(2);

    /* ---- conversions ---- */
    UNARY(i32_wrap_i64, uint64_t, (uint32_t)a)
#define TRUNC(name, from, convert, low_ok, high_ok, cast)                                          \
    L_##name:                                                                                      \
    {                                                                                              \
        from a = convert(fp[pc[1]]);                                                               \
        if (a != a) TRAP("invalid conversion to integer");                                         \
        if (!((low_ok) && (high_ok))) TRAP("integer overflow");                                    \
        fp[X] = cast;                                                                              \
        NEXT(2);                                                                                   \
    }
    TRUNC(i32_trunc_f32_s, float, f32_of, a >= -2147483648.0f, a < 2147483648.0f,
          (uint32_t)(int32_t)a)
    TRUNC(i32_trunc_f32_u, float, f32_of, a > -1.0f, a < 4294967296.0f, (uint32_t)a)
    TRUNC(i32_trunc_f64_s, double, f64_of, a > -2147483649.0, a < 2147483648.0,
          (uint32_t)(int32_t)a)
    TRUNC(i32_trunc_f64_u, double, f64_of, a > -1.0, a < 4294967296.0, (uint32_t)a)
    UNARY(i64_extend_i32_s, uint32_t, (uint64_t)(int64_t)(int32_t)a)
    UNARY(i64_extend_i32_u, uint32_t, (uint64_t)a)
    TRUNC(i64_trunc_f32_s, float, f32_of, a >= -9223372036854775808.0f, a < 9223372036854775808.0f,
          (uint64_t)(int64_t)a)
    TRUNC(i64_trunc_f32_u, float, f32_of, a > -1.0f, a < 18446744073709551616.0f, (uint64_t)a)
    TRUNC(i64_trunc_f64_s, double, f64_of, a >= -9223372036854775808.0, a < 9223372036854775808.0,
          (uint64_t)(int64_t)a)
    TRUNC(i64_trunc_f64_u, double, f64_of, a > -1.0, a < 18446744073709551616.0, (uint64_t)a)
#undef TRUNC
    UNARY(f32_convert_i32_s, uint32_t, slot_of_f32((float)(int32_t)a))
    UNARY(f32_convert_i32_u, uint32_t, slot_of_f32((float)a))
    UNARY(f32_convert_i64_s, uint64_t, slot_of_f32((float)(int64_t)a))
    UNARY(f32_convert_i64_u, uint64_t, slot_of_f32((float)a))
    UNARY(f32_demote_f64, uint64_t, slot_of_f32((float)f64_of(a)))
    UNARY(f64_convert_i32_s, uint32_t, slot_of_f64((double)(int32_t)a))
    UNARY(f64_convert_i32_u, uint32_t, slot_of_f64((double)a))
    UNARY(f64_convert_i64_s, uint64_t, slot_of_f64((double)(int64_t)a))
    UNARY(f64_convert_i64_u, uint64_t, slot_of_f64((double)a))
    UNARY(f64_promote_f32, uint64_t, slot_of_f64((double)f32_of(a)))
    UNARY(i32_extend8_s, uint32_t, (uint32_t)(int32_t)(int8_t)a)
    UNARY(i32_extend16_s, uint32_t, (uint32_t)(int32_t)(int16_t)a)
    UNARY(i64_extend8_s, uint64_t, (uint64_t)(int64_t)(int8_t)a)
    UNARY(i64_extend16_s, uint64_t, (uint64_t)(int64_t)(int16_t)a)
    UNARY(i64_extend32_s, uint64_t, (uint64_t)(int64_t)(int32_t)a)
    UNARY(i32_trunc_sat_f32_s, uint64_t, sat_i32_s(f32_of(a)))
    UNARY(i32_trunc_sat_f32_u, uint64_t, sat_i32_u(f32_of(a)))
    UNARY(i32_trunc_sat_f64_s, uint64_t, sat_i32_s(f64_of(a)))
    UNARY(i32_trunc_sat_f64_u, uint64_t, sat_i32_u(f64_of(a)))
    UNARY(i64_trunc_sat_f32_s, uint64_t, sat_i64_s(f32_of(a)))
    UNARY(i64_trunc_sat_f32_u, uint64_t, sat_i64_u(f32_of(a)))
    UNARY(i64_trunc_sat_f64_s, uint64_t, sat_i64_s(f64_of(a)))
    UNARY(i64_trunc_sat_f64_u, uint64_t, sat_i64_u(f64_of(a)))

L_f32_mul_add:
    fp[X] = slot_of_f32(f32_of(fp[LOW1]) + f32_of(fp[HIGH1]) * f32_of(fp[pc[2]]));
    NEXT(3);
L_f32_mul_sub:
    fp[X] = slot_of_f32(f32_of(fp[LOW1]) - f32_of(fp[HIGH1]) * f32_of(fp[pc[2]]));
    NEXT(3);
L_f64_mul_add:
    fp[X] = slot_of_f64(f64_of(fp[LOW1]) + f64_of(fp[HIGH1]) * f64_of(fp[pc[2]]));
    NEXT(3);
L_f64_mul_sub:
    fp[X] = slot_of_f64(f64_of(fp[LOW1]) - f64_of(fp[HIGH1]) * f64_of(fp[pc[2]]));
    NEXT(3);

    /* The address slot is read before dst is written: they may be one slot. */
#define MUL_ADD_STORE(name, type, of, slot_of, store_type, op)                                     \
    L_##name:                                                                                      \
    {                                                                                              \
        uint64_t address = (uint64_t)(uint32_t)fp[HIGH2] + (uint32_t)pc[3];                        \
        uint64_t result = slot_of(of(fp[LOW1]) op of(fp[HIGH1]) * of(fp[LOW2]));                   \
        fp[X] = result;                                                                            \
        CHECK_STORE(address, sizeof(store_type));                                                  \
        store_type stored = (store_type)result;                                                    \
        memcpy(memory + address, &stored, sizeof stored);                                          \
        NEXT(4);                                                                                   \
    }
    MUL_ADD_STORE(f64_mul_add_store, double, f64_of, slot_of_f64, uint64_t, +)
    MUL_ADD_STORE(f64_mul_sub_store, double, f64_of, slot_of_f64, uint64_t, -)
    MUL_ADD_STORE(f32_mul_add_store, float, f32_of, slot_of_f32, uint32_t, +)
    MUL_ADD_STORE(f32_mul_sub_store, float, f32_of, slot_of_f32, uint32_t, -)
#undef MUL_ADD_STORE
#define BINARY_STORE(name, of, slot_of, store_type, op)                                            \
    L_##name:                                                                                      \
    {                                                                                              \
        uint64_t address = (uint64_t)(uint32_t)fp[LOW2] + HIGH2;                                   \
        uint64_t result = slot_of(of(fp[LOW1]) op of(fp[HIGH1]));                                  \
        fp[X] = result;                                                                            \
        CHECK_STORE(address, sizeof(store_type));                                                  \
        store_type stored = (store_type)result;                                                    \
        memcpy(memory + address, &stored, sizeof stored);                                          \
        NEXT(3);                                                                                   \
    }
    BINARY_STORE(f64_add_store, f64_of, slot_of_f64, uint64_t, +)
    BINARY_STORE(f64_sub_store, f64_of, slot_of_f64, uint64_t, -)
    BINARY_STORE(f64_mul_store, f64_of, slot_of_f64, uint64_t, *)
    BINARY_STORE(f32_add_store, f32_of, slot_of_f32, uint32_t, +)
    BINARY_STORE(f32_sub_store, f32_of, slot_of_f32, uint32_t, -)
    BINARY_STORE(f32_mul_store, f32_of, slot_of_f32, uint32_t, *)
#undef BINARY_STORE

#define BINARY_LOAD(name, op)                                                                      \
    L_##name:                                                                                      \
    {                                                                                              \
        uint64_t address = (uint64_t)(uint32_t)fp[HIGH1] + (uint32_t)pc[2];                        \
        if (__builtin_expect(address + sizeof(uint64_t) > memory_size, 0))                         \
            TRAP("out of bounds memory access");                                                   \
        uint64_t loaded;                                                                           \
        memcpy(&loaded, memory + address, sizeof loaded);                                          \
        fp[X] = slot_of_f64(f64_of(fp[LOW1]) op f64_of(loaded));                                   \
        NEXT(3);                                                                                   \
    }
    BINARY_LOAD(f64_add_load, +)
    BINARY_LOAD(f64_sub_load, -)
#undef BINARY_LOAD
#define BINARY_LOAD_ADD(name, op)                                                                  \
    L_##name:                                                                                      \
    {                                                                                              \
        uint64_t address = (uint64_t)(uint32_t)(fp[HIGH1] + fp[LOW2]) + HIGH2;                     \
        if (__builtin_expect(address + sizeof(uint64_t) > memory_size, 0))                         \
            TRAP("out of bounds memory access");                                                   \
        uint64_t loaded;                                                                           \
        memcpy(&loaded, memory + address, sizeof loaded);                                          \
        fp[X] = slot_of_f64(f64_of(fp[LOW1]) op f64_of(loaded));                                   \
        NEXT(3);                                                                                   \
    }
    BINARY_LOAD_ADD(f64_add_load_add, +)
    BINARY_LOAD_ADD(f64_sub_load_add, -)
#undef BINARY_LOAD_ADD

#define LOW3  ((uint32_t)pc[3])
#define HIGH3 ((uint32_t)(pc[3] >> 32))
    /* The sum is written to its slot first: the other operands are read
     * after it, as they were after the load that set it. */
#define MUL_ADD_MEM(name, op, length, store)                                                       \
    L_##name:                                                                                      \
    {                                                                                              \
        uint64_t target =                                                                          \
            length == 5 ? (uint64_t)(uint32_t)fp[(uint32_t)pc[4]] + (pc[4] >> 32) : 0;             \
        uint32_t sum = (uint32_t)(fp[LOW2] + fp[HIGH2]);                                           \
        fp[LOW3] = sum;                                                                            \
        uint64_t address = (uint64_t)sum + HIGH3;                                                  \
        if (__builtin_expect(address + sizeof(uint64_t) > memory_size, 0))                         \
            TRAP("out of bounds memory access");                                                   \
        uint64_t loaded;                                                                           \
        memcpy(&loaded, memory + address, sizeof loaded);                                          \
        uint64_t result = slot_of_f64(f64_of(fp[LOW1]) op f64_of(fp[HIGH1]) * f64_of(loaded));     \
        fp[X] = result;                                                                            \
        if (store) {                                                                               \
            CHECK_STORE(target, sizeof(uint64_t));                                                 \
            memcpy(memory + target, &result, sizeof result);                                       \
        }                                                                                          \
        NEXT(length);                                                                              \
    }
    MUL_ADD_MEM(f64_mul_add_mem, +, 4, false)
    MUL_ADD_MEM(f64_mul_sub_mem, -, 4, false)
    MUL_ADD_MEM(f64_mul_add_mem_store, +, 5, true)
    MUL_ADD_MEM(f64_mul_sub_mem_store, -, 5, true)
#undef MUL_ADD_MEM
#undef MUL_ADD_MEM
#define MUL_ADD_AMEM(name, op, length, store)                                                      \
    L_##name:                                                                                      \
    {                                                                                              \
        uint64_t target = length == 4 ? (uint64_t)(uint32_t)fp[LOW3] + HIGH3 : 0;                  \
        uint64_t address = (uint64_t)(uint32_t)fp[LOW2] + HIGH2;                                   \
        if (__builtin_expect(address + sizeof(uint64_t) > memory_size, 0))                         \
            TRAP("out of bounds memory access");                                                   \
        uint64_t loaded;                                                                           \
        memcpy(&loaded, memory + address, sizeof loaded);                                          \
        uint64_t result = slot_of_f64(f64_of(loaded) op f64_of(fp[LOW1]) * f64_of(fp[HIGH1]));     \
        fp[X] = result;                                                                            \
        if (store) {                                                                               \
            CHECK_STORE(target, sizeof(uint64_t));                                                 \
            memcpy(memory + target, &result, sizeof result);                                       \
        }                                                                                          \
        NEXT(length);                                                                              \
    }
    MUL_ADD_AMEM(f64_mul_add_amem, +, 3, false)
    MUL_ADD_AMEM(f64_mul_sub_amem, -, 3, false)
    MUL_ADD_AMEM(f64_mul_add_amem_store, +, 4, true)
    MUL_ADD_AMEM(f64_mul_sub_amem_store, -, 4, true)
#undef MUL_ADD_AMEM
#define MUL_ADD_MEM2(name, op)                                                                     \
    L_##name:                                                                                      \
    {                                                                                              \
        uint32_t sum = (uint32_t)(fp[LOW1] + fp[HIGH1]);                                           \
        fp[LOW2] = sum;                                                                            \
        uint64_t address = (uint64_t)sum + HIGH2;                                                  \
        if (__builtin_expect(address + sizeof(uint64_t) > memory_size, 0))                         \
            TRAP("out of bounds memory access");                                                   \
        uint64_t addend;                                                                           \
        memcpy(&addend, memory + address, sizeof addend);                                          \
        uint64_t target = (uint64_t)(uint32_t)fp[(uint32_t)(pc[5] >> 32)] + (uint32_t)pc[6];       \
        sum = (uint32_t)(fp[HIGH3] + fp[(uint32_t)pc[4]]);                                         \
        fp[(uint32_t)(pc[4] >> 32)] = sum;                                                         \
        address = (uint64_t)sum + (uint32_t)pc[5];                                                 \
        if (__builtin_expect(address + sizeof(uint64_t) > memory_size, 0))                         \
            TRAP("out of bounds memory access");                                                   \
        uint64_t loaded;                                                                           \
        memcpy(&loaded, memory + address, sizeof loaded);                                          \
        uint64_t result = slot_of_f64(f64_of(addend) op f64_of(fp[LOW3]) * f64_of(loaded));        \
        fp[X] = result;                                                                            \
        CHECK_STORE(target, sizeof(uint64_t));                                                     \
        memcpy(memory + target, &result, sizeof result);                                           \
        NEXT(7);                                                                                   \
    }
    MUL_ADD_MEM2(f64_mul_add_mem2_store, +)
    MUL_ADD_MEM2(f64_mul_sub_mem2_store, -)
#undef MUL_ADD_MEM2
#undef LOW3
#undef HIGH3

#define LOAD_ADD(name, type, convert)                                                              \
    L_##name:                                                                                      \
    {                                                                                              \
        uint64_t address = (uint64_t)(uint32_t)(fp[LOW1] + fp[HIGH1]) + pc[2];                     \
        if (__builtin_expect(address + sizeof(type) > memory_size, 0))                             \
            TRAP("out of bounds memory access");                                                   \
        type value;                                                                                \
        memcpy(&value, memory + address, sizeof value);                                            \
        fp[X] = convert;                                                                           \
        NEXT(3);                                                                                   \
    }
    LOAD_ADD(i32_load_add, uint32_t, value)
    LOAD_ADD(i64_load_add, uint64_t, value)
    LOAD_ADD(i32_load8_u_add, uint8_t, value)
    LOAD_ADD(i32_load8_s_add, int8_t, (uint32_t)(int32_t)value)
    LOAD_ADD(i64_load8_u_add, uint8_t, value)
#undef LOAD_ADD
#define LOAD_ADD_SET(name, type, convert)                                                          \
    L_##name:                                                                                      \
    {                                                                                              \
        uint32_t sum = (uint32_t)(fp[LOW1] + fp[HIGH1]);                                           \
        fp[LOW2] = sum;                                                                            \
        uint64_t address = (uint64_t)sum + HIGH2;                                                  \
        if (__builtin_expect(address + sizeof(type) > memory_size, 0))                             \
            TRAP("out of bounds memory access");                                                   \
        type value;                                                                                \
        memcpy(&value, memory + address, sizeof value);                                            \
        fp[X] = convert;                                                                           \
        NEXT(3);                                                                                   \
    }
    LOAD_ADD_SET(i32_load_add_set, uint32_t, value)
    LOAD_ADD_SET(i64_load_add_set, uint64_t, value)
    LOAD_ADD_SET(i32_load8_u_add_set, uint8_t, value)
#undef LOAD_ADD_SET

out_of_fuel:
    SAVE_STATE();
    if (lifetime_budget) {
        trap_reason = "out of fuel";
        goto trap;
    }
    self->state = WASM_EXEC_READY;
    return LUN_RUN_OUT_OF_FUEL;

trap : {
    const char *name = NULL;
    const wasm_code *code = code_at(current->module, pc);
    if (code != NULL) name = wasm_function_name(current->module, code->function_index);
    if (name != NULL)
        snprintf(self->trap_message, sizeof self->trap_message, "%s (in function %s)", trap_reason,
                 name);
    else if (code != NULL)
        snprintf(self->trap_message, sizeof self->trap_message, "%s (in function %u)", trap_reason,
                 code->function_index);
    else
        snprintf(self->trap_message, sizeof self->trap_message, "%s", trap_reason);
}
trap_formatted:
    self->fuel_pending = false;
    if (self->guest != NULL && self->guest->barrier_count > 0) {
        /* Inside a guest call made by a host function: the trap unwinds to
         * it and becomes that call's outcome. */
        wasm_guest_calls *guest_calls = self->guest;
        wasm_barrier *barrier = &guest_calls->barriers[--guest_calls->barrier_count];
        snprintf(guest_calls->trap_message, sizeof guest_calls->trap_message, "%s",
                 self->trap_message);
        self->trap_message[0] = '\0';
        guest_calls->outcome = LUN_GUEST_TRAPPED;
        frame_top = self->frames + barrier->frame_depth;
        stack = self->stack;
        stack_end = stack + self->stack_capacity;
        pc = barrier->host_pc;
        fp = stack + barrier->host_fp;
        current = barrier->host_instance;
        LOAD_CONTEXT();
        DISPATCH();
    }
    self->fuel_used += budget - fuel;
    self->frame_count = 0;
    self->state = WASM_EXEC_TRAPPED;
    return LUN_RUN_TRAPPED;

#undef LOAD_CONTEXT
#undef SAVE_STATE
#undef X
#undef LOW1
#undef HIGH1
#undef LOW2
#undef HIGH2
#undef DISPATCH
#undef NEXT
#undef TRAP
#undef CHARGE_FUEL
}

static pthread_once_t offsets_once = PTHREAD_ONCE_INIT;

static void publish_offsets(void)
{
    execute(NULL, 0, false);
}

const int32_t *wasm_interp_handler_offsets(void)
{
    pthread_once(&offsets_once, publish_offsets);
    return handler_offsets;
}

/* After a deep recursion, give the stacks back (instances are many and
 * mostly idle); the results stay at the bottom of the value stack. */
static void release_deep_stacks(lun_instance *instance)
{
    enum { KEEP_SLOTS = 4096, KEEP_FRAMES = 256 };
    if (instance->stack_capacity > KEEP_SLOTS) {
        size_t keep = KEEP_SLOTS;
        if (instance->entry_func != NULL && instance->entry_func->type->result_count > keep)
            keep = instance->entry_func->type->result_count;
        uint64_t *stack = realloc(instance->stack, keep * sizeof *stack);
        if (stack != NULL) {
            instance->stack = stack;
            instance->stack_capacity = keep;
        }
    }
    if (instance->frame_capacity > KEEP_FRAMES) {
        wasm_frame *frames = realloc(instance->frames, KEEP_FRAMES * sizeof *frames);
        if (frames != NULL) {
            instance->frames = frames;
            instance->frame_capacity = KEEP_FRAMES;
        }
    }
}

lun_run_state wasm_interp_run(lun_instance *instance, uint64_t fuel)
{
    if (instance->frames == NULL && !frames_reserve(instance)) {
        snprintf(instance->trap_message, sizeof instance->trap_message, "out of memory");
        instance->state = WASM_EXEC_TRAPPED;
        return LUN_RUN_TRAPPED;
    }
    uint64_t budget = fuel;
    bool lifetime = false;
    if (instance->config.fuel_limit != 0) {
        uint64_t limit = instance->config.fuel_limit;
        uint64_t left = limit > instance->fuel_used ? limit - instance->fuel_used : 0;
        if (left <= budget) {
            budget = left;
            lifetime = true;
        }
    }
    lun_run_state state = execute(instance, budget, lifetime);
    if (state == LUN_RUN_FINISHED || state == LUN_RUN_TRAPPED) release_deep_stacks(instance);
    return state;
}
