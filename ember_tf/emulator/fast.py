"""The fast emulation mode: the golden semantics (access_unit.py, core.py,
ops/) compiled with numba, producing the same CoreActivity, so the same timing
model gives the same cycles. tests/emulator/test_fast_mode.py checks that both
modes agree exactly on every test program.

The access unit runs first and fills the whole queue (it never reads what the
core writes); the core then consumes it. Faults come back as codes and are
turned into the golden mode's messages here. Element types: float32, float64,
int32 and int64 tensors (others: golden mode).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ember_tf.dae_isa import dtypes
from ember_tf.dae_isa._schema_generated import DType
from ember_tf.dae_isa.encoding import Src
from ember_tf.dae_isa.opcodes import BY_MNEMONIC, Event, Kind, SrcKind
from ember_tf.emulator.access_unit import MASK_BYTES, TOKEN_BYTES, Fault, out_of_range_fault
from ember_tf.emulator.activity import AddressMap, CoreActivity
from ember_tf.emulator.machine import MachineConfig
from ember_tf.emulator.program import KernelProgram
from ember_tf.errors import EmulationError

SUPPORTED = {DType.FLOAT32: np.float32, DType.FLOAT64: np.float64, DType.INT32: np.int32, DType.INT64: np.int64}
F32, F64, I32, I64 = DType.FLOAT32, DType.FLOAT64, DType.INT32, DType.INT64
GROUPS = ("control", "queue", "integer", "float", "counter", "memory", "vector", "buffer")
NONE = -1
K_TOKEN, K_INT, K_FLOAT, K_VECTOR, K_BUFFER = 0, 1, 2, 3, 4
KIND_NAMES = ("token", "int", "float", "vector", "buffer")
S_ITE, S_MEM, S_ALU, S_FWD, S_BUF = 0, 1, 2, 3, 4
STREAM_OPS = {"ite": S_ITE, "mem": S_MEM, "alu": S_ALU, "fwd": S_FWD, "buf": S_BUF}
MAX_LANES = 64

_OP = {m: spec.code for m, spec in BY_MNEMONIC.items()}
(OP_HALT, OP_JMP, OP_BEQ, OP_BNE, OP_BLT, OP_BGE, OP_CBPOP, OP_BRTAB, OP_QPOP, OP_QPOPF, OP_QVPOP, OP_QBPOP,
 OP_LI, OP_LC, OP_PARAM, OP_MOV, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_REM, OP_AND, OP_OR, OP_XOR, OP_SHL, OP_SHR,
 OP_SLT, OP_MIN, OP_MAX, OP_ADDI, OP_MULI, OP_LF, OP_FMOV, OP_FADD, OP_FSUB, OP_FMUL, OP_FDIV, OP_FMAX, OP_FMIN,
 OP_FSQRT, OP_FCVT, OP_CTRSET, OP_CTRINC, OP_CTRGET, OP_LD, OP_ST, OP_FLD, OP_FST, OP_VLD, OP_VST, OP_VGATHER,
 OP_VADD, OP_VSUB, OP_VMUL, OP_VDIV, OP_VMAX, OP_VMIN, OP_VFMA, OP_VSCALE, OP_VSPLAT, OP_VMOV, OP_VZERO, OP_VCVT,
 OP_VREDSUM, OP_VIOTA, OP_MSET, OP_BLEN, OP_BLD) = (_OP[m] for m in (
    "halt", "jmp", "beq", "bne", "blt", "bge", "cb.pop", "br.tab", "q.pop", "q.popf", "q.vpop", "q.bpop",
    "li", "lc", "param", "mov", "add", "sub", "mul", "div", "rem", "and", "or", "xor", "shl", "shr",
    "slt", "min", "max", "addi", "muli", "lf", "fmov", "fadd", "fsub", "fmul", "fdiv", "fmax", "fmin",
    "fsqrt", "fcvt", "ctr.set", "ctr.inc", "ctr.get", "ld", "st", "fld", "fst", "vld", "vst", "vgather",
    "vadd", "vsub", "vmul", "vdiv", "vmax", "vmin", "vfma", "vscale", "vsplat", "vmov", "vzero", "vcvt",
    "vredsum", "viota", "mset", "blen", "bld"))

# Fault codes: err[0]; err[1:] carry the values the message needs.
E_RANGE, E_ALU_ZERO, E_JUMP, E_EMPTY, E_KIND, E_DIV, E_BOUNDS, E_BLD, E_VDIV, E_OFF_END, E_STEPS, E_UNDRAINED = \
    range(1, 13)

_JIT = dict(cache=True, error_model="numpy", nogil=True)


# ---------------------------------------------------------------------------
# small shared pieces

@njit(**_JIT)
def _grow(a, n):
    if n < len(a):
        return a
    b = np.zeros(max(2 * len(a), n + 1), dtype=a.dtype)
    b[:len(a)] = a
    return b


@njit(inline="always", **_JIT)
def _round(value, dtype):
    """A float rounded to the element type (stored as float64)."""
    if dtype == F32:
        return np.float64(np.float32(value))
    return value


@njit(inline="always", **_JIT)
def _wrap(value, dtype):
    """An integer wrapped to the element type."""
    if dtype == I32:
        return np.int64(np.int32(value))
    return value


@njit(inline="always", **_JIT)
def _itemsize(dtype):
    return 4 if dtype == F32 or dtype == I32 else 8


@njit(inline="always", **_JIT)
def _is_float(dtype):
    return dtype == F32 or dtype == F64


@intrinsic
def _pointer(typingctx, address):
    """An int64 address as a void pointer, so numba.carray can view a slot's
    memory without the per-access cost of a typed list of arrays."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)
    return types.voidptr(types.int64), codegen


@njit(inline="always", **_JIT)
def _load_many(slot_addr, slot_size, dtype, slot, elements, n, out_f, out_i):
    """out[j] = slot[elements[j]] for j < n, as float64 and int64 (bounds already checked)."""
    if dtype == F32:
        a32 = numba.carray(_pointer(slot_addr[slot]), (slot_size[slot],), np.float32)
        for j in range(n):
            out_f[j] = np.float64(a32[elements[j]])
    elif dtype == F64:
        a64 = numba.carray(_pointer(slot_addr[slot]), (slot_size[slot],), np.float64)
        for j in range(n):
            out_f[j] = a64[elements[j]]
    elif dtype == I32:
        i32 = numba.carray(_pointer(slot_addr[slot]), (slot_size[slot],), np.int32)
        for j in range(n):
            out_i[j] = np.int64(i32[elements[j]])
    else:
        i64 = numba.carray(_pointer(slot_addr[slot]), (slot_size[slot],), np.int64)
        for j in range(n):
            out_i[j] = i64[elements[j]]


@njit(inline="always", **_JIT)
def _trunc_div(a, b):
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


# ---------------------------------------------------------------------------
# the access unit

@njit(inline="always", **_JIT)
def _src(kind, value, k, params, iconst, sval_i, sval_f, vval_i, vval_f, st_width, st_float):
    """(is_float, float, int) value of a SRC operand at lane k."""
    if kind == 0:
        return False, 0.0, value
    if kind == 2:
        return False, 0.0, params[value]
    if kind == 3:
        return False, 0.0, iconst[value]
    if st_width[value] > 1:
        if st_float[value]:
            return True, vval_f[value, k], 0
        return False, 0.0, vval_i[value, k]
    if st_float[value]:
        return True, sval_f[value], 0
    return False, 0.0, sval_i[value]


@njit(inline="always", **_JIT)
def _src_int(kind, value, k, params, iconst, sval_i, sval_f, vval_i, vval_f, st_width, st_float):
    is_f, f, i = _src(kind, value, k, params, iconst, sval_i, sval_f, vval_i, vval_f, st_width, st_float)
    return np.int64(f) if is_f else i


@njit(**_JIT)
def _access(tu_kind, tu_width, tu_lb, tu_ub, tu_first_child, tu_next_sibling, tu_streams,
            st_op, st_tu, st_slot, st_index, st_col, st_alu, st_a, st_b, st_float, st_dtype, st_width,
            rule_start, rule_stream, rule_cb, roots, params, iconst,
            slot_addr, slot_dtype, slot_rows, slot_rowlen, slot_size,
            slot_base, slot_itemsize, line_bytes, err,
            kind, ent_a, ent_f, ent_len, ent_mask, ent_dtype, ent_iter, pool_f, pool_i,
            log_entry, log_stream, log_line, buf_f, buf_i):
    """Fills the output arrays up to their capacity and returns how much it
    needed: (entries, pool, log, longest buffer, trailing iterations). The
    caller reruns with larger arrays if any exceeded (arrays are never
    reallocated here: reassigning arrays in a numba loop costs refcounts)."""
    n_tu, n_st = len(tu_kind), len(st_op)
    sval_i = np.zeros(max(n_st, 1), np.int64)
    sval_f = np.zeros(max(n_st, 1), np.float64)
    vval_i = np.zeros((max(n_st, 1), MAX_LANES), np.int64)
    vval_f = np.zeros((max(n_st, 1), MAX_LANES), np.float64)
    buf_len = np.zeros(max(n_st, 1), np.int64)  # buffers collect in buf_f/buf_i, one row per stream
    max_buf = 0
    tu_cur = np.zeros(max(n_tu, 1), np.int64)
    tu_end = np.zeros(max(n_tu, 1), np.int64)
    tu_valid = np.zeros(max(n_tu, 1), np.int64)
    tu_child = np.zeros(max(n_tu, 1), np.int64)
    stack = np.zeros(max(n_tu, 1) + 1, np.int64)
    elements = np.zeros(MAX_LANES, np.int64)
    loaded_f = np.zeros(MAX_LANES, np.float64)
    loaded_i = np.zeros(MAX_LANES, np.int64)

    n, n_pool, n_log, pending = 0, 0, 0, 0

    for root in roots:
        depth = 0
        stack[0] = root
        fresh = True  # the TU on top starts a new fiber
        while depth >= 0:
            tu = stack[depth]
            if fresh:
                fresh = False
                lb = _src_int(tu_lb[tu, 0], tu_lb[tu, 1], 0, params, iconst, sval_i, sval_f, vval_i, vval_f,
                              st_width, st_float)
                ub = _src_int(tu_ub[tu, 0], tu_ub[tu, 1], 0, params, iconst, sval_i, sval_f, vval_i, vval_f,
                              st_width, st_float)
                tu_cur[tu], tu_end[tu] = lb, (lb + ub if tu_kind[tu] == 2 else ub)
                tu_child[tu] = -2
                for j in range(tu_streams[tu, 0], tu_streams[tu, 1]):
                    buf_len[j] = 0
                event = 0
            elif tu_child[tu] == -2:
                if tu_cur[tu] >= tu_end[tu]:
                    event = 2
                else:
                    # one iteration: streams in definition order
                    width = tu_width[tu]
                    start = tu_cur[tu]
                    valid = min(width, tu_end[tu] - start)
                    tu_valid[tu] = valid
                    for s in range(tu_streams[tu, 0], tu_streams[tu, 1]):
                        op = st_op[s]
                        if op == S_BUF:
                            src = st_a[s, 1]
                            count = valid if width > 1 else 1
                            need = buf_len[s] + count
                            max_buf = max(max_buf, need)
                            if need <= buf_f.shape[1]:
                                for k in range(count):
                                    if width > 1:
                                        buf_f[s, buf_len[s] + k] = vval_f[src, k]
                                        buf_i[s, buf_len[s] + k] = vval_i[src, k]
                                    else:
                                        buf_f[s, buf_len[s] + k] = sval_f[src]
                                        buf_i[s, buf_len[s] + k] = sval_i[src]
                            buf_len[s] = need
                            continue
                        if op != S_ITE:
                            pending += valid if width > 1 else 1
                        last_line = -1
                        for k in range(width):
                            # Every lane is computed, as in golden mode; only loads skip the lanes past the bound.
                            fv, iv = 0.0, np.int64(0)
                            if op != S_MEM or k < valid:
                                if op == S_ITE:
                                    iv = start + k
                                elif op == S_FWD:
                                    is_f, fv, iv = _src(st_a[s, 0], st_a[s, 1], k, params, iconst, sval_i, sval_f,
                                                        vval_i, vval_f, st_width, st_float)
                                    if is_f:
                                        iv = np.int64(fv)
                                elif op == S_ALU:
                                    a = _src_int(st_a[s, 0], st_a[s, 1], k, params, iconst, sval_i, sval_f,
                                                 vval_i, vval_f, st_width, st_float)
                                    b = _src_int(st_b[s, 0], st_b[s, 1], k, params, iconst, sval_i, sval_f,
                                                 vval_i, vval_f, st_width, st_float)
                                    alu = st_alu[s]
                                    if (alu == 3 or alu == 4) and b == 0:
                                        err[0], err[1], err[2] = E_ALU_ZERO, s, alu
                                        return n, n_pool, n_log, max_buf, pending
                                    if alu == 0:
                                        iv = a + b
                                    elif alu == 1:
                                        iv = a - b
                                    elif alu == 2:
                                        iv = a * b
                                    elif alu == 3:
                                        iv = _trunc_div(a, b)
                                    elif alu == 4:
                                        iv = a - _trunc_div(a, b) * b
                                    elif alu == 5:
                                        iv = min(a, b)
                                    elif alu == 6:
                                        iv = max(a, b)
                                    elif alu == 7:
                                        iv = a << (b & 63)
                                    else:
                                        iv = a >> (b & 63)
                                else:  # S_MEM
                                    slot = st_slot[s]
                                    index = _src_int(st_index[s, 0], st_index[s, 1], k, params, iconst, sval_i,
                                                     sval_f, vval_i, vval_f, st_width, st_float)
                                    if st_col[s, 0] < 0:
                                        element = index
                                        if index < 0 or index >= slot_size[slot]:
                                            err[0], err[1], err[2], err[3] = E_RANGE, s, index, slot_size[slot]
                                            return n, n_pool, n_log, max_buf, pending
                                    else:
                                        col = _src_int(st_col[s, 0], st_col[s, 1], k, params, iconst, sval_i,
                                                       sval_f, vval_i, vval_f, st_width, st_float)
                                        if index < 0 or index >= slot_rows[slot] or col < 0 or col >= slot_rowlen[slot]:
                                            err[0], err[1], err[2], err[3] = E_RANGE, s, index, slot_rows[slot]
                                            return n, n_pool, n_log, max_buf, pending
                                        element = index * slot_rowlen[slot] + col
                                    elements[k] = element  # loaded below, all lanes at once
                            if width > 1:
                                vval_f[s, k], vval_i[s, k] = fv, iv
                            else:
                                sval_f[s], sval_i[s] = fv, iv
                        if op == S_MEM:
                            slot = st_slot[s]
                            count = valid if width > 1 else 1
                            _load_many(slot_addr, slot_size, slot_dtype[slot], slot, elements, count, loaded_f, loaded_i)
                            for k in range(count):
                                line = (slot_base[slot] + elements[k] * slot_itemsize[slot]) // line_bytes
                                if line != last_line:
                                    if n_log < len(log_line):
                                        log_entry[n_log], log_stream[n_log], log_line[n_log] = n, s, line
                                    n_log += 1
                                    last_line = line
                                if width > 1:
                                    vval_f[s, k], vval_i[s, k] = loaded_f[k], loaded_i[k]
                                else:
                                    sval_f[s], sval_i[s] = loaded_f[k], loaded_i[k]
                    tu_cur[tu] = start + width
                    event = 1
            else:
                # after an iteration's ite rules: run the children's fibers in order
                child = tu_child[tu]
                if child == -1:
                    tu_child[tu] = -2
                else:
                    tu_child[tu] = tu_next_sibling[child]
                    depth += 1
                    stack[depth] = child
                    fresh = True
                continue

            # marshal the rules of (tu, event)
            for r in range(rule_start[tu * 3 + event], rule_start[tu * 3 + event + 1]):
                s = rule_stream[r]
                if n >= len(kind):  # over capacity: only count (the caller reruns)
                    if s >= 0 and st_op[s] == S_BUF:
                        n_pool += buf_len[s]
                    elif s >= 0 and st_width[s] > 1:
                        n_pool += st_width[s]
                    pending = 0
                    n += 1
                    continue
                ent_iter[n] = pending
                pending = 0
                if s < 0:
                    kind[n], ent_a[n] = K_TOKEN, rule_cb[r]
                elif st_op[s] == S_BUF:
                    count = buf_len[s]
                    if n_pool + count <= len(pool_f) and count <= buf_f.shape[1]:
                        pool_f[n_pool:n_pool + count] = buf_f[s, :count]
                        pool_i[n_pool:n_pool + count] = buf_i[s, :count]
                    kind[n], ent_a[n], ent_len[n], ent_dtype[n] = K_BUFFER, n_pool, count, st_dtype[s]
                    n_pool += count
                elif st_width[s] > 1:
                    width = st_width[s]
                    if n_pool + width <= len(pool_f):
                        pool_f[n_pool:n_pool + width] = vval_f[s, :width]
                        pool_i[n_pool:n_pool + width] = vval_i[s, :width]
                    valid = tu_valid[st_tu[s]]
                    kind[n], ent_a[n], ent_len[n], ent_dtype[n] = K_VECTOR, n_pool, width, st_dtype[s]
                    ent_mask[n] = -1 if valid >= 64 else (np.int64(1) << valid) - 1
                    n_pool += width
                elif st_float[s]:
                    kind[n], ent_f[n], ent_dtype[n] = K_FLOAT, sval_f[s], st_dtype[s]
                else:
                    kind[n], ent_a[n], ent_dtype[n] = K_INT, sval_i[s], I64
                n += 1
            if event == 2:
                depth -= 1
            elif event == 1:
                tu_child[tu] = tu_first_child[tu]
    return n, n_pool, n_log, max_buf, pending


# ---------------------------------------------------------------------------
# the core

@njit(inline="always", **_JIT)
def _vl(vector_bytes, dtype):
    return vector_bytes // _itemsize(dtype)


@njit(**_JIT)
def _read_vector(vf, vi, v_int, v_len, r, dtype, count, out_f, out_i):
    """Register r read as `count` lanes of dtype (value conversion, missing lanes 0)."""
    for k in range(count):
        if k < v_len[r]:
            if _is_float(dtype):
                out_f[k] = _round(np.float64(vi[r, k]) if v_int[r] else vf[r, k], dtype)
            else:
                out_i[k] = _wrap(vi[r, k] if v_int[r] else np.int64(vf[r, k]), dtype)
        else:
            out_f[k], out_i[k] = 0.0, 0


@njit(**_JIT)
def _write_vector(vf, vi, v_int, v_len, r, dtype, count, in_f, in_i):
    v_int[r] = not _is_float(dtype)
    v_len[r] = count
    for k in range(count):
        if v_int[r]:
            vi[r, k] = in_i[k]
        else:
            vf[r, k] = in_f[k]


@njit(inline="always", **_JIT)
def _lanes(mask, count, out):
    n = 0
    for k in range(count):
        if (mask >> k) & 1:
            out[n] = k
            n += 1
    return n


@njit(**_JIT)
def _core(exe_op, exe_args, exe_cost, exe_group, jt_data, jt_start, iconst, fconst, params,
          kind, ent_a, ent_f, ent_len, ent_mask, ent_dtype, n_entries, pool_f, pool_i,
          slot_addr, slot_dtype, slot_size, slot_base, slot_itemsize, line_bytes,
          vector_bytes, dispatch_cycles, max_instructions, err, cycles, counts, acc_token, acc_line, acc_store):
    """Runs the core to its halt; fills cycles (per token + 1), counts (per
    group) and the access log up to its capacity, and returns the log length
    it needed (the caller reruns with a larger log if it was short)."""
    x = np.zeros(32, np.int64)
    f = np.zeros(32, np.float64)
    vf = np.zeros((32, MAX_LANES), np.float64)
    vi = np.zeros((32, MAX_LANES), np.int64)
    v_int = np.zeros(32, np.bool_)
    v_len = np.zeros(32, np.int64)
    m = np.zeros(8, np.int64)
    c = np.zeros(8, np.int64)
    b_start = np.zeros(4, np.int64)
    b_len = np.zeros(4, np.int64)
    a_f = np.zeros(MAX_LANES, np.float64)
    a_i = np.zeros(MAX_LANES, np.int64)
    b_f = np.zeros(MAX_LANES, np.float64)
    b_i = np.zeros(MAX_LANES, np.int64)
    o_f = np.zeros(MAX_LANES, np.float64)
    o_i = np.zeros(MAX_LANES, np.int64)
    lanes = np.zeros(MAX_LANES, np.int64)
    elements = np.zeros(MAX_LANES, np.int64)
    n_acc = 0
    next_token, next_operand, current = 0, 0, -1
    pc, executed, n_code = 0, 0, len(exe_op)
    while True:
        if pc < 0 or pc >= n_code:
            err[0], err[1] = E_OFF_END, pc
            break
        op = exe_op[pc]
        a0, a1, a2, a3, a4 = exe_args[pc, 0], exe_args[pc, 1], exe_args[pc, 2], exe_args[pc, 3], exe_args[pc, 4]
        next_pc = pc + 1
        # -- control --------------------------------------------------------
        if op == OP_HALT:
            cycles[current + 1] += exe_cost[pc]
            counts[exe_group[pc]] += 1
            break
        elif op == OP_JMP:
            next_pc = a0
        elif op == OP_BEQ:
            if x[a0] == x[a1]:
                next_pc = a2
        elif op == OP_BNE:
            if x[a0] != x[a1]:
                next_pc = a2
        elif op == OP_BLT:
            if x[a0] < x[a1]:
                next_pc = a2
        elif op == OP_BGE:
            if x[a0] >= x[a1]:
                next_pc = a2
        elif op == OP_CBPOP:
            while next_token < n_entries and kind[next_token] != K_TOKEN:
                next_token += 1
            value = 0
            if next_token < n_entries:
                value = ent_a[next_token]
                current = next_token
                next_token += 1
            if a0:
                x[a0] = value
            cycles[current + 1] += dispatch_cycles
        elif op == OP_BRTAB:
            callback = x[a0]
            if callback < 0 or callback >= jt_start[a1 + 1] - jt_start[a1]:
                err[0], err[1], err[2], err[3] = E_JUMP, pc, callback, a1
                break
            next_pc = jt_data[jt_start[a1] + callback]
        # -- queue ----------------------------------------------------------
        elif op == OP_QPOP or op == OP_QPOPF or op == OP_QVPOP or op == OP_QBPOP:
            want = K_INT if op == OP_QPOP else K_FLOAT if op == OP_QPOPF else K_VECTOR if op == OP_QVPOP \
                else K_BUFFER
            while next_operand < n_entries and kind[next_operand] == K_TOKEN:
                next_operand += 1
            if next_operand >= n_entries:
                err[0], err[1], err[2] = E_EMPTY, pc, want
                break
            e = next_operand
            next_operand += 1
            if kind[e] != want:
                err[0], err[1], err[2], err[3] = E_KIND, pc, want, kind[e]
                break
            if op == OP_QPOP:
                if a0:
                    x[a0] = ent_a[e]
            elif op == OP_QPOPF:
                f[a0] = _round(ent_f[e], a1)
            elif op == OP_QVPOP:
                t = a2
                count = _vl(vector_bytes, t)
                for k in range(count):
                    if k < ent_len[e]:
                        o_f[k] = _round(np.float64(pool_i[ent_a[e] + k]) if not _is_float(ent_dtype[e])
                                        else pool_f[ent_a[e] + k], t)
                        o_i[k] = _wrap(pool_i[ent_a[e] + k] if not _is_float(ent_dtype[e])
                                       else np.int64(pool_f[ent_a[e] + k]), t)
                    else:
                        o_f[k], o_i[k] = 0.0, 0
                _write_vector(vf, vi, v_int, v_len, a0, t, count, o_f, o_i)
                m[a1] = ent_mask[e]
            else:
                b_start[a0], b_len[a0] = e, ent_len[e]
        # -- integer --------------------------------------------------------
        elif op == OP_LI or op == OP_LC or op == OP_PARAM or op == OP_MOV or op == OP_ADDI or op == OP_MULI:
            if op == OP_LI:
                value = a1
            elif op == OP_LC:
                value = iconst[a1]
            elif op == OP_PARAM:
                value = params[a1]
            elif op == OP_MOV:
                value = x[a1]
            elif op == OP_ADDI:
                value = x[a1] + a2
            else:
                value = x[a1] * a2
            if a0:
                x[a0] = value
        elif OP_ADD <= op <= OP_MAX:
            p, q = x[a1], x[a2]
            if op == OP_ADD:
                value = p + q
            elif op == OP_SUB:
                value = p - q
            elif op == OP_MUL:
                value = p * q
            elif op == OP_DIV or op == OP_REM:
                if q == 0:
                    err[0], err[1] = E_DIV, pc
                    break
                value = _trunc_div(p, q) if op == OP_DIV else p - _trunc_div(p, q) * q
            elif op == OP_AND:
                value = p & q
            elif op == OP_OR:
                value = p | q
            elif op == OP_XOR:
                value = p ^ q
            elif op == OP_SHL:
                value = p << (q & 63)
            elif op == OP_SHR:
                value = p >> (q & 63)
            elif op == OP_SLT:
                value = 1 if p < q else 0
            elif op == OP_MIN:
                value = min(p, q)
            else:
                value = max(p, q)
            if a0:
                x[a0] = value
        # -- float ----------------------------------------------------------
        elif op == OP_LF:
            f[a0] = _round(fconst[a2], a1)
        elif op == OP_FMOV:
            f[a0] = f[a1]
        elif OP_FADD <= op <= OP_FMIN:
            t = a3
            p, q = _round(f[a1], t), _round(f[a2], t)
            if op == OP_FMAX:
                f[a0] = np.maximum(p, q)
            elif op == OP_FMIN:
                f[a0] = np.minimum(p, q)
            else:
                f[a0] = _f32_op(op, p, q) if t == F32 else _f64_op(op, p, q)
        elif op == OP_FSQRT:
            f[a0] = _round(np.sqrt(_round(f[a1], a2)), a2)
        elif op == OP_FCVT:
            f[a0] = _round(np.float64(x[a1]), a2)
        # -- counters -------------------------------------------------------
        elif op == OP_CTRSET:
            c[a0] = a1
        elif op == OP_CTRINC:
            c[a0] += a1
        elif op == OP_CTRGET:
            if a0:
                x[a0] = c[a1]
        # -- memory ---------------------------------------------------------
        elif op == OP_LD or op == OP_FLD or op == OP_ST or op == OP_FST:
            slot, element = a1, x[a2]
            if element < 0 or element >= slot_size[slot]:
                err[0], err[1], err[2], err[3], err[4] = E_BOUNDS, pc, slot, element, slot_size[slot]
                break
            store = op == OP_ST or op == OP_FST
            line = (slot_base[slot] + element * slot_itemsize[slot]) // line_bytes
            if n_acc < len(acc_line):
                acc_token[n_acc], acc_line[n_acc], acc_store[n_acc] = current, line, store
            n_acc += 1
            t = slot_dtype[slot]
            elements[0] = element
            if store:
                o_f[0], o_i[0] = f[a0], x[a0]
                _store_many(slot_addr, slot_size, t, slot, elements, 1, o_f, o_i)
            else:
                _load_many(slot_addr, slot_size, t, slot, elements, 1, o_f, o_i)
                if op == OP_FLD:
                    f[a0] = o_f[0]
                elif a0:
                    x[a0] = o_i[0]
        elif op == OP_VLD or op == OP_VST or op == OP_VGATHER:
            slot, t, mask = a1, a4, m[a3]
            count = _vl(vector_bytes, t)
            n_lanes = _lanes(mask, count, lanes)
            if op == OP_VGATHER:
                _read_vector(vf, vi, v_int, v_len, a2, I64, count, b_f, b_i)
            low, high = np.int64(0), np.int64(-1)
            for j in range(n_lanes):
                element = b_i[lanes[j]] if op == OP_VGATHER else x[a2] + lanes[j]
                elements[j] = element
                low, high = (element, element) if j == 0 else (min(low, element), max(high, element))
            if n_lanes and (low < 0 or high >= slot_size[slot]):
                err[0], err[1], err[2], err[3] = E_BOUNDS, pc, slot, high if high >= slot_size[slot] else low
                err[4] = slot_size[slot]
                break
            last_line = -1
            for j in range(n_lanes):
                line = (slot_base[slot] + elements[j] * slot_itemsize[slot]) // line_bytes
                if line != last_line:
                    if n_acc < len(acc_line):
                        acc_token[n_acc], acc_line[n_acc], acc_store[n_acc] = current, line, op == OP_VST
                    n_acc += 1
                    last_line = line
            if op == OP_VST:
                _read_vector(vf, vi, v_int, v_len, a0, t, count, o_f, o_i)
                for j in range(n_lanes):
                    a_f[j], a_i[j] = o_f[lanes[j]], o_i[lanes[j]]
                _store_many(slot_addr, slot_size, t, slot, elements, n_lanes, a_f, a_i)
            else:
                _load_many(slot_addr, slot_size, t, slot, elements, n_lanes, a_f, a_i)
                for k in range(count):
                    o_f[k], o_i[k] = 0.0, 0
                for j in range(n_lanes):
                    o_f[lanes[j]], o_i[lanes[j]] = a_f[j], a_i[j]
                _write_vector(vf, vi, v_int, v_len, a0, t, count, o_f, o_i)
        # -- vector ---------------------------------------------------------
        elif OP_VADD <= op <= OP_VFMA:
            t = a3
            count = _vl(vector_bytes, t)
            _read_vector(vf, vi, v_int, v_len, a1, t, count, a_f, a_i)
            _read_vector(vf, vi, v_int, v_len, a2, t, count, b_f, b_i)
            if op == OP_VFMA:
                _read_vector(vf, vi, v_int, v_len, a0, t, count, o_f, o_i)
            for k in range(count):
                if _is_float(t):
                    p, q = a_f[k], b_f[k]
                    if op == OP_VADD or op == OP_VSUB or op == OP_VMUL or op == OP_VDIV:
                        o_f[k] = _f32_op(op - OP_VADD + OP_FADD, p, q) if t == F32 else \
                            _f64_op(op - OP_VADD + OP_FADD, p, q)
                    elif op == OP_VMAX:
                        o_f[k] = np.maximum(p, q)
                    elif op == OP_VMIN:
                        o_f[k] = np.minimum(p, q)
                    else:
                        product = _f32_op(OP_FMUL, p, q) if t == F32 else p * q
                        o_f[k] = _f32_op(OP_FADD, o_f[k], product) if t == F32 else o_f[k] + product
                else:
                    p, q = a_i[k], b_i[k]
                    if op == OP_VADD:
                        o_i[k] = _wrap(p + q, t)
                    elif op == OP_VSUB:
                        o_i[k] = _wrap(p - q, t)
                    elif op == OP_VMUL:
                        o_i[k] = _wrap(p * q, t)
                    elif op == OP_VFMA:
                        o_i[k] = _wrap(o_i[k] + _wrap(p * q, t), t)
                    elif op == OP_VDIV:
                        if q == 0:
                            err[0], err[1] = E_VDIV, pc
                            break
                        o_i[k] = _wrap(_trunc_div(p, q), t)
                    elif op == OP_VMAX:
                        o_i[k] = max(p, q)
                    else:
                        o_i[k] = min(p, q)
            if err[0]:
                break
            _write_vector(vf, vi, v_int, v_len, a0, t, count, o_f, o_i)
        elif op == OP_VSCALE:
            t = a3
            count = _vl(vector_bytes, t)
            _read_vector(vf, vi, v_int, v_len, a1, t, count, a_f, a_i)
            scale = _round(f[a2], t)
            for k in range(count):
                o_f[k] = _f32_op(OP_FMUL, a_f[k], scale) if t == F32 else a_f[k] * scale
            _write_vector(vf, vi, v_int, v_len, a0, t, count, o_f, o_i)
        elif op == OP_VSPLAT or op == OP_VZERO:
            t = a2 if op == OP_VSPLAT else a1
            count = _vl(vector_bytes, t)
            value_f = _round(f[a1], t) if op == OP_VSPLAT else 0.0
            for k in range(count):
                o_f[k], o_i[k] = value_f, 0
            _write_vector(vf, vi, v_int, v_len, a0, t, count, o_f, o_i)
        elif op == OP_VMOV:
            v_int[a0], v_len[a0] = v_int[a1], v_len[a1]
            vf[a0, :], vi[a0, :] = vf[a1, :], vi[a1, :]
        elif op == OP_VCVT:
            t = a2
            count = _vl(vector_bytes, t)
            _read_vector(vf, vi, v_int, v_len, a1, t, count, o_f, o_i)
            _write_vector(vf, vi, v_int, v_len, a0, t, count, o_f, o_i)
        elif op == OP_VREDSUM:
            t = a3
            count = _vl(vector_bytes, t)
            _read_vector(vf, vi, v_int, v_len, a1, t, count, a_f, a_i)
            n_lanes = _lanes(m[a2], count, lanes)
            total = 0.0
            for j in range(n_lanes):
                value_f = a_f[lanes[j]]
                total = value_f if j == 0 else (_f32_op(OP_FADD, total, value_f) if t == F32 else total + value_f)
            f[a0] = total
        elif op == OP_VIOTA:
            t = a2
            count = _vl(vector_bytes, t)
            for k in range(count):
                o_i[k] = _wrap(x[a1] + k, t)
            _write_vector(vf, vi, v_int, v_len, a0, t, count, o_f, o_i)
        elif op == OP_MSET:
            count = max(0, min(64, x[a1]))
            m[a0] = -1 if count == 64 else (np.int64(1) << count) - 1
        # -- buffers --------------------------------------------------------
        elif op == OP_BLEN:
            if a0:
                x[a0] = b_len[a1]
        elif op == OP_BLD:
            t = a4
            count = _vl(vector_bytes, t)
            n_lanes = _lanes(m[a3], count, lanes)
            e = b_start[a1]
            if n_lanes and (x[a2] + lanes[0] < 0 or x[a2] + lanes[n_lanes - 1] >= b_len[a1]):
                err[0], err[1], err[2], err[3] = E_BLD, pc, x[a2] + lanes[n_lanes - 1], b_len[a1]
                break
            for k in range(count):
                o_f[k], o_i[k] = 0.0, 0
            for j in range(n_lanes):
                k = lanes[j]
                if _is_float(ent_dtype[e]):
                    source = pool_f[ent_a[e] + x[a2] + k]
                    o_f[k], o_i[k] = _round(source, t), _wrap(np.int64(source), t)
                else:
                    source_i = pool_i[ent_a[e] + x[a2] + k]
                    o_f[k], o_i[k] = _round(np.float64(source_i), t), _wrap(source_i, t)
            _write_vector(vf, vi, v_int, v_len, a0, t, count, o_f, o_i)
        cycles[current + 1] += exe_cost[pc]
        counts[exe_group[pc]] += 1
        pc = next_pc
        executed += 1
        if executed > max_instructions:
            err[0], err[1] = E_STEPS, pc
            break
    if err[0] == 0:
        left = 0
        for e in range(next_token, n_entries):
            left += kind[e] == K_TOKEN
        for e in range(next_operand, n_entries):
            left += kind[e] != K_TOKEN
        if left:
            err[0], err[1], err[2] = E_UNDRAINED, pc, left
    return n_acc


@njit(inline="always", **_JIT)
def _f32_op(op, p, q):
    a, b = np.float32(p), np.float32(q)
    if op == OP_FADD:
        return np.float64(a + b)
    if op == OP_FSUB:
        return np.float64(a - b)
    if op == OP_FMUL:
        return np.float64(a * b)
    return np.float64(a / b)


@njit(inline="always", **_JIT)
def _f64_op(op, p, q):
    if op == OP_FADD:
        return p + q
    if op == OP_FSUB:
        return p - q
    if op == OP_FMUL:
        return p * q
    return p / q


@njit(inline="always", **_JIT)
def _store_many(slot_addr, slot_size, dtype, slot, elements, n, values_f, values_i):
    """slot[elements[j]] = values[j]; only output slots are stored to (the verifier ensures it)."""
    if dtype == F32:
        a32 = numba.carray(_pointer(slot_addr[slot]), (slot_size[slot],), np.float32)
        for j in range(n):
            a32[elements[j]] = np.float32(values_f[j])
    elif dtype == F64:
        a64 = numba.carray(_pointer(slot_addr[slot]), (slot_size[slot],), np.float64)
        for j in range(n):
            a64[elements[j]] = values_f[j]
    elif dtype == I32:
        i32 = numba.carray(_pointer(slot_addr[slot]), (slot_size[slot],), np.int32)
        for j in range(n):
            i32[elements[j]] = np.int32(values_i[j])
    else:
        i64 = numba.carray(_pointer(slot_addr[slot]), (slot_size[slot],), np.int64)
        for j in range(n):
            i64[elements[j]] = values_i[j]


# ---------------------------------------------------------------------------
# Python side: encode the program once, run, and translate faults.

class _Encoded:
    """The decoded program as flat arrays for the compiled loops."""

    def __init__(self, program: KernelProgram, machine: MachineConfig):
        for i, dtype in enumerate(program.slot_dtypes):
            if dtypes.from_numpy(dtype) not in SUPPORTED:
                raise EmulationError(f"kernel '{program.name}': fast mode handles float32, float64, int32 and int64 "
                                     f"tensors; slot '{program.slot_names[i]}' is {dtype.name} (use mode golden)")
        order = [s for tu in program.tus.values() for s in tu.streams]
        self.stream_ids = [s.id for s in order]
        new = {s.id: i for i, s in enumerate(order)}
        n_tu = max(program.tus, default=-1) + 1

        def src(value: Src | None) -> tuple[int, int]:
            if value is None:
                return (NONE, 0)
            return (int(value.kind), new[value.value] if value.kind is SrcKind.STREAM else value.value)

        self.tu_kind = np.zeros(n_tu, np.int64)
        self.tu_width = np.ones(n_tu, np.int64)
        self.tu_lb = np.zeros((n_tu, 2), np.int64)
        self.tu_ub = np.zeros((n_tu, 2), np.int64)
        self.tu_first_child = np.full(n_tu, -1, np.int64)
        self.tu_next_sibling = np.full(n_tu, -1, np.int64)
        self.tu_streams = np.zeros((n_tu, 2), np.int64)
        position = 0
        for tu in program.tus.values():
            self.tu_kind[tu.id] = ("dns", "rng", "idx").index(tu.kind)
            self.tu_width[tu.id] = tu.width
            self.tu_lb[tu.id], self.tu_ub[tu.id] = src(tu.lb), src(tu.ub)
            if tu.children:
                self.tu_first_child[tu.id] = tu.children[0]
                for a, b in zip(tu.children, tu.children[1:]):
                    self.tu_next_sibling[a] = b
            self.tu_streams[tu.id] = (position, position + len(tu.streams))
            position += len(tu.streams)
        n_st = len(order)
        self.st_op = np.array([STREAM_OPS[s.op] for s in order], np.int64)
        self.st_tu = np.array([s.tu for s in order], np.int64)
        self.st_slot = np.array([-1 if s.slot is None else s.slot for s in order], np.int64)
        self.st_index = np.array([src(s.index) for s in order], np.int64).reshape(n_st, 2)
        self.st_col = np.array([src(s.col) for s in order], np.int64).reshape(n_st, 2)
        self.st_alu = np.array([-1 if s.alu is None else int(s.alu) for s in order], np.int64)
        self.st_a = np.array([src(s.a) for s in order], np.int64).reshape(n_st, 2)
        self.st_b = np.array([src(s.b) for s in order], np.int64).reshape(n_st, 2)
        stream_dtypes = [program.stream_dtype(s.id) for s in order]
        self.st_float = np.array([d.kind == "f" for d in stream_dtypes], np.bool_)
        self.st_dtype = np.array([dtypes.from_numpy(d) for d in stream_dtypes], np.int64)
        self.st_width = np.array([program.tus[s.tu].width for s in order], np.int64)
        starts, streams, callbacks = [0], [], []
        for tu_id in range(n_tu):
            tu = program.tus.get(tu_id)
            for event in Event:
                for rule in tu.rules[event] if tu else []:
                    streams.append(-1 if rule.stream is None else new[rule.stream])
                    callbacks.append(0 if rule.callback is None else rule.callback)
                starts.append(len(streams))
        self.rule_start = np.array(starts, np.int64)
        self.rule_stream = np.array(streams, np.int64)
        self.rule_cb = np.array(callbacks, np.int64)

        code = program.execute
        self.exe_op = np.array([ins.spec.code for ins in code], np.int64)
        self.exe_args = np.zeros((len(code), 5), np.int64)
        for pc, ins in enumerate(code):
            for i, value in enumerate(ins.args):
                self.exe_args[pc, i] = -1 if value is None else value
        self.exe_group = np.array([GROUPS.index(ins.spec.group) for ins in code], np.int64)
        self.exe_cost = np.array([getattr(machine.costs, ins.spec.group) for ins in code], np.float64)
        tables = program.jump_tables
        self.jt_data = np.concatenate(tables).astype(np.int64) if tables else np.zeros(0, np.int64)
        self.jt_start = np.cumsum([0] + [len(t) for t in tables]).astype(np.int64)


def _encoded(program: KernelProgram, machine: MachineConfig) -> _Encoded:
    cache = program.__dict__.setdefault("_fast_encoded", {})
    key = (machine.costs, machine.callback_dispatch_cycles)
    if key not in cache:
        cache[key] = _Encoded(program, machine)
    return cache[key]


def run_fast_core(program: KernelProgram, machine: MachineConfig, arrays, params, roots, slot_labels,
                  addresses: AddressMap, core_id: int, max_instructions: int = 1 << 31) -> CoreActivity:
    """run_golden_core's twin: same arguments, same CoreActivity."""
    enc = _encoded(program, machine)
    flat = [a.reshape(-1) for a in arrays]  # views: the compiled code reads and writes these through addresses
    slot_addr = np.array([a.ctypes.data for a in flat], np.int64)
    slot_dtype = np.array([dtypes.from_numpy(a.dtype) for a in arrays], np.int64)
    slot_rows = np.array([a.shape[0] if a.ndim else 1 for a in arrays], np.int64)
    slot_size = np.array([a.size for a in arrays], np.int64)
    slot_rowlen = np.array([a.size // r if r else 0 for a, r in zip(arrays, slot_rows)], np.int64)
    params_a = np.array(params, np.int64)
    err = np.zeros(8, np.int64)
    if machine.has_access_unit and roots:
        queue = _run_access(enc, program, roots, params_a, slot_addr, slot_dtype, slot_rows, slot_rowlen, slot_size,
                            addresses, slot_labels, arrays)
    else:
        queue = _Queue.empty()
    kind, n = queue.kind, queue.n
    outputs = [a for a, slot in zip(arrays, program.kernel.slots or []) if slot.access == 1]
    capacity = max(1024, 4 * n)
    while True:
        cycles, counts = np.zeros(n + 1, np.float64), np.zeros(8, np.int64)
        acc_token, acc_line = np.zeros(capacity, np.int64), np.zeros(capacity, np.int64)
        acc_store = np.zeros(capacity, np.bool_)
        n_acc = _core(
            enc.exe_op, enc.exe_args, enc.exe_cost, enc.exe_group, enc.jt_data, enc.jt_start, program.int_constants,
            program.float_constants, params_a, kind, queue.ent_a, queue.ent_f, queue.ent_len, queue.ent_mask,
            queue.ent_dtype, n, queue.pool_f, queue.pool_i, slot_addr, slot_dtype, slot_size, addresses.base,
            addresses.itemsize, addresses.line_bytes, machine.vector_bytes, float(machine.callback_dispatch_cycles),
            max_instructions, err, cycles, counts, acc_token, acc_line, acc_store)
        if err[0]:
            raise _core_fault(program, core_id, err, max_instructions)
        if n_acc <= capacity:
            break
        capacity = n_acc  # the log was short: run again from zeroed outputs with room for all of it
        for output in outputs:
            output[...] = 0
    ent_iter, ent_dtype, ent_len, trailing = queue.ent_iter, queue.ent_dtype, queue.ent_len, queue.trailing
    log_entry, log_stream, log_line, n_log = queue.log_entry, queue.log_stream, queue.log_line, queue.n_log
    kind = kind[:n]
    sizes = np.full(n, TOKEN_BYTES, np.int64)
    itemsize = np.where((ent_dtype[:n] == F32) | (ent_dtype[:n] == I32), 4, 8)
    sizes[kind == K_INT] = 8
    sizes[kind == K_FLOAT] = itemsize[kind == K_FLOAT]
    sizes[kind == K_VECTOR] = (ent_len[:n] * itemsize + MASK_BYTES)[kind == K_VECTOR]
    sizes[kind == K_BUFFER] = (ent_len[:n] * itemsize + 8)[kind == K_BUFFER]
    used = np.nonzero(cycles)[0]
    return CoreActivity(
        core_id=core_id,
        entry_bytes=sizes,
        entry_is_token=kind == K_TOKEN,
        entry_iterations=ent_iter[:n].copy(),
        trailing_iterations=int(trailing),
        au_entry=log_entry[:n_log].copy(),
        au_stream=np.array(enc.stream_ids, np.int64)[log_stream[:n_log]] if n_log else np.zeros(0, np.int64),
        au_line=log_line[:n_log].copy(),
        core_token=used - 1,
        core_cycles=cycles[used],
        access_token=acc_token[:n_acc].copy(),
        access_line=acc_line[:n_acc].copy(),
        access_store=acc_store[:n_acc].copy(),
        counts={g: int(c) for g, c in zip(GROUPS, counts) if c},
        callbacks=int(np.count_nonzero(kind == K_TOKEN)),
    )


class _Queue:
    """The access unit's output: queue entries, their payload pool, the line log."""

    def __init__(self, capacity: tuple[int, int, int, int], n_streams: int):
        entries, pool, log, buffer = capacity
        self.kind = np.zeros(entries, np.int8)
        self.ent_a, self.ent_len, self.ent_mask, self.ent_dtype, self.ent_iter = (
            np.zeros(entries, np.int64) for _ in range(5))
        self.ent_f = np.zeros(entries, np.float64)
        self.pool_f, self.pool_i = np.zeros(pool, np.float64), np.zeros(pool, np.int64)
        self.log_entry, self.log_stream, self.log_line = (np.zeros(log, np.int64) for _ in range(3))
        self.buf_f = np.zeros((max(n_streams, 1), buffer), np.float64)
        self.buf_i = np.zeros((max(n_streams, 1), buffer), np.int64)
        self.n = self.n_log = self.trailing = 0

    @staticmethod
    def empty() -> "_Queue":
        return _Queue((0, 0, 0, 0), 0)


def _run_access(enc: _Encoded, program: KernelProgram, roots, params, slot_addr, slot_dtype, slot_rows,
                slot_rowlen, slot_size, addresses: AddressMap, labels, arrays) -> _Queue:
    reads = sum(a.size for a, s in zip(arrays, program.kernel.slots or []) if s.access == 0)
    capacity = (1024 + 2 * reads, 1024 + 4 * reads, 1024 + 2 * reads, 64)
    while True:
        queue = _Queue(capacity, len(enc.st_op))
        err = np.zeros(8, np.int64)
        needed = _access(
            enc.tu_kind, enc.tu_width, enc.tu_lb, enc.tu_ub, enc.tu_first_child, enc.tu_next_sibling,
            enc.tu_streams, enc.st_op, enc.st_tu, enc.st_slot, enc.st_index, enc.st_col, enc.st_alu, enc.st_a,
            enc.st_b, enc.st_float, enc.st_dtype, enc.st_width, enc.rule_start, enc.rule_stream, enc.rule_cb,
            np.array(roots, np.int64), params, program.int_constants, slot_addr, slot_dtype, slot_rows,
            slot_rowlen, slot_size, addresses.base, addresses.itemsize, addresses.line_bytes, err,
            queue.kind, queue.ent_a, queue.ent_f, queue.ent_len, queue.ent_mask, queue.ent_dtype, queue.ent_iter,
            queue.pool_f, queue.pool_i, queue.log_entry, queue.log_stream, queue.log_line, queue.buf_f, queue.buf_i)
        if err[0]:
            raise _access_fault(program, enc, labels, err)
        n, n_pool, n_log, max_buf, trailing = (int(v) for v in needed)
        if n <= capacity[0] and n_pool <= capacity[1] and n_log <= capacity[2] and max_buf <= capacity[3]:
            queue.n, queue.n_log, queue.trailing = n, n_log, trailing
            return queue
        capacity = (max(n, capacity[0]), max(n_pool, capacity[1]), max(n_log, capacity[2]),
                    max(max_buf, capacity[3]))


def _access_fault(program: KernelProgram, enc: _Encoded, labels, err) -> EmulationError:
    stream = program.streams[enc.stream_ids[err[1]]]
    if err[0] == E_RANGE:
        return out_of_range_fault(program, labels, stream, int(err[2]), int(err[3]))
    name = ("add", "sub", "mul", "div", "rem")[int(err[2])]
    return Fault(f"kernel '{program.name}': access-unit {name} by zero")


def _core_fault(program: KernelProgram, core_id: int, err, max_instructions: int) -> EmulationError:
    code, pc, a, b, c = (int(v) for v in err[:5])
    problem = {
        E_JUMP: lambda: f"callback id {a} has no entry in jump table jt{b}",
        E_EMPTY: lambda: f"pops an operand ({KIND_NAMES[a]}) but the data queue is empty and the access unit is done",
        E_KIND: lambda: f"expects a {KIND_NAMES[a]} operand but the queue holds a {KIND_NAMES[b]}",
        E_DIV: lambda: "integer division by zero",
        E_BOUNDS: lambda: f"element {b} outside slot '{program.slot_names[a]}' of {c} elements",
        E_BLD: lambda: f"bld reads element {a} of a {b}-element buffer",
        E_VDIV: lambda: "integer vector division by zero",
        E_OFF_END: lambda: "ran off the end of the program",
        E_STEPS: lambda: f"executed {max_instructions} instructions without halting",
        E_UNDRAINED: lambda: f"halted with {a} queue entries the access unit still had to deliver",
    }[code]()
    return EmulationError(f"kernel '{program.name}' core {core_id} pc {pc}: {problem}")
