"""A kernel decoded for execution: the access-unit configuration as a forest of
traversal units with their streams and marshal rules, and the core program.

Both emulation modes start from this; it is built from the binary (via the
verifier, which has already checked every reference), never from compiler
objects.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa import dtypes
from ember_tf.dae_isa.encoding import Instruction, Src
from ember_tf.dae_isa.opcodes import AluOp, Event, GroupMode
from ember_tf.dae_isa.verifier import verify_kernel


@dataclasses.dataclass
class Stream:
    id: int
    tu: int
    op: str                    # ite | mem | alu | fwd | buf
    slot: int | None = None    # mem
    index: Src | None = None   # mem
    col: Src | None = None     # mem
    alu: AluOp | None = None   # alu
    a: Src | None = None       # alu, fwd and buf (the source)
    b: Src | None = None       # alu


@dataclasses.dataclass
class Rule:
    """A marshal rule: push a stream's head (stream set) or a callback id."""

    stream: int | None = None
    callback: int | None = None


@dataclasses.dataclass
class TraversalUnit:
    id: int
    kind: str                  # dns | rng | idx
    parent: int | None
    width: int
    lb: Src
    ub: Src                    # the size for an idx TU
    children: list[int] = dataclasses.field(default_factory=list)
    streams: list[Stream] = dataclasses.field(default_factory=list)
    rules: dict[Event, list[Rule]] = dataclasses.field(default_factory=lambda: {e: [] for e in Event})
    layer: int = 0
    mode: GroupMode = GroupMode.SINGLE
    lanes: int = 1


@dataclasses.dataclass
class KernelProgram:
    kernel: fb.KernelT
    name: str
    tus: dict[int, TraversalUnit]
    roots: list[int]
    streams: dict[int, Stream]
    execute: list[Instruction]
    jump_tables: list[np.ndarray]
    int_constants: np.ndarray
    float_constants: np.ndarray
    slot_dtypes: list[np.dtype]
    slot_names: list[str]

    def stream_dtype(self, stream_id: int) -> np.dtype:
        """The element type a stream yields: its slot's for loads, int64 otherwise."""
        stream = self.streams[stream_id]
        if stream.op == "mem":
            return self.slot_dtypes[stream.slot]
        if stream.op == "buf" and stream.a.kind.name == "STREAM":
            return self.stream_dtype(stream.a.value)
        return np.dtype(np.int64)


def load_kernel(kernel: fb.KernelT, where: str = "kernel") -> KernelProgram:
    access, execute = verify_kernel(kernel, where, "<loaded model>")
    tus: dict[int, TraversalUnit] = {}
    streams: dict[int, Stream] = {}
    roots: list[int] = []
    for ins in access:
        name = ins.mnemonic
        if name in ("tu.dns", "tu.rng", "tu.idx"):
            tu = TraversalUnit(ins.arg("tu"), name[3:], ins.arg("parent"), ins.arg("width"), ins.args[3], ins.args[4])
            tus[tu.id] = tu
            (tus[tu.parent].children if tu.parent is not None else roots).append(tu.id)
        elif name == "tu.group":
            tu = tus[ins.arg("tu")]
            tu.layer, tu.mode, tu.lanes = ins.arg("layer"), GroupMode(ins.arg("mode")), ins.arg("lanes")
        elif name.startswith("str."):
            op = name[4:]
            stream = Stream(ins.arg("stream"), ins.arg("tu"), op)
            if op == "mem":
                stream.slot, stream.index, stream.col = ins.arg("slot"), ins.arg("index"), ins.arg("col")
            elif op == "alu":
                stream.alu, stream.a, stream.b = AluOp(ins.arg("op")), ins.arg("a"), ins.arg("b")
            elif op in ("fwd", "buf"):
                stream.a = ins.arg("src")
            streams[stream.id] = stream
            tus[stream.tu].streams.append(stream)
        elif name == "mar.opnd":
            tus[ins.arg("tu")].rules[Event(ins.arg("event"))].append(Rule(stream=ins.arg("stream")))
        elif name == "mar.cb":
            tus[ins.arg("tu")].rules[Event(ins.arg("event"))].append(Rule(callback=ins.arg("id")))
    slots = kernel.slots or []
    return KernelProgram(
        kernel=kernel,
        name=kernel.name or where,
        tus=tus,
        roots=roots,
        streams=streams,
        execute=execute,
        jump_tables=[np.asarray(t.targets if t.targets is not None else [], dtype=np.int64)
                     for t in kernel.jumpTables or []],
        # owned, writable copies whether the field is present (a read-only view of the file) or
        # absent: the fast mode's compiled loops have one specialization, not one per case
        int_constants=np.array(kernel.intConstants if kernel.intConstants is not None else [], dtype=np.int64),
        float_constants=np.array(kernel.floatConstants if kernel.floatConstants is not None else [],
                                 dtype=np.float64),
        slot_dtypes=[dtypes.numpy_dtype(s.dtype) for s in slots],
        slot_names=[s.name or f"@{i}" for i, s in enumerate(slots)],
    )
