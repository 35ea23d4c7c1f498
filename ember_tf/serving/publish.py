"""`export()`: `tf.saved_model.save` into a hidden temporary directory beside the
versions, attach the program (and warmup requests), check the program against
TensorFlow on those requests, then rename the directory to the next integer
version. TF Serving only loads integer-named directories, and the rename is atomic,
so it never sees a version without its program; on any failure the temporary
directory is removed and no version appears."""

from __future__ import annotations

import errno
import os
import pathlib
import shutil
import tempfile

import numpy as np

from ember_tf.compiler import CompileOptions
from ember_tf.errors import EmberError
from ember_tf.serving.attach import ATTACHED_NAME, EXTRA_ASSETS, attach, load_attached
from ember_tf.serving.warmup import WARMUP_FILE, WarmupRequest, replay, to_request_keys, write_warmup_requests
from ember_tf.tf_loader import tensorflow


def export(obj, export_base_dir: str | os.PathLike, signatures=None, save_options=None, *,
           signature_key: str = "serving_default", filename: str = ATTACHED_NAME,
           compile_options: CompileOptions = CompileOptions(), warmup_inputs: list[dict] | None = None,
           model_name: str | None = None, rtol: float = 1e-5, atol: float = 1e-6) -> pathlib.Path:
    """Exports `obj` as the next version under `export_base_dir`; returns its directory.

    `warmup_inputs`: example inputs (dicts keyed like the Interpreter's signature
    runner: `x`, `x.indices`, ...). They are written as warmup requests, and the
    program's outputs on each must match TensorFlow's (rtol/atol) or the export fails."""
    tf = tensorflow("exporting for TF Serving")
    base = pathlib.Path(export_base_dir)
    base.mkdir(parents=True, exist_ok=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix=".ember-export-", dir=base))
    try:
        _save(tf, obj, work, signatures, save_options)
        attach(work, signature_key, filename, compile_options)
        if warmup_inputs:
            _warmup(tf, work, signature_key, filename, warmup_inputs, model_name or base.name, rtol, atol)
        return _publish(work, base)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _save(tf, obj, work: pathlib.Path, signatures, save_options) -> None:
    """tf.saved_model.save; a Keras 3 model without explicit signatures saves the way
    Keras exports for serving (`model.export`, which writes `serve` and `serving_default`)."""
    keras_export = getattr(obj, "export", None)
    if signatures is None and save_options is None and callable(keras_export) and \
            type(obj).__module__.startswith("keras"):
        keras_export(str(work), verbose=False)
    else:
        tf.saved_model.save(obj, str(work), signatures=signatures, options=save_options)


def _warmup(tf, work: pathlib.Path, signature_key: str, filename: str, inputs: list[dict], model_name: str,
            rtol: float, atol: float) -> None:
    interpreter = load_attached(work, filename, mode="fast")
    requests = [WarmupRequest(model_name, signature_key, to_request_keys(interpreter, signature_key, feeds))
                for feeds in inputs]
    write_warmup_requests(work / EXTRA_ASSETS / WARMUP_FILE, requests)
    served = tf.saved_model.load(str(work)).signatures[signature_key]
    for i, result in enumerate(replay(interpreter, requests)):
        want = served(**{k: tf.constant(v) for k, v in result.request.inputs.items()})
        for name, value in want.items():
            if not np.allclose(result.outputs[name], value.numpy(), rtol=rtol, atol=atol):
                raise EmberError(f"{work}: warmup request {i}: output '{name}' of the program differs from "
                                 f"TensorFlow's; the export was not published")


def _publish(work: pathlib.Path, base: pathlib.Path) -> pathlib.Path:
    """Renames `work` to the next integer version (the next again if another exporter
    took that one meanwhile)."""
    version = max([int(p.name) for p in base.iterdir() if p.name.isdigit()], default=0) + 1
    while True:
        target = base / str(version)
        if not target.exists():
            try:
                os.rename(work, target)
                return target
            except OSError as e:
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        version += 1
