"""Workloads shared by the benchmarks: inputs for each hand-written kernel
(kernels/*.dasm) and the compiled kernel that does the same work."""

from __future__ import annotations

import argparse

import numpy as np

from ember_tf.ir import embedding_ops
from ember_tf.ir.core import Func

KERNEL_NAMES = ["gather_input", "eb_sum", "eb_mean", "eb_sqrtn", "eb_weighted_sum", "eb_weighted_mean",
                "eb_weighted_sqrtn", "segment_sum", "spmm_csr"]


def inputs(name: str, args: argparse.Namespace, rng: np.random.Generator) -> dict:
    table = rng.standard_normal((args.rows, args.dim)).astype(np.float32)
    lookups = args.batch * args.pooling
    ids = rng.integers(0, args.rows, size=lookups).astype(np.int32)
    if name == "gather_input":
        return {"ids": ids, "table": table}
    if name.startswith("eb_"):
        lengths = rng.integers(0, 2 * args.pooling + 1, size=args.batch)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        feeds = {"table": table, "indices": rng.integers(0, args.rows, size=int(offsets[-1])).astype(np.int32),
                 "offsets": offsets}
        if "weighted" in name:
            feeds["weights"] = rng.random(int(offsets[-1])).astype(np.float32)
        return feeds
    if name == "segment_sum":
        return {"features": table, "src": ids, "dst": rng.integers(0, args.rows, size=lookups).astype(np.int32)}
    if name == "spmm_csr":
        lengths = rng.integers(0, 2 * args.pooling + 1, size=args.batch)
        splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        nnz = int(splits[-1])
        return {"row_splits": splits, "col": rng.integers(0, args.rows, size=nnz).astype(np.int32),
                "val": rng.standard_normal(nnz).astype(np.float32), "dense": table}
    raise ValueError(name)


def compiled_counterpart(name: str, dim: int) -> Func:
    """The embedding_ops kernel that computes what hand-written kernel `name` does."""
    if name == "gather_input":
        return embedding_ops.gather(dim)
    if name.startswith("eb_"):
        combiner = name.rsplit("_", 1)[1]
        return embedding_ops.embedding_bag(dim, combiner, weighted="weighted" in name)
    if name == "segment_sum":
        return embedding_ops.segment_sum(dim)
    if name == "spmm_csr":
        return embedding_ops.spmm_csr(dim)
    raise ValueError(name)
