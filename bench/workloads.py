"""Workloads shared by the benchmarks: inputs for each hand-written kernel
(kernels/*.dasm) and the compiled kernel that does the same work, and realistic
recommendation workloads for the table-to-core planner.

Recommendation workloads (facts: /work/shared/reference/planning.md, "Workloads")
--------------------------------------------------------------------------------
A `Workload` is a set of `TableSpec`s (rows, dim, pooling = ids per sample, i.e. the
multi-hot size), a batch and an id distribution `alpha` (None = uniform ids).

- `criteo_kaggle()`: the 26 Criteo Kaggle categorical features (dlrm preprocessing,
  `CRITEO_KAGGLE_ROWS`, 33.76 M rows uncapped), one-hot (pooling 1).
- `mlperf_dcnv2()`: MLPerf DLRM-DCNv2 (`MLPERF_DCNV2_ROWS`, 204.2 M rows uncapped,
  about 97 GiB f32 at dim 128) with its multi-hot sizes `MLPERF_DCNV2_HOTNESS`
  (214 lookups per sample).
- `extreme_imbalance()`: one huge table (at the cap) and 40 tiny ones (4-200 rows,
  fixed seed), one-hot: the Ascend DLRM "extremely unbalanced table sizes" case.
- `zipf_workloads(base)`: `base` with alpha 1.05, 1.15 and 1.3 (FBGEMM's CI uses 1.15).

Scaled to fit memory: rows capped, distribution kept. Each table has
min(rows, row_cap) rows, so the small tables stay exact and the big ones sit at the
cap; the number of tables and their pooling factors are the real ones, dim is a
parameter (MLPerf's is 128). Defaults (row_cap 100,000, dim 64, batch 256, f32),
sized for the emulator on a 2-core machine with 24 GiB:

    workload            tables  rows      table bytes   lookups/sample
    criteo_kaggle         26    840,543   215 MB        26
    mlperf_dcnv2          26    921,198   236 MB        214
    extreme_imbalance     41    104,014   27 MB         41

Ids (`ids`, `feeds`) are generated as FBGEMM's TBE benchmark does. alpha <= 1 (or
None): uniform ids, each bag sorted. alpha > 1: np.random.zipf(alpha) with 3x
oversampling per bag, mapped (x - 1) mod E; each bag keeps its L smallest unique ids
(padded with further draws in the rare case of fewer than L unique), then the id
space is permuted randomly, once per table, so the hot ids are scattered over the
table. Every bag holds exactly L ids; the CSR form is (indices int32, offsets int32
of length batch + 1). Keeping the L smallest of 3L draws makes the ids more skewed
than Zipf(alpha) itself (one-hot: the minimum of 3 draws); for large bags at high
alpha it also pushes ids into the tail (few unique draws to choose from), so the
top-1% share is not always monotonic in alpha there (`top_share` measures it).

`tensorflow_model` builds the matching TensorFlow model (a tf.Module, one
SparseSegmentSum per table over its CSR ids) that `tf.saved_model.save` can save.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re

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


# --- Recommendation workloads for the table-to-core planner -----------------------------------

CRITEO_KAGGLE_ROWS = (1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194,
                      27, 14992, 5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572)
MLPERF_DCNV2_ROWS = (40000000, 39060, 17295, 7424, 20265, 3, 7122, 1543, 63, 40000000, 3067956, 405282,
                     10, 2209, 11938, 155, 4, 976, 14, 40000000, 40000000, 40000000, 590152, 12973, 108, 36)
MLPERF_DCNV2_HOTNESS = (3, 2, 1, 2, 6, 1, 1, 1, 1, 7, 3, 8, 1, 6, 9, 5, 1, 1, 1, 12, 100, 27, 10, 3, 1, 1)
ZIPF_ALPHAS = (1.05, 1.15, 1.3)

DEFAULT_ROW_CAP = 100_000
DEFAULT_DIM = 64
DEFAULT_BATCH = 256


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """One embedding table: `rows` x `dim` (f32), `pooling` ids per sample (multi-hot size)."""
    name: str
    rows: int
    dim: int
    pooling: int

    @property
    def nbytes(self) -> int:
        return self.rows * self.dim * 4


@dataclasses.dataclass(frozen=True)
class Workload:
    """Tables looked up together, `batch` samples, ids Zipf(`alpha`) or uniform (None).
    `hot_seed`: Zipf ranks map to ids by a fixed bijection per (hot_seed, table), so the same
    ids stay popular from batch to batch, as in a deployed model (None: a fresh random
    permutation per batch, FBGEMM's benchmark)."""
    name: str
    tables: tuple[TableSpec, ...]
    batch: int
    alpha: float | None = None
    hot_seed: int | None = None

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tables)

    @property
    def lookups_per_sample(self) -> int:
        return sum(t.pooling for t in self.tables)


def _capped(rows, row_cap: int | None) -> list[int]:
    return [int(r) if row_cap is None else min(int(r), int(row_cap)) for r in rows]


def criteo_kaggle(row_cap: int | None = DEFAULT_ROW_CAP, dim: int = DEFAULT_DIM, batch: int = DEFAULT_BATCH,
                  alpha: float | None = None) -> Workload:
    """Criteo Kaggle: 26 one-hot tables C1..C26, rows capped at `row_cap` (None: uncapped)."""
    tables = tuple(TableSpec(f"C{i + 1}", r, dim, 1) for i, r in enumerate(_capped(CRITEO_KAGGLE_ROWS, row_cap)))
    return Workload("criteo_kaggle", tables, batch, alpha)


def mlperf_dcnv2(row_cap: int | None = DEFAULT_ROW_CAP, dim: int = DEFAULT_DIM, batch: int = DEFAULT_BATCH,
                 alpha: float | None = None) -> Workload:
    """MLPerf DLRM-DCNv2: 26 multi-hot tables C1..C26, rows capped at `row_cap` (None: uncapped)."""
    rows = _capped(MLPERF_DCNV2_ROWS, row_cap)
    tables = tuple(TableSpec(f"C{i + 1}", r, dim, h) for i, (r, h) in enumerate(zip(rows, MLPERF_DCNV2_HOTNESS)))
    return Workload("mlperf_dcnv2", tables, batch, alpha)


def extreme_imbalance(row_cap: int = DEFAULT_ROW_CAP, dim: int = DEFAULT_DIM, batch: int = DEFAULT_BATCH,
                      alpha: float | None = None, tiny: int = 40, tiny_rows: tuple[int, int] = (4, 200),
                      pooling: int = 1, seed: int = 0) -> Workload:
    """One huge table of `row_cap` rows and `tiny` tables of tiny_rows[0]..tiny_rows[1] rows
    (drawn with a fixed `seed`), all with the same `pooling`."""
    lo, hi = tiny_rows
    sizes = np.random.default_rng(seed).integers(lo, hi + 1, size=tiny)
    tables = (TableSpec("huge", int(row_cap), dim, pooling),
              *(TableSpec(f"tiny{i:02d}", int(r), dim, pooling) for i, r in enumerate(sizes)))
    return Workload("extreme_imbalance", tables, batch, alpha)


def zipf_workloads(base: Workload, alphas=ZIPF_ALPHAS) -> list[Workload]:
    """`base` with Zipf ids of each alpha (1.05, 1.15, 1.3 by default)."""
    return [dataclasses.replace(base, name=f"{base.name}_zipf{a:g}".replace(".", "_"), alpha=a) for a in alphas]


def ids(table: TableSpec, batch: int, alpha: float | None, rng: np.random.Generator,
        popular: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One table's bag ids for `batch` samples, `table.pooling` ids per bag, as FBGEMM's
    benchmark draws them (see the module docstring). Returns CSR (indices, offsets), int32,
    offsets of length batch + 1. With `popular` (a generator seeded per table), Zipf ranks
    map to ids by a fixed bijection drawn from it instead of a fresh permutation."""
    rows, pooling = table.rows, table.pooling
    offsets = (np.arange(batch + 1, dtype=np.int64) * pooling).astype(np.int32)
    if alpha is None or alpha <= 1.0:
        bags = np.sort(rng.integers(0, rows, size=(batch, pooling)), axis=1)   # bags sorted, as FBGEMM's
        return bags.reshape(-1).astype(np.int32), offsets
    if pooling > rows:
        raise ValueError(f"table {table.name}: {pooling} unique ids per bag from {rows} rows")
    draws = np.sort((rng.zipf(alpha, size=(batch, 3 * pooling)) - 1) % rows, axis=1)
    first = np.ones(draws.shape, dtype=bool)     # first occurrence of each id in its (sorted) bag
    first[:, 1:] = draws[:, 1:] != draws[:, :-1]
    # Stable: the unique ids to the front, still ascending; the first L are the L smallest.
    front = np.argsort(~first, axis=1, kind="stable")[:, :pooling]
    bags = np.take_along_axis(draws, front, axis=1)
    for b in np.flatnonzero(first.sum(axis=1) < pooling):
        bags[b] = _pad_bag(draws[b][first[b]], pooling, rows, alpha, rng)
    # One random permutation of the id space, applied to the ids in use: distinct ids get
    # distinct uniformly random targets (the same law as rng.permutation(rows)[bags],
    # without materialising a permutation of a 40 M-row table).
    if popular is not None:
        return _bijection(bags.reshape(-1), rows, popular).astype(np.int32), offsets
    used, inverse = np.unique(bags, return_inverse=True)
    targets = rng.choice(rows, size=used.size, replace=False)
    return targets[inverse.reshape(-1)].astype(np.int32), offsets


def _bijection(ranks: np.ndarray, rows: int, rng: np.random.Generator) -> np.ndarray:
    """(a * rank + b) mod rows with a coprime to rows: a fixed permutation of the id space
    that needs no table of `rows` entries."""
    a = int(rng.integers(1, rows)) if rows > 1 else 1
    while math.gcd(a, rows) != 1:
        a += 1
    b = int(rng.integers(0, rows))
    return (a * ranks.astype(np.int64) + b) % rows


def _pad_bag(unique: np.ndarray, pooling: int, rows: int, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """A bag whose 3L draws held fewer than L unique ids: add new ids from further draws
    in draw order; after 1,000 rounds (only when L is close to the table size) fill the
    rest uniformly from the ids not yet in the bag."""
    seen = set(unique.tolist())
    extra: list[int] = []
    for _ in range(1000):
        for x in ((rng.zipf(alpha, size=3 * pooling) - 1) % rows).tolist():
            if x not in seen:
                seen.add(x)
                extra.append(x)
                if len(seen) == pooling:
                    return np.concatenate([unique, np.asarray(extra, dtype=unique.dtype)])
    unused = np.setdiff1d(np.arange(rows), np.fromiter(seen, dtype=np.int64))
    fill = rng.choice(unused, size=pooling - len(seen), replace=False)
    return np.concatenate([unique, np.asarray(extra, dtype=unique.dtype), fill.astype(unique.dtype)])


def feeds(workload: Workload, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Table name -> (indices, offsets) for one batch. Each table has its own generator
    (seeded by (seed, table position)), so a table's ids do not depend on the others."""
    def popular(i: int) -> np.random.Generator | None:
        return None if workload.hot_seed is None else np.random.default_rng([workload.hot_seed, i, 2])
    return {t.name: ids(t, workload.batch, workload.alpha, np.random.default_rng([seed, i]), popular(i))
            for i, t in enumerate(workload.tables)}


def signature_feeds(table_feeds: dict[str, tuple[np.ndarray, np.ndarray]], lookup: str = "bag") \
        -> dict[str, np.ndarray]:
    """`feeds` keyed as `tensorflow_model`'s signature takes them: <table>_indices and
    <table>_offsets (lookup "bag"), or <table>_ids (lookup "gather": one id a sample)."""
    flat = {}
    for name, (indices, offsets) in table_feeds.items():
        if lookup == "gather":
            flat[f"{name}_ids"] = indices
        else:
            flat[f"{name}_indices"], flat[f"{name}_offsets"] = indices, offsets
    return flat


def table_values(workload: Workload, seed: int = 0) -> dict[str, np.ndarray]:
    """The tables' f32 contents (standard normal), one seeded generator per table."""
    return {t.name: np.random.default_rng([seed, i, 1]).standard_normal((t.rows, t.dim), dtype=np.float32)
            for i, t in enumerate(workload.tables)}


def pooled_reference(values: dict[str, np.ndarray], table_feeds: dict[str, tuple[np.ndarray, np.ndarray]]):
    """numpy's pooled (summed) rows per table: name -> [batch, dim]."""
    out = {}
    for name, (indices, offsets) in table_feeds.items():
        bags = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
        out[name] = np.zeros((offsets.size - 1, values[name].shape[1]), np.float32)
        np.add.at(out[name], bags, values[name][indices])
    return out


def top_share(indices: np.ndarray, rows: int, fraction: float = 0.01) -> float:
    """Share of the accesses that go to the most accessed `fraction` of a table's rows."""
    counts = np.sort(np.bincount(indices, minlength=rows))[::-1]
    return float(counts[:max(1, math.ceil(fraction * rows))].sum() / max(1, counts.sum()))


def tensorflow_model(workload: Workload, seed: int = 0, lookup: str = "bag"):
    """A tf.Module with one tf.Variable per table (`table_values(workload, seed)`) and a
    `serve` tf.function taking every table's CSR ids (<table>_indices, <table>_offsets,
    int32 vectors) and returning the pooled rows per table (name -> [batch, dim]):
    `tf.sparse.segment_sum(table, indices, row_splits_to_segment_ids(offsets))`. With lookup
    "gather" (one-hot tables, as a Criteo model's Keras Embedding layers look them up): one id
    a sample, <table>_ids, and `tf.gather(table, ids)`.
    Save it with `tf.saved_model.save(model, path, signatures=model.serve)`."""
    import inspect

    import tensorflow as tf

    values = table_values(workload, seed)
    names = [t.name for t in workload.tables]
    parts = ("ids",) if lookup == "gather" else ("indices", "offsets")
    if lookup == "gather" and any(t.pooling != 1 for t in workload.tables):
        raise ValueError("lookup 'gather' is for one-hot tables (pooling 1)")
    arg_names = [f"{n}_{part}" for n in names for part in parts]
    specs = [tf.TensorSpec([None], tf.int32, name=a) for a in arg_names]

    class EmbeddingModel(tf.Module):
        def __init__(self):
            super().__init__(name=re.sub(r"\W", "_", workload.name))   # a Python identifier
            self.tables = [tf.Variable(values[n], name=n) for n in names]

    model = EmbeddingModel()

    def serve(*args):
        if lookup == "gather":
            return {n: tf.gather(table, ids) for n, table, ids in zip(names, model.tables, args)}
        out = {}
        for n, table, indices, offsets in zip(names, model.tables, args[0::2], args[1::2]):
            segments = tf.ragged.row_splits_to_segment_ids(offsets)
            out[n] = tf.sparse.segment_sum(table, indices, segments, num_segments=tf.size(offsets) - 1)
        return out

    # Named parameters, so that the function (and the saved signature) takes <table>_indices=...
    # by keyword; tf.function binds the call to this signature and passes the tensors in order.
    serve.__signature__ = inspect.Signature(
        [inspect.Parameter(a, inspect.Parameter.POSITIONAL_OR_KEYWORD) for a in arg_names])
    model.serve = tf.function(serve, input_signature=specs)
    return model
