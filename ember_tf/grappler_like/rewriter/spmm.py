"""tf.sparse.sparse_dense_matmul(A, B) with B a variable or a [K, D] tensor:
`SparseTensorDenseMatMul(indices, values, shape, B)` without adjoints. The host
sorts A's entries by row (stably, so each row sums in TensorFlow's order) into CSR,
after checking the row indices as TensorFlow does; the kernel is a CSR SpMM."""

from __future__ import annotations

from ember_tf.frontend.rewrite import KernelCall, Skip
from ember_tf.grappler_like.pattern import ANY, OpTypePattern
from ember_tf.grappler_like.rewriter.base import Rewriter, params_table, splice
from ember_tf.ir import embedding_ops


class SparseDenseMatMulRewriter(Rewriter):
    order = 50
    family = "SparseTensorDenseMatMul"
    anchor = "matmul"
    pattern = OpTypePattern("SparseTensorDenseMatMul", "matmul",
                            [ANY("indices"), ANY("values"), ANY("shape"), ANY("dense")])

    def rewrite(self, graph, match):
        node = match.node("matmul")
        if node.attr["adjoint_a"].b or node.attr["adjoint_b"].b:
            return Skip("adjoint_a / adjoint_b")
        table = params_table(match.view, graph, match.tensors["dense"])
        if isinstance(table, Skip):
            return table
        if graph.tensor_info(match.tensors["values"]).dtype != graph.tensor_info(match.tensors["dense"]).dtype:
            return None
        row_splits, col, val = splice(graph, _csr, {k: match.tensors[k] for k in ("indices", "values", "shape")},
                                      "ember_csr")
        func = embedding_ops.spmm_csr(table.dim, table.dtype, "i64")
        return KernelCall(self.family, func, [table.source, row_splits, col, val], [f"{node.name}:0"],
                          [node.name])


def _csr(indices, values, shape):
    import tensorflow as tf

    indices = tf.cast(indices, tf.int64)
    rows, cols = indices[:, 0], indices[:, 1]
    m = tf.cast(shape[0], tf.int64)
    checks = [tf.debugging.assert_non_negative(rows, message="sparse row index out of range"),
              tf.debugging.assert_less(rows, m, message="sparse row index out of range")]
    with tf.control_dependencies(checks):
        order = tf.argsort(rows, stable=True)
        sorted_rows = tf.gather(rows, order)
        row_splits = tf.searchsorted(sorted_rows, tf.range(m + 1), side="left", out_type=tf.int64)
    return row_splits, tf.gather(cols, order), tf.gather(values, order)
