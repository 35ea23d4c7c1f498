"""scatter, with XLA's general semantics (openxla.org/xla/operation_semantics#scatter).

The updates' dimensions not in `update_window_dims` are scatter dimensions, matching
the dimensions of `scatter_indices` other than `index_vector_dim`, in order. Each
scatter position's index vector gives a window start in the operand (through
`scatter_dims_to_operand_dims`, and through the batching dimensions as in gather);
the window dimensions of the update map, in order, to the operand dimensions not in
`inserted_window_dims` or `input_batching_dims`. A window that does not fit entirely
in the operand is skipped (XLA does not clamp here, unlike gather). Each update
element is combined into its target with `to_apply(current, update)`.

Variadic scatter (N operands, N updates) combines all N at once."""

from __future__ import annotations

import math

import numpy as np

from ember_tf.hlo.evaluator.ops.combiners import binary_ufunc
from ember_tf.hlo.evaluator.ops.common import optional_ints
from ember_tf.hlo.evaluator.ops.gather import full_starts, index_vectors, window_indices
from ember_tf.hlo.evaluator.registry import register


@register("scatter")
def scatter(instruction, operands, context):
    n = (len(operands) - 1) // 2
    targets, indices, updates = operands[:n], operands[n], operands[n + 1:]
    flat, kept = _flat_targets(instruction, targets[0].shape, indices, updates[0].shape)
    flat_updates = [_updates_in_order(instruction, u)[kept].reshape(-1) for u in updates]
    if flat.size == 0:
        return targets[0] if n == 1 else tuple(targets)
    outs = [t.copy().reshape(-1) for t in targets]
    combiner = instruction.computation("to_apply")
    ufunc = binary_ufunc(context.module, combiner) if n == 1 else None
    if ufunc is not None:
        ufunc.at(outs[0], flat, flat_updates[0])    # numpy's unbuffered in-place accumulate
    else:
        _combine_in_order(context, combiner, outs, flat, flat_updates)
    outs = [o.reshape(t.shape) for o, t in zip(outs, targets)]
    return outs[0] if n == 1 else tuple(outs)


def _window_sizes(instruction, rank: int, update_shape) -> list[int]:
    """The update window's extent along every operand dimension (1 where inserted)."""
    window_dims = instruction.ints("update_window_dims")
    inserted = set(instruction.ints("inserted_window_dims")) | set(optional_ints(instruction, "input_batching_dims"))
    extents = iter(update_shape[d] for d in window_dims)
    return [1 if d in inserted else next(extents) for d in range(rank)]


def _flat_targets(instruction, operand_shape, indices, update_shape):
    """The flat operand position of every update element of the kept scatter positions
    (those whose whole window is in bounds), in scatter order, and the kept mask."""
    index_vector_dim = instruction.int("index_vector_dim")
    sizes = _window_sizes(instruction, len(operand_shape), update_shape)
    starts = full_starts(index_vectors(indices, index_vector_dim), len(operand_shape),
                         instruction.ints("scatter_dims_to_operand_dims"),
                         optional_ints(instruction, "input_batching_dims"),
                         optional_ints(instruction, "scatter_indices_batching_dims"), index_vector_dim)
    starts = starts.reshape(math.prod(starts.shape[:-1]), len(operand_shape))
    kept = np.all((starts >= 0) & (starts <= np.array(operand_shape, np.int64) - np.array(sizes, np.int64)), axis=1)
    if not operand_shape:                       # a scalar operand: every update targets it
        return np.zeros(int(kept.sum()), np.int64), kept
    positions = np.broadcast_arrays(*window_indices(starts[kept], sizes))
    return np.ravel_multi_index(positions, operand_shape).reshape(-1), kept


def _updates_in_order(instruction, updates):
    """Updates as [scatter positions, window elements], both in row-major order."""
    window_dims = instruction.ints("update_window_dims")
    scatter_dims = [d for d in range(updates.ndim) if d not in window_dims]
    moved = np.transpose(updates, scatter_dims + list(window_dims))
    count = math.prod(updates.shape[d] for d in scatter_dims)
    return moved.reshape(count, math.prod(updates.shape[d] for d in window_dims))


def _combine_in_order(context, combiner, outs, flat, updates) -> None:
    """Apply the combiner in rounds: round r takes every target's r-th update (in scatter
    order), so no round touches a target twice and each round is one lane-wise call."""
    order = np.argsort(flat, kind="stable")
    sorted_flat = flat[order]
    first = np.r_[True, sorted_flat[1:] != sorted_flat[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(flat)), 0))
    ranks = np.empty_like(order)
    ranks[order] = np.arange(len(flat)) - group_start
    for r in range(int(ranks.max()) + 1):
        chosen = ranks == r
        where = flat[chosen]
        args = [o[where] for o in outs] + [u[chosen] for u in updates]
        result = context.map_lanes(combiner, args, where.shape)
        for o, value in zip(outs, result if isinstance(result, tuple) else (result,)):
            o[where] = value
