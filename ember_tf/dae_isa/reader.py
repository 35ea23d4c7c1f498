"""Read a .daebin file or bytes into the object model, verifying everything.

Files are memory-mapped: table data (inline or stored after the FlatBuffer)
comes back as read-only numpy views, so reading a multi-GiB model costs no
copy. Nothing is trusted before flatbuffer_verify has walked the structure.
"""

from __future__ import annotations

import mmap
import os
import pathlib

import numpy as np

from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa.flatbuffer_verify import verify_structure
from ember_tf.dae_isa.verifier import verify_model
from ember_tf.errors import DaebinFormatError


def _decode_strings(obj, source: str):
    """flatc's Python object API leaves strings as bytes; make them str."""
    if isinstance(obj, bytes):
        try:
            return obj.decode("utf-8")
        except UnicodeDecodeError:
            raise DaebinFormatError(f"{source}: a string is not valid UTF-8") from None
    if isinstance(obj, list):
        return [_decode_strings(item, source) for item in obj]
    if type(obj).__module__ == fb.__name__:
        for key, value in vars(obj).items():
            setattr(obj, key, _decode_strings(value, source))
    return obj


def model_from_buffer(buf, source: str = "<bytes>") -> fb.ModelT:
    """The verified model held in `buf` (bytes, bytearray, mmap or memoryview)."""
    try:
        verify_structure(buf)
    except DaebinFormatError as e:
        raise DaebinFormatError(f"{source}: {e}") from None
    model = _decode_strings(fb.ModelT.InitFromPackedBuf(buf, 0), source)
    verify_model(model, source, file=buf)
    for buffer in model.buffers or []:
        if buffer.offset:
            buffer.data = np.frombuffer(buf, dtype=np.uint8, count=buffer.size, offset=buffer.offset)
    return model


def read_model(path: str | os.PathLike) -> fb.ModelT:
    """Reads and verifies a .daebin file; DaebinFormatError names the file and the problem."""
    path = pathlib.Path(path)
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                raise DaebinFormatError(f"{path}: file is empty")
            buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as e:
        raise DaebinFormatError(f"{path}: cannot read: {e.strerror or e}") from None
    return model_from_buffer(buf, str(path))
