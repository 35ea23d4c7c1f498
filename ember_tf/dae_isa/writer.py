"""Serialize a model (the flatc object API's ModelT) to .daebin bytes or a file.

Buffers whose total size would push the FlatBuffer past its 2 GiB limit are
stored after it (Buffer.offset/size, 64-byte aligned), as TFLite does. A
buffer whose `offset` is non-zero on input is always stored outside (the
reader keeps that mark, so a read-modify-write keeps the layout). Output is a
pure function of the model: identical models give identical bytes.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import secrets
from typing import BinaryIO, Callable, Iterator

import flatbuffers
import numpy as np

from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa.verifier import EXTERNAL_ALIGNMENT, verify_model

# Inline buffer bytes above which every buffer moves outside the FlatBuffer;
# a margin below 2 GiB leaves room for the rest of the model.
DEFAULT_EXTERNAL_THRESHOLD = (1 << 31) - (64 << 20)


def buffer_bytes(buffer: fb.BufferT) -> memoryview:
    data = buffer.data
    if data is None:
        return memoryview(b"")
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


def _layout(model: fb.ModelT, external_threshold: int) -> tuple[bytearray, list[memoryview]]:
    """The FlatBuffer bytes and, in file order, the data stored after it."""
    datas = [buffer_bytes(b) for b in model.buffers or []]
    inline_total = sum(len(d) for d in datas)
    external = [
        len(d) > 0 and (inline_total > external_threshold or (b.offset or 0) != 0)
        for b, d in zip(model.buffers or [], datas)
    ]
    # First pass with a non-zero placeholder offset so that every offset field
    # is present; the second pass only changes their values, not the layout.
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


def _chunks(head: bytearray, tail: list[memoryview]) -> Iterator[memoryview]:
    yield memoryview(head)
    position = len(head)
    for data in tail:
        padding = -position % EXTERNAL_ALIGNMENT
        yield memoryview(b"\0" * padding)
        yield data
        position += padding + len(data)


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
    total = sum(len(chunk) for chunk in _chunks(head, tail))
    with atomic_path(path) as tmp, _create(tmp) as out:
        written = 0
        for chunk in _chunks(head, tail):
            out.write(chunk)
            written += len(chunk)
            if progress is not None:
                progress(written, total)
        if _before_rename is not None:
            _before_rename(out)
        out.flush()
        os.fsync(out.fileno())
    return written


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
