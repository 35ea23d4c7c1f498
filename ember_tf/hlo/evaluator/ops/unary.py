"""Elementwise unary ops. Float math runs at f32 precision or better (see common.wide)."""

from __future__ import annotations

import math

import numpy as np

from ember_tf.hlo.evaluator.ops.common import float_math, is_float, wide
from ember_tf.hlo.evaluator.registry import register


def _erf():
    try:
        from scipy.special import erf   # not a dependency of ember-tf; used when present
        return erf
    except ImportError:
        return np.vectorize(math.erf, otypes=[np.float64])   # per element: the slow path


def _logistic(x):
    # the two forms keep exp from overflowing on either side
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _round_away_from_zero(x):
    t = np.trunc(x)
    return np.where(np.abs(x - t) >= 0.5, t + np.sign(x), t)


def _sign(x):
    # keeps -0.0 and NaN as they are, as XLA does
    return np.where(x == 0, x, np.sign(x)) if is_float(x.dtype) else np.sign(x)


_FLOAT_FUNCTIONS = {
    "exponential": np.exp, "exponential-minus-one": np.expm1, "log": np.log, "log-plus-one": np.log1p,
    "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x), "cbrt": np.cbrt, "tanh": np.tanh,
    "logistic": _logistic, "sine": np.sin, "cosine": np.cos, "tan": np.tan, "floor": np.floor,
    "ceil": np.ceil, "round-nearest-even": np.rint, "round-nearest-afz": _round_away_from_zero,
}
# also defined on integers (and wrapping around at INT_MIN, as XLA does)
_NUMBER_FUNCTIONS = {"abs": np.abs, "negate": np.negative, "sign": _sign}


@register(*_FLOAT_FUNCTIONS, elementwise=True)
def float_function(instruction, operands, context):
    (x,) = operands
    return float_math(_FLOAT_FUNCTIONS[instruction.opcode], instruction.shape.numpy_dtype, x)


@register("erf", elementwise=True)
def erf(instruction, operands, context):
    (x,) = operands
    return float_math(_erf(), instruction.shape.numpy_dtype, x)


@register(*_NUMBER_FUNCTIONS, elementwise=True)
def number_function(instruction, operands, context):
    (x,) = operands
    return float_math(_NUMBER_FUNCTIONS[instruction.opcode], instruction.shape.numpy_dtype, x)


@register("is-finite", elementwise=True)
def is_finite(instruction, operands, context):
    return np.isfinite(wide(operands[0]))


@register("not", elementwise=True)
def not_(instruction, operands, context):
    x = operands[0]
    return np.logical_not(x) if x.dtype == np.bool_ else np.invert(x)
