"""The golden execute unit: steps the core program one instruction at a time,
popping from the queues the access unit fills, and records what the timing
model needs (cycles per callback, memory touched)."""

from __future__ import annotations

import collections
import dataclasses
from typing import Iterator, Sequence

import numpy as np

from ember_tf.emulator.access_unit import GoldenAccessUnit, Operand, Token
from ember_tf.emulator.activity import AddressMap, CoreActivity
from ember_tf.machines import MachineConfig
from ember_tf.emulator.ops import HANDLERS
from ember_tf.emulator.program import KernelProgram
from ember_tf.emulator.rounding import convert
from ember_tf.errors import EmulationError

INT64_MIN, INT64_SPAN = -(1 << 63), 1 << 64


class Queues:
    """Control and data FIFOs filled lazily from the access unit's entry stream."""

    def __init__(self, entries: Iterator[Token | Operand] | None):
        self.entries = entries
        self.tokens: collections.deque = collections.deque()
        self.operands: collections.deque = collections.deque()
        self.index = 0               # entries produced so far
        self.current_token = -1      # entry index of the callback being handled

    def _pull(self, want_token: bool) -> bool:
        target = self.tokens if want_token else self.operands
        while not target:
            entry = next(self.entries, None) if self.entries is not None else None
            if entry is None:
                return False
            (self.tokens if isinstance(entry, Token) else self.operands).append((self.index, entry))
            self.index += 1
        return True

    def undrained(self) -> int:
        """Entries never popped (the generator is run to its end to count them)."""
        rest = 0 if self.entries is None else sum(1 for _ in self.entries)
        return len(self.tokens) + len(self.operands) + rest

    def pop_token(self) -> int:
        if not self._pull(True):
            return 0
        index, token = self.tokens.popleft()
        self.current_token = index
        return token.callback

    def pop_operand(self, core: "Core", kind: str) -> Operand:
        if not self._pull(False):
            core.fault(f"pops an operand ({kind}) but the data queue is empty and the access unit is done")
        _, operand = self.operands.popleft()
        if operand.kind != kind:
            core.fault(f"expects a {kind} operand but the queue holds a {operand.kind}")
        return operand


@dataclasses.dataclass
class Core:
    program: KernelProgram
    machine: MachineConfig
    memory: Sequence[np.ndarray]        # flat views, one per slot
    params: Sequence[int]
    queues: Queues
    addresses: AddressMap
    slot_labels: Sequence[str]  # the tensors as the user knows them ("input 'table'"), for faults
    core_id: int = 0
    pc: int = 0
    halted: bool = False

    def __post_init__(self):
        self.x = [0] * 32
        self.f = [np.float32(0)] * 32
        self.v = [np.zeros(0, np.float32)] * 32
        self.m = [0] * 8
        self.c = [0] * 8
        self.b = [np.zeros(0, np.float32)] * 4
        self.cycles_by_token: dict[int, float] = collections.defaultdict(float)
        self.counts: collections.Counter = collections.Counter()
        self.accesses: list[tuple[int, np.ndarray, bool]] = []  # (token entry, lines, store)

    # -- helpers used by the ops ------------------------------------------------
    def fault(self, problem: str):
        raise EmulationError(f"kernel '{self.program.name}' core {self.core_id} pc {self.pc}: {problem}")

    def set_x(self, rd: int, value: int) -> None:
        if rd:
            self.x[rd] = (int(value) - INT64_MIN) % INT64_SPAN + INT64_MIN

    def vl(self, dtype: np.dtype) -> int:
        return self.machine.vector_bytes // np.dtype(dtype).itemsize

    def lanes(self, mask_register: int, dtype: np.dtype) -> np.ndarray:
        bits = self.m[mask_register]
        return np.array([i for i in range(self.vl(dtype)) if bits >> i & 1], dtype=np.int64)

    def vector(self, r: int, dtype: np.dtype, count: int | None = None) -> np.ndarray:
        count = self.vl(dtype) if count is None else count
        values = np.zeros(count, dtype=dtype)
        n = min(count, len(self.v[r]))
        held = self.v[r][:n]
        values[:n] = held if held.dtype == dtype else convert(held, dtype)
        return values

    def _check(self, slot: int, elements: np.ndarray) -> None:
        size = self.memory[slot].size
        if len(elements) and (elements.min() < 0 or elements.max() >= size):
            bad = int(elements.max() if elements.max() >= size else elements.min())
            self.fault(bounds_problem(self.program, self.slot_labels, slot, bad, size))

    def load_many(self, slot: int, elements: np.ndarray) -> np.ndarray:
        elements = np.asarray(elements, dtype=np.int64)
        self._check(slot, elements)
        self.accesses.append((self.queues.current_token, self.addresses.lines(slot, elements), False))
        return self.memory[slot][elements]

    def load(self, slot: int, element: int):
        return self.load_many(slot, np.asarray([element]))[0]

    def store(self, slot: int, elements: np.ndarray, values: np.ndarray) -> None:
        elements = np.asarray(elements, dtype=np.int64)
        self._check(slot, elements)
        self.accesses.append((self.queues.current_token, self.addresses.lines(slot, elements), True))
        memory = self.memory[slot]
        memory[elements] = values if values.dtype == memory.dtype else convert(values, memory.dtype)

    # -- the loop ---------------------------------------------------------------
    def run(self, max_instructions: int) -> None:
        program, costs = self.program.execute, self.machine.costs
        executed = 0
        while not self.halted:
            if not 0 <= self.pc < len(program):
                self.fault("ran off the end of the program")
            ins = program[self.pc]
            group = ins.spec.group
            next_pc = HANDLERS[ins.mnemonic](self, *ins.args)
            token = self.queues.current_token
            self.cycles_by_token[token] += getattr(costs, group)
            if ins.mnemonic == "cb.pop":
                self.cycles_by_token[self.queues.current_token] += self.machine.callback_dispatch_cycles
            self.counts[group] += 1
            self.pc = self.pc + 1 if next_pc is None else next_pc
            executed += 1
            if executed > max_instructions:
                self.fault(runaway_core(max_instructions))


def runaway_core(max_instructions: int) -> str:
    return f"executed {max_instructions} instructions without halting (the limit for inputs of these sizes)"


def bounds_problem(program: KernelProgram, slot_labels: Sequence[str], slot: int, element: int, size: int) -> str:
    """A core access outside its tensor, naming the tensor as the user knows it."""
    return (f"element {element} outside slot '{program.slot_names[slot]}' ({slot_labels[slot]}) of "
            f"{size} elements")


def run_golden_core(program: KernelProgram, machine: MachineConfig, arrays: Sequence[np.ndarray],
                    params: Sequence[int], roots: Sequence[int], slot_labels: Sequence[str],
                    addresses: AddressMap, core_id: int, max_instructions: int = 1 << 31) -> CoreActivity:
    """Runs one core (with its access unit over `roots`) to completion.

    `arrays` are the tensors bound to the kernel's slots, in slot order; the
    access unit sees their shapes, the core sees them flat (element-indexed)."""
    memory = [a.reshape(-1) for a in arrays]
    access = (GoldenAccessUnit(program, arrays, params, roots, slot_labels, addresses, max_instructions)
              if machine.has_access_unit else None)
    entries: list = []

    def recorded() -> Iterator[Token | Operand]:
        for entry in access.entries_iter():
            entries.append(entry)
            yield entry

    core = Core(program, machine, memory, params, Queues(recorded() if access else None), addresses, slot_labels,
                core_id)
    core.run(max_instructions)
    left = core.queues.undrained()
    if left:
        core.fault(f"halted with {left} queue entries the access unit still had to deliver")
    return CoreActivity.from_golden(core, entries, access)
