"""Bit-level integer ops: shifts, popcnt, count-leading-zeros.

A shift by the type's width or more (the amount read as unsigned) gives 0, or the sign
fill for shift-right-arithmetic, as XLA's CPU backend defines (SaturateShiftIfNecessary)."""

from __future__ import annotations

import numpy as np

from ember_tf.hlo.evaluator.ops.common import contiguous, signed, unsigned
from ember_tf.hlo.evaluator.registry import register


def _amount(x, y):
    """The shift amount made safe for numpy, and where it is out of range."""
    width = 8 * x.dtype.itemsize
    too_far = y.astype(unsigned(y.dtype)) >= width
    return np.where(too_far, np.zeros_like(y), y), too_far


@register("shift-left", elementwise=True)
def shift_left(instruction, operands, context):
    x, y = operands
    amount, too_far = _amount(x, y)
    return np.where(too_far, np.zeros_like(x), np.left_shift(x, amount))


@register("shift-right-logical", elementwise=True)
def shift_right_logical(instruction, operands, context):
    x, y = operands
    amount, too_far = _amount(x, y)
    u = unsigned(x.dtype)
    shifted = np.right_shift(x.astype(u), amount.astype(u)).astype(x.dtype)
    return np.where(too_far, np.zeros_like(x), shifted)


@register("shift-right-arithmetic", elementwise=True)
def shift_right_arithmetic(instruction, operands, context):
    x, y = operands
    amount, too_far = _amount(x, y)
    s = signed(x.dtype)
    xs = x.astype(s)
    shifted = np.right_shift(xs, amount.astype(s))
    fill = np.where(xs < 0, np.array(-1, s), np.array(0, s))
    return np.where(too_far, fill, shifted).astype(x.dtype)


_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)


@register("popcnt", elementwise=True)
def popcnt(instruction, operands, context):
    x = contiguous(operands[0])
    as_bytes = x.view(np.uint8).reshape(x.shape + (x.dtype.itemsize,))
    return _BYTE_POPCOUNT[as_bytes].sum(axis=-1).astype(x.dtype)


@register("count-leading-zeros", elementwise=True)
def count_leading_zeros(instruction, operands, context):
    x = operands[0]
    width = 8 * x.dtype.itemsize
    v = x.astype(unsigned(x.dtype))
    count = np.zeros(x.shape, np.int64)
    step = width // 2
    while step:                     # binary search for the highest set bit
        empty = (v >> (width - step)) == 0
        count += np.where(empty, step, 0)
        v = np.where(empty, v << step, v)
        step //= 2
    count += (v >> (width - 1)) == 0    # all zero: one more
    return count.astype(x.dtype)
