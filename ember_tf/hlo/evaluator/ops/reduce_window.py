"""reduce-window: N inputs then N init values; every window of `window` (size, stride,
pad, lhs_dilate = base dilation, rhs_dilate = window dilation) is reduced with
`to_apply`, as `reduce` would reduce it. Padding and base dilation add init values."""

from __future__ import annotations

import re

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ember_tf.hlo.evaluator.ops.pad import pad_array
from ember_tf.hlo.evaluator.ops.reduce import reduce_last_axis
from ember_tf.hlo.evaluator.registry import register


def parse_window(text: str, rank: int) -> dict[str, list]:
    """`{size=3x3 stride=2x2 pad=0_1x0_1}` -> {"size": [3, 3], "stride": [2, 2], "pad": [(0, 1), (0, 1)], ...},
    with XLA's defaults for what is omitted. The module keeps the text without
    whitespace (`{size=3x3stride=2x2}`), so fields are found by their names."""
    fields = dict(re.findall(r"(size|stride|pad|lhs_dilate|rhs_dilate|rhs_reversal)=([-\d_x]+)", text))
    window = {key: [1] * rank for key in ("size", "stride", "lhs_dilate", "rhs_dilate")}
    window["pad"] = [(0, 0)] * rank
    for key, value in fields.items():
        parts = value.split("x")
        if key == "pad":
            window[key] = [tuple(int(v) for v in p.split("_")) for p in parts]
        else:
            window[key] = [int(p) for p in parts]
    return window


def _windows(x: np.ndarray, init: np.ndarray, window: dict) -> np.ndarray:
    """[output dims..., window elements] of x, padded and dilated with init."""
    padding = [(low, high, dilation - 1) for (low, high), dilation in zip(window["pad"], window["lhs_dilate"])]
    padded = pad_array(x, init, padding)
    extents = [(size - 1) * dilation + 1 for size, dilation in zip(window["size"], window["rhs_dilate"])]
    views = sliding_window_view(padded, extents)
    rank = x.ndim
    picks = tuple(slice(None, None, s) for s in window["stride"]) + tuple(
        slice(None, None, d) for d in window["rhs_dilate"])
    views = views[picks]
    return views.reshape(views.shape[:rank] + (-1,))


@register("reduce-window")
def reduce_window(instruction, operands, context):
    n = len(operands) // 2
    inputs, inits = operands[:n], operands[n:]
    shapes = instruction.shape.tuple_shapes if instruction.shape.is_tuple else (instruction.shape,)
    if any(0 in s.dims for s in shapes):      # no window fits (the verifier allows that, as XLA does)
        empty = tuple(np.zeros(s.dims, s.numpy_dtype) for s in shapes)
        return empty if instruction.shape.is_tuple else empty[0]
    window = parse_window(instruction.attrs["window"], inputs[0].ndim)
    windows = [_windows(x, init, window) for x, init in zip(inputs, inits)]
    result = reduce_last_axis(context, instruction.computation("to_apply"), windows, inits)
    if isinstance(result, tuple):
        return tuple(np.array(r) for r in result)
    return result
