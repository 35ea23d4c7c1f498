"""Helpers shared by the opcode files."""

from __future__ import annotations

import numpy as np

from ember_tf.hlo.module import numpy_dtype

BFLOAT16 = numpy_dtype("bf16")
_NARROW_FLOATS = (np.dtype(np.float16), BFLOAT16)


def optional_ints(instruction, key: str) -> tuple[int, ...]:
    """An integer-list attribute that HLO omits when empty."""
    return instruction.ints(key) if instruction.has(key) else ()


def is_float(dtype) -> bool:
    return np.dtype(dtype) == BFLOAT16 or np.issubdtype(dtype, np.floating)


def is_signed(dtype) -> bool:
    return np.issubdtype(dtype, np.signedinteger)


def wide(x: np.ndarray) -> np.ndarray:
    """f16 and bf16 widened to f32: numpy lacks (or is slow at) their math, and XLA's CPU
    backend computes them in f32 and rounds the result too."""
    return x.astype(np.float32) if x.dtype in _NARROW_FLOATS else x


def float_math(fn, out_dtype, *xs):
    """fn applied to floats at f32 precision or better, rounded to `out_dtype`.

    A ufunc gets exactly its `nin` inputs: one more would land in its `out=` slot and
    overwrite that operand (possibly the caller's input array) in place."""
    if isinstance(fn, np.ufunc) and len(xs) != fn.nin:
        from ember_tf.hlo.evaluator.errors import HloEvaluationError

        raise HloEvaluationError(f"{fn.__name__} takes {fn.nin} operand(s), not {len(xs)}")
    return np.asarray(fn(*(wide(x) for x in xs))).astype(out_dtype, copy=False)


def unsigned(dtype) -> np.dtype:
    """The unsigned integer type of the same width, for bit-pattern arithmetic."""
    return np.dtype(f"u{np.dtype(dtype).itemsize}")


def signed(dtype) -> np.dtype:
    return np.dtype(f"i{np.dtype(dtype).itemsize}")


def contiguous(x: np.ndarray) -> np.ndarray:
    """A C-contiguous array of the same shape (np.ascontiguousarray turns 0-d into 1-d)."""
    return x if x.flags.c_contiguous else x.copy()
