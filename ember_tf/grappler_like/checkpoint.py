"""Tables read straight from a SavedModel's checkpoint, a bounded block of rows at a time.

A TF2 checkpoint is a tensor bundle: `variables.index`, a table in LevelDB's format (an
SSTable) mapping each key to a `BundleEntryProto` (dtype, shape, shard, offset, size,
CRC32C), and shards `variables.data-NNNNN-of-MMMMM` holding each tensor's bytes at its
offset, row-major, in the bundle's byte order. TensorFlow's readers return a tensor whole,
and reading a slice of a tensor saved whole (`RestoreV2` with `shape_and_slices`) reads the
whole tensor as well, so a table of many GiB would need as much memory. Here the index is
read directly and a tensor's bytes with `readinto` into two blocks that are reused (the next
is read on a second thread while the caller writes the one in hand), the CRC32C checked as
TensorFlow checks it. What this reader does not handle — a tensor saved in slices, a
big-endian bundle, a compressed index block, anything but fixed-size numbers — it leaves to
TensorFlow's reader: `Bundle.tensor` returns None, as `open_bundle` does for an index it
cannot parse."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import os
import struct
from typing import Iterator

import numpy as np

from ember_tf.errors import SavedModelImportError

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_BYTES = 48
_BLOCK_TRAILER_BYTES = 5   # compression type + masked CRC32C
_MASK_DELTA = 0xA282EAD8


class _Malformed(Exception):
    """The index is not what this reader understands: TensorFlow's reader takes over."""


@dataclasses.dataclass(frozen=True)
class BundleTensor:
    """Where one tensor's bytes are: `size` bytes at `offset` of shard file `path`."""

    key: str
    path: str
    offset: int
    size: int
    dtype: np.dtype
    shape: tuple[int, ...]
    crc32c: int   # unmasked

    def blocks(self, max_bytes: int) -> Iterator[np.ndarray]:
        """The tensor's rows in order, in arrays of at most max_bytes (at least one row) that
        are reused: each is valid until the next is asked for. After the last, the CRC32C of
        all of them is checked (SavedModelImportError if it differs: a corrupt checkpoint)."""
        count = self.shape[0] if self.shape else 1
        row_bytes = self.size // count if count else 0
        rows = max(1, max_bytes // max(row_bytes, 1))
        spares = [np.empty(min(rows, max(count, 1)) * row_bytes, np.uint8) for _ in range(2)]
        crc = [0]   # updated by the reader thread, which reads the blocks one after another in order
        try:
            yield from self._read_blocks(count, row_bytes, rows, spares, crc)
        except OSError as e:
            raise SavedModelImportError(f"{self.path}: cannot read {self.key!r}: {e.strerror or e}") from None
        if crc[0] != self.crc32c:
            raise SavedModelImportError(f"{self.path}: {self.key!r} fails its checksum (a corrupt checkpoint)")

    def _read_blocks(self, count: int, row_bytes: int, rows: int, spares: list[np.ndarray], crc: list[int]):
        with open(self._file(), "rb", buffering=0) as f, \
                concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="checkpoint") as reader:
            def read(start: int, buffer: np.ndarray) -> np.ndarray:
                view = buffer[:min(rows, count - start) * row_bytes]
                if hasattr(os, "posix_fadvise") and start + rows < count:   # the disk reads the next block
                    os.posix_fadvise(f.fileno(), self.offset + (start + rows) * row_bytes, len(view),
                                     os.POSIX_FADV_WILLNEED)                # while this one is checked
                if os.preadv(f.fileno(), [view], self.offset + start * row_bytes) != len(view):
                    raise SavedModelImportError(f"{self.path}: {self.key!r} runs past the end of the file "
                                                f"(a truncated checkpoint)")
                crc[0] = crc32c_update(crc[0], view)
                return view

            start, turn = 0, 0
            pending = reader.submit(read, 0, spares[0]) if count else None
            while pending is not None:
                view = pending.result()
                start += len(view) // row_bytes if row_bytes else count
                turn ^= 1
                pending = reader.submit(read, start, spares[turn]) if start < count else None
                yield view.view(self.dtype).reshape((-1,) + self.shape[1:])

    def verified_view(self) -> np.ndarray:
        """The tensor as a read-only view of its shard file (memory-mapped), after reading it
        once to check its CRC32C: for reading rows in any order (a sharded table's)."""
        for _ in self.blocks(32 << 20):
            pass
        if not self.size:
            return np.empty(self.shape, self.dtype)
        try:
            return np.memmap(self._file(), self.dtype, "r", self.offset, self.shape)
        except (OSError, ValueError) as e:
            raise SavedModelImportError(f"{self.path}: cannot map {self.key!r} ({e})") from None

    def _file(self) -> str:
        if not os.path.isfile(self.path):
            raise SavedModelImportError(f"{self.path}: checkpoint shard not found")
        return self.path


class Bundle:
    """The index of a tensor bundle (`prefix.index`), parsed once."""

    def __init__(self, prefix: str, entries: dict[bytes, bytes]):
        self.prefix, self._entries = prefix, entries
        from tensorflow.core.protobuf import tensor_bundle_pb2

        self._pb = tensor_bundle_pb2
        header = tensor_bundle_pb2.BundleHeaderProto()
        try:
            header.ParseFromString(entries.get(b"", b""))
        except Exception:  # noqa: BLE001 - protobuf's DecodeError
            raise _Malformed("header") from None
        if header.num_shards < 1 or header.endianness != tensor_bundle_pb2.BundleHeaderProto.LITTLE \
                or not np.little_endian:
            raise _Malformed("shards or byte order")
        self.num_shards = header.num_shards

    def tensor(self, key: str) -> BundleTensor | None:
        """Where tensor `key` is, or None when it is not a whole fixed-size numeric tensor this
        reader can stream (TensorFlow's reader takes it then, and names any problem)."""
        raw = self._entries.get(key.encode())
        if raw is None:
            return None
        entry = self._pb.BundleEntryProto()
        try:
            entry.ParseFromString(raw)
        except Exception:  # noqa: BLE001
            return None
        dtype = _numpy_dtype(entry.dtype)
        shape = tuple(int(d.size) for d in entry.shape.dim)
        if dtype is None or entry.slices or any(d < 0 for d in shape) or not 0 <= entry.shard_id < self.num_shards \
                or entry.size != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
            return None
        path = f"{self.prefix}.data-{entry.shard_id:05d}-of-{self.num_shards:05d}"
        return BundleTensor(key, path, int(entry.offset), int(entry.size), dtype, shape, _unmask(entry.crc32c))


def open_bundle(prefix: str) -> Bundle | None:
    """The bundle whose index is `prefix.index`, or None when this reader cannot parse it."""
    try:
        with open(prefix + ".index", "rb") as f:
            data = f.read()
        return Bundle(prefix, _read_table(data))
    except (OSError, _Malformed, IndexError, struct.error, ValueError):
        return None


def _numpy_dtype(enum: int) -> np.dtype | None:
    from ember_tf.tf_loader import tensorflow

    tf = tensorflow("reading a checkpoint")
    try:
        dt = tf.dtypes.as_dtype(enum)
        if not dt.is_numpy_compatible or dt in (tf.string, tf.resource, tf.variant):
            return None
        dtype = np.dtype(dt.as_numpy_dtype)
    except TypeError:
        return None
    return dtype if dtype.kind in "biufcV" and dtype.itemsize else None


# -- the SSTable (LevelDB table format, as tensorflow/core/lib/io/table) ---------------

def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise _Malformed("varint")


def _handle(data: bytes, pos: int) -> tuple[int, int, int]:
    offset, pos = _varint(data, pos)
    size, pos = _varint(data, pos)
    return offset, size, pos


def _block(data: bytes, offset: int, size: int) -> bytes:
    end = offset + size
    if offset < 0 or end + _BLOCK_TRAILER_BYTES > len(data):
        raise _Malformed("block past the end")
    if data[end] != 0:   # compressed (snappy)
        raise _Malformed("compressed block")
    (masked,) = struct.unpack_from("<I", data, end + 1)
    contents = np.frombuffer(data, np.uint8, size + 1, offset)
    if crc32c_update(0, contents) != _unmask(masked):
        raise _Malformed("block checksum")
    return data[offset:end]


def _entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 * (restarts + 1)
    if limit < 0:
        raise _Malformed("restart array")
    pos, key = 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        length, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + length > limit:
            raise _Malformed("entry")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + length]
        pos += length


def _read_table(data: bytes) -> dict[bytes, bytes]:
    if len(data) < _FOOTER_BYTES:
        raise _Malformed("too short")
    footer = len(data) - _FOOTER_BYTES
    (magic,) = struct.unpack_from("<Q", data, len(data) - 8)
    if magic != _TABLE_MAGIC:
        raise _Malformed("magic")
    _, _, pos = _handle(data, footer)            # the metaindex block (unused)
    offset, size, _ = _handle(data, pos)          # the index block
    out: dict[bytes, bytes] = {}
    for _, value in _entries(_block(data, offset, size)):
        block_offset, block_size, _ = _handle(value, 0)
        out.update(_entries(_block(data, block_offset, block_size)))
    return out


# -- CRC32C (Castagnoli), as TensorFlow's crc32c: slicing by 8 -------------------------

def _unmask(masked: int) -> int:
    rotated = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rotated >> 17) | (rotated << 15)) & 0xFFFFFFFF


@functools.cache
def _tables() -> np.ndarray:
    table = np.zeros((8, 256), np.uint64)
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table[0, n] = crc
    for k in range(1, 8):
        table[k] = (table[k - 1] >> 8) ^ table[0, table[k - 1] & 0xFF]
    return table


@functools.cache
def _kernel():
    from numba import njit

    @njit(cache=True, nogil=True)
    def update(crc, data, t):
        # all in uint64 (numba types a mix of uint32 and int constants as float)
        full, byte = np.uint64(0xFFFFFFFF), np.uint64(0xFF)
        s8, s16, s24 = np.uint64(8), np.uint64(16), np.uint64(24)
        crc = np.uint64(crc) ^ full
        n, i = data.size, 0
        while i + 8 <= n:
            lo = crc ^ (np.uint64(data[i]) | (np.uint64(data[i + 1]) << s8) | (np.uint64(data[i + 2]) << s16)
                        | (np.uint64(data[i + 3]) << s24))
            hi = np.uint64(data[i + 4]) | (np.uint64(data[i + 5]) << s8) | (np.uint64(data[i + 6]) << s16) \
                | (np.uint64(data[i + 7]) << s24)
            crc = (t[7, lo & byte] ^ t[6, (lo >> s8) & byte] ^ t[5, (lo >> s16) & byte] ^ t[4, lo >> s24]
                   ^ t[3, hi & byte] ^ t[2, (hi >> s8) & byte] ^ t[1, (hi >> s16) & byte] ^ t[0, hi >> s24])
            i += 8
        while i < n:
            crc = t[0, (crc ^ np.uint64(data[i])) & byte] ^ (crc >> s8)
            i += 1
        return crc ^ full

    return update


def crc32c_update(crc: int, data) -> int:
    """CRC32C of `data` (a uint8 array or bytes-like) continuing from `crc`."""
    array = data if isinstance(data, np.ndarray) else np.frombuffer(data, np.uint8)
    return int(_kernel()(np.uint64(crc), array.reshape(-1).view(np.uint8), _tables()))
