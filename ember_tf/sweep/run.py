"""One point of a sweep: convert its model for its machine with its planner options, make
(or read) its batch's inputs, emulate, and return a flat record: the point's columns, the
run's figures (METRICS), wall-clock seconds and an error. A point that fails gives its
one-line error in the record, never an exception: the sweep goes on. This is the task Ray
runs (a process running one shows as `ray::sweep_point`)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import pathlib
import sys
import tempfile
import time
import traceback
from typing import Any

import numpy as np

from ember_tf.compiler import CompileOptions
from ember_tf.converter import Converter
from ember_tf.dae_isa.writer import write_files
from ember_tf.emulator import Interpreter
from ember_tf.errors import EmberError
from ember_tf.npz import load_npz
from ember_tf.sweep.inputs import random_inputs
from ember_tf.sweep.points import Point


@dataclasses.dataclass(frozen=True)
class PointResult:
    record: dict[str, Any]
    # False for an error that may not happen again (a bug in ember-tf, a worker lost):
    # the record is reported but not cached, so the next run tries the point again.
    final: bool = True


def sweep_point(point: Point) -> PointResult:
    start = time.perf_counter()
    record = point.columns() | {"error": None}
    final = True
    try:
        record |= _convert_and_run(point)
    except EmberError as e:     # the point's own problem: the same again on every run
        record["error"] = _one_line(str(e))
    except Exception as e:      # a bug: recorded so the sweep goes on; its traceback to the worker's log
        traceback.print_exc(file=sys.stderr)
        record["error"] = _one_line(f"internal error: {type(e).__name__}: {e}")
        final = False
    record["wall_seconds"] = round(time.perf_counter() - start, 3)
    return PointResult(record, final)


def failed(point: Point, error: str) -> PointResult:
    """The record of a point that did not come back (its worker lost more often than retried)."""
    return PointResult(point.columns() | {"error": _one_line(error)}, final=False)


def _convert_and_run(point: Point) -> dict[str, Any]:
    machine = str(_machine_file(point.machine_toml))
    options = CompileOptions(target=machine, opt_level=point.opt_level)
    started = time.perf_counter()
    inputs = _inputs(point, options)
    with _stage("convert"):
        samples = inputs if point.sample_inputs else None
        content = _converter(point, options, point.core_mapping, point.lookup_strategy, samples).convert()
    converted = time.perf_counter()
    with _stage("run"):
        interpreter = Interpreter(model_content=content, machine=machine, mode=point.mode)
        interpreter.get_signature_runner(point.signature_key)(**inputs)
    stats = interpreter.last_stats
    return {"cycles": stats.cycles, "modelled_us": round(stats.seconds * 1e6, 6), "dram_bytes": stats.dram_bytes,
            "instructions": sum(sum(core.instructions.values()) for k in stats.kernels for core in k.cores),
            "kernels": len(stats.kernels), "kernel_cycles": stats.kernel_cycles, "host_cycles": stats.host_cycles,
            "daebin_bytes": len(content), "convert_seconds": round(converted - started, 3),
            "run_seconds": round(time.perf_counter() - converted, 3)}


def _inputs(point: Point, options: CompileOptions) -> dict[str, np.ndarray]:
    """The batch's inputs: the spec's file, or random ones shaped by the signature (read from
    the model converted without a planner, which is all a signature needs)."""
    if point.inputs is not None:
        with _stage("inputs"):
            return load_npz(point.inputs)
    with _stage("convert"):
        content = _converter(point, options, "even", "gm", None).convert()
        runner = Interpreter(model_content=content, machine=options.target).get_signature_runner(point.signature_key)
    id_range = dict(point.id_range) if isinstance(point.id_range, tuple) else point.id_range
    with _stage("inputs"):
        return random_inputs(runner.get_input_details(), point.batch, id_range, point.pooling, point.seed)


@contextlib.contextmanager
def _stage(name: str):
    """An EmberError of this stage names it: `convert: ...`, `inputs: ...`, `run: ...`."""
    try:
        yield
    except EmberError as e:
        raise EmberError(f"{name}: {e}") from None


def _converter(point: Point, options: CompileOptions, mapping: str, strategy: str, samples):
    planning = dict(core_mapping=mapping, lookup_strategy=strategy, sample_inputs=samples)
    if pathlib.Path(point.model_path).is_dir():
        keys = [point.signature_key] if point.signature_key else None
        return Converter.from_saved_model(point.model_path, keys, options=options, **planning)
    return Converter.from_hlo(point.model_path, point.hlo_params, options, **planning)


def _machine_file(toml: str) -> pathlib.Path:
    """The machine as a file on this node, named by its content (the planner caches what it
    measures by the machine's path, so one path must always mean one machine)."""
    folder = pathlib.Path(tempfile.gettempdir()) / "ember-sweep-machines"
    path = folder / f"{hashlib.sha256(toml.encode()).hexdigest()[:24]}.toml"
    try:
        current = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        current = None
    if current != toml:     # absent, or not what its name says (a shared temp dir)
        folder.mkdir(parents=True, exist_ok=True)
        write_files({path: lambda f: f.write(toml.encode())})   # atomic: workers on a node may race here
    return path


def _one_line(text: str) -> str:
    return " ".join(text.split())
