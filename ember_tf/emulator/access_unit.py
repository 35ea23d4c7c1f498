"""The access unit, stepped element by element: traverses the TU forest depth
first, evaluates streams, and marshals callback ids and operands in order.

Event order (docs/ISA.md): for a fiber of TU T, T's beg rules; then for each
iteration, T's streams in definition order, T's ite rules, and the fibers of
T's children in definition order; then T's end rules. Roots run in order.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator, Sequence

import numpy as np

from ember_tf.dae_isa import dtypes
from ember_tf.dae_isa.encoding import Src
from ember_tf.dae_isa.opcodes import AluOp, Event, SrcKind
from ember_tf.emulator.activity import AddressMap
from ember_tf.emulator.program import KernelProgram, Stream, TraversalUnit
from ember_tf.emulator.rounding import convert
from ember_tf.errors import EmulationError, InputError

TOKEN_BYTES = 4
MASK_BYTES = 8


@dataclasses.dataclass(frozen=True)
class Token:
    """A callback id in the control queue."""

    callback: int

    @property
    def nbytes(self) -> int:
        return TOKEN_BYTES


@dataclasses.dataclass(frozen=True)
class Operand:
    """A data-queue entry: an int or float scalar, a vector with its mask, or a buffer."""

    kind: str                 # int | float | vector | buffer
    value: object
    mask: int = 0             # vector lanes present (bit i = lane i)

    @property
    def nbytes(self) -> int:
        if self.kind == "int":
            return 8
        if self.kind == "float":
            return self.value.dtype.itemsize
        if self.kind == "vector":
            return self.value.nbytes + MASK_BYTES
        return self.value.nbytes + 8  # buffer: data and its length


@dataclasses.dataclass
class MemoryLog:
    """The cache lines the access unit requested, each tagged with the index of
    the queue entry it precedes (the entry its data travels with)."""

    entry: list[int] = dataclasses.field(default_factory=list)
    stream: list[int] = dataclasses.field(default_factory=list)
    line: list[int] = dataclasses.field(default_factory=list)
    iterations: list[int] = dataclasses.field(default_factory=list)  # per entry: stream element evaluations


class Fault(EmulationError):
    pass


class GoldenAccessUnit:
    """Yields queue entries for the given roots, one at a time."""

    def __init__(self, program: KernelProgram, memory: Sequence[np.ndarray], params: Sequence[int],
                 roots: Sequence[int], slot_labels: Sequence[str], addresses: AddressMap,
                 max_steps: int = 1 << 31):
        self.program, self.memory, self.params = program, memory, params
        self.addresses = addresses
        self.steps_left = self.max_steps = max_steps  # loop iterations before the run counts as runaway
        self.roots, self.slot_labels = roots, slot_labels
        self.log = MemoryLog()
        self.entries = 0
        self.pending_iterations = 0

    # -- values ---------------------------------------------------------------
    def src(self, src: Src, env: dict) -> object:
        if src.kind is SrcKind.IMM:
            return src.value
        if src.kind is SrcKind.PARAM:
            return int(self.params[src.value])
        if src.kind is SrcKind.CONST:
            return int(self.program.int_constants[src.value])
        return env[src.value]

    def bound(self, src: Src, env: dict) -> int:
        value = self.src(src, env)
        return int(value)

    def evaluate(self, stream: Stream, env: dict, lanes: np.ndarray | None, mask: np.ndarray | None):
        """The stream's value at this iteration: a scalar, or an array over the TU's lanes."""
        if stream.op == "ite":
            return int(lanes[0]) if lanes is None or len(lanes) == 1 else lanes.copy()
        if stream.op == "fwd":
            return self.src(stream.a, env)
        if stream.op == "alu":
            return _alu(stream.alu, self.src(stream.a, env), self.src(stream.b, env), self.program.name)
        if stream.op == "mem":
            return self.load(stream, env, mask)
        raise AssertionError(stream.op)

    def load(self, stream: Stream, env: dict, mask: np.ndarray | None):
        data = self.memory[stream.slot]
        index = self.src(stream.index, env)
        col = self.src(stream.col, env) if stream.col is not None else None
        rows = data.shape[0] if data.ndim else 1
        row_len = data.size // rows if rows else 0
        scalar = mask is None or (np.ndim(index) == 0 and np.ndim(col) == 0 and len(mask) == 1)
        width = 1 if mask is None else len(mask)
        index_v = np.broadcast_to(np.asarray(index, dtype=np.int64), (width,))
        active = np.ones(width, bool) if mask is None else mask
        if col is None:
            elements = index_v
            limit = data.size
            bad = active & ((index_v < 0) | (index_v >= limit))
        else:
            col_v = np.broadcast_to(np.asarray(col, dtype=np.int64), (width,))
            elements = index_v * row_len + col_v
            bad = active & ((index_v < 0) | (index_v >= rows) | (col_v < 0) | (col_v >= row_len))
        if bad.any():
            lane = int(np.argmax(bad))
            self.out_of_range(stream, int(index_v[lane]), rows if col is not None else data.size)
        flat = data.reshape(-1)
        values = np.zeros(width, dtype=data.dtype)
        values[active] = flat[elements[active]]
        for line in self.addresses.lines(stream.slot, elements[active]):
            self.log.stream.append(stream.id)
            self.log.line.append(int(line))
            self.log.entry.append(self.entries)
        if scalar:
            value = values[0]
            return int(value) if np.issubdtype(data.dtype, np.integer) else value
        return values

    def out_of_range(self, stream: Stream, index: int, limit: int):
        raise out_of_range_fault(self.program, self.slot_labels, stream, index, limit)

    # -- traversal -----------------------------------------------------------
    def step(self) -> None:
        self.steps_left -= 1
        if self.steps_left < 0:
            raise Fault(runaway_access(self.program.name, self.max_steps))

    def entries_iter(self) -> Iterator[Token | Operand]:
        for root in self.roots:
            yield from self.fiber(self.program.tus[root], {})

    def push(self, entry):
        self.log.iterations.append(self.pending_iterations)
        self.pending_iterations = 0
        self.entries += 1
        return entry

    def marshal(self, tu: TraversalUnit, event: Event, env: dict) -> Iterator[Token | Operand]:
        for rule in tu.rules[event]:
            if rule.callback is not None:
                yield self.push(Token(rule.callback))
                continue
            stream = self.program.streams[rule.stream]
            value, dtype = env[rule.stream], self.program.stream_dtype(rule.stream)
            if stream.op == "buf":
                yield self.push(Operand("buffer", value))
            elif isinstance(value, np.ndarray):
                mask = env[_mask_key(stream.tu)]
                yield self.push(Operand("vector", convert(value, dtype), mask_bits(mask)))
            elif dtypes.BY_NAME[np.dtype(dtype).name].is_float:     # bfloat16 is not np.floating
                yield self.push(Operand("float", convert(value, dtype)[()]))
            else:
                yield self.push(Operand("int", int(value)))

    def fiber(self, tu: TraversalUnit, env: dict) -> Iterator[Token | Operand]:
        lb = self.bound(tu.lb, env)
        ub = lb + self.bound(tu.ub, env) if tu.kind == "idx" else self.bound(tu.ub, env)
        yield from self.marshal(tu, Event.BEG, env)
        buffers = {s.id: [] for s in tu.streams if s.op == "buf"}
        for start in range(lb, ub, tu.width):
            self.step()
            lanes = np.arange(start, start + tu.width, dtype=np.int64)
            mask = lanes < ub
            inner = dict(env)
            inner[_mask_key(tu.id)] = mask
            for stream in tu.streams:
                if stream.op == "buf":
                    value = inner[stream.a.value]
                    buffers[stream.id].append(np.atleast_1d(np.asarray(value))[mask] if tu.width > 1
                                              else np.atleast_1d(np.asarray(value)))
                    continue
                value = self.evaluate(stream, inner, lanes if tu.width > 1 else lanes[:1],
                                      mask if tu.width > 1 else None)
                if tu.width > 1 and np.ndim(value) == 0:  # a stream of a vector TU is a vector
                    value = np.full(tu.width, value, dtype=np.asarray(value).dtype)
                inner[stream.id] = value
                if stream.op != "ite":  # induction values come with the TU; loads and ALU ops take lane cycles
                    self.pending_iterations += int(mask.sum())
            yield from self.marshal(tu, Event.ITE, inner)
            for child in tu.children:
                yield from self.fiber(self.program.tus[child], inner)
        end_env = dict(env)
        for stream_id, parts in buffers.items():
            dtype = self.program.stream_dtype(stream_id)
            end_env[stream_id] = convert(np.concatenate(parts), dtype) if parts else np.zeros(0, dtype)
        yield from self.marshal(tu, Event.END, end_env)


def runaway_access(kernel: str, max_steps: int) -> str:
    return (f"kernel '{kernel}': the access unit ran {max_steps} loop iterations without finishing "
            f"(the limit for inputs of these sizes)")


def out_of_range_fault(program: KernelProgram, slot_labels: Sequence[str], stream: Stream, index: int,
                       limit: int) -> InputError:
    """The error for a load outside its slot, naming where the index came from
    (the slot a chained load read it from: usually a model input)."""
    source = f"kernel '{program.name}'"
    src = stream.index
    while src is not None and src.kind is SrcKind.STREAM:
        origin = program.streams[src.value]
        if origin.op == "mem":
            source = slot_labels[origin.slot]
            break
        src = origin.a if origin.op in ("fwd", "alu") else None
    return InputError(f"{source}: id {index} is out of range [0, {limit}) for {slot_labels[stream.slot]}")


def _mask_key(tu: int) -> int:
    """env key of a TU's current lane mask (stream ids are >= 0)."""
    return -1 - tu


def mask_bits(mask: np.ndarray) -> int:
    return int(sum(1 << i for i, on in enumerate(mask) if on))


def _alu(op: AluOp, a, b, kernel: str):
    a64, b64 = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if op in (AluOp.DIV, AluOp.REM) and np.any(b64 == 0):
        raise Fault(f"kernel '{kernel}': access-unit {op.name.lower()} by zero")
    with np.errstate(over="ignore"):
        result = {
            AluOp.ADD: lambda: a64 + b64,
            AluOp.SUB: lambda: a64 - b64,
            AluOp.MUL: lambda: a64 * b64,
            AluOp.DIV: lambda: _trunc_div(a64, b64),
            AluOp.REM: lambda: a64 - _trunc_div(a64, b64) * b64,
            AluOp.MIN: lambda: np.minimum(a64, b64),
            AluOp.MAX: lambda: np.maximum(a64, b64),
            AluOp.SHL: lambda: np.left_shift(a64, b64 & 63),
            AluOp.SHR: lambda: np.right_shift(a64, b64 & 63),
        }[op]()
    return int(result) if result.ndim == 0 else result


def _trunc_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer division rounding toward zero (as C and the core's div do)."""
    q = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (b < 0), -q, q)
