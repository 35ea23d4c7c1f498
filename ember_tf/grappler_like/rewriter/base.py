"""What a rewriter gives back, and the helpers every rewriter shares: reading a
gather's table and ids, choosing kernel dtypes, splicing host-side index
preparation (built with TensorFlow itself) in front of a kernel."""

from __future__ import annotations

import dataclasses
from typing import Callable

from ember_tf import frontend
from ember_tf.frontend.rewrite import Skip
from ember_tf.grappler_like.flat_graph import FlatGraph, tensor_types
from ember_tf.grappler_like.graph_view import GraphView, Tensor
from ember_tf.grappler_like.pattern import ANY, Match, OpTypePattern, match_at
from ember_tf.grappler_like.saved_model import Variable
from ember_tf.ir.core import ir_dtype

TABLE_DTYPES = {name: ir_dtype(name) for name in ("float32", "float16", "bfloat16")}
ID_DTYPES = {name: ir_dtype(name) for name in ("int32", "int64")}


@dataclasses.dataclass(frozen=True)
class Table:
    """The rows a gather reads: a variable, or a tensor computed on the host."""

    source: Variable | str
    dtype: str      # IR dtype ("f32", ...)
    dim: int
    label: str      # variable path or tensor name, for messages


class Rewriter(frontend.Rewriter):
    """One embedding family of a SavedModel graph: a labelled pattern; its sites are the
    matches' `anchor` nodes (FlatGraph.sites), and `rewrite(graph, match)` turns one
    into a kernel call."""

    pattern: OpTypePattern
    anchor: str = ""       # the label of the match's root node


def gather_table(view: GraphView, graph: FlatGraph, node) -> tuple[Table, Tensor] | Skip | None:
    """(table, ids) of a row gather: `ResourceGather(variable, ids)` or
    `GatherV2(params, ids, axis=0)` with params a `ReadVariableOp` of a variable
    or a rank-2 tensor. None when `node` is not a row gather."""
    inputs = view.fanin(node.name)
    if node.op == "ResourceGather":
        if node.attr["batch_dims"].i != 0:
            return Skip("ResourceGather with batch_dims")
        source = _variable(view, graph, inputs[0])
        if source is None:
            return None
        return _table(graph, source, None), inputs[1]
    if node.op != "GatherV2" or len(inputs) != 3:
        return None
    axis = graph.constant_value(inputs[2])
    if axis is None or axis.ndim != 0 or int(axis) != 0 or node.attr["batch_dims"].i != 0:
        return None
    return params_table(view, graph, inputs[0]), inputs[1]


def params_table(view: GraphView, graph: FlatGraph, params: Tensor) -> Table | Skip:
    """The table a gather's params tensor holds: a `ReadVariableOp` of a variable, or
    any [rows, D] tensor."""
    params = _skip_identity(view, params)
    if not params.is_arg and view.node(params.node).op == "ReadVariableOp":
        source = _variable(view, graph, view.fanin(params.node)[0])
        if source is not None:
            return _table(graph, source, None)
    return _table(graph, None, params)


def _table(graph: FlatGraph, variable: Variable | None, tensor: Tensor | None) -> Table | Skip:
    if variable is not None:
        dtype, shape, label, source = variable.dtype, variable.shape, variable.name, variable
    else:
        info = graph.tensor_info(tensor)
        dtype, shape, label, source = info.dtype, info.shape, str(tensor), str(tensor)
    if dtype not in TABLE_DTYPES:
        return Skip(f"table {label!r} is {dtype}; DAE kernels take float32, float16 or bfloat16 rows")
    if shape is None or len(shape) != 2 or shape[1] is None:
        return Skip(f"table {label!r} has shape {_shape_text(shape)}; a kernel needs [rows, D] with D known")
    return Table(source, TABLE_DTYPES[dtype], int(shape[1]), label)


def _variable(view: GraphView, graph: FlatGraph, tensor: Tensor) -> Variable | None:
    tensor = _skip_identity(view, tensor)
    return None if tensor.is_arg else graph.variables.get(tensor.node)


def _skip_identity(view: GraphView, tensor: Tensor) -> Tensor:
    while not tensor.is_arg and view.node(tensor.node).op == "Identity":
        tensor = view.fanin(tensor.node)[0]
    return tensor


def _shape_text(shape) -> str:
    if shape is None:
        return "of unknown rank"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def id_dtype(graph: FlatGraph, *tensors: Tensor | str) -> str | Skip:
    """The kernel's id dtype: int64 if any id tensor is int64, else int32."""
    names = [graph.tensor_info(t).dtype for t in tensors]
    bad = [n for n in names if n not in ID_DTYPES]
    if bad:
        return Skip(f"ids are {bad[0]}; DAE kernels take int32 or int64 ids")
    return "i64" if "int64" in names else "i32"


def splice(graph: FlatGraph, build: Callable, feeds: dict[str, Tensor | str], prefix: str) -> list[str]:
    """Host-side preparation in front of a kernel: `build(**placeholders)` written with
    TensorFlow ops returns tensors; their nodes join the graph under `prefix`, fed by
    `feeds`; returns the graph names of the returned tensors."""
    import tensorflow as tf

    with tf.Graph().as_default() as fragment:
        placeholders = {}
        for name, tensor in feeds.items():
            info = graph.tensor_info(tensor)
            placeholders[name] = tf.compat.v1.placeholder(info.dtype, info.shape, name=name)
        results = build(**placeholders)
    prefix = graph.unique_name(prefix)
    graph.splice(fragment.as_graph_def(), {name: str(t) for name, t in feeds.items()}, prefix,
                 tensor_types(fragment))
    # a result may be a feed itself (tf.cast to the dtype it already has)
    return [str(feeds[t.op.name]) if t.op.name in feeds else f"{prefix}/{t.name}" for t in results]


@dataclasses.dataclass(frozen=True)
class Lookup:
    """Rows read from a table: table[ids], each clipped to `max_norm` if given."""

    table: Table
    ids: Tensor
    max_norm: float | None
    nodes: tuple[str, ...]


# tf.clip_by_norm(rows, c, axes=-1) as embedding_lookup(..., max_norm=c) writes it:
# rows * c / max(where(l2sum > 0, sqrt(where(l2sum > 0, l2sum, 1)), l2sum), c)
_L2SUM = OpTypePattern("Sum", "l2sum", [OpTypePattern("Mul", "square", [ANY("rows"), ANY("rows")]), ANY("axis")])
CLIP_BY_NORM = OpTypePattern("RealDiv", "clipped", [
    OpTypePattern("Mul", "scaled", [ANY("rows"), ANY("clip")]),
    OpTypePattern("Maximum", "divisor", [
        OpTypePattern("Select|SelectV2", "norm", [
            ANY("positive"),
            OpTypePattern("Sqrt", "sqrt", [OpTypePattern("Select|SelectV2", "safe", [ANY("positive"), _L2SUM,
                                                                                     ANY("ones")])]),
            OpTypePattern("Sum", "l2sum"),
        ]),
        ANY("clip_again"),
    ]),
])


def row_lookup(view: GraphView, graph: FlatGraph, tensor: Tensor) -> Lookup | Skip | None:
    """The lookup producing `tensor`: a row gather, optionally under clip_by_norm."""
    tensor = _skip_identity(view, tensor)
    if tensor.is_arg:
        return None
    max_norm, nodes = None, ()
    clip = match_at(view, CLIP_BY_NORM, tensor)
    if clip is not None:
        max_norm = _clip_value(graph, clip)
        if max_norm is None:
            return None
        if not clip.only_consumed_inside(["rows"], keep="clipped"):
            return Skip("the looked-up rows are also used unclipped")
        nodes = tuple(sorted(clip.nodes() - {clip.tensors["rows"].node}))
        tensor = _skip_identity(view, clip.tensors["rows"])
        if tensor.is_arg:
            return None
    node = view.node(tensor.node)
    found = gather_table(view, graph, node) if node.op in ("ResourceGather", "GatherV2") else None
    if not isinstance(found, tuple):
        return found
    table, ids = found
    if isinstance(table, Skip):
        return table
    return Lookup(table, ids, max_norm, (node.name,) + nodes)


def _clip_value(graph: FlatGraph, clip: Match) -> float | None:
    values = [graph.constant_value(clip.tensors[k]) for k in ("clip", "clip_again")]
    if any(v is None or v.size != 1 for v in values) or float(values[0]) != float(values[1]):
        return None
    axis = graph.constant_value(clip.tensors["axis"])
    rows = graph.tensor_info(clip.tensors["rows"]).shape
    if axis is None or axis.size != 1 or rows is None or int(axis.reshape(-1)[0]) not in (-1, len(rows) - 1):
        return None   # the norm is not taken over each row
    return float(values[0])


def typed_lookup(graph: FlatGraph, lookup: Lookup | Skip | None,
                 *other_ids: Tensor | str) -> tuple[Lookup, str] | Skip | None:
    """A found lookup with the kernel's id dtype (int64 if its ids or any of
    `other_ids` are); a Skip or None passes through."""
    if not isinstance(lookup, Lookup):
        return lookup
    ids_type = id_dtype(graph, lookup.ids, *other_ids)
    return ids_type if isinstance(ids_type, Skip) else (lookup, ids_type)


def ids_rank(graph: FlatGraph, ids: Tensor | str) -> int | Skip:
    shape = graph.tensor_info(ids).shape
    if shape is None or len(shape) == 0:
        return Skip("ids of unknown rank or a scalar id")
    return len(shape)


def unique_lookup(view: GraphView, graph: FlatGraph, data: Tensor, indices: Tensor) -> Lookup | Skip | None:
    """The lookup table[ids] that `data[indices]` amounts to when `data` looks up
    `Unique(ids).y` and `indices` is that Unique's `idx` (embedding_lookup_sparse)."""
    found = row_lookup(view, graph, data)
    if not isinstance(found, Lookup):
        return found
    unique_y = _skip_identity(view, found.ids)
    indices = _skip_identity(view, indices)
    if unique_y.is_arg or view.node(unique_y.node).op != "Unique" or unique_y.index != 0:
        return None
    if indices.is_arg or indices.node != unique_y.node or indices.index != 1:
        return None
    return dataclasses.replace(found, ids=view.fanin(unique_y.node)[0])
