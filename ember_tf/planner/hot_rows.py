"""Access profiles and the choice of hot rows (FAE's: highest count per byte first, under one
byte budget across every table; docs/HOT_ROWS.md).

An access profile (`ember-tf profile`, PROFILE.npz) holds, per table, the rows that were read
and how often, with what identifies the table: its name in the model, its shape and a digest
of its contents, so that a profile is never applied to another model's tables.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import zipfile

import numpy as np

from ember_tf.errors import InputError

FORMAT = "ember-tf access profile 1"
TOP_SHARES = (0.001, 0.01, 0.05, 0.1)       # the summary's row fractions


@dataclasses.dataclass(frozen=True)
class TableProfile:
    name: str
    rows: int
    row_bytes: int
    digest: str                 # table_digest() of the table's contents
    ids: np.ndarray             # int64, the rows read, ascending
    counts: np.ndarray          # int64, how often each was read

    @property
    def accesses(self) -> int:
        return int(self.counts.sum())

    def top_share(self, fraction: float) -> float:
        """The share of accesses that the top `fraction` of the table's rows take."""
        top = max(1, int(np.ceil(fraction * self.rows)))
        total = self.accesses
        return float(np.sort(self.counts)[::-1][:top].sum() / total) if total else 0.0


@dataclasses.dataclass(frozen=True)
class AccessProfile:
    tables: tuple[TableProfile, ...]
    batches: int                # batches the model ran to take it
    offered: int                # batches it was offered (the rest were not sampled)

    def table(self, name: str) -> TableProfile | None:
        return next((t for t in self.tables if t.name == name), None)

    def summary(self) -> str:
        """What a person reads: per table, accesses and the share the top rows take."""
        labels = [f"top {f:.1%}".replace(".0%", "%") for f in TOP_SHARES]
        lines = [f"profiled {self.batches} of {self.offered} batch(es); share of accesses taken by the most read rows:",
                 f"  {'table':<32} {'rows':>11} {'accesses':>11} {'distinct':>9}  {'  '.join(labels)}"]
        for t in self.tables:
            shares = "  ".join(f"{t.top_share(f):>{len(label)}.1%}" for f, label in zip(TOP_SHARES, labels))
            lines.append(f"  {t.name[-32:]:<32} {t.rows:>11,} {t.accesses:>11,} {len(t.ids):>9,}  {shares}")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class HotRows:
    """The hot rows chosen for one table, hottest first (the order of their hot slots)."""

    ids: np.ndarray
    rows: int                   # the table's
    digest: str
    source: str                 # the profile's path, for errors


def digest_hasher(dtype: np.dtype, shape: tuple[int, ...]):
    """The hasher of table_digest with the dtype and shape fed: feed it the bytes, in any pieces."""
    return hashlib.sha256(f"{dtype.str}{tuple(int(d) for d in shape)}".encode())


def table_digest(table: np.ndarray) -> str:
    """sha256 of the table's dtype, shape and bytes (read in 64 MiB pieces: tables may be mapped)."""
    h = digest_hasher(table.dtype, table.shape)
    flat = np.ascontiguousarray(table).reshape(-1).view(np.uint8)
    step = 64 << 20
    for start in range(0, flat.size, step):
        h.update(flat[start:start + step])
    return h.hexdigest()


def save_profile(profile: AccessProfile, file) -> None:
    """Writes the profile as an .npz to `file` (a path or a binary file object)."""
    arrays: dict[str, np.ndarray] = {"format": np.array(FORMAT), "batches": np.array(profile.batches),
                                     "offered": np.array(profile.offered)}
    for i, t in enumerate(profile.tables):
        arrays |= {f"t{i}/name": np.array(t.name), f"t{i}/rows": np.array(t.rows),
                   f"t{i}/row_bytes": np.array(t.row_bytes), f"t{i}/digest": np.array(t.digest),
                   f"t{i}/ids": t.ids.astype(np.int64), f"t{i}/counts": t.counts.astype(np.int64)}
    np.savez_compressed(file, **arrays)


def load_profile(path: str | os.PathLike) -> AccessProfile:
    """The profile in `path`; a file that is not one, or whose rows are out of range, is an
    InputError naming it."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise InputError(f"{path}: no such profile") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise InputError(f"{path}: not an access profile ({e})") from None
    if str(arrays.get("format", "")) != FORMAT:
        raise InputError(f"{path}: not an access profile (made by `ember-tf profile`)")
    try:
        tables = tuple(_table(arrays, i, path) for i in range(len({k.split('/')[0] for k in arrays if '/' in k})))
        return AccessProfile(tables, int(arrays["batches"]), int(arrays["offered"]))
    except KeyError as e:
        raise InputError(f"{path}: not an access profile (missing {e})") from None


def _table(arrays: dict, i: int, path) -> TableProfile:
    t = TableProfile(str(arrays[f"t{i}/name"]), int(arrays[f"t{i}/rows"]), int(arrays[f"t{i}/row_bytes"]),
                     str(arrays[f"t{i}/digest"]), np.asarray(arrays[f"t{i}/ids"]).astype(np.int64),
                     np.asarray(arrays[f"t{i}/counts"]).astype(np.int64))
    if t.ids.shape != t.counts.shape or t.ids.ndim != 1:
        raise InputError(f"{path}: table {t.name!r}: ids and counts differ in shape")
    bad = (t.ids < 0) | (t.ids >= t.rows)
    if bad.any():
        raise InputError(f"{path}: table {t.name!r} has {t.rows:,} rows, but the profile counts row "
                         f"{int(t.ids[bad][0])}: rows out of range")
    if (t.counts < 0).any():
        raise InputError(f"{path}: table {t.name!r}: negative counts")
    return t


def select_hot_rows(profile: AccessProfile, budget: int, eligible: set[str], source: str) -> dict[str, HotRows]:
    """Rows of the `eligible` tables, highest count per byte first, until the next would pass
    `budget` bytes (FAE's selection across tables); table name -> its hot rows, hottest first."""
    tables = [t for t in profile.tables if t.name in eligible and len(t.ids)]
    if not tables or budget <= 0:
        return {}
    which = np.concatenate([np.full(len(t.ids), n) for n, t in enumerate(tables)])
    ids = np.concatenate([t.ids for t in tables])
    counts = np.concatenate([t.counts for t in tables])
    row_bytes = np.array([t.row_bytes for t in tables])[which]
    order = np.lexsort((ids, which, -counts / row_bytes))     # ties: by table, then row (deterministic)
    taken = order[np.cumsum(row_bytes[order]) <= budget]
    taken = taken[counts[taken] > 0]
    return {t.name: HotRows(ids[taken[which[taken] == n]], t.rows, t.digest, source)
            for n, t in enumerate(tables) if (which[taken] == n).any()}


class HotRowChooser:
    """Spends one byte budget on hot rows, signature by signature as the converter plans them
    (the tables a signature reads with `gm` are offered; a table keeps the rows it got first),
    and refuses what the machine cannot pin: the rows with their remaps (4 bytes a table row)."""

    def __init__(self, profile: AccessProfile, budget: int, source: str, machine: str, pinned_limit: int):
        self.profile, self.budget, self.source = profile, budget, source
        self.machine, self.pinned_limit = machine, pinned_limit
        self.chosen: dict[str, HotRows] = {}
        self.seen: set[str] = set()

    def choose(self, offered: set[str], seen: set[str]) -> dict[str, HotRows]:
        """Hot rows for the `offered` tables (`seen`: every table of the signature)."""
        self.seen |= seen
        spent = sum(len(h.ids) * self.profile.table(n).row_bytes for n, h in self.chosen.items())
        self.chosen |= select_hot_rows(self.profile, self.budget - spent, offered - set(self.chosen), self.source)
        pinned = sum(len(h.ids) * self.profile.table(n).row_bytes + 4 * h.rows for n, h in self.chosen.items())
        if pinned > self.pinned_limit:
            raise InputError(f"--hot_bytes {self.budget:,}: the hot rows and their remaps take {pinned:,} bytes; "
                             f"machine '{self.machine}' may pin {self.pinned_limit:,} (pinned_llc_bytes)")
        return {n: h for n, h in self.chosen.items() if n in offered}

    def check_model(self) -> None:
        """A profile none of whose tables the model has is another model's."""
        if not {t.name for t in self.profile.tables} & self.seen:
            raise InputError(f"{self.source}: none of the profile's {len(self.profile.tables)} table(s) is in the "
                             f"model (a profile of another model?)")
