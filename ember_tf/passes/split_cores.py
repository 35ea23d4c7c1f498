"""Multi-core mapping, opt level 3: a top-level access loop whose iterations
write disjoint output rows (a batch of bags, of gathered rows, of CSR rows) is
split into one traversal per core, each a single-iteration root that computes
its share [B*i/K, B*(i+1)/K) with ALU streams and walks it. The emulator (and
the machine) give each root its own core, access unit and queues, so K cores
share the DRAM bandwidth instead of one access unit bounding it.

K = the target's cores divided among the kernel's top-level loops (a kernel of
four tables on eight cores splits each table in two). Loops that scatter into
data-dependent rows (segment sums) are not split: their cores would race.

Without an access unit (the cpu machine) the cores split the work by themselves:
the kernel runs as one copy per core (`kernel.copy_index {copies = K}`), and each
copy bounds every top-level loop to its share [ub*c/K, ub*(c+1)/K). This is done
only when every top-level loop writes private rows and nothing outside them writes
an output."""

from __future__ import annotations

from ember_tf.ir.core import Block, Func, IndexType, Operation, StreamType, Value, clone_op, walk
from ember_tf.passes.common import constant

_STORES = ("memref.store", "vector.store", "vector.scatter")
_LOADS = ("memref.load", "vector.load", "vector.gather")


def run(func: Func, target) -> None:
    if not target.has_access_unit:
        _split_copies(func, target.cores)
        return
    roots = [op for op in func.body.ops if op.name == "slc.for"]
    if not roots or target.cores < 2:
        return
    share = max(1, target.cores // len(roots))
    if share < 2:
        return
    for number, loop in enumerate(roots):
        if _rows_are_private(func, loop):
            _split(func, loop, share, number)


def _split_copies(func: Func, copies: int) -> None:
    loops = [op for op in func.body.ops if op.name == "scf.for"]
    if copies < 2 or not loops or not all(_core_rows_are_private(func, loop) for loop in loops):
        return
    outputs = {func.args[i].uid for i in func.outputs}
    if any(op.name in _STORES and op.operands[1].uid in outputs for op in func.body.ops):
        return
    for loop in loops:
        # the copy index is read again in front of each loop: a param read is one instruction,
        # and a register held across all the loops may be one the loops need
        copy = Operation("kernel.copy_index", [], [Value(IndexType(), "copy")], {"copies": copies})
        at = func.body.ops.index(loop)
        func.body.ops.insert(at, copy)
        copy.parent = func.body
        ub = loop.operands[1]
        lo = _core_share(func, loop, ub, copy.result, copies, 0, "lo")
        hi = _core_share(func, loop, ub, copy.result, copies, 1, "hi")
        loop.operands = [lo, hi, loop.operands[2]]


def _core_share(func: Func, loop: Operation, ub: Value, copy: Value, copies: int, plus: int, hint: str) -> Value:
    """ub * (copy + plus) / copies, computed on the core in front of `loop`."""
    ops = []
    index = copy
    if plus:
        ops.append(Operation("arith.addi", [copy, constant(func, plus)], [Value(IndexType(), f"{hint}_c")]))
        index = ops[-1].result
    ops.append(Operation("arith.muli", [ub, index], [Value(IndexType(), f"{hint}_x")]))
    ops.append(Operation("arith.divi", [ops[-1].result, constant(func, copies)], [Value(IndexType(), hint)]))
    at = func.body.ops.index(loop)
    func.body.ops[at:at] = ops
    for op in ops:
        op.parent = func.body
    return ops[-1].result


def _core_rows_are_private(func: Func, loop: Operation) -> bool:
    """The scf form: the loop starts at 0 with step 1 and indexes its output rows directly."""
    lb, _, step = loop.operands
    if not all(v.owner is not None and v.owner.name == "arith.constant" and v.owner.attrs["value"] == want
               for v, want in ((lb, 0), (step, 1))):
        return False
    iv = loop.body.args[0]
    return _outputs_at_rows(func, loop, lambda index: index is iv)


def _rows_are_private(func: Func, loop: Operation) -> bool:
    """The SLC form: a scalar access loop from a constant, rows given by its popped index.
    (Core variables need no check: each core runs the program afresh.)"""
    lb = loop.operands[0]
    if lb.owner is None or lb.owner.name != "arith.constant" or loop.attrs.get("width", 1) != 1:
        return False
    iv = loop.body.args[0]
    popped = {op.results[0].uid for op in walk(loop.body) if op.name == "slc.to_val" and op.operands[0] is iv}
    return _outputs_at_rows(func, loop, lambda index: index.uid in popped)


def _outputs_at_rows(func: Func, loop: Operation, is_loop_row) -> bool:
    """Every output access inside the loop is at a row `is_loop_row` accepts (and there is one)."""
    outputs = {func.args[i].uid for i in func.outputs}
    accesses = 0
    for op in walk(loop.body):
        if op.name in _STORES + _LOADS:
            tensor_at = 1 if op.name in _STORES else 0
            if op.operands[tensor_at].uid in outputs:
                accesses += 1
                if len(op.operands) <= tensor_at + 1 or not is_loop_row(op.operands[tensor_at + 1]):
                    return False
    return accesses > 0


def _split(func: Func, loop: Operation, parts: int, loop_id: int) -> None:
    lb, ub, step = loop.operands
    block = loop.parent
    new_roots = []
    for part in range(parts):
        body = Block(args=[Value(StreamType(IndexType()), f"core{part}")])
        lo = _share(func, body, ub, part, parts, "lo")
        hi = _share(func, body, ub, part + 1, parts, "hi")
        mapping: dict[int, Value] = {}
        copy = clone_op(loop, mapping)
        copy.operands = [lo, hi, step]
        copy.attrs["share_of"] = loop_id          # the copies are one loop to the passes after
        copy.attrs["share"] = part
        copy.parent = body
        body.ops.append(copy)
        for op in body.ops:
            op.parent = body
        root = Operation("slc.for", [constant(func, 0), constant(func, 1), step], [], {"width": 1}, [body])
        root.parent = block
        new_roots.append(root)
    at = block.ops.index(loop)       # after constant() may have added constants at the top
    block.ops[at:at + 1] = new_roots


def _share(func: Func, body: Block, ub: Value, part: int, parts: int, hint: str) -> Value:
    """ub * part / parts as a stream of the root (or an invariant at the ends)."""
    if part == 0:
        return constant(func, 0)
    if part == parts:
        return ub
    product = Operation("slc.alu_stream", [ub, constant(func, part)], [Value(StreamType(IndexType()), f"{hint}_x")],
                        {"op": "mul"})
    quotient = Operation("slc.alu_stream", [product.result, constant(func, parts)],
                         [Value(StreamType(IndexType()), hint)], {"op": "div"})
    body.ops += [product, quotient]
    return quotient.result
