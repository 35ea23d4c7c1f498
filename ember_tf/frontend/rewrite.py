"""Kernel calls and the rewrite driver (tf2onnx's shape: one rewriter per pattern, run
most specific first). A frontend's graph says where each rewriter may apply (`sites`)
and how an accepted kernel call changes the graph (`record`); the driver is the same
for every frontend."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Iterable, Protocol

from ember_tf.ir.core import Func


@dataclasses.dataclass
class KernelCall:
    """One embedding operation found in a graph, as a kernel to compile.

    `inputs` binds the kernel's input arguments in order: a value of the graph (by name),
    or a table the frontend binds at conversion (a SavedModel variable, a sharded table).
    `outputs` are the graph values the kernel's outputs stand for; `nodes` the graph
    nodes it replaces (what `ember-tf inspect` names)."""

    family: str
    func: Func
    inputs: list
    outputs: list[str] = dataclasses.field(default_factory=list)
    nodes: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Skip:
    """A match left to the host, and why (shown by `ember-tf inspect`)."""

    reason: str


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A Skip as the report keeps it: which rewriter, at which node, of which op."""

    family: str
    node: str
    op: str
    reason: str


@dataclasses.dataclass
class Rewritten:
    calls: list[KernelCall]
    skipped: list[Skipped]


@dataclasses.dataclass(frozen=True)
class Site:
    """Where a rewriter may apply: the anchor's name and op, and what the rewriter reads
    (a pattern match, an instruction)."""

    name: str
    op: str
    match: object


class Rewriter:
    """One embedding family: where it may apply is the frontend graph's business
    (`sites`); `rewrite` turns one site into a kernel call. A class with an `order`
    is registered (`registered_rewriters`); lower orders run first, so that a larger
    pattern (a bag) is seen before a part of it (the bag's gather) is taken alone."""

    family: str = ""
    order: int | None = None

    def rewrite(self, graph, match) -> KernelCall | Skip | None:
        """A KernelCall, a Skip (matched but left on the host), or None (not this family)."""
        raise NotImplementedError


class RewritableGraph(Protocol):
    def sites(self, rewriter: Rewriter) -> Iterable[Site]:
        """The places `rewriter` may apply, read from the graph as it is now."""

    def record(self, call: KernelCall, index: int) -> None:
        """The graph after `call` (the `index`-th) replaces what it stands for."""


def registered_rewriters(package: str, base: type[Rewriter]) -> tuple[Rewriter, ...]:
    """One instance of every `base` subclass with an `order` in `package`'s modules, lowest
    order first: adding a family is adding its file."""
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        importlib.import_module(f"{package}.{module.name}")
    classes, stack = [], [base]
    while stack:
        cls = stack.pop()
        stack += cls.__subclasses__()
        if cls.order is not None and cls.__module__.startswith(f"{package}."):
            classes.append(cls)
    return tuple(cls() for cls in sorted(set(classes), key=lambda c: (c.order, c.__name__)))


def rewrite_graph(graph: RewritableGraph, rewriters: Iterable[Rewriter]) -> Rewritten:
    """Runs each rewriter until none of its sites is left; each site is tried once."""
    result = Rewritten([], [])
    for rewriter in rewriters:
        seen: set[str] = set()
        while _rewrite_one(graph, rewriter, seen, result):
            pass
    return result


def _rewrite_one(graph: RewritableGraph, rewriter: Rewriter, seen: set[str], result: Rewritten) -> bool:
    """Applies the first new site of `rewriter`; False when none is left. After an
    applied rewrite the sites are read again: the graph has changed."""
    for site in graph.sites(rewriter):
        if site.name in seen:
            continue
        seen.add(site.name)
        found = rewriter.rewrite(graph, site.match)
        if found is None:
            continue
        if isinstance(found, Skip):
            result.skipped.append(Skipped(rewriter.family, site.name, site.op, found.reason))
            continue
        graph.record(found, len(result.calls))
        result.calls.append(found)
        return True
    return False
