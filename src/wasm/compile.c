/*
 * Compiler from validated function bodies to the interpreter's internal code
 * (code.h).
 *
 * The Wasm operand stack is turned into frame slots: operand stack height h
 * lives in slot "home(h)" of the frame, so every instruction names its
 * operands and its result by slot and no push or pop happens at run time. A
 * local.get or a constant is not copied at all: the compiler remembers that
 * the stack entry is that local's (or that constant's) slot and lets the
 * consumer read it directly; such a lazy entry is copied to its home slot
 * only when the local is about to change or when control flow merges. A
 * result that is immediately stored by local.set/local.tee is written to the
 * local directly, and a comparison followed by br_if or if becomes one
 * compare-and-branch instruction.
 *
 * Each function is compiled twice: the first pass counts the constants,
 * whose slots sit between the locals and the operand stack.
 */
#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "module.h"

enum { CONTROL_BLOCK, CONTROL_LOOP, CONTROL_IF, CONTROL_FUNCTION };

typedef struct fixup {
    size_t cell;  /* where the relative offset goes */
    size_t start; /* the instruction it is relative to */
    bool high;    /* in the high half of the cell (else the whole cell) */
} fixup;

typedef struct control {
    int kind;
    uint32_t height; /* operand stack height below the block's parameters */
    uint32_t param_count;
    uint32_t result_count;
    size_t loop_header; /* CONTROL_LOOP: the back-edge target */
    fixup *fixups;      /* branches to the block's end */
    size_t fixup_count, fixup_capacity;
    bool has_else_fixup;
    fixup else_fixup;
    uint32_t scratch; /* CONTROL_IF with parameters: where the else branch finds them */
} control;

typedef struct compiler {
    const lun_module *module;
    const wasm_function *function;
    const uint8_t *p, *end;
    const int32_t *handlers;
    lun_error *error;
    bool failed;

    uint32_t local_count;
    uint32_t const_base;   /* == local_count */
    uint32_t stack_base;   /* after the locals, constants and scratch slots */
    uint32_t scratch_base; /* after the locals and constants */
    uint32_t scratch_count;

    uint64_t *cells;
    size_t cell_count, cell_capacity;

    uint32_t *stack; /* slot of every operand stack entry */
    uint32_t height, stack_capacity, max_height;

    control *controls;
    uint32_t control_count, control_capacity;
    bool unreachable;
    uint32_t dead_depth; /* blocks opened inside unreachable code */

    uint64_t *consts;
    uint32_t const_count, const_capacity;
    uint32_t *const_hash; /* index + 1, 0 for empty */
    uint32_t const_hash_size;

    /* The last instruction, while it is the last one and its result is the
     * top of the stack (for fusing it with what follows). */
    size_t last_start, last_end;
    int last_op;
    uint32_t last_a, last_b;
    /* Which locals some instruction so far (in program order) wrote. Outside
     * loops every path to the current instruction only runs earlier
     * instructions, so a local never written so far still holds its initial
     * zero, and setting it to zero needs no code. */
    uint32_t loop_depth;
    uint32_t param_count;
    uint8_t *written;
    /* The instruction just before the last one, while contiguous with it,
     * and the one before that, while contiguous with both. */
    size_t prev_start, prev_end;
    int prev_op;
    size_t before_start, before_end;
    int before_op;
    /* The last plain store, while nothing was emitted after it. */
    size_t store_start, store_end;
    int store_op;
} compiler;

/* ---- buffers ----------------------------------------------------------- */

static bool grow_array(compiler *c, void **array, size_t element_size, size_t *capacity,
                       size_t needed)
{
    if (needed <= *capacity) return true;
    size_t new_capacity = *capacity ? *capacity * 2 : 16;
    while (new_capacity < needed)
        new_capacity *= 2;
    void *grown = realloc(*array, new_capacity * element_size);
    if (grown == NULL) {
        if (!c->failed) lun_error_set(c->error, LUN_ERR_NO_MEMORY, "out of memory compiling");
        c->failed = true;
        return false;
    }
    *array = grown;
    *capacity = new_capacity;
    return true;
}

static void fail(compiler *c, const char *what)
{
    if (!c->failed)
        lun_error_set(c->error, LUN_ERR_MALFORMED, "function %u: %s",
                      c->function ? (unsigned)(c->function - c->module->functions) : 0u, what);
    c->failed = true;
}

static size_t emit_cell(compiler *c, uint64_t cell)
{
    if (!grow_array(c, (void **)&c->cells, sizeof *c->cells, &c->cell_capacity, c->cell_count + 1))
        return 0;
    c->cells[c->cell_count] = cell;
    return c->cell_count++;
}

static uint64_t pair(uint32_t low, uint32_t high)
{
    return (uint64_t)low | ((uint64_t)high << 32);
}

static size_t emit_op(compiler *c, int op, uint32_t first)
{
    return emit_cell(c, pair((uint32_t)c->handlers[op], first));
}

/* ---- reading the body -------------------------------------------------- */

static uint64_t read_leb(compiler *c, bool is_signed, int bits)
{
    uint64_t result = 0;
    int shift = 0;
    uint8_t byte;
    do {
        if (c->p >= c->end || shift >= 70) {
            fail(c, "truncated instruction");
            return 0;
        }
        byte = *c->p++;
        if (shift < 64) result |= (uint64_t)(byte & 0x7F) << shift;
        shift += 7;
    } while (byte & 0x80);
    if (is_signed && shift < 64 && (byte & 0x40)) result |= ~(uint64_t)0 << shift;
    (void)bits;
    return result;
}

static uint32_t read_u32(compiler *c)
{
    return (uint32_t)read_leb(c, false, 32);
}

static uint8_t read_byte(compiler *c)
{
    if (c->p >= c->end) {
        fail(c, "truncated instruction");
        return 0;
    }
    return *c->p++;
}

static uint64_t read_fixed(compiler *c, int bytes)
{
    if (c->end - c->p < bytes) {
        fail(c, "truncated instruction");
        c->p = c->end;
        return 0;
    }
    uint64_t value = 0;
    for (int i = 0; i < bytes; i++)
        value |= (uint64_t)c->p[i] << (8 * i);
    c->p += bytes;
    return value;
}

/* ---- the operand stack ------------------------------------------------- */

static uint32_t home(const compiler *c, uint32_t height)
{
    return c->stack_base + height;
}

static void note_height(compiler *c, uint32_t height)
{
    if (height > c->max_height) c->max_height = height;
}

static void push_slot(compiler *c, uint32_t slot)
{
    size_t capacity = c->stack_capacity;
    if (!grow_array(c, (void **)&c->stack, sizeof *c->stack, &capacity, c->height + 1)) return;
    c->stack_capacity = (uint32_t)capacity;
    c->stack[c->height++] = slot;
    note_height(c, c->height);
}

static uint32_t push_home(compiler *c)
{
    uint32_t slot = home(c, c->height);
    push_slot(c, slot);
    return slot;
}

static uint32_t pop(compiler *c)
{
    if (c->height == 0) {
        fail(c, "operand stack underflow");
        return 0;
    }
    return c->stack[--c->height];
}

static void forget_last(compiler *c)
{
    c->last_end = SIZE_MAX;
    c->prev_end = SIZE_MAX;
    c->before_end = SIZE_MAX;
    c->store_end = SIZE_MAX;
}

/* Copies a lazy entry to its home slot. */
static void materialize(compiler *c, uint32_t height)
{
    uint32_t slot = home(c, height);
    if (c->stack[height] == slot) return;
    emit_op(c, WASM_OP_copy, slot);
    emit_cell(c, c->stack[height]);
    c->stack[height] = slot;
}

static void materialize_all(compiler *c)
{
    for (uint32_t h = 0; h < c->height; h++)
        materialize(c, h);
    forget_last(c);
}

static void materialize_top(compiler *c, uint32_t count)
{
    for (uint32_t h = c->height - count; h < c->height; h++)
        materialize(c, h);
    forget_last(c);
}

static uint32_t const_slot(compiler *c, uint64_t bits)
{
    if (c->const_count * 2 >= c->const_hash_size) {
        uint32_t size = c->const_hash_size ? c->const_hash_size * 2 : 64;
        uint32_t *table = calloc(size, sizeof *table);
        if (table == NULL) {
            lun_error_set(c->error, LUN_ERR_NO_MEMORY, "out of memory compiling");
            c->failed = true;
            return 0;
        }
        for (uint32_t i = 0; i < c->const_count; i++) {
            uint32_t h = (uint32_t)((c->consts[i] * 0x9E3779B97F4A7C15ull) >> 40) & (size - 1);
            while (table[h])
                h = (h + 1) & (size - 1);
            table[h] = i + 1;
        }
        free(c->const_hash);
        c->const_hash = table;
        c->const_hash_size = size;
    }
    uint32_t mask = c->const_hash_size - 1;
    uint32_t h = (uint32_t)((bits * 0x9E3779B97F4A7C15ull) >> 40) & mask;
    while (c->const_hash[h]) {
        uint32_t index = c->const_hash[h] - 1;
        if (c->consts[index] == bits) return c->const_base + index;
        h = (h + 1) & mask;
    }
    size_t capacity = c->const_capacity;
    if (!grow_array(c, (void **)&c->consts, sizeof *c->consts, &capacity, c->const_count + 1))
        return 0;
    c->const_capacity = (uint32_t)capacity;
    c->consts[c->const_count] = bits;
    c->const_hash[h] = c->const_count + 1;
    return c->const_base + c->const_count++;
}

/* ---- instructions with a result ---------------------------------------- */

static void note_last(compiler *c, size_t start, int op, uint32_t a, uint32_t b)
{
    if (c->last_end == start) {
        c->before_start = c->prev_start;
        c->before_end = c->prev_end == c->last_start ? c->prev_end : SIZE_MAX;
        c->before_op = c->prev_op;
        c->prev_start = c->last_start;
        c->prev_end = c->last_end;
        c->prev_op = c->last_op;
    } else if (c->prev_end != start) {
        c->prev_end = SIZE_MAX;
        c->before_end = SIZE_MAX;
    }
    c->last_start = start;
    c->last_end = c->cell_count;
    c->last_op = op;
    c->last_a = a;
    c->last_b = b;
}

/* Whether the last instruction computed the top of the stack into its home
 * slot and nothing was emitted or joined since. */
static bool last_is_top(const compiler *c)
{
    return c->last_end == c->cell_count && c->height > 0 &&
           c->stack[c->height - 1] == home(c, c->height - 1);
}

static void emit_unary(compiler *c, int op)
{
    uint32_t a = pop(c);
    uint32_t dst = push_home(c);
    size_t start = emit_op(c, op, dst);
    emit_cell(c, a);
    note_last(c, start, op, a, 0);
}

/* a + x * m and a - x * m where m, an f64 load just before the multiply
 * (x * m or m * x: IEEE products commute), is read by the fused
 * instruction itself: the load's address sum, and the local a
 * load_add_set wrote, become operands. */
static bool fuse_multiply_load(compiler *c, int fused, uint32_t x, uint32_t y)
{
    if (fused != WASM_OP_f64_mul_add && fused != WASM_OP_f64_mul_sub) return false;
    if (c->prev_end != c->last_start) return false;
    int load = c->prev_op;
    if (load != WASM_OP_i64_load && load != WASM_OP_i64_load_add &&
        load != WASM_OP_i64_load_add_set)
        return false;
    uint32_t loaded = (uint32_t)(c->cells[c->prev_start] >> 32);
    uint32_t other;
    if (loaded == y && y == home(c, c->height) && x != y)
        other = x;
    else if (loaded == x && x == home(c, c->height - 1) && y != x)
        other = y;
    else
        return false;
    uint64_t operands = c->cells[c->prev_start + 1];
    uint32_t p, q, set, offset;
    if (load == WASM_OP_i64_load) {
        p = (uint32_t)operands;
        q = const_slot(c, 0);
        set = loaded;
        offset = (uint32_t)(operands >> 32);
    } else {
        p = (uint32_t)operands;
        q = (uint32_t)(operands >> 32);
        uint64_t last = c->cells[c->prev_start + 2];
        set = load == WASM_OP_i64_load_add_set ? (uint32_t)last : loaded;
        offset = load == WASM_OP_i64_load_add_set ? (uint32_t)(last >> 32) : (uint32_t)last;
    }
    if (c->failed) return false;
    int memory_form =
        fused == WASM_OP_f64_mul_add ? WASM_OP_f64_mul_add_mem : WASM_OP_f64_mul_sub_mem;
    /* The instruction before the load (the addend's load, in matmul) stays
     * just before the fused one: a store may join them (fuse_store_two_loads). */
    bool keep_before = c->before_end == c->prev_start;
    size_t before_start = c->before_start;
    int before_op = c->before_op;
    c->cell_count = c->prev_start;
    pop(c);
    uint32_t a = pop(c);
    uint32_t dst = push_home(c);
    size_t start = emit_op(c, memory_form, dst);
    emit_cell(c, pair(a, other));
    emit_cell(c, pair(p, q));
    emit_cell(c, pair(set, offset));
    c->last_end = SIZE_MAX;
    c->prev_end = SIZE_MAX;
    c->before_end = SIZE_MAX;
    if (keep_before) {
        c->prev_start = before_start;
        c->prev_end = start;
        c->prev_op = before_op;
    }
    note_last(c, start, memory_form, 0, 0);
    return true;
}

/* m + x * y and m - x * y with m loaded from address + offset: the load and
 * the multiply (already removed from the code) become one instruction. */
static void emit_multiply_load_below(compiler *c, int fused, uint32_t x, uint32_t y,
                                     uint64_t load_operands)
{
    int memory_form =
        fused == WASM_OP_f64_mul_add ? WASM_OP_f64_mul_add_amem : WASM_OP_f64_mul_sub_amem;
    c->height -= 2;
    uint32_t dst = push_home(c);
    size_t start = emit_op(c, memory_form, dst);
    emit_cell(c, pair(x, y));
    emit_cell(c, load_operands);
    c->last_end = SIZE_MAX;
    c->prev_end = SIZE_MAX;
    note_last(c, start, memory_form, 0, 0);
}

/* The addend a of a + x * y (or a - x * y) was loaded just before the
 * multiply. */
static bool fuse_multiply_addend_load(compiler *c, int fused, uint32_t x, uint32_t y)
{
    if (fused != WASM_OP_f64_mul_add && fused != WASM_OP_f64_mul_sub) return false;
    if (c->prev_end != c->last_start || c->prev_op != WASM_OP_i64_load) return false;
    uint32_t loaded = (uint32_t)(c->cells[c->prev_start] >> 32);
    if (loaded != home(c, c->height - 2) || c->stack[c->height - 2] != loaded) return false;
    if (x == loaded || y == loaded) return false;
    uint64_t load_operands = c->cells[c->prev_start + 1];
    c->cell_count = c->prev_start;
    emit_multiply_load_below(c, fused, x, y, load_operands);
    return true;
}

/* m + t * y and m - t * y where m was loaded just before t = u * v, a
 * multiply: the load moves past that multiply (which cannot trap, and reads
 * and writes neither m nor the address) into the fused instruction, as in
 * fuse_multiply_addend_load. */
static bool fuse_multiply_earlier_addend_load(compiler *c, int fused, uint32_t x, uint32_t y)
{
    if (fused != WASM_OP_f64_mul_add && fused != WASM_OP_f64_mul_sub) return false;
    if (c->prev_end != c->last_start || c->prev_op != WASM_OP_f64_mul) return false;
    if (c->before_end != c->prev_start || c->before_op != WASM_OP_i64_load) return false;
    uint32_t loaded = (uint32_t)(c->cells[c->before_start] >> 32);
    uint32_t product = (uint32_t)(c->cells[c->prev_start] >> 32);
    if (loaded != home(c, c->height - 2) || c->stack[c->height - 2] != loaded) return false;
    if (x == loaded || y == loaded) return false;
    uint64_t product_operands = c->cells[c->prev_start + 1];
    if ((uint32_t)product_operands == loaded || (uint32_t)(product_operands >> 32) == loaded)
        return false;
    uint64_t load_operands = c->cells[c->before_start + 1];
    uint32_t address = (uint32_t)load_operands;
    if (address == product || address == home(c, c->height - 1)) return false;
    size_t product_size = c->prev_end - c->prev_start;
    memmove(c->cells + c->before_start, c->cells + c->prev_start, product_size * sizeof *c->cells);
    c->cell_count = c->before_start + product_size;
    emit_multiply_load_below(c, fused, x, y, load_operands);
    return true;
}

/* a + x * y and a - x * y where x * y was the last instruction. */
static bool fuse_multiply(compiler *c, int op)
{
    int fused;
    if (op == WASM_OP_f64_add && c->last_op == WASM_OP_f64_mul)
        fused = WASM_OP_f64_mul_add;
    else if (op == WASM_OP_f64_sub && c->last_op == WASM_OP_f64_mul)
        fused = WASM_OP_f64_mul_sub;
    else if (op == WASM_OP_f32_add && c->last_op == WASM_OP_f32_mul)
        fused = WASM_OP_f32_mul_add;
    else if (op == WASM_OP_f32_sub && c->last_op == WASM_OP_f32_mul)
        fused = WASM_OP_f32_mul_sub;
    else
        return false;
    if (!last_is_top(c) || c->height < 2) return false;
    uint32_t x = c->last_a, y = c->last_b;
    if (fuse_multiply_load(c, fused, x, y) || fuse_multiply_addend_load(c, fused, x, y) ||
        fuse_multiply_earlier_addend_load(c, fused, x, y))
        return true;
    c->cell_count = c->last_start;
    pop(c);
    uint32_t a = pop(c);
    uint32_t dst = push_home(c);
    size_t start = emit_op(c, fused, dst);
    emit_cell(c, pair(a, x));
    emit_cell(c, y);
    note_last(c, start, fused, 0, 0);
    return true;
}

/* x * y + v where v, a value loaded from memory, was computed after the
 * product: the load moves before the multiply, and the multiply joins the
 * add (a + b == b + a in IEEE arithmetic; with two NaNs the spec lets either
 * payload through). */
static bool fuse_multiply_below(compiler *c, int op)
{
    int multiply, fused;
    if (op == WASM_OP_f64_add) {
        multiply = WASM_OP_f64_mul;
        fused = WASM_OP_f64_mul_add;
    } else if (op == WASM_OP_f32_add) {
        multiply = WASM_OP_f32_mul;
        fused = WASM_OP_f32_mul_add;
    } else {
        return false;
    }
    bool plain_load = c->last_op == WASM_OP_i64_load || c->last_op == WASM_OP_i32_load ||
                      c->last_op == WASM_OP_i64_load_add || c->last_op == WASM_OP_i32_load_add;
    if (!plain_load || !last_is_top(c) || c->height < 2) return false;
    if (c->prev_end != c->last_start || c->prev_op != multiply) return false;
    uint32_t below = home(c, c->height - 2), top = home(c, c->height - 1);
    if (c->stack[c->height - 2] != below || (uint32_t)(c->cells[c->prev_start] >> 32) != below)
        return false;
    uint64_t operands = c->cells[c->prev_start + 1];
    uint32_t x = (uint32_t)operands, y = (uint32_t)(operands >> 32);
    if (x == top || y == top) return false;
    if (fused == WASM_OP_f64_mul_add && c->last_op == WASM_OP_i64_load) {
        uint64_t load_operands = c->cells[c->last_start + 1];
        c->cell_count = c->prev_start;
        emit_multiply_load_below(c, fused, x, y, load_operands);
        return true;
    }
    size_t load_size = c->last_end - c->last_start;
    memmove(c->cells + c->prev_start, c->cells + c->last_start, load_size * sizeof *c->cells);
    c->cell_count = c->prev_start + load_size;
    c->height -= 2;
    uint32_t dst = push_home(c);
    size_t start = emit_op(c, fused, dst);
    emit_cell(c, pair(top, x));
    emit_cell(c, y);
    c->last_end = SIZE_MAX;
    c->prev_end = SIZE_MAX;
    note_last(c, start, fused, 0, 0);
    return true;
}

/* a + m and a - m where m, a f64 loaded from memory, was the last
 * instruction (struct fields, array elements): one instruction. Not for
 * multiplies: a product usually joins the add after it (fuse_multiply). */
static bool fuse_load_operand(compiler *c, int op)
{
    int plain, summed;
    switch (op) {
    case WASM_OP_f64_add: plain = WASM_OP_f64_add_load, summed = WASM_OP_f64_add_load_add; break;
    case WASM_OP_f64_sub: plain = WASM_OP_f64_sub_load, summed = WASM_OP_f64_sub_load_add; break;
    default: return false;
    }
    if (!last_is_top(c) || c->height < 2) return false;
    if (c->last_op != WASM_OP_i64_load && c->last_op != WASM_OP_i64_load_add) return false;
    uint32_t loaded = c->stack[c->height - 1];
    if ((uint32_t)(c->cells[c->last_start] >> 32) != loaded) return false;
    bool from_sum = c->last_op == WASM_OP_i64_load_add;
    uint64_t address = c->cells[c->last_start + 1];
    uint32_t offset = from_sum ? (uint32_t)c->cells[c->last_start + 2] : (uint32_t)(address >> 32);
    c->cell_count = c->last_start;
    c->height--;
    uint32_t a = pop(c);
    uint32_t dst = push_home(c);
    int fused = from_sum ? summed : plain;
    size_t start = emit_op(c, fused, dst);
    if (from_sum) {
        emit_cell(c, pair(a, (uint32_t)address));
        emit_cell(c, pair((uint32_t)(address >> 32), offset));
    } else {
        emit_cell(c, pair(a, (uint32_t)address));
        emit_cell(c, offset);
    }
    c->last_end = SIZE_MAX;
    c->prev_end = SIZE_MAX;
    note_last(c, start, fused, 0, 0);
    return true;
}

static void emit_binary(compiler *c, int op)
{
    if (fuse_multiply(c, op) || fuse_multiply_below(c, op) || fuse_load_operand(c, op)) return;
    uint32_t b = pop(c);
    uint32_t a = pop(c);
    uint32_t dst = push_home(c);
    size_t start = emit_op(c, op, dst);
    emit_cell(c, pair(a, b));
    note_last(c, start, op, a, b);
}

/* An instruction whose result is its first operand, with one more cell. */
static void emit_result_op(compiler *c, int op, uint64_t cell)
{
    uint32_t dst = push_home(c);
    size_t start = emit_op(c, op, dst);
    emit_cell(c, cell);
    note_last(c, start, op, 0, 0);
}

/* ---- locals ------------------------------------------------------------ */

static bool referenced_below(const compiler *c, uint32_t slot, uint32_t height)
{
    for (uint32_t h = 0; h < height; h++)
        if (c->stack[h] == slot) return true;
    return false;
}

/* "store; local.set L (i32.add a b)" (a loop's pointer step after its
 * store): one instruction that stores, then adds into L. */
static bool fuse_store_then_add(compiler *c, uint32_t local, uint32_t top)
{
    if (!last_is_top(c) || c->last_op != WASM_OP_i32_add || c->store_end != c->last_start)
        return false;
    if (referenced_below(c, local, top)) return false;
    int fused;
    switch (c->store_op) {
    case WASM_OP_i32_store8: fused = WASM_OP_i32_store8_then_add; break;
    case WASM_OP_i32_store: fused = WASM_OP_i32_store_then_add; break;
    case WASM_OP_i64_store: fused = WASM_OP_i64_store_then_add; break;
    default: return false;
    }
    uint32_t address = (uint32_t)(c->cells[c->store_start] >> 32);
    uint64_t store_operands = c->cells[c->store_start + 1];
    uint64_t sum_operands = c->cells[c->last_start + 1];
    c->cell_count = c->store_start;
    emit_op(c, fused, local);
    emit_cell(c, sum_operands);
    emit_cell(c, pair(address, (uint32_t)store_operands));
    emit_cell(c, store_operands >> 32);
    forget_last(c);
    c->height--;
    return true;
}

static void set_local(compiler *c, uint32_t local, bool tee)
{
    if (local >= c->local_count) {
        fail(c, "bad local index");
        return;
    }
    uint32_t top = c->height - 1;
    if (c->loop_depth == 0 && !tee && local >= c->param_count && !c->written[local]) {
        uint32_t value = c->stack[top];
        if (value >= c->const_base && value - c->const_base < c->const_count &&
            c->consts[value - c->const_base] == 0) {
            c->height--;
            return;
        }
    }
    if (c->written) c->written[local] = 1;
    if (!tee && fuse_store_then_add(c, local, top)) return;
    if (last_is_top(c) && !referenced_below(c, local, top)) {
        /* Redirect the last instruction's result into the local. */
        c->cells[c->last_start] = pair((uint32_t)c->cells[c->last_start], local);
        /* It may still start a fused add-compare-branch. */
        c->before_start = c->prev_start;
        c->before_end = c->prev_end == c->last_start ? c->prev_end : SIZE_MAX;
        c->before_op = c->prev_op;
        c->prev_start = c->last_start;
        c->prev_end = c->last_end;
        c->prev_op = c->last_op;
        c->last_end = SIZE_MAX;
        if (tee)
            c->stack[top] = local;
        else
            c->height--;
        return;
    }
    uint32_t value = c->stack[top];
    for (uint32_t h = 0; h < top; h++)
        if (c->stack[h] == local) materialize(c, h);
    if (value != local) {
        emit_op(c, WASM_OP_copy, local);
        emit_cell(c, value);
    }
    forget_last(c);
    if (tee)
        c->stack[top] = local;
    else
        c->height--;
}

/* ---- control ----------------------------------------------------------- */

static control *push_control(compiler *c, int kind, uint32_t params, uint32_t results)
{
    size_t capacity = c->control_capacity;
    if (!grow_array(c, (void **)&c->controls, sizeof *c->controls, &capacity, c->control_count + 1))
        return NULL;
    c->control_capacity = (uint32_t)capacity;
    control *block = &c->controls[c->control_count++];
    memset(block, 0, sizeof *block);
    block->kind = kind;
    block->param_count = params;
    block->result_count = results;
    block->height = c->height >= params ? c->height - params : 0;
    return block;
}

static void add_fixup(compiler *c, control *block, size_t cell, size_t start, bool high)
{
    if (!grow_array(c, (void **)&block->fixups, sizeof *block->fixups, &block->fixup_capacity,
                    block->fixup_count + 1))
        return;
    block->fixups[block->fixup_count++] = (fixup){cell, start, high};
}

static void patch(compiler *c, fixup f, size_t target)
{
    if (c->failed) return;
    int64_t relative = (int64_t)target - (int64_t)f.start;
    if (f.high)
        c->cells[f.cell] = pair((uint32_t)c->cells[f.cell], (uint32_t)(int32_t)relative);
    else
        c->cells[f.cell] = (uint64_t)relative;
}

/* Points a branch field at the block's target (a loop's header, or the end
 * of anything else, patched when the end is reached). */
static void branch_to(compiler *c, control *block, size_t cell, size_t start, bool high)
{
    if (block->kind == CONTROL_LOOP)
        patch(c, (fixup){cell, start, high}, block->loop_header);
    else
        add_fixup(c, block, cell, start, high);
}

/* The back-edge form of a branch instruction, or -1. */
static int loop_variant(int op)
{
    if (op == WASM_OP_br) return WASM_OP_br_loop;
    if (op == WASM_OP_br_if) return WASM_OP_br_if_loop;
    if (op == WASM_OP_br_unless) return WASM_OP_br_unless_loop;
    if (op >= WASM_OP_br_i32_eq && op <= WASM_OP_br_i64_ge_u)
        return WASM_OP_br_i32_eq_loop + (op - WASM_OP_br_i32_eq);
    if (op >= WASM_OP_add_br_i32_eq && op <= WASM_OP_add_br_i64_ge_u)
        return WASM_OP_add_br_i32_eq_loop + (op - WASM_OP_add_br_i32_eq);
    return -1;
}

/* Like branch_to for the branch instruction at `start`: a back-edge becomes
 * the instruction's loop form, which charges the fuel itself and skips the
 * loop's loop_fuel (one dispatch less per iteration). */
static void branch_instruction_to(compiler *c, control *block, size_t cell, size_t start, bool high)
{
    if (block->kind != CONTROL_LOOP || c->failed) {
        branch_to(c, block, cell, start, high);
        return;
    }
    int32_t handler = (int32_t)(uint32_t)c->cells[start];
    int op = -1;
    for (int k = 0; k < WASM_OP_COUNT && op < 0; k++)
        if (c->handlers[k] == handler) op = k;
    int loop_op = op >= 0 ? loop_variant(op) : -1;
    if (loop_op < 0) {
        /* Every back-edge must charge fuel, or a loop could not be stopped. */
        fail(c, "internal: a back-edge without a fuel charge");
        return;
    }
    c->cells[start] = pair((uint32_t)c->handlers[loop_op], (uint32_t)(c->cells[start] >> 32));
    patch(c, (fixup){cell, start, high}, block->loop_header);
}

static uint32_t label_arity(const control *block)
{
    return block->kind == CONTROL_LOOP ? block->param_count : block->result_count;
}

static bool branch_needs_copies(const compiler *c, const control *block)
{
    uint32_t arity = label_arity(block);
    for (uint32_t i = 0; i < arity; i++)
        if (c->stack[c->height - arity + i] != home(c, block->height + i)) return true;
    return false;
}

static void emit_branch_copies(compiler *c, const control *block)
{
    uint32_t arity = label_arity(block);
    for (uint32_t i = 0; i < arity; i++) {
        uint32_t source = c->stack[c->height - arity + i];
        uint32_t target = home(c, block->height + i);
        if (source == target) continue;
        emit_op(c, WASM_OP_copy, target);
        emit_cell(c, source);
    }
}

static uint32_t function_result_count(const compiler *c)
{
    return c->module->types[c->function->type_index].result_count;
}

static void emit_return(compiler *c)
{
    uint32_t results = function_result_count(c);
    if (results == 0) {
        emit_op(c, WASM_OP_return0, 0);
    } else if (results == 1) {
        emit_op(c, WASM_OP_return1, c->stack[c->height - 1]);
    } else {
        materialize_top(c, results);
        emit_op(c, WASM_OP_return_n, home(c, c->height - results));
        emit_cell(c, results);
    }
    forget_last(c);
}

/* Emits an unconditional branch to the block at `depth`, with its values. */
static void emit_jump(compiler *c, uint32_t depth)
{
    control *block = &c->controls[c->control_count - 1 - depth];
    if (block->kind == CONTROL_FUNCTION) {
        emit_return(c);
        return;
    }
    emit_branch_copies(c, block);
    size_t start = emit_op(c, WASM_OP_br, 0);
    branch_instruction_to(c, block, start, start, true);
    forget_last(c);
}

/* emit_jump on a path that is taken conditionally: the copies it makes
 * happen only on that path, so the stack entries must stay as they were. */
static void emit_side_jump(compiler *c, uint32_t depth)
{
    uint32_t count = c->height;
    uint32_t *saved = malloc(((size_t)count + 1) * sizeof *saved);
    if (saved == NULL) {
        if (!c->failed) lun_error_set(c->error, LUN_ERR_NO_MEMORY, "out of memory compiling");
        c->failed = true;
        return;
    }
    memcpy(saved, c->stack, count * sizeof *saved);
    emit_jump(c, depth);
    memcpy(c->stack, saved, count * sizeof *saved);
    c->height = count;
    free(saved);
}

static int fused_branch(int compare_op, bool negate)
{
    static const int complement[10] = {1, 0, 8, 9, 6, 7, 4, 5, 2, 3};
    if (compare_op >= WASM_OP_i32_eq && compare_op <= WASM_OP_i32_ge_u) {
        int index = compare_op - WASM_OP_i32_eq;
        return WASM_OP_br_i32_eq + (negate ? complement[index] : index);
    }
    if (compare_op >= WASM_OP_i64_eq && compare_op <= WASM_OP_i64_ge_u) {
        int index = compare_op - WASM_OP_i64_eq;
        return WASM_OP_br_i64_eq + (negate ? complement[index] : index);
    }
    return -1;
}

/* Pops a condition and emits "branch when it is true (or, negated, false)"
 * with the target field to be filled by the caller; returns the fixup. */
/* "x = a + b; if (x <op> y) branch": the add just before the comparison,
 * whose result the comparison reads first, joins the compare-and-branch. */
static bool fuse_add_branch(compiler *c, int fused)
{
    bool is_i32 = fused >= WASM_OP_br_i32_eq && fused <= WASM_OP_br_i32_ge_u;
    int add = is_i32 ? WASM_OP_i32_add : WASM_OP_i64_add;
    if (c->prev_end != c->last_start || c->prev_op != add) return false;
    uint32_t sum = (uint32_t)(c->cells[c->prev_start] >> 32);
    if (c->last_a != sum) return false;
    uint64_t operands = c->cells[c->prev_start + 1];
    uint32_t y = c->last_b;
    c->cell_count = c->prev_start;
    emit_op(c, WASM_OP_add_br_i32_eq + (fused - WASM_OP_br_i32_eq), 0);
    emit_cell(c, operands);
    emit_cell(c, pair(sum, y));
    return true;
}

static fixup emit_conditional(compiler *c, bool negate)
{
    bool fusable = last_is_top(c);
    uint32_t condition = pop(c);
    if (fusable && !c->failed) {
        int fused = fused_branch(c->last_op, negate);
        if (fused >= 0 && fuse_add_branch(c, fused)) {
            size_t start = c->cell_count - 3;
            forget_last(c);
            return (fixup){start, start, true};
        }
        if (fused >= 0) {
            c->cell_count = c->last_start;
            size_t start = emit_op(c, fused, 0);
            emit_cell(c, pair(c->last_a, c->last_b));
            forget_last(c);
            return (fixup){start, start, true};
        }
        if (c->last_op == WASM_OP_i32_eqz) {
            c->cell_count = c->last_start;
            uint32_t operand = c->last_a;
            size_t start = emit_op(c, negate ? WASM_OP_br_if : WASM_OP_br_unless, operand);
            size_t cell = emit_cell(c, 0);
            forget_last(c);
            return (fixup){cell, start, false};
        }
    }
    size_t start = emit_op(c, negate ? WASM_OP_br_unless : WASM_OP_br_if, condition);
    size_t cell = emit_cell(c, 0);
    forget_last(c);
    return (fixup){cell, start, false};
}

static void compile_br_if(compiler *c, uint32_t depth)
{
    control *block = &c->controls[c->control_count - 1 - depth];
    /* The condition is on top; the label's values are below it. */
    uint32_t condition_height = c->height - 1;
    c->height--;
    bool simple = block->kind != CONTROL_FUNCTION && !branch_needs_copies(c, block);
    c->height++;
    (void)condition_height;
    if (simple) {
        fixup f = emit_conditional(c, false);
        branch_instruction_to(c, block, f.cell, f.start, f.high);
        return;
    }
    fixup skip = emit_conditional(c, true);
    emit_side_jump(c, depth);
    patch(c, skip, c->cell_count);
    forget_last(c);
}

static void compile_br_table(compiler *c)
{
    uint32_t count = read_u32(c);
    if (c->failed || count > (size_t)(c->end - c->p)) {
        fail(c, "bad br_table");
        return;
    }
    uint32_t *depths = malloc(((size_t)count + 1) * sizeof *depths);
    if (depths == NULL) {
        lun_error_set(c->error, LUN_ERR_NO_MEMORY, "out of memory compiling");
        c->failed = true;
        return;
    }
    for (uint32_t i = 0; i <= count; i++) {
        depths[i] = read_u32(c);
        if (depths[i] >= c->control_count) fail(c, "bad branch depth");
    }
    uint32_t index = pop(c);
    if (c->failed) {
        free(depths);
        return;
    }
    size_t start = emit_op(c, WASM_OP_br_table, index);
    emit_cell(c, count);
    size_t first = c->cell_count;
    for (uint32_t i = 0; i <= count; i++)
        emit_cell(c, 0);
    /* Targets that need copies (or a return) get a stub after the table,
     * shared by every entry with the same depth. */
    size_t *stubs = calloc(c->control_count, sizeof *stubs);
    if (stubs == NULL) {
        free(depths);
        lun_error_set(c->error, LUN_ERR_NO_MEMORY, "out of memory compiling");
        c->failed = true;
        return;
    }
    for (uint32_t i = 0; i <= count && !c->failed; i++) {
        control *block = &c->controls[c->control_count - 1 - depths[i]];
        fixup f = {first + i, start, false};
        /* A back-edge (charging fuel), copies or a return need a stub. */
        if (block->kind == CONTROL_BLOCK || block->kind == CONTROL_IF) {
            if (!branch_needs_copies(c, block)) {
                branch_to(c, block, f.cell, f.start, false);
                continue;
            }
        }
        if (stubs[depths[i]] == 0) {
            stubs[depths[i]] = c->cell_count;
            emit_side_jump(c, depths[i]);
        }
        patch(c, f, stubs[depths[i]]);
    }
    free(stubs);
    free(depths);
    forget_last(c);
}

static void read_block_type(compiler *c, uint32_t *params, uint32_t *results)
{
    if (c->p < c->end && *c->p == 0x40) {
        c->p++;
        *params = 0;
        *results = 0;
        return;
    }
    if (c->p < c->end && (*c->p & 0xC0) == 0x40) { /* a one-byte negative: a value type */
        c->p++;
        *params = 0;
        *results = 1;
        return;
    }
    int64_t index = (int64_t)read_leb(c, true, 33);
    if (index < 0 || index >= c->module->type_count) {
        fail(c, "bad block type");
        *params = *results = 0;
        return;
    }
    *params = c->module->types[index].param_count;
    *results = c->module->types[index].result_count;
}

static void compile_block(compiler *c, int kind)
{
    uint32_t params, results;
    read_block_type(c, &params, &results);
    if (c->unreachable) {
        c->dead_depth++;
        return;
    }
    if (kind == CONTROL_IF) {
        bool fusable = last_is_top(c);
        uint32_t condition = c->stack[c->height - 1];
        c->height--;
        /* Lazy entries must be resolved before the branch; if that emits a
         * copy, the comparison is no longer the last instruction. */
        for (uint32_t h = 0; h < c->height; h++)
            if (c->stack[h] != home(c, h)) fusable = false;
        materialize_all(c);
        if (fusable) c->last_end = c->cell_count;
        /* The else branch needs the parameters the then branch consumes:
         * keep a copy above them. */
        uint32_t scratch = c->scratch_base + c->scratch_count;
        c->scratch_count += params;
        for (uint32_t i = 0; i < params; i++) {
            emit_op(c, WASM_OP_copy, scratch + i);
            emit_cell(c, home(c, c->height - params + i));
            fusable = false;
        }
        c->stack[c->height++] = condition;
        fixup f = emit_conditional(c, true);
        control *block = push_control(c, CONTROL_IF, params, results);
        if (block == NULL) return;
        block->scratch = scratch;
        block->has_else_fixup = true;
        block->else_fixup = f;
        forget_last(c);
        return;
    }
    materialize_all(c);
    control *block = push_control(c, kind, params, results);
    if (block == NULL) return;
    if (kind == CONTROL_LOOP) {
        /* Back-edges branch here and charge the fuel themselves. */
        block->loop_header = c->cell_count;
        c->loop_depth++;
    }
    forget_last(c);
}

static void reset_stack(compiler *c, uint32_t height)
{
    size_t capacity = c->stack_capacity;
    if (!grow_array(c, (void **)&c->stack, sizeof *c->stack, &capacity, height + 1)) return;
    c->stack_capacity = (uint32_t)capacity;
    for (uint32_t h = 0; h < height; h++)
        c->stack[h] = home(c, h);
    c->height = height;
    note_height(c, height);
}

static void compile_else(compiler *c)
{
    if (c->dead_depth > 0) return;
    control *block = &c->controls[c->control_count - 1];
    if (!c->unreachable) {
        materialize_top(c, block->result_count);
        size_t start = emit_op(c, WASM_OP_br, 0);
        add_fixup(c, block, start, start, true);
    }
    if (block->has_else_fixup) patch(c, block->else_fixup, c->cell_count);
    block->has_else_fixup = false;
    uint32_t params = block->param_count;
    for (uint32_t i = 0; i < params; i++) {
        emit_op(c, WASM_OP_copy, home(c, block->height + i));
        emit_cell(c, block->scratch + i);
    }
    reset_stack(c, block->height + params);
    c->unreachable = false;
    forget_last(c);
}

/* Returns true at the end of the function. */
static bool compile_end(compiler *c)
{
    if (c->dead_depth > 0) {
        c->dead_depth--;
        return false;
    }
    control *block = &c->controls[c->control_count - 1];
    if (block->kind == CONTROL_FUNCTION) {
        if (!c->unreachable) emit_return(c);
        free(block->fixups);
        c->control_count--;
        return true;
    }
    if (block->kind == CONTROL_LOOP) c->loop_depth--;
    if (!c->unreachable) materialize_top(c, block->result_count);
    if (block->has_else_fixup) patch(c, block->else_fixup, c->cell_count);
    for (size_t i = 0; i < block->fixup_count; i++)
        patch(c, block->fixups[i], c->cell_count);
    free(block->fixups);
    reset_stack(c, block->height + block->result_count);
    c->control_count--;
    c->unreachable = false;
    forget_last(c);
    return false;
}

static void become_unreachable(compiler *c)
{
    c->unreachable = true;
    forget_last(c);
}

/* ---- calls ------------------------------------------------------------- */

static void finish_call(compiler *c, const wasm_functype *type)
{
    c->height -= type->param_count;
    for (uint32_t i = 0; i < type->result_count; i++)
        push_home(c);
    forget_last(c);
}

static void compile_call(compiler *c, uint32_t index)
{
    const lun_module *m = c->module;
    if (index >= m->total_function_count) {
        fail(c, "bad function index");
        return;
    }
    const wasm_functype *type = &m->types[m->function_type_indexes[index]];
    materialize_top(c, type->param_count);
    uint32_t args = home(c, c->height - type->param_count);
    /* The callee's frame starts at its first argument and may reach past
     * the caller's deepest entry. */
    if (index >= m->imported_function_count) {
        emit_op(c, WASM_OP_call_local, args);
        emit_cell(c,
                  (uint64_t)(uintptr_t)m->functions[index - m->imported_function_count].compiled);
    } else {
        emit_op(c, WASM_OP_call_import, args);
        emit_cell(c, index);
    }
    finish_call(c, type);
}

static void compile_call_indirect(compiler *c)
{
    uint32_t type_index = read_u32(c);
    uint32_t table = read_u32(c);
    if (c->failed || type_index >= c->module->type_count) {
        fail(c, "bad type index");
        return;
    }
    if (c->unreachable) return;
    const wasm_functype *type = &c->module->types[type_index];
    uint32_t element = pop(c);
    materialize_top(c, type->param_count);
    emit_op(c, WASM_OP_call_indirect, home(c, c->height - type->param_count));
    emit_cell(c, pair(type_index, table));
    emit_cell(c, element);
    finish_call(c, type);
}

/* ---- the opcode tables ------------------------------------------------- */

static bool is_unary_numeric(uint8_t opcode)
{
    return opcode == 0x45 || opcode == 0x50 || (opcode >= 0x67 && opcode <= 0x69) ||
           (opcode >= 0x79 && opcode <= 0x7B) || (opcode >= 0x8B && opcode <= 0x91) ||
           (opcode >= 0x99 && opcode <= 0x9F) || opcode >= 0xA7;
}

static void compile_numeric(compiler *c, uint8_t opcode)
{
    if (c->unreachable) return;
    int op;
    if (opcode <= 0xBB)
        op = WASM_OP_i32_eqz + (opcode - 0x45);
    else if (opcode <= 0xBF)
        op = WASM_OP_copy; /* reinterpretations: the bits stay */
    else
        op = WASM_OP_i32_extend8_s + (opcode - 0xC0);
    if (is_unary_numeric(opcode))
        emit_unary(c, op);
    else
        emit_binary(c, op);
}

static int fused_load(int op)
{
    switch (op) {
    case WASM_OP_i32_load: return WASM_OP_i32_load_add;
    case WASM_OP_i64_load: return WASM_OP_i64_load_add;
    case WASM_OP_i32_load8_u: return WASM_OP_i32_load8_u_add;
    case WASM_OP_i32_load8_s: return WASM_OP_i32_load8_s_add;
    case WASM_OP_i64_load8_u: return WASM_OP_i64_load8_u_add;
    default: return -1;
    }
}

static int fused_load_set(int op)
{
    switch (op) {
    case WASM_OP_i32_load: return WASM_OP_i32_load_add_set;
    case WASM_OP_i64_load: return WASM_OP_i64_load_add_set;
    case WASM_OP_i32_load8_u: return WASM_OP_i32_load8_u_add_set;
    default: return -1;
    }
}

/* The fused form of a float instruction whose result is then stored, or -1. */
static int fused_store(int producer, int store_op)
{
    if (store_op == WASM_OP_i64_store) {
        switch (producer) {
        case WASM_OP_f64_mul_add_mem: return WASM_OP_f64_mul_add_mem_store;
        case WASM_OP_f64_mul_add_amem: return WASM_OP_f64_mul_add_amem_store;
        case WASM_OP_f64_mul_sub_amem: return WASM_OP_f64_mul_sub_amem_store;
        case WASM_OP_f64_mul_sub_mem: return WASM_OP_f64_mul_sub_mem_store;
        case WASM_OP_f64_mul_add: return WASM_OP_f64_mul_add_store;
        case WASM_OP_f64_mul_sub: return WASM_OP_f64_mul_sub_store;
        case WASM_OP_f64_add: return WASM_OP_f64_add_store;
        case WASM_OP_f64_sub: return WASM_OP_f64_sub_store;
        case WASM_OP_f64_mul: return WASM_OP_f64_mul_store;
        default: return -1;
        }
    }
    if (store_op == WASM_OP_i32_store) {
        switch (producer) {
        case WASM_OP_f32_mul_add: return WASM_OP_f32_mul_add_store;
        case WASM_OP_f32_mul_sub: return WASM_OP_f32_mul_sub_store;
        case WASM_OP_f32_add: return WASM_OP_f32_add_store;
        case WASM_OP_f32_sub: return WASM_OP_f32_sub_store;
        case WASM_OP_f32_mul: return WASM_OP_f32_mul_store;
        default: return -1;
        }
    }
    return -1;
}

/* The address of an f64 load as p + q (a 32-bit sum written to slot set) +
 * offset; set is the loaded slot itself when the load wrote no local. */
static bool load_address(compiler *c, size_t start, int load, uint32_t *p, uint32_t *q,
                         uint32_t *set, uint32_t *offset)
{
    uint32_t loaded = (uint32_t)(c->cells[start] >> 32);
    uint64_t operands = c->cells[start + 1];
    *p = (uint32_t)operands;
    if (load == WASM_OP_i64_load) {
        *q = const_slot(c, 0);
        *set = loaded;
        *offset = (uint32_t)(operands >> 32);
        return !c->failed;
    }
    if (load != WASM_OP_i64_load_add && load != WASM_OP_i64_load_add_set) return false;
    *q = (uint32_t)(operands >> 32);
    uint64_t last = c->cells[start + 2];
    *set = load == WASM_OP_i64_load_add_set ? (uint32_t)last : loaded;
    *offset = load == WASM_OP_i64_load_add_set ? (uint32_t)(last >> 32) : (uint32_t)last;
    return true;
}

/* mem[t] = m +/- x * mem[p2 + q2] where m was loaded just before (matmul's
 * product[i][j] += factor * right[k][j]): one instruction that runs both
 * loads, the multiply-add and the store in the original order (each sum is
 * written to its slot before the operands after it are read). */
static bool fuse_store_two_loads(compiler *c, int op, uint32_t offset)
{
    if (op != WASM_OP_i64_store || !last_is_top(c) || c->height < 2) return false;
    int producer = c->last_op;
    if (producer != WASM_OP_f64_mul_add_mem && producer != WASM_OP_f64_mul_sub_mem) return false;
    if (c->prev_end != c->last_start) return false;
    uint32_t value = c->stack[c->height - 1];
    uint32_t loaded = (uint32_t)(c->cells[c->prev_start] >> 32);
    uint64_t operands = c->cells[c->last_start + 1];
    uint64_t memory_cells[2] = {c->cells[c->last_start + 2], c->cells[c->last_start + 3]};
    uint32_t set2 = (uint32_t)memory_cells[1];
    if ((uint32_t)(c->cells[c->last_start] >> 32) != value || (uint32_t)operands != value ||
        loaded != value || c->stack[c->height - 2] == value || set2 == value)
        return false;
    uint32_t p, q, set, load_offset;
    if (!load_address(c, c->prev_start, c->prev_op, &p, &q, &set, &load_offset)) return false;
    int fused = producer == WASM_OP_f64_mul_add_mem ? WASM_OP_f64_mul_add_mem2_store
                                                    : WASM_OP_f64_mul_sub_mem2_store;
    c->cell_count = c->prev_start;
    c->height--;
    uint32_t address = pop(c);
    emit_op(c, fused, value);
    emit_cell(c, pair(p, q));
    emit_cell(c, pair(set, load_offset));
    emit_cell(c, pair((uint32_t)(operands >> 32), (uint32_t)memory_cells[0]));
    emit_cell(c, pair((uint32_t)(memory_cells[0] >> 32), set2));
    emit_cell(c, pair((uint32_t)(memory_cells[1] >> 32), address));
    emit_cell(c, offset);
    forget_last(c);
    return true;
}

/* A store of the value the instruction just emitted computed (into the
 * top's home slot, or into a local by local.tee / local.set + local.get):
 * that instruction also stores, keeping its write to dst (a local may need
 * it; a dead home slot costs nothing). */
static bool fuse_store(compiler *c, int op, uint32_t offset)
{
    if (c->height < 2) return false;
    uint32_t value = c->stack[c->height - 1];
    size_t start;
    int producer;
    if (last_is_top(c)) {
        start = c->last_start;
        producer = c->last_op;
    } else if (c->prev_end == c->cell_count) {
        start = c->prev_start;
        producer = c->prev_op;
    } else {
        return false;
    }
    int fused = fused_store(producer, op);
    if (fused < 0 || (uint32_t)(c->cells[start] >> 32) != value) return false;
    /* "local.set L; local.get L; local.get L; store": the address is the
     * result itself, read after the instruction; keep them apart. */
    if (c->stack[c->height - 2] == value) return false;
    bool three_operands = producer == WASM_OP_f64_mul_add || producer == WASM_OP_f64_mul_sub ||
                          producer == WASM_OP_f32_mul_add || producer == WASM_OP_f32_mul_sub;
    bool memory_operand =
        producer == WASM_OP_f64_mul_add_mem || producer == WASM_OP_f64_mul_sub_mem;
    bool loaded_addend =
        producer == WASM_OP_f64_mul_add_amem || producer == WASM_OP_f64_mul_sub_amem;
    uint64_t operands = c->cells[start + 1];
    uint32_t y = three_operands ? (uint32_t)c->cells[start + 2] : 0;
    uint64_t load_cells[2] = {0, 0};
    if (memory_operand) memcpy(load_cells, &c->cells[start + 2], sizeof load_cells);
    uint64_t y_cell = loaded_addend ? c->cells[start + 2] : 0;
    c->cell_count = start;
    c->height--;
    uint32_t address = pop(c);
    emit_op(c, fused, value);
    emit_cell(c, operands);
    if (loaded_addend) {
        emit_cell(c, y_cell);
        emit_cell(c, pair(address, offset));
    } else if (memory_operand) {
        emit_cell(c, load_cells[0]);
        emit_cell(c, load_cells[1]);
        emit_cell(c, pair(address, offset));
    } else if (three_operands) {
        emit_cell(c, pair(y, address));
        emit_cell(c, offset);
    } else {
        emit_cell(c, pair(address, offset));
    }
    forget_last(c);
    return true;
}

static void compile_memory_access(compiler *c, int op, bool store)
{
    read_u32(c); /* alignment: only a hint */
    uint32_t offset = read_u32(c);
    if (c->unreachable) return;
    if (store && (fuse_store_two_loads(c, op, offset) || fuse_store(c, op, offset))) return;
    if (store) {
        uint32_t value = pop(c);
        uint32_t address = pop(c);
        size_t start = emit_op(c, op, address);
        emit_cell(c, pair(value, offset));
        forget_last(c);
        c->store_start = start;
        c->store_end = c->cell_count;
        c->store_op = op;
    } else if (fused_load_set(op) >= 0 && c->prev_end == c->cell_count &&
               c->prev_op == WASM_OP_i32_add && c->height > 0 &&
               c->stack[c->height - 1] == (uint32_t)(c->cells[c->prev_start] >> 32)) {
        /* "local.tee L (i32.add a b)" (or set and get) then a load from L:
         * one instruction that sets L and loads. */
        int fused = fused_load_set(op);
        uint32_t local = (uint32_t)(c->cells[c->prev_start] >> 32);
        uint64_t operands = c->cells[c->prev_start + 1];
        /* The instruction before the add stays just before the load (for
         * fuse_store_two_loads). */
        bool keep_before = c->before_end == c->prev_start;
        c->cell_count = c->prev_start;
        pop(c);
        uint32_t dst = push_home(c);
        size_t start = emit_op(c, fused, dst);
        emit_cell(c, operands);
        emit_cell(c, pair(local, offset));
        c->last_end = SIZE_MAX;
        c->prev_end = SIZE_MAX;
        if (keep_before) {
            c->prev_start = c->before_start;
            c->prev_end = start;
            c->prev_op = c->before_op;
        }
        c->before_end = SIZE_MAX;
        note_last(c, start, fused, 0, 0);
    } else if (last_is_top(c) && c->last_op == WASM_OP_i32_add && fused_load(op) >= 0) {
        /* The address was computed by the last instruction: add and load at once. */
        uint32_t a = c->last_a, b = c->last_b;
        c->cell_count = c->last_start;
        pop(c);
        uint32_t dst = push_home(c);
        size_t start = emit_op(c, fused_load(op), dst);
        emit_cell(c, pair(a, b));
        emit_cell(c, offset);
        note_last(c, start, fused_load(op), 0, 0);
    } else {
        uint32_t address = pop(c);
        uint32_t dst = push_home(c);
        size_t start = emit_op(c, op, dst);
        emit_cell(c, pair(address, offset));
        note_last(c, start, op, 0, 0);
    }
}

static void compile_prefixed(compiler *c)
{
    uint32_t sub = read_u32(c);
    if (c->failed) return;
    if (sub <= 7) {
        if (!c->unreachable) emit_unary(c, WASM_OP_i32_trunc_sat_f32_s + (int)sub);
        return;
    }
    uint32_t x = 0, y = 0;
    switch (sub) {
    case 8: /* memory.init data 0 */
        x = read_u32(c);
        read_byte(c);
        if (c->unreachable) return;
        {
            uint32_t n = pop(c), s = pop(c), d = pop(c);
            emit_op(c, WASM_OP_memory_init, x);
            emit_cell(c, pair(d, s));
            emit_cell(c, n);
        }
        break;
    case 9:
        x = read_u32(c);
        if (c->unreachable) return;
        emit_op(c, WASM_OP_data_drop, x);
        break;
    case 10:
        read_byte(c);
        read_byte(c);
        if (c->unreachable) return;
        {
            uint32_t n = pop(c), s = pop(c), d = pop(c);
            emit_op(c, WASM_OP_memory_copy, d);
            emit_cell(c, pair(s, n));
        }
        break;
    case 11:
        read_byte(c);
        if (c->unreachable) return;
        {
            uint32_t n = pop(c), v = pop(c), d = pop(c);
            emit_op(c, WASM_OP_memory_fill, d);
            emit_cell(c, pair(v, n));
        }
        break;
    case 12: /* table.init elem table */
        x = read_u32(c);
        y = read_u32(c);
        if (c->unreachable) return;
        {
            uint32_t n = pop(c), s = pop(c), d = pop(c);
            emit_op(c, WASM_OP_table_init, y);
            emit_cell(c, pair(d, s));
            emit_cell(c, pair(n, x));
        }
        break;
    case 13:
        x = read_u32(c);
        if (c->unreachable) return;
        emit_op(c, WASM_OP_elem_drop, x);
        break;
    case 14: /* table.copy dst src */
        x = read_u32(c);
        y = read_u32(c);
        if (c->unreachable) return;
        {
            uint32_t n = pop(c), s = pop(c), d = pop(c);
            emit_op(c, WASM_OP_table_copy, x);
            emit_cell(c, pair(d, s));
            emit_cell(c, pair(n, y));
        }
        break;
    case 15: /* table.grow */
        x = read_u32(c);
        if (c->unreachable) return;
        {
            uint32_t n = pop(c), init = pop(c);
            uint32_t dst = push_home(c);
            emit_op(c, WASM_OP_table_grow, dst);
            emit_cell(c, pair(init, n));
            emit_cell(c, x);
        }
        break;
    case 16:
        x = read_u32(c);
        if (c->unreachable) return;
        emit_result_op(c, WASM_OP_table_size, x);
        break;
    case 17:
        x = read_u32(c);
        if (c->unreachable) return;
        {
            uint32_t n = pop(c), v = pop(c), i = pop(c);
            emit_op(c, WASM_OP_table_fill, x);
            emit_cell(c, pair(i, v));
            emit_cell(c, n);
        }
        break;
    default: fail(c, "unknown 0xFC instruction"); return;
    }
    forget_last(c);
}

/* Reads a br/br_if label depth; false when the code is unreachable (nothing
 * to emit) or the depth is out of range (the compiler has failed). */
static bool read_branch_depth(compiler *c, uint32_t *depth)
{
    *depth = read_u32(c);
    if (c->unreachable) return false;
    if (*depth >= c->control_count) {
        fail(c, "bad branch depth");
        return false;
    }
    return true;
}

/* One instruction; returns true after the function's final end. */
static bool compile_instruction(compiler *c)
{
    uint8_t opcode = read_byte(c);
    if (c->failed) return true;
    switch (opcode) {
    case 0x00:
        if (c->unreachable) break;
        emit_op(c, WASM_OP_unreachable, 0);
        become_unreachable(c);
        break;
    case 0x01: break;
    case 0x02: compile_block(c, CONTROL_BLOCK); break;
    case 0x03: compile_block(c, CONTROL_LOOP); break;
    case 0x04: compile_block(c, CONTROL_IF); break;
    case 0x05: compile_else(c); break;
    case 0x0B: return compile_end(c);
    case 0x0C: {
        uint32_t depth;
        if (!read_branch_depth(c, &depth)) break;
        emit_jump(c, depth);
        become_unreachable(c);
        break;
    }
    case 0x0D: {
        uint32_t depth;
        if (read_branch_depth(c, &depth)) compile_br_if(c, depth);
        break;
    }
    case 0x0E:
        if (c->unreachable) {
            uint32_t count = read_u32(c);
            for (uint64_t i = 0; i <= count && !c->failed; i++)
                read_u32(c);
            break;
        }
        compile_br_table(c);
        become_unreachable(c);
        break;
    case 0x0F:
        if (c->unreachable) break;
        emit_return(c);
        become_unreachable(c);
        break;
    case 0x10: {
        uint32_t index = read_u32(c);
        if (!c->unreachable) compile_call(c, index);
        break;
    }
    case 0x11: compile_call_indirect(c); break;
    case 0x1A:
        if (!c->unreachable) pop(c);
        forget_last(c);
        break;
    case 0x1C: {
        uint32_t count = read_u32(c);
        for (uint32_t i = 0; i < count && !c->failed; i++)
            read_byte(c);
    }
        /* fall through */
    case 0x1B:
        if (c->unreachable) break;
        {
            uint32_t condition = pop(c), b = pop(c), a = pop(c);
            uint32_t dst = push_home(c);
            size_t start = emit_op(c, WASM_OP_select, dst);
            emit_cell(c, pair(a, b));
            emit_cell(c, condition);
            note_last(c, start, WASM_OP_select, 0, 0);
        }
        break;
    case 0x20: {
        uint32_t local = read_u32(c);
        if (c->unreachable) break;
        if (local >= c->local_count) {
            fail(c, "bad local index");
            break;
        }
        push_slot(c, local);
        break;
    }
    case 0x21:
    case 0x22: {
        uint32_t local = read_u32(c);
        if (!c->unreachable) set_local(c, local, opcode == 0x22);
        break;
    }
    case 0x23: {
        uint32_t index = read_u32(c);
        if (!c->unreachable) emit_result_op(c, WASM_OP_global_get, index);
        break;
    }
    case 0x24: {
        uint32_t index = read_u32(c);
        if (c->unreachable) break;
        uint32_t value = pop(c);
        emit_op(c, WASM_OP_global_set, index);
        emit_cell(c, value);
        forget_last(c);
        break;
    }
    case 0x25: {
        uint32_t table = read_u32(c);
        if (c->unreachable) break;
        uint32_t index = pop(c);
        emit_result_op(c, WASM_OP_table_get, pair(index, table));
        break;
    }
    case 0x26: {
        uint32_t table = read_u32(c);
        if (c->unreachable) break;
        uint32_t value = pop(c), index = pop(c);
        emit_op(c, WASM_OP_table_set, table);
        emit_cell(c, pair(index, value));
        forget_last(c);
        break;
    }
    case 0x28: compile_memory_access(c, WASM_OP_i32_load, false); break;
    case 0x29: compile_memory_access(c, WASM_OP_i64_load, false); break;
    case 0x2A: compile_memory_access(c, WASM_OP_i32_load, false); break;
    case 0x2B: compile_memory_access(c, WASM_OP_i64_load, false); break;
    case 0x2C: compile_memory_access(c, WASM_OP_i32_load8_s, false); break;
    case 0x2D: compile_memory_access(c, WASM_OP_i32_load8_u, false); break;
    case 0x2E: compile_memory_access(c, WASM_OP_i32_load16_s, false); break;
    case 0x2F: compile_memory_access(c, WASM_OP_i32_load16_u, false); break;
    case 0x30: compile_memory_access(c, WASM_OP_i64_load8_s, false); break;
    case 0x31: compile_memory_access(c, WASM_OP_i64_load8_u, false); break;
    case 0x32: compile_memory_access(c, WASM_OP_i64_load16_s, false); break;
    case 0x33: compile_memory_access(c, WASM_OP_i64_load16_u, false); break;
    case 0x34: compile_memory_access(c, WASM_OP_i64_load32_s, false); break;
    case 0x35: compile_memory_access(c, WASM_OP_i64_load32_u, false); break;
    case 0x36: compile_memory_access(c, WASM_OP_i32_store, true); break;
    case 0x37: compile_memory_access(c, WASM_OP_i64_store, true); break;
    case 0x38: compile_memory_access(c, WASM_OP_i32_store, true); break;
    case 0x39: compile_memory_access(c, WASM_OP_i64_store, true); break;
    case 0x3A: compile_memory_access(c, WASM_OP_i32_store8, true); break;
    case 0x3B: compile_memory_access(c, WASM_OP_i32_store16, true); break;
    case 0x3C: compile_memory_access(c, WASM_OP_i32_store8, true); break;
    case 0x3D: compile_memory_access(c, WASM_OP_i32_store16, true); break;
    case 0x3E: compile_memory_access(c, WASM_OP_i32_store, true); break;
    case 0x3F:
        read_byte(c);
        if (c->unreachable) break;
        {
            uint32_t dst = push_home(c);
            size_t start = emit_op(c, WASM_OP_memory_size, dst);
            note_last(c, start, WASM_OP_memory_size, 0, 0);
        }
        break;
    case 0x40:
        read_byte(c);
        if (c->unreachable) break;
        {
            uint32_t n = pop(c);
            emit_result_op(c, WASM_OP_memory_grow, n);
        }
        break;
    case 0x41: {
        uint32_t value = (uint32_t)read_leb(c, true, 32);
        if (!c->unreachable) push_slot(c, const_slot(c, value));
        break;
    }
    case 0x42: {
        uint64_t value = read_leb(c, true, 64);
        if (!c->unreachable) push_slot(c, const_slot(c, value));
        break;
    }
    case 0x43: {
        uint64_t value = read_fixed(c, 4);
        if (!c->unreachable) push_slot(c, const_slot(c, value));
        break;
    }
    case 0x44: {
        uint64_t value = read_fixed(c, 8);
        if (!c->unreachable) push_slot(c, const_slot(c, value));
        break;
    }
    case 0xD0:
        read_byte(c);
        if (!c->unreachable) push_slot(c, const_slot(c, 0));
        forget_last(c);
        break;
    case 0xD1:
        if (!c->unreachable) emit_unary(c, WASM_OP_ref_is_null);
        break;
    case 0xD2: {
        uint32_t index = read_u32(c);
        if (!c->unreachable) emit_result_op(c, WASM_OP_ref_func, index);
        break;
    }
    case 0xFC: compile_prefixed(c); break;
    default:
        if (opcode >= 0x45 && opcode <= 0xC4) {
            compile_numeric(c, opcode);
            break;
        }
        fail(c, "unknown instruction");
        return true;
    }
    return false;
}

/* ---- functions --------------------------------------------------------- */

static void reset_compiler(compiler *c)
{
    c->cell_count = 0;
    c->height = 0;
    c->max_height = 0;
    c->control_count = 0;
    c->unreachable = false;
    c->dead_depth = 0;
    c->const_count = 0;
    c->scratch_count = 0;
    if (c->const_hash) memset(c->const_hash, 0, c->const_hash_size * sizeof *c->const_hash);
    forget_last(c);
}

static void free_controls(compiler *c)
{
    for (uint32_t i = 0; i < c->control_count; i++)
        free(c->controls[i].fixups);
    c->control_count = 0;
}

static bool run_pass(compiler *c, uint32_t scratch_base, uint32_t stack_base)
{
    reset_compiler(c);
    c->scratch_base = scratch_base;
    c->stack_base = stack_base;
    c->p = c->function->body;
    c->end = c->function->body + c->function->body_size;
    const wasm_functype *type = &c->module->types[c->function->type_index];
    c->param_count = type->param_count;
    c->loop_depth = 0;
    c->written = calloc(c->local_count + 1, 1);
    if (c->written == NULL) {
        lun_error_set(c->error, LUN_ERR_NO_MEMORY, "out of memory compiling");
        c->failed = true;
        return false;
    }
    push_control(c, CONTROL_FUNCTION, 0, type->result_count);
    while (!c->failed && !compile_instruction(c)) {
    }
    free_controls(c);
    free(c->written);
    c->written = NULL;
    return !c->failed;
}

static wasm_code *compile_function(compiler *c, uint32_t index)
{
    const lun_module *m = c->module;
    const wasm_function *function = &m->functions[index];
    const wasm_functype *type = &m->types[function->type_index];
    c->function = function;
    uint64_t locals = (uint64_t)type->param_count + function->local_count;
    if (locals > WASM_LOCAL_SLOT_LIMIT) {
        lun_error_set(c->error, LUN_ERR_UNSUPPORTED, "function %u: too many locals", index);
        c->failed = true;
        return NULL;
    }
    c->local_count = (uint32_t)locals;
    c->const_base = c->local_count;
    /* Far from every real slot, so that no constant looks like a home slot. */
    if (!run_pass(c, 1u << 29, 1u << 30)) return NULL;
    uint32_t const_count = c->const_count;
    uint32_t scratch_count = c->scratch_count;
    uint64_t stack_base = (uint64_t)c->local_count + const_count + scratch_count;
    if (stack_base >= (1u << 29)) {
        lun_error_set(c->error, LUN_ERR_UNSUPPORTED, "function %u: frame too large", index);
        c->failed = true;
        return NULL;
    }
    if (!run_pass(c, c->local_count + const_count, (uint32_t)stack_base)) return NULL;
    if (c->const_count != const_count || c->scratch_count != scratch_count) {
        fail(c, "internal: frame layout changed between passes");
        return NULL;
    }
    uint64_t frame = stack_base + c->max_height + 1;
    wasm_code *code = calloc(1, sizeof *code);
    uint32_t init_count = c->local_count - type->param_count + const_count;
    /* A short init is copied as WASM_INIT_BLOCK slots at once when the
     * frame has room (one predictable branch per call instead of a jump
     * table): the slots past it are scratch or stack, written before read. */
    if (init_count <= WASM_INIT_BLOCK && type->param_count + WASM_INIT_BLOCK <= frame)
        init_count = WASM_INIT_BLOCK;
    uint64_t *init = calloc(init_count + 1, sizeof *init);
    uint64_t *cells = malloc(c->cell_count * sizeof *cells);
    if (code == NULL || init == NULL || cells == NULL || frame > UINT32_MAX) {
        free(code);
        free(init);
        free(cells);
        lun_error_set(c->error, LUN_ERR_NO_MEMORY, "out of memory compiling");
        c->failed = true;
        return NULL;
    }
    memcpy(cells, c->cells, c->cell_count * sizeof *cells);
    if (const_count > 0)
        memcpy(init + (c->local_count - type->param_count), c->consts,
               const_count * sizeof *c->consts);
    code->function_index = m->imported_function_count + index;
    code->param_count = type->param_count;
    code->result_count = type->result_count;
    code->local_count = c->local_count;
    code->const_count = const_count;
    code->frame_size = (uint32_t)frame;
    code->init = init;
    code->init_count = init_count;
    code->cells = cells;
    code->cell_count = c->cell_count;
    return code;
}

lun_status wasm_compile(lun_module *module, lun_error *error)
{
    compiler c;
    memset(&c, 0, sizeof c);
    c.module = module;
    c.error = error;
    c.handlers = wasm_interp_handler_offsets();
    /* The code of a call names its callee's compiled code, so every
     * function's wasm_code is allocated before any body is compiled. */
    for (uint32_t i = 0; i < module->function_count; i++) {
        module->functions[i].compiled = calloc(1, sizeof(wasm_code));
        if (module->functions[i].compiled == NULL) {
            wasm_compiled_free(module);
            return lun_error_set(error, LUN_ERR_NO_MEMORY, "out of memory compiling");
        }
    }
    for (uint32_t i = 0; i < module->function_count && !c.failed; i++) {
        wasm_code *code = compile_function(&c, i);
        if (code == NULL) break;
        wasm_code *slot = module->functions[i].compiled;
        *slot = *code;
        free(code);
    }
    free(c.cells);
    free(c.stack);
    free(c.controls);
    free(c.consts);
    free(c.const_hash);
    if (c.failed) {
        wasm_compiled_free(module);
        return error ? error->code : LUN_ERR_MALFORMED;
    }
    lun_error_clear(error);
    return LUN_OK;
}

void wasm_compiled_free(lun_module *module)
{
    if (module == NULL || module->functions == NULL) return;
    for (uint32_t i = 0; i < module->function_count; i++) {
        wasm_code *code = module->functions[i].compiled;
        if (code != NULL) {
            free(code->init);
            free(code->cells);
            free(code);
        }
        module->functions[i].compiled = NULL;
    }
}

#ifdef WASM_DEBUG_DUMP
#include <stdio.h>
/* Prints the internal code of every function (debugging aid). */
void wasm_debug_dump(const lun_module *module)
{
#define WASM_OP_NAME(name) #name,
    static const char *names[] = {WASM_INTERNAL_OPS(WASM_OP_NAME)};
#undef WASM_OP_NAME
    const int32_t *handlers = wasm_interp_handler_offsets();
    for (uint32_t f = 0; f < module->function_count; f++) {
        const wasm_code *code = module->functions[f].compiled;
        fprintf(stderr, "function %u: locals %u consts %u frame %u\n", code->function_index,
                code->local_count, code->const_count, code->frame_size);
        for (size_t i = 0; i < code->cell_count; i++) {
            int32_t handler = (int32_t)(uint32_t)code->cells[i];
            int op = -1;
            for (int k = 0; k < WASM_OP_COUNT; k++)
                if (handlers[k] == handler) op = k;
            fprintf(stderr, "  %4zu: %016llx %s\n", i, (unsigned long long)code->cells[i],
                    op >= 0 ? names[op] : "");
        }
    }
}
#endif
