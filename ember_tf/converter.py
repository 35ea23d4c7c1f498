"""`Converter.from_saved_model(path)` / `Converter.from_hlo(path)` ... `.convert()`, in the
shape of tf.lite.TFLiteConverter: each constructor returns its frontend's converter, a
subclass of one base (`ember_tf.frontend.ConverterBase`: `convert`, `convert_to_file`,
`reports`).

Both take the planner's options (docs/PLANNER.md): `core_mapping` (`auto`: tables mapped
to core groups by the cost model; `even`: every kernel on all cores, as without a planner),
`lookup_strategy` (`auto` or one of gm, l1, gm_ub, l1_ub for every table) and
`sample_inputs` (an .npz path or a dict of arrays, as `ember-tf run` takes them): the model
is first converted without a planner and emulated on them, which gives every kernel's
sizes (rows, bags, ids, distinct ids) for the plan.

With `profile` (an access profile from `ember-tf profile`) and `hot_bytes`, the most read rows
of the tables, highest count per byte first, are kept in the machine's hot-row storage
(docs/HOT_ROWS.md)."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Callable, Mapping

import numpy as np

from ember_tf.compiler import CompileOptions
from ember_tf.errors import InputError
from ember_tf.frontend import EXTERNAL_TABLE_BYTES, REPORT_METADATA, ConverterBase
from ember_tf.frontend.planning import ID_ARGS, KernelSizes, PlanningOptions
from ember_tf.grappler_like.converter import FINGERPRINT_METADATA, SavedModelConverter
from ember_tf.hlo_import.converter import HloConverter
from ember_tf.machines import load_machine
from ember_tf.npz import load_npz
from ember_tf.planner.hot_rows import HotRowChooser, load_profile

__all__ = ["FINGERPRINT_METADATA", "REPORT_METADATA", "Converter", "ConverterBase", "HloConverter",
           "SavedModelConverter"]

Samples = str | os.PathLike | Mapping[str, np.ndarray] | None


class Converter:
    """Where conversions start; the converters themselves are ConverterBase subclasses."""

    @staticmethod
    def from_saved_model(saved_model_dir: str | os.PathLike, signature_keys: list[str] | None = None,
                         tags: set[str] | list[str] | None = None, options: CompileOptions = CompileOptions(),
                         external_threshold: int = EXTERNAL_TABLE_BYTES, core_mapping: str = "auto",
                         lookup_strategy: str = "auto", sample_inputs: Samples = None,
                         profile: str | os.PathLike | None = None, hot_bytes: int = 0) -> SavedModelConverter:
        """A converter for a SavedModel's signatures (all, or `signature_keys`) under the
        meta graph with `tags` (default `serve`). `external_threshold`: tables of at least
        this many bytes are stored after the FlatBuffer (streamed to the file, never copied
        into it)."""
        def make(planning: PlanningOptions) -> SavedModelConverter:
            return SavedModelConverter.from_directory(saved_model_dir, signature_keys, tags, options,
                                                      external_threshold, planning)
        return make(_planning(make, core_mapping, lookup_strategy, sample_inputs, options, profile, hot_bytes))

    @staticmethod
    def from_hlo(path: str | os.PathLike, params_path: str | os.PathLike | None = None,
                 options: CompileOptions = CompileOptions(), external_threshold: int = EXTERNAL_TABLE_BYTES,
                 core_mapping: str = "auto", lookup_strategy: str = "auto",
                 sample_inputs: Samples = None, profile: str | os.PathLike | None = None,
                 hot_bytes: int = 0) -> HloConverter:
        """A converter for an HLO module (text, or a serialized HloModuleProto with the .pb
        suffix); `params_path`: an .npz binding parameters `p0`, `p1`, ... (the tables), or a
        directory of `p0.npy`, `p1.npy`, ... read memory-mapped (tables of many GiB)."""
        def make(planning: PlanningOptions) -> HloConverter:
            return HloConverter.from_file(path, params_path, options, external_threshold, planning)
        return make(_planning(make, core_mapping, lookup_strategy, sample_inputs, options, profile, hot_bytes))


def _hot_rows(profile: str | os.PathLike | None, hot_bytes: int, machine: str) -> HotRowChooser | None:
    if profile is None:
        if hot_bytes:
            raise InputError("--hot_bytes needs --profile (the access profile that says which rows are hot)")
        return None
    if hot_bytes <= 0:
        raise InputError("--profile needs --hot_bytes > 0 (the bytes of hot rows to keep on-chip)")
    target = load_machine(machine)
    if hot_bytes > target.pinnable_bytes:
        raise InputError(f"--hot_bytes {hot_bytes:,} is more than machine '{target.name}' may pin: "
                         f"{target.pinnable_bytes:,} bytes (pinned_llc_bytes)")
    return HotRowChooser(load_profile(profile), hot_bytes, os.fspath(profile), target.name, target.pinnable_bytes)


def _planning(make: Callable[[PlanningOptions], ConverterBase], core_mapping: str, lookup_strategy: str,
              samples: Samples, options: CompileOptions, profile, hot_bytes: int) -> PlanningOptions:
    planning = PlanningOptions(core_mapping, lookup_strategy)    # checks the names
    hot_rows = _hot_rows(profile, hot_bytes, options.target)
    sizes = None if samples is None else profile_sizes(make, samples, options.target)
    return dataclasses.replace(planning, sizes=sizes, hot_rows=hot_rows)


def profile_sizes(make: Callable[[PlanningOptions], ConverterBase], samples: Samples,
                  machine: str) -> dict[tuple[str, int], KernelSizes]:
    """Every kernel's sizes, seen by emulating the model converted without a planner on the
    samples, for each signature whose inputs the samples hold."""
    from ember_tf.emulator import Interpreter

    feeds = _load_samples(samples)
    sizes: dict[tuple[str, int], KernelSizes] = {}
    with tempfile.TemporaryDirectory(prefix="ember_profile_") as folder:
        # a file, not bytes: its tables are streamed to it and mapped back, never held whole
        path = os.path.join(folder, "unplanned.daebin")
        make(PlanningOptions("even", "gm")).convert_to_file(path)
        interpreter = Interpreter(model_path=path, machine=machine)
        for key, signature in interpreter.get_signature_list().items():
            if not set(signature["inputs"]) <= set(feeds):
                continue
            interpreter.kernel_observer = lambda number, name, arrays, _, key=key: sizes.__setitem__(
                (key, number), _sizes(arrays, interpreter.machine.cores))
            interpreter.get_signature_runner(key)(**{k: feeds[k] for k in signature["inputs"]})
    if not sizes and feeds:
        raise InputError(f"sample inputs ({', '.join(sorted(feeds))}) match no signature's inputs")
    return sizes


def _sizes(arrays: dict[str, np.ndarray], cores: int) -> KernelSizes:
    values = list(arrays.values())
    ids = next((a for n, a in arrays.items() if n in ID_ARGS), values[1])
    offsets = arrays.get("offsets")
    per_core = _core_lookups(offsets, cores) if offsets is not None and offsets.ndim == 1 else ()
    return KernelSizes(int(values[0].shape[0]), int(values[-1].shape[0]), int(ids.size), int(np.unique(ids).size),
                       per_core)


def _core_lookups(offsets: np.ndarray, cores: int) -> tuple[int, ...]:
    """For k = 1 .. cores, the most ids one of k cores reads when a CSR bag kernel's bags are
    split as split_cores splits them (core c: bags [B * c // k, B * (c + 1) // k))."""
    offsets = offsets.astype(np.int64)
    bags = len(offsets) - 1
    most = []
    for k in range(1, cores + 1):
        bounds = offsets[[bags * c // k for c in range(k + 1)]]
        most.append(int(np.diff(bounds).max()))
    return tuple(most)


def _load_samples(samples: Samples) -> dict[str, np.ndarray]:
    if isinstance(samples, Mapping):
        return {k: np.asarray(v) for k, v in samples.items()}
    return load_npz(samples)
