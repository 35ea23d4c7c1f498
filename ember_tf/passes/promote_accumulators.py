"""Row unrolling and accumulator promotion, opt level 3 (what the hand-written
kernels do on top of Ember's passes; see docs/ARCHITECTURE.md).

1. A core loop over a row with static bounds and at most `target.max_unroll`
   iterations is unrolled: its chunk offsets and tail masks become constants,
   which the lowering keeps in registers for the whole run.
2. An output row that a top-level loop's iteration accumulates into (loads and
   stores of out[counter, c] in its callbacks, the counter from queue
   alignment) lives in vector registers while the iteration runs: loads read
   the registers, stores write them, and the callback that ends the iteration
   stores the row once and clears the registers. Output tensors start zeroed,
   so the registers start at zero too."""

from __future__ import annotations

from ember_tf.ir.core import (
    Block, FloatType, Func, IndexType, MaskType, Operation, Value, VectorType, clone_block, walk,
)
from ember_tf.passes.common import constant, constant_value


def run(func: Func, target) -> None:
    for loop in [op for op in walk(func.body) if op.name == "scf.for"]:
        _unroll(func, loop, target.max_unroll)
    for tensor_index in func.outputs:
        _promote(func, func.args[tensor_index])


# ---- unrolling --------------------------------------------------------------
def _unroll(func: Func, loop: Operation, limit: int) -> None:
    if any(o.name == "scf.for" for o in walk(loop.body)) or loop.parent is None:
        return
    lb, ub, step = (constant_value(v) for v in loop.operands)
    if None in (lb, ub, step) or step <= 0:
        return
    trips = list(range(lb, ub, step))
    if len(trips) > limit:
        return
    iv = loop.body.args[0]
    copies: list[Operation] = []
    for value in trips:
        mapping = {iv.uid: constant(func, value)}
        body = clone_block(Block(ops=loop.body.ops), mapping)
        copies += body.ops
    copies = _fold_constants(func, copies)
    block = loop.parent
    at = block.ops.index(loop)
    block.ops[at:at + 1] = copies
    for op in copies:
        op.parent = block


_FOLD = {"arith.addi": lambda a, b: a + b, "arith.subi": lambda a, b: a - b, "arith.muli": lambda a, b: a * b}


def _fold_constants(func: Func, ops: list[Operation]) -> list[Operation]:
    """Integer arithmetic on constants (chunk offsets after unrolling) becomes a constant."""
    kept = []
    for op in ops:
        values = [constant_value(v) for v in op.operands]
        if op.name in _FOLD and None not in values:
            folded = constant(func, _FOLD[op.name](*values))
            for other in ops:
                other.operands = [folded if v is op.result else v for v in other.operands]
                for inner in walk_regions(other):
                    inner.operands = [folded if v is op.result else v for v in inner.operands]
            continue
        kept.append(op)
    return kept


def walk_regions(op: Operation):
    for region in op.regions:
        yield from walk(region)


# ---- promotion --------------------------------------------------------------
def _promote(func: Func, tensor: Value) -> None:
    accesses = [op for op in walk(func.body) if op.name in ("vector.load", "vector.store", "memref.load",
                                                             "memref.store") and tensor in op.operands[:2]]
    if not accesses or tensor.type.rank != 2 or tensor.type.shape[1] is None or not any(op.name == "vector.load" for op in accesses):
        return
    counter, chunks = None, {}
    for op in accesses:
        if op.name not in ("vector.load", "vector.store"):
            return
        first = op.operands[1] if op.name == "vector.load" else op.operands[2]
        offset = constant_value(op.operands[-2])
        if first.owner is None or first.owner.name != "var.get" or offset is None:
            return
        if counter not in (None, first.owner.attrs["var"]):
            return
        counter = first.owner.attrs["var"]
        chunks.setdefault(offset, op.operands[-1])
    increment = _increment_callback(func, counter)
    if increment is None:
        return
    dtype = tensor.type.dtype
    accumulators = {}
    for offset, mask in sorted(chunks.items()):
        width = mask.type.width
        name = f"{tensor.hint}_row{offset}"
        decl = Operation("var.decl", [], [], {"name": name, "type": VectorType(FloatType(dtype), width), "init": 0.0})
        func.body.ops.insert(_after_declarations(func), decl)
        decl.parent = func.body
        accumulators[offset] = (name, decl.attrs["type"])
    for op in accesses:
        name, type = accumulators[constant_value(op.operands[-2])]
        if op.name == "vector.load":
            new = Operation("var.get", [], [op.result], {"var": name})
        else:
            new = Operation("var.set", [op.operands[0]], [], {"var": name})
        block = op.parent
        block.ops[block.ops.index(op)] = new
        new.parent = block
    _flush_at(func, increment, tensor, counter, accumulators, chunks)


def _increment_callback(func: Func, counter: str) -> Operation | None:
    for op in walk(func.body):
        if op.name == "slc.callback" and any(o.name == "var.set" and o.attrs["var"] == counter for o in op.body.ops):
            return op
    return None


def _after_declarations(func: Func) -> int:
    return next((i for i, o in enumerate(func.body.ops) if o.name not in ("arith.constant", "tensor.dim", "var.decl")),
                len(func.body.ops))


def _flush_at(func: Func, callback: Operation, tensor: Value, counter: str, accumulators: dict, chunks: dict) -> None:
    """Store the row and clear the registers before the counter moves on."""
    ops: list[Operation] = []
    row = Operation("var.get", [], [Value(IndexType(), "row")], {"var": counter})
    ops.append(row)
    zero = constant(func, 0.0, tensor.type.dtype)
    for offset, (name, type) in sorted(accumulators.items()):
        width = type.width
        lanes = chunks[offset].type.width
        value = Operation("var.get", [], [Value(type, name)], {"var": name})
        ub = constant(func, offset + min(width, _row_length(tensor) - offset))
        mask = Operation("vector.mask", [constant(func, offset), ub], [Value(MaskType(lanes), "row_mask")])
        store = Operation("vector.store", [value.result, tensor, row.result, constant(func, offset), mask.result])
        clear = Operation("vector.broadcast", [zero], [Value(type, "zeros")])
        reset = Operation("var.set", [clear.result], [], {"var": name})
        ops += [value, mask, store, clear, reset]
    callback.body.ops[0:0] = ops
    for op in ops:
        op.parent = callback.body


def _row_length(tensor: Value) -> int:
    return tensor.type.shape[1]
