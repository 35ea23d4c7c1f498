"""The fast emulation mode: the golden semantics (access_unit.py, core.py,
ops/) compiled with numba, producing the same CoreActivity, so the same timing
model gives the same cycles. tests/emulator/test_fast_mode.py checks that both
modes agree exactly on every test program.

The access unit runs first and fills the whole queue (it never reads what the
core writes); the core then consumes it. Faults come back as codes and are
turned into the golden mode's messages here. Element types: float16, bfloat16,
float32, float64, int32 and int64 tensors (others: golden mode). Every float is
held as a float64 and rounded to its element type by rounding.py's rule.
"""

from __future__ import annotations

import collections
import threading

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from ember_tf.dae_isa import dtypes
from ember_tf.dae_isa._schema_generated import DType
from ember_tf.dae_isa.encoding import Src
from ember_tf.dae_isa.opcodes import BY_CODE, BY_MNEMONIC, Event, SrcKind
from ember_tf.emulator.access_unit import MASK_BYTES, TOKEN_BYTES, Fault, out_of_range_fault, runaway_access
from ember_tf.emulator.activity import AddressMap, CoreActivity
from ember_tf.emulator.core import bounds_problem, runaway_core
from ember_tf.machines import MachineConfig
from ember_tf.emulator.program import KernelProgram
from ember_tf.emulator.rounding import bf16_bits, bf16_value, f16_bits, f16_value
from ember_tf.emulator.rounding import round_float as _round  # a float64 rounded to an element type
from ember_tf.emulator.rounding import round_int as _round_int  # an int64 converted to a float type
from ember_tf.emulator.timing import CoreTiming, time_core
from ember_tf.errors import EmulationError

SUPPORTED = {DType.FLOAT32, DType.FLOAT64, DType.FLOAT16, DType.BFLOAT16, DType.INT32, DType.INT64}
F32, F64, F16, BF16, I32, I64 = (DType.FLOAT32, DType.FLOAT64, DType.FLOAT16, DType.BFLOAT16, DType.INT32,
                                 DType.INT64)
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
 OP_VSCATTER, OP_VADD, OP_VSUB, OP_VMUL, OP_VDIV, OP_VMAX, OP_VMIN, OP_VFMA, OP_VSCALE, OP_VSPLAT, OP_VMOV,
 OP_VZERO, OP_VCVT, OP_VREDSUM, OP_VIOTA, OP_MSET, OP_BLEN, OP_BLD) = (_OP[m] for m in (
    "halt", "jmp", "beq", "bne", "blt", "bge", "cb.pop", "br.tab", "q.pop", "q.popf", "q.vpop", "q.bpop",
    "li", "lc", "param", "mov", "add", "sub", "mul", "div", "rem", "and", "or", "xor", "shl", "shr",
    "slt", "min", "max", "addi", "muli", "lf", "fmov", "fadd", "fsub", "fmul", "fdiv", "fmax", "fmin",
    "fsqrt", "fcvt", "ctr.set", "ctr.inc", "ctr.get", "ld", "st", "fld", "fst", "vld", "vst", "vgather",
    "vscatter", "vadd", "vsub", "vmul", "vdiv", "vmax", "vmin", "vfma", "vscale", "vsplat", "vmov",
    "vzero", "vcvt", "vredsum", "viota", "mset", "blen", "bld"))
# _core takes these opcodes as ranges of codes; each range must hold exactly these (and vadd..vdiv
# map onto fadd..fdiv by offset).
for _low, _high, _names in ((OP_ADD, OP_MAX, "add sub mul div rem and or xor shl shr slt min max"),
                            (OP_FADD, OP_FMIN, "fadd fsub fmul fdiv fmax fmin"),
                            (OP_VADD, OP_VFMA, "vadd vsub vmul vdiv vmax vmin vfma")):
    assert {m for m, code in _OP.items() if _low <= code <= _high} == set(_names.split()), _names
assert [_OP[m] - OP_VADD for m in ("vadd", "vsub", "vmul", "vdiv")] == \
    [_OP[m] - OP_FADD for m in ("fadd", "fsub", "fmul", "fdiv")]

FUSED_NONE, FUSED_BRTAB, FUSED_VADD = 0, 1, 2  # _Encoded.exe_fused: see _fused

# Fault codes: err[0]; err[1:] carry the values the message needs.
(E_RANGE, E_ALU_ZERO, E_JUMP, E_EMPTY, E_KIND, E_DIV, E_BOUNDS, E_BLD, E_VDIV, E_OFF_END, E_STEPS, E_UNDRAINED,
 E_OPCODE) = range(1, 14)

# No NRT: refcounting every array on every use costs ~100 ns per helper call in
# these loops; with it off they run ~30x faster. So nothing here allocates:
# the caller passes every array, scratch space included.
_JIT = dict(cache=True, error_model="numpy", nogil=True, _nrt=False)

# The compiled loops' arguments, grouped in named tuples. Every array has one dtype and is
# C-contiguous and writable, and every scalar is an int or a float, so one specialization of each
# loop serves every program. They cross into compiled code as plain tuples (_flat) and are named
# again there (Slots(*slots)), at no cost.
AccessProgram = collections.namedtuple("AccessProgram", (  # the access-unit configuration (_Encoded)
    "tu_kind", "tu_width", "tu_lb", "tu_ub", "tu_first_child", "tu_next_sibling", "tu_streams",
    "st_op", "st_tu", "st_slot", "st_index", "st_col", "st_alu", "st_a", "st_b", "st_float", "st_dtype",
    "st_width", "st_contiguous", "st_direct", "st_prefetch", "tu_row_copy", "rule_start", "rule_stream",
    "rule_cb", "iconst"))
CoreProgram = collections.namedtuple("CoreProgram", (  # the core's code and constant pools (_Encoded)
    "exe_op", "exe_args", "exe_cost", "exe_group", "exe_fused", "jt_data", "jt_start", "iconst", "fconst"))
Slots = collections.namedtuple("Slots", (  # the tensors bound to the slots, per slot (FastKernel)
    "addr", "dtype", "rows", "rowlen", "size",
    "base", "itemsize", "line_shift"))  # where their elements lie for the caches: (base + i * itemsize) >> shift
CoreConfig = collections.namedtuple("CoreConfig", (  # FastKernel
    "vector_bytes", "dispatch_cycles", "max_instructions"))
QueueArrays = collections.namedtuple("QueueArrays", (  # the access unit's output, the core's input (_Queue)
    "kind", "ent_a", "ent_f", "ent_len", "ent_mask", "ent_dtype", "ent_iter",  # per entry
    "pool_f", "pool_i", "pool_s",                                               # vector and buffer payloads
    "log_entry", "log_stream", "log_line",                                      # the lines the unit requested
    "buf_f", "buf_i"))                                                          # buffers being filled
AccessScratch = collections.namedtuple("AccessScratch", ("state_i", "state_f", "vval_i", "vval_f"))  # _Workspace
CoreScratch = collections.namedtuple("CoreScratch", ("regs_i", "regs_f", "vf", "vi", "runs"))  # _Workspace
CoreLog = collections.namedtuple("CoreLog", (  # what the core reports besides cycles (_Workspace)
    "counts", "acc_token", "acc_line", "acc_store"))  # per group; per line it loaded or stored


def _flat(group: tuple) -> tuple:
    """A named tuple as the compiled loops are passed it: a plain tuple. Numba's dispatcher
    types a named tuple argument by its class and field names too, ~3x slower than a plain
    tuple's (named tuples cost ~20 us more per core run)."""
    return tuple(group)


# ---------------------------------------------------------------------------
# small shared pieces

@njit(inline="always", **_JIT)
def _wrap(value, dtype):
    """An integer wrapped to the element type."""
    if dtype == I32:
        return np.int64(np.int32(value))
    return value


@njit(inline="always", **_JIT)
def _itemsize(dtype):
    if dtype == F16 or dtype == BF16:
        return 2
    return 4 if dtype == F32 or dtype == I32 else 8


@njit(inline="always", **_JIT)
def _is_float(dtype):
    return dtype == F32 or dtype == F64 or dtype == F16 or dtype == BF16


def _peek(element_type):
    """An intrinsic reading one element at an int64 address: slots are passed as
    addresses, not as a list of arrays (numba's typed lists cost ~140 ns a lookup)."""
    @intrinsic
    def peek(typingctx, address):
        def codegen(context, builder, signature, args):
            pointer = builder.inttoptr(args[0], context.get_value_type(element_type).as_pointer())
            return builder.load(pointer)
        return element_type(types.int64), codegen
    return peek


def _poke(element_type):
    """An intrinsic writing one element at an int64 address."""
    @intrinsic
    def poke(typingctx, address, value):
        def codegen(context, builder, signature, args):
            pointer = builder.inttoptr(args[0], context.get_value_type(element_type).as_pointer())
            builder.store(context.cast(builder, args[1], signature.args[1], element_type), pointer)
            return context.get_dummy_value()
        return types.void(types.int64, value), codegen
    return poke


_peek_f32, _peek_f64, _peek_i32, _peek_i64 = (_peek(t) for t in (types.float32, types.float64, types.int32,
                                                                 types.int64))
_poke_f32, _poke_f64, _poke_i32, _poke_i64 = (_poke(t) for t in (types.float32, types.float64, types.int32,
                                                                 types.int64))
_peek_u16, _poke_u16 = _peek(types.uint16), _poke(types.uint16)  # float16 and bfloat16 elements, as bits


def _pointer(element_type):
    """An intrinsic making an int64 address a typed pointer: a loop indexing it (p[j])
    addresses its elements in a way LLVM can analyse, so it can vectorize the loop,
    which it cannot do through _peek's per-element casts."""
    @intrinsic
    def pointer(typingctx, address):
        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], context.get_value_type(element_type).as_pointer())
        return types.CPointer(element_type)(types.int64), codegen
    return pointer


_pointer_f32, _pointer_f64, _pointer_i32, _pointer_i64 = (_pointer(t) for t in (types.float32, types.float64,
                                                                                types.int32, types.int64))


@intrinsic
def _prefetch(typingctx, address):
    """A hint to the host CPU to bring the line at an int64 address into its caches
    (llvm.prefetch: read, high locality). It never faults and changes no value."""
    def codegen(context, builder, signature, args):
        pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = builder.module.declare_intrinsic(
            "llvm.prefetch", [pointer], ir.FunctionType(ir.VoidType(), [pointer, i32, i32, i32]))
        builder.call(function, [builder.inttoptr(args[0], pointer), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()
    return types.void(types.int64), codegen


PREFETCH_AHEAD = 4      # iterations: a row gathered by id is prefetched this far ahead
PREFETCH_BYTES = 512    # of that row (host cache lines of 64 bytes)


@njit(inline="always", **_JIT)  # hot and short: a call would pass each array as ~8 stack words
def _load_many(slot_addr, dtype, slot, elements, n, out_f, out_i):
    """out[j] = slot[elements[j]] for j < n, as float64 and int64 (bounds already checked)."""
    base = slot_addr[slot]
    if dtype == F32:
        for j in range(n):
            out_f[j] = np.float64(_peek_f32(base + 4 * elements[j]))
    elif dtype == F64:
        for j in range(n):
            out_f[j] = _peek_f64(base + 8 * elements[j])
    elif dtype == I32:
        for j in range(n):
            out_i[j] = np.int64(_peek_i32(base + 4 * elements[j]))
    elif dtype == F16:
        for j in range(n):
            out_f[j] = f16_value(np.int64(_peek_u16(base + 2 * elements[j])))
    elif dtype == BF16:
        for j in range(n):
            out_f[j] = bf16_value(np.int64(_peek_u16(base + 2 * elements[j])))
    else:
        for j in range(n):
            out_i[j] = _peek_i64(base + 8 * elements[j])


@njit(inline="always", **_JIT)
def _trunc_div(a, b):
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


# ---------------------------------------------------------------------------
# the access unit

@njit(inline="always", **_JIT)
def _src_int(kind, value, params, iconst, vval_i, vval_f, st_float):
    """A scalar SRC operand (a TU bound) as an integer; a stream one is its lane 0."""
    if kind == 0:
        return value
    if kind == 2:
        return params[value]
    if kind == 3:
        return iconst[value]
    return np.int64(vval_f[value, 0]) if st_float[value] else vval_i[value, 0]


@njit(inline="always", **_JIT)  # hot and short: a call would pass each array as ~8 stack words
def _operand(kind, value, lanes, params, iconst, vval_i, vval_f, st_width, st_float, out):
    """out[0:lanes] = a SRC operand as integers, broadcast unless it is a vector stream."""
    if kind == 1 and st_width[value] > 1:
        if st_float[value]:
            for k in range(lanes):
                out[k] = np.int64(vval_f[value, k])
        else:
            for k in range(lanes):
                out[k] = vval_i[value, k]
        return
    scalar = _src_int(kind, value, params, iconst, vval_i, vval_f, st_float)
    for k in range(lanes):
        out[k] = scalar


@njit(inline="always", **_JIT)
def _prefetch_row_ahead(element, slot, target, slots):
    """Prefetches the row of slot `target` whose id is element `element` of the
    integer slot `slot` (the id a gather will read PREFETCH_AHEAD iterations on):
    the row-slice copy then finds it in the host's cache instead of waiting on
    DRAM. Only a hint: out-of-range ids are skipped, nothing observable changes."""
    if element >= slots.size[slot]:
        return
    dtype = slots.dtype[slot]
    if dtype == I32:
        row = np.int64(_peek_i32(slots.addr[slot] + 4 * element))
    elif dtype == I64:
        row = _peek_i64(slots.addr[slot] + 8 * element)
    else:
        return
    if row < 0 or row >= slots.rows[target]:
        return
    row_bytes = slots.rowlen[target] * slots.itemsize[target]
    start = slots.addr[target] + row * row_bytes
    for offset in range(0, min(row_bytes, PREFETCH_BYTES), 64):
        _prefetch(start + offset)


@njit(**_JIT)
def _access(program, slots, roots, params, max_steps, err, queue, scratch):
    """Runs the access unit over `roots`: fills the queue's arrays up to their
    capacity and returns how much it needed: (entries, pool, log, longest buffer,
    trailing iterations). The caller reruns with larger arrays if any exceeded
    (arrays are never reallocated here: reassigning arrays in a numba loop costs
    refcounts). It clears err and its scratch arrays first: they may come from a
    former run."""
    slots = Slots(*slots)
    (tu_kind, tu_width, tu_lb, tu_ub, tu_first_child, tu_next_sibling, tu_streams, st_op, st_tu, st_slot, st_index,
     st_col, st_alu, st_a, st_b, st_float, st_dtype, st_width, st_contiguous, st_direct, st_prefetch, tu_row_copy,
     rule_start, rule_stream, rule_cb, iconst) = program
    slot_addr, slot_dtype, slot_rows, slot_rowlen, slot_size, slot_base, slot_itemsize, line_shift = slots
    (kind, ent_a, ent_f, ent_len, ent_mask, ent_dtype, ent_iter, pool_f, pool_i, pool_s, log_entry, log_stream,
     log_line, buf_f, buf_i) = queue
    state_i, state_f, vval_i, vval_f = scratch
    operand_a, buf_len, tu_cur, tu_end = state_i[0], state_i[1], state_i[2], state_i[3]
    tu_valid, tu_child, stack, elements, operand_b = state_i[4], state_i[5], state_i[6], state_i[7], state_i[8]
    buf_start = state_i[9]  # where a buffer filled straight into the pool begins
    err[:] = 0
    for row in range(state_i.shape[0]):
        state_i[row, :] = 0
    state_f[:, :] = 0.0
    vval_i[:, :] = 0
    vval_f[:, :] = 0.0
    max_buf = 0

    n, n_pool, n_log, pending = 0, 0, 0, 0
    steps = 0  # loop iterations, as golden counts them

    for root in roots:
        depth = 0
        stack[0] = root
        fresh = True  # the TU on top starts a new fiber
        while depth >= 0:
            tu = stack[depth]
            if fresh:
                fresh = False
                lb = _src_int(tu_lb[tu, 0], tu_lb[tu, 1], params, iconst, vval_i, vval_f, st_float)
                ub = _src_int(tu_ub[tu, 0], tu_ub[tu, 1], params, iconst, vval_i, vval_f, st_float)
                tu_cur[tu], tu_end[tu] = lb, (lb + ub if tu_kind[tu] == 2 else ub)
                tu_child[tu] = -2
                for j in range(tu_streams[tu, 0], tu_streams[tu, 1]):
                    buf_len[j] = 0
                    buf_start[j] = -1
                event = 0
            elif tu_child[tu] == -2:
                if tu_cur[tu] >= tu_end[tu]:
                    event = 2
                else:
                    width = tu_width[tu]
                    s = tu_row_copy[tu]
                    if s >= 0:
                        # The whole fiber at once: a row slice copied into its buffer, with the
                        # same requests, iteration counts and checks as one iteration at a time.
                        target, slot = st_direct[s], st_slot[s]
                        index = _src_int(st_index[s, 0], st_index[s, 1], params, iconst, vval_i, vval_f,
                                         st_float)
                        rows, row_len = slot_rows[slot], slot_rowlen[slot]
                        base, itemsize = slot_base[slot], slot_itemsize[slot]
                        if buf_start[target] < 0:
                            buf_start[target] = n_pool
                        start = tu_cur[tu]
                        while start < tu_end[tu]:
                            steps += 1
                            if steps > max_steps:
                                err[0] = E_STEPS
                                return n, n_pool, n_log, max_buf, pending
                            lanes = min(width, tu_end[tu] - start)
                            if index < 0 or index >= rows or start < 0 or start + lanes > row_len:
                                err[0], err[1], err[2], err[3] = E_RANGE, s, index, rows
                                return n, n_pool, n_log, max_buf, pending
                            first = index * row_len + start
                            if n_pool + lanes <= len(pool_f):
                                _load_run(slot_addr, slot_dtype[slot], slot, first, lanes, pool_f[n_pool:],
                                          pool_i[n_pool:], pool_s[n_pool:])
                            n_pool += lanes
                            buf_len[target] += lanes
                            pending += lanes
                            for line in range((base + first * itemsize) >> line_shift,
                                              ((base + (first + lanes - 1) * itemsize) >> line_shift) + 1):
                                if n_log < len(log_line):
                                    log_entry[n_log], log_stream[n_log], log_line[n_log] = n, s, line
                                n_log += 1
                            tu_valid[tu] = lanes
                            start += width
                        tu_cur[tu] = start
                        continue
                    # one iteration: streams in definition order
                    steps += 1
                    if steps > max_steps:
                        err[0] = E_STEPS
                        return n, n_pool, n_log, max_buf, pending
                    start = tu_cur[tu]
                    valid = min(width, tu_end[tu] - start)
                    tu_valid[tu] = valid
                    for s in range(tu_streams[tu, 0], tu_streams[tu, 1]):
                        op = st_op[s]
                        lanes = valid if width > 1 else 1
                        if op == S_BUF and st_direct[s] == -2:
                            continue  # its source loads straight into the pool
                        if op == S_BUF:
                            src = st_a[s, 1]
                            need = buf_len[s] + lanes
                            max_buf = max(max_buf, need)
                            if need <= buf_f.shape[1]:
                                at = buf_len[s]
                                if st_float[src]:
                                    for k in range(lanes):
                                        buf_f[s, at + k] = vval_f[src, k]
                                else:
                                    for k in range(lanes):
                                        buf_i[s, at + k] = vval_i[src, k]
                            buf_len[s] = need
                        elif op == S_ITE:
                            for k in range(width):
                                vval_i[s, k] = start + k
                        elif op == S_MEM and st_contiguous[s]:
                            # A row slice: slot[index, start:start + lanes] (col is this TU's induction).
                            pending += lanes
                            slot = st_slot[s]
                            index = _src_int(st_index[s, 0], st_index[s, 1], params, iconst, vval_i, vval_f,
                                             st_float)
                            rows, row_len = slot_rows[slot], slot_rowlen[slot]
                            if index < 0 or index >= rows or start < 0 or start + lanes > row_len:
                                err[0], err[1], err[2], err[3] = E_RANGE, s, index, rows
                                return n, n_pool, n_log, max_buf, pending
                            first = index * row_len + start
                            for k in range(lanes):
                                elements[k] = first + k
                            target = st_direct[s]
                            if target >= 0:
                                # Only a buffer reads this stream and nothing else writes the pool
                                # during the fiber: load the row slice where the buffer will be.
                                if buf_start[target] < 0:
                                    buf_start[target] = n_pool
                                if n_pool + lanes <= len(pool_f) and slot_dtype[slot] == F32:
                                    _load_many_f32(slot_addr, slot, elements, lanes, pool_s[n_pool:])
                                elif n_pool + lanes <= len(pool_f):
                                    _load_many(slot_addr, slot_dtype[slot], slot, elements, lanes,
                                               pool_f[n_pool:], pool_i[n_pool:])
                                n_pool += lanes
                                buf_len[target] += lanes
                            else:
                                _load_many(slot_addr, slot_dtype[slot], slot, elements, lanes, vval_f[s],
                                           vval_i[s])
                                for k in range(lanes, width):
                                    vval_f[s, k], vval_i[s, k] = 0.0, 0
                            base, itemsize = slot_base[slot], slot_itemsize[slot]
                            for line in range((base + first * itemsize) >> line_shift,
                                              ((base + (first + lanes - 1) * itemsize) >> line_shift) + 1):
                                if n_log < len(log_line):
                                    log_entry[n_log], log_stream[n_log], log_line[n_log] = n, s, line
                                n_log += 1
                        elif op == S_MEM:
                            pending += lanes
                            slot = st_slot[s]
                            _operand(st_index[s, 0], st_index[s, 1], lanes, params, iconst, vval_i, vval_f,
                                     st_width, st_float, operand_a)
                            if st_col[s, 0] < 0:
                                for k in range(lanes):
                                    if operand_a[k] < 0 or operand_a[k] >= slot_size[slot]:
                                        err[0], err[1], err[2], err[3] = E_RANGE, s, operand_a[k], slot_size[slot]
                                        return n, n_pool, n_log, max_buf, pending
                                    elements[k] = operand_a[k]
                            else:
                                _operand(st_col[s, 0], st_col[s, 1], lanes, params, iconst, vval_i, vval_f,
                                         st_width, st_float, operand_b)
                                rows, row_len = slot_rows[slot], slot_rowlen[slot]
                                for k in range(lanes):
                                    index, col = operand_a[k], operand_b[k]
                                    if index < 0 or index >= rows or col < 0 or col >= row_len:
                                        err[0], err[1], err[2], err[3] = E_RANGE, s, index, rows
                                        return n, n_pool, n_log, max_buf, pending
                                    elements[k] = index * row_len + col
                            _load_many(slot_addr, slot_dtype[slot], slot, elements, lanes, vval_f[s], vval_i[s])
                            if st_prefetch[s] >= 0:
                                _prefetch_row_ahead(elements[0] + PREFETCH_AHEAD, slot, st_slot[st_prefetch[s]], slots)
                            for k in range(lanes, width):  # lanes past the bound load nothing
                                vval_f[s, k], vval_i[s, k] = 0.0, 0
                            base, itemsize, last_line = slot_base[slot], slot_itemsize[slot], -1
                            for k in range(lanes):
                                line = (base + elements[k] * itemsize) >> line_shift  # lines are a power of two: no division
                                if line != last_line:
                                    if n_log < len(log_line):
                                        log_entry[n_log], log_stream[n_log], log_line[n_log] = n, s, line
                                    n_log += 1
                                    last_line = line
                        else:  # fwd and alu: every lane, as in golden mode
                            pending += lanes
                            _operand(st_a[s, 0], st_a[s, 1], width, params, iconst, vval_i, vval_f, st_width,
                                     st_float, operand_a)
                            if op == S_FWD:
                                for k in range(width):
                                    vval_i[s, k] = operand_a[k]
                                continue
                            _operand(st_b[s, 0], st_b[s, 1], width, params, iconst, vval_i, vval_f, st_width,
                                     st_float, operand_b)
                            alu = st_alu[s]
                            for k in range(width):
                                a, b = operand_a[k], operand_b[k]
                                if (alu == 3 or alu == 4) and b == 0:
                                    err[0], err[1], err[2] = E_ALU_ZERO, s, alu
                                    return n, n_pool, n_log, max_buf, pending
                                if alu == 0:
                                    value = a + b
                                elif alu == 1:
                                    value = a - b
                                elif alu == 2:
                                    value = a * b
                                elif alu == 3:
                                    value = _trunc_div(a, b)
                                elif alu == 4:
                                    value = a - _trunc_div(a, b) * b
                                elif alu == 5:
                                    value = min(a, b)
                                elif alu == 6:
                                    value = max(a, b)
                                elif alu == 7:
                                    value = a << (b & 63)
                                else:
                                    value = a >> (b & 63)
                                vval_i[s, k] = value
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
                    if s >= 0 and st_op[s] == S_BUF and st_direct[s] != -2:
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
                elif st_op[s] == S_BUF and st_direct[s] == -2:
                    start_at = buf_start[s] if buf_start[s] >= 0 else n_pool
                    kind[n], ent_a[n], ent_len[n], ent_dtype[n] = K_BUFFER, start_at, buf_len[s], st_dtype[s]
                elif st_op[s] == S_BUF:
                    count = buf_len[s]
                    if n_pool + count <= len(pool_f) and count <= buf_f.shape[1]:
                        if st_dtype[s] == F32:
                            for k in range(count):
                                pool_s[n_pool + k] = np.float32(buf_f[s, k])  # an f32 value: exact
                        elif st_float[s]:
                            for k in range(count):
                                pool_f[n_pool + k] = buf_f[s, k]
                        else:
                            for k in range(count):
                                pool_i[n_pool + k] = buf_i[s, k]
                    kind[n], ent_a[n], ent_len[n], ent_dtype[n] = K_BUFFER, n_pool, count, st_dtype[s]
                    n_pool += count
                elif st_width[s] > 1:
                    width = st_width[s]
                    if n_pool + width <= len(pool_f):
                        for k in range(width):
                            pool_f[n_pool + k], pool_i[n_pool + k] = vval_f[s, k], vval_i[s, k]
                    valid = tu_valid[st_tu[s]]
                    kind[n], ent_a[n], ent_len[n], ent_dtype[n] = K_VECTOR, n_pool, width, st_dtype[s]
                    ent_mask[n] = -1 if valid >= 64 else (np.int64(1) << valid) - 1
                    n_pool += width
                elif st_float[s]:
                    kind[n], ent_f[n], ent_dtype[n] = K_FLOAT, vval_f[s, 0], st_dtype[s]
                else:
                    kind[n], ent_a[n], ent_dtype[n] = K_INT, vval_i[s, 0], I64
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
    # Item sizes are powers of two and vector_bytes is positive: a shift equals the
    # floor division and spares a hardware divide on every vector instruction.
    return vector_bytes >> _log2_itemsize(dtype)


@njit(inline="always", **_JIT)
def _log2_itemsize(dtype):
    if dtype == F16 or dtype == BF16:
        return 1
    return 2 if dtype == F32 or dtype == I32 else 3


SCRATCH = 32  # vector rows 32..35 hold converted copies of operands


@njit(inline="always", **_JIT)
def _source(vf, vi, v_dtype, v_len, r, dtype, count, scratch):
    """The row holding register r as `count` lanes of dtype: r itself when it
    already is that, else a converted copy in row `scratch` (missing lanes 0)."""
    if v_dtype[r] == dtype and v_len[r] >= count:
        return r  # the common case, decided without a call
    return _converted(vf, vi, v_dtype, v_len, r, dtype, count, scratch)


@njit(**_JIT)
def _converted(vf, vi, v_dtype, v_len, r, dtype, count, scratch):
    """_source's slow path: register r converted into row `scratch`."""
    source_float = _is_float(v_dtype[r])
    for k in range(count):
        if k < v_len[r]:
            if _is_float(dtype):
                vf[scratch, k] = _round(vf[r, k], dtype) if source_float else _round_int(vi[r, k], dtype)
            else:
                vi[scratch, k] = _wrap(np.int64(vf[r, k]) if source_float else vi[r, k], dtype)
        else:
            vf[scratch, k], vi[scratch, k] = 0.0, 0
    return scratch


@njit(inline="always", **_JIT)
def _lanes(mask, count, out):
    n = 0
    for k in range(count):
        if (mask >> k) & 1:
            out[n] = k
            n += 1
    return n


@njit(**_JIT)
def _core(program, slots, config, params, queue, n_entries, err, cycles, log, scratch):
    """Runs the core to its halt, popping the first n_entries entries of the
    queue; fills cycles (per token + 1), the log's counts (per group) and its
    access log up to its capacity, and returns the log length it needed (the
    caller reruns with a larger log if it was short). It clears what it fills
    first, err included: scratch arrays may come from a former run."""
    exe_op, exe_args, exe_cost, exe_group, exe_fused, jt_data, jt_start, iconst, fconst = program
    slots, queue = Slots(*slots), QueueArrays(*queue)
    slot_addr, slot_dtype, slot_size, slot_base, slot_itemsize, line_shift = \
        slots.addr, slots.dtype, slots.size, slots.base, slots.itemsize, slots.line_shift
    vector_bytes, dispatch_cycles, max_instructions = config
    kind, ent_a, ent_f, ent_len, ent_mask, ent_dtype = \
        queue.kind, queue.ent_a, queue.ent_f, queue.ent_len, queue.ent_mask, queue.ent_dtype
    pool_f, pool_i, pool_s = queue.pool_f, queue.pool_i, queue.pool_s
    counts, acc_token, acc_line, acc_store = log
    regs_i, regs_f, vf, vi, runs = scratch
    x, m, c, b_start, b_len, v_len, v_dtype = regs_i[0, :32], regs_i[1, :8], regs_i[2, :8], regs_i[3, :4], \
        regs_i[4, :4], regs_i[5, :36], regs_i[6, :36]
    a_i, o_i, lanes, elements = regs_i[7], regs_i[9], regs_i[10], regs_i[11]
    f, a_f, sum_f, o_f = regs_f[0, :32], regs_f[1], regs_f[2], regs_f[3]
    regs_i[:, :] = 0
    regs_f[:, :] = 0.0
    vf[:, :] = 0.0
    vi[:, :] = 0
    err[:] = 0
    cycles[:] = 0.0
    counts[:] = 0
    for r in range(36):
        v_dtype[r] = F32  # registers start empty (length 0)
    n_acc = 0
    next_token, next_operand, current = 0, 0, -1
    pc, executed, n_code = 0, 0, len(exe_op)
    spent = 0.0  # cycles of the current callback so far (added to cycles[] when it ends)
    runs[:] = 0  # executions per instruction; counts per group are summed from them at the end
    while True:
        if pc < 0 or pc >= n_code:
            err[0], err[1] = E_OFF_END, pc
            break
        op = exe_op[pc]
        a0, a1, a2, a3, a4 = exe_args[pc, 0], exe_args[pc, 1], exe_args[pc, 2], exe_args[pc, 3], exe_args[pc, 4]
        next_pc = pc + 1
        # -- control --------------------------------------------------------
        # The hottest instructions of embedding kernels first: the chain is tested in order.
        if op == OP_BLD:
            t = a4
            count = _vl(vector_bytes, t)
            e = b_start[a1]
            full = -1 if count >= 64 else (np.int64(1) << count) - 1
            if t == F32 and ent_dtype[e] == F32 and (m[a3] & full) == full and 0 <= x[a2] \
                    and x[a2] + count <= b_len[a1]:
                # The common case, all lanes of an f32 buffer: a straight copy (the pool
                # holds f32 values, so there is nothing to round).
                # at >= 0 (checked above): as an unsigned index numba skips its negative-index
                # wraparound, which otherwise makes LLVM gather lane by lane instead of copying.
                at = np.uint64(ent_a[e] + x[a2])
                for k in range(count):
                    vf[a0, k] = np.float64(pool_s[at + np.uint64(k)])
                v_dtype[a0], v_len[a0] = t, count
                spent += exe_cost[pc]
                runs[pc] += 1
                executed += 1
                fused = exe_fused[pc] == FUSED_VADD
                acc = exe_args[next_pc, 0] if fused else 0
                if fused and v_dtype[acc] == F32 and v_len[acc] >= count:
                    # The vadd after it adds what it loaded to an f32 accumulator (vadd vD, vD, vT):
                    # run here as the vadd branch would, which saves a trip round the loop.
                    for k in range(count):
                        vf[acc, k] = np.float64(np.float32(vf[acc, k]) + np.float32(vf[a0, k]))
                    v_dtype[acc], v_len[acc] = F32, count
                    spent += exe_cost[next_pc]
                    runs[next_pc] += 1
                    executed += 1
                    next_pc += 1
                    if executed > max_instructions:
                        err[0], err[1] = E_STEPS, next_pc
                        break
                pc = next_pc
                continue
            n_lanes = _lanes(m[a3], count, lanes)
            e = b_start[a1]
            if n_lanes and (x[a2] + lanes[0] < 0 or x[a2] + lanes[n_lanes - 1] >= b_len[a1]):
                err[0], err[1], err[2], err[3] = E_BLD, pc, x[a2] + lanes[n_lanes - 1], b_len[a1]
                break
            for k in range(count):
                vf[a0, k], vi[a0, k] = 0.0, 0
            at = ent_a[e] + x[a2]
            source = ent_dtype[e]
            source_float = _is_float(source)
            for j in range(n_lanes):
                k = lanes[j]
                if _is_float(t):
                    vf[a0, k] = _round(_pooled_float(pool_f, pool_s, source, at + k), t) if source_float \
                        else _round_int(pool_i[at + k], t)
                else:
                    vi[a0, k] = _wrap(np.int64(_pooled_float(pool_f, pool_s, source, at + k)) if source_float
                                      else pool_i[at + k], t)
            v_dtype[a0], v_len[a0] = t, count
        elif OP_VADD <= op <= OP_VFMA:
            t = a3
            count = _vl(vector_bytes, t)
            ra = _source(vf, vi, v_dtype, v_len, a1, t, count, SCRATCH)
            rb = _source(vf, vi, v_dtype, v_len, a2, t, count, SCRATCH + 1)
            rd = _source(vf, vi, v_dtype, v_len, a0, t, count, SCRATCH + 2) if op == OP_VFMA else a0
            if op == OP_VADD and t == F32:  # the accumulation of embedding rows: a tight loop
                # LLVM vectorizes these loops only where it can tell that no store overlaps a
                # later lane's load: when the target is a source, written so that it sees lane
                # k stored where lane k was loaded; otherwise summed into another array first.
                if ra == a0:
                    for k in range(count):
                        vf[a0, k] = np.float64(np.float32(vf[a0, k]) + np.float32(vf[rb, k]))
                else:
                    for k in range(count):
                        sum_f[k] = np.float64(np.float32(vf[ra, k]) + np.float32(vf[rb, k]))
                    for k in range(count):
                        vf[a0, k] = sum_f[k]
            elif _is_float(t):
                for k in range(count):
                    p, q = vf[ra, k], vf[rb, k]
                    if op == OP_VMAX:
                        value_f = np.maximum(p, q)
                    elif op == OP_VMIN:
                        value_f = np.minimum(p, q)
                    elif op == OP_VFMA:
                        value_f = _fop(OP_FADD, vf[rd, k], _fop(OP_FMUL, p, q, t), t)
                    else:
                        value_f = _fop(op - OP_VADD + OP_FADD, p, q, t)
                    vf[a0, k] = value_f
            else:
                if op == OP_VDIV:
                    for k in range(count):
                        if vi[rb, k] == 0:
                            err[0], err[1] = E_VDIV, pc
                    if err[0]:
                        break
                for k in range(count):
                    p, q = vi[ra, k], vi[rb, k]
                    if op == OP_VADD:
                        value = p + q
                    elif op == OP_VSUB:
                        value = p - q
                    elif op == OP_VMUL:
                        value = p * q
                    elif op == OP_VDIV:
                        value = _trunc_div(p, q)
                    elif op == OP_VMAX:
                        value = max(p, q)
                    elif op == OP_VMIN:
                        value = min(p, q)
                    else:
                        value = vi[rd, k] + _wrap(p * q, t)
                    vi[a0, k] = _wrap(value, t)
            v_dtype[a0], v_len[a0] = t, count
        elif op == OP_CBPOP:
            while next_token < n_entries and kind[next_token] != K_TOKEN:
                next_token += 1
            value = 0
            if next_token < n_entries:
                value = ent_a[next_token]
                cycles[current + 1] += spent  # the finished callback's cycles
                spent = 0.0
                current = next_token
                next_token += 1
            if a0:
                x[a0] = value
            spent += dispatch_cycles
            if exe_fused[pc] == FUSED_BRTAB:
                # the br.tab after it, run straight away: cb.pop's accounting as at the end of
                # the loop, then br.tab's own (the end of the loop does that one)
                spent += exe_cost[pc]
                runs[pc] += 1
                pc = next_pc
                executed += 1
                if executed > max_instructions:
                    err[0], err[1] = E_STEPS, pc
                    break
                table, callback = exe_args[pc, 1], x[exe_args[pc, 0]]
                if callback < 0 or callback >= jt_start[table + 1] - jt_start[table]:
                    err[0], err[1], err[2], err[3] = E_JUMP, pc, callback, table
                    break
                next_pc = jt_data[jt_start[table] + callback]
        elif op == OP_BRTAB:
            callback = x[a0]
            if callback < 0 or callback >= jt_start[a1 + 1] - jt_start[a1]:
                err[0], err[1], err[2], err[3] = E_JUMP, pc, callback, a1
                break
            next_pc = jt_data[jt_start[a1] + callback]
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
                source_float = _is_float(ent_dtype[e])
                for k in range(count):
                    if k < ent_len[e]:
                        if _is_float(t):
                            vf[a0, k] = _round(pool_f[ent_a[e] + k], t) if source_float \
                                else _round_int(pool_i[ent_a[e] + k], t)
                        else:
                            vi[a0, k] = _wrap(np.int64(pool_f[ent_a[e] + k]) if source_float
                                              else pool_i[ent_a[e] + k], t)
                    else:
                        vf[a0, k], vi[a0, k] = 0.0, 0
                v_dtype[a0], v_len[a0] = t, count
                m[a1] = ent_mask[e]
            else:
                b_start[a0], b_len[a0] = e, ent_len[e]
        elif op == OP_HALT:
            spent += exe_cost[pc]
            runs[pc] += 1
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
        # -- queue ----------------------------------------------------------
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
                f[a0] = _fop(op, p, q, t)
        elif op == OP_FSQRT:
            f[a0] = _round(np.sqrt(_round(f[a1], a2)), a2)
        elif op == OP_FCVT:
            f[a0] = _round_int(x[a1], a2)
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
            line = (slot_base[slot] + element * slot_itemsize[slot]) >> line_shift
            if n_acc < len(acc_line):
                acc_token[n_acc], acc_line[n_acc], acc_store[n_acc] = current, line, store
            n_acc += 1
            t = slot_dtype[slot]
            elements[0] = element
            if store:
                o_f[0], o_i[0] = f[a0], x[a0]
                _store_many(slot_addr, t, slot, elements, 1, o_f, o_i)
            else:
                _load_many(slot_addr, t, slot, elements, 1, o_f, o_i)
                if op == OP_FLD:
                    f[a0] = o_f[0]
                elif a0:
                    x[a0] = o_i[0]
        elif op == OP_VLD or op == OP_VST or op == OP_VGATHER or op == OP_VSCATTER:
            slot, t, mask = a1, a4, m[a3]
            count = _vl(vector_bytes, t)
            n_lanes = _lanes(mask, count, lanes)
            indexed = op == OP_VGATHER or op == OP_VSCATTER
            store = op == OP_VST or op == OP_VSCATTER
            index_row = _source(vf, vi, v_dtype, v_len, a2, I64, count, SCRATCH) if indexed else 0
            low, high = np.int64(0), np.int64(-1)
            for j in range(n_lanes):
                element = vi[index_row, lanes[j]] if indexed else x[a2] + lanes[j]
                elements[j] = element
                low, high = (element, element) if j == 0 else (min(low, element), max(high, element))
            if n_lanes and (low < 0 or high >= slot_size[slot]):
                err[0], err[1], err[2], err[3] = E_BOUNDS, pc, slot, high if high >= slot_size[slot] else low
                err[4] = slot_size[slot]
                break
            last_line = -1
            for j in range(n_lanes):
                line = (slot_base[slot] + elements[j] * slot_itemsize[slot]) >> line_shift
                if line != last_line:
                    if n_acc < len(acc_line):
                        acc_token[n_acc], acc_line[n_acc], acc_store[n_acc] = current, line, store
                    n_acc += 1
                    last_line = line
            if store:
                # The indices are in `elements` already, so the scratch row may be reused; lanes
                # store in increasing order, so of repeated vscatter indices the highest lane wins.
                row = _source(vf, vi, v_dtype, v_len, a0, t, count, SCRATCH)
                for j in range(n_lanes):
                    a_f[j], a_i[j] = vf[row, lanes[j]], vi[row, lanes[j]]
                _store_many(slot_addr, t, slot, elements, n_lanes, a_f, a_i)
            else:
                _load_many(slot_addr, t, slot, elements, n_lanes, a_f, a_i)
                for k in range(count):
                    vf[a0, k], vi[a0, k] = 0.0, 0
                for j in range(n_lanes):
                    vf[a0, lanes[j]], vi[a0, lanes[j]] = a_f[j], a_i[j]
                v_dtype[a0], v_len[a0] = t, count
        # -- vector ---------------------------------------------------------
        elif op == OP_VSCALE:
            t = a3
            count = _vl(vector_bytes, t)
            ra = _source(vf, vi, v_dtype, v_len, a1, t, count, SCRATCH)
            scale = _round(f[a2], t)
            for k in range(count):
                vf[a0, k] = _fop(OP_FMUL, vf[ra, k], scale, t)
            v_dtype[a0], v_len[a0] = t, count
        elif op == OP_VSPLAT or op == OP_VZERO:
            t = a2 if op == OP_VSPLAT else a1
            count = _vl(vector_bytes, t)
            value_f = _round(f[a1], t) if op == OP_VSPLAT else 0.0
            for k in range(count):
                vf[a0, k], vi[a0, k] = value_f, 0
            v_dtype[a0], v_len[a0] = t, count
        elif op == OP_VMOV:
            v_dtype[a0], v_len[a0] = v_dtype[a1], v_len[a1]
            for k in range(MAX_LANES):
                vf[a0, k], vi[a0, k] = vf[a1, k], vi[a1, k]
        elif op == OP_VCVT:
            t = a2
            count = _vl(vector_bytes, t)
            ra = _source(vf, vi, v_dtype, v_len, a1, t, count, SCRATCH)
            for k in range(count):
                vf[a0, k], vi[a0, k] = vf[ra, k], vi[ra, k]
            v_dtype[a0], v_len[a0] = t, count
        elif op == OP_VREDSUM:
            t = a3
            count = _vl(vector_bytes, t)
            ra = _source(vf, vi, v_dtype, v_len, a1, t, count, SCRATCH)
            n_lanes = _lanes(m[a2], count, lanes)
            total = 0.0
            for j in range(n_lanes):
                value_f = vf[ra, lanes[j]]
                total = value_f if j == 0 else _fop(OP_FADD, total, value_f, t)
            f[a0] = total
        elif op == OP_VIOTA:
            t = a2
            count = _vl(vector_bytes, t)
            for k in range(count):
                vi[a0, k] = _wrap(x[a1] + k, t)
            v_dtype[a0], v_len[a0] = t, count
        elif op == OP_MSET:
            count = max(0, min(64, x[a1]))
            m[a0] = -1 if count == 64 else (np.int64(1) << count) - 1
        # -- buffers --------------------------------------------------------
        elif op == OP_BLEN:
            if a0:
                x[a0] = b_len[a1]
        else:  # an opcode without a branch above faults rather than running as a costed no-op
            err[0], err[1], err[2] = E_OPCODE, pc, op
            break
        spent += exe_cost[pc]
        runs[pc] += 1
        pc = next_pc
        executed += 1
        if executed > max_instructions:
            err[0], err[1] = E_STEPS, pc
            break
    cycles[current + 1] += spent
    for i in range(n_code):
        counts[exe_group[i]] += runs[i]
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
def _fop(op, p, q, dtype):
    """fadd/fsub/fmul/fdiv in the element type. Halves compute exactly enough in
    float64 and round once (double rounding through float32 would give the same)."""
    if dtype == F32:
        return _f32_op(op, p, q)
    return _round(_f64_op(op, p, q), dtype)


@njit(inline="always", **_JIT)  # once per row chunk: a call would cost more than the copy
def _load_run(slot_addr, dtype, slot, first, n, out_f, out_i, out_s):
    """out[j] = slot[first + j] for j < n (a contiguous run; bounds already checked), into
    out_s for float32 slots (the pool's buffers of float32), else out_f or out_i."""
    if dtype == F32:
        source_f32 = _pointer_f32(slot_addr[slot] + 4 * first)
        for j in range(n):
            out_s[j] = source_f32[j]
    elif dtype == F64:
        source_f64 = _pointer_f64(slot_addr[slot] + 8 * first)
        for j in range(n):
            out_f[j] = source_f64[j]
    elif dtype == I32:
        source_i32 = _pointer_i32(slot_addr[slot] + 4 * first)
        for j in range(n):
            out_i[j] = np.int64(source_i32[j])
    elif dtype == F16 or dtype == BF16:
        base = slot_addr[slot] + 2 * first
        for j in range(n):
            bits = np.int64(_peek_u16(base + 2 * j))
            out_f[j] = f16_value(bits) if dtype == F16 else bf16_value(bits)
    else:
        source_i64 = _pointer_i64(slot_addr[slot] + 8 * first)
        for j in range(n):
            out_i[j] = source_i64[j]


@njit(inline="always", **_JIT)
def _load_many_f32(slot_addr, slot, elements, n, out_s):
    """out_s[j] = slot[elements[j]] for j < n, of a float32 slot (bounds already checked)."""
    base = slot_addr[slot]
    for j in range(n):
        out_s[j] = _peek_f32(base + 4 * elements[j])


@njit(inline="always", **_JIT)
def _pooled_float(pool_f, pool_s, dtype, index):
    """A float value of a buffer in the queue's pool: float32 buffers are kept in pool_s."""
    return np.float64(pool_s[index]) if dtype == F32 else pool_f[index]


@njit(**_JIT)
def _store_many(slot_addr, dtype, slot, elements, n, values_f, values_i):
    """slot[elements[j]] = values[j]; only output slots are stored to (the verifier ensures it)."""
    base = slot_addr[slot]
    if dtype == F32:
        for j in range(n):
            _poke_f32(base + 4 * elements[j], np.float32(values_f[j]))
    elif dtype == F64:
        for j in range(n):
            _poke_f64(base + 8 * elements[j], values_f[j])
    elif dtype == I32:
        for j in range(n):
            _poke_i32(base + 4 * elements[j], np.int32(values_i[j]))
    elif dtype == F16:
        for j in range(n):
            _poke_u16(base + 2 * elements[j], np.uint16(f16_bits(values_f[j])))
    elif dtype == BF16:
        for j in range(n):
            _poke_u16(base + 2 * elements[j], np.uint16(bf16_bits(values_f[j])))
    else:
        for j in range(n):
            _poke_i64(base + 8 * elements[j], values_i[j])

# ---------------------------------------------------------------------------
# Python side: encode the program once, run, and translate faults.

class _Encoded:
    """The decoded program as flat arrays for the compiled loops."""

    def __init__(self, program: KernelProgram, machine: MachineConfig):
        for i, dtype in enumerate(program.slot_dtypes):
            if dtypes.from_numpy(dtype) not in SUPPORTED:
                raise EmulationError(f"kernel '{program.name}': fast mode handles float16/32/64, bfloat16, int32 "
                                     f"and int64 tensors; slot '{program.slot_names[i]}' is {dtype.name} "
                                     "(use mode golden)")
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
        self.st_float = np.array([dtypes.BY_NAME[d.name].is_float for d in stream_dtypes], np.bool_)  # bf16 too
        self.st_dtype = np.array([dtypes.from_numpy(d) for d in stream_dtypes], np.int64)
        self.st_width = np.array([program.tus[s.tu].width for s in order], np.int64)
        self.st_contiguous = np.array([_is_row_slice(program, s) for s in order], np.bool_)
        self.st_direct = np.full(n_st, -1, np.int64)
        self.tu_row_copy = np.full(n_tu, -1, np.int64)
        self.st_prefetch = np.full(n_st, -1, np.int64)
        for source, target in _row_ids(program):
            self.st_prefetch[new[source]] = new[target]
        readers, pushed = _readers(program), _pushed(program)
        for buffer, source in _direct_buffers(program, self.st_contiguous, new, readers, pushed):
            self.st_direct[new[source]], self.st_direct[new[buffer]] = new[buffer], -2
            tu = program.tus[program.streams[source].tu]
            if _is_row_copy(tu, source, buffer, readers, pushed):
                self.tu_row_copy[tu.id] = new[source]
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
        self.exe_fused = np.array([_fused(code, pc) for pc in range(len(code))], np.int64)
        tables = program.jump_tables
        self.jt_data = np.concatenate(tables).astype(np.int64) if tables else np.zeros(0, np.int64)
        self.jt_start = np.cumsum([0] + [len(t) for t in tables]).astype(np.int64)
        self.stream_ids_array = np.array(self.stream_ids, np.int64)
        self.stream_ids_identity = self.stream_ids == list(range(len(self.stream_ids)))
        # the program as _access and _core take it: their first arguments
        self.access_program = _flat(AccessProgram(
            self.tu_kind, self.tu_width, self.tu_lb, self.tu_ub, self.tu_first_child, self.tu_next_sibling,
            self.tu_streams, self.st_op, self.st_tu, self.st_slot, self.st_index, self.st_col, self.st_alu,
            self.st_a, self.st_b, self.st_float, self.st_dtype, self.st_width, self.st_contiguous, self.st_direct,
            self.st_prefetch, self.tu_row_copy, self.rule_start, self.rule_stream, self.rule_cb,
            program.int_constants))
        self.core_program = _flat(CoreProgram(self.exe_op, self.exe_args, self.exe_cost, self.exe_group,
                                              self.exe_fused, self.jt_data, self.jt_start, program.int_constants,
                                              program.float_constants))
        output_slots = {i for i, slot in enumerate(program.kernel.slots or []) if slot.access == 1}
        # A kernel whose core never loads from an output: a re-run stores the same values to
        # the same elements whatever they held, so it needs no copy of the starting outputs.
        self.core_reads_outputs = any(ins.spec.code in (OP_LD, OP_FLD, OP_VLD, OP_VGATHER)
                                      and ins.args[1] in output_slots for ins in code)
        # Sizes for a new workspace: what the last run of this program needed (a rerun costs
        # a whole pass; zeroed memory for a generous guess costs more than it saves).
        self.queue_capacity = (1 << 16, 1 << 18, 1 << 16, 64)  # entries, pool, log lines, longest buffer
        self.log_capacity = 1 << 16                              # core accesses
        # Workspaces of finished runs, reused: fresh arrays cost page faults and zeroing on every run.
        self.spare_workspaces: list[_Workspace] = []
        self.lock = threading.Lock()

    def take_workspace(self) -> "_Workspace":
        with self.lock:
            if self.spare_workspaces:
                return self.spare_workspaces.pop()
        return _Workspace(self)

    def give_back(self, workspace: "_Workspace") -> None:
        with self.lock:
            if len(self.spare_workspaces) < SPARE_WORKSPACES:
                self.spare_workspaces.append(workspace)


SPARE_WORKSPACES = 4  # per program: one per host thread running it is enough


def _fused(code, pc: int) -> int:
    """Which instruction _core runs together with the one at pc, in the same trip round its
    loop: the br.tab after a cb.pop (FUSED_BRTAB), or the vadd after an f32 bld that adds the
    vector loaded to an accumulator in place (bld vT ...; vadd vD, vD, vT: FUSED_VADD)."""
    if pc + 1 >= len(code):
        return FUSED_NONE
    first, then = code[pc].spec.code, code[pc + 1].spec.code
    if first == OP_CBPOP and then == OP_BRTAB:
        return FUSED_BRTAB
    load, add = code[pc].args, code[pc + 1].args
    if first == OP_BLD and then == OP_VADD and load[4] == F32 and add[3] == F32 and add[1] == add[0] \
            and add[2] == load[0]:
        return FUSED_VADD
    return FUSED_NONE


def _is_row_slice(program: KernelProgram, stream) -> bool:
    """A load of slot[index, start:start + lanes]: col is its own TU's induction
    stream and index is the same for every lane (it comes from an outer TU or
    is a constant), so the lanes are contiguous."""
    if stream.op != "mem" or stream.col is None or stream.col.kind is not SrcKind.STREAM:
        return False
    col = program.streams[stream.col.value]
    if col.op != "ite" or col.tu != stream.tu:
        return False
    index = stream.index
    return index.kind is not SrcKind.STREAM or program.tus[program.streams[index.value].tu].width == 1


def _row_ids(program: KernelProgram):
    """(ids, rows) stream pairs where `ids` loads one id per iteration of its TU at
    consecutive elements (a scalar load indexed by its TU's induction) and `rows` is
    a row-slice load indexed by that id: the ids of later iterations are known
    ahead, so the access unit prefetches their rows (a host-side hint only)."""
    for stream in program.streams.values():
        if not _is_row_slice(program, stream) or stream.index.kind is not SrcKind.STREAM:
            continue
        ids = program.streams[stream.index.value]
        if ids.op != "mem" or ids.col is not None or ids.index is None or ids.index.kind is not SrcKind.STREAM:
            continue
        induction = program.streams[ids.index.value]
        if induction.op == "ite" and induction.tu == ids.tu and program.tus[ids.tu].width == 1:
            yield ids.id, stream.id


def _readers(program: KernelProgram) -> dict[int, list[int]]:
    """For each stream, the streams that read it as an operand."""
    readers: dict[int, list[int]] = {}
    for stream in program.streams.values():
        for src in (stream.index, stream.col, stream.a, stream.b):
            if src is not None and src.kind is SrcKind.STREAM:
                readers.setdefault(src.value, []).append(stream.id)
    return readers


def _pushed(program: KernelProgram) -> set[int]:
    """The streams some marshal rule pushes into the queue."""
    return {rule.stream for tu in program.tus.values() for event in tu.rules for rule in tu.rules[event]
            if rule.stream is not None}


def _direct_buffers(program: KernelProgram, contiguous: np.ndarray, new: dict[int, int], readers, pushed):
    """(buffer, source) stream pairs whose data can be loaded straight into the queue's
    payload pool: the source is a row-slice load read by nothing but the buffer, the TU
    has no children and pushes no vector or buffer at its ite event (nothing else writes
    the pool while the fiber runs), and it has one buffer only."""
    for tu in program.tus.values():
        buffers = [s for s in tu.streams if s.op == "buf"]
        ite_vectors = [r for r in tu.rules[Event.ITE] if r.stream is not None and (
            program.tus[program.streams[r.stream].tu].width > 1 or program.streams[r.stream].op == "buf")]
        if tu.children or len(buffers) != 1 or ite_vectors:
            continue
        buffer = buffers[0]
        source = program.streams[buffer.a.value]
        if (source.tu == tu.id and contiguous[new[source.id]] and len(readers.get(source.id, [])) == 1
                and source.id not in pushed):
            yield buffer.id, source.id


def _is_row_copy(tu, source: int, buffer: int, readers, pushed) -> bool:
    """A TU whose fiber only copies a row slice into its buffer: streams ite, the
    row-slice load, the buffer, in that order; its induction read by the load alone;
    no ite rules and no children. The fast mode then runs the fiber in one step."""
    if tu.rules[Event.ITE] or tu.children or [s.op for s in tu.streams] != ["ite", "mem", "buf"]:
        return False
    ite = tu.streams[0].id
    return readers.get(ite, []) == [source] and ite not in pushed and tu.streams[2].id == buffer


_ITEMSIZE = np.zeros(max(dtypes.BY_CODE) + 1, np.int64)
for _code, _element in dtypes.BY_CODE.items():
    _ITEMSIZE[_code] = _element.itemsize

_DTYPE_CODES: dict[np.dtype, int] = {}


def _dtype_code(dtype: np.dtype) -> int:
    """dtypes.from_numpy, remembered (it goes through the dtype's name)."""
    code = _DTYPE_CODES.get(dtype)
    if code is None:
        code = _DTYPE_CODES[dtype] = dtypes.from_numpy(dtype)
    return code


def _shift(line_bytes: int) -> int:
    return line_bytes.bit_length() - 1  # MachineConfig.validate ensures a power of two


def _encoded(program: KernelProgram, machine: MachineConfig) -> _Encoded:
    cache = program.__dict__.setdefault("_fast_encoded", {})
    key = (machine.costs, machine.callback_dispatch_cycles)
    if key not in cache:
        cache[key] = _Encoded(program, machine)
    return cache[key]


@njit(**_JIT)
def _record(kind, ent_dtype, ent_len, n, itemsizes, cycles, entry_bytes, core_token, core_cycles):
    """The CoreActivity's per-entry queue bytes (sized as access_unit.py sizes entries)
    and the tokens the core spent cycles on, with those cycles; returns (callbacks,
    tokens with cycles)."""
    callbacks = 0
    for e in range(n):
        k = kind[e]
        if k == K_TOKEN:
            entry_bytes[e] = TOKEN_BYTES
            callbacks += 1
        elif k == K_INT:
            entry_bytes[e] = 8
        elif k == K_FLOAT:
            entry_bytes[e] = itemsizes[ent_dtype[e]]
        elif k == K_VECTOR:
            entry_bytes[e] = ent_len[e] * itemsizes[ent_dtype[e]] + MASK_BYTES
        else:
            entry_bytes[e] = ent_len[e] * itemsizes[ent_dtype[e]] + 8
    used = 0
    for i in range(len(cycles)):
        if cycles[i] != 0.0:
            core_token[used], core_cycles[used] = i - 1, cycles[i]
            used += 1
    return callbacks, used


class FastKernel:
    """One kernel bound to its tensors for fast-mode runs: what all its core runs share
    (the slots' addresses, shapes and element types) is worked out once, and each run
    borrows a workspace of the program instead of allocating its scratch arrays."""

    def __init__(self, program: KernelProgram, machine: MachineConfig, arrays, slot_labels,
                 addresses: AddressMap, max_instructions: int = 1 << 31):
        self.program, self.machine, self.enc = program, machine, _encoded(program, machine)
        self.slot_labels, self.addresses, self.max_instructions = slot_labels, addresses, max_instructions
        self.line_shift = _shift(addresses.line_bytes)
        # views (kept alive here): the compiled code reads and writes these through addresses
        self.flat = [a.reshape(-1) for a in arrays]
        self.slot_addr = np.array([a.ctypes.data for a in self.flat], np.int64)
        self.slot_dtype = np.array([_dtype_code(a.dtype) for a in arrays], np.int64)
        self.slot_rows = np.array([a.shape[0] if a.ndim else 1 for a in arrays], np.int64)
        self.slot_size = np.array([a.size for a in arrays], np.int64)
        self.slot_rowlen = np.array([a.size // r if r else 0 for a, r in zip(arrays, self.slot_rows)], np.int64)
        self.outputs = [a for a, slot in zip(arrays, program.kernel.slots or []) if slot.access == 1]
        # as _access and _core take them
        self.slots = _flat(Slots(self.slot_addr, self.slot_dtype, self.slot_rows, self.slot_rowlen, self.slot_size,
                                 addresses.base, addresses.itemsize, self.line_shift))
        self.core_config = _flat(CoreConfig(machine.vector_bytes, float(machine.callback_dispatch_cycles),
                                            max_instructions))

    def run_core(self, params, roots, core_id: int) -> CoreActivity:
        """run_golden_core's twin: the same CoreActivity (arrays of its own)."""
        workspace = self.enc.take_workspace()
        try:
            return self._run(workspace, params, roots, core_id).owned()
        finally:
            self.enc.give_back(workspace)

    def time_core(self, params, roots, core_id: int, active_cores: int) -> CoreTiming:
        """timing.time_core of run_core's activity, timed while it still lies in the
        workspace (nothing copied out)."""
        workspace = self.enc.take_workspace()
        try:
            return time_core(self._run(workspace, params, roots, core_id), self.machine, active_cores)
        finally:
            self.enc.give_back(workspace)

    def _run(self, workspace: "_Workspace", params, roots, core_id: int) -> CoreActivity:
        """Runs one core; the activity's arrays are views of the workspace."""
        params = np.array(params, np.int64)
        if self.machine.has_access_unit and roots:
            queue = self._fill_queue(workspace, params, roots)
        else:
            queue = _EMPTY_QUEUE
        n_acc = self._run_core(workspace, params, queue, core_id)
        return self._activity(workspace, queue, n_acc, core_id)

    def _fill_queue(self, workspace: "_Workspace", params, roots) -> "_Queue":
        """The access unit's run over `roots`, into the workspace's queue (grown, and the
        run repeated, when it was short)."""
        enc, err = self.enc, workspace.err
        if workspace.queue is None:
            workspace.queue = _Queue(enc.queue_capacity, len(enc.st_op))
        roots = np.array(roots, np.int64)
        while True:
            queue = workspace.queue
            n, n_pool, n_log, max_buf, trailing = _access(enc.access_program, self.slots, roots, params,
                                                          self.max_instructions, err, queue.arrays,
                                                          workspace.access_scratch)
            if err[0]:
                raise _access_fault(self.program, enc, self.slot_labels, err, self.max_instructions)
            needed = (n, n_pool, n_log, max_buf)
            entries, pool, log, buffer = queue.capacity
            if n <= entries and n_pool <= pool and n_log <= log and max_buf <= buffer:
                queue.n, queue.n_log, queue.trailing = n, n_log, trailing
                enc.queue_capacity = needed
                return queue
            workspace.queue = _Queue(tuple(max(need, have) for need, have in zip(needed, queue.capacity)),
                                     len(enc.st_op))

    def _run_core(self, workspace: "_Workspace", params, queue: "_Queue", core_id: int) -> int:
        """The core's run to its halt (repeated with a longer access log when it was
        short); returns the length of its access log."""
        enc, program, err = self.enc, self.program, workspace.err
        n = queue.n
        cycles = workspace.cycles_for(n + 1)
        # A re-run starts from the tensors as they were when this core started, if the core
        # loads from its outputs (if not, it stores the same values again whatever they hold).
        # The kernel's cores run one after another on zeroed outputs (interpreter), so only the
        # later cores, which may see what earlier ones wrote, need a copy; the first re-runs
        # from zeros.
        initial = None
        if enc.core_reads_outputs:
            initial = [o.copy() for o in self.outputs] if core_id else [0] * len(self.outputs)
        while True:
            n_acc = _core(enc.core_program, self.slots, self.core_config, params, queue.arrays, n, err, cycles,
                          workspace.core_log, workspace.core_scratch)
            if err[0]:
                raise _core_fault(program, core_id, err, self.max_instructions, self.slot_labels)
            if n_acc <= len(workspace.acc_line):
                enc.log_capacity = max(n_acc, 1)
                return n_acc
            # the log was short: run again from the starting tensors with room for all of it
            workspace.grow_log(n_acc)
            for output, start in zip(self.outputs, initial or []):
                output[...] = start

    def _activity(self, workspace: "_Workspace", queue: "_Queue", n_acc: int, core_id: int) -> CoreActivity:
        """The run's CoreActivity, as views of the workspace where it can be."""
        n, n_log, enc = queue.n, queue.n_log, self.enc
        entry_bytes = np.empty(n, np.int64)
        core_token, core_cycles = np.empty(n + 1, np.int64), np.empty(n + 1, np.float64)
        callbacks, used = _record(queue.kind, queue.ent_dtype, queue.ent_len, n, _ITEMSIZE, workspace.cycles[:n + 1],
                                  entry_bytes, core_token, core_cycles)
        return CoreActivity(
            core_id=core_id,
            entry_bytes=entry_bytes,
            entry_iterations=queue.ent_iter[:n],
            trailing_iterations=int(queue.trailing),
            au_entry=queue.log_entry[:n_log],
            au_stream=queue.log_stream[:n_log] if enc.stream_ids_identity
            else enc.stream_ids_array[queue.log_stream[:n_log]],
            au_line=queue.log_line[:n_log],
            core_token=core_token[:used],
            core_cycles=core_cycles[:used],
            access_token=workspace.acc_token[:n_acc],
            access_line=workspace.acc_line[:n_acc],
            access_store=workspace.acc_store[:n_acc],
            counts={g: int(c) for g, c in zip(GROUPS, workspace.counts) if c},
            callbacks=int(callbacks),
        )


def run_fast_core(program: KernelProgram, machine: MachineConfig, arrays, params, roots, slot_labels,
                  addresses: AddressMap, core_id: int, max_instructions: int = 1 << 31) -> CoreActivity:
    """run_golden_core's twin: same arguments, same CoreActivity."""
    return FastKernel(program, machine, arrays, slot_labels, addresses, max_instructions).run_core(
        params, roots, core_id)


class _Queue:
    """The access unit's output: queue entries, their payload pool, the line log."""

    def __init__(self, capacity: tuple[int, int, int, int], n_streams: int):
        self.capacity = capacity
        entries, pool, log, buffer = capacity
        self.kind = np.zeros(entries, np.int8)
        self.ent_a, self.ent_len, self.ent_mask, self.ent_dtype, self.ent_iter = (
            np.zeros(entries, np.int64) for _ in range(5))
        self.ent_f = np.zeros(entries, np.float64)
        self.pool_f, self.pool_i = np.zeros(pool, np.float64), np.zeros(pool, np.int64)
        self.pool_s = np.zeros(pool, np.float32)  # the buffers of float32 (the others: pool_f, pool_i)
        self.log_entry, self.log_stream, self.log_line = (np.zeros(log, np.int64) for _ in range(3))
        self.buf_f = np.zeros((max(n_streams, 1), buffer), np.float64)
        self.buf_i = np.zeros((max(n_streams, 1), buffer), np.int64)
        self.n = self.n_log = self.trailing = 0
        self.arrays = _flat(QueueArrays(  # as _access and _core take them
            self.kind, self.ent_a, self.ent_f, self.ent_len, self.ent_mask, self.ent_dtype, self.ent_iter,
            self.pool_f, self.pool_i, self.pool_s, self.log_entry, self.log_stream, self.log_line, self.buf_f,
            self.buf_i))


_EMPTY_QUEUE = _Queue((0, 0, 0, 0), 0)  # a core without access-unit runs reads no entry of it


class _Workspace:
    """What one core run writes besides the tensors: the access unit's queue and scratch
    rows, the core's registers, counts, per-token cycles and access log. The compiled
    functions clear what they read before they read it (err, cycles and counts too), so a
    workspace passes from run to run as it is."""

    def __init__(self, enc: _Encoded):
        streams = max(len(enc.st_op), 1)
        width = max(MAX_LANES, streams, len(enc.tu_kind) + 1)  # access scratch rows: per stream, per TU, per lane
        self.queue: _Queue | None = None  # made by the first access-unit run
        self.access_i, self.access_f = np.zeros((10, width), np.int64), np.zeros((1, width), np.float64)
        self.stream_i, self.stream_f = np.zeros((streams, MAX_LANES), np.int64), np.zeros((streams, MAX_LANES))
        self.err = np.zeros(8, np.int64)
        self.regs_i, self.regs_f = np.zeros((12, MAX_LANES), np.int64), np.zeros((4, MAX_LANES), np.float64)
        self.vector_f, self.vector_i = np.zeros((36, MAX_LANES), np.float64), np.zeros((36, MAX_LANES), np.int64)
        self.runs = np.zeros(len(enc.exe_op), np.int64)
        self.counts = np.zeros(8, np.int64)
        self.cycles = np.zeros(0, np.float64)
        # as _access and _core take them
        self.access_scratch = _flat(AccessScratch(self.access_i, self.access_f, self.stream_i, self.stream_f))
        self.core_scratch = _flat(CoreScratch(self.regs_i, self.regs_f, self.vector_f, self.vector_i, self.runs))
        self.grow_log(enc.log_capacity)

    def cycles_for(self, n: int) -> np.ndarray:
        if len(self.cycles) < n:
            self.cycles = np.zeros(n, np.float64)
        return self.cycles[:n]

    def grow_log(self, capacity: int) -> None:
        self.acc_token, self.acc_line = np.zeros(capacity, np.int64), np.zeros(capacity, np.int64)
        self.acc_store = np.zeros(capacity, np.bool_)
        self.core_log = _flat(CoreLog(self.counts, self.acc_token, self.acc_line, self.acc_store))  # as _core takes it


def _access_fault(program: KernelProgram, enc: _Encoded, labels, err, max_steps: int) -> EmulationError:
    if err[0] == E_STEPS:
        return Fault(runaway_access(program.name, max_steps))
    stream = program.streams[enc.stream_ids[err[1]]]
    if err[0] == E_RANGE:
        return out_of_range_fault(program, labels, stream, int(err[2]), int(err[3]))
    name = ("add", "sub", "mul", "div", "rem")[int(err[2])]
    return Fault(f"kernel '{program.name}': access-unit {name} by zero")


def _core_fault(program: KernelProgram, core_id: int, err, max_instructions: int, labels) -> EmulationError:
    code, pc, a, b, c = (int(v) for v in err[:5])
    problem = {
        E_JUMP: lambda: f"callback id {a} has no entry in jump table jt{b}",
        E_EMPTY: lambda: f"pops an operand ({KIND_NAMES[a]}) but the data queue is empty and the access unit is done",
        E_KIND: lambda: f"expects a {KIND_NAMES[a]} operand but the queue holds a {KIND_NAMES[b]}",
        E_DIV: lambda: "integer division by zero",
        E_BOUNDS: lambda: bounds_problem(program, labels, a, b, c),
        E_BLD: lambda: f"bld reads element {a} of a {b}-element buffer",
        E_VDIV: lambda: "integer vector division by zero",
        E_OFF_END: lambda: "ran off the end of the program",
        E_STEPS: lambda: runaway_core(max_instructions),
        E_UNDRAINED: lambda: f"halted with {a} queue entries the access unit still had to deliver",
        E_OPCODE: lambda: f"opcode {_opcode_name(a)} has no fast-mode implementation (use mode golden)",
    }[code]()
    return EmulationError(f"kernel '{program.name}' core {core_id} pc {pc}: {problem}")


def _opcode_name(code: int) -> str:
    spec = BY_CODE.get(code)
    return f"0x{code:02x}" if spec is None else f"{spec.mnemonic} (0x{code:02x})"
