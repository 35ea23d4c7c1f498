"""Element type changes: convert, bitcast-convert, reduce-precision."""

from __future__ import annotations

import numpy as np

from ember_tf.hlo.evaluator.ops.common import BFLOAT16, contiguous, is_float, unsigned
from ember_tf.hlo.evaluator.registry import register


@register("convert", elementwise=True)
def convert(instruction, operands, context):
    x, to = operands[0], instruction.shape.numpy_dtype
    if to == np.bool_:
        return x != 0                        # NaN is nonzero, so true
    if is_float(x.dtype) and np.issubdtype(to, np.integer):
        return _float_to_integer(x, to)
    if to == BFLOAT16 and x.dtype != np.float32:
        x = x.astype(np.float32)             # XLA rounds through f32 on the way to bf16
    return x.astype(to)


def _float_to_integer(x, to):
    # XLA's conversion truncates toward zero and saturates; NaN becomes 0
    info = np.iinfo(to)
    t = np.trunc(x.astype(np.float64))
    low, high = float(info.min), float(info.max)   # high may round up to 2**63: compared with >=
    inside = np.where((t > low) & (t < high), t, 0).astype(to)
    out = np.where(t >= high, np.array(info.max, to), inside)
    out = np.where(t <= low, np.array(info.min, to), out)
    return np.where(np.isnan(t), np.array(0, to), out)


@register("bitcast-convert", elementwise=True)
def bitcast_convert(instruction, operands, context):
    # a narrower type adds a minor dimension and a wider one consumes it (little-endian);
    # lane-wise this only ever meets equal widths, where `dims` is left alone
    x, to = contiguous(operands[0]), instruction.shape.numpy_dtype
    if to.itemsize == x.dtype.itemsize:
        return x.view(to)
    return x.reshape(-1).view(to).reshape(instruction.shape.dims)


@register("reduce-precision", elementwise=True)
def reduce_precision(instruction, operands, context):
    x = operands[0]
    if x.dtype.itemsize < 4:                 # XLA's algorithm is written for f32 and f64
        y = _reduce_precision(x.astype(np.float32), instruction.int("exponent_bits"),
                              instruction.int("mantissa_bits"))
        return y.astype(x.dtype)
    return _reduce_precision(x, instruction.int("exponent_bits"), instruction.int("mantissa_bits"))


def _reduce_precision(x, exponent_bits: int, mantissa_bits: int):
    """XLA's EmitReducePrecisionIR: round the mantissa to nearest even, then flush
    exponents the narrower format lacks to signed zero or infinity."""
    nbits = 8 * x.dtype.itemsize
    src_mantissa = np.finfo(x.dtype).nmant
    src_exponent = nbits - 1 - src_mantissa
    u = unsigned(x.dtype)
    bits = contiguous(x).view(u).copy()
    if mantissa_bits < src_mantissa:
        shift = src_mantissa - mantissa_bits
        last_bit = u.type(1) << u.type(shift)
        bias = (last_bit >> u.type(1)) - u.type(1) + ((bits & last_bit) >> u.type(shift))
        bits = (bits + bias) & ~(last_bit - u.type(1))
    if exponent_bits < src_exponent:
        exponent_mask = ((u.type(1) << u.type(src_exponent)) - u.type(1)) << u.type(src_mantissa)
        bias = (1 << (src_exponent - 1)) - 1
        reduced_bias = (1 << (exponent_bits - 1)) - 1
        exponent = bits & exponent_mask
        sign = bits & (u.type(1) << u.type(nbits - 1))
        bits = np.where(exponent > u.type((bias + reduced_bias) << src_mantissa), sign | exponent_mask, bits)
        bits = np.where(exponent <= u.type((bias - reduced_bias) << src_mantissa), sign, bits)
    result = np.asarray(bits).view(x.dtype)
    nan_result = x if mantissa_bits > 0 else np.array(np.inf, x.dtype)
    return np.where(np.isnan(x), nan_result, result)
