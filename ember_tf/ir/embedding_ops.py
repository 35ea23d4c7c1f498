"""The embedding operations as structured-loop kernels (the scf level the
passes start from), with TensorFlow's semantics: what a frontend emits for
tf.nn.embedding_lookup, embedding_lookup_sparse, (unsorted_)segment_sum of
gathered rows and sparse_dense_matmul. Tables have a static row width D;
everything else (rows, ids, bags) is known at run time."""

from __future__ import annotations

from ember_tf.ir.builder import Builder, accumulate
from ember_tf.ir.core import Func, Value, clone_block, walk

COMBINERS = ("sum", "mean", "sqrtn")


def gather(dim: int, dtype: str = "f32", id_dtype: str = "i32", name: str = "gather", id_rank: int = 1,
           max_norm: float | None = None) -> Func:
    """out[i..., :] = table[ids[i...], :] (tf.nn.embedding_lookup) for ids of rank
    `id_rank`; with `max_norm`, each row is clipped to that L2 norm first."""
    b = Builder(name)
    table = b.input("table", dtype, (None, dim))
    ids = b.input("ids", id_dtype, (None,) * id_rank)
    out = b.output("out", dtype, tuple((ids, axis, 0) for axis in range(id_rank)) + (dim,))
    clip = _Clip(b, table, dim, dtype, max_norm)

    def nest(position: list[Value]) -> None:
        if len(position) < id_rank:
            with b.loop(0, b.dim(ids, len(position)), "ni"[len(position) % 2] + str(len(position))) as i:
                nest(position + [i])
            return
        row = b.load(ids, *position, hint="id")
        clip.measure(row)
        with b.loop(0, dim, "d") as d:
            b.store(clip.apply(b.load(table, row, d, hint="v")), out, *position, d)

    nest([])
    return b.finish()


class _Clip:
    """max_norm as tf.nn.embedding_lookup applies it (clip_by_norm on each looked-up
    row): x * max_norm / max(||row||, max_norm). The row is read twice: once for its
    norm, once for its values (the second read hits the cache)."""

    def __init__(self, b: Builder, table: Value, dim: int, dtype: str, max_norm: float | None):
        self.b, self.table, self.dim, self.dtype, self.max_norm = b, table, dim, dtype, max_norm
        if max_norm is not None:
            if not max_norm > 0:
                raise ValueError(f"max_norm must be positive, not {max_norm}")
            self.squares = b.var("row_sq", 0.0, dtype)
            self.divisor = b.var("row_div", 1.0, dtype)

    def measure(self, row: Value) -> None:
        if self.max_norm is None:
            return
        b = self.b
        b.set(self.squares, b.const(0.0, self.dtype))
        with b.loop(0, self.dim, "e") as e:
            x = b.load(self.table, row, e, hint="x")
            b.set(self.squares, b.binary("addf", b.get(self.squares), b.binary("mulf", x, x)))
        norm = b.sqrt(b.get(self.squares), "norm")
        b.set(self.divisor, b.binary("maxf", norm, b.const(float(self.max_norm), self.dtype)))

    def apply(self, v: Value) -> Value:
        if self.max_norm is None:
            return v
        b = self.b
        scaled = b.binary("mulf", v, b.const(float(self.max_norm), self.dtype))
        return b.binary("divf", scaled, b.get(self.divisor), "clipped")


def embedding_bag(dim: int, combiner: str = "sum", weighted: bool = False, dtype: str = "f32",
                  id_dtype: str = "i32", pooling: int | None = None, name: str | None = None,
                  max_norm: float | None = None) -> Func:
    """tf.nn.embedding_lookup_sparse: out[b, :] = combine(w[p] * table[ids[p], :]) over bag b.

    Bags are CSR (`offsets`, B + 1 entries) or, with `pooling=L`, a fixed [B, L]
    id matrix. mean divides by sum(w) (the count when unweighted), sqrtn by
    sqrt(sum(w^2)), both with div_no_nan; an empty bag gives zeros. With
    `max_norm`, each looked-up row is clipped to that L2 norm before combining."""
    if combiner not in COMBINERS:
        raise ValueError(f"combiner must be one of {COMBINERS}")
    if pooling is not None and pooling < 0:
        raise ValueError(f"pooling must not be negative, not {pooling}")
    b = Builder(name or f"eb_{'weighted_' if weighted else ''}{combiner}")
    table = b.input("table", dtype, (None, dim))
    if pooling is None:
        ids = b.input("indices", id_dtype, (None,))
        weights = b.input("weights", dtype, (None,)) if weighted else None
        offsets = b.input("offsets", id_dtype, (None,))
        out = b.output("out", dtype, ((offsets, 0, -1), dim))
        bags = b.binary("subi", b.dim(offsets, 0), 1, "B")
    else:
        ids = b.input("indices", id_dtype, (None, pooling))
        weights = b.input("weights", dtype, (None, pooling)) if weighted else None
        out = b.output("out", dtype, ((ids, 0, 0), dim))
        bags = b.dim(ids, 0)
    total = b.var("wsum", 0.0, dtype) if weighted and combiner != "sum" else None
    clip = _Clip(b, table, dim, dtype, max_norm)
    with b.loop(0, bags, "b") as bag:
        if pooling is None:
            lo = b.load(offsets, bag, hint="lo")
            hi = b.load(offsets, b.binary("addi", bag, 1, "b1"), hint="hi")
        else:
            lo, hi = b.const(0), b.const(pooling)
        with b.loop(lo, hi, "p") as p:
            at = (p,) if pooling is None else (bag, p)
            row = b.load(ids, *at, hint="id")
            w = b.load(weights, *at, hint="w") if weighted else None
            if total is not None:
                b.set(total, b.binary("addf", b.get(total), w if combiner == "mean" else b.binary("mulf", w, w)))
            clip.measure(row)
            with b.loop(0, dim, "d") as d:
                v = clip.apply(b.load(table, row, d, hint="v"))
                accumulate(b, out, [bag, d], b.binary("mulf", v, w) if weighted else v)
        if combiner != "sum":
            if weighted:
                divisor = b.get(total)
            else:
                divisor = b.to_float(b.binary("subi", hi, lo, "count"), dtype, "n")
            if combiner == "sqrtn":
                divisor = b.sqrt(divisor, "norm")
            with b.loop(0, dim, "d") as d:
                b.store(b.binary("div_no_nan", b.load(out, bag, d, hint="acc"), divisor), out, bag, d)
            if weighted:
                b.set(total, b.const(0.0, dtype))   # the next bag's sum of weights
    return b.finish()


SEGMENT_COUNTS = ("nodes", "input", "sorted")


def segment_sum(dim: int, dtype: str = "f32", id_dtype: str = "i32", name: str = "segment_sum",
                segments: str = "nodes") -> Func:
    """out[dst[e], :] += features[src[e], :] over the edges e: a segment sum of gathered
    rows. `segments` says how many output rows there are:

    - "nodes": as many as features (message passing on a graph:
      tf.math.unsorted_segment_sum(tf.gather(features, src), dst, num_nodes));
    - "input": the value of a one-element input `num_segments`
      (tf.math.unsorted_segment_sum with a num_segments tensor);
    - "sorted": the last segment id plus one (tf.math.segment_sum, ids sorted).

    A dst outside the output faults, as TensorFlow errors."""
    if segments not in SEGMENT_COUNTS:
        raise ValueError(f"segments must be one of {SEGMENT_COUNTS}")
    b = Builder(name)
    features = b.input("features", dtype, (None, dim))
    src = b.input("src", id_dtype, (None,))
    dst = b.input("dst", id_dtype, (None,))
    if segments == "nodes":
        rows = (features, 0, 0)
    elif segments == "input":
        rows = (b.input("num_segments", id_dtype, (1,)), "element", 0, 0)
    else:
        rows = (dst, "element", -1, 1)
    out = b.output("out", dtype, (rows, dim))
    with b.loop(0, b.dim(src, 0), "e") as e:
        row = b.load(src, e, hint="u")
        seg = b.load(dst, e, hint="v")
        with b.loop(0, dim, "d") as d:
            accumulate(b, out, [seg, d], b.load(features, row, d, hint="x"))
    return b.finish()


def spmm_csr(dim: int, dtype: str = "f32", id_dtype: str = "i32", name: str = "spmm_csr") -> Func:
    """tf.sparse.sparse_dense_matmul of a CSR matrix (row_splits, col, val) with dense [K, D]."""
    b = Builder(name)
    dense = b.input("dense", dtype, (None, dim))
    row_splits = b.input("row_splits", id_dtype, (None,))
    col = b.input("col", id_dtype, (None,))
    val = b.input("val", dtype, (None,))
    out = b.output("out", dtype, ((row_splits, 0, -1), dim))
    with b.loop(0, b.binary("subi", b.dim(row_splits, 0), 1, "M"), "i") as i:
        lo = b.load(row_splits, i, hint="lo")
        hi = b.load(row_splits, b.binary("addi", i, 1, "i1"), hint="hi")
        with b.loop(lo, hi, "p") as p:
            k = b.load(col, p, hint="k")
            a = b.load(val, p, hint="a")
            with b.loop(0, dim, "d") as d:
                accumulate(b, out, [i, d], b.binary("mulf", b.load(dense, k, d, hint="x"), a))
    return b.finish()


def ragged_gather(dim: int, dtype: str = "f32", id_dtype: str = "i32", name: str = "ragged_gather") -> Func:
    """tf.gather(ragged_params, ids) of a ragged tensor (values [N, D], row_splits):
    the selected rows' values, one after another. The output's row_splits
    (`out_splits`, the running sum of the selected rows' lengths) come in from the
    host, which needs them for the result anyway; its last entry sizes the output."""
    b = Builder(name)
    values = b.input("values", dtype, (None, dim))
    row_splits = b.input("row_splits", id_dtype, (None,))
    ids = b.input("ids", id_dtype, (None,))
    out_splits = b.input("out_splits", id_dtype, (None,))
    out = b.output("out_values", dtype, ((out_splits, "element", -1, 0), dim))
    with b.loop(0, b.dim(ids, 0), "k") as k:
        row = b.load(ids, k, hint="r")
        lo = b.load(row_splits, row, hint="lo")
        hi = b.load(row_splits, b.binary("addi", row, 1, "r1"), hint="hi")
        base = b.load(out_splits, k, hint="base")
        with b.loop(lo, hi, "p") as p:
            at = b.binary("addi", base, b.binary("subi", p, lo, "offset"), "q")
            with b.loop(0, dim, "d") as d:
                b.store(b.load(values, p, d, hint="v"), out, at, d)
    return b.finish()


def combine(funcs: list[Func], name: str) -> Func:
    """Several operations in one kernel (e.g. a model's tables): the arguments of
    operation i are renamed `t{i}_<name>`, their loop nests run one after the
    other on the same access unit and core."""
    args, names, outputs, ops = [], [], [], []
    bases = []          # where each operation's arguments start in the combined list
    for i, func in enumerate(funcs):
        mapping: dict[int, Value] = {}
        renamed = {a.uid: f"t{i}_{n}" for a, n in zip(func.args, func.arg_names)}
        for a in func.args:
            mapping[a.uid] = Value(a.type, renamed[a.uid])
        body = clone_block(func.body, mapping)
        for op in walk(body):
            for key in ("name", "var"):
                if op.name.startswith("var.") and key in op.attrs:
                    op.attrs[key] = f"t{i}_{op.attrs[key]}"
        base = len(args)
        args += [mapping[a.uid] for a in func.args]
        names += [renamed[a.uid] for a in func.args]
        outputs += [base + o for o in func.outputs]
        bases.append(base)
        for op in body.ops:
            op.parent = None
        ops += body.ops
    # output shapes refer to argument positions: shift them to the combined list
    for i, func in enumerate(funcs):
        base = bases[i]
        for o in func.outputs:
            t = args[base + o].type
            dim_of = tuple(None if d is None else d.moved(base) for d in t.dim_of)
            args[base + o].type = type(t)(t.dtype, t.shape, dim_of)
    combined = Func(name, args, names, outputs)
    top = [op for op in ops if op.name in ("arith.constant", "var.decl")]   # passes look constants up at the top
    combined.body.ops = top + [op for op in ops if op not in top]
    ops = combined.body.ops
    for op in ops:
        op.parent = combined.body
    return combined
