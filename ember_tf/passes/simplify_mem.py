"""Memory simplification (Ember's SimplifyMemOps), opt level 3: a gather or
scatter whose last index is a vector of consecutive values (`vector.iota x`)
becomes a contiguous masked load or store at x; iotas left unused go away."""

from __future__ import annotations

from ember_tf.ir.core import Func, walk


def run(func: Func, target) -> None:
    for op in list(walk(func.body)):
        if op.name in ("vector.gather", "vector.scatter"):
            *head, index, mask = op.operands
            if index.owner is not None and index.owner.name == "vector.iota":
                op.name = "vector.load" if op.name == "vector.gather" else "vector.store"
                op.operands = [*head, index.owner.operands[0], mask]
    used = {v.uid for op in walk(func.body) for v in op.operands}
    for op in list(walk(func.body)):
        if op.name == "vector.iota" and op.result.uid not in used:
            op.parent.ops.remove(op)
