"""numpy references with TensorFlow's semantics for the operations ember-tf
compiles, checked against TensorFlow itself in test_embedding_ops.py. Compiled
programs are compared with these (and with TensorFlow) in the compiler's tests.

Conventions: bags are CSR (`offsets`, B + 1 entries, = ragged row_splits); a
fixed-length [B, L] id matrix is `offsets = arange(B + 1) * L`. Sums accumulate
in float64 and round once to the table's type, so comparisons use a tolerance.
"""

from __future__ import annotations

import numpy as np


def gather(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """tf.nn.embedding_lookup / tf.gather(axis=0), any id shape; ids must be in range."""
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= len(table)):
        raise IndexError(f"id outside [0, {len(table)})")
    return table[ids]


def clip_rows(rows: np.ndarray, max_norm: float | None) -> np.ndarray:
    """The max_norm of tf.nn.embedding_lookup*: each row scaled to an L2 norm of at most max_norm."""
    if max_norm is None:
        return rows
    wide = rows.astype(np.float64)
    norms = np.sqrt((wide * wide).sum(axis=-1, keepdims=True))
    scale = np.where(norms > max_norm, max_norm / np.where(norms > 0, norms, 1.0), 1.0)
    return (wide * scale).astype(rows.dtype)


def embedding_bag(table: np.ndarray, indices: np.ndarray, offsets: np.ndarray, combiner: str = "sum",
                  weights: np.ndarray | None = None, max_norm: float | None = None) -> np.ndarray:
    """tf.nn.embedding_lookup_sparse over CSR bags: sum, mean or sqrtn, optionally weighted.

    Unweighted: mean = sum / n, sqrtn = sum / sqrt(n). Weighted: sum = sum(w e),
    mean = sum(w e) / sum(w), sqrtn = sum(w e) / sqrt(sum(w^2)), dividing with div_no_nan.
    An empty bag gives zeros."""
    if combiner not in ("sum", "mean", "sqrtn"):
        raise ValueError(combiner)
    offsets = np.asarray(offsets)
    rows = clip_rows(gather(table, indices), max_norm).astype(np.float64)
    w = np.ones(len(indices)) if weights is None else np.asarray(weights, np.float64)
    out = np.zeros((len(offsets) - 1, table.shape[1]), np.float64)
    for b in range(len(offsets) - 1):
        lo, hi = offsets[b], offsets[b + 1]
        if hi == lo:
            continue
        total = (rows[lo:hi] * w[lo:hi, None]).sum(axis=0)
        if combiner == "mean":
            divisor = w[lo:hi].sum()
        elif combiner == "sqrtn":
            divisor = np.sqrt((w[lo:hi] ** 2).sum())
        else:
            divisor = 1.0
        out[b] = total / divisor if divisor != 0 else 0.0
    return out.astype(table.dtype)


def unsorted_segment_sum(data: np.ndarray, segment_ids: np.ndarray, num_segments: int) -> np.ndarray:
    """tf.math.unsorted_segment_sum; segment ids must lie in [0, num_segments)."""
    segment_ids = np.asarray(segment_ids)
    if segment_ids.size and (segment_ids.min() < 0 or segment_ids.max() >= num_segments):
        raise IndexError(f"segment id outside [0, {num_segments})")
    out = np.zeros((num_segments,) + data.shape[1:], np.float64)
    np.add.at(out, segment_ids, data.astype(np.float64))
    return out.astype(data.dtype)


def message_passing(features: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """unsorted_segment_sum(gather(features, src), dst, len(features)): a graph's messages."""
    return unsorted_segment_sum(gather(features, src), dst, len(features))


def spmm_csr(row_splits: np.ndarray, col: np.ndarray, val: np.ndarray, dense: np.ndarray) -> np.ndarray:
    """tf.sparse.sparse_dense_matmul of a CSR matrix [M, K] with dense [K, D]."""
    rows = gather(dense, col).astype(np.float64) * np.asarray(val, np.float64)[:, None]
    out = np.zeros((len(row_splits) - 1, dense.shape[1]), np.float64)
    for i in range(len(row_splits) - 1):
        out[i] = rows[row_splits[i]:row_splits[i + 1]].sum(axis=0)
    return out.astype(dense.dtype)


def ragged_gather(values: np.ndarray, row_splits: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tf.gather(ragged, ids): the selected rows of a ragged tensor, as (values, row_splits)."""
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= len(row_splits) - 1):
        raise IndexError(f"id outside [0, {len(row_splits) - 1})")
    pieces = [values[row_splits[i]:row_splits[i + 1]] for i in ids]
    splits = np.concatenate([[0], np.cumsum([len(p) for p in pieces])]).astype(np.asarray(row_splits).dtype)
    return (np.concatenate(pieces) if pieces else values[:0]), splits
