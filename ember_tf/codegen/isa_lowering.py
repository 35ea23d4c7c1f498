"""DLC -> DAE ISA: the access configuration becomes tu./str./mar. words with
lane groups mapped onto the target's layers and lanes; the prologue and the
compute cases become core code with registers allocated per case (values live
from definition to last use; loop-invariant values across their loops),
callback dispatch duplicated at the end of every case, constant pools and jump
tables. The result is `.dasm` text, assembled and verified like hand-written
kernels."""

from __future__ import annotations

import dataclasses

from ember_tf.codegen.target import Target
from ember_tf.errors import CompileError
from ember_tf.ir.core import (
    ITEMSIZE, BufferType, FloatType, Func, IndexType, MaskType, Operation, StreamType, TensorType, Value, VectorType,
    constant_value, dtype_name, walk, walk_op,
)

_REGISTER_FILES = {"x": range(2, 32), "f": range(0, 32), "v": range(0, 32), "m": range(0, 8), "b": range(0, 4)}
_INT_OPS = {"addi": "add", "subi": "sub", "muli": "mul", "divi": "div", "remi": "rem", "mini": "min", "maxi": "max"}
_FLOAT_OPS = {"addf": "add", "subf": "sub", "mulf": "mul", "divf": "div", "maxf": "max", "minf": "min"}
# div_no_nan without a float compare: z = min(|y| * s * s, 1) is 1 for any y != 0 (s*s times the
# smallest subnormal is >= 1) and 0 for y == 0; y + (1 - z) over z is y, or +inf when y == 0.
_NO_NAN_SCALE = {"f32": 2.0 ** 75, "bf16": 2.0 ** 75, "f16": 2.0 ** 12, "f64": 2.0 ** 540}


def register_file(t) -> str:
    if isinstance(t, IndexType):
        return "x"
    if isinstance(t, FloatType):
        return "f"
    if isinstance(t, VectorType):
        return "v"
    if isinstance(t, MaskType):
        return "m"
    if isinstance(t, BufferType):
        return "b"
    raise CompileError(f"no register holds a {t}")


def _suffix(t) -> str:
    while isinstance(t, (VectorType, BufferType, StreamType)):
        t = t.element
    return t.dtype if isinstance(t, FloatType) else "i64"


_COPY = "copy"   # the axis of the param key (slot -1) of a kernel.copy_index


@dataclasses.dataclass
class _Live:
    register: str
    last_use: int


class _Registers:
    """Free lists per register file; `pinned` registers (variables, prologue
    values) are never freed."""

    def __init__(self) -> None:
        self.free = {k: list(v) for k, v in _REGISTER_FILES.items()}

    def take(self, file: str, what: str) -> str:
        if not self.free[file]:
            raise CompileError(f"{what}: the kernel does not fit the target: it needs more than "
                               f"{len(_REGISTER_FILES[file])} {file} registers at once")
        return f"{file}{self.free[file].pop(0)}"

    def give(self, register: str) -> None:
        file, number = register[0], int(register[1:])
        self.free[file].append(number)
        self.free[file].sort()


class KernelLowering:
    """Lower one DLC (or core-only) function to a `.kernel ... .end` block."""

    def __init__(self, func: Func, target: Target):
        self.func, self.target = func, target
        inputs = [i for i in range(len(func.args)) if i not in func.outputs]
        self.slot_order = inputs + list(func.outputs)
        self.slot_of = {func.args[i].uid: n for n, i in enumerate(self.slot_order)}
        self.params: list[tuple[int, int, int]] = []
        self.consts: list[int] = []
        self.fconsts: list[float] = []
        self.regs = _Registers()
        self.home: dict[int, str] = {}         # value uid -> register
        self.var_home: dict[str, str] = {}
        self.lines: list[str] = []
        self.labels = 0
        self.global_masks: dict[int, str] = {}
        self.streams: dict[int, str] = {}
        self.tus: dict[int, str] = {}
        self.copies = 1                            # kernel.copy_index {copies}: one copy per core

    # ---- pools and names ---------------------------------------------------
    def slot(self, tensor: Value) -> str:
        return self.func.arg_names[self.func.arg_index(tensor)]

    def param(self, slot: int, axis: int, add: int = 0) -> int:
        key = (slot, axis, add)
        if key not in self.params:
            self.params.append(key)
        return self.params.index(key)

    def const(self, value: int) -> int:
        if value not in self.consts:
            self.consts.append(value)
        return self.consts.index(value)

    def fconst(self, value: float) -> int:
        if value not in self.fconsts:
            self.fconsts.append(value)
        return self.fconsts.index(value)

    def label(self, stem: str) -> str:
        self.labels += 1
        return f"{stem}{self.labels}"

    def emit(self, text: str) -> None:
        self.lines.append(f"        {text}")

    def place(self, label: str) -> None:
        self.lines.append(f"{label}:")

    # ---- SRC operands of access words --------------------------------------
    def src(self, value: Value) -> str:
        """A value as an access-unit operand: a stream, an immediate, a constant or a param."""
        if value.uid in self.streams:
            return self.streams[value.uid]
        folded = self.fold(value)
        if folded is None:
            raise CompileError(f"{value.hint}: not expressible as an access-unit operand "
                               f"(use a constant, a tensor dimension plus a constant, or a stream)")
        kind, number = folded
        if kind == "imm":
            return str(number) if -8192 <= number <= 8191 else f"k{self.const(number)}"
        return f"p{number}"

    def fold(self, value: Value) -> tuple[str, int] | None:
        """('imm', n) for a constant, ('param', p) for a tensor dim plus a constant."""
        op = value.owner
        if op is None:
            return None
        if op.name == "arith.constant":
            return ("imm", int(op.attrs["value"]))
        if op.name == "tensor.dim":
            slot = self.slot_of[op.operands[0].uid]
            return ("param", self.param(slot, op.attrs["axis"]))
        if op.name in ("arith.addi", "arith.subi"):
            a, b = (self.fold(v) for v in op.operands)
            if a and b and a[0] == "param" and b[0] == "imm":
                slot, axis, add = self.params[a[1]]
                delta = b[1] if op.name == "arith.addi" else -b[1]
                return ("param", self.param(slot, axis, add + delta))
            if a and b and a[0] == b[0] == "imm":
                return ("imm", a[1] + b[1] if op.name == "arith.addi" else a[1] - b[1])
        return None

    # ---- the access configuration -----------------------------------------
    def access(self, block) -> list[str]:
        words, groups, depth = [], [], {}
        for op in block.ops:
            if op.name == "dlc.new_tu":
                self._tu(op, words, groups, depth)
            elif op.name in ("slc.mem_stream", "slc.alu_stream", "slc.buf_stream"):
                self._stream(op, words)
            elif op.name == "dlc.register_operand":
                tu, stream = op.operands
                words.append(f"mar.opnd {self.tus[tu.uid]}, event={op.attrs['event']}, stream={self.src(stream)}")
            elif op.name == "dlc.register_callback":
                words.append(f"mar.cb {self.tus[op.operands[0].uid]}, event={op.attrs['event']}, id={op.attrs['id']}")
        return words + groups

    def _new_stream(self, value: Value | None) -> str:
        """The next stream id, for `value` (None: a helper stream of the lowering's own)."""
        name = f"s{len(self.streams)}"
        if len(self.streams) >= 255:
            raise CompileError(f"{self.func.name}: the kernel does not fit the target: more than 255 streams")
        self.streams[value.uid if value is not None else ("helper", len(self.streams))] = name
        return name

    def _tu(self, op: Operation, words: list[str], groups: list[str], depth: dict) -> None:
        tu_value, iv = op.results
        name = f"t{len(self.tus)}"
        if len(self.tus) >= 64:
            raise CompileError(f"{self.func.name}: the kernel does not fit the target: more than 64 traversal units")
        self.tus[tu_value.uid] = name
        parent = op.attrs["parent"]
        lb, ub = op.operands
        kind = "rng" if any(v.uid in self.streams for v in (lb, ub)) else "dns"
        words.append(f"tu.{kind} {name}, parent={'none' if parent is None else f't{parent}'}, "
                     f"width={op.attrs['width']}, lb={self.src(lb)}, ub={self.src(ub)}")
        words.append(f"str.ite {self._new_stream(iv)}, tu={name}")
        level = 0 if parent is None else depth[parent] + 1
        depth[len(self.tus) - 1] = level
        layer = min(level, self.target.traversal_groups - 1)
        if op.attrs["width"] > 1:
            groups.append(f"tu.group {name}, layer={layer}, mode=lockstep, lanes={self.target.lanes}")
        else:
            groups.append(f"tu.group {name}, layer={layer}, mode=single, lanes=1")

    def _column(self, tensor: Value, trailing: list[Value], tu: str, words: list[str]) -> str:
        """The element offset within a row of `tensor` (everything after its first
        index): one index as it is, more folded row-major with ALU streams."""
        column = self.src(trailing[0])
        slot = self.slot_of[tensor.uid]
        for axis, index in enumerate(trailing[1:], start=2):
            size = tensor.type.shape[axis]
            extent = str(size) if size is not None else f"p{self.param(slot, axis)}"
            scaled = self._new_stream(None)
            words.append(f"str.alu {scaled}, tu={tu}, op=mul, a={column}, b={extent}")
            column = self._new_stream(None)
            words.append(f"str.alu {column}, tu={tu}, op=add, a={scaled}, b={self.src(index)}")
        return column

    def _stream(self, op: Operation, words: list[str]) -> None:
        tu = f"t{op.attrs['tu']}"
        if op.name == "slc.mem_stream":
            tensor, *index = op.operands
            col = self._column(tensor, index[1:], tu, words) if len(index) > 1 else "none"
            name = self._new_stream(op.result)
            words.append(f"str.mem {name}, tu={tu}, slot={self.slot(tensor)}, index={self.src(index[0])}, col={col}")
        elif op.name == "slc.alu_stream":
            name = self._new_stream(op.result)
            a, b = op.operands
            words.append(f"str.alu {name}, tu={tu}, op={op.attrs['op']}, a={self.src(a)}, b={self.src(b)}")
        else:
            name = self._new_stream(op.result)
            words.append(f"str.buf {name}, tu={tu}, src={self.src(op.operands[0])}")

    # ---- the whole kernel ---------------------------------------------------
    def kernel_text(self, version: int = 1) -> str:
        body = self.func.body.ops
        access_op = next((op for op in body if op.name == "dlc.access"), None)
        compute_op = next((op for op in body if op.name == "dlc.compute"), None)
        cases = compute_op.body.ops if compute_op else []
        prologue = [op for op in body if op.name not in ("dlc.access", "dlc.compute")]
        access_words = self.access(access_op.body) if access_op else []
        self._hoist_invariants(prologue, cases)
        case_operands = {v.uid for case in cases for op in walk(case.body) for v in op.operands}
        pinned = {r.uid for op in prologue for r in op.results if r.uid in case_operands}
        self.core_region([op for op in prologue if op.name not in ("arith.constant", "tensor.dim")], pinned)
        table = ["done"]
        if cases:
            self.emit("cb.pop x1")
            self.emit("br.tab x1, jt0")
            for case in cases:
                label = f"cb{case.attrs['id']}"
                table.append(label)
                self.place(label)
                self.core_region(case.body.ops)
                self.emit("cb.pop x1")               # dispatch from here: no jump back to a shared loop
                self.emit("br.tab x1, jt0")
            self.place("done")
        self.emit("halt")
        return self._text(access_words, table if cases else None, version)

    def _hoist_invariants(self, prologue: list[Operation], cases: list[Operation]) -> None:
        """Constants, dims and constant masks the core uses live in registers for the whole run."""
        core_ops = [op for region in [prologue] + [c.body.ops for c in cases] for o in region for op in walk_op(o)]
        used = {v.uid: v for op in core_ops for v in op.operands}
        for op in prologue:
            if op.name in ("arith.constant", "tensor.dim") and op.result.uid in used:
                register = self.regs.take(register_file(op.result.type), op.result.hint)
                self.home[op.result.uid] = register
                self._materialize(op, register)
        for op in core_ops:
            if op.name == "vector.mask" and all(_constant(v) is not None for v in op.operands):
                lanes = max(0, min(op.result.type.width, _constant(op.operands[1]) - _constant(op.operands[0])))
                if lanes not in self.global_masks and len(self.global_masks) < 4:
                    register = self.regs.take("m", "a mask")
                    count = self.regs.take("x", "a mask")
                    self.emit(f"li {count}, {lanes}")
                    self.emit(f"mset {register}, {count}")
                    self.regs.give(count)
                    self.global_masks[lanes] = register

    def _text(self, access_words: list[str], table: list[str] | None, version: int) -> str:
        func = self.func
        out = []
        for n, i in enumerate(self.slot_order):
            t: TensorType = func.args[i].type
            access = "write" if i in func.outputs else "read"
            line = f".slot {func.arg_names[i]} {dtype_name(t.dtype)} {access} rank={t.rank}"
            if i in func.outputs:
                dims = []
                for static, size in zip(t.shape, t.dim_of or (None,) * t.rank):
                    dims.append(str(static) if size is None else f"p{self._size_param(size)}")
                line += f" shape=[{', '.join(dims)}]"
            out.append(line)
        for n, (slot, axis, add) in enumerate(self.params):
            if axis == _COPY:
                out.append(f".param p{n} copy")
                continue
            what = f"element={axis[1]}" if isinstance(axis, tuple) else f"dim={axis}"
            out.append(f".param p{n} slot={func.arg_names[self.slot_order[slot]]} {what} add={add}")
        if any(isinstance(axis, tuple) for _, axis, _ in self.params):
            version = max(version, 2)            # element params need kernel version 2 (dae_isa verifier)
        copies = ""
        if self.copies > 1:
            version, copies = max(version, 3), f" copies={self.copies}"   # copies need kernel version 3
        out[:0] = [f'.kernel "{func.name}" version={version}{copies}', self.target.machine_directive()]
        out += [f".const k{n} {v}" for n, v in enumerate(self.consts)]
        out += [f".fconst kf{n} {float(v).hex()}" for n, v in enumerate(self.fconsts)]
        if table:
            out.append(f".jumptable jt0 {' '.join(table)}")
        if access_words:
            out.append(".access")
            out += [f"  {w}" for w in access_words]
        out.append(".execute")
        out += self.lines
        out.append(".end")
        return "\n".join(out) + "\n"

    # ---- core code ---------------------------------------------------------
    def core_region(self, ops: list[Operation], pinned: set[int] = frozenset()) -> None:
        """Emit straight-line and loop code; registers of values not in `pinned`
        are reused after their last use."""
        self.last_use = _last_uses(ops)
        self.coalesce, self.fusable_mul = _coalescing(ops, self.var_home)
        self.fused, self.fma = set(), {}
        self.divisor_only = _divisor_only_broadcasts(ops)
        self.pinned = set(pinned)
        self.live: dict[int, str] = {}
        self.row_bases: dict[tuple, str] = {}
        self._ops(ops)
        for uid in list(self.live):
            self._release(uid)
        for register in self.row_bases.values():
            self.regs.give(register)
        self.row_bases = {}

    def _ops(self, ops: list[Operation]) -> None:
        for op in ops:
            handler = getattr(self, "_op_" + op.name.replace(".", "_"), None)
            if handler is None:
                raise CompileError(f"{self.func.name}: no lowering for {op.name} on the core")
            handler(op)
            self._expire(self.last_use.position[id(op)])

    def _expire(self, position: int) -> None:
        for uid in [u for u in self.live if self.last_use.last.get(u, -1) <= position]:
            self._release(uid)

    def _release(self, uid: int) -> None:
        register = self.live.pop(uid)
        if uid not in self.pinned and register not in self.var_home.values():
            self.regs.give(register)

    def define(self, value: Value) -> str:
        if value.uid in self.coalesce:           # computed straight into the variable it is stored to
            register = self.var_home[self.coalesce[value.uid]]
            self.home[value.uid] = register
            return register
        register = self.regs.take(register_file(value.type), f"{self.func.name}: {value.hint or 'a value'}")
        self.home[value.uid] = register
        self.live[value.uid] = register
        return register

    def use(self, value: Value) -> str:
        if value.uid in self.home:
            return self.home[value.uid]
        op = value.owner
        if op is not None and op.name in ("arith.constant", "tensor.dim") and op.parent is self.func.body:
            # invariants used only by the access unit so far: materialize once, pinned
            register = self.regs.take(register_file(value.type), value.hint)
            self.home[value.uid] = register
            self._materialize(op, register)
            return register
        raise CompileError(f"{self.func.name}: {value.hint or 'a value'} has no register here")

    def _materialize(self, op: Operation, register: str) -> None:
        if op.name == "tensor.dim":
            slot = self.slot_of[op.operands[0].uid]
            self.emit(f"param {register}, p{self.param(slot, op.attrs['axis'])}")
        elif isinstance(op.result.type, FloatType):
            self.emit(f"lf.{op.result.type.dtype} {register}, kf{self.fconst(float(op.attrs['value']))}")
        else:
            value = int(op.attrs["value"])
            self.emit(f"li {register}, {value}" if -2**31 <= value < 2**31 else f"lc {register}, k{self.const(value)}")

    # invariants and variables
    def _op_arith_constant(self, op: Operation) -> None:
        self._materialize(op, self.define(op.result))

    def _op_tensor_dim(self, op: Operation) -> None:
        self._materialize(op, self.define(op.result))

    def _op_kernel_copy_index(self, op: Operation) -> None:
        self.copies = int(op.attrs["copies"])
        self.emit(f"param {self.define(op.result)}, p{self.param(-1, _COPY)}")

    def _op_var_decl(self, op: Operation) -> None:
        name, type, init = op.attrs["name"], op.attrs["type"], op.attrs["init"]
        register = self.regs.take(register_file(type), f"variable {name}")
        self.var_home[name] = register
        if isinstance(type, VectorType):
            self.emit(f"vzero.{_suffix(type)} {register}")
        elif isinstance(type, FloatType):
            self.emit(f"lf.{type.dtype} {register}, kf{self.fconst(float(init))}")
        else:
            self.emit(f"li {register}, {int(init)}")

    def _op_var_get(self, op: Operation) -> None:
        register = self.var_home[op.attrs["var"]]
        self.home[op.result.uid] = register
        self.live[op.result.uid] = register

    def _op_var_set(self, op: Operation) -> None:
        register, value = self.var_home[op.attrs["var"]], self.use(op.operands[0])
        here = self.last_use.position[id(op)]
        for uid, r in self.live.items():
            if r == register and self.last_use.last.get(uid, -1) > here:
                raise CompileError(f"{self.func.name}: variable {op.attrs['var']} is read after it is set")
        if value != register:
            file = register[0]
            self.emit(f"{'mov' if file == 'x' else 'fmov' if file == 'f' else 'vmov'} {register}, {value}")

    # integer and float arithmetic
    def _binary(self, op: Operation) -> None:
        kind = op.name.split(".", 1)[1]
        a, b = op.operands
        if kind in _INT_OPS:
            imm = _constant(b)
            rd = self.define(op.result)
            if kind in ("addi", "muli") and imm is not None and -2**31 <= imm < 2**31:
                self.emit(f"{kind} {rd}, {self.use(a)}, {imm}")
            else:
                self.emit(f"{_INT_OPS[kind]} {rd}, {self.use(a)}, {self.use(b)}")
            return
        t = op.result.type
        prefix = "v" if isinstance(t, VectorType) else "f"
        if kind == "div_no_nan":
            return self._div_no_nan(op)
        if id(op) in self.fused:
            return
        if op.result.uid in self.fma:           # acc + x * y with acc the variable it goes back to
            x, y = self.fma.pop(op.result.uid)
            rd = self.define(op.result)
            self.emit(f"vfma.{_suffix(t)} {rd}, {self.use(x)}, {self.use(y)}")
            return
        if kind == "mulf" and isinstance(t, VectorType) and id(op) in self.fusable_mul:
            self.fma[self.fusable_mul[id(op)]] = (a, b)
            return
        rd = self.define(op.result)
        self.emit(f"{prefix}{_FLOAT_OPS[kind]}.{_suffix(t)} {rd}, {self.use(a)}, {self.use(b)}")

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
            if key not in self.row_bases:         # one splat per divisor and region
                self.row_bases[key] = self.regs.take("v", "div_no_nan")
                self.emit(f"vsplat.{dt} {self.row_bases[key]}, {s}")
            self.emit(f"vdiv.{dt} {rd}, {self.use(x)}, {self.row_bases[key]}")
        else:
            self.emit(f"fdiv.{dt} {rd}, {self.use(x)}, {s}")

    def _safe_divisor(self, y: Value, dt: str) -> str:
        """y, or +inf when y == 0 (so x / it is div_no_nan), computed once per region."""
        key = ("div_no_nan", y.uid)
        if key in self.row_bases:
            return self.row_bases[key]
        ry = self.use(y)
        z, s, one = (self.regs.take("f", "div_no_nan") for _ in range(3))
        self.emit(f"lf.{dt} {s}, kf{self.fconst(0.0)}")
        self.emit(f"fsub.{dt} {z}, {s}, {ry}")
        self.emit(f"fmax.{dt} {z}, {z}, {ry}")                       # |y|
        self.emit(f"lf.{dt} {s}, kf{self.fconst(_NO_NAN_SCALE[dt])}")
        self.emit(f"fmul.{dt} {z}, {z}, {s}")
        self.emit(f"fmul.{dt} {z}, {z}, {s}")
        self.emit(f"lf.{dt} {one}, kf{self.fconst(1.0)}")
        self.emit(f"fmin.{dt} {z}, {z}, {one}")                      # 1 if y != 0 else 0
        self.emit(f"fsub.{dt} {one}, {one}, {z}")
        self.emit(f"fadd.{dt} {one}, {ry}, {one}")
        self.emit(f"fdiv.{dt} {s}, {one}, {z}")                      # y, or +inf when y == 0
        self.regs.give(z)
        self.regs.give(one)
        self.row_bases[key] = s
        return s

    def _op_arith_sqrtf(self, op: Operation) -> None:
        rd = self.define(op.result)
        self.emit(f"fsqrt.{_suffix(op.result.type)} {rd}, {self.use(op.operands[0])}")

    def _op_arith_itofp(self, op: Operation) -> None:
        rd = self.define(op.result)
        self.emit(f"fcvt.{op.result.type.dtype} {rd}, {self.use(op.operands[0])}")

    # memory
    def address(self, tensor: Value, indices: list[Value]) -> tuple[str, bool]:
        """The element index of tensor[indices] (row major) in a register, and
        whether that register is a temporary to give back."""
        if len(indices) == 1:
            return self.use(indices[0]), False
        base = self._row_base(tensor, indices[:-1])
        last = _constant(indices[-1])
        if last == 0:
            return base, False
        register = self.regs.take("x", "an address")
        if last is not None and -2**31 <= last < 2**31:
            self.emit(f"addi {register}, {base}, {last}")
        else:
            self.emit(f"add {register}, {base}, {self.use(indices[-1])}")
        return register, True

    def _row_base(self, tensor: Value, leading: list[Value]) -> str:
        """Element index of tensor[leading..., 0], computed once per region."""
        key = (tensor.uid, tuple(v.uid for v in leading))
        if key in self.row_bases:
            return self.row_bases[key]
        shape, slot = tensor.type.shape, self.slot_of[tensor.uid]
        register = self.regs.take("x", "an address")
        self.emit(f"mov {register}, {self.use(leading[0])}")
        for axis in range(1, len(leading) + 1):
            size = shape[axis]
            if size is not None:
                self.emit(f"muli {register}, {register}, {size}")
            else:
                scratch = self.regs.take("x", "an address")
                self.emit(f"param {scratch}, p{self._dim_param(tensor, slot, axis)}")
                self.emit(f"mul {register}, {register}, {scratch}")
                self.regs.give(scratch)
            if axis < len(leading):
                self.emit(f"add {register}, {register}, {self.use(leading[axis])}")
        self.row_bases[key] = register
        return register

    def _dim_param(self, tensor: Value, slot: int, axis: int) -> int:
        """The param holding a run-time dim: an output's dims are those of the inputs
        its shape names (params may only read input shapes)."""
        dim_of = tensor.type.dim_of
        if dim_of and dim_of[axis] is not None:
            return self._size_param(dim_of[axis])
        return self.param(slot, axis)

    def _size_param(self, size) -> int:
        slot = self.slot_of[self.func.args[size.arg].uid]
        if size.element is not None:
            return self.param(slot, ("element", size.element), size.add)
        return self.param(slot, size.axis, size.add)

    def _op_memref_load(self, op: Operation) -> None:
        tensor, *indices = op.operands
        where, temporary = self.address(tensor, indices)
        rd = self.define(op.result)
        dt = tensor.type.dtype
        self.emit(f"{'fld' if isinstance(op.result.type, FloatType) else 'ld'}.{dt} {rd}, {self.slot(tensor)}, {where}")
        if temporary:
            self.regs.give(where)

    def _op_memref_store(self, op: Operation) -> None:
        value, tensor, *indices = op.operands
        where, temporary = self.address(tensor, indices)
        dt = tensor.type.dtype
        self.emit(f"{'fst' if isinstance(value.type, FloatType) else 'st'}.{dt} {self.use(value)}, "
                  f"{self.slot(tensor)}, {where}")
        if temporary:
            self.regs.give(where)

    def _op_vector_load(self, op: Operation) -> None:
        tensor, *indices, mask = op.operands
        where, temporary = self.address(tensor, indices)
        rd = self.define(op.results[0])
        self.emit(f"vld.{tensor.type.dtype} {rd}, {self.slot(tensor)}, {where}, {self.use(mask)}")
        if temporary:
            self.regs.give(where)

    def _op_vector_store(self, op: Operation) -> None:
        value, tensor, *indices, mask = op.operands
        where, temporary = self.address(tensor, indices)
        self.emit(f"vst.{tensor.type.dtype} {self.use(value)}, {self.slot(tensor)}, {where}, {self.use(mask)}")
        if temporary:
            self.regs.give(where)

    def _gather_index(self, tensor: Value, indices: list[Value]) -> str:
        """A vector of element indices for tensor[indices], the last index a vector."""
        base, temporary = self.address(tensor, indices[:-1] + [_ZERO]) if len(indices) > 1 else ("x0", False)
        register = self.regs.take("v", "a gather index")
        splat = self.regs.take("v", "a gather index")
        self.emit(f"viota.i32 {splat}, {base}")
        self.emit(f"viota.i32 {register}, x0")
        self.emit(f"vsub.i32 {splat}, {splat}, {register}")          # the row base in every lane
        self.emit(f"vadd.i32 {register}, {splat}, {self.use(indices[-1])}")
        self.regs.give(splat)
        if temporary:
            self.regs.give(base)
        return register

    def _op_vector_gather(self, op: Operation) -> None:
        tensor, *indices, mask = op.operands
        index = self._gather_index(tensor, indices)
        rd = self.define(op.result)
        self.emit(f"vgather.{tensor.type.dtype} {rd}, {self.slot(tensor)}, {index}, {self.use(mask)}")
        self.regs.give(index)

    def _op_vector_scatter(self, op: Operation) -> None:
        value, tensor, *indices, mask = op.operands
        index = self._gather_index(tensor, indices)
        self.emit(f"vscatter.{tensor.type.dtype} {self.use(value)}, {self.slot(tensor)}, {index}, {self.use(mask)}")
        self.regs.give(index)

    def _op_vector_broadcast(self, op: Operation) -> None:
        if op.result.uid in self.divisor_only:
            return                                # div_no_nan reads the scalar itself
        rd = self.define(op.result)
        if _constant_float(op.operands[0]) == 0.0:
            self.emit(f"vzero.{_suffix(op.result.type)} {rd}")
            return
        self.emit(f"vsplat.{_suffix(op.result.type)} {rd}, {self.use(op.operands[0])}")

    def _op_vector_iota(self, op: Operation) -> None:
        rd = self.define(op.result)
        self.emit(f"viota.i32 {rd}, {self.use(op.operands[0])}")

    def _op_vector_mask(self, op: Operation) -> None:
        start, ub = op.operands
        lanes = None
        if _constant(start) is not None and _constant(ub) is not None:
            lanes = max(0, min(op.result.type.width, _constant(ub) - _constant(start)))
        if lanes is not None and lanes in self.global_masks:
            self.home[op.result.uid] = self.global_masks[lanes]
            return
        rd = self.define(op.result)
        count = self.regs.take("x", "a mask")
        self.emit(f"sub {count}, {self.use(ub)}, {self.use(start)}")
        if op.result.type.width < self._widest_lanes():
            # mset sets up to 64 lanes, and an instruction on 2-byte elements runs more lanes
            # than the IR's vectors have (they are at least 4 bytes wide): clamp the count
            width = self.regs.take("x", "a mask")
            self.emit(f"li {width}, {op.result.type.width}")
            self.emit(f"min {count}, {count}, {width}")
            self.regs.give(width)
        self.emit(f"mset {rd}, {count}")
        self.regs.give(count)

    def _widest_lanes(self) -> int:
        """The most lanes any vector instruction of this kernel runs (its narrowest tensor element)."""
        return max(self.target.vector_bytes // ITEMSIZE[a.type.dtype] for a in self.func.args)

    def _op_vector_reduce_add(self, op: Operation) -> None:
        value, mask = op.operands
        rd = self.define(op.result)
        self.emit(f"vredsum.{_suffix(op.result.type)} {rd}, {self.use(value)}, {self.use(mask)}")

    def _op_buffer_load(self, op: Operation) -> None:
        buffer, offset, mask = op.operands
        rd = self.define(op.result)
        self.emit(f"bld.{_suffix(op.result.type)} {rd}, {self.use(buffer)}, {self.use(offset)}, {self.use(mask)}")

    def _op_dlc_pop_operand(self, op: Operation) -> None:
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

    def _op_scf_for(self, op: Operation) -> None:
        lb, ub, step = op.operands
        iv = op.body.args[0]
        rd = self.define(iv)
        top, exit_ = self.label("loop"), self.label("exit")
        self.emit(f"mov {rd}, {self.use(lb)}")
        bound = self.use(ub)
        self.emit(f"bge {rd}, {bound}, {exit_}")
        self.place(top)
        saved = dict(self.row_bases)
        self._ops(op.body.ops)
        for key, register in self.row_bases.items():
            if key not in saved:
                self.regs.give(register)
        self.row_bases = saved
        step_value = _constant(step)
        if step_value is not None:
            self.emit(f"addi {rd}, {rd}, {step_value}")
        else:
            self.emit(f"add {rd}, {rd}, {self.use(step)}")
        self.emit(f"blt {rd}, {bound}, {top}")
        self.place(exit_)


for _name in list(_INT_OPS) + list(_FLOAT_OPS) + ["div_no_nan"]:
    setattr(KernelLowering, f"_op_arith_{_name}", KernelLowering._binary)

_ZERO = Value(IndexType(), "zero", Operation("arith.constant", [], [], {"value": 0}))


def _constant_float(value: Value) -> float | None:
    c = constant_value(value)
    return c if isinstance(c, float) else None


def _divisor_only_broadcasts(ops: list[Operation]) -> set[int]:
    """Broadcasts used only as div_no_nan's divisor (it splats its safe divisor instead)."""
    all_ops = [o for top in ops for o in walk_op(top)]
    candidates = {o.result.uid for o in all_ops if o.name == "vector.broadcast"}
    for op in all_ops:
        for i, v in enumerate(op.operands):
            if v.uid in candidates and not (op.name == "arith.div_no_nan" and i == 1):
                candidates.discard(v.uid)
    return candidates


def _coalescing(ops: list[Operation], var_home: dict[str, str]) -> tuple[dict[int, str], dict[int, int]]:
    # (value uid -> the variable's name: its register is looked up when the value is defined)
    """Values computed only to be stored into a variable by the very next op get
    the variable's register (no copy). Also the vector multiplies that can fold
    into a vfma with the add after them: acc' = acc + x * y, acc' into acc's
    variable, acc read from that variable."""
    use_count: dict[int, int] = {}
    blocks = [ops]
    for op in [o for top in ops for o in walk_op(top)]:
        for v in op.operands:
            use_count[v.uid] = use_count.get(v.uid, 0) + 1
        blocks += [r.ops for r in op.regions]
    coalesce, fusable = {}, {}
    declared = set(var_home) | {o.attrs["name"] for top in ops for o in walk_op(top) if o.name == "var.decl"}
    for block in blocks:
        for first, second in zip(block, block[1:]):
            if second.name == "var.set" and len(first.results) == 1 and first.results[0] is second.operands[0] \
                    and use_count.get(first.results[0].uid) == 1 and second.attrs["var"] in declared:
                coalesce[first.results[0].uid] = second.attrs["var"]
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
    return coalesce, fusable


def _constant(value: Value) -> int | None:
    c = constant_value(value)
    return c if isinstance(c, int) else None


def _vector_suffix(t: VectorType) -> str:
    return t.element.dtype if isinstance(t.element, FloatType) else "i32"


@dataclasses.dataclass
class _LastUse:
    position: dict[int, int]      # id(op) -> position
    last: dict[int, int]          # value uid -> position of its last use (loop-extended)


def _last_uses(ops: list[Operation]) -> _LastUse:
    position, end, defined, uses = {}, {}, {}, []
    counter = 0

    def visit(block_ops, loops):
        nonlocal counter
        for op in block_ops:
            here = counter
            counter += 1
            position[id(op)] = here
            inner = loops + [op] if op.regions else loops
            for v in op.operands:
                uses.append((v.uid, here, inner if op.name == "scf.for" else loops))
                if op.name == "arith.div_no_nan" and v.owner is not None and v.owner.name == "vector.broadcast":
                    uses.append((v.owner.operands[0].uid, here, loops))   # read directly (_div_no_nan)
            for r in op.results:
                defined[r.uid] = here
            for region in op.regions:
                for a in region.args:
                    defined[a.uid] = here
                visit(region.ops, inner)
            end[id(op)] = counter
            if op.name == "scf.for":
                uses.append((op.body.args[0].uid, counter, loops))

    visit(ops, [])
    last: dict[int, int] = {}
    for uid, here, loops in uses:
        d = defined.get(uid)
        if d is None:
            continue
        at = here
        for loop in loops:
            if not position[id(loop)] <= d < end[id(loop)]:
                at = max(at, end[id(loop)])
                break
        last[uid] = max(last.get(uid, -1), at)
    for uid, d in defined.items():
        last.setdefault(uid, d)
    return _LastUse(position, last)
