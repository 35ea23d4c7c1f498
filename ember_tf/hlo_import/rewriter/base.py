"""What the HLO rewriters share: reading a `gather` as a row lookup of a [N, D]
table, and the ids a kernel may use for it. XLA clamps gather start indices so the
slice fits (operation semantics), so the kernel is given clamp(ids, 0, N - 1):
the module's own semantics, exactly, with no id out of range."""

from __future__ import annotations

import dataclasses

import numpy as np

from ember_tf import frontend
from ember_tf.frontend.rewrite import Skip
from ember_tf.hlo.module import Instruction, Shape
from ember_tf.hlo_import.graph import FlatGraph

TABLE_DTYPES = {"f32": "f32", "f16": "f16", "bf16": "bf16"}
ID_DTYPES = {"s32": "i32", "s64": "i64"}


class Rewriter(frontend.Rewriter):
    """One pattern of embedding work in HLO: its sites are the instructions of its
    `opcodes` (FlatGraph.sites); `rewrite(graph, instruction)` turns one into a kernel call."""

    opcodes: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class RowGather:
    """gather(table[N, D], indices) = reshape(table[ids], output shape)."""

    node: str
    table: str
    rows: int
    dim: int
    dtype: str          # IR dtype of the table
    ids: str            # the instruction holding the ids (before any reshape)
    ids_shape: tuple[int, ...]
    id_dtype: str       # IR dtype of the ids


def row_gather(graph: FlatGraph, gather: Instruction) -> RowGather | Skip | None:
    if gather.opcode != "gather" or len(gather.operands) != 2:
        return None
    table, indices = (graph.get(o) for o in gather.operands)
    if len(table.shape.dims) != 2 or gather.ints("start_index_map") != (0,):
        return None
    if gather.has("operand_batching_dims") and gather.ints("operand_batching_dims"):
        return None
    rows, dim = table.shape.dims
    if gather.ints("slice_sizes") != (1, dim):
        return None
    vector_dim = gather.int("index_vector_dim")
    ids_shape = list(indices.shape.dims)
    if vector_dim < len(ids_shape):
        if ids_shape[vector_dim] != 1:
            return None
        del ids_shape[vector_dim]
    batch = len(ids_shape)
    collapsed, offsets = gather.ints("collapsed_slice_dims"), gather.ints("offset_dims")
    row_last = (collapsed == (0,) and offsets == (batch,)) or (collapsed == () and offsets == (batch, batch + 1))
    if not row_last:
        return None
    if table.shape.dtype not in TABLE_DTYPES:
        return Skip(f"table rows are {table.shape.dtype}; DAE kernels take f32, f16 or bf16")
    if indices.shape.dtype not in ID_DTYPES:
        return Skip(f"ids are {indices.shape.dtype}; DAE kernels take s32 or s64")
    if batch == 0:
        return Skip("a single id (a scalar index)")
    return RowGather(gather.name, table.name, rows, dim, TABLE_DTYPES[table.shape.dtype], indices.name,
                     tuple(ids_shape), ID_DTYPES[indices.shape.dtype])


def clamped_ids(graph: FlatGraph, lookup: RowGather, before: str, shape: tuple[int, ...] | None = None) -> str:
    """clamp(0, reshape(ids), rows - 1) as host instructions in front of `before`."""
    indices = graph.get(lookup.ids)
    dtype = indices.shape.numpy_dtype
    shape = shape or lookup.ids_shape
    ids = lookup.ids
    if indices.shape.dims != shape:
        ids = graph.add(before, "reshape", Shape(indices.shape.dtype, shape), [ids])
    low = graph.broadcast_scalar(before, 0, dtype, shape)
    high = graph.broadcast_scalar(before, lookup.rows - 1, dtype, shape)
    return graph.add(before, "clamp", Shape(indices.shape.dtype, shape), [low, ids, high])


def through_no_ops(graph: FlatGraph, name: str) -> Instruction:
    """The producer of `name`, read through reshapes/bitcasts/copies/converts that keep
    the element type (optimized HLO's bitcast after a gather, TF's convert wrappers)."""
    instruction = graph.get(name)
    while instruction.opcode in ("reshape", "bitcast", "copy", "convert") and \
            graph.get(instruction.operands[0]).shape.dtype == instruction.shape.dtype:
        instruction = graph.get(instruction.operands[0])
    return instruction


def scalar_constant(graph: FlatGraph, name: str):
    instruction = through_no_ops(graph, name)
    if instruction.opcode == "broadcast":
        instruction = through_no_ops(graph, instruction.operands[0])
    if instruction.opcode != "constant" or instruction.literal.size != 1:
        return None
    return np.asarray(instruction.literal).reshape(())[()]


@dataclasses.dataclass(frozen=True)
class FilledRows:
    """JAX's `jnp.take` (fill mode): select(broadcast(in_bounds[ids]), gather, NaN). The
    kernel reads the clamped rows; the host adds NaN where an id was out of bounds
    (x + NaN is NaN, x + 0 is x), which is exactly what the select makes of a bag or
    a segment sum: a NaN row poisons whatever it is summed into."""

    lookup: RowGather
    select: str
    in_bounds: str      # pred, shaped like the ids


def looked_up_rows(graph: FlatGraph, name: str) -> RowGather | FilledRows | Skip | None:
    """The row lookup producing `name`: a plain row gather or JAX's NaN-filled one."""
    instruction = through_no_ops(graph, name)
    if instruction.opcode != "select":
        return row_gather(graph, instruction)
    pred, rows, fill = (graph.get(o) for o in instruction.operands)
    value = scalar_constant(graph, fill.name)
    lookup = row_gather(graph, through_no_ops(graph, rows.name))
    if value is None or not np.isnan(value) or not isinstance(lookup, RowGather):
        return None if not isinstance(lookup, Skip) else lookup
    batch = len(lookup.ids_shape)
    if pred.opcode != "broadcast" or pred.ints("dimensions") != tuple(range(batch)):
        return None
    mask = graph.get(pred.operands[0])
    if mask.shape.dims != lookup.ids_shape:
        return None
    return FilledRows(lookup, instruction.name, mask.name)


def nan_where_out_of_bounds(graph: FlatGraph, rows: FilledRows, before: str, dtype: str) -> str:
    """select(in_bounds, 0, NaN), shaped like the ids: the host's correction term."""
    shape = Shape(dtype, rows.lookup.ids_shape)
    zero = graph.broadcast_scalar(before, 0, shape.numpy_dtype, shape.dims)
    nan = graph.broadcast_scalar(before, np.nan, shape.numpy_dtype, shape.dims)
    return graph.add(before, "select", shape, [rows.in_bounds, zero, nan])
