"""Instruction selection for core code (the prologue and every callback case):
one handler per IR operation that runs on the core (`HANDLERS`), choosing the
DAE instructions: immediate forms, `vfma` for `acc + x * y` stored back to
`acc`, div_no_nan's compare-free identity, row-major addressing (row bases
computed once per region), gather indices, masks (constant ones hoisted), queue
pops and counted loops. Registers come from the allocator (`registers.py`),
lines and pools from the kernel text (`emit.py`)."""

from __future__ import annotations

from ember_tf.codegen.emit import COPY, KernelText
from ember_tf.codegen.registers import Allocator, blocks_and_use_counts
from ember_tf.codegen.target import Target
from ember_tf.errors import CompileError
from ember_tf.ir.core import (
    ITEMSIZE, BufferType, FloatType, Func, IndexType, Operation, StreamType, Value, VectorType, constant_value,
    walk_op,
)

INT_OPS = {"addi": "add", "subi": "sub", "muli": "mul", "divi": "div", "remi": "rem", "mini": "min", "maxi": "max"}
FLOAT_OPS = {"addf": "add", "subf": "sub", "mulf": "mul", "divf": "div", "maxf": "max", "minf": "min"}
# div_no_nan without a float compare: z = min(|y| * s * s, 1) is 1 for any y != 0 (s*s times the
# smallest subnormal is >= 1) and 0 for y == 0; y + (1 - z) over z is y, or +inf when y == 0.
_NO_NAN_SCALE = {"f32": 2.0 ** 75, "bf16": 2.0 ** 75, "f16": 2.0 ** 12, "f64": 2.0 ** 540}
INVARIANTS = ("arith.constant", "tensor.dim")   # materialized once, in registers for the whole run
_GLOBAL_MASKS = 4                                # constant masks kept in registers for the whole run


class CoreSelector:
    """Emits the core code of regions of one function, in order."""

    def __init__(self, func: Func, target: Target, text: KernelText, alloc: Allocator):
        self.func, self.target, self.text, self.alloc = func, target, text, alloc
        self.emit, self.place, self.label = text.emit, text.place, text.label
        self.define = alloc.define
        self.global_masks: dict[int, str] = {}   # lanes -> mask register
        self.fusable_mul: dict[int, int] = {}    # id(mulf) -> uid of the addf it folds into
        self.fma: dict[int, tuple[Value, Value]] = {}
        self.divisor_only: set[int] = set()
        self.region_cache: dict[tuple, str] = {}  # row bases and safe divisors of the current region

    # ---- regions --------------------------------------------------------------
    def region(self, ops: list[Operation], pinned: set[int] = frozenset()) -> None:
        """Emit straight-line and loop code; registers of values not in `pinned`
        are reused after their last use."""
        self.alloc.begin_region(ops, pinned)
        self.fusable_mul = _fusable_multiplies(ops, self.alloc.coalesce)
        self.fma = {}
        self.divisor_only = _divisor_only_broadcasts(ops)
        self.region_cache = {}
        self._ops(ops)
        self.alloc.end_region()
        for register in self.region_cache.values():
            self.alloc.give(register)
        self.region_cache = {}

    def _ops(self, ops: list[Operation]) -> None:
        for op in ops:
            handler = HANDLERS.get(op.name)
            if handler is None:
                raise CompileError(f"{self.func.name}: no lowering for {op.name} on the core")
            handler(self, op)
            self.alloc.after(op)

    def hoist_invariants(self, prologue: list[Operation], cases: list[Operation]) -> None:
        """Constants, dims and constant masks the core uses live in registers for the whole run."""
        core_ops = [op for region in [prologue] + [c.body.ops for c in cases] for o in region for op in walk_op(o)]
        used = {v.uid: v for op in core_ops for v in op.operands}
        for op in prologue:
            if op.name in INVARIANTS and op.result.uid in used:
                self._materialize(op, self.alloc.invariant(op.result))
        for op in core_ops:
            lanes = _constant_lanes(op)
            if lanes is not None and lanes not in self.global_masks and len(self.global_masks) < _GLOBAL_MASKS:
                register = self.alloc.take("m", "a mask")
                count = self.alloc.take("x", "a mask")
                self.emit(f"li {count}, {lanes}")
                self.emit(f"mset {register}, {count}")
                self.alloc.give(count)
                self.global_masks[lanes] = register

    def use(self, value: Value) -> str:
        """The register holding `value` (a top-level invariant gets one on first use)."""
        register = self.alloc.lookup(value)
        if register is not None:
            return register
        op = value.owner
        if op is not None and op.name in INVARIANTS and op.parent is self.func.body:
            # invariants used only by the access unit so far: materialize once, pinned
            register = self.alloc.invariant(value)
            self._materialize(op, register)
            return register
        raise CompileError(f"{self.func.name}: {value.hint or 'a value'} has no register here")

    def _materialize(self, op: Operation, register: str) -> None:
        text = self.text
        if op.name == "tensor.dim":
            slot = text.slot_of[op.operands[0].uid]
            self.emit(f"param {register}, p{text.param(slot, op.attrs['axis'])}")
        elif isinstance(op.result.type, FloatType):
            self.emit(f"lf.{op.result.type.dtype} {register}, kf{text.fconst(float(op.attrs['value']))}")
        else:
            value = int(op.attrs["value"])
            self.emit(f"li {register}, {value}" if -2**31 <= value < 2**31 else f"lc {register}, k{text.const(value)}")

    # ---- invariants and variables -------------------------------------------------
    def _constant(self, op: Operation) -> None:
        self._materialize(op, self.define(op.result))

    def _copy_index(self, op: Operation) -> None:
        self.text.copies = int(op.attrs["copies"])
        self.emit(f"param {self.define(op.result)}, p{self.text.param(-1, COPY)}")

    def _var_decl(self, op: Operation) -> None:
        name, type, init = op.attrs["name"], op.attrs["type"], op.attrs["init"]
        register = self.alloc.variable(name, type)
        if isinstance(type, VectorType):
            self.emit(f"vzero.{_suffix(type)} {register}")
        elif isinstance(type, FloatType):
            self.emit(f"lf.{type.dtype} {register}, kf{self.text.fconst(float(init))}")
        else:
            self.emit(f"li {register}, {int(init)}")

    def _var_get(self, op: Operation) -> None:
        self.alloc.alias(op.result, self.alloc.var_home[op.attrs["var"]], live=True)

    def _var_set(self, op: Operation) -> None:
        register, value = self.alloc.var_home[op.attrs["var"]], self.use(op.operands[0])
        if self.alloc.read_after(register, op):
            raise CompileError(f"{self.func.name}: variable {op.attrs['var']} is read after it is set")
        if value != register:
            file = register[0]
            self.emit(f"{'mov' if file == 'x' else 'fmov' if file == 'f' else 'vmov'} {register}, {value}")

    # ---- integer and float arithmetic ---------------------------------------------
    def _binary(self, op: Operation) -> None:
        kind = op.name.split(".", 1)[1]
        if kind in INT_OPS:
            return self._int_binary(op, kind)
        if kind == "div_no_nan":
            return self._div_no_nan(op)
        a, b = op.operands
        t = op.result.type
        if op.result.uid in self.fma:           # acc + x * y with acc the variable it goes back to
            x, y = self.fma.pop(op.result.uid)
            rd = self.define(op.result)
            self.emit(f"vfma.{_suffix(t)} {rd}, {self.use(x)}, {self.use(y)}")
            return
        if kind == "mulf" and isinstance(t, VectorType) and id(op) in self.fusable_mul:
            self.fma[self.fusable_mul[id(op)]] = (a, b)
            return
        rd = self.define(op.result)
        prefix = "v" if isinstance(t, VectorType) else "f"
        self.emit(f"{prefix}{FLOAT_OPS[kind]}.{_suffix(t)} {rd}, {self.use(a)}, {self.use(b)}")

    def _int_binary(self, op: Operation, kind: str) -> None:
        a, b = op.operands
        imm = _constant(b)
        rd = self.define(op.result)
        if kind in ("addi", "muli") and imm is not None and -2**31 <= imm < 2**31:
            self.emit(f"{kind} {rd}, {self.use(a)}, {imm}")
        else:
            self.emit(f"{INT_OPS[kind]} {rd}, {self.use(a)}, {self.use(b)}")

    def _div_no_nan(self, op: Operation) -> None:
        x, y = op.operands
        t = op.result.type
        scalar = y
        if isinstance(y.type, VectorType):
            if y.owner is None or y.owner.name != "vector.broadcast":
                raise CompileError(f"{self.func.name}: div_no_nan by a non-uniform vector is not supported")
            scalar = y.owner.operands[0]
        s = self._safe_divisor(scalar, _suffix(t))
        dt = _suffix(t)
        rd = self.define(op.result)
        if isinstance(t, VectorType):
            key = ("div_no_nan splat", scalar.uid)
            if key not in self.region_cache:         # one splat per divisor and region
                self.region_cache[key] = self.alloc.take("v", "div_no_nan")
                self.emit(f"vsplat.{dt} {self.region_cache[key]}, {s}")
            self.emit(f"vdiv.{dt} {rd}, {self.use(x)}, {self.region_cache[key]}")
        else:
            self.emit(f"fdiv.{dt} {rd}, {self.use(x)}, {s}")

    def _safe_divisor(self, y: Value, dt: str) -> str:
        """y, or +inf when y == 0 (so x / it is div_no_nan), computed once per region."""
        key = ("div_no_nan", y.uid)
        if key in self.region_cache:
            return self.region_cache[key]
        ry = self.use(y)
        z, s, one = (self.alloc.take("f", "div_no_nan") for _ in range(3))
        fconst = self.text.fconst
        self.emit(f"lf.{dt} {s}, kf{fconst(0.0)}")
        self.emit(f"fsub.{dt} {z}, {s}, {ry}")
        self.emit(f"fmax.{dt} {z}, {z}, {ry}")                       # |y|
        self.emit(f"lf.{dt} {s}, kf{fconst(_NO_NAN_SCALE[dt])}")
        self.emit(f"fmul.{dt} {z}, {z}, {s}")
        self.emit(f"fmul.{dt} {z}, {z}, {s}")
        self.emit(f"lf.{dt} {one}, kf{fconst(1.0)}")
        self.emit(f"fmin.{dt} {z}, {z}, {one}")                      # 1 if y != 0 else 0
        self.emit(f"fsub.{dt} {one}, {one}, {z}")
        self.emit(f"fadd.{dt} {one}, {ry}, {one}")
        self.emit(f"fdiv.{dt} {s}, {one}, {z}")                      # y, or +inf when y == 0
        self.alloc.give(z)
        self.alloc.give(one)
        self.region_cache[key] = s
        return s

    def _sqrtf(self, op: Operation) -> None:
        rd = self.define(op.result)
        self.emit(f"fsqrt.{_suffix(op.result.type)} {rd}, {self.use(op.operands[0])}")

    def _itofp(self, op: Operation) -> None:
        rd = self.define(op.result)
        self.emit(f"fcvt.{op.result.type.dtype} {rd}, {self.use(op.operands[0])}")

    # ---- addressing ---------------------------------------------------------------
    def address(self, tensor: Value, indices: list[Value]) -> tuple[str, bool]:
        """The element index of tensor[indices] (row major) in a register, and
        whether that register is a temporary to give back."""
        if len(indices) == 1:
            return self.use(indices[0]), False
        base = self._row_base(tensor, indices[:-1])
        last = _constant(indices[-1])
        if last == 0:
            return base, False
        register = self.alloc.take("x", "an address")
        if last is not None and -2**31 <= last < 2**31:
            self.emit(f"addi {register}, {base}, {last}")
        else:
            self.emit(f"add {register}, {base}, {self.use(indices[-1])}")
        return register, True

    def _row_base(self, tensor: Value, leading: list[Value]) -> str:
        """Element index of tensor[leading..., 0], computed once per region."""
        key = (tensor.uid, tuple(v.uid for v in leading))
        if key in self.region_cache:
            return self.region_cache[key]
        shape, slot = tensor.type.shape, self.text.slot_of[tensor.uid]
        register = self.alloc.take("x", "an address")
        self.emit(f"mov {register}, {self.use(leading[0])}")
        for axis in range(1, len(leading) + 1):
            size = shape[axis]
            if size is not None:
                self.emit(f"muli {register}, {register}, {size}")
            else:
                scratch = self.alloc.take("x", "an address")
                self.emit(f"param {scratch}, p{self._dim_param(tensor, slot, axis)}")
                self.emit(f"mul {register}, {register}, {scratch}")
                self.alloc.give(scratch)
            if axis < len(leading):
                self.emit(f"add {register}, {register}, {self.use(leading[axis])}")
        self.region_cache[key] = register
        return register

    def _dim_param(self, tensor: Value, slot: int, axis: int) -> int:
        """The param holding a run-time dim: an output's dims are those of the inputs
        its shape names (params may only read input shapes)."""
        dim_of = tensor.type.dim_of
        if dim_of and dim_of[axis] is not None:
            return self.text.size_param(dim_of[axis])
        return self.text.param(slot, axis)

    def _gather_index(self, tensor: Value, indices: list[Value]) -> str:
        """A vector of element indices for tensor[indices], the last index a vector."""
        base, temporary = self.address(tensor, indices[:-1] + [_ZERO]) if len(indices) > 1 else ("x0", False)
        register = self.alloc.take("v", "a gather index")
        splat = self.alloc.take("v", "a gather index")
        self.emit(f"viota.i32 {splat}, {base}")
        self.emit(f"viota.i32 {register}, x0")
        self.emit(f"vsub.i32 {splat}, {splat}, {register}")          # the row base in every lane
        self.emit(f"vadd.i32 {register}, {splat}, {self.use(indices[-1])}")
        self.alloc.give(splat)
        if temporary:
            self.alloc.give(base)
        return register

    # ---- memory ---------------------------------------------------------------------
    def _memref_load(self, op: Operation) -> None:
        tensor, *indices = op.operands
        where, temporary = self.address(tensor, indices)
        rd = self.define(op.result)
        dt = tensor.type.dtype
        mnemonic = "fld" if isinstance(op.result.type, FloatType) else "ld"
        self.emit(f"{mnemonic}.{dt} {rd}, {self.text.slot(tensor)}, {where}")
        if temporary:
            self.alloc.give(where)

    def _memref_store(self, op: Operation) -> None:
        value, tensor, *indices = op.operands
        where, temporary = self.address(tensor, indices)
        dt = tensor.type.dtype
        self.emit(f"{'fst' if isinstance(value.type, FloatType) else 'st'}.{dt} {self.use(value)}, "
                  f"{self.text.slot(tensor)}, {where}")
        if temporary:
            self.alloc.give(where)

    def _vector_load(self, op: Operation) -> None:
        tensor, *indices, mask = op.operands
        where, temporary = self.address(tensor, indices)
        rd = self.define(op.results[0])
        self.emit(f"vld.{tensor.type.dtype} {rd}, {self.text.slot(tensor)}, {where}, {self.use(mask)}")
        if temporary:
            self.alloc.give(where)

    def _vector_store(self, op: Operation) -> None:
        value, tensor, *indices, mask = op.operands
        where, temporary = self.address(tensor, indices)
        self.emit(f"vst.{tensor.type.dtype} {self.use(value)}, {self.text.slot(tensor)}, {where}, {self.use(mask)}")
        if temporary:
            self.alloc.give(where)

    def _vector_gather(self, op: Operation) -> None:
        tensor, *indices, mask = op.operands
        index = self._gather_index(tensor, indices)
        rd = self.define(op.result)
        self.emit(f"vgather.{tensor.type.dtype} {rd}, {self.text.slot(tensor)}, {index}, {self.use(mask)}")
        self.alloc.give(index)

    def _vector_scatter(self, op: Operation) -> None:
        value, tensor, *indices, mask = op.operands
        index = self._gather_index(tensor, indices)
        self.emit(f"vscatter.{tensor.type.dtype} {self.use(value)}, {self.text.slot(tensor)}, {index}, "
                  f"{self.use(mask)}")
        self.alloc.give(index)

    def _buffer_load(self, op: Operation) -> None:
        buffer, offset, mask = op.operands
        rd = self.define(op.result)
        self.emit(f"bld.{_suffix(op.result.type)} {rd}, {self.use(buffer)}, {self.use(offset)}, {self.use(mask)}")

    # ---- vectors and masks --------------------------------------------------------
    def _broadcast(self, op: Operation) -> None:
        if op.result.uid in self.divisor_only:
            return                                # div_no_nan reads the scalar itself
        rd = self.define(op.result)
        if _constant_float(op.operands[0]) == 0.0:
            self.emit(f"vzero.{_suffix(op.result.type)} {rd}")
            return
        self.emit(f"vsplat.{_suffix(op.result.type)} {rd}, {self.use(op.operands[0])}")

    def _iota(self, op: Operation) -> None:
        rd = self.define(op.result)
        self.emit(f"viota.i32 {rd}, {self.use(op.operands[0])}")

    def _mask(self, op: Operation) -> None:
        lanes = _constant_lanes(op)
        if lanes is not None and lanes in self.global_masks:
            self.alloc.alias(op.result, self.global_masks[lanes], live=False)
            return
        start, ub = op.operands
        rd = self.define(op.result)
        count = self.alloc.take("x", "a mask")
        self.emit(f"sub {count}, {self.use(ub)}, {self.use(start)}")
        if op.result.type.width < self._widest_lanes():
            # mset sets up to 64 lanes, and an instruction on 2-byte elements runs more lanes
            # than the IR's vectors have (they are at least 4 bytes wide): clamp the count
            width = self.alloc.take("x", "a mask")
            self.emit(f"li {width}, {op.result.type.width}")
            self.emit(f"min {count}, {count}, {width}")
            self.alloc.give(width)
        self.emit(f"mset {rd}, {count}")
        self.alloc.give(count)

    def _widest_lanes(self) -> int:
        """The most lanes any vector instruction of this kernel runs (its narrowest tensor element)."""
        return max(self.target.vector_bytes // ITEMSIZE[a.type.dtype] for a in self.func.args)

    def _reduce_add(self, op: Operation) -> None:
        value, mask = op.operands
        rd = self.define(op.result)
        self.emit(f"vredsum.{_suffix(op.result.type)} {rd}, {self.use(value)}, {self.use(mask)}")

    # ---- queues and loops ---------------------------------------------------------
    def _pop_operand(self, op: Operation) -> None:
        value = op.results[0]
        rd = self.define(value)
        if isinstance(value.type, VectorType):
            md = self.define(op.results[1])
            self.emit(f"q.vpop.{_vector_suffix(value.type)} {rd}, {md}")
        elif isinstance(value.type, BufferType):
            self.emit(f"q.bpop {rd}")
        elif isinstance(value.type, FloatType):
            self.emit(f"q.popf.{value.type.dtype} {rd}")
        else:
            self.emit(f"q.pop {rd}")

    def _scf_for(self, op: Operation) -> None:
        lb, ub, step = op.operands
        rd = self.define(op.body.args[0])
        top, exit_ = self.label("loop"), self.label("exit")
        self.emit(f"mov {rd}, {self.use(lb)}")
        bound = self.use(ub)
        self.emit(f"bge {rd}, {bound}, {exit_}")
        self.place(top)
        saved = dict(self.region_cache)
        self._ops(op.body.ops)
        for key, register in self.region_cache.items():
            if key not in saved:
                self.alloc.give(register)
        self.region_cache = saved
        step_value = _constant(step)
        if step_value is not None:
            self.emit(f"addi {rd}, {rd}, {step_value}")
        else:
            self.emit(f"add {rd}, {rd}, {self.use(step)}")
        self.emit(f"blt {rd}, {bound}, {top}")
        self.place(exit_)


# IR operation -> its handler: every operation that may run on the core
HANDLERS = {
    "arith.constant": CoreSelector._constant,
    "tensor.dim": CoreSelector._constant,
    "kernel.copy_index": CoreSelector._copy_index,
    "var.decl": CoreSelector._var_decl,
    "var.get": CoreSelector._var_get,
    "var.set": CoreSelector._var_set,
    **{f"arith.{name}": CoreSelector._binary for name in list(INT_OPS) + list(FLOAT_OPS) + ["div_no_nan"]},
    "arith.sqrtf": CoreSelector._sqrtf,
    "arith.itofp": CoreSelector._itofp,
    "memref.load": CoreSelector._memref_load,
    "memref.store": CoreSelector._memref_store,
    "vector.load": CoreSelector._vector_load,
    "vector.store": CoreSelector._vector_store,
    "vector.gather": CoreSelector._vector_gather,
    "vector.scatter": CoreSelector._vector_scatter,
    "vector.broadcast": CoreSelector._broadcast,
    "vector.iota": CoreSelector._iota,
    "vector.mask": CoreSelector._mask,
    "vector.reduce_add": CoreSelector._reduce_add,
    "buffer.load": CoreSelector._buffer_load,
    "dlc.pop_operand": CoreSelector._pop_operand,
    "scf.for": CoreSelector._scf_for,
}

_ZERO = Value(IndexType(), "zero", Operation("arith.constant", [], [], {"value": 0}))


# ---- analyses of a region -------------------------------------------------------

def _fusable_multiplies(ops: list[Operation], coalesce: dict[int, str]) -> dict[int, int]:
    """The vector multiplies that fold into a vfma with the add after them:
    acc' = acc + x * y, acc' coalesced into acc's variable, acc read from that
    variable. id(mulf) -> uid of the add's result."""
    blocks, use_count = blocks_and_use_counts(ops)
    fusable = {}
    for block in blocks:
        for i, mul in enumerate(block):
            rest = [o for o in block[i + 1:i + 4] if o.name != "var.get"]   # the accumulator's read may sit between
            if mul.name != "arith.mulf" or len(rest) < 2:
                continue
            add, store = rest[0], rest[1]
            if (add.name, store.name) != ("arith.addf", "var.set") or store.operands[0] is not add.result:
                continue
            if not isinstance(add.result.type, VectorType) or add.result.uid not in coalesce:
                continue
            acc = [v for v in add.operands if v is not mul.result]
            if len(acc) == 1 and acc[0].owner is not None and acc[0].owner.name == "var.get" \
                    and acc[0].owner.attrs["var"] == store.attrs["var"] and use_count.get(mul.result.uid) == 1:
                fusable[id(mul)] = add.result.uid
    return fusable


def _divisor_only_broadcasts(ops: list[Operation]) -> set[int]:
    """Broadcasts used only as div_no_nan's divisor (it splats its safe divisor instead)."""
    all_ops = [o for top in ops for o in walk_op(top)]
    candidates = {o.result.uid for o in all_ops if o.name == "vector.broadcast"}
    for op in all_ops:
        for i, v in enumerate(op.operands):
            if v.uid in candidates and not (op.name == "arith.div_no_nan" and i == 1):
                candidates.discard(v.uid)
    return candidates


# ---- small helpers ----------------------------------------------------------------

def _constant(value: Value) -> int | None:
    c = constant_value(value)
    return c if isinstance(c, int) else None


def _constant_float(value: Value) -> float | None:
    c = constant_value(value)
    return c if isinstance(c, float) else None


def _constant_lanes(op: Operation) -> int | None:
    """The lanes a vector.mask with constant bounds sets (None: not such a mask)."""
    if op.name != "vector.mask" or any(_constant(v) is None for v in op.operands):
        return None
    return max(0, min(op.result.type.width, _constant(op.operands[1]) - _constant(op.operands[0])))


def _suffix(t) -> str:
    while isinstance(t, (VectorType, BufferType, StreamType)):
        t = t.element
    return t.dtype if isinstance(t, FloatType) else "i64"


def _vector_suffix(t: VectorType) -> str:
    return t.element.dtype if isinstance(t.element, FloatType) else "i32"
