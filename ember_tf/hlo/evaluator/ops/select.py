"""select and clamp."""

from __future__ import annotations

import numpy as np

from ember_tf.hlo.evaluator.registry import register


@register("select", elementwise=True)
def select(instruction, operands, context):
    predicate, on_true, on_false = operands
    return np.where(predicate, on_true, on_false)


@register("clamp", elementwise=True)
def clamp(instruction, operands, context):
    # min(max(x, low), high), in that order, so NaN and low > high come out as in XLA
    low, x, high = operands
    return np.minimum(np.maximum(x, low), high)
