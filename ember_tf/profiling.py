"""`ember-tf profile`: which rows of each table a converted model reads, and how often, on
sample batches (docs/HOT_ROWS.md). The model runs in the emulator; an observer sees every
kernel's table (its first slot, a constant of the model) and its ids, so ids computed by host
segments (hashing, vocabulary lookups) are counted as the kernels receive them."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import numpy as np

from ember_tf.dae_isa import dtypes
from ember_tf.errors import EmberError, InputError
from ember_tf.frontend.planning import ID_ARGS
from ember_tf.ir.hot_rows import REMAP
from ember_tf.npz import load_npz
from ember_tf.planner.hot_rows import AccessProfile, TableProfile, table_digest


@dataclasses.dataclass(frozen=True)
class Batch:
    where: str                          # for errors: the file (and record)
    signature_key: str | None
    feeds: dict[str, np.ndarray]


def npz_batches(path: str | os.PathLike) -> list[Batch]:
    """One batch per .npz: the file, or every .npz of a directory in name order."""
    path = pathlib.Path(path)
    files = sorted(path.glob("*.npz")) if path.is_dir() else [path]
    if not files:
        raise InputError(f"{path}: no .npz files in the directory")
    return [Batch(str(f), None, dict(load_npz(f))) for f in files]


def warmup_batches(path: str | os.PathLike, interpreter) -> list[Batch]:
    """One batch per request of a TF Serving warmup file, its keys mapped onto the model's inputs."""
    from ember_tf.serving.warmup import input_keys, read_warmup_requests

    keys = input_keys(interpreter)
    return [Batch(f"{path} request {i}", r.signature_key,
                  {keys.get(r.signature_key, {}).get(k, k): v for k, v in r.inputs.items()})
            for i, r in enumerate(read_warmup_requests(path))]


def sampled(batches: list[Batch], rate: float, seed: int = 0) -> list[Batch]:
    """Each batch with probability `rate` (a fixed seed), and at least one."""
    if not 0 < rate <= 1:
        raise InputError(f"--sample_rate must be in (0, 1], not {rate}")
    keep = np.random.default_rng(seed).random(len(batches)) < rate
    chosen = [b for b, k in zip(batches, keep) if k]
    return chosen or batches[:1]


def profile_model(interpreter, batches: list[Batch], offered: int) -> AccessProfile:
    """Runs every batch and counts the rows each table's kernels read."""
    counts: dict[int, np.ndarray] = {}          # table tensor -> reads per row

    def observe(number: int, name: str, arrays: dict[str, np.ndarray], tensors: dict[str, int]) -> None:
        if REMAP in arrays:
            raise EmberError(f"kernel '{name}' already reads hot rows; profile the model converted without "
                             f"--profile")
        slot = next(iter(arrays))
        ids = next((arrays[n] for n in arrays if n in ID_ARGS), None)
        table = tensors[slot]
        if ids is None or not _is_constant(interpreter, table):
            return
        rows = arrays[slot].shape[0]
        flat = ids.reshape(-1).astype(np.int64)
        flat = flat[(flat >= 0) & (flat < rows)]     # the kernel itself faults on the others
        counts[table] = counts.get(table, np.zeros(rows, np.int64)) + np.bincount(flat, minlength=rows)

    interpreter.kernel_observer = observe
    try:
        for batch in batches:
            try:
                interpreter.get_signature_runner(batch.signature_key)(**batch.feeds)
            except InputError as e:
                raise InputError(f"{batch.where}: {e}") from None
    finally:
        interpreter.kernel_observer = None
    if not counts:
        raise EmberError("the model has no kernel reading a table of its own; nothing to profile")
    return AccessProfile(tuple(_table_profile(interpreter, t, c) for t, c in sorted(counts.items())),
                         len(batches), offered)


def _is_constant(interpreter, tensor: int) -> bool:
    return bool(interpreter.model.tensors[tensor].buffer)


def _table_profile(interpreter, tensor: int, counts: np.ndarray) -> TableProfile:
    t = interpreter.model.tensors[tensor]
    name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
    shape = [int(d) for d in t.shape]
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * np.dtype(dtypes.numpy_dtype(t.dtype)).itemsize
    ids = np.flatnonzero(counts)
    return TableProfile(name, shape[0], row_bytes, table_digest(interpreter.constant(tensor)), ids, counts[ids])
