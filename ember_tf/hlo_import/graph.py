"""The flat entry computation the rewriters edit: users of every value, adding
instructions in front of a kernel (index clamping, reshapes), and kernel outputs
standing in for the instructions they replace."""

from __future__ import annotations

import itertools
from typing import Iterator

import numpy as np

from ember_tf.frontend.rewrite import KernelCall, Site
from ember_tf.hlo.module import Computation, Instruction, Module, Shape, element_type

KERNEL_OUTPUT = "ember-kernel-output"   # opcode of the stand-in for a kernel's output


class FlatGraph:
    def __init__(self, module: Module):
        self.module = module
        self.computation: Computation = module.entry_computation
        self._ids = itertools.count()
        self._taken: set[str] = set()     # instructions a kernel already stands for

    # -- the rewrite driver's view (ember_tf/frontend/rewrite.py) ------------------------

    def sites(self, rewriter) -> Iterator[Site]:
        """The instructions of the rewriter's opcodes no kernel stands for yet."""
        for instruction in list(self.computation.instructions):
            if instruction.opcode in rewriter.opcodes and instruction.name not in self._taken:
                yield Site(instruction.name, instruction.opcode, instruction)

    def record(self, call: KernelCall, index: int) -> None:
        """The rewriter has already put the kernel's outputs in place (kernel_output)."""
        self._taken.update(call.nodes)

    # -- queries ----------------------------------------------------------------------

    def get(self, name: str) -> Instruction:
        return self.computation.instruction(name)

    def users(self, name: str) -> list[Instruction]:
        return [i for i in self.computation.instructions if name in i.operands]

    def is_output(self, name: str) -> bool:
        root = self.computation.root_instruction
        return name == root.name or (root.opcode == "tuple" and name in root.operands)

    def only_used_by(self, name: str, user: str) -> bool:
        return not self.is_output(name) and all(u.name == user for u in self.users(name))

    def private_chain(self, producer: str, consumer: str) -> bool:
        """Does `producer` reach `consumer` (through its first operand, a chain of no-ops)
        with every value on the way read by the next one only?"""
        user, name = consumer, self.get(consumer).operands[0]
        while self.only_used_by(name, user):
            if name == producer:
                return True
            user, name = name, self.get(name).operands[0]
        return False

    def reducer_op(self, name: str) -> str | None:
        """The binary op a reducer/combiner computation applies to its two parameters."""
        computation = self.module.computations[name]
        root = computation.root_instruction
        params = {p.name for p in computation.parameters()}
        if len(computation.instructions) == 3 and set(root.operands) == params and len(params) == 2:
            return root.opcode
        return None

    # -- edits ------------------------------------------------------------------------

    def add(self, before: str, opcode: str, shape: Shape, operands: list[str], attrs: dict | None = None,
            literal: np.ndarray | None = None, name: str = "ember") -> str:
        """A new instruction placed just before `before`; returns its name."""
        instruction = Instruction(f"{name}.{next(self._ids)}", opcode, shape, list(operands), dict(attrs or {}),
                                  literal)
        index = self.computation.instructions.index(self.get(before))
        self.computation.instructions.insert(index, instruction)
        self.computation.reindex()
        return instruction.name

    def constant(self, before: str, value, dtype: np.dtype) -> str:
        array = np.asarray(value, dtype=dtype)
        return self.add(before, "constant", Shape(element_type(dtype), array.shape), [], literal=array)

    def broadcast_scalar(self, before: str, value, dtype: np.dtype, dims: tuple[int, ...]) -> str:
        scalar = self.constant(before, value, dtype)
        return self.add(before, "broadcast", Shape(element_type(dtype), dims), [scalar], {"dimensions": "{}"})

    def stand_in(self, before: str, shape: Shape) -> str:
        """An instruction standing for a kernel output (the kernel fills it)."""
        return self.add(before, KERNEL_OUTPUT, shape, [], name="ember_kernel")

    def kernel_output(self, replaced: str, shape: Shape) -> str:
        """A stand-in for a kernel output, placed where `replaced` was; `replaced`'s
        users read it (through a reshape when the kernel's shape differs)."""
        stand_in = self.stand_in(replaced, shape)
        value = stand_in
        original = self.get(replaced).shape
        if original != shape:
            value = self.add(replaced, "reshape", original, [stand_in])
        self.replace_uses(replaced, value)
        return stand_in

    def replace_uses(self, old: str, new: str) -> None:
        for instruction in self.computation.instructions:
            instruction.operands = [new if o == old else o for o in instruction.operands]
        if self.computation.root == old:
            self.computation.root = new
