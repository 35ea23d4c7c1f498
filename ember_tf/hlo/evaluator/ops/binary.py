"""Elementwise binary arithmetic and logic (division and shifts have their own files)."""

from __future__ import annotations

import numpy as np

from ember_tf.hlo.evaluator.ops.common import float_math, is_float
from ember_tf.hlo.evaluator.registry import register

# numpy's bool loops already give XLA's pred rules (add/maximum are or, multiply/minimum are
# and), its integer loops wrap around like XLA's, and np.maximum/np.minimum propagate NaN.
_FUNCTIONS = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "maximum": np.maximum,
    "minimum": np.minimum, "atan2": np.arctan2, "and": np.bitwise_and, "or": np.bitwise_or,
    "xor": np.bitwise_xor,
}


@register(*_FUNCTIONS, elementwise=True)
def binary(instruction, operands, context):
    x, y = operands     # exactly two: never a third positional argument, which a ufunc takes as `out`
    return float_math(_FUNCTIONS[instruction.opcode], instruction.shape.numpy_dtype, x, y)


@register("power", elementwise=True)
def power(instruction, operands, context):
    base, exponent = operands
    if is_float(base.dtype):
        return float_math(np.power, instruction.shape.numpy_dtype, base, exponent)
    return _integer_power(base, exponent)


def _integer_power(base, exponent):
    # XLA's square-and-multiply over the exponent's low 6 bits; a negative exponent gives
    # 0, or 1 when the base is 1 (ElementalIrEmitter::EmitIntegerPow)
    result = np.ones_like(base)
    square, bits = base.copy(), exponent
    for _ in range(6):
        result = np.where((bits & 1) == 1, result * square, result)
        square = square * square
        bits = bits >> 1
    negative = np.where(base == 1, np.ones_like(base), np.zeros_like(base))
    return np.where(exponent >= 0, result, negative)
