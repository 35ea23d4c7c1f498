"""The pass pipeline: Ember's passes in order, enabled by opt level, with
`print_ir_after` and `disable_pass` as in MLIR's pass managers."""

from __future__ import annotations

import dataclasses
import sys
from typing import Callable, TextIO

from ember_tf.errors import CompileError
from ember_tf.ir.core import Func
from ember_tf.ir.printer import print_func
from ember_tf.ir.verifier import verify


@dataclasses.dataclass(frozen=True)
class Pass:
    name: str
    min_opt_level: int          # enabled at this --opt_level and above
    run: Callable
    summary: str


def pipeline() -> list[Pass]:
    from ember_tf.passes import (bufferize, decoupling, fuse_callbacks, promote_accumulators, queue_align,
                                 simplify_mem, slc_to_dlc, split_cores, vectorize)
    return [
        Pass("decoupling", 0, decoupling.run, "access loops and streams vs core callbacks (code motion)"),
        Pass("vectorize", 1, vectorize.run, "vector traversal of rows, tail masks, vector callbacks"),
        Pass("bufferize", 2, bufferize.run, "one callback per row: the row crosses the queue as a buffer"),
        Pass("split_cores", 3, split_cores.run, "a batch loop split into one traversal per core"),
        Pass("queue_align", 3, queue_align.run, "outer induction values as core counters, not queue traffic"),
        Pass("fuse_callbacks", 3, fuse_callbacks.run, "a loop's per-iteration callback joins its row's callback"),
        Pass("simplify_mem", 3, simplify_mem.run, "gathers/scatters at consecutive indices -> contiguous vld/vst"),
        Pass("promote_accumulators", 3, promote_accumulators.run,
             "an output row summed over a loop stays in registers"),
        Pass("slc_to_dlc", 0, slc_to_dlc.run, "access configuration + compute loop"),
    ]


PASS_NAMES = tuple(p.name for p in pipeline())
REQUIRED = ("decoupling", "slc_to_dlc")


class PassManager:
    def __init__(self, target, opt_level: int = 3, print_ir_after: tuple[str, ...] = (),
                 disable: tuple[str, ...] = (), out: TextIO | None = None):
        if opt_level not in (0, 1, 2, 3):
            raise CompileError(f"opt_level must be 0, 1, 2 or 3, not {opt_level}")
        for name in print_ir_after:
            if name not in PASS_NAMES + ("all", "input"):
                raise CompileError(f"unknown pass {name!r} (passes: {', '.join(PASS_NAMES)})")
        for name in disable:     # "all" and "input" only name dumps: disabling them would do nothing
            if name not in PASS_NAMES:
                raise CompileError(f"unknown pass {name!r} (passes: {', '.join(PASS_NAMES)})")
        for name in disable:
            if name in REQUIRED:
                raise CompileError(f"pass {name!r} cannot be disabled: later stages need its output")
        self.target, self.opt_level = target, opt_level
        self.print_ir_after, self.disable = set(print_ir_after), set(disable)
        self.out = out or sys.stderr

    def enabled(self) -> list[Pass]:
        return [p for p in pipeline() if p.min_opt_level <= self.opt_level and p.name not in self.disable]

    def run(self, func: Func) -> Func:
        verify(func)
        if self.print_ir_after & {"input", "all"}:
            self._print("input", func)
        for p in self.enabled():
            p.run(func, self.target)
            verify(func)
            if self.print_ir_after & {p.name, "all"}:
                self._print(p.name, func)
        return func

    def _print(self, name: str, func: Func) -> None:
        self.out.write(f"// -----// IR Dump After {name} //----- //\n{print_func(func)}\n")
