"""The planner's place in the conversion: the kernel calls of each level of a signature's
plan (consecutive kernel steps: nothing between them, so they may run at once) become
the planner's table operations, and its decisions become per-kernel compile options (cores,
placements, access unit) and core ranges for the layout."""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

from ember_tf.compiler import CompileOptions
from ember_tf.frontend.rewrite import KernelCall
from ember_tf.frontend.schedule import KernelStep
from ember_tf.ir.core import ITEMSIZE
from ember_tf.machines import load_machine
from ember_tf.ir.hot_rows import REMAP, remappable
from ember_tf.planner import STRATEGIES, CostModel, TableOp, plan_level
from ember_tf.planner.hot_rows import HotRowChooser, HotRows
from ember_tf.planner.calibrate import unit_costs

MAPPINGS = ("auto", "even")
ID_ARGS = ("ids", "indices", "src", "col")      # the embedding_ops argument holding a call's ids


@dataclasses.dataclass(frozen=True)
class KernelSizes:
    """What one kernel call reads per run: its table's rows, the bags (output rows) and ids,
    and how many of the ids differ."""

    rows: int
    bags: int
    lookups: int
    distinct: int | None = None
    core_lookups: tuple[int, ...] = ()     # TableOp.core_lookups


@dataclasses.dataclass(frozen=True)
class PlanningOptions:
    core_mapping: str = "auto"          # even: every kernel on all cores (no planner); auto
    lookup_strategy: str = "auto"       # auto, or one of STRATEGIES for every table
    # Sizes per (signature key, kernel number in the signature), from sample inputs; kernels
    # without them use static shapes, and a level with a kernel of unknown size is not planned.
    sizes: Mapping[tuple[str, int], KernelSizes] | None = None
    # Hot rows (a profile and a byte budget, planner/hot_rows.py): the tables a `gm` kernel reads
    # get the most read rows, gathered through a remap from the hot-row storage.
    hot_rows: HotRowChooser | None = None

    def __post_init__(self):
        if self.core_mapping not in MAPPINGS:
            raise ValueError(f"core_mapping must be one of {', '.join(MAPPINGS)}, not {self.core_mapping!r}")
        if self.lookup_strategy not in ("auto",) + STRATEGIES:
            raise ValueError(f"lookup_strategy must be auto or one of {', '.join(STRATEGIES)}, "
                             f"not {self.lookup_strategy!r}")


@dataclasses.dataclass(frozen=True)
class PlacedKernel:
    """The planner's decision for one kernel step."""

    options: CompileOptions
    core_offset: int = 0
    core_count: int = 0                 # 0: all cores (the kernel is not planned)
    strategy: str = "gm"
    estimate: float | None = None       # cycles, the cost model's
    note: str = ""                      # why it was not planned, or fell back to gm
    hot: HotRows | None = None          # its table's hot rows, when it reads them


def place_kernels(key: str, steps: list, options: CompileOptions, planning: PlanningOptions,
                  static_sizes: Callable[[KernelCall], KernelSizes | None],
                  constant_table: Callable[[KernelCall], str | None] = lambda call: None) -> dict[int, PlacedKernel]:
    """Step index -> PlacedKernel for every kernel step of one signature's plan.
    `constant_table`: the name of a call's table in the model when it is a constant of the
    model (a frontend's own knowledge), else None: only those take hot rows."""
    placed: dict[int, PlacedKernel] = {}
    number = 0
    for level in _levels(steps):
        sizes = []
        for index in level:
            sizes.append((planning.sizes or {}).get((key, number)) or static_sizes(steps[index].call))
            number += 1
        placed.update(_place_level([steps[i].call for i in level], level, sizes, options, planning))
    if planning.hot_rows is not None:
        placed = _with_hot_rows(steps, placed, planning.hot_rows, constant_table)
    return placed


def _with_hot_rows(steps: list, placed: dict[int, PlacedKernel], chooser: HotRowChooser,
                   constant_table: Callable[[KernelCall], str | None]) -> dict[int, PlacedKernel]:
    """Hot rows for the tables of the signature's gm kernels (the other strategies hold or
    stream their tables on-chip already) whose reads are by id, from the model's own tables."""
    tables = {i: constant_table(steps[i].call) for i in placed}
    gm = {i for i, p in placed.items() if p.strategy == "gm" and tables[i] is not None
          and remappable(steps[i].call.func, steps[i].call.func.arg_names[0])}
    rows = chooser.choose({tables[i] for i in gm}, {t for t in tables.values() if t is not None})
    return {i: _reading_hot_rows(p, steps[i].call, rows[tables[i]]) if i in gm and tables[i] in rows else p
            for i, p in placed.items()}


def _reading_hot_rows(placed: PlacedKernel, call: KernelCall, hot: HotRows) -> PlacedKernel:
    table = call.func.arg_names[0]
    options = dataclasses.replace(placed.options, placements=placed.options.placements + (
        (table, f"hot:{len(hot.ids)}"), (REMAP, "hot")))
    return dataclasses.replace(placed, options=options, hot=hot)


def _levels(steps: list) -> list[list[int]]:
    levels, current = [], []
    for index, step in enumerate(steps):
        if isinstance(step, KernelStep):
            current.append(index)
        elif current:
            levels.append(current)
            current = []
    return levels + ([current] if current else [])


def _place_level(calls: list[KernelCall], indices: list[int], sizes: list[KernelSizes | None],
                 options: CompileOptions, planning: PlanningOptions) -> dict[int, PlacedKernel]:
    if planning.core_mapping == "even" and planning.lookup_strategy == "gm":
        return {i: PlacedKernel(options) for i in indices}      # no planner: as before it existed
    if any(s is None for s in sizes):
        note = "sizes unknown: convert with --sample_inputs to plan this level"
        return {i: PlacedKernel(options, note=note) for i in indices}
    machine = load_machine(options.target)
    ops = [_table_op(call, s) for call, s in zip(calls, sizes)]
    func_of = {id(op): call.func for op, call in zip(ops, calls)}
    model = CostModel(machine, lambda op, strategy: unit_costs(func_of[id(op)], options, strategy))
    forced = None if planning.lookup_strategy == "auto" else planning.lookup_strategy
    plan = plan_level(ops, machine.cores, model.time_function(ops, forced), planning.core_mapping)
    placed = {}
    for a in plan.assignments:
        call, op = calls[a.op], ops[a.op]
        note = model.note(op, forced, a.strategy)
        count = 0 if planning.core_mapping == "even" else a.core_count
        placed[indices[a.op]] = PlacedKernel(_kernel_options(options, call, a.strategy, count), a.core_offset,
                                             count, a.strategy, a.estimate, note)
    return placed


def _table_op(call: KernelCall, sizes: KernelSizes) -> TableOp:
    table = call.func.args[0].type
    splittable = not call.func.name.startswith("segment_sum")
    return TableOp(_table_name(call), call.family, sizes.rows, int(table.shape[1]), ITEMSIZE[table.dtype],
                   sizes.bags, sizes.lookups, sizes.distinct, splittable, sizes.core_lookups)


def _table_name(call: KernelCall) -> str:
    source = call.inputs[0]
    return source if isinstance(source, str) else getattr(source, "name", str(source))


def _kernel_options(options: CompileOptions, call: KernelCall, strategy: str, cores: int) -> CompileOptions:
    table = call.func.arg_names[0]
    placement = {"gm": (), "l1": ((table, "scratchpad"),), "gm_ub": ((table, "buffer"),),
                 "l1_ub": ((table, "scratchpad"),)}[strategy]
    return dataclasses.replace(options, cores=cores, placements=placement, access_unit=strategy != "l1_ub")
