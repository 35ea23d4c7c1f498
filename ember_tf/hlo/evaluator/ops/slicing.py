"""slice, dynamic-slice, dynamic-update-slice. Dynamic start indices are clamped so the
slice (or the update) fits in the operand, as XLA specifies."""

from __future__ import annotations

import numpy as np

from ember_tf.hlo.evaluator.registry import register


@register("slice")
def slice_(instruction, operands, context):
    return operands[0][tuple(slice(start, limit, stride) for start, limit, stride in instruction.slices())]


def _starts(indices, operand_shape, sizes):
    # one scalar per dimension; old HLO passed a single index vector instead
    if len(indices) == 1 and indices[0].ndim == 1:
        indices = list(indices[0])
    return [int(np.clip(int(i), 0, dim - size)) for i, dim, size in zip(indices, operand_shape, sizes)]


@register("dynamic-slice")
def dynamic_slice(instruction, operands, context):
    x, sizes = operands[0], instruction.ints("dynamic_slice_sizes")
    starts = _starts(operands[1:], x.shape, sizes)
    return x[tuple(slice(s, s + n) for s, n in zip(starts, sizes))]


@register("dynamic-update-slice")
def dynamic_update_slice(instruction, operands, context):
    x, update = operands[0], operands[1]
    starts = _starts(operands[2:], x.shape, update.shape)
    out = x.copy()
    out[tuple(slice(s, s + n) for s, n in zip(starts, update.shape))] = update
    return out
