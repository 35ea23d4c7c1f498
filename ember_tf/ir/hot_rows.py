"""Hot-row remapping of a kernel's table (profile-guided placement, docs/HOT_ROWS.md).

A kernel whose table is remapped reads its rows from an extended table: the H hot rows
first, then the whole table. A new argument `remap` (int32, one entry per table row) gives
the row of the extended table each id reads: its hot slot (0 .. H-1) or H + id. The access
unit gathers through the remap, so the ids it chains into the table become remapped ids; the
emulator serves the extended table's first H rows from the machine's on-chip hot storage.
Out-of-range ids still fault: they index the remap, which has the table's rows.
"""

from __future__ import annotations

from ember_tf.ir.core import Block, Func, Operation, TensorType, Value, copy_func, walk

REMAP = "remap"


def hot_remapped(func: Func, table: str = "table") -> Func:
    """A copy of `func` (built by ember_tf.ir.embedding_ops) gathering `table` through a
    `remap` argument placed right after it. Raises ValueError when some read of the table
    is not indexed by an id the kernel loaded (nothing to remap), or when the kernel uses the
    table's row count (the extended table has more rows)."""
    index = func.arg_names.index(table)
    if any(s is not None and s.arg == index and s.axis == 0 for i in func.outputs
           for s in func.args[i].type.dim_of or ()):
        raise ValueError(f"kernel {func.name!r} sizes an output by the rows of {table!r}")
    if any(op.name == "tensor.dim" and op.operands[0] is func.args[index] and op.attrs.get("axis") == 0
           for op in walk(func.body)):
        raise ValueError(f"kernel {func.name!r} reads the row count of {table!r}")
    work = copy_func(func)
    position = index + 1
    remap = Value(TensorType("i32", (None,)), REMAP)
    work.args.insert(position, remap)
    work.arg_names.insert(position, REMAP)
    work.outputs = [i + (i >= position) for i in work.outputs]
    _shift_sizes(work, position)
    table_value = work.args[position - 1]
    remapped: dict[int, Value] = {}
    reads = [op for op in walk(work.body) if op.name == "memref.load" and op.operands[0] is table_value]
    if not reads:
        raise ValueError(f"kernel {func.name!r} never reads {table!r}")
    for read in reads:
        row = read.operands[1]
        loader = row.owner
        if loader is None or loader.name != "memref.load" or loader.operands[0] is table_value:
            raise ValueError(f"kernel {func.name!r} reads {table!r} at rows that are not loaded ids")
        if row.uid not in remapped:
            remapped[row.uid] = _load_after(loader, remap, row)
        read.operands[1] = remapped[row.uid]
    return work


def remappable(func: Func, table: str = "table") -> bool:
    """Whether every read of `table` is at a row the kernel loaded as an id (hot_remapped applies)."""
    try:
        hot_remapped(func, table)
    except ValueError:
        return False
    return True


def _load_after(loader: Operation, remap: Value, row: Value) -> Value:
    """Inserts `remap[row]` right after the operation that loaded `row`."""
    block: Block = loader.parent
    result = Value(row.type, f"{row.hint or 'id'}_hot")
    load = Operation("memref.load", [remap, row], [result], parent=block)
    block.ops.insert(block.ops.index(loader) + 1, load)
    return result


def _shift_sizes(func: Func, position: int) -> None:
    """Output shapes name the arguments that size them: those at or after the new argument move."""
    for i in func.outputs:
        t = func.args[i].type
        if t.dim_of:
            func.args[i].type = TensorType(t.dtype, t.shape, tuple(
                s.moved(1) if s is not None and s.arg >= position else s for s in t.dim_of))
