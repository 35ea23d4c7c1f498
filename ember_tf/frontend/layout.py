"""Laying out a converted model as a .daebin object model, whatever the frontend:
tensors, constant tables (stored after the FlatBuffer when large), compiled
kernels (one per distinct kernel IR and options, shared by every operator that
runs it), host segments, subgraphs, signatures and metadata. The SavedModel and
HLO converters describe their plans in these terms."""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterator

import numpy as np

from ember_tf import dae_isa
from ember_tf.compiler import CompileOptions, compile_kernel
from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa import dtypes
from ember_tf.dae_isa.writer import PIECE_BYTES, StreamedData
from ember_tf.errors import ConversionError
from ember_tf.ir.core import Func
from ember_tf.ir.printer import print_func
from ember_tf.planner.hot_rows import HotRows, digest_hasher
from ember_tf.version import SCHEMA_VERSION

# Tables this large go after the FlatBuffer: the writer streams them to the file (from a
# StreamedTable's blocks, or from the array they are) instead of copying them into the
# FlatBuffer's builder.
EXTERNAL_TABLE_BYTES = 16 << 20
# Metadata entry holding what a conversion offloaded and what it left on the host (JSON),
# which `ember-tf inspect` prints.
REPORT_METADATA = "conversion_report"


@dataclasses.dataclass(frozen=True, eq=False)
class StreamedTable:
    """A table read a block of rows at a time, never whole (one in a checkpoint): its dtype,
    its shape, and `blocks(max_bytes)`, which yields its rows in order as C-contiguous arrays
    of at most max_bytes (at least one row), each valid until the next is asked for.
    ModelLayout.constant stores a large one after the FlatBuffer, read while the file is
    written; `np.asarray(table)` reads it whole."""

    dtype: np.dtype
    shape: tuple[int, ...]
    blocks: Callable[[int], Iterator[np.ndarray]]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    def __array__(self, dtype=None, copy=None):
        out = np.empty(self.shape, self.dtype)
        if out.size:
            rows, done = out.reshape(self.shape[0], -1), 0
            for block in self.blocks(PIECE_BYTES):
                block = block.reshape(-1, rows.shape[1])
                rows[done:done + len(block)] = block
                done += len(block)
        return out if dtype is None else out.astype(dtype, copy=False)


class ModelLayout:
    def __init__(self, description: str, source: str, external_threshold: int = EXTERNAL_TABLE_BYTES):
        self.source, self.external_threshold = source, external_threshold
        self.model = fb.ModelT()
        self.model.version = SCHEMA_VERSION
        self.model.description = description
        self.model.buffers = [fb.BufferT()]
        self.model.tensors, self.model.kernels, self.model.hostSegments = [], [], []
        self.model.subgraphs, self.model.signatureDefs, self.model.metadata = [], [], []
        self._constants: dict[str, int] = {}   # key -> tensor index
        self._kernels: dict[tuple, int] = {}   # (kernel IR, options) -> index in model.kernels

    def tensor(self, name: str, dtype: str, shape: tuple[int | None, ...]) -> int:
        """A tensor without data; `None` dims are known only at run time."""
        t = fb.TensorT()
        t.name = name
        t.dtype = self._dtype(dtype, name)
        t.shape = [1 if d is None else d for d in shape]
        t.shapeSignature = [-1 if d is None else d for d in shape]
        self.model.tensors.append(t)
        return len(self.model.tensors) - 1

    def constant(self, key: str, name: str, read) -> int:
        """The constant tensor for `key` (a table), its value from `read()` on first use."""
        if key not in self._constants:
            value = read()
            if isinstance(value, StreamedTable) and value.nbytes and value.nbytes >= self.external_threshold:
                buffer = fb.BufferT(data=StreamedData(value.nbytes, value.blocks))
            else:   # an array (a memory-mapped one is written a piece at a time too)
                value = np.require(np.asarray(value) if isinstance(value, StreamedTable) else value,
                                   requirements="C")
                buffer = fb.BufferT(data=value.reshape(-1).view(np.uint8))
            if value.nbytes and value.nbytes >= self.external_threshold:
                buffer.offset, buffer.size = 1, value.nbytes   # the writer places it after the FlatBuffer
            t = fb.TensorT()
            t.name = name
            t.dtype = self._dtype(str(value.dtype), name)
            t.shape = t.shapeSignature = list(value.shape)
            t.buffer = self._buffer(buffer)
            self.model.tensors.append(t)
            self._constants[key] = len(self.model.tensors) - 1
        return self._constants[key]

    def hot_table(self, name: str, read, hot: HotRows) -> tuple[int, int]:
        """The constants of a table read through hot rows: the extended table (its hot rows,
        hottest first, then the whole table) and the remap (id -> hot slot, or H + id), for
        ir.hot_rows.hot_remapped kernels. The table must be the one the profile was taken on.
        A streamed table stays streamed: one pass hashes it and picks its hot rows, the file's
        writer reads it again after them."""
        def extended() -> StreamedTable:
            table = read()
            if not isinstance(table, StreamedTable):
                array = np.require(np.asarray(table), requirements="C")
                table = StreamedTable(array.dtype, array.shape, lambda max_bytes: _row_blocks(array, max_bytes))
            digest, rows = _digest_and_rows(table, hot.ids)
            if digest != hot.digest:
                raise ConversionError(f"{hot.source}: table {name!r} differs from the one profiled "
                                      f"(a profile of another model?)")

            def blocks(max_bytes: int) -> Iterator[np.ndarray]:
                yield from _row_blocks(rows, max_bytes)
                yield from table.blocks(max_bytes)
            return StreamedTable(table.dtype, (len(hot.ids) + table.shape[0],) + tuple(table.shape[1:]), blocks)

        def remap():
            out = np.arange(len(hot.ids), len(hot.ids) + hot.rows, dtype=np.int64)
            out[hot.ids] = np.arange(len(hot.ids))
            return out.astype(np.int32)

        return (self.constant(f"{name}#hot", f"{name}/hot_rows_first", extended),
                self.constant(f"{name}#remap", f"{name}/hot_remap", remap))

    def kernel(self, func: Func, options: CompileOptions, inputs: list[int], outputs: list[int],
               cores: tuple[int, int] = (0, 0)) -> fb.OperatorT:
        """An operator running `func` compiled with `options` on cores (offset, count); count 0:
        on all of the machine's cores."""
        key = (print_func(func), options)
        if key not in self._kernels:
            text = compile_kernel(func, options)
            kernel = dae_isa.assemble(f".model version={SCHEMA_VERSION}\n{text}", f"<compiled {func.name}>").kernels[0]
            kernel.name = f"{func.name}_{len(self.model.kernels)}"
            self.model.kernels.append(kernel)
            self._kernels[key] = len(self.model.kernels) - 1
        op = _operator(fb.OperatorKind.KERNEL, self._kernels[key], inputs, outputs)
        op.coreOffset, op.coreCount = cores
        return op

    def host_segment(self, name: str, format: int, data: bytes, input_names: list[str], output_names: list[str],
                     inputs: list[int], outputs: list[int]) -> fb.OperatorT:
        segment = fb.HostSegmentT()
        segment.name, segment.format = name, format
        segment.buffer = self._buffer(fb.BufferT(data=np.frombuffer(data, np.uint8)))
        segment.inputNames, segment.outputNames = list(input_names), list(output_names)
        self.model.hostSegments.append(segment)
        return _operator(fb.OperatorKind.HOST_SEGMENT, len(self.model.hostSegments) - 1, inputs, outputs)

    def signature(self, key: str, inputs: dict[str, int], outputs: dict[str, int],
                  operators: list[fb.OperatorT]) -> None:
        subgraph = fb.SubGraphT()
        subgraph.name = key
        subgraph.inputs, subgraph.outputs = list(inputs.values()), list(outputs.values())
        subgraph.operators = operators
        self.model.subgraphs.append(subgraph)
        self._signature(key, len(self.model.subgraphs) - 1, inputs, outputs)

    def alias_signature(self, key: str, same_as: str) -> None:
        """A signature running the same subgraph as signature `same_as`."""
        original = next(s for s in self.model.signatureDefs if s.key == same_as)
        self._signature(key, original.subgraph, {m.name: m.tensor for m in original.inputs},
                        {m.name: m.tensor for m in original.outputs})

    def metadata(self, name: str, text: str) -> None:
        entry = fb.MetadataT()
        entry.name = name
        entry.buffer = self._buffer(fb.BufferT(data=np.frombuffer(text.encode(), np.uint8)))
        self.model.metadata.append(entry)

    def _signature(self, key: str, subgraph: int, inputs: dict[str, int], outputs: dict[str, int]) -> None:
        signature = fb.SignatureDefT()
        signature.key, signature.subgraph = key, subgraph
        signature.inputs = [_tensor_map(n, i) for n, i in inputs.items()]
        signature.outputs = [_tensor_map(n, i) for n, i in outputs.items()]
        self.model.signatureDefs.append(signature)

    def _buffer(self, buffer: fb.BufferT) -> int:
        self.model.buffers.append(buffer)
        return len(self.model.buffers) - 1

    def _dtype(self, name: str, tensor: str) -> int:
        if name not in dtypes.TENSOR_BY_NAME:
            raise ConversionError(f"{self.source}: tensor {tensor!r} is {name}, which a .daebin cannot hold "
                                  f"(supported: {', '.join(sorted(dtypes.TENSOR_BY_NAME))})")
        return dtypes.TENSOR_BY_NAME[name].code


def _row_blocks(array: np.ndarray, max_bytes: int) -> Iterator[np.ndarray]:
    """An array's rows in C-contiguous blocks of at most max_bytes (at least one row)."""
    if not array.shape[0]:
        return
    step = max(1, max_bytes // max(1, array.nbytes // array.shape[0]))
    for start in range(0, array.shape[0], step):
        yield np.ascontiguousarray(array[start:start + step])


def _digest_and_rows(table: StreamedTable, ids: np.ndarray) -> tuple[str, np.ndarray]:
    """In one pass over the table's blocks: planner.hot_rows.table_digest of its contents and
    its rows `ids` (in that order)."""
    hasher = digest_hasher(np.dtype(table.dtype), tuple(table.shape))
    rows = np.empty((len(ids),) + tuple(table.shape[1:]), table.dtype)
    order = np.argsort(ids, kind="stable")
    sorted_ids, done = ids[order], 0
    for block in table.blocks(PIECE_BYTES):
        block = block.reshape((-1,) + tuple(table.shape[1:]))
        hasher.update(block.reshape(-1).view(np.uint8))
        lo, hi = np.searchsorted(sorted_ids, [done, done + len(block)])
        rows[order[lo:hi]] = block[sorted_ids[lo:hi] - done]
        done += len(block)
    return hasher.hexdigest(), rows


def _operator(kind: int, index: int, inputs: list[int], outputs: list[int]) -> fb.OperatorT:
    op = fb.OperatorT()
    op.kind, op.index = kind, index
    op.inputs, op.outputs = list(inputs), list(outputs)
    return op


def _tensor_map(name: str, index: int) -> fb.TensorMapT:
    m = fb.TensorMapT()
    m.name, m.tensor = name, index
    return m
