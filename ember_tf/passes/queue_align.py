"""Queue alignment (Ember's ReplaceToValOps), opt level 3.

A callback that pops the induction value of an outer loop gets it from the
core instead: a counter variable starts at the loop's lower bound and a
callback at the end of every iteration of that loop (after its last child
loop) increments it. The value no longer travels through the data queue, and
the control and data queues stay aligned. Applies to top-level loops with a
constant lower bound (one fiber, so the counter never needs a reset)."""

from __future__ import annotations

from ember_tf.ir.core import Block, Func, IndexType, Operation, Value, replace_uses, walk
from ember_tf.passes.common import constant


def run(func: Func, target) -> None:
    for loop in [op for op in func.body.ops if op.name == "slc.for" and op.attrs.get("width", 1) == 1]:
        _align(func, loop)


def _align(func: Func, loop: Operation) -> None:
    lb = loop.operands[0]
    start = lb.owner.attrs["value"] if lb.owner is not None and lb.owner.name == "arith.constant" else None
    children = [o for o in loop.body.ops if o.name == "slc.for"]
    if start is None or not children:
        return
    iv = loop.body.args[0]
    own_ite = [o for o in loop.body.ops if o.name == "slc.callback" and o.attrs["event"] == "ite"]
    pops = [(cb, o) for cb in walk(loop.body) if cb.name == "slc.callback" and cb not in own_ite
            for o in cb.body.ops if o.name == "slc.to_val" and o.operands[0] is iv]
    if not pops:
        return
    name = f"{iv.hint}_counter"
    decl = Operation("var.decl", [], [], {"name": name, "type": IndexType(), "init": start})
    _prepend(func.body, decl)
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


def _prepend(block: Block, op: Operation) -> None:
    at = next((i for i, o in enumerate(block.ops) if o.name not in ("arith.constant", "tensor.dim", "var.decl")),
              len(block.ops))
    block.ops.insert(at, op)
    op.parent = block
