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
    Block, FloatType, Func, IndexType, MaskType, Operation, Value, VectorType, clone_block, constant_value, walk, walk_op,
)
from ember_tf.passes.common import constant, unique_var_name


def run(func: Func, target) -> None:
    for loop in [op for op in walk(func.body) if op.name == "scf.for"]:
        _unroll(func, loop, target.max_unroll)
    for tensor_index in func.outputs:
        _promote(func, func.args[tensor_index])
    _drop_dead_reads(func)


_PURE = ("var.get", "vector.mask", "vector.iota", "vector.broadcast", "arith.addi", "arith.subi", "arith.muli")


def _drop_dead_reads(func: Func) -> None:
    """Reads and pure arithmetic whose results nothing uses any more (a popped row
    index after promotion) go away, until none is left."""
    while True:
        used = {v.uid for op in walk(func.body) for v in op.operands}
        dead = [op for op in walk(func.body) if op.name in _PURE and op.parent is not func.body
                and not any(r.uid in used for r in op.results)]
        if not dead:
            return
        for op in dead:
            op.parent.ops.remove(op)


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
            for inner in (o for other in ops for o in walk_op(other)):
                inner.operands = [folded if v is op.result else v for v in inner.operands]
            continue
        kept.append(op)
    return kept


# ---- promotion --------------------------------------------------------------
def _promote(func: Func, tensor: Value) -> None:
    # every use of the tensor: one that promotion cannot rewrite (a gather or scatter at a
    # streamed index, a scalar access) would miss the registers, so it blocks promotion
    accesses = [op for op in walk(func.body) if any(v is tensor for v in op.operands)]
    accumulates = any(op.name == "vector.load" for op in accesses)   # a pure copy (gather) gains nothing
    if not accesses or tensor.type.rank != 2 or tensor.type.shape[1] is None or not accumulates:
        return
    rows, chunks = set(), {}
    for op in accesses:
        if op.name not in ("vector.load", "vector.store"):
            return
        first = op.operands[1] if op.name == "vector.load" else op.operands[2]
        offset = constant_value(op.operands[-2])
        if offset is None:
            return
        rows.add(_row_source(func, first))
        chunks.setdefault(offset, op.operands[-1])
    if len(rows) != 1 or None in rows or _vector_variables(func) + len(chunks) > VECTOR_REGISTER_BUDGET:
        return
    (kind, source), = rows
    if kind == "counter":
        # before the counter moves on, in every callback that moves it (split_cores' copies
        # of a loop share one counter, each with its own increment)
        increments = _increment_callbacks(func, source)
        if not increments:
            return
        sites = [(cb.body, 0) for cb in increments]
    else:
        sites = [(source.body, len(source.body.ops))]   # the end of every iteration of the row loop
    dtype = tensor.type.dtype
    accumulators = {}
    for offset, mask in sorted(chunks.items()):
        width = mask.type.width
        name = unique_var_name(func, f"{tensor.hint}_row{offset}")
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
    for where, at in sites:
        row = Operation("var.get", [], [Value(IndexType(), "row")], {"var": source}) if kind == "counter" else None
        _flush_at(func, where, at, row, source.body.args[0] if row is None else None, tensor, accumulators, chunks)


def _row_source(func: Func, index: Value):
    """('counter', name) for a queue-aligned counter, ('loop', op) for the induction
    variable of a top-level core loop (the cpu target), else None."""
    if index.owner is not None and index.owner.name == "var.get":
        return ("counter", index.owner.attrs["var"])
    loop = next((op for op in func.body.ops if op.name == "scf.for" and op.body.args[0] is index), None)
    return ("loop", loop) if loop is not None else None


# accumulators may take half of the 32 vector registers; the other half is for temporaries
VECTOR_REGISTER_BUDGET = 16


def _vector_variables(func: Func) -> int:
    return sum(1 for op in func.body.ops if op.name == "var.decl" and isinstance(op.attrs["type"], VectorType))


def _increment_callbacks(func: Func, counter: str) -> list[Operation]:
    """The callbacks that move the counter on (not the ones that reset it)."""
    return [op for op in walk(func.body)
            if op.name == "slc.callback" and any(o.name == "var.set" and o.attrs["var"] == counter
                                                 and o.operands[0].owner is not None
                                                 and o.operands[0].owner.name == "arith.addi" for o in op.body.ops)]


def _after_declarations(func: Func) -> int:
    return next((i for i, o in enumerate(func.body.ops) if o.name not in ("arith.constant", "tensor.dim", "var.decl")),
                len(func.body.ops))


def _flush_at(func: Func, block: Block, at: int, row: Operation | None, index: Value | None, tensor: Value,
              accumulators: dict, chunks: dict) -> None:
    """Store the row and clear the registers: before the counter moves on (`row` reads
    it), or at the end of the row loop's iteration (`index` is its induction variable)."""
    ops: list[Operation] = [row] if row is not None else []
    row_index = row.result if row is not None else index
    zero = constant(func, 0.0, tensor.type.dtype)
    for offset, (name, type) in sorted(accumulators.items()):
        width = type.width
        lanes = chunks[offset].type.width
        value = Operation("var.get", [], [Value(type, name)], {"var": name})
        ub = constant(func, offset + min(width, _row_length(tensor) - offset))
        mask = Operation("vector.mask", [constant(func, offset), ub], [Value(MaskType(lanes), "row_mask")])
        store = Operation("vector.store", [value.result, tensor, row_index, constant(func, offset), mask.result])
        clear = Operation("vector.broadcast", [zero], [Value(type, "zeros")])
        reset = Operation("var.set", [clear.result], [], {"var": name})
        ops += [value, mask, store, clear, reset]
    block.ops[at:at] = ops
    for op in ops:
        op.parent = block


def _row_length(tensor: Value) -> int:
    return tensor.type.shape[1]
