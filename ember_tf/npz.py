"""Reading an .npz of arrays (inputs, sample inputs, bound HLO parameters): the one place
that knows every way a bad file fails, so each gets one line naming the file."""

from __future__ import annotations

import os
import zipfile

import numpy as np

from ember_tf.errors import EmberError


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise EmberError(f"{path}: cannot read as .npz: {e}") from None
