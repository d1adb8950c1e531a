/*
 * The interpreter's internal code, shared by compile.c (which writes it) and
 * interp.c (which runs it).
 *
 * Code is an array of 64-bit cells. The first cell of an instruction holds,
 * in its low 32 bits, the offset of the handler's label from a base label in
 * the interpreter (computed goto; the offsets make the code position
 * independent and let one module's code serve every instance), and in its
 * high 32 bits the first operand. Operands are frame slot numbers: every
 * value, whatever its type, takes one 64-bit slot. A frame is laid out as
 * [parameters and locals][constants][operand stack]; constants are copied in
 * at function entry so that an instruction reads a constant like any slot.
 * Branch targets are cell offsets relative to the branching instruction.
 */
#ifndef LUNATIC_WASM_CODE_H
#define LUNATIC_WASM_CODE_H

#include <stdint.h>

#include "module.h"

/* Every internal instruction, with its operands: [first cell operand][next
 * cell: low | high].... */
// clang-format off
#define WASM_INTERNAL_OPS(X) \
    /* control */ \
    X(unreachable) X(halt) X(nop) \
    /* [rel]; [cond][rel] */ \
    X(br) X(br_if) X(br_unless) \
    /* [index][count][rel]... count+1 targets, the last is the default */ \
    X(br_table) X(loop_fuel) \
    /* compare and branch: [rel][a|b] */ \
    X(br_i32_eq) X(br_i32_ne) X(br_i32_lt_s) X(br_i32_lt_u) X(br_i32_gt_s) \
    X(br_i32_gt_u) X(br_i32_le_s) X(br_i32_le_u) X(br_i32_ge_s) X(br_i32_ge_u) \
    X(br_i64_eq) X(br_i64_ne) X(br_i64_lt_s) X(br_i64_lt_u) X(br_i64_gt_s) \
    X(br_i64_gt_u) X(br_i64_le_s) X(br_i64_le_u) X(br_i64_ge_s) X(br_i64_ge_u) \
    /* [argslot][wasm_code*]; [argslot][function index]; [argslot][type|table][index slot]; [argslot][lun_func*] */ \
    X(call_local) X(call_import) X(call_indirect) X(call_func) \
    /* []; [src]; [src][n] */ \
    X(return0) X(return1) X(return_n) \
    /* [dst][src]; [dst][a|b][cond]; [dst][index]; [index][src]; [dst][index]; [dst][a] */ \
    X(copy) X(select) X(global_get) X(global_set) X(ref_func) \
    X(ref_is_null) \
    /* [dst][index|table]; [table][index|value]; [dst][table]; [dst][init|n][table] */ \
    X(table_get) X(table_set) X(table_size) X(table_grow) \
    /* [table][i|value][n]; [dst table][d|s][n|src table]; [table][d|s][n|elem]; [elem] */ \
    X(table_fill) X(table_copy) X(table_init) X(elem_drop) \
    /* [dst]; [dst][n]; [data][d|s][n]; [data]; [d][s|n]; [d][value|n] */ \
    X(memory_size) X(memory_grow) X(memory_init) X(data_drop) X(memory_copy) \
    X(memory_fill) \
    /* loads: [dst][address|offset] */ \
    X(i32_load) X(i64_load) X(i32_load8_s) X(i32_load8_u) X(i32_load16_s) \
    X(i32_load16_u) \
    X(i64_load8_s) X(i64_load8_u) X(i64_load16_s) X(i64_load16_u) X(i64_load32_s) \
    X(i64_load32_u) \
    /* stores: [address][value|offset] */ \
    X(i32_store) X(i64_store) X(i32_store8) X(i32_store16) \
    /* numbers, in binary-format order from i32.eqz (0x45) to f64.promote_f32 (0xBB): unary [dst][a], binary [dst][a|b] */ \
    X(i32_eqz) X(i32_eq) X(i32_ne) X(i32_lt_s) X(i32_lt_u) \
    X(i32_gt_s) X(i32_gt_u) X(i32_le_s) X(i32_le_u) X(i32_ge_s) \
    X(i32_ge_u) \
    X(i64_eqz) X(i64_eq) X(i64_ne) X(i64_lt_s) X(i64_lt_u) \
    X(i64_gt_s) X(i64_gt_u) X(i64_le_s) X(i64_le_u) X(i64_ge_s) \
    X(i64_ge_u) \
    X(f32_eq) X(f32_ne) X(f32_lt) X(f32_gt) X(f32_le) \
    X(f32_ge) X(f64_eq) X(f64_ne) X(f64_lt) X(f64_gt) \
    X(f64_le) X(f64_ge) \
    X(i32_clz) X(i32_ctz) X(i32_popcnt) X(i32_add) X(i32_sub) \
    X(i32_mul) X(i32_div_s) X(i32_div_u) X(i32_rem_s) \
    X(i32_rem_u) X(i32_and) X(i32_or) X(i32_xor) X(i32_shl) \
    X(i32_shr_s) X(i32_shr_u) X(i32_rotl) X(i32_rotr) \
    X(i64_clz) X(i64_ctz) X(i64_popcnt) X(i64_add) X(i64_sub) \
    X(i64_mul) X(i64_div_s) X(i64_div_u) X(i64_rem_s) \
    X(i64_rem_u) X(i64_and) X(i64_or) X(i64_xor) X(i64_shl) \
    X(i64_shr_s) X(i64_shr_u) X(i64_rotl) X(i64_rotr) \
    X(f32_abs) X(f32_neg) X(f32_ceil) X(f32_floor) X(f32_trunc) \
    X(f32_nearest) X(f32_sqrt) \
    X(f32_add) X(f32_sub) X(f32_mul) X(f32_div) X(f32_min) \
    X(f32_max) X(f32_copysign) \
    X(f64_abs) X(f64_neg) X(f64_ceil) X(f64_floor) X(f64_trunc) \
    X(f64_nearest) X(f64_sqrt) \
    X(f64_add) X(f64_sub) X(f64_mul) X(f64_div) X(f64_min) \
    X(f64_max) X(f64_copysign) \
    X(i32_wrap_i64) X(i32_trunc_f32_s) X(i32_trunc_f32_u) X(i32_trunc_f64_s) X(i32_trunc_f64_u) \
    X(i64_extend_i32_s) X(i64_extend_i32_u) X(i64_trunc_f32_s) X(i64_trunc_f32_u) X(i64_trunc_f64_s) \
    X(i64_trunc_f64_u) \
    X(f32_convert_i32_s) X(f32_convert_i32_u) X(f32_convert_i64_s) X(f32_convert_i64_u) X(f32_demote_f64) \
    X(f64_convert_i32_s) X(f64_convert_i32_u) X(f64_convert_i64_s) X(f64_convert_i64_u) X(f64_promote_f32) \
    /* then 0xC0..0xC4 and the saturating conversions (0xFC 0..7) */ \
    X(i32_extend8_s) X(i32_extend16_s) X(i64_extend8_s) X(i64_extend16_s) X(i64_extend32_s) \
    X(i32_trunc_sat_f32_s) X(i32_trunc_sat_f32_u) X(i32_trunc_sat_f64_s) X(i32_trunc_sat_f64_u) \
    X(i64_trunc_sat_f32_s) X(i64_trunc_sat_f32_u) X(i64_trunc_sat_f64_s) X(i64_trunc_sat_f64_u) \
    /* fused: dst = a + x * y, a - x * y: [dst][a|x][y] */ \
    X(f32_mul_add) X(f32_mul_sub) X(f64_mul_add) X(f64_mul_sub) \
    /* fused: a load from address a + b (a 32-bit sum): [dst][a|b][offset] */ \
    X(i32_load_add) X(i64_load_add) X(i32_load8_u_add) X(i32_load8_s_add) X(i64_load8_u_add) \
    /* fused: local = a + b, then a load from it: [dst][a|b][local|offset] */ \
    X(i32_load_add_set) X(i64_load_add_set) X(i32_load8_u_add_set) \
    /* back-edges: as above, charging the loop's fuel and jumping past its loop_fuel */ \
    X(br_loop) X(br_if_loop) X(br_unless_loop) X(barrier_return) \
    X(br_i32_eq_loop) X(br_i32_ne_loop) X(br_i32_lt_s_loop) X(br_i32_lt_u_loop) X(br_i32_gt_s_loop) \
    X(br_i32_gt_u_loop) X(br_i32_le_s_loop) X(br_i32_le_u_loop) X(br_i32_ge_s_loop) X(br_i32_ge_u_loop) \
    X(br_i64_eq_loop) X(br_i64_ne_loop) X(br_i64_lt_s_loop) X(br_i64_lt_u_loop) X(br_i64_gt_s_loop) \
    X(br_i64_gt_u_loop) X(br_i64_le_s_loop) X(br_i64_le_u_loop) X(br_i64_ge_s_loop) X(br_i64_ge_u_loop) \
    /* fused loop step: dst = a + b, then branch when dst <op> c: [rel][a|b][dst|c] */ \
    X(add_br_i32_eq) X(add_br_i32_ne) X(add_br_i32_lt_s) X(add_br_i32_lt_u) X(add_br_i32_gt_s) \
    X(add_br_i32_gt_u) X(add_br_i32_le_s) X(add_br_i32_le_u) X(add_br_i32_ge_s) X(add_br_i32_ge_u) \
    X(add_br_i64_eq) X(add_br_i64_ne) X(add_br_i64_lt_s) X(add_br_i64_lt_u) X(add_br_i64_gt_s) \
    X(add_br_i64_gt_u) X(add_br_i64_le_s) X(add_br_i64_le_u) X(add_br_i64_ge_s) X(add_br_i64_ge_u) \
    X(add_br_i32_eq_loop) X(add_br_i32_ne_loop) X(add_br_i32_lt_s_loop) X(add_br_i32_lt_u_loop) X(add_br_i32_gt_s_loop) \
    X(add_br_i32_gt_u_loop) X(add_br_i32_le_s_loop) X(add_br_i32_le_u_loop) X(add_br_i32_ge_s_loop) X(add_br_i32_ge_u_loop) \
    X(add_br_i64_eq_loop) X(add_br_i64_ne_loop) X(add_br_i64_lt_s_loop) X(add_br_i64_lt_u_loop) X(add_br_i64_gt_s_loop) \
    X(add_br_i64_gt_u_loop) X(add_br_i64_le_s_loop) X(add_br_i64_le_u_loop) X(add_br_i64_ge_s_loop) X(add_br_i64_ge_u_loop) \
    /* fused: a float result written to dst and stored at address + offset: \
       [dst][a|x][y|address][offset] (a + x * y, a - x * y); [dst][a|b][address|offset] */ \
    X(f64_mul_add_store) X(f64_mul_sub_store) X(f32_mul_add_store) X(f32_mul_sub_store) \
    X(f64_add_store) X(f64_sub_store) X(f64_mul_store) X(f32_add_store) X(f32_sub_store) \
    X(f32_mul_store) \
    /* fused: a f64 load as the second operand: [dst][a|address][offset]; [dst][a|p][q|offset] (from p + q) */ \
    X(f64_add_load) X(f64_sub_load) X(f64_add_load_add) X(f64_sub_load_add) \
    /* fused: a +/- x * m, m loaded from s = p + q (a 32-bit sum, also written to slot `set`) + offset: \
       [dst][a|x][p|q][set|offset]; then stored too: ...[address|offset] */ \
    X(f64_mul_add_mem) X(f64_mul_sub_mem) X(f64_mul_add_mem_store) X(f64_mul_sub_mem_store) \
    /* fused: m +/- x * y, m loaded from address + offset: [dst][x|y][address|offset]; \
       then stored too: ...[address|offset] */ \
    X(f64_mul_add_amem) X(f64_mul_sub_amem) X(f64_mul_add_amem_store) X(f64_mul_sub_amem_store) \
    /* fused: mem[t] = m +/- x * v, m loaded from s1 = p1 + q1 (written to set1) + offset1, v from \
       s2 = p2 + q2 (written to set2) + offset2, t read after set1 is written, before set2: \
       [dst][p1|q1][set1|offset1][x|p2][q2|set2][offset2|t][t offset] */ \
    X(f64_mul_add_mem2_store) X(f64_mul_sub_mem2_store) \
    /* fused: a store, then local = a + b (i32; a loop's pointer step): [local][a|b][address|value][offset] */ \
    X(i32_store8_then_add) X(i32_store_then_add) X(i64_store_then_add)
// clang-format on

#define WASM_OP_ENUM(name) WASM_OP_##name,
typedef enum wasm_internal_op { WASM_INTERNAL_OPS(WASM_OP_ENUM) WASM_OP_COUNT } wasm_internal_op;
#undef WASM_OP_ENUM

/* Inits of at most this many slots are padded with zeros to this many when
 * the frame has room (see wasm_code.init_count). */
enum { WASM_INIT_BLOCK = 8 };

/* The most parameters and locals a function may have here. */
enum { WASM_LOCAL_SLOT_LIMIT = 1 << 20 };

/* The compiled form of one defined function (wasm_function.compiled). */
typedef struct wasm_code {
    uint32_t function_index; /* in the module's index space */
    uint32_t param_count;
    uint32_t result_count;
    uint32_t local_count; /* parameters and declared locals */
    uint32_t const_count;
    uint32_t frame_size; /* slots: locals, constants, deepest operand stack */
    uint64_t *init;      /* declared locals (zeros) then constants: frame_size-independent */
    uint32_t init_count; /* local_count - param_count + const_count, or WASM_INIT_BLOCK */
    uint64_t *cells;
    size_t cell_count;
} wasm_code;

/* interp.c: the handler offsets, indexed by wasm_internal_op. */
const int32_t *wasm_interp_handler_offsets(void);

#endif
