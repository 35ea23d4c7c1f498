"""Text form of every IR level, shaped like the MLIR that Ember's tests keep
(eb_scf.mlir, eb_slc_O0.mlir, eb_slc_O3.mlir, eb_dlc.mlir)."""

from __future__ import annotations

from ember_tf.ir.core import Block, Func, Operation, Value
from ember_tf.ir.ops import SPECS

_LOOPS = tuple(s.name for s in SPECS if s.loop)   # printed `for %iv = lb to ub step s`


class _Names:
    def __init__(self) -> None:
        self._names: dict[int, str] = {}
        self._taken: set[str] = set()

    def __call__(self, value: Value) -> str:
        if value.uid not in self._names:
            base = "".join(c if c.isalnum() or c == "_" else "_" for c in value.hint) or "v"
            name, n = base, 0
            while name in self._taken:
                n += 1
                name = f"{base}_{n}"
            self._taken.add(name)
            self._names[value.uid] = name
        return "%" + self._names[value.uid]


def print_func(func: Func) -> str:
    names = _Names()
    inputs = [i for i in range(len(func.args)) if i not in func.outputs]
    sig = ", ".join(f"{names(func.args[i])}: {func.args[i].type}" for i in inputs)
    outs = ", ".join(f"{names(func.args[i])}: {func.args[i].type}{_dims(func, i)}" for i in func.outputs)
    lines = [f"func.func @{func.name}({sig}) -> ({outs}) attributes {{level = \"{func.level}\"}} {{"]
    _print_block(func.body, names, 1, lines)
    lines.append("}")
    return "\n".join(lines) + "\n"


def print_ops(ops: list[Operation]) -> str:
    """A list of operations with names of their own: equal texts mean equal code."""
    lines: list[str] = []
    names = _Names()
    for op in ops:
        _print_op(op, names, 0, lines)
    return "\n".join(lines)


def _dims(func: Func, i: int) -> str:
    dims = func.args[i].type.dim_of
    if not any(dims):
        return ""
    parts = []
    for d, static in zip(dims, func.args[i].type.shape):
        if d is None:
            parts.append(str(static))
        else:
            what = f"dim({func.arg_names[d.arg]}, {d.axis})" if d.element is None else \
                f"{func.arg_names[d.arg]}[{d.element}]"
            parts.append(what + (f" {'+' if d.add > 0 else '-'} {abs(d.add)}" if d.add else ""))
    return f" {{shape = [{', '.join(parts)}]}}"


def _print_block(block: Block, names: _Names, depth: int, lines: list[str]) -> None:
    for op in block.ops:
        _print_op(op, names, depth, lines)


def _attr(value) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Operation):
        return "<op>"
    return str(value)


def _print_op(op: Operation, names: _Names, depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    results = ", ".join(names(r) for r in op.results)
    lhs = f"{results} = " if results else ""
    if op.name in _LOOPS:
        iv = names(op.body.args[0])
        lb, ub, step = (names(o) for o in op.operands[:3])
        extra = {k: v for k, v in op.attrs.items() if k != "width"}
        attrs = f" {{{', '.join(f'{k} = {_attr(v)}' for k, v in extra.items())}}}" if extra else ""
        vec = f"<{op.attrs['width']}>" if op.attrs.get("width", 1) > 1 else ""
        lines.append(f"{pad}{op.name}{vec} {iv} = {lb} to {ub} step {step}{attrs} {{")
    elif op.name == "arith.constant":
        lines.append(f"{pad}{lhs}arith.constant {op.attrs['value']!r} : {op.result.type}")
    else:
        operands = ", ".join(names(o) for o in op.operands)
        attrs = {k: v for k, v in op.attrs.items()}
        attr_text = f" {{{', '.join(f'{k} = {_attr(v)}' for k, v in attrs.items())}}}" if attrs else ""
        types = ", ".join(str(r.type) for r in op.results)
        type_text = f" : {types}" if types else ""
        region_text = " {" if op.regions else ""
        lines.append(f"{pad}{lhs}{op.name}{' ' if operands else ''}{operands}{attr_text}{type_text}{region_text}")
    for i, region in enumerate(op.regions):
        if region.args and op.name not in _LOOPS:
            lines.append(f"{pad}  ^bb({', '.join(f'{names(a)}: {a.type}' for a in region.args)}):")
        _print_block(region, names, depth + 1, lines)
        lines.append(f"{pad}}}" + (" {" if i + 1 < len(op.regions) else ""))
