"""Bufferization (Ember's BufferCompoundTypes), opt level 2.

A vector access loop whose callback fires once per vector chunk instead hands
its whole fiber over at once: each vector stream the callback reads is
collected by a buffer stream (`slc.buf_stream`), the callback moves to the
loop's end event (one callback per row instead of one per chunk), and inside
it a core loop walks the buffer chunk by chunk with the same tail masks."""

from __future__ import annotations

from ember_tf.ir.core import (
    BufferType, Block, Func, IndexType, MaskType, Operation, StreamType, Value, VectorType, replace_uses, walk,
)
from ember_tf.passes.common import constant
from ember_tf.passes.decoupling import to_val


def run(func: Func, target) -> None:
    for loop in [op for op in walk(func.body) if op.name == "slc.for" and op.attrs.get("width", 1) > 1]:
        callbacks = [o for o in loop.body.ops if o.name == "slc.callback"]
        if len(callbacks) == 1 and callbacks[0].attrs["event"] == "ite":
            _bufferize(func, loop, callbacks[0])


def _bufferize(func: Func, loop: Operation, callback: Operation) -> None:
    iv = loop.body.args[0]
    own = {o.result.uid for o in loop.body.ops if o.results} | {iv.uid}
    to_vals = [o for o in callback.body.ops if o.name == "slc.to_val"]
    if any(o.operands[0].uid in own and not isinstance(o.operands[0].type.element, VectorType) for o in to_vals):
        return
    lb, ub, _ = loop.operands
    width = loop.attrs["width"]
    parent = loop.parent
    # the core loop over the row, chunk by chunk
    d = Value(IndexType(), "d")
    step = constant(func, width)
    index = Operation("vector.iota", [d], [Value(VectorType(IndexType(), width), "d_vec")])
    mask = Operation("vector.mask", [d, ub], [Value(MaskType(width), "d_mask")])
    offset = Operation("arith.subi", [d, lb], [Value(IndexType(), "d_off")])
    chunk = [index, mask, offset]
    new_callback_ops: list[Operation] = []
    for op in to_vals:
        stream = op.operands[0]
        if stream.uid not in own:
            new_callback_ops.append(op)                   # an outer value: still popped, once per row
            continue
        vector, lanes = op.results
        if stream is iv:
            replace_uses(callback.body, vector, index.result)
        else:
            buf = Operation("slc.buf_stream", [stream], [Value(StreamType(BufferType(vector.type.element)),
                                                                 f"{stream.hint}_buf")])
            loop.body.ops.insert(loop.body.ops.index(callback), buf)
            buf.parent = loop.body
            pop = to_val(buf.result, callback.body)
            new_callback_ops.append(pop)
            load = Operation("buffer.load", [pop.result, offset.result, mask.result], [Value(vector.type, vector.hint)])
            chunk.append(load)
            replace_uses(callback.body, vector, load.result)
        replace_uses(callback.body, lanes, mask.result)
    rest = [o for o in callback.body.ops if o.name != "slc.to_val"]
    inside = {r.uid for o in chunk + rest for r in o.results}
    hoisted = [o for o in rest if o.name == "vector.broadcast" and o.operands[0].uid not in inside]
    rest = [o for o in rest if o not in hoisted]       # a row-invariant broadcast happens once per row
    new_callback_ops += hoisted
    body = Block(ops=chunk + rest, args=[d])
    core_loop = Operation("scf.for", [lb, ub, step], [], {}, [body])
    for op in body.ops:
        op.parent = body
    callback.body.ops = new_callback_ops + [core_loop]
    core_loop.parent = callback.body
    for op in new_callback_ops:
        op.parent = callback.body
    # the callback now fires once, at the end of the row
    loop.body.ops.remove(callback)
    callback.attrs["event"] = "end"
    parent.ops.insert(parent.ops.index(loop) + 1, callback)
    callback.parent = parent
