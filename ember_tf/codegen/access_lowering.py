"""Access lowering: a DLC function's `dlc.access` block (traversal units, streams,
operand and callback registrations) becomes the `.access` section's words.
Owns the numbering of traversal units and streams (and the target's limits on
them), a TU's kind (`tu.dns` with constant or param bounds, `tu.rng` with stream
bounds) and lane group (its depth as the layer, capped at the target's
traversal groups; vector TUs lockstep on all lanes), and folding IR values into
SRC operands: a stream, an immediate, a constant or a param."""

from __future__ import annotations

from ember_tf.codegen.emit import KernelText
from ember_tf.codegen.target import Target
from ember_tf.errors import CompileError
from ember_tf.ir.core import Block, Operation, Value

MAX_TUS, MAX_STREAMS = 64, 255


class AccessLowering:
    def __init__(self, text: KernelText, target: Target):
        self.text, self.target = text, target
        self.func = text.func
        self.streams: dict = {}              # value uid (or a helper key) -> stream name
        self.tus: dict[int, str] = {}        # TU value uid -> TU name
        self.depth: dict[int, int] = {}      # TU number -> its depth below a root

    def words(self, block: Block) -> list[str]:
        """The access words of a `dlc.access` block: definitions in order, lane groups last."""
        words, groups = [], []
        for op in block.ops:
            lower = _LOWERINGS.get(op.name)
            if lower is not None:
                lower(self, op, words, groups)
        return words + groups

    # ---- SRC operands ---------------------------------------------------------
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
            return str(number) if -8192 <= number <= 8191 else f"k{self.text.const(number)}"
        return f"p{number}"

    def fold(self, value: Value) -> tuple[str, int] | None:
        """('imm', n) for a constant, ('param', p) for a tensor dim plus a constant."""
        op = value.owner
        if op is None:
            return None
        if op.name == "arith.constant":
            return ("imm", int(op.attrs["value"]))
        if op.name == "tensor.dim":
            slot = self.text.slot_of[op.operands[0].uid]
            return ("param", self.text.param(slot, op.attrs["axis"]))
        if op.name in ("arith.addi", "arith.subi"):
            return self._fold_sum(op)
        return None

    def _fold_sum(self, op: Operation) -> tuple[str, int] | None:
        a, b = (self.fold(v) for v in op.operands)
        if a and b and a[0] == "param" and b[0] == "imm":
            slot, axis, add = self.text.params[a[1]]
            delta = b[1] if op.name == "arith.addi" else -b[1]
            return ("param", self.text.param(slot, axis, add + delta))
        if a and b and a[0] == b[0] == "imm":
            return ("imm", a[1] + b[1] if op.name == "arith.addi" else a[1] - b[1])
        return None

    def new_stream(self, value: Value | None) -> str:
        """The next stream id, for `value` (None: a helper stream of the lowering's own)."""
        name = f"s{len(self.streams)}"
        if len(self.streams) >= MAX_STREAMS:
            raise CompileError(f"{self.func.name}: the kernel does not fit the target: more than 255 streams")
        self.streams[value.uid if value is not None else ("helper", len(self.streams))] = name
        return name

    # ---- words per op ---------------------------------------------------------
    def _new_tu(self, op: Operation, words: list[str], groups: list[str]) -> None:
        tu_value, iv = op.results
        name = f"t{len(self.tus)}"
        if len(self.tus) >= MAX_TUS:
            raise CompileError(f"{self.func.name}: the kernel does not fit the target: more than 64 traversal units")
        self.tus[tu_value.uid] = name
        parent = op.attrs["parent"]
        lb, ub = op.operands
        kind = "rng" if any(v.uid in self.streams for v in (lb, ub)) else "dns"
        words.append(f"tu.{kind} {name}, parent={'none' if parent is None else f't{parent}'}, "
                     f"width={op.attrs['width']}, lb={self.src(lb)}, ub={self.src(ub)}")
        words.append(f"str.ite {self.new_stream(iv)}, tu={name}")
        groups.append(self._group(name, parent, op.attrs["width"]))

    def _group(self, name: str, parent: int | None, width: int) -> str:
        """The lane group of a new TU: its depth is its layer (capped at the target's)."""
        level = 0 if parent is None else self.depth[parent] + 1
        self.depth[len(self.tus) - 1] = level
        layer = min(level, self.target.traversal_groups - 1)
        if width > 1:
            return f"tu.group {name}, layer={layer}, mode=lockstep, lanes={self.target.lanes}"
        return f"tu.group {name}, layer={layer}, mode=single, lanes=1"

    def _mem_stream(self, op: Operation, words: list[str], groups: list[str]) -> None:
        tu = f"t{op.attrs['tu']}"
        tensor, *index = op.operands
        col = self._column(tensor, index[1:], tu, words) if len(index) > 1 else "none"
        name = self.new_stream(op.result)
        words.append(f"str.mem {name}, tu={tu}, slot={self.text.slot(tensor)}, index={self.src(index[0])}, col={col}")

    def _column(self, tensor: Value, trailing: list[Value], tu: str, words: list[str]) -> str:
        """The element offset within a row of `tensor` (everything after its first
        index): one index as it is, more folded row-major with ALU streams."""
        column = self.src(trailing[0])
        slot = self.text.slot_of[tensor.uid]
        for axis, index in enumerate(trailing[1:], start=2):
            size = tensor.type.shape[axis]
            extent = str(size) if size is not None else f"p{self.text.param(slot, axis)}"
            scaled = self.new_stream(None)
            words.append(f"str.alu {scaled}, tu={tu}, op=mul, a={column}, b={extent}")
            column = self.new_stream(None)
            words.append(f"str.alu {column}, tu={tu}, op=add, a={scaled}, b={self.src(index)}")
        return column

    def _alu_stream(self, op: Operation, words: list[str], groups: list[str]) -> None:
        name = self.new_stream(op.result)
        a, b = op.operands
        words.append(f"str.alu {name}, tu=t{op.attrs['tu']}, op={op.attrs['op']}, a={self.src(a)}, b={self.src(b)}")

    def _buf_stream(self, op: Operation, words: list[str], groups: list[str]) -> None:
        name = self.new_stream(op.result)
        words.append(f"str.buf {name}, tu=t{op.attrs['tu']}, src={self.src(op.operands[0])}")

    def _register_operand(self, op: Operation, words: list[str], groups: list[str]) -> None:
        tu, stream = op.operands
        words.append(f"mar.opnd {self.tus[tu.uid]}, event={op.attrs['event']}, stream={self.src(stream)}")

    def _register_callback(self, op: Operation, words: list[str], groups: list[str]) -> None:
        words.append(f"mar.cb {self.tus[op.operands[0].uid]}, event={op.attrs['event']}, id={op.attrs['id']}")


# the ops of a dlc.access block that make words (others there make none)
_LOWERINGS = {
    "dlc.new_tu": AccessLowering._new_tu,
    "slc.mem_stream": AccessLowering._mem_stream,
    "slc.alu_stream": AccessLowering._alu_stream,
    "slc.buf_stream": AccessLowering._buf_stream,
    "dlc.register_operand": AccessLowering._register_operand,
    "dlc.register_callback": AccessLowering._register_callback,
}
ACCESS_OPS = frozenset(_LOWERINGS)
