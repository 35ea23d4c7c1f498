"""reduce: N inputs then N init values; `dimensions` are reduced with `to_apply`.

A reducer that is one add/multiply/maximum/minimum/and/or/xor of its parameters runs as
the numpy ufunc's reduce. Any other reducer (variadic ones such as argmax's, for one)
is applied in XLA's sequential order, accumulator first: acc = f(acc, x) for each
reduced element in row-major order, all output positions at once (see `lanes`)."""

from __future__ import annotations

import math

import numpy as np

from ember_tf.hlo.evaluator.ops.combiners import binary_ufunc
from ember_tf.hlo.evaluator.ops.common import wide
from ember_tf.hlo.evaluator.registry import register


def reduce_last_axis(context, reducer: str, inputs, inits):
    """Reduce the last axis of every input with `reducer`, starting from `inits`:
    a tuple of results when there are several inputs."""
    if len(inputs) == 1:
        ufunc = binary_ufunc(context.module, reducer)
        if ufunc is not None:
            x = wide(inputs[0])                      # f16/bf16 sums accumulate in f32
            result = ufunc.reduce(x, axis=-1, dtype=x.dtype, initial=wide(inits[0])[()])
            return np.asarray(result).astype(inputs[0].dtype)
    lane_shape = inputs[0].shape[:-1]
    acc = tuple(np.broadcast_to(i, lane_shape) for i in inits)
    for k in range(inputs[0].shape[-1]):
        acc = context.map_lanes(reducer, list(acc) + [x[..., k] for x in inputs], lane_shape)
        acc = acc if isinstance(acc, tuple) else (acc,)
    return acc[0] if len(inputs) == 1 else acc


@register("reduce")
def reduce(instruction, operands, context):
    n = len(operands) // 2
    inputs, inits = operands[:n], operands[n:]
    dims = instruction.ints("dimensions")
    kept = [d for d in range(inputs[0].ndim) if d not in dims]
    count = math.prod(inputs[0].shape[d] for d in dims)
    # reduced dimensions last and flattened, in row-major order
    flat = [np.transpose(x, kept + list(dims)).reshape([x.shape[d] for d in kept] + [count]) for x in inputs]
    result = reduce_last_axis(context, instruction.computation("to_apply"), flat, inits)
    if isinstance(result, tuple):
        return tuple(np.array(r) for r in result)
    return result
