"""Queue alignment (Ember's ReplaceToValOps), opt level 3.

A callback that pops the induction value of an outer loop L gets it from the
core instead: a counter variable holds it and a callback at the end of every
iteration of L (after its last child loop) increments it. The value no longer
travels through the data queue, and the control and data queues stay aligned.
The counter starts at L's lower bound: set once in the prologue for a
top-level loop with a constant bound, else at the start of every fiber of L by
its parent's per-iteration callback (which pops the bound if it is a stream,
as for the per-core shares of split_cores)."""

from __future__ import annotations

from ember_tf.ir.core import Block, Func, IndexType, Operation, Value, constant_value, replace_uses, walk
from ember_tf.passes.common import constant, unique_var_name
from ember_tf.passes.decoupling import materialize_streams


def run(func: Func, target) -> None:
    for loop in [op for op in walk(func.body) if op.name == "slc.for" and op.attrs.get("width", 1) == 1]:
        _align(func, loop)


def _align(func: Func, loop: Operation) -> None:
    lb = loop.operands[0]
    top_level = loop.parent is func.body
    parent_loop = _owner(func, loop.parent)
    if not any(o.name == "slc.for" for o in loop.body.ops):
        return
    if top_level and constant_value(lb) is None:
        return
    if not top_level and parent_loop is None:
        return
    iv = loop.body.args[0]
    own_ite = [o for o in loop.body.ops if o.name == "slc.callback" and o.attrs["event"] == "ite"]
    pops = [(cb, o) for cb in walk(loop.body) if cb.name == "slc.callback" and cb not in own_ite
            for o in cb.body.ops if o.name == "slc.to_val" and o.operands[0] is iv]
    if not pops:
        return
    init = constant_value(lb) if top_level else 0
    if "share_of" in loop.attrs:
        # split_cores' copies run on different cores: one counter (one register) serves them all
        name = f"{iv.hint}_counter_of_{loop.attrs['share_of']}"
        if not any(o.name == "var.decl" and o.attrs["name"] == name for o in func.body.ops):
            _prepend(func.body, Operation("var.decl", [], [], {"name": name, "type": IndexType(), "init": init}))
    else:
        name = unique_var_name(func, f"{iv.hint}_counter")
        _prepend(func.body, Operation("var.decl", [], [], {"name": name, "type": IndexType(), "init": init}))
    if not top_level:
        _reset_per_fiber(parent_loop, loop, name, lb)
    for cb, pop in pops:
        get = Operation("var.get", [], [Value(IndexType(), iv.hint)], {"var": name})
        cb.body.ops[cb.body.ops.index(pop)] = get
        get.parent = cb.body
        replace_uses(cb.body, pop.results[0], get.result)
    one = constant(func, 1)
    current = Operation("var.get", [], [Value(IndexType(), iv.hint)], {"var": name})
    bumped = Operation("arith.addi", [current.result, one], [Value(IndexType(), f"{iv.hint}_next")])
    store = Operation("var.set", [bumped.result], [], {"var": name})
    increment = Operation("slc.callback", [], [], {"event": "end"}, [Block(ops=[current, bumped, store])])
    for op in increment.body.ops:
        op.parent = increment.body
    loop.body.ops.append(increment)
    increment.parent = loop.body


def _reset_per_fiber(parent: Operation, loop: Operation, name: str, lb: Value) -> None:
    """counter = lb in the parent's per-iteration callback, which fires before the loop's fiber."""
    callback = next((o for o in parent.body.ops if o.name == "slc.callback" and o.attrs["event"] == "ite"), None)
    if callback is None:
        callback = Operation("slc.callback", [], [], {"event": "ite"}, [Block()])
        parent.body.ops.insert(parent.body.ops.index(loop), callback)
        callback.parent = parent.body
    reset = Operation("var.set", [lb], [], {"var": name})
    reset.parent = callback.body
    callback.body.ops.append(reset)
    materialize_streams(callback)


def _owner(func: Func, block: Block) -> Operation | None:
    """The slc.for whose body is `block`."""
    return next((op for op in walk(func.body) if op.name == "slc.for" and op.body is block), None)


def _prepend(block: Block, op: Operation) -> None:
    at = next((i for i, o in enumerate(block.ops) if o.name not in ("arith.constant", "tensor.dim", "var.decl")),
              len(block.ops))
    block.ops.insert(at, op)
    op.parent = block
