"""The conversion report, one schema for every frontend: per signature, what was
offloaded (family, kernel, graph nodes, tables), what was left on the host and why, and
what each host segment runs (its ops, and on what). It travels in the .daebin's metadata
as JSON; `ember-tf convert` and `ember-tf inspect` print it."""

from __future__ import annotations

import dataclasses
import json
from typing import Callable, Iterable

from ember_tf.frontend.rewrite import Rewritten, Skipped
from ember_tf.frontend.schedule import HostStep, KernelStep

# What ran host segments of files written before the report said so: only TensorFlow did.
_DEFAULT_RUNS_ON = "TensorFlow"


@dataclasses.dataclass(frozen=True)
class OffloadedOp:
    family: str
    kernel: str
    nodes: list[str]
    tables: list[str]
    # the planner's decision (docs/PLANNER.md): lookup strategy, cores (count 0: all of them),
    # its estimate in cycles (None: not planned), and why it was not planned or fell back
    strategy: str = "gm"
    core_offset: int = 0
    core_count: int = 0
    estimate: float | None = None
    note: str = ""
    emulated: int | None = None      # cycles of a run, when `ember-tf inspect --stats_json` adds them
    hot_rows: int = 0                # rows of its table in the hot-row storage (docs/HOT_ROWS.md)


@dataclasses.dataclass(frozen=True)
class HostSegmentSummary:
    name: str
    ops: dict[str, int]      # op -> how many
    runs_on: str             # "TensorFlow", "the HLO evaluator"


@dataclasses.dataclass(frozen=True)
class SignatureReport:
    key: str
    offloaded: list[OffloadedOp]
    not_offloaded: list[Skipped]
    host_segments: list[HostSegmentSummary]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "SignatureReport":
        return cls(data["key"], [OffloadedOp(**e) for e in data["offloaded"]],
                   [Skipped(**e) for e in data["not_offloaded"]],
                   [HostSegmentSummary(s["name"], s["ops"], s.get("runs_on", _DEFAULT_RUNS_ON))
                    for s in data["host_segments"]])


def reports_json(reports: Iterable[SignatureReport]) -> str:
    return json.dumps([r.to_json() for r in reports], separators=(",", ":"))


def reports_from_json(text: str) -> list[SignatureReport]:
    return [SignatureReport.from_json(r) for r in json.loads(text)]


def signature_report(key: str, rewritten: Rewritten, steps: list, host_ops: Callable[[HostStep], Iterable],
                     runs_on: str, embedding_ops: frozenset[str] = frozenset(),
                     placed: dict | None = None) -> SignatureReport:
    """The report of one signature's plan. `host_ops(step)` lists a host segment's
    (node, op) pairs worth naming (not its plumbing); a node whose op is in
    `embedding_ops` that no rewriter explained is reported as left on the host. `placed`:
    the planner's decision per kernel step index (frontend/planning.py)."""
    offloaded = []
    for index, s in enumerate(steps):
        if isinstance(s, KernelStep):
            p = (placed or {}).get(index)
            plan = {} if p is None else {"strategy": p.strategy, "core_offset": p.core_offset,
                                         "core_count": p.core_count, "estimate": p.estimate, "note": p.note,
                                         "hot_rows": 0 if p.hot is None else len(p.hot.ids)}
            offloaded.append(OffloadedOp(s.call.family, s.call.func.name, list(s.call.nodes),
                                         [t.name for t in s.call.inputs if not isinstance(t, str)], **plan))
    skipped = list(rewritten.skipped)
    explained = {s.node for s in rewritten.skipped}
    segments = []
    for step in steps:
        if not isinstance(step, HostStep):
            continue
        ops: dict[str, int] = {}
        for node, op in host_ops(step):
            ops[op] = ops.get(op, 0) + 1
            if op in embedding_ops and node not in explained and not node.startswith("ember_"):
                skipped.append(Skipped("", node, op, "no rewriter's pattern matches it (see docs/ARCHITECTURE.md)"))
        segments.append(HostSegmentSummary(step.name, dict(sorted(ops.items())), runs_on))
    return SignatureReport(key, offloaded, skipped, segments)
