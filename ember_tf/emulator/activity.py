"""What one core did during a kernel, in the form the timing model reads.

The golden interpreter and the fast mode both produce a CoreActivity; the
timing model (timing.py) turns it into cycles. Queue entries are numbered in
marshal order; work on the core is attributed to the callback token it was
handling (-1 before the first token).
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np


@dataclasses.dataclass
class AddressMap:
    """Virtual base address and element size of each kernel slot, for the caches."""

    base: np.ndarray
    itemsize: np.ndarray
    line_bytes: int

    def lines(self, slot: int, elements: np.ndarray) -> np.ndarray:
        """The cache lines the elements lie in, consecutive repeats dropped
        (one vector access to one line is one request)."""
        lines = (int(self.base[slot]) + np.asarray(elements, dtype=np.int64) * int(self.itemsize[slot])) \
            // self.line_bytes
        if len(lines) > 1:
            lines = lines[np.concatenate(([True], lines[1:] != lines[:-1]))]
        return lines


@dataclasses.dataclass
class CoreActivity:
    core_id: int
    entry_bytes: np.ndarray          # per queue entry, in marshal order
    entry_iterations: np.ndarray     # access-unit stream evaluations before each entry
    trailing_iterations: int         # evaluations after the last entry
    au_entry: np.ndarray             # per access-unit line request: the entry it precedes
    au_stream: np.ndarray
    au_line: np.ndarray
    core_token: np.ndarray           # per core-cycle record: token entry index (-1: before the first)
    core_cycles: np.ndarray
    access_token: np.ndarray         # per line the core loads or stores: the token being handled
    access_line: np.ndarray
    access_store: np.ndarray         # bool
    counts: dict
    callbacks: int

    def owned(self) -> "CoreActivity":
        """A copy whose arrays are its own (the fast mode's may be views of scratch space)."""
        return dataclasses.replace(self, **{f.name: getattr(self, f.name).copy() for f in dataclasses.fields(self)
                                            if isinstance(getattr(self, f.name), np.ndarray)})

    @staticmethod
    def from_golden(core, entries: list, access) -> "CoreActivity":
        log = access.log if access is not None else None
        tokens = sorted(core.cycles_by_token)
        rows = [(token, line, store) for token, lines, store in core.accesses for line in lines]
        return CoreActivity(
            core_id=core.core_id,
            entry_bytes=np.array([e.nbytes for e in entries], dtype=np.int64),
            entry_iterations=np.array(log.iterations if log else [], dtype=np.int64),
            trailing_iterations=access.pending_iterations if access is not None else 0,
            au_entry=np.array(log.entry if log else [], dtype=np.int64),
            au_stream=np.array(log.stream if log else [], dtype=np.int64),
            au_line=np.array(log.line if log else [], dtype=np.int64),
            core_token=np.array(tokens, dtype=np.int64),
            core_cycles=np.array([core.cycles_by_token[t] for t in tokens], dtype=np.float64),
            access_token=np.array([r[0] for r in rows], dtype=np.int64),
            access_line=np.array([r[1] for r in rows], dtype=np.int64),
            access_store=np.array([r[2] for r in rows], dtype=bool),
            counts=dict(collections.Counter(core.counts)),
            callbacks=int(np.count_nonzero([type(e).__name__ == "Token" for e in entries])),
        )
