"""Shared helpers of the compiler tests: compile an embedding operation through
the whole pipeline into `.daebin` bytes, run it on the emulator from those bytes,
and make small deterministic inputs with the awkward cases (empty bags, repeated
ids, the first and last table rows, tail masks)."""

from __future__ import annotations

import functools

import ml_dtypes
import numpy as np

from ember_tf.compiler import CompileOptions, compile_model
from ember_tf.emulator import Interpreter
from ember_tf.ir import embedding_ops as E
from tests.reference import embedding_ops as ref

MACHINES = ("tmu", "cpu", "gpu")
OPT_LEVELS = (0, 1, 2, 3)
COMBINERS = E.COMBINERS
NP_DTYPES = {"f32": np.float32, "f16": np.float16, "bf16": ml_dtypes.bfloat16, "i32": np.int32, "i64": np.int64}

# 1, 2, 3, 4 and 7 vector chunks of 16 f32 lanes, with and without a tail mask, and a
# row wider than the 8 chunks a row may be unrolled into
DIMS = (16, 20, 37, 64, 100, 130)


def build(op: str, dim: int, combiner: str = "sum", weighted: bool = False, dtype: str = "f32",
          id_dtype: str = "i32", pooling: int | None = None):
    """The scf-level function of one embedding operation."""
    if op == "gather":
        return E.gather(dim, dtype, id_dtype)
    if op == "bag":
        return E.embedding_bag(dim, combiner, weighted, dtype, id_dtype, pooling)
    if op == "segment_sum":
        return E.segment_sum(dim, dtype, id_dtype)
    if op == "spmm_csr":
        return E.spmm_csr(dim, dtype, id_dtype)
    raise AssertionError(op)


@functools.lru_cache(maxsize=None)
def model(op: str, dim: int, target: str = "tmu", opt_level: int = 3, combiner: str = "sum",
          weighted: bool = False, dtype: str = "f32", id_dtype: str = "i32", pooling: int | None = None,
          disable_pass: tuple[str, ...] = ()) -> bytes:
    """The serialized `.daebin` of one compiled operation."""
    func = build(op, dim, combiner, weighted, dtype, id_dtype, pooling)
    data = compile_model(func, CompileOptions(target=target, opt_level=opt_level, disable_pass=disable_pass))
    assert isinstance(data, bytes) and data
    return data


def run(data: bytes, machine: str, inputs: dict, mode: str = "fast") -> tuple[np.ndarray, Interpreter]:
    """Load the model from its bytes, run serving_default, return `out` and the interpreter."""
    it = Interpreter(model_content=data, machine=machine, mode=mode)
    out = it.get_signature_runner("serving_default")(**inputs)["out"]
    return out, it


# ---- inputs -----------------------------------------------------------------------

def table(rng: np.random.Generator, rows: int, dim: int, dtype: str = "f32") -> np.ndarray:
    return rng.standard_normal((rows, dim)).astype(NP_DTYPES[dtype])


def ids(rng: np.random.Generator, rows: int, n: int, id_dtype: str = "i32") -> np.ndarray:
    """Random ids that include the first and last row and a repeated id."""
    out = rng.integers(0, rows, n)
    if n >= 4:
        out[0], out[1], out[2] = 0, rows - 1, out[3]
    return out.astype(NP_DTYPES[id_dtype])


def offsets_from(sizes) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


# bag sizes: empty first and last bags, empty bags in the middle (repeated offsets), a
# single-id bag, and bags up to 5 ids
BAG_SIZES = (0, 3, 0, 0, 1, 5, 2, 4, 0)


def gather_inputs(seed: int, dim: int, dtype: str = "f32", id_dtype: str = "i32", rows: int = 50, n: int = 11):
    rng = np.random.default_rng(seed)
    return {"table": table(rng, rows, dim, dtype), "ids": ids(rng, rows, n, id_dtype)}


def bag_inputs(seed: int, dim: int, weighted: bool, dtype: str = "f32", id_dtype: str = "i32", rows: int = 50,
               sizes=BAG_SIZES, pooling: int | None = None) -> dict:
    """CSR bags of `sizes` (or [B, pooling] when pooling is set). Weighted bags get
    weights in [0.25, 2) (a sum of weights far from zero keeps mean well conditioned),
    a bag whose weights are all zero and one whose weights cancel exactly (div_no_nan)."""
    rng = np.random.default_rng(seed)
    np_id = NP_DTYPES[id_dtype]
    if pooling is not None:
        bags = 6
        feeds = {"table": table(rng, rows, dim, dtype), "indices": ids(rng, rows, bags * pooling, id_dtype)
                 .reshape(bags, pooling)}
        if weighted:
            w = rng.uniform(0.25, 2.0, (bags, pooling))
            w[1] = 0.0                                    # a bag with all-zero weights
            if pooling >= 2:
                w[2, :2] = [0.75, -0.75]                   # a bag whose weights cancel
                w[2, 2:] = 0.0
            feeds["weights"] = w.astype(NP_DTYPES[dtype])
        return feeds
    offsets = offsets_from(sizes)
    feeds = {"table": table(rng, rows, dim, dtype), "indices": ids(rng, rows, int(offsets[-1]), id_dtype),
             "offsets": offsets.astype(np_id)}
    if weighted:
        w = rng.uniform(0.25, 2.0, int(offsets[-1]))
        big = [b for b, s in enumerate(sizes) if s >= 2]
        if len(big) >= 2:
            lo, hi = offsets[big[0]], offsets[big[0] + 1]
            w[lo:hi] = 0.0                                 # all-zero weights
            lo, hi = offsets[big[1]], offsets[big[1] + 1]
            w[lo:hi] = 0.0
            w[lo:lo + 2] = [0.75, -0.75]                   # weights summing to exactly zero
        feeds["weights"] = w.astype(NP_DTYPES[dtype])
    return feeds


def bag_reference(feeds: dict, combiner: str) -> np.ndarray:
    """tests/reference's embedding_lookup_sparse, flattening a [B, L] id matrix into CSR."""
    indices = feeds["indices"]
    weights = feeds.get("weights")
    if indices.ndim == 2:
        bags, pooling = indices.shape
        offsets = np.arange(bags + 1) * pooling
        indices = indices.reshape(-1)
        weights = None if weights is None else weights.reshape(-1)
    else:
        offsets = feeds["offsets"]
    return ref.embedding_bag(feeds["table"], indices, offsets, combiner, weights)


def segment_inputs(seed: int, dim: int, dtype: str = "f32", id_dtype: str = "i32", nodes: int = 30,
                   edges: int = 40) -> dict:
    """Edges with repeated destinations (accumulation) and nodes without incoming edges."""
    rng = np.random.default_rng(seed)
    src = ids(rng, nodes, edges, id_dtype)
    dst = rng.integers(0, nodes // 2, edges)               # half the nodes receive nothing
    if edges >= 3:
        dst[:3] = [0, nodes - 1, 0]
    return {"features": table(rng, nodes, dim, dtype), "src": src, "dst": dst.astype(NP_DTYPES[id_dtype])}


def spmm_inputs(seed: int, dim: int, dtype: str = "f32", id_dtype: str = "i32", k: int = 50) -> dict:
    """A CSR matrix with empty first, middle and last rows."""
    rng = np.random.default_rng(seed)
    splits = offsets_from(BAG_SIZES)
    nnz = int(splits[-1])
    return {"dense": table(rng, k, dim, dtype), "row_splits": splits.astype(NP_DTYPES[id_dtype]),
            "col": ids(rng, k, nnz, id_dtype), "val": rng.uniform(-2.0, 2.0, nnz).astype(NP_DTYPES[dtype])}
