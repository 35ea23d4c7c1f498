"""sort: N operands of one shape sorted together along `dimensions={d}` by the comparator
`to_apply(a0_lhs, a0_rhs, a1_lhs, a1_rhs, ...) -> pred` ("lhs sorts before rhs").

The comparator is evaluated for every pair of elements of a row at once (in blocks, to
bound memory): an element's rank is the number of elements before it, plus the number
of equivalent ones earlier in the row, which makes the sort stable. That is O(n^2)
comparisons per row of n, vectorized; rows of thousands stay fast enough."""

from __future__ import annotations

import numpy as np

from ember_tf.hlo.evaluator.errors import HloEvaluationError
from ember_tf.hlo.evaluator.registry import register

_BLOCK_LANES = 1 << 20


@register("sort")
def sort(instruction, operands, context):
    axis = instruction.ints("dimensions")[0]
    if operands[0].size == 0:                 # nothing to order
        return operands[0] if len(operands) == 1 else tuple(operands)
    rows = [np.moveaxis(x, axis, -1) for x in operands]
    shape = rows[0].shape
    rows = [r.reshape(-1, shape[-1]) for r in rows]
    ranks = _ranks(context, instruction.computation("to_apply"), rows)
    if not np.array_equal(np.sort(ranks, axis=1), np.broadcast_to(np.arange(shape[-1]), ranks.shape)):
        raise HloEvaluationError(f"{instruction.name}: the sort comparator is not a strict weak order")
    out = []
    for r in rows:
        result = np.empty_like(r)
        np.put_along_axis(result, ranks, r, axis=1)
        out.append(np.moveaxis(result.reshape(shape), -1, axis))
    return out[0] if len(out) == 1 else tuple(out)


def _ranks(context, comparator: str, rows) -> np.ndarray:
    """[row, i] -> the position element i of its row sorts to."""
    count, n = rows[0].shape
    ranks = np.zeros((count, n), np.int64)
    block = max(1, _BLOCK_LANES // max(1, count * n))
    earlier = np.arange(n)[None, :] < np.arange(n)[:, None]      # [i, j]: j comes before i
    for start in range(0, n, block):
        i = slice(start, min(n, start + block))
        # less[r, i, j]: element j sorts before element i; greater: i before j
        less = _compare(context, comparator, [r[:, None, :] for r in rows], [r[:, i, None] for r in rows])
        greater = _compare(context, comparator, [r[:, i, None] for r in rows], [r[:, None, :] for r in rows])
        equivalent_earlier = ~less & ~greater & earlier[i][None]
        ranks[:, i] = less.sum(axis=2) + equivalent_earlier.sum(axis=2)
    return ranks


def _compare(context, comparator, lhs, rhs):
    args = [a for pair in zip(lhs, rhs) for a in pair]
    shape = np.broadcast_shapes(*(a.shape for a in args))
    return np.asarray(context.map_lanes(comparator, args, shape), bool)
