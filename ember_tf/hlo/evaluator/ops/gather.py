"""gather, with XLA's general semantics (openxla.org/xla/operation_semantics#gather).

Every batch position of `start_indices` (all its dimensions but `index_vector_dim`)
names a slice of `slice_sizes` starting at an operand position: the index vector's
components go to the operand dimensions `start_index_map` names, batching dimensions
take the batch position's own coordinate, and the rest start at 0. Starts are clamped
so each slice fits. The slice's dimensions of size 1 listed in `collapsed_slice_dims`
or `operand_batching_dims` are dropped; the others land at `offset_dims` of the
output, and the batch dimensions fill the remaining output dimensions in order."""

from __future__ import annotations

import numpy as np

from ember_tf.hlo.evaluator.ops.common import optional_ints
from ember_tf.hlo.evaluator.registry import register


def index_vectors(indices: np.ndarray, index_vector_dim: int) -> np.ndarray:
    """The start indices as [batch..., vector], int64 (an index_vector_dim equal to the
    rank means each index is a vector of one)."""
    indices = indices.astype(np.int64)
    if index_vector_dim == indices.ndim:
        return indices[..., None]
    return np.moveaxis(indices, index_vector_dim, -1)


def full_starts(vectors, rank, index_map, operand_batching, indices_batching, index_vector_dim):
    """[batch..., rank] operand start positions (before clamping)."""
    batch_shape = vectors.shape[:-1]
    starts = np.zeros(batch_shape + (rank,), np.int64)
    starts[..., list(index_map)] = vectors
    for operand_dim, indices_dim in zip(operand_batching, indices_batching):
        axis = indices_dim - (indices_dim > index_vector_dim)   # its place among the batch dims
        shape = [1] * len(batch_shape)
        shape[axis] = batch_shape[axis]
        starts[..., operand_dim] = np.arange(batch_shape[axis]).reshape(shape)
    return starts


def window_indices(starts: np.ndarray, sizes) -> tuple[np.ndarray, ...]:
    """Per operand dimension, the index arrays selecting each batch position's window:
    broadcastable to [batch..., sizes...]."""
    batch_rank, rank = starts.ndim - 1, len(sizes)
    out = []
    for d, size in enumerate(sizes):
        offset_shape = [1] * rank
        offset_shape[d] = size
        start = starts[..., d].reshape(starts.shape[:-1] + (1,) * rank)
        out.append(start + np.arange(size).reshape((1,) * batch_rank + tuple(offset_shape)))
    return tuple(out)


@register("gather")
def gather(instruction, operands, context):
    operand, indices = operands
    sizes = instruction.ints("slice_sizes")
    index_vector_dim = instruction.int("index_vector_dim")
    dropped = set(instruction.ints("collapsed_slice_dims")) | set(optional_ints(instruction, "operand_batching_dims"))
    vectors = index_vectors(indices, index_vector_dim)
    starts = full_starts(vectors, operand.ndim, instruction.ints("start_index_map"),
                         optional_ints(instruction, "operand_batching_dims"),
                         optional_ints(instruction, "start_indices_batching_dims"), index_vector_dim)
    starts = np.clip(starts, 0, np.array(operand.shape) - np.array(sizes, np.int64))
    batch_shape = starts.shape[:-1]
    windows = operand[window_indices(starts, sizes)]          # [batch..., sizes...]
    windows = np.broadcast_to(windows, batch_shape + tuple(sizes))   # a scalar operand has no index arrays
    kept = [size for d, size in enumerate(sizes) if d not in dropped]
    windows = windows.reshape(batch_shape + tuple(kept))
    return np.transpose(windows, _output_order(len(batch_shape), instruction.ints("offset_dims")))


def _output_order(batch_rank: int, offset_dims) -> list[int]:
    """For each output dimension, the axis of [batch..., kept window...] it takes."""
    rank = batch_rank + len(offset_dims)
    order, batch, window = [], iter(range(batch_rank)), iter(range(batch_rank, rank))
    for d in range(rank):
        order.append(next(window) if d in offset_dims else next(batch))
    return order
