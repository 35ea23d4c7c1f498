"""`attach()`: convert a SavedModel and write the program into its `assets.extra/`
(TensorFlow does not load that directory, TF Serving leaves it alone), through a
temporary file and a rename, so a poller sees the whole file or none. The program
carries the SavedModel's fingerprint; `load_attached()` checks it."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib

from ember_tf.compiler import CompileOptions
from ember_tf.converter import FINGERPRINT_METADATA, Converter
from ember_tf.dae_isa import read_model
from ember_tf.dae_isa.writer import buffer_bytes
from ember_tf.emulator import Interpreter
from ember_tf.errors import EmberError
from ember_tf.grappler_like.saved_model import read_fingerprint
from ember_tf.tf_loader import tensorflow

EXTRA_ASSETS = "assets.extra"   # tensorflow/python/saved_model/constants.py EXTRA_ASSETS_DIRECTORY
ATTACHED_NAME = "model.daebin"


def attached_path(saved_model_dir: str | os.PathLike, filename: str = ATTACHED_NAME) -> pathlib.Path:
    return pathlib.Path(saved_model_dir) / EXTRA_ASSETS / filename


def attach(saved_model_dir: str | os.PathLike, signature_key: str = "serving_default",
           filename: str = ATTACHED_NAME, options: CompileOptions = CompileOptions()) -> pathlib.Path:
    """Converts `signature_key` of the SavedModel and writes `assets.extra/<filename>`
    atomically; returns its path. On failure nothing is left behind (not even an
    `assets.extra/` this call created)."""
    target = attached_path(saved_model_dir, filename)
    converter = Converter.from_saved_model(saved_model_dir, [signature_key], options=options)
    created = not target.parent.exists()
    try:
        target.parent.mkdir(exist_ok=True)
        converter.convert_to_file(target)
    except OSError as e:
        _remove_if_created(target.parent, created)
        raise EmberError(f"{target}: cannot write: {e.strerror or e}") from None
    except BaseException:
        _remove_if_created(target.parent, created)
        raise
    return target


def _remove_if_created(directory: pathlib.Path, created: bool) -> None:
    if created:
        try:
            directory.rmdir()
        except OSError:
            pass


def check_fingerprint(daebin: str | os.PathLike, saved_model_dir: str | os.PathLike, model=None) -> None:
    """EmberError unless the program was converted from this SavedModel as it is now."""
    model = model if model is not None else read_model(daebin)
    entry = next((m for m in model.metadata or [] if m.name == FINGERPRINT_METADATA), None)
    current = _fingerprint(saved_model_dir)
    if current is None:
        return   # a SavedModel without fingerprint.pb (written before TF 2.12): nothing to check against
    if entry is None:
        raise EmberError(f"{daebin}: carries no SavedModel fingerprint, so it cannot be checked against "
                         f"{saved_model_dir}; attach it again")
    recorded = json.loads(bytes(buffer_bytes(model.buffers[entry.buffer])).decode())
    if recorded != current:
        changed = ", ".join(k for k in current if recorded.get(k) != current[k])
        raise EmberError(f"{daebin}: stale program: {saved_model_dir} changed since it was converted "
                         f"({changed} differ); run ember-tf attach again")


def load_attached(saved_model_dir: str | os.PathLike, filename: str = ATTACHED_NAME, **interpreter_args) -> Interpreter:
    """The Interpreter of the program attached to `saved_model_dir`, after checking it
    is not stale."""
    path = attached_path(saved_model_dir, filename)
    if not path.exists():
        raise EmberError(f"{path}: no attached program (run ember-tf attach {saved_model_dir})")
    model = read_model(path)
    check_fingerprint(path, saved_model_dir, model)
    return Interpreter(model_path=path, **interpreter_args)


def saved_model_of(daebin: str | os.PathLike) -> pathlib.Path | None:
    """The SavedModel directory a program lives in (`<dir>/assets.extra/x.daebin`), if any."""
    path = pathlib.Path(daebin).resolve()
    if path.parent.name == EXTRA_ASSETS and (path.parent.parent / "saved_model.pb").exists():
        return path.parent.parent
    return None


def _fingerprint(saved_model_dir) -> dict | None:
    tensorflow("checking an attached program")
    fingerprint = read_fingerprint(str(saved_model_dir))
    return None if fingerprint is None else dataclasses.asdict(fingerprint)
