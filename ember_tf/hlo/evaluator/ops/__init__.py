"""One small file per opcode family; importing this package registers them all."""

from ember_tf.hlo.evaluator.ops import (
    binary, bits, compare, control, convert, division, dot, gather, map_, pad, reduce, reduce_window, scatter,
    select, shape_ops, slicing, sort, sources, unary,
)
from ember_tf.hlo.evaluator.registry import OPS

SUPPORTED_OPCODES = frozenset(OPS)

__all__ = ["OPS", "SUPPORTED_OPCODES", "binary", "bits", "compare", "control", "convert", "division", "dot",
           "gather", "map_", "pad", "reduce", "reduce_window", "scatter", "select", "shape_ops", "slicing", "sort",
           "sources", "unary"]
