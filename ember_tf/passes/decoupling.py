"""Decoupling (Ember's ChooseDecoupling + ScfToSlc + MoveToValOps): split a
structured-loop kernel into access-unit loops and streams and core callbacks.

A loop is offloaded when its bounds are access-side values and its body reads a
tensor the kernel never writes. Access-side values are constants, tensor dims,
induction variables of offloaded loops, loads of read-only tensors at
access-side indices and integer arithmetic on access-side values; they become
streams. Everything else moves into callbacks, placed by position as in Ember:
ops before the first child loop of loop L fire on L's `ite` event, ops after a
child loop C on C's `end` event. Stream values a callback uses are materialized
at its top with `slc.to_val` (one queue pop each)."""

from __future__ import annotations

from ember_tf.errors import CompileError
from ember_tf.ir.core import (
    Block, Func, Operation, StreamType, Value, VectorType, MaskType, defined_in, replace_uses, walk,
)

INT_ALU = {"arith.addi": "add", "arith.subi": "sub", "arith.muli": "mul", "arith.divi": "div",
           "arith.remi": "rem", "arith.mini": "min", "arith.maxi": "max"}
INVARIANT = ("arith.constant", "tensor.dim")


def run(func: Func, target) -> None:
    if func.level != "scf":
        raise CompileError(f"{func.name}: decoupling expects the scf level, got {func.level}")
    func.level = "slc"
    if not target.has_access_unit:
        return  # the cpu machine: the core runs the loops itself
    written = {op.operands[1].uid for op in walk(func.body) if op.name == "memref.store"}
    _Decoupler(func, written).block(func.body, loop=None)
    check_no_cross_callback_values(func)


class _Decoupler:
    def __init__(self, func: Func, written: set[int]):
        self.func = func
        self.written = written
        self.access: set[int] = set()   # uids of access-side values
        for op in func.body.ops:
            if op.name in INVARIANT:
                self.access.add(op.result.uid)

    def is_access(self, v: Value) -> bool:
        return v.uid in self.access

    def offloadable(self, op: Operation) -> bool:
        if op.name != "scf.for" or not all(self.is_access(v) for v in op.operands):
            return False
        return any(o.name == "memref.load" and o.operands[0].uid not in self.written for o in walk(op.body))

    def block(self, block: Block, loop: Operation | None) -> None:
        """Rewrite the body of an offloaded loop (or the function body, loop=None)."""
        new_ops: list[Operation] = []
        pending: list[Operation] = []      # core ops waiting for their callback
        last_child: Operation | None = None
        for op in block.ops:
            if op.name in INVARIANT or op.name == "var.decl":
                new_ops.append(op)
            elif self.offloadable(op):
                self._flush(pending, new_ops, loop, last_child)
                op.name = "slc.for"
                iv = op.body.args[0]
                iv.type = StreamType(iv.type)
                self.access.add(iv.uid)
                self.block(op.body, op)
                new_ops.append(op)
                last_child = op
            elif loop is None and op.name in INT_ALU and all(self.is_access(v) for v in op.operands):
                new_ops.append(op)             # invariant arithmetic (B = dim - 1): params and immediates
                self.access.add(op.result.uid)
            elif self._to_stream(op):
                new_ops.append(op)
            else:
                pending.append(op)
        self._flush(pending, new_ops, loop, last_child)
        block.ops = new_ops
        for op in new_ops:
            op.parent = block

    def _to_stream(self, op: Operation) -> bool:
        """Turn an access-side load or integer op into a stream; False if it stays on the core."""
        if not all(self.is_access(v) for v in op.operands[1 if op.name == "memref.load" else 0:]):
            return False
        if op.name == "memref.load" and op.operands[0].uid not in self.written:
            op.name = "slc.mem_stream"
        elif op.name in INT_ALU:
            op.attrs = {"op": INT_ALU[op.name]}
            op.name = "slc.alu_stream"
        else:
            return False
        op.result.type = StreamType(op.result.type)
        self.access.add(op.result.uid)
        return True

    def _flush(self, pending: list[Operation], new_ops: list[Operation], loop, last_child) -> None:
        if not pending:
            return
        if last_child is None and loop is None:
            new_ops.extend(pending)          # the prologue: runs on the core before the traversal
        else:
            event = "ite" if last_child is None else "end"
            callback = Operation("slc.callback", [], [], {"event": event}, [Block(ops=list(pending))])
            for op in pending:
                op.parent = callback.body
            materialize_streams(callback)
            new_ops.append(callback)
        pending.clear()


def materialize_streams(callback: Operation) -> None:
    """Insert one `slc.to_val` per stream the callback reads, at its top."""
    body = callback.body
    inside = defined_in(body)
    seen: dict[int, Value] = {}
    for op in walk(body):
        if op.name == "slc.to_val":
            continue          # already popped
        for v in op.operands:
            if isinstance(v.type, StreamType) and v.uid not in inside and v.uid not in seen:
                seen[v.uid] = v
    to_vals = []
    for v in seen.values():
        to_vals.append(to_val(v, body))
    body.ops[:0] = to_vals
    for op, v in zip(to_vals, seen.values()):
        replace_uses(body, v, op.results[0])
        op.operands = [v]


def to_val(stream: Value, parent: Block) -> Operation:
    """`slc.to_val`: a scalar, a (vector, mask) pair or a buffer from the stream's head."""
    element = stream.type.element
    results = [Value(element, stream.hint)]
    if isinstance(element, VectorType):
        results.append(Value(MaskType(element.width), f"{stream.hint}_mask"))
    op = Operation("slc.to_val", [stream], results)
    op.parent = parent
    return op


def check_no_cross_callback_values(func: Func) -> None:
    """A core value defined in one callback cannot be read in another: it would
    need a queue or a variable (`var.*`)."""
    for cb in (op for op in walk(func.body) if op.name == "slc.callback"):
        inside = defined_in(cb.body)
        for op in walk(cb.body):
            for v in op.operands:
                owner = v.owner
                if v.uid in inside or isinstance(v.type, StreamType):
                    continue
                if owner is None or owner.name in INVARIANT or owner.parent is func.body:
                    continue
                raise CompileError(f"{func.name}: {v.hint or 'a value'} is computed in one callback and used in "
                                   f"another; carry it in a variable")
