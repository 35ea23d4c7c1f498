"""Vectorization (Ember's SlcVectorizer + CallbackVectorizer), opt level 1.

An innermost loop whose induction variable is only ever the last index of
loads and stores (a unit-stride walk along a row) becomes a vector loop of W
lanes (W = the target's vector bytes over the widest element, at least 4 bytes
so index vectors fit): an access loop becomes a vector traversal unit whose
memory streams yield W-element vectors with a tail mask; its callbacks, and
innermost core loops, become vector code: loads and stores at the vector index
become gathers and scatters (simplify_mem later turns consecutive ones into
contiguous accesses), float arithmetic becomes lane-wise, scalars are
broadcast."""

from __future__ import annotations

from ember_tf.ir.core import (
    Block, FloatType, Func, IndexType, ITEMSIZE, MaskType, Operation, StreamType, Value, VectorType, defined_in,
    walk,
)
from ember_tf.passes.common import constant
from ember_tf.passes.decoupling import to_val

FLOAT_ARITH = ("arith.addf", "arith.subf", "arith.mulf", "arith.divf", "arith.maxf", "arith.minf",
               "arith.div_no_nan")


def run(func: Func, target) -> None:
    for op in list(walk(func.body)):
        if op.name == "slc.for" and _innermost(op) and op.attrs.get("width", 1) == 1:
            _vectorize_access_loop(func, op, target)
        elif op.name == "scf.for" and _innermost(op):
            _vectorize_core_loop(func, op, target)


def _innermost(loop: Operation) -> bool:
    return not any(o.name in ("slc.for", "scf.for") for o in walk(loop.body))


def _width(tensors: list[Value], target) -> int:
    itemsize = max([4] + [ITEMSIZE[t.type.dtype] for t in tensors])
    return target.vector_length(itemsize)


def _last_index_only(iv: Value, ops: list[Operation]) -> bool:
    """Is `iv` used only as the last index of loads/stores (and of memory streams)?"""
    for op in ops:
        for i, v in enumerate(op.operands):
            if v is not iv:
                continue
            if op.name in ("memref.load", "slc.mem_stream") and i == len(op.operands) - 1 and i > 0:
                continue
            if op.name == "memref.store" and i == len(op.operands) - 1 and i > 1:
                continue
            if op.name == "slc.to_val":
                continue
            return False
    return True


def _vectorizable_body(ops: list[Operation], vector_values: set[int]) -> bool:
    """Every op that reads a vector value (or one computed from it) has a vector form."""
    vectors = set(vector_values)
    for op in ops:
        touches = any(v.uid in vectors for v in op.operands)
        if op.regions and (touches or any(v.uid in vectors for o in walk(op.body) for v in o.operands)):
            return False
        if not touches:
            continue
        if op.name in ("memref.load", "memref.store", "slc.to_val") or op.name in FLOAT_ARITH:
            vectors.update(r.uid for r in op.results)
            continue
        return False      # integer arithmetic on the vector index, a variable update (a reduction), ...
    return True


# ---- access loops -------------------------------------------------------------
def _vectorize_access_loop(func: Func, loop: Operation, target) -> None:
    lb, ub, _ = loop.operands
    if not all(v.owner is not None and v.owner.name in ("arith.constant", "tensor.dim") for v in (lb, ub)):
        return
    iv = loop.body.args[0]
    callbacks = [o for o in loop.body.ops if o.name == "slc.callback"]
    streams = [o for o in loop.body.ops if o.name == "slc.mem_stream" and o.operands[-1] is iv]
    inner = [o for cb in callbacks for o in walk(cb.body)]
    popped_iv = [o.results[0] for o in inner if o.name == "slc.to_val" and o.operands[0] is iv]
    if not streams or not _last_index_only(iv, list(loop.body.ops) + inner):
        return
    for value in popped_iv:
        if not _last_index_only(value, inner):
            return
    stream_values = {o.result.uid for o in streams} | {iv.uid}
    if any(o.name == "slc.mem_stream" and o not in streams and any(v.uid in stream_values for v in o.operands)
           for o in loop.body.ops) or any(o.name == "slc.alu_stream" and any(v.uid in stream_values for v in o.operands)
                                          for o in loop.body.ops):
        return
    popped = {o.results[0].uid for o in inner if o.name == "slc.to_val" and o.operands[0].uid in stream_values}
    if not all(_vectorizable_body(cb.body.ops, popped) for cb in callbacks):
        return
    width = _width([o.operands[0] for o in streams] + _memory_tensors(inner), target)
    loop.attrs["width"] = width
    iv.type = StreamType(VectorType(IndexType(), width))
    for op in streams:
        op.result.type = StreamType(VectorType(op.result.type.element, width))
    for cb in callbacks:
        _vectorize_callback(cb, stream_values, width)


def _memory_tensors(ops: list[Operation]) -> list[Value]:
    return [o.operands[0 if o.name == "memref.load" else 1] for o in ops if o.name in ("memref.load", "memref.store")]


def _vectorize_callback(cb: Operation, stream_values: set[int], width: int) -> None:
    body = cb.body
    vectors: dict[int, Value] = {}
    mask = None
    new_ops = []
    for op in body.ops:
        if op.name == "slc.to_val" and op.operands[0].uid in stream_values:
            replacement = to_val(op.operands[0], body)
            vectors[op.results[0].uid] = replacement.results[0]
            mask = mask or replacement.results[1]
            new_ops.append(replacement)
        else:
            new_ops.append(op)
    body.ops = new_ops
    _rewrite_vector_ops(body, vectors, mask, width)


# ---- core loops -----------------------------------------------------------------
def _vectorize_core_loop(func: Func, loop: Operation, target) -> None:
    lb, ub, step = loop.operands
    iv = loop.body.args[0]
    ops = list(loop.body.ops)
    if step.owner is None or step.owner.attrs.get("value") != 1 or not _last_index_only(iv, ops):
        return
    if not any(o.name in ("memref.load", "memref.store") and o.operands[-1] is iv for o in ops):
        return
    if not _vectorizable_body(ops, {iv.uid}) or any(
            o.name in ("memref.load", "memref.store") and not isinstance(_element(o), FloatType) for o in ops):
        return
    width = _width(_memory_tensors(ops), target)
    body = loop.body
    index = Operation("vector.iota", [iv], [Value(VectorType(IndexType(), width), f"{iv.hint}_vec")])
    mask = Operation("vector.mask", [iv, ub], [Value(MaskType(width), f"{iv.hint}_mask")])
    loop.operands = [lb, ub, constant(func, width)]
    body.ops[:0] = [index, mask]
    for op in (index, mask):
        op.parent = body
    hoisted = _rewrite_vector_ops(body, {iv.uid: index.result}, mask.result, width, skip=(index, mask),
                                  invariant=lambda v: v.uid not in defined_in(body))
    parent = loop.parent
    at = parent.ops.index(loop)
    parent.ops[at:at] = hoisted          # a broadcast of a loop-invariant scalar happens once
    for op in hoisted:
        op.parent = parent


def _element(op: Operation):
    return op.results[0].type if op.name == "memref.load" else op.operands[0].type


# ---- shared rewriting -------------------------------------------------------
def _rewrite_vector_ops(body: Block, vectors: dict[int, Value], mask: Value, width: int, skip=(),
                       invariant=lambda v: False) -> list[Operation]:
    """Turn the ops of `body` that touch the vector values into vector ops, in
    order; broadcasts of `invariant` scalars are returned for the caller to hoist."""
    new_ops: list[Operation] = []
    hoisted: list[Operation] = []

    def vec(v: Value) -> Value:
        if v.uid in vectors:
            return vectors[v.uid]
        broadcast = Operation("vector.broadcast", [v], [Value(VectorType(v.type, width), f"{v.hint}_splat")])
        (hoisted if invariant(v) else new_ops).append(broadcast)
        vectors[v.uid] = broadcast.result
        return broadcast.result

    for op in body.ops:
        if op in skip or not any(v.uid in vectors for v in op.operands):
            new_ops.append(op)
            continue
        if op.name == "memref.load":
            tensor, *index = op.operands
            result = Value(VectorType(op.result.type, width), op.result.hint)
            new_ops.append(Operation("vector.gather", [tensor, *index[:-1], vec(index[-1]), mask], [result]))
            vectors[op.result.uid] = result
        elif op.name == "memref.store":
            value, tensor, *index = op.operands
            new_ops.append(Operation("vector.scatter", [vec(value), tensor, *index[:-1], vec(index[-1]), mask]))
        elif op.name in FLOAT_ARITH:
            a, b = (vec(v) for v in op.operands)
            result = Value(a.type, op.result.hint)
            new_ops.append(Operation(op.name, [a, b], [result], dict(op.attrs)))
            vectors[op.result.uid] = result
        else:
            new_ops.append(op)
    body.ops = new_ops
    for op in new_ops:
        op.parent = body
    return hoisted
