"""Serialize a model (the flatc object API's ModelT) to .daebin bytes or a file.

Buffers whose total size would push the FlatBuffer past its 2 GiB limit are
stored after it (Buffer.offset/size, 64-byte aligned), as TFLite does. A
buffer whose `offset` is non-zero on input is always stored outside (the
reader keeps that mark, so a read-modify-write keeps the layout). Output is a
pure function of the model: identical models give identical bytes.

Data stored outside is written a bounded piece at a time: a buffer's data may be
a StreamedData (a table read from a checkpoint block by block as the file is
written), and pieces of a read-only file mapping (an .npy read with mmap_mode)
are unmapped once written, so writing many GiB of tables takes memory for one
piece, not for the tables. A file of 64 MiB or more with data outside goes to the
disk around the page cache (O_DIRECT) where the OS allows it.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import pathlib
import secrets
from typing import BinaryIO, Callable, Iterable, Iterator

import flatbuffers
import numpy as np

from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa.mapped import MADV_WILLNEED, advise, drop_pages, read_only_mapping
from ember_tf.dae_isa.verifier import EXTERNAL_ALIGNMENT, verify_model

# Inline buffer bytes above which every buffer moves outside the FlatBuffer;
# a margin below 2 GiB leaves room for the rest of the model.
DEFAULT_EXTERNAL_THRESHOLD = (1 << 31) - (64 << 20)
# Data stored after the FlatBuffer goes to the file in pieces of at most this many bytes.
PIECE_BYTES = 32 << 20
# Files with data stored outside, from this size on, are written around the page cache.
DIRECT_MIN_BYTES = 64 << 20
DIRECT_STAGING_BYTES = 8 << 20


class StreamedData:
    """Buffer data made only while the file is written, a piece at a time, and never held
    whole: `pieces(max_bytes)` yields bytes-like objects or arrays of about max_bytes (each
    valid until the next is asked for) that together are `size` bytes. A buffer with such
    data is stored after the FlatBuffer (give it an offset); `buffer_bytes` reads it whole."""

    def __init__(self, size: int, pieces: Callable[[int], Iterable]):
        self.size, self._pieces = int(size), pieces

    def __len__(self) -> int:
        return self.size

    def pieces(self) -> Iterator[memoryview]:
        done = 0
        for piece in self._pieces(PIECE_BYTES):
            view = memoryview(piece).cast("B") if not isinstance(piece, np.ndarray) else \
                memoryview(np.ascontiguousarray(piece).reshape(-1).view(np.uint8))
            done += len(view)
            if done > self.size:
                raise ValueError(f"streamed buffer data runs past its {self.size} bytes")
            yield view
        if done != self.size:
            raise ValueError(f"streamed buffer data ended after {done} of its {self.size} bytes")


def buffer_bytes(buffer: fb.BufferT) -> memoryview:
    data = buffer.data
    if data is None:
        return memoryview(b"")
    if isinstance(data, StreamedData):
        return memoryview(b"".join(bytes(piece) for piece in data.pieces()))
    if isinstance(data, np.ndarray):
        return memoryview(np.ascontiguousarray(data).view(np.uint8).reshape(-1))
    return memoryview(bytes(data) if isinstance(data, list) else data).cast("B")


class _AlignedBufferT(fb.BufferT):
    """Packs `data` honouring the schema's force_align, which flatc's Python
    object API ignores; stores only offset/size when the data lives outside."""

    def __init__(self, data: memoryview, offset: int, size: int):
        super().__init__(data=data, offset=offset, size=size)

    def Pack(self, builder: flatbuffers.Builder):
        vector = None
        if self.offset == 0:
            builder.StartVector(1, len(self.data), 16)
            builder.head -= len(self.data)
            builder.Bytes[builder.head:builder.head + len(self.data)] = self.data
            vector = builder.EndVector()
        fb.BufferStart(builder)
        if vector is not None:
            fb.BufferAddData(builder, vector)
        fb.BufferAddOffset(builder, self.offset)
        fb.BufferAddSize(builder, self.size)
        return fb.BufferEnd(builder)


def _pack(model: fb.ModelT, buffers: list[_AlignedBufferT]) -> bytearray:
    original = model.buffers
    model.buffers = buffers
    try:
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"DAE1")
        return builder.Output()
    finally:
        model.buffers = original


def _data(buffer: fb.BufferT) -> memoryview | StreamedData:
    """A buffer's data, a StreamedData left as it is (read when it is written)."""
    return buffer.data if isinstance(buffer.data, StreamedData) else buffer_bytes(buffer)


def _layout(model: fb.ModelT, external_threshold: int) -> tuple[bytearray, list[memoryview | StreamedData]]:
    """The FlatBuffer bytes and, in file order, the data stored after it."""
    datas = [_data(b) for b in model.buffers or []]
    inline_total = sum(len(d) for d in datas)
    external = [
        len(d) > 0 and (inline_total > external_threshold or (b.offset or 0) != 0)
        for b, d in zip(model.buffers or [], datas)
    ]
    # First pass with a non-zero placeholder offset so that every offset field
    # is present; the second pass only changes their values, not the layout.
    datas = [_inline(d) if not ext else d for d, ext in zip(datas, external)]
    placeholder = [_AlignedBufferT(memoryview(b""), 1, len(d)) if ext else _AlignedBufferT(d, 0, 0)
                   for d, ext in zip(datas, external)]
    head = _pack(model, placeholder)
    if not any(external):
        return head, []
    position, tail, final = len(head), [], []
    for d, ext in zip(datas, external):
        if not ext:
            final.append(_AlignedBufferT(d, 0, 0))
            continue
        position += -position % EXTERNAL_ALIGNMENT
        final.append(_AlignedBufferT(memoryview(b""), position, len(d)))
        tail.append(d)
        position += len(d)
    head = _pack(model, final)
    assert len(head) == len(_pack(model, placeholder))
    return head, tail


def _inline(data: memoryview | StreamedData) -> memoryview:
    if isinstance(data, StreamedData):   # small enough to stay inside the FlatBuffer
        return memoryview(b"".join(bytes(piece) for piece in data.pieces()))
    return data


def _size(head: bytearray, tail: list[memoryview | StreamedData]) -> int:
    position = len(head)
    for data in tail:
        position += -position % EXTERNAL_ALIGNMENT + len(data)
    return position


def _chunks(head: bytearray, tail: list[memoryview | StreamedData]) -> Iterator[memoryview]:
    """The file's bytes in order, data stored outside in pieces of at most PIECE_BYTES
    (a piece of a read-only file mapping is unmapped once the consumer asks for the next)."""
    yield memoryview(head)
    position = len(head)
    for data in tail:
        padding = -position % EXTERNAL_ALIGNMENT
        yield memoryview(b"\0" * padding)
        yield from data.pieces() if isinstance(data, StreamedData) else _pieces(data)
        position += padding + len(data)


def _pieces(data: memoryview) -> Iterator[memoryview]:
    """`data` in pieces of PIECE_BYTES; when it is a read-only file mapping, the disk reads
    the next piece while this one is written, and a piece written is dropped."""
    mapped = read_only_mapping(data) is not None
    for start in range(0, len(data), PIECE_BYTES):
        piece = data[start:start + PIECE_BYTES]
        if mapped:
            advise(data[start + PIECE_BYTES:start + 2 * PIECE_BYTES], MADV_WILLNEED)
        yield piece
        if mapped:
            drop_pages(piece)


def serialize_model(model: fb.ModelT, *, external_threshold: int = DEFAULT_EXTERNAL_THRESHOLD) -> bytes:
    """The .daebin bytes of `model` (verified first; DaebinFormatError if invalid)."""
    verify_model(model, "model")
    head, tail = _layout(model, external_threshold)
    return b"".join(bytes(c) for c in _chunks(head, tail))


def write_model(
    model: fb.ModelT,
    path: str | os.PathLike,
    *,
    external_threshold: int = DEFAULT_EXTERNAL_THRESHOLD,
    progress: Callable[[int, int], None] | None = None,
    _before_rename: Callable[[BinaryIO], None] | None = None,
) -> int:
    """Writes `model` to `path` atomically (temp file + rename); returns its size.

    `progress(done, total)` is called as bytes are written. On any error the
    destination is untouched and no temporary file is left behind.
    """
    path = pathlib.Path(path)
    verify_model(model, str(path))
    head, tail = _layout(model, external_threshold)
    total = _size(head, tail)
    with atomic_path(path) as tmp, _create(tmp) as out:
        written = 0
        sink = _DirectFile(tmp, out) if tail and total >= DIRECT_MIN_BYTES else None
        try:
            for chunk in _chunks(head, tail):
                (sink or out).write(chunk)
                written += len(chunk)
                if progress is not None:
                    progress(written, total)
            if sink is not None:
                sink.finish()
        finally:
            if sink is not None:
                sink.release()
        if written != total:
            raise ValueError(f"{path}: wrote {written} bytes, the layout has {total}")
        if _before_rename is not None:
            _before_rename(out)
        out.flush()
        os.fsync(out.fileno())
        if tail and hasattr(os, "posix_fadvise"):
            # On disk now: the tables of a large model need not stay in the page cache, where a
            # reader mapping the file would find them in large folios and map far more than the
            # rows it reads (Linux maps a cached folio whole).
            os.posix_fadvise(out.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    return written


class _DirectFile:
    """Writes a large file around the page cache (O_DIRECT), through a page-aligned staging
    buffer: file offsets and lengths in whole pages, the last page padded and the file cut
    to its size at the end. Many GiB of tables then go to the disk at its speed, instead of
    being copied into the page cache, written back and then held there. Where O_DIRECT is
    refused (another OS, tmpfs, a device with larger blocks) the bytes go to `out`, the
    ordinary buffered file, instead."""

    def __init__(self, path: pathlib.Path, out: BinaryIO):
        self.out, self.position, self.used = out, 0, 0
        self.stage = mmap.mmap(-1, DIRECT_STAGING_BYTES)     # page-aligned, as O_DIRECT needs
        self.view = memoryview(self.stage)
        try:
            self.fd = os.open(path, os.O_WRONLY | os.O_DIRECT) if hasattr(os, "O_DIRECT") else None
        except OSError:
            self.fd = None

    def write(self, data) -> None:
        data = memoryview(data).cast("B")
        while len(data) and self.fd is not None:
            n = min(len(data), len(self.view) - self.used)
            self.view[self.used:self.used + n] = data[:n]
            self.used += n
            data = data[n:]
            if self.used == len(self.view):
                self._flush(self.used)
        if len(data):   # O_DIRECT refused (from the start)
            self.out.write(data)

    def finish(self) -> None:
        """Writes what is staged (its last page padded) and cuts the file to its size."""
        if self.fd is not None and self.used:
            size = self.position + self.used
            padded = -(-self.used // mmap.PAGESIZE) * mmap.PAGESIZE
            self.view[self.used:padded] = bytes(padded - self.used)
            self._flush(padded)
            if self.fd is not None:
                os.ftruncate(self.fd, size)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        try:
            self.view.release()
            self.stage.close()
        except BufferError:   # a slice is still held (by an exception's traceback): freed with it
            pass

    def _flush(self, length: int) -> None:
        done = 0
        try:
            while done < length:
                n = os.pwrite(self.fd, self.view[done:length], self.position + done)
                if n <= 0 or n % mmap.PAGESIZE and done + n < length:
                    raise OSError(errno.EIO, "short direct write")
                done += n
        except OSError as e:
            if e.errno != errno.EINVAL or self.position or done:
                raise
            # refused from the first write on: the ordinary file takes every byte
            os.close(self.fd)
            self.fd = None
            self.out.write(self.view[:self.used])
            self.used = 0
            return
        self.position += length
        self.used = 0


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[pathlib.Path]:
    """A temporary path beside `path` that replaces `path` when the block ends, or is
    removed if the block raises: a reader sees the old file or the whole new one."""
    path = pathlib.Path(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_files(files: dict[str | os.PathLike, Callable[[BinaryIO], None]]) -> None:
    """Writes every file or none: `files` maps a path to a function writing its content
    to a binary file object; all go to temporary files first and are renamed into place
    only when all are written. An OSError names the path it was about (`filename`)."""
    with contextlib.ExitStack() as stack:
        for path, write in files.items():
            try:
                with _create(stack.enter_context(atomic_path(path))) as out:
                    write(out)
            except OSError as e:
                raise OSError(e.errno, e.strerror or str(e), os.fspath(path)) from None


def _create(tmp: pathlib.Path) -> BinaryIO:
    # Not mkstemp: its files are mode 0600; these get the usual 0666 & ~umask.
    return os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb")
