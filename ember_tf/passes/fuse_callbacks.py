"""Callback fusion, opt level 3: the per-iteration callback of a loop whose
only child is a dense loop (one fiber per iteration, so its end event fires
exactly once per iteration, right after the child's callbacks) is merged into
that child's end callback: one dispatch per row instead of two (the weighted
bags' running sum of weights joins the row's accumulation)."""

from __future__ import annotations

from ember_tf.ir.core import Func, replace_uses, walk
from ember_tf.passes.decoupling import INVARIANT


def run(func: Func, target) -> None:
    for loop in [op for op in walk(func.body) if op.name == "slc.for"]:
        ops = loop.body.ops
        children = [o for o in ops if o.name == "slc.for"]
        callbacks = [o for o in ops if o.name == "slc.callback"]
        if len(children) != 1 or len(callbacks) != 2:
            continue
        child = children[0]
        first, second = callbacks
        dense = all(v.owner is not None and v.owner.name in INVARIANT for v in child.operands)
        if not dense or first.attrs["event"] != "ite" or second.attrs["event"] != "end":
            continue
        if ops.index(first) > ops.index(child) or ops.index(second) != ops.index(child) + 1:
            continue
        if any(o.name == "slc.callback" for o in walk(child.body)):
            continue
        moved = first.body.ops
        for op in moved:
            op.parent = second.body
        pops = [o for o in second.body.ops if o.name == "slc.to_val"]
        rest = [o for o in second.body.ops if o.name != "slc.to_val"]
        moved_pops = [o for o in moved if o.name == "slc.to_val"]
        moved_rest = [o for o in moved if o.name != "slc.to_val"]
        second.body.ops = moved_pops + _dedupe(pops, moved_pops, second.body) + moved_rest + rest
        ops.remove(first)


def _dedupe(pops, kept, body):
    """A stream both callbacks popped is popped once."""
    have = {op.operands[0].uid: op for op in kept}
    left = []
    for op in pops:
        twin = have.get(op.operands[0].uid)
        if twin is None:
            left.append(op)
            continue
        for old, new in zip(op.results, twin.results):
            replace_uses(body, old, new)
    return left
