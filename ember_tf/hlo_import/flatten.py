"""The entry computation with every `call` and `fusion` inlined (JAX wraps jnp.take in
calls, optimized HLO wraps everything in fusions), so the rewriters see one flat
dataflow graph. Reducers and scatter combiners stay separate computations."""

from __future__ import annotations

import copy

from ember_tf.hlo.module import Computation, Instruction, Module

INLINED = {"call": "to_apply", "fusion": "calls"}


def flatten(module: Module) -> Module:
    """A new Module whose entry has no call or fusion instructions. The module must be
    verified (callees exist and take as many parameters as they are given; no recursion)."""
    entry = module.entry_computation
    instructions: list[Instruction] = []
    taken = {i.name for i in entry.instructions}
    root = _inline(module, entry, {}, "", instructions, taken)
    flat = Computation(entry.name, instructions, root)
    computations = {name: c for name, c in module.computations.items() if name != entry.name}
    computations[entry.name] = flat
    return Module(module.name, computations, entry.name)


def _inline(module: Module, computation: Computation, arguments: dict[int, str], prefix: str,
            out: list[Instruction], taken: set[str]) -> str:
    """Appends `computation`'s instructions to `out` (parameters bound to `arguments`
    when inlining, kept when at the top); returns the name holding its root value.
    `taken`: names in use; an inlined name that would repeat one gets a suffix."""
    renamed: dict[str, str] = {}
    for instruction in computation.instructions:
        if instruction.opcode == "parameter" and prefix:
            renamed[instruction.name] = arguments[instruction.parameter_number]
            continue
        operands = [renamed[o] for o in instruction.operands]
        if instruction.opcode in INLINED:
            callee = module.computations[instruction.attrs[INLINED[instruction.opcode]]]
            bound = dict(enumerate(operands))
            renamed[instruction.name] = _inline(module, callee, bound, f"{prefix}{instruction.name}.", out, taken)
            continue
        clone = copy.copy(instruction)
        clone.name = prefix + instruction.name
        if prefix:
            clone.name = _unique(clone.name, taken)
        clone.operands = operands
        clone.attrs = dict(instruction.attrs)
        renamed[instruction.name] = clone.name
        out.append(clone)
    return renamed[computation.root]


def _unique(name: str, taken: set[str]) -> str:
    candidate, k = name, 1
    while candidate in taken:
        candidate, k = f"{name}.{k}", k + 1
    taken.add(candidate)
    return candidate


NO_OPS = ("reshape", "bitcast", "copy", "convert")


def simplify(computation: Computation) -> Computation:
    """Reads through instructions that change nothing (a reshape, bitcast, copy or
    convert to the same shape and type; get-tuple-element of a tuple), so patterns
    need not spell out TF's `reshape(arg)` and `convert` wrappers. Dead ones go."""
    by_name = {i.name: i for i in computation.instructions}
    forward: dict[str, str] = {}

    def resolve(name: str) -> str:
        while name in forward:
            name = forward[name]
        return name

    for i in computation.instructions:
        i.operands = [resolve(o) for o in i.operands]
        source = by_name[i.operands[0]] if i.operands else None
        if i.opcode in NO_OPS and source is not None and source.shape == i.shape:
            forward[i.name] = source.name
        elif i.opcode == "get-tuple-element" and source is not None and source.opcode == "tuple":
            forward[i.name] = resolve(source.operands[i.int("index")])
    root = resolve(computation.root)
    live = _live(by_name, root)
    kept = [i for i in computation.instructions if i.name in live or i.opcode == "parameter"]
    return Computation(computation.name, kept, root)


def _live(by_name: dict[str, Instruction], root: str) -> set[str]:
    live, stack = set(), [root]
    while stack:
        name = stack.pop()
        if name not in live:
            live.add(name)
            stack += by_name[name].operands
    return live
