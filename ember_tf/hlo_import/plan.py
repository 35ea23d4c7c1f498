"""The residual module cut into host segments around the kernels, as for SavedModels
(grappler_like/host_graph.py): each instruction's level is the number of kernel
launches it waits for; level k's instructions form host segment k, an HLO module
of its own (parameters for what it reads from outside, a tuple of what later steps
read), run by the emulator's HLO evaluator. Values made of constants alone (constants,
iotas, their broadcasts) are copied into each segment that reads them."""

from __future__ import annotations

import dataclasses

from ember_tf.frontend.rewrite import KernelCall
from ember_tf.frontend.schedule import HostStep, KernelStep, assign_levels, interleave, live_values
from ember_tf.hlo.module import Computation, Instruction, Module, Shape
from ember_tf.hlo_import.graph import KERNEL_OUTPUT, FlatGraph


@dataclasses.dataclass
class HloPlan:
    steps: list[HostStep | KernelStep]   # a HostStep's program is an HLO Module of its own
    parameters: list[Instruction]   # the entry's parameters, by number
    outputs: list[str]              # the values of the module's result, in order
    shapes: dict[str, Shape]


def plan(graph: FlatGraph, calls: list[KernelCall]) -> HloPlan:
    computation = graph.computation
    kernel_of = {out: k for k, call in enumerate(calls) for out in call.outputs}
    by_name = {i.name: i for i in computation.instructions}

    def preds(name: str) -> list[str]:
        if name in kernel_of:
            return list(calls[kernel_of[name]].inputs)
        return list(by_name[name].operands)

    root = by_name[computation.root]
    outputs = list(root.operands) if root.opcode == "tuple" else [root.name]
    live = live_values(outputs, preds)
    order = [i.name for i in computation.instructions]     # operands come first in HLO order
    levels = assign_levels(live, order, preds, kernel_of)
    pinned = set(outputs) | {i for call in calls for i in call.inputs}

    def hosted(name: str) -> bool:
        i = by_name[name]
        return i.opcode not in ("parameter", KERNEL_OUTPUT) and (not _free(i, by_name) or name in pinned)

    def segment(name: str, members: list[str]) -> HostStep:
        later = _read_later(members, live, by_name, calls, levels.kernels, outputs, hosted)
        return _segment(graph.module, name, members, by_name, later)

    steps = interleave(levels, [n for n in order if n in live and hosted(n)], segment, lambda k: KernelStep(calls[k]))
    shapes = {i.name: i.shape for i in computation.instructions}
    return HloPlan(steps, computation.parameters(), outputs, shapes)


def _read_later(members, live, by_name, calls, kernels, outputs, hosted) -> list[str]:
    inside = set(members)
    used = set(outputs) | {i for k in kernels for i in calls[k].inputs}
    for name in live:
        if name not in inside and hosted(name):
            used |= set(by_name[name].operands)
    return [m for m in members if m in used]


def _segment(module: Module, name: str, members: list[str], by_name: dict[str, Instruction],
             outputs: list[str]) -> HostStep:
    inside = set(members)
    inputs: list[str] = []
    constants: list[Instruction] = []    # free values, copied (with what they are made of)
    body: list[Instruction] = []

    def copy_free(source: Instruction) -> None:
        # operands first (a long broadcast chain must not exhaust Python's stack)
        stack = [(source, False)]
        while stack:
            item, expanded = stack.pop()
            if any(c is item for c in constants):
                continue
            if expanded:
                constants.append(item)
            else:
                stack.append((item, True))
                stack += [(by_name[o], False) for o in reversed(item.operands)]

    for member in members:
        instruction = by_name[member]
        for operand in instruction.operands:
            source = by_name[operand]
            if operand in inside or operand in inputs:
                continue
            if _free(source, by_name):
                copy_free(source)
            else:
                inputs.append(operand)
        body.append(instruction)
    parameters = [Instruction(n, "parameter", by_name[n].shape, [], parameter_number=k)
                  for k, n in enumerate(inputs)]
    result_name = f"{name}_result"
    while result_name in inside or result_name in inputs or any(c.name == result_name for c in constants):
        result_name += "_"
    result = Instruction(result_name, "tuple", Shape("tuple", (), tuple(by_name[o].shape for o in outputs)),
                         list(outputs))
    computations = {c: module.computations[c] for c in _called(module, constants + body)}
    entry_name = name
    while entry_name in computations:        # a callee of the module may be called host_0 too
        entry_name += "_"
    entry = Computation(entry_name, parameters + constants + body + [result], result.name)
    computations[entry_name] = entry
    return HostStep(name, Module(name, computations, entry_name), inputs, list(inputs), outputs)


def _free(instruction: Instruction, by_name: dict[str, Instruction]) -> bool:
    """A value made of constants alone (a constant, an iota, a broadcast of one):
    each segment that reads it makes its own rather than receiving it."""
    while instruction.opcode == "broadcast":
        instruction = by_name[instruction.operands[0]]
    return instruction.opcode in ("constant", "iota")


def _called(module: Module, instructions: list[Instruction]) -> list[str]:
    """Computations the instructions call, callees first (the order HLO text needs)."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        for instruction in module.computations[name].instructions:
            for callee in instruction.called_computations():
                visit(callee)
        order.append(name)

    for instruction in instructions:
        for callee in instruction.called_computations():
            visit(callee)
    return order
