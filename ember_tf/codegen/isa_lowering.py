"""DLC -> DAE ISA, the driver: one function's `.kernel ... .end` block from its
access configuration (`access_lowering.py`), its prologue and callback cases
(core code: `select.py` choosing instructions with registers from
`registers.py`, each case ending by dispatching the next callback itself, with
the jump table), and the text around them (`emit.py`). The result is `.dasm`
text, assembled and verified like hand-written kernels."""

from __future__ import annotations

from ember_tf.codegen.access_lowering import AccessLowering
from ember_tf.codegen.emit import KernelText
from ember_tf.codegen.registers import Allocator
from ember_tf.codegen.select import INVARIANTS, CoreSelector
from ember_tf.codegen.target import Target
from ember_tf.ir.core import Func, Operation, walk

_CONTAINERS = ("dlc.access", "dlc.compute")


class KernelLowering:
    """Lower one DLC (or core-only) function to a `.kernel ... .end` block."""

    def __init__(self, func: Func, target: Target, placements: dict[str, str] | None = None):
        self.func, self.target = func, target
        self.text = KernelText(func, target, placements)
        self.access = AccessLowering(self.text, target)
        self.core = CoreSelector(func, target, self.text, Allocator(func.name))

    def kernel_text(self, version: int = 1) -> str:
        body = self.func.body.ops
        access_op = next((op for op in body if op.name == "dlc.access"), None)
        compute_op = next((op for op in body if op.name == "dlc.compute"), None)
        cases = compute_op.body.ops if compute_op else []
        prologue = [op for op in body if op.name not in _CONTAINERS]
        access_words = self.access.words(access_op.body) if access_op else []
        self.core.hoist_invariants(prologue, cases)
        self._prologue(prologue, cases)
        table = self._cases(cases)
        self.text.emit("halt")
        return self.text.render(access_words, table, version)

    def _prologue(self, prologue: list[Operation], cases: list[Operation]) -> None:
        """The prologue's core code; the values the cases read keep their registers."""
        case_operands = {v.uid for case in cases for op in walk(case.body) for v in op.operands}
        pinned = {r.uid for op in prologue for r in op.results if r.uid in case_operands}
        self.core.region([op for op in prologue if op.name not in INVARIANTS], pinned)

    def _cases(self, cases: list[Operation]) -> list[str] | None:
        """One block per callback case, each ending with the dispatch of the next
        callback (no jump back to a shared loop); the jump table, or None without cases."""
        if not cases:
            return None
        text, table = self.text, ["done"]
        text.emit("cb.pop x1")
        text.emit("br.tab x1, jt0")
        for case in cases:
            label = f"cb{case.attrs['id']}"
            table.append(label)
            text.place(label)
            self.core.region(case.body.ops)
            text.emit("cb.pop x1")
            text.emit("br.tab x1, jt0")
        text.place("done")
        return table
