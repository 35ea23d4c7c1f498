"""pad: per dimension `low_high_interior`. Interior padding goes between elements;
negative low or high padding removes elements from that edge."""

from __future__ import annotations

import numpy as np

from ember_tf.hlo.evaluator.registry import register


def pad_array(x: np.ndarray, value: np.ndarray, padding) -> np.ndarray:
    """x dilated by `interior`, then grown (or cut, if negative) by `low` and `high`."""
    dilated_shape = [max(0, n + (n - 1) * interior) for n, (_, _, interior) in zip(x.shape, padding)]
    dilated = np.full(dilated_shape, value, x.dtype)
    dilated[tuple(slice(None, None, interior + 1) for _, _, interior in padding)] = x
    out_shape = [low + n + high for n, (low, high, _) in zip(dilated_shape, padding)]
    out = np.full(out_shape, value, x.dtype)
    source, target = [], []
    for n, (low, high, _) in zip(dilated_shape, padding):
        start = max(0, -low)
        stop = max(start, n - max(0, -high))
        source.append(slice(start, stop))
        target.append(slice(max(0, low), max(0, low) + stop - start))
    out[tuple(target)] = dilated[tuple(source)]
    return out


@register("pad")
def pad(instruction, operands, context):
    return pad_array(operands[0], operands[1], instruction.padding())
