"""A lookup in a table sharded over several variables (tf.nn.embedding_lookup of a
list, `div` or `mod` partition strategy, or any other): ids split by
`DynamicPartition`, one gather per shard, results merged by `ParallelDynamicStitch`.

Which shard and row each id reads is not decoded from the arithmetic in front of
`DynamicPartition`; it is computed by running that arithmetic (TensorFlow, at
conversion) on every id 0..rows-1. If that maps the ids one to one onto the shards'
rows, the shards are laid out as one table in id order and the whole lookup
becomes a single gather; ids out of range fault as TensorFlow's errors."""

from __future__ import annotations

import dataclasses

import numpy as np

from ember_tf.dae_isa.mapped import drop_pages
from ember_tf.frontend.layout import StreamedTable
from ember_tf.frontend.rewrite import KernelCall, Skip
from ember_tf.grappler_like.flat_graph import FlatGraph, referenced_functions
from ember_tf.grappler_like.graph_view import Tensor
from ember_tf.grappler_like.pattern import OpTypePattern
from ember_tf.grappler_like.rewriter.base import Rewriter, TABLE_DTYPES, id_dtype, row_lookup
from ember_tf.grappler_like.saved_model import Variable
from ember_tf.ir import embedding_ops


@dataclasses.dataclass(frozen=True)
class ShardedTable:
    """Shards laid out as one table: row i is row `row_of[i]` of shard `shard_of[i]`."""

    name: str
    shards: tuple[Variable, ...]
    shard_of: np.ndarray = dataclasses.field(compare=False, repr=False)
    row_of: np.ndarray = dataclasses.field(compare=False, repr=False)

    def value(self, read) -> np.ndarray:
        parts = [read(v) for v in self.shards]
        table = np.empty((len(self.shard_of), parts[0].shape[1]), parts[0].dtype)
        for s, part in enumerate(parts):
            mine = self.shard_of == s
            table[mine] = part[self.row_of[mine]]
        return table

    def streamed(self, parts: list[np.ndarray]) -> StreamedTable:
        """The table a block of rows at a time, gathered from the shards' values `parts`
        (read-only views of the checkpoint: the pages a block read are dropped after it)."""
        dtype, width, count = parts[0].dtype, parts[0].shape[1:], len(self.shard_of)

        def blocks(max_bytes: int):
            step = max(1, max_bytes // max(1, int(np.prod(width, dtype=np.int64)) * dtype.itemsize))
            block = np.empty((min(step, count),) + width, dtype)
            for start in range(0, count, step):
                shard, row, out = self.shard_of[start:start + step], self.row_of[start:start + step], \
                    block[:min(step, count - start)]
                for s, part in enumerate(parts):
                    mine = shard == s
                    out[mine] = part[row[mine]]
                    drop_pages(part)
                yield out

        return StreamedTable(dtype, (count,) + width, blocks)


class PartitionedLookupRewriter(Rewriter):
    order = 70
    family = "partitioned table"
    anchor = "stitch"
    pattern = OpTypePattern("ParallelDynamicStitch|DynamicStitch", "stitch")

    def rewrite(self, graph, match):
        view, stitch = match.view, match.node("stitch")
        inputs = view.fanin(stitch.name)
        n = len(inputs) // 2
        positions, parts = inputs[:n], inputs[n:]
        lookups = [row_lookup(view, graph, p) for p in parts]
        if any(lk is None or isinstance(lk, Skip) for lk in lookups):
            return next((lk for lk in lookups if isinstance(lk, Skip)), None)
        if any(not isinstance(lk.table.source, Variable) or lk.max_norm is not None for lk in lookups):
            return Skip("shards that are not variables, or clipped shards")
        partition = _partition(view, [lk.ids for lk in lookups], positions)
        if partition is None:
            return None
        flat_ids, shard_ids, assignments = partition
        shards = tuple(lk.table.source for lk in lookups)
        if len({(v.dtype, v.shape[1:]) for v in shards}) != 1 or shards[0].dtype not in TABLE_DTYPES:
            return Skip("shards differ in dtype or row width")
        rows = sum(v.shape[0] for v in shards)
        layout = _probe(graph, flat_ids, shard_ids, assignments, rows, shards)
        if isinstance(layout, Skip):
            return layout
        ids_type = id_dtype(graph, flat_ids)
        if isinstance(ids_type, Skip):
            return ids_type
        shape = graph.tensor_info(flat_ids).shape
        if shape is None or len(shape) != 1:
            return None
        table = ShardedTable("+".join(v.name for v in shards), shards, *layout)
        func = embedding_ops.gather(lookups[0].table.dim, lookups[0].table.dtype, ids_type, name="gather_sharded")
        nodes = [stitch.name] + [name for lk in lookups for name in lk.nodes]
        return KernelCall(self.family, func, [table, str(flat_ids)], [f"{stitch.name}:0"], nodes)


def _partition(view, gather_ids: list[Tensor], positions: list[Tensor]):
    """(flat ids, the ids DynamicPartition splits, the assignments) when shard k
    gathers output k of `DynamicPartition(ids, assignments)` and the stitch puts it
    at output k of `DynamicPartition(range(size(flat ids)), assignments)`."""
    split = {(t.node, t.index) for t in gather_ids}
    where = {(t.node, t.index) for t in positions}
    if len({node for node, _ in split}) != 1 or len({node for node, _ in where}) != 1:
        return None
    split_node, where_node = view.node(gather_ids[0].node), view.node(positions[0].node)
    if split_node.op != "DynamicPartition" or where_node.op != "DynamicPartition":
        return None
    if any(t.index != k for k, t in enumerate(gather_ids)) or any(t.index != k for k, t in enumerate(positions)):
        return None
    shard_ids, assignments = view.fanin(split_node.name)
    positions_source, same_assignments = view.fanin(where_node.name)
    if same_assignments != assignments or positions_source.is_arg:
        return None
    span = view.node(positions_source.node)
    if span.op != "Range":
        return None
    size = view.fanin(span.name)[1]
    if size.is_arg or view.node(size.node).op != "Size":
        return None
    return view.fanin(size.node)[0], shard_ids, assignments


_FED = "ember_probe_ids"


def _ancestors(graph: FlatGraph, targets: list[Tensor], fed: Tensor):
    """The nodes `targets` depend on, with `fed` replaced by a Placeholder."""
    import tensorflow as tf

    nodes = {n.name: n for n in graph.graph_def.node}
    out = graph.graph_def.__class__()
    out.versions.CopyFrom(graph.graph_def.versions)
    placeholder = out.node.add(name=_FED, op="Placeholder")
    placeholder.attr["dtype"].type = tf.as_dtype(graph.tensor_info(fed).dtype).as_datatype_enum
    seen, stack = set(), [t.node for t in targets]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        copy = out.node.add()
        copy.CopyFrom(nodes[name])
        del copy.input[:]
        for edge in nodes[name].input:
            if edge.startswith("^"):
                continue
            source = edge.split(":")[0]
            if (edge if ":" in edge else f"{edge}:0") == f"{fed.node}:{fed.index}":
                copy.input.append(f"{_FED}:0")
            else:
                copy.input.append(edge)
                stack.append(source)
    for function in referenced_functions(out, graph.library):
        out.library.function.add().CopyFrom(function)
    return out


def _probe(graph: FlatGraph, flat_ids: Tensor, shard_ids: Tensor, assignments: Tensor, rows: int,
           shards: tuple[Variable, ...]):
    """(shard_of, row_of) for ids 0..rows-1, computed by the graph's own arithmetic."""
    import tensorflow as tf

    graph_def = _ancestors(graph, [shard_ids, assignments], flat_ids)
    probe = np.arange(rows, dtype=graph.tensor_info(flat_ids).dtype)
    try:
        with tf.Graph().as_default(), tf.compat.v1.Session() as session:
            outputs = tf.graph_util.import_graph_def(graph_def, return_elements=[str(shard_ids), str(assignments)],
                                                     name="")
            row_of, shard_of = session.run(outputs, {f"{_FED}:0": probe})
    except (tf.errors.OpError, ValueError, KeyError) as e:
        return Skip(f"the partition of ids depends on more than the ids ({str(e).splitlines()[0]})")
    row_of, shard_of = np.asarray(row_of).reshape(-1), np.asarray(shard_of).reshape(-1)
    sizes = np.array([v.shape[0] for v in shards])
    valid = (shard_of >= 0) & (shard_of < len(shards))
    valid &= (row_of >= 0) & (row_of < sizes[np.clip(shard_of, 0, len(shards) - 1)])
    if not valid.all() or len({(s, r) for s, r in zip(shard_of.tolist(), row_of.tolist())}) != rows:
        return Skip("the ids do not map one to one onto the shards' rows")
    return shard_of.astype(np.int64), row_of.astype(np.int64)
