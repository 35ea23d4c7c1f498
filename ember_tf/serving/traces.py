"""Long request traces: a stream of batches run one after another through a program, with
each batch's statistics and the trace's (`ember-tf run MODEL --trace_inputs=DIR`).

A trace is a directory (or a single file); its files are read in sorted order of name, one
batch at a time (a trace is never held whole):

- `*.npz` with the signature's inputs by name, as `run --inputs` takes them: one batch.
- `*.npz` in FBGEMM's table-batched form (TorchRec's KeyedJaggedTensor laid flat): `indices`,
  every table's ids one table after another, and `offsets` (T*B + 1 entries, starting at 0:
  bag b of table t is `indices[offsets[t*B + b]:offsets[t*B + b + 1]]`) and/or `lengths`
  (T*B bag sizes; offsets are their running sum). One batch, mapped onto the signature by
  `fbgemm_feeds`. Other keys in the file are signature inputs by name (dense features).
- TF Serving warmup files (`tf_serving_warmup_requests`, `*.tfrecord`, `*.tfrecords`): each
  predict request a batch, on the request's signature.

Anything else in the directory, a file that cannot be read, or a batch the program refuses
is an EmberError naming the file (and the batch) and the problem.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import time
from typing import Iterable, Iterator, Sequence

import numpy as np

from ember_tf.emulator import Interpreter
from ember_tf.emulator.interpreter import SignatureRunner, TensorDetail
from ember_tf.emulator.stats import RunStats
from ember_tf.errors import EmberError, EmulationError, InputError
from ember_tf.npz import load_npz
from ember_tf.serving.warmup import WARMUP_FILE, input_keys, iter_warmup_requests

WARMUP_SUFFIXES = (".tfrecord", ".tfrecords")
FBGEMM_KEYS = ("indices", "offsets", "lengths")


@dataclasses.dataclass
class Batch:
    """One batch of a trace: where it came from (`file`, and `name`: the file's name, with
    `#k` for request k of a warmup file), the signature it runs and its inputs."""

    file: pathlib.Path
    name: str
    signature_key: str | None      # None: the trace's signature
    feeds: dict[str, np.ndarray]   # npz component names (SignatureDef keys for warmup requests)


@dataclasses.dataclass
class BatchResult:
    batch: Batch
    signature_key: str
    outputs: dict[str, np.ndarray]
    stats: RunStats
    wall_seconds: float            # the emulation's time on the host

    @property
    def instructions(self) -> int:
        """Core instructions executed, over every kernel and core."""
        return sum(sum(core.instructions.values()) for kernel in self.stats.kernels for core in kernel.cores)

    def to_json(self) -> dict:
        return {"batch": self.batch.name, "file": str(self.batch.file), "signature": self.signature_key,
                "cycles": int(self.stats.cycles), "dram_bytes": int(self.stats.dram_bytes),
                "instructions": self.instructions, "seconds": self.stats.seconds,
                "kernel_cycles": int(self.stats.kernel_cycles), "host_cycles": int(self.stats.host_cycles),
                "wall_seconds": round(self.wall_seconds, 6)}


def trace_files(path: str | os.PathLike) -> list[pathlib.Path]:
    """The files of trace `path` in the order they run: a directory's, sorted by name (hidden
    files and subdirectories left out), or `path` itself."""
    path = pathlib.Path(path)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted((p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")),
                       key=lambda p: p.name)
        if not files:
            raise EmberError(f"{path}: the trace directory holds no files")
    else:
        raise EmberError(f"{path}: no such trace directory or file")
    for file in files:
        if not _is_npz(file) and not _is_warmup(file):
            raise EmberError(f"{file}: not a trace file (.npz, {', '.join(WARMUP_SUFFIXES)} or {WARMUP_FILE})")
    return files


def read_trace(path: str | os.PathLike, interpreter: Interpreter, signature_key: str | None = None,
               tables: Sequence[str] | None = None) -> Iterator[Batch]:
    """The batches of trace `path`, read as they are asked for. FBGEMM-form files are mapped
    onto signature `signature_key` (`tables`: its per-table inputs in table order)."""
    runner = interpreter.get_signature_runner(signature_key)
    keys = input_keys(interpreter)
    for file in trace_files(path):
        if _is_warmup(file):
            for k, request in enumerate(iter_warmup_requests(file)):
                try:
                    signature = interpreter.get_signature_runner(request.signature_key).key
                except EmulationError as e:   # a request for a signature the program lacks
                    raise EmberError(f"{file}: request {k}: {e}") from None
                mapping = keys.get(signature, {})
                yield Batch(file, f"{file.name}#{k}", signature,
                            {mapping.get(name, name): value for name, value in request.inputs.items()})
            continue
        arrays = load_npz(file)
        if "indices" in arrays and ({"offsets", "lengths"} & set(arrays)) and \
                "indices" not in runner.get_input_details():
            arrays = fbgemm_feeds(arrays, runner, tables, file)
        yield Batch(file, file.name, runner.key, arrays)


def run_trace(interpreter: Interpreter, batches: Iterable[Batch]) -> Iterator[BatchResult]:
    """Runs the batches one after another; yields each one's outputs and statistics."""
    for batch in batches:
        runner = interpreter.get_signature_runner(batch.signature_key)
        started = time.perf_counter()
        try:
            outputs = runner(**batch.feeds)
        except InputError as e:   # the batch's fault: named by its file
            raise EmberError(f"{batch.file}: batch {batch.name}: {e}") from None
        except EmulationError as e:   # the program's
            raise EmulationError(f"batch {batch.name} of {batch.file}: {e}") from None
        yield BatchResult(batch, runner.key, outputs, interpreter.last_stats, time.perf_counter() - started)


@dataclasses.dataclass
class TraceStats:
    """What a trace adds up to; `add` each batch's result as it comes."""

    cycles: list[int] = dataclasses.field(default_factory=list)
    dram_bytes: int = 0
    instructions: int = 0
    seconds: float = 0.0          # emulated
    wall_seconds: float = 0.0     # of emulation on the host
    machine: str = ""

    def add(self, result: BatchResult) -> None:
        self.cycles.append(int(result.stats.cycles))
        self.dram_bytes += int(result.stats.dram_bytes)
        self.instructions += result.instructions
        self.seconds += result.stats.seconds
        self.wall_seconds += result.wall_seconds
        self.machine = result.stats.machine

    def to_json(self) -> dict:
        n = len(self.cycles)
        cycles = np.array(self.cycles, np.int64)
        return {"machine": self.machine, "batches": n, "cycles": int(cycles.sum()),
                "mean_cycles": float(cycles.mean()) if n else 0.0, "p50_cycles": percentile(self.cycles, 50),
                "p99_cycles": percentile(self.cycles, 99), "min_cycles": int(cycles.min()) if n else 0,
                "max_cycles": int(cycles.max()) if n else 0, "dram_bytes": self.dram_bytes,
                "mean_dram_bytes": self.dram_bytes / n if n else 0.0, "instructions": self.instructions,
                "seconds": self.seconds, "wall_seconds": round(self.wall_seconds, 6)}


def percentile(values: Sequence[int], q: float) -> int:
    """The nearest-rank q-th percentile: the smallest value with at least q% of the values at
    or below it (always one of the values; 0 for none)."""
    if not values:
        return 0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return int(ordered[int(rank) - 1])


# -- FBGEMM's table-batched form ----------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TableInput:
    """A signature's ids of one table: `kind` csr (`<name>_indices`, `<name>_offsets`), ragged
    (`<name>.values`, `<name>.row_splits`), sparse (`<name>.indices`, `.values`, `.dense_shape`)
    or dense (`<name>`: [B] one id per sample, or [B, L] L ids per sample)."""

    name: str
    kind: str
    components: tuple[str, ...]


def table_inputs(details: dict[str, TensorDetail]) -> tuple[list[TableInput], list[str]]:
    """The signature's per-table id inputs, in its input order, and its other inputs."""
    tables, seen, other = [], set(), []
    for name in details:
        if name in seen:
            continue
        base, _, part = name.rpartition(".")
        stem = re.sub(r"_(indices|offsets)$", "", name)
        if base and part in ("indices", "values", "dense_shape") and \
                all(f"{base}.{p}" in details for p in ("indices", "values", "dense_shape")):
            components = tuple(f"{base}.{p}" for p in ("indices", "values", "dense_shape"))
            tables.append(TableInput(base, "sparse", components))
        elif base and part in ("values", "row_splits") and f"{base}.values" in details and \
                f"{base}.row_splits" in details:
            tables.append(TableInput(base, "ragged", (f"{base}.values", f"{base}.row_splits")))
        elif stem != name and f"{stem}_indices" in details and f"{stem}_offsets" in details:
            tables.append(TableInput(stem, "csr", (f"{stem}_indices", f"{stem}_offsets")))
        elif details[name].dtype.kind in "iu" and len(details[name].shape_signature) in (1, 2):
            tables.append(TableInput(name, "dense", (name,)))
        else:
            other.append(name)
            continue
        seen.update(tables[-1].components)
    return tables, other


def fbgemm_feeds(arrays: dict[str, np.ndarray], runner: SignatureRunner, tables: Sequence[str] | None,
                 file: str | os.PathLike) -> dict[str, np.ndarray]:
    """An FBGEMM-form batch (`indices`, `offsets` and/or `lengths`, see the module docstring)
    as the inputs of `runner`'s signature. Its per-table id inputs (`table_inputs`; `tables`
    names them in table order, by default the signature's order) take table t's bags:
    csr/ragged get its ids and its offsets from 0, sparse gets [b, j] indices and dense_shape
    [B, longest bag], dense [B] or [B, L] needs every bag to hold 1 or L ids. The other keys
    of the file are signature inputs by name."""
    details = runner.get_input_details()
    found, other = table_inputs(details)
    where = f"{file}: FBGEMM batch"
    if tables:
        by_name = {t.name: t for t in found}
        unknown = [n for n in tables if n not in by_name]
        if unknown:
            raise EmberError(f"{where}: '{unknown[0]}' is not a table input of signature '{runner.key}' "
                             f"(it has {', '.join(by_name) or 'none'})")
        found = [by_name[n] for n in tables]
    if not found:
        raise EmberError(f"{where}: signature '{runner.key}' has no per-table id inputs to map it onto "
                         f"(its inputs: {', '.join(details)})")
    indices, offsets = _csr(arrays, where)
    count = len(found)
    if (offsets.size - 1) % count:
        raise EmberError(f"{where}: {offsets.size - 1} bags do not split over the {count} tables of signature "
                         f"'{runner.key}' ({', '.join(t.name for t in found)})")
    batch = (offsets.size - 1) // count
    feeds = {}
    for t, table in enumerate(found):
        local = offsets[t * batch:(t + 1) * batch + 1]
        ids = indices[local[0]:local[-1]]
        local = local - local[0]
        feeds.update(_table_feeds(table, ids, local, batch, details, f"{where}: table {t} ('{table.name}')"))
    for key, value in arrays.items():
        if key in FBGEMM_KEYS:
            continue
        if key not in other:
            raise EmberError(f"{where}: '{key}' is neither {', '.join(FBGEMM_KEYS)} nor an input of signature "
                             f"'{runner.key}' besides its tables ({', '.join(other) or 'none'})")
        feeds[key] = value
    return feeds


def _csr(arrays: dict[str, np.ndarray], where: str) -> tuple[np.ndarray, np.ndarray]:
    for key in FBGEMM_KEYS:
        if key in arrays and (arrays[key].ndim != 1 or arrays[key].dtype.kind not in "iu"):
            raise EmberError(f"{where}: '{key}' must be a vector of integers, not {arrays[key].dtype} "
                             f"{list(arrays[key].shape)}")
    indices = arrays["indices"].astype(np.int64)
    lengths = arrays["lengths"].astype(np.int64) if "lengths" in arrays else None
    if lengths is not None and (lengths < 0).any():
        raise EmberError(f"{where}: 'lengths' holds a negative length")
    from_lengths = None if lengths is None else np.concatenate([[0], np.cumsum(lengths)])
    if "offsets" in arrays:
        offsets = arrays["offsets"].astype(np.int64)
        if offsets.size < 1 or offsets[0] != 0 or (np.diff(offsets) < 0).any():
            raise EmberError(f"{where}: 'offsets' must start at 0 and never decrease")
        if from_lengths is not None and not np.array_equal(offsets, from_lengths):
            raise EmberError(f"{where}: 'offsets' and 'lengths' disagree (offsets must be 0 followed by the "
                             f"running sum of lengths)")
    else:
        offsets = from_lengths
    if offsets[-1] != indices.size:
        raise EmberError(f"{where}: the bags hold {offsets[-1]} ids, 'indices' has {indices.size}")
    return indices, offsets


def _table_feeds(table: TableInput, ids: np.ndarray, offsets: np.ndarray, batch: int,
                 details: dict[str, TensorDetail], where: str) -> dict[str, np.ndarray]:
    lengths = np.diff(offsets)
    if table.kind in ("csr", "ragged"):
        ids_name, offsets_name = table.components
        return {ids_name: _cast(ids, details[ids_name], where), offsets_name: _cast(offsets, details[offsets_name], where)}
    if table.kind == "sparse":
        indices_name, values_name, shape_name = table.components
        rows = np.repeat(np.arange(batch, dtype=np.int64), lengths)
        columns = np.arange(ids.size, dtype=np.int64) - np.repeat(offsets[:-1], lengths)
        longest = int(lengths.max()) if lengths.size else 0
        return {indices_name: _cast(np.stack([rows, columns], axis=1), details[indices_name], where),
                values_name: _cast(ids, details[values_name], where),
                shape_name: _cast(np.array([batch, max(longest, 1)]), details[shape_name], where)}
    detail = details[table.name]
    if len(detail.shape_signature) == 1:
        if (lengths != 1).any():
            raise EmberError(f"{where}: input '{table.name}' takes one id per sample, but bags hold "
                             f"{lengths.min()} to {lengths.max()} ids")
        return {table.name: _cast(ids, detail, where)}
    width = detail.shape_signature[1]
    want = width if width >= 0 else (int(lengths[0]) if lengths.size else 0)
    if (lengths != want).any():
        raise EmberError(f"{where}: input '{table.name}' takes {want if width >= 0 else 'the same number of'} "
                         f"ids per sample ([B, L]), but bags hold {lengths.min()} to {lengths.max()} ids")
    return {table.name: _cast(ids.reshape(batch, want), detail, where)}


def _cast(values: np.ndarray, detail: TensorDetail, where: str) -> np.ndarray:
    """`values` in the input's integer dtype, refusing what does not fit it."""
    dtype = np.dtype(detail.dtype)
    if dtype.kind not in "iu":
        raise EmberError(f"{where}: input '{detail.name}' is {dtype}, not integer ids")
    info = np.iinfo(dtype)
    if values.size and (values.min() < info.min or values.max() > info.max):
        raise EmberError(f"{where}: input '{detail.name}' is {dtype}; values {values.min()}..{values.max()} "
                         f"do not fit it")
    return values.astype(dtype)


def _is_npz(file: pathlib.Path) -> bool:
    return file.suffix == ".npz"


def _is_warmup(file: pathlib.Path) -> bool:
    return file.name == WARMUP_FILE or file.suffix in WARMUP_SUFFIXES
