"""The cross product of a spec as points, each keyed by a content hash: the point's
parameters, the effective machine (after its overrides), the bytes of every file it reads
(the model file or SavedModel directory, bound HLO parameters, an inputs file), the ember-tf
version and its source files. A point whose key has a cached result is not run again;
editing a model, a machine or ember-tf changes the key, moving a directory does not."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import pathlib
from typing import Any

from ember_tf.errors import SweepError
from ember_tf.machines import MachineConfig, load_machine
from ember_tf.sweep.spec import ModelSpec, SweepSpec
from ember_tf.version import __version__

# The parameter columns of every point, in table order (before its machine parameters).
PARAMETERS = ("machine", "override", "model", "batch", "core_mapping", "lookup_strategy")


@dataclasses.dataclass(frozen=True)
class Point:
    # What the results table shows (PARAMETERS), then the overridden machine parameters'
    # effective values at this point.
    machine: str
    override: str
    model: str
    batch: int
    core_mapping: str
    lookup_strategy: str
    machine_parameters: tuple[tuple[str, Any], ...]
    # How to run it.
    machine_toml: str                # the effective machine as a TOML file (the compiler takes a path)
    model_path: str
    hlo_params: str | None
    signature_key: str | None
    inputs: str | None               # .npz of the batch's inputs; None: random (spec: id_range, pooling)
    id_range: int | tuple[tuple[str, int], ...] | None
    pooling: int
    sample_inputs: bool
    opt_level: int
    mode: str
    seed: int
    key: str = ""                    # the content hash (hex sha256); set by expand()

    def columns(self) -> dict[str, Any]:
        """The point's columns of the results table: its parameters and its key."""
        return {name: getattr(self, name) for name in PARAMETERS} | dict(self.machine_parameters) | {"key": self.key}

    def describe(self) -> str:
        return f"{self.machine}/{self.override}/{self.model}/batch {self.batch}/{self.core_mapping}/" \
               f"{self.lookup_strategy}"


def expand(spec: SweepSpec) -> list[Point]:
    """Every point of the spec, machines outermost, lookup strategies innermost. A model
    file a point needs that does not exist is an error of the spec (nothing has run)."""
    digests = _Digests()
    overridden = list(dict.fromkeys(name for o in spec.overrides for name, _ in o.parameters))
    points = []
    for machine, override in itertools.product(spec.machines, spec.overrides):
        config = load_machine(machine.source).with_overrides(**dict(override.parameters))
        toml = machine_toml(config)
        parameters = tuple((name, _effective(config, name)) for name in overridden)
        for model, batch, mapping, strategy in itertools.product(spec.models, spec.batches, spec.core_mappings,
                                                                 spec.lookup_strategies):
            point = Point(machine.label, override.label, model.name, batch, mapping, strategy, parameters, toml,
                          model.path_for(batch), model.hlo_params, model.signature_key, model.inputs_for(batch),
                          model.id_range, model.pooling, spec.sample_inputs, spec.opt_level, spec.mode, spec.seed)
            points.append(dataclasses.replace(point, key=_key(point, model, digests, spec)))
    return points


def machine_toml(machine: MachineConfig) -> str:
    """`machine` as a TOML file that load_machine reads back equal: the compiler and the
    planner take a machine by name or path, so an overridden machine is handed to them as
    a file."""
    lines, costs = [], []
    for field in dataclasses.fields(machine):
        value = getattr(machine, field.name)
        if field.name == "costs":
            costs = [f"{f.name} = {_toml_value(getattr(value, f.name))}" for f in dataclasses.fields(value)]
        else:
            lines.append(f"{field.name} = {_toml_value(value)}")
    return "\n".join(lines + ["", "[costs]"] + costs) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)          # Python's repr of a float is valid TOML (1e-05, inf, nan)
    if isinstance(value, str):
        return json.dumps(value)    # a TOML basic string: JSON's escapes are TOML's
    raise TypeError(f"no TOML form for {value!r}")


def _effective(config: MachineConfig, name: str) -> Any:
    return getattr(config.costs, name[len("cost_"):]) if name.startswith("cost_") else getattr(config, name)


def _key(point: Point, model: ModelSpec, digests: "_Digests", spec: SweepSpec) -> str:
    """sha256 of everything that decides the point's record: its fields but the paths (their
    contents stand in for them) and the ember-tf version."""
    fields = dataclasses.asdict(point)
    paths = {name: fields.pop(name) for name in ("model_path", "hlo_params", "inputs")}
    files = {name: digests.of(path, spec, model, name) for name, path in paths.items() if path is not None}
    code = {"version": __version__, "source": digests.source()}
    payload = json.dumps({"point": fields, "files": files, "ember_tf": code}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


class _Digests:
    """sha256 of files and directories, each read once per expansion (a SavedModel's tables
    may be large, and many points share a model)."""

    def __init__(self):
        self._known: dict[str, str] = {}

    def of(self, path: str, spec: SweepSpec, model: ModelSpec, what: str) -> str:
        if path not in self._known:
            if not os.path.exists(path):
                where = {"model_path": "path", "hlo_params": "hlo_params", "inputs": "inputs"}[what]
                index = spec.models.index(model)
                raise SweepError(f"{spec.path}: models[{index}].{where}: {path} does not exist")
            self._known[path] = _digest(pathlib.Path(path))
        return self._known[path]

    def source(self) -> str:
        """ember-tf's own code (its .py and .toml files): a record depends on the converter,
        the compiler and the emulator, so an edited ember-tf (a developer's, before any new
        version) runs every point again rather than serve figures of the old code."""
        if "" not in self._known:
            package = pathlib.Path(__file__).resolve().parents[1]
            files = [p for p in package.rglob("*") if p.suffix in (".py", ".toml") and "__pycache__" not in p.parts]
            self._known[""] = _digest(package, sorted(files))
        return self._known[""]


def _digest(path: pathlib.Path, files: list[pathlib.Path] | None = None) -> str:
    """A file's bytes, or a directory's files (or those of `files`): each relative path and
    its bytes, in order."""
    digest = hashlib.sha256()
    if files is None:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(str(file.relative_to(path)).encode() + b"\0")
        try:
            with open(file, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
        except OSError as e:
            raise SweepError(f"{file}: cannot read: {e.strerror or e}") from None
        digest.update(b"\0")
    return digest.hexdigest()
