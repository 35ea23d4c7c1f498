"""compare: `direction` EQ/NE/LT/LE/GT/GE. Floats compare as IEEE (NaN is unordered and
unequal to everything) unless `type=TOTALORDER`, which orders
-NaN < -inf < ... < -0 < +0 < ... < inf < NaN, as sort comparators need."""

from __future__ import annotations

import numpy as np

from ember_tf.hlo.evaluator.ops.common import contiguous, is_float, signed
from ember_tf.hlo.evaluator.registry import register

_DIRECTIONS = {"EQ": np.equal, "NE": np.not_equal, "LT": np.less, "LE": np.less_equal,
               "GT": np.greater, "GE": np.greater_equal}


def total_order_key(x: np.ndarray) -> np.ndarray:
    """Signed integers that order like `x` under the total order: negative floats have
    their magnitude bits flipped so that larger magnitudes sort lower."""
    s = signed(x.dtype)
    bits = contiguous(x).view(s)
    magnitude = np.array(np.iinfo(s).max, s)
    return np.where(bits < 0, bits ^ magnitude, bits)


@register("compare", elementwise=True)
def compare(instruction, operands, context):
    x, y = operands
    if instruction.attrs.get("type") == "TOTALORDER" and is_float(x.dtype):
        x, y = total_order_key(x), total_order_key(y)
    return _DIRECTIONS[instruction.attrs["direction"]](x, y)
