"""SPEC.toml read into dataclasses: what a sweep crosses (machines, machine-parameter
overrides, models, batch sizes, planner options) and how each point runs. Every problem
is one line naming the file and the key (`sweep.toml: models[1].path: ...`); paths are
relative to the spec's directory."""

from __future__ import annotations

import dataclasses
import pathlib
import string
import tomllib
from typing import Any

from ember_tf.errors import MachineError, SweepError
from ember_tf.frontend.planning import MAPPINGS, STRATEGIES
from ember_tf.machines import CoreCosts, MachineConfig, load_machine

MODES = ("fast", "golden")
_TOP = ("machines", "batches", "overrides", "models", "planner", "run")
_MODEL = ("name", "path", "hlo_params", "signature_key", "inputs", "id_range", "pooling")
_PLANNER = ("core_mapping", "lookup_strategy", "sample_inputs")
_RUN = ("opt_level", "mode", "seed")
# Machine parameters an override may not set: the name labels the machine, costs are set by cost_<group>.
_NOT_OVERRIDABLE = ("name", "costs")


@dataclasses.dataclass(frozen=True)
class MachineSpec:
    label: str          # as the spec writes it: a shipped name (tmu) or a .toml path
    source: str         # what load_machine takes: the name, or the path resolved against the spec


@dataclasses.dataclass(frozen=True)
class OverrideSpec:
    label: str
    parameters: tuple[tuple[str, Any], ...]   # (machine parameter or cost_<group>, value), in spec order


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    path: str                        # absolute; may hold {batch} (an HLO module is shaped for one batch)
    hlo_params: str | None = None    # absolute .npz binding HLO parameters (the tables)
    signature_key: str | None = None
    inputs: str | None = None        # absolute .npz of the batch's inputs, may hold {batch}; None: random
    id_range: int | tuple[tuple[str, int], ...] | None = None   # random ids in [0, n), per input if a table
    pooling: int = 4                 # random inputs: ids per sample where the shape leaves it open

    def path_for(self, batch: int) -> str:
        return self.path.format(batch=batch)

    def inputs_for(self, batch: int) -> str | None:
        return None if self.inputs is None else self.inputs.format(batch=batch)


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    path: pathlib.Path
    machines: tuple[MachineSpec, ...]
    overrides: tuple[OverrideSpec, ...]
    models: tuple[ModelSpec, ...]
    batches: tuple[int, ...]
    core_mappings: tuple[str, ...] = ("auto",)
    lookup_strategies: tuple[str, ...] = ("auto",)
    sample_inputs: bool = True       # plan with the point's batch as sample inputs (convert --sample_inputs)
    opt_level: int = 3
    mode: str = "fast"
    seed: int = 0


def load_spec(path: str | pathlib.Path) -> SweepSpec:
    path = pathlib.Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise SweepError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise SweepError(f"{path}: not UTF-8 text ({e.reason})") from None
    except tomllib.TOMLDecodeError as e:
        raise SweepError(f"{path}: {e}") from None
    return _Reader(path).spec(data)


class _Reader:
    """Reads one spec file; every error names the file and the key."""

    def __init__(self, path: pathlib.Path):
        self.path, self.folder = path, path.resolve().parent

    def fail(self, key: str, problem: str) -> SweepError:
        return SweepError(f"{self.path}: {key}: {problem}")

    def spec(self, data: dict) -> SweepSpec:
        self.known(data, _TOP, "")
        machines = self.machines(data)
        planner = self.table(data, "planner")
        run = self.table(data, "run")
        self.known(planner, _PLANNER, "planner.")
        self.known(run, _RUN, "run.")
        mode = self.choice(run, "mode", "run.mode", MODES, "fast")
        opt_level = self.integer(run, "opt_level", "run.opt_level", 3, low=0)
        if opt_level > 3:
            raise self.fail("run.opt_level", f"must be 0 to 3, not {opt_level}")
        return SweepSpec(
            path=self.path, machines=machines, overrides=self.overrides(data, machines), models=self.models(data),
            batches=self.batches(data),
            core_mappings=self.choices(planner, "core_mapping", "planner.core_mapping", MAPPINGS),
            lookup_strategies=self.choices(planner, "lookup_strategy", "planner.lookup_strategy",
                                           ("auto",) + STRATEGIES),
            sample_inputs=self.boolean(planner, "sample_inputs", "planner.sample_inputs", True),
            opt_level=opt_level, mode=mode, seed=self.integer(run, "seed", "run.seed", 0, low=0))

    # -- the axes ------------------------------------------------------------------------
    def machines(self, data: dict) -> tuple[MachineSpec, ...]:
        names = self.strings(data, "machines", "machines")
        machines = []
        for i, name in enumerate(names):
            source = str(self.folder / name) if pathlib.Path(name).suffix else name
            try:
                load_machine(source)
            except MachineError as e:
                raise self.fail(f"machines[{i}]", str(e)) from None
            machines.append(MachineSpec(name, source))
        return tuple(machines)

    def overrides(self, data: dict, machines: tuple[MachineSpec, ...]) -> tuple[OverrideSpec, ...]:
        tables = data.get("overrides", [{}])
        if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
            raise self.fail("overrides", "must be an array of tables ([[overrides]]), one per set of machine "
                                         "parameters")
        kinds = _parameter_kinds()
        overrides = []
        for i, table in enumerate(tables):
            where = f"overrides[{i}]"
            parameters = []
            for key, value in table.items():
                if key == "label":
                    continue
                if key not in kinds:
                    raise self.fail(f"{where}.{key}", "unknown machine parameter (known: "
                                                      f"{', '.join(sorted(kinds))})")
                parameters.append((key, self.parameter(f"{where}.{key}", value, kinds[key])))
            label = table.get("label", ", ".join(f"{k}={v}" for k, v in parameters) or "base")
            if not isinstance(label, str) or not label:
                raise self.fail(f"{where}.label", "must be a non-empty string")
            for machine in machines:
                try:
                    load_machine(machine.source).with_overrides(**dict(parameters))
                except MachineError as e:
                    raise self.fail(where, f"on machine '{machine.label}': {e}") from None
            overrides.append(OverrideSpec(label, tuple(parameters)))
        self.unique([o.label for o in overrides], "overrides", "label")
        return tuple(overrides)

    def parameter(self, key: str, value: Any, kind: type) -> Any:
        """`value` if TOML gave the parameter's type (an int where a float is wanted is fine;
        a float where an int is wanted is not: it would be truncated)."""
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = {bool: isinstance(value, bool), int: number and isinstance(value, int), float: number}[kind]
        if not ok:
            wanted = {bool: "a boolean", int: "an integer", float: "a number"}[kind]
            raise self.fail(key, f"must be {wanted}, not {value!r}")
        return float(value) if kind is float else value

    def models(self, data: dict) -> tuple[ModelSpec, ...]:
        tables = data.get("models")
        if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
            raise self.fail("models", "must be an array of tables ([[models]]) with at least one model")
        models = [self.model(table, f"models[{i}]") for i, table in enumerate(tables)]
        self.unique([m.name for m in models], "models", "name")
        return tuple(models)

    def model(self, table: dict, where: str) -> ModelSpec:
        self.known(table, _MODEL, f"{where}.")
        name = self.string(table, "name", f"{where}.name")
        if name is None:
            raise self.fail(f"{where}.name", "missing (the model's label in the results)")
        path = self.template(table, "path", f"{where}.path")
        if path is None:
            raise self.fail(f"{where}.path", "missing (a SavedModel directory, .hlo/.txt or .pb; {batch} is "
                                             "replaced by the batch size)")
        hlo_params = self.string(table, "hlo_params", f"{where}.hlo_params")
        return ModelSpec(name=name, path=path, hlo_params=None if hlo_params is None else str(self.folder / hlo_params),
                         signature_key=self.string(table, "signature_key", f"{where}.signature_key"),
                         inputs=self.template(table, "inputs", f"{where}.inputs"),
                         id_range=self.id_range(table.get("id_range"), f"{where}.id_range"),
                         pooling=self.integer(table, "pooling", f"{where}.pooling", 4, low=1))

    def id_range(self, value: Any, key: str) -> int | tuple[tuple[str, int], ...] | None:
        if value is None:
            return None
        if isinstance(value, dict):
            return tuple((name, self.positive(n, f"{key}.{name}")) for name, n in value.items())
        return self.positive(value, key)

    def batches(self, data: dict) -> tuple[int, ...]:
        values = data.get("batches")
        if not isinstance(values, list) or not values:
            raise self.fail("batches", "must be a non-empty array of batch sizes")
        batches = tuple(self.positive(v, f"batches[{i}]") for i, v in enumerate(values))
        self.unique(batches, "batches", None)
        return batches

    # -- values ------------------------------------------------------------------------
    def known(self, table: dict, keys: tuple[str, ...], prefix: str) -> None:
        for key in table:
            if key not in keys:
                raise self.fail(f"{prefix}{key}", f"unknown key (known: {', '.join(keys)})")

    def table(self, data: dict, key: str) -> dict:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table ([{key}])")
        return value

    def string(self, table: dict, name: str, key: str) -> str | None:
        value = table.get(name)
        if value is not None and (not isinstance(value, str) or not value):
            raise self.fail(key, f"must be a non-empty string, not {value!r}")
        return value

    def template(self, table: dict, name: str, key: str) -> str | None:
        """A path relative to the spec, absolute here, in which `{batch}` is the only field."""
        value = self.string(table, name, key)
        if value is None:
            return None
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
        except ValueError as e:
            raise self.fail(key, f"{e} (write {{{{ and }}}} for braces)") from None
        if fields - {"batch"}:
            raise self.fail(key, f"{{{sorted(fields - {'batch'})[0]}}}: the only field a path may hold is {{batch}}")
        return str(self.folder / value)

    def strings(self, data: dict, name: str, key: str) -> list[str]:
        values = data.get(name)
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            raise self.fail(key, "must be a non-empty array of strings")
        self.unique(values, key, None)
        return values

    def choices(self, table: dict, name: str, key: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        if name not in table:
            return ("auto",)
        values = self.strings(table, name, key)
        for i, value in enumerate(values):
            if value not in allowed:
                raise self.fail(f"{key}[{i}]", f"'{value}' is not one of {', '.join(allowed)}")
        return tuple(values)

    def choice(self, table: dict, name: str, key: str, allowed: tuple[str, ...], default: str) -> str:
        value = table.get(name, default)
        if value not in allowed:
            raise self.fail(key, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def boolean(self, table: dict, name: str, key: str, default: bool) -> bool:
        value = table.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {value!r}")
        return value

    def integer(self, table: dict, name: str, key: str, default: int, low: int) -> int:
        value = table.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise self.fail(key, f"must be an integer of at least {low}, not {value!r}")
        return value

    def positive(self, value: Any, key: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.fail(key, f"must be a positive integer, not {value!r}")
        return value

    def unique(self, values, key: str, field: str | None) -> None:
        seen = set()
        for value in values:
            if value in seen:
                raise self.fail(key, f"{field + ' ' if field else ''}{value!r} appears twice")
            seen.add(value)


def _parameter_kinds() -> dict[str, type]:
    """Every parameter an override may set, with its type: MachineConfig's fields (their
    annotations are strings here: `from __future__ import annotations`) and cost_<group>."""
    kinds = {f.name: {"bool": bool, "int": int, "float": float}.get(f.type, object)
             for f in dataclasses.fields(MachineConfig) if f.name not in _NOT_OVERRIDABLE}
    kinds = {name: kind for name, kind in kinds.items() if kind is not object}
    return kinds | {f"cost_{f.name}": float for f in dataclasses.fields(CoreCosts)}
