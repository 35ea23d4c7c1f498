"""Structural checks of a function at any level: values are defined before use
and visible where used; every operation is one of the table's (`ir/ops.py`),
allowed at the function's level, with the operand, result, region and block
argument counts and kinds and the attributes its spec declares; then the spec's
own hook (context, variables, ranks)."""

from __future__ import annotations

from ember_tf.errors import CompileError
from ember_tf.ir.core import Block, Func, Operation, TensorType, Value
from ember_tf.ir.ops import OPS, OpSpec, arity, kinds_of


def verify(func: Func) -> None:
    _Verifier(func).run()


class _Verifier:
    def __init__(self, func: Func):
        self.func = func
        self.vars: set[str] = set()

    def fail(self, op: Operation | None, problem: str) -> CompileError:
        where = f" ({op.name})" if op is not None else ""
        return CompileError(f"IR verification of {self.func.name} at level {self.func.level}{where}: {problem}")

    def run(self) -> None:
        for i in self.func.outputs:
            if not isinstance(self.func.args[i].type, TensorType):
                raise self.fail(None, "an output that is not a tensor")
        visible = {a.uid for a in self.func.args}
        self.block(self.func.body, visible, context="root")

    def block(self, block: Block, visible: set[int], context: str) -> None:
        visible = visible | {a.uid for a in block.args}
        for op in block.ops:
            self.op(op, visible, context)
            visible |= {r.uid for r in op.results}
            if op.name == "slc.for":     # a loop's buffers are read at its end event, after it
                visible |= {o.result.uid for o in op.body.ops if o.name == "slc.buf_stream"}

    def op(self, op: Operation, visible: set[int], context: str) -> None:
        spec = self.spec(op)
        for v in op.operands:
            if v.uid not in visible:
                raise self.fail(op, f"operand {v.hint or v.uid} is not defined before this use")
        self.shape(op, spec)
        self.kinds(op, spec)
        if spec.check is not None:
            spec.check(self, op, context)
        inner = spec.region_context or context
        for region in op.regions:
            self.block(region, visible, inner)

    def spec(self, op: Operation) -> OpSpec:
        spec = OPS.get(op.name)
        if spec is None:
            raise self.fail(op, f"not allowed at level {self.func.level}: not an operation of the IR (ir/ops.py)")
        if self.func.level not in spec.levels:
            raise self.fail(op, f"not allowed at level {self.func.level}")
        return spec

    def shape(self, op: Operation, spec: OpSpec) -> None:
        """Operand, result, region and block argument counts; required attributes."""
        self.count(op, "operands", len(op.operands), arity(spec.operands))
        self.count(op, "results", len(op.results), arity(spec.results))
        self.count(op, "regions", len(op.regions), (len(spec.regions), len(spec.regions)))
        for i, (region, args) in enumerate(zip(op.regions, spec.regions)):
            self.count(op, f"arguments of region {i}", len(region.args), (len(args), len(args)))
        for name in spec.attrs:
            if name not in op.attrs:
                raise self.fail(op, f"missing attribute {name}")

    def count(self, op: Operation, what: str, n: int, bounds: tuple[int, int | None]) -> None:
        least, most = bounds
        if least <= n and (most is None or n <= most):
            return
        expected = str(least) if least == most else f"at least {least}" if most is None else f"{least} to {most}"
        raise self.fail(op, f"{n} {what}, expected {expected}")

    def kinds(self, op: Operation, spec: OpSpec) -> None:
        """Every operand, result and block argument of the kind its spec says."""
        self.match(op, spec, "operand", op.operands, kinds_of(spec.operands, len(op.operands)))
        self.match(op, spec, "result", op.results, kinds_of(spec.results, len(op.results)))
        for i, (region, args) in enumerate(zip(op.regions, spec.regions)):
            self.match(op, spec, f"argument of region {i}", region.args, list(args))

    def match(self, op: Operation, spec: OpSpec, what: str, values: list[Value], kinds: list) -> None:
        for i, (v, kind) in enumerate(zip(values, kinds)):
            if not kind(v.type):
                raise self.fail(op, f"{what} {i} ({v.hint or v.uid}) is a {v.type}, not {kind.text}: "
                                    f"{spec.name} {spec.summary}")
