"""Arrays that are views of a memory-mapped file (a .daebin's tables, an .npy read with
mmap_mode="r"): telling them apart from ordinary memory, and advising Linux about their
pages. Pages of a mapped file that a process has touched count in its resident set (RSS)
as long as they stay mapped, so code that walks a multi-GiB table once (the writer) drops
them as it goes, and code that reads scattered rows (the emulator) asks for no readahead:
either way the memory a table costs follows the rows touched, not the table's size."""

from __future__ import annotations

import ctypes
import mmap
import sys

import numpy as np

PAGE = mmap.PAGESIZE
MADV_RANDOM = 1     # Linux: no readahead around a fault (the emulator's gathers)
MADV_WILLNEED = 3   # Linux: start reading the pages of a file now (the writer's next piece)
MADV_DONTNEED = 4   # Linux: unmap the pages; a file's are read again from the page cache when touched

_madvise = None


def read_only_mapping(obj) -> np.ndarray | None:
    """The array directly on an mmap that `obj` (an ndarray or a memoryview of one) is a view
    of, when that array is read-only; None for ordinary memory, and for a writable mapping
    (dropping its private pages would lose what was written to them)."""
    array = None   # the last array on the way down to the mmap (np.frombuffer's base is a memoryview)
    while isinstance(obj, (memoryview, np.ndarray)):
        if isinstance(obj, np.ndarray):
            array = obj
        obj = obj.obj if isinstance(obj, memoryview) else obj.base
    if not isinstance(obj, mmap.mmap) or array is None or array.flags.writeable:
        return None
    return array


def advise(data, advice: int) -> None:
    """madvise(advice) over the whole pages inside `data` (a buffer of a read-only file
    mapping, see read_only_mapping); a hint only, ignored where Linux refuses it or on
    another OS."""
    if not sys.platform.startswith("linux"):
        return
    view = np.frombuffer(data, np.uint8) if not isinstance(data, np.ndarray) else data
    if view.size == 0:
        return
    start = -(-view.ctypes.data // PAGE) * PAGE
    end = (view.ctypes.data + view.nbytes) // PAGE * PAGE
    if end <= start:
        return
    global _madvise
    if _madvise is None:
        try:
            _madvise = ctypes.CDLL(None, use_errno=True).madvise
        except (OSError, AttributeError):
            _madvise = False
        else:
            _madvise.argtypes, _madvise.restype = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int], ctypes.c_int
    if _madvise:
        _madvise(start, end - start, advice)   # -1 (refused) changes nothing


def drop_pages(data) -> None:
    """Unmaps the pages of `data` when it is a view of a read-only file mapping (nothing is
    lost: touching them again reads them back), so a pass over a large mapped table holds
    no more of it than the piece in hand. Ordinary memory is left alone."""
    if read_only_mapping(data) is not None:
        advise(data, MADV_DONTNEED)
