"""divide and remainder. Integers follow XLA's CPU rules (ElementalIrEmitter): division
truncates toward zero, x / 0 is -1 (all bits set), INT_MIN / -1 is INT_MIN, x % 0 is x,
INT_MIN % -1 is 0; the remainder takes the dividend's sign, as C's does."""

from __future__ import annotations

import numpy as np

from ember_tf.hlo.evaluator.ops.common import float_math, is_float, is_signed
from ember_tf.hlo.evaluator.registry import register


def _safe_divisor(x, y):
    """y with the divisors C leaves undefined replaced by 1, and the masks of where."""
    by_zero = y == 0
    overflow = np.zeros_like(by_zero)
    if is_signed(x.dtype):
        overflow = (x == np.iinfo(x.dtype).min) & (y == -1)
    return np.where(by_zero | overflow, np.ones_like(y), y), by_zero, overflow


@register("divide", elementwise=True)
def divide(instruction, operands, context):
    x, y = operands
    if is_float(x.dtype):
        return float_math(np.true_divide, instruction.shape.numpy_dtype, x, y)
    safe, by_zero, overflow = _safe_divisor(x, y)
    remainder = np.fmod(x, safe)
    quotient = (x - remainder) // safe      # exact, so floor and truncation agree
    quotient = np.where(overflow, x, quotient)
    return np.where(by_zero, np.array(-1).astype(x.dtype), quotient)


@register("remainder", elementwise=True)
def remainder(instruction, operands, context):
    x, y = operands
    if is_float(x.dtype):
        return float_math(np.fmod, instruction.shape.numpy_dtype, x, y)
    safe, by_zero, overflow = _safe_divisor(x, y)
    result = np.where(overflow, np.zeros_like(x), np.fmod(x, safe))
    return np.where(by_zero, x, result)
