"""The embedding operations as structured-loop kernels (the scf level the
passes start from), with TensorFlow's semantics: what a frontend emits for
tf.nn.embedding_lookup, embedding_lookup_sparse, (unsorted_)segment_sum of
gathered rows and sparse_dense_matmul. Tables have a static row width D;
everything else (rows, ids, bags) is known at run time."""

from __future__ import annotations

from ember_tf.ir.builder import Builder, accumulate
from ember_tf.ir.core import Func, Value, clone_block, walk

COMBINERS = ("sum", "mean", "sqrtn")


def gather(dim: int, dtype: str = "f32", id_dtype: str = "i32", name: str = "gather") -> Func:
    """out[n, :] = table[ids[n], :]  (ids flattened: any id shape reshapes on the host)."""
    b = Builder(name)
    table = b.input("table", dtype, (None, dim))
    ids = b.input("ids", id_dtype, (None,))
    out = b.output("out", dtype, ((ids, 0, 0), dim))
    with b.loop(0, b.dim(ids, 0), "n") as n:
        row = b.load(ids, n, hint="id")
        with b.loop(0, dim, "d") as d:
            b.store(b.load(table, row, d, hint="v"), out, n, d)
    return b.finish()


def embedding_bag(dim: int, combiner: str = "sum", weighted: bool = False, dtype: str = "f32",
                  id_dtype: str = "i32", pooling: int | None = None, name: str | None = None) -> Func:
    """tf.nn.embedding_lookup_sparse: out[b, :] = combine(w[p] * table[ids[p], :]) over bag b.

    Bags are CSR (`offsets`, B + 1 entries) or, with `pooling=L`, a fixed [B, L]
    id matrix. mean divides by sum(w) (the count when unweighted), sqrtn by
    sqrt(sum(w^2)), both with div_no_nan; an empty bag gives zeros."""
    if combiner not in COMBINERS:
        raise ValueError(f"combiner must be one of {COMBINERS}")
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
            with b.loop(0, dim, "d") as d:
                v = b.load(table, row, d, hint="v")
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


def segment_sum(dim: int, dtype: str = "f32", id_dtype: str = "i32", name: str = "segment_sum") -> Func:
    """Message passing: out[dst[e], :] += features[src[e], :] over the edges, out with
    as many rows as features (tf.math.unsorted_segment_sum(tf.gather(features, src),
    dst, num_nodes)). A dst outside the output faults, as TensorFlow errors."""
    b = Builder(name)
    features = b.input("features", dtype, (None, dim))
    src = b.input("src", id_dtype, (None,))
    dst = b.input("dst", id_dtype, (None,))
    out = b.output("out", dtype, ((features, 0, 0), dim))
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


def combine(funcs: list[Func], name: str) -> Func:
    """Several operations in one kernel (e.g. a model's tables): the arguments of
    operation i are renamed `t{i}_<name>`, their loop nests run one after the
    other on the same access unit and core."""
    args, names, outputs, ops = [], [], [], []
    inputs_first = []
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
        inputs_first.append(base)
        for op in body.ops:
            op.parent = None
        ops += body.ops
    # output shapes refer to argument positions: shift them to the combined list
    for i, func in enumerate(funcs):
        base = inputs_first[i]
        for o in func.outputs:
            t = args[base + o].type
            dim_of = tuple(None if d is None else (d[0] + base, d[1], d[2]) for d in t.dim_of)
            args[base + o].type = type(t)(t.dtype, t.shape, dim_of)
    combined = Func(name, args, names, outputs)
    top = [op for op in ops if op.name in ("arith.constant", "var.decl")]   # passes look constants up at the top
    combined.body.ops = top + [op for op in ops if op not in top]
    ops = combined.body.ops
    for op in ops:
        op.parent = combined.body
    return combined
