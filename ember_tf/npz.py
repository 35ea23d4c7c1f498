"""Reading an .npz of arrays (inputs, sample inputs, bound HLO parameters) or a directory
of .npy files (HLO parameters too large for an .npz, memory-mapped): the one place that
knows every way a bad file fails, so each gets one line naming the file."""

from __future__ import annotations

import os
import pathlib
import zipfile

import numpy as np

from ember_tf.errors import EmberError


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise EmberError(f"{path}: cannot read as .npz: {e}") from None


def load_npy_dir(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of the .npy files in directory `path`, keyed by file name less `.npy`
    (other files are not read), each memory-mapped read-only: a table of many GiB costs no
    memory until its rows are read, and the .daebin writer streams it to the file."""
    try:
        files = sorted(p for p in pathlib.Path(path).iterdir() if p.suffix == ".npy" and p.is_file())
    except OSError as e:
        raise EmberError(f"{path}: cannot read the directory: {e.strerror or e}") from None
    if not files:
        raise EmberError(f"{path}: the directory holds no .npy files")
    arrays = {}
    for file in files:
        try:
            try:
                arrays[file.stem] = np.load(file, mmap_mode="r", allow_pickle=False)
            except ValueError:   # an empty array cannot be mapped; objects fail below too
                arrays[file.stem] = np.load(file, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            message = str(e).strip().splitlines()
            raise EmberError(f"{file}: cannot read as .npy: {message[0] if message else type(e).__name__}") \
                from None
    return arrays
