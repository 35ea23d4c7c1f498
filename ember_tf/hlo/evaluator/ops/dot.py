"""dot: a batched matrix product. The result's dimensions are the batch dimensions, then
the lhs's free dimensions, then the rhs's, each group in operand order."""

from __future__ import annotations

import math

import numpy as np

from ember_tf.hlo.evaluator.ops.common import is_float, optional_ints
from ember_tf.hlo.evaluator.registry import register


def _as_matrices(x, batch, contracting, contract_last: bool):
    """x transposed and reshaped to [batch, free, contracting] (or [batch, contracting, free])."""
    free = [d for d in range(x.ndim) if d not in batch and d not in contracting]
    order = list(batch) + (free + list(contracting) if contract_last else list(contracting) + free)
    sizes = [math.prod(x.shape[d] for d in group) for group in (batch, free, contracting)]
    shape = sizes if contract_last else [sizes[0], sizes[2], sizes[1]]
    return np.transpose(x, order).reshape(shape), [x.shape[d] for d in free]


def _accumulator(out_dtype):
    # f16/bf16 accumulate in f32 as XLA's CPU backend does; integers wrap at the output width
    if is_float(out_dtype):
        return np.float64 if out_dtype == np.float64 else np.float32
    return np.int64


@register("dot")
def dot(instruction, operands, context):
    lhs, rhs = operands
    out_dtype = instruction.shape.numpy_dtype
    acc = _accumulator(out_dtype)
    a, lhs_free = _as_matrices(lhs.astype(acc), optional_ints(instruction, "lhs_batch_dims"),
                               optional_ints(instruction, "lhs_contracting_dims"), contract_last=True)
    b, rhs_free = _as_matrices(rhs.astype(acc), optional_ints(instruction, "rhs_batch_dims"),
                               optional_ints(instruction, "rhs_contracting_dims"), contract_last=False)
    batch = [lhs.shape[d] for d in optional_ints(instruction, "lhs_batch_dims")]
    product = np.matmul(a, b).reshape(batch + lhs_free + rhs_free)
    return product != 0 if out_dtype == np.bool_ else product.astype(out_dtype)
