"""An HLO module in memory: computations of instructions, as XLA prints them.

Names carry no `%` sigil. Attributes are kept as the text HLO writes after `key=`,
canonicalized (whitespace and `%` removed: `dimensions` -> "{1}", `to_apply` ->
"Sum-reduction.1", `slice` -> "{[0:4],[0:8]}"), minus the ones that change no value
(metadata, sharding, frontend_attributes, backend_config, parameter_replication,
statistics, operand_precision). Accessors parse them on demand. Both the text parser
and the proto reader produce this form, so the two import to the same thing."""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from ember_tf.hlo.errors import HloParseError

# HLO element type -> numpy dtype name (bf16 comes from ml_dtypes, which TensorFlow and JAX ship)
ELEMENT_TYPES = {
    "pred": "bool", "s8": "int8", "s16": "int16", "s32": "int32", "s64": "int64",
    "u8": "uint8", "u16": "uint16", "u32": "uint32", "u64": "uint64",
    "f16": "float16", "bf16": "bfloat16", "f32": "float32", "f64": "float64",
}
IGNORED_ATTRIBUTES = frozenset({"metadata", "sharding", "frontend_attributes", "backend_config",
                                "parameter_replication", "statistics", "operand_precision", "origin",
                                "schedule", "control-predecessors"})
CALLED = ("to_apply", "calls", "condition", "body", "true_computation", "false_computation",
          "select", "scatter")   # the last two: select-and-scatter


def numpy_dtype(element_type: str) -> np.dtype:
    if element_type not in ELEMENT_TYPES:
        raise ValueError(f"element type {element_type} has no numpy counterpart")
    name = ELEMENT_TYPES[element_type]
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def element_type(dtype: np.dtype) -> str:
    name = np.dtype(dtype).name
    for key, value in ELEMENT_TYPES.items():
        if value == name:
            return key
    raise ValueError(f"numpy dtype {name} has no HLO element type")


@dataclasses.dataclass(frozen=True)
class Shape:
    """`f32[2,3]` (dtype "f32", dims (2, 3)), `f32[]` (a scalar), or a tuple
    (dtype "tuple", tuple_shapes set). Layouts are not kept (values are row-major)."""

    dtype: str
    dims: tuple[int, ...] = ()
    tuple_shapes: tuple["Shape", ...] = ()

    @property
    def is_tuple(self) -> bool:
        return self.dtype == "tuple"

    @property
    def numpy_dtype(self) -> np.dtype:
        return numpy_dtype(self.dtype)

    def __str__(self) -> str:
        if self.is_tuple:
            return "(" + ", ".join(str(s) for s in self.tuple_shapes) + ")"
        return f"{self.dtype}[{','.join(str(d) for d in self.dims)}]"


_NUMBER = r"-?[0-9]{1,19}"          # int64 range at most: 20+ digits is malformed, not a number
_INT = re.compile(_NUMBER)
_INT_LIST = re.compile(rf"(?:{_NUMBER}(?:,{_NUMBER})*)?")
_SLICE = re.compile(rf"\[({_NUMBER}):({_NUMBER})(?::({_NUMBER}))?\]")
_SLICES = re.compile(rf"(?:{_SLICE.pattern}(?:,{_SLICE.pattern})*)?")
_PADDING = re.compile(rf"{_NUMBER}_{_NUMBER}(?:_{_NUMBER})?(?:x{_NUMBER}_{_NUMBER}(?:_{_NUMBER})?)*")


@dataclasses.dataclass
class Instruction:
    name: str
    opcode: str                       # as HLO text writes it: "gather", "get-tuple-element", ...
    shape: Shape
    operands: list[str]               # names of instructions of the same computation
    attrs: dict[str, str] = dataclasses.field(default_factory=dict)
    literal: np.ndarray | None = None  # constant(): its value, shaped and typed as `shape`
    parameter_number: int | None = None  # parameter(N)

    # -- attribute accessors -------------------------------------------------------
    # Strict: a missing or malformed attribute is an HloParseError naming the instruction
    # (the verifier checks every attribute an opcode needs before anything reads it).

    def has(self, key: str) -> bool:
        return key in self.attrs

    def _attribute(self, key: str) -> str:
        if key not in self.attrs:
            raise HloParseError(f"{self.name}: {self.opcode} needs the attribute {key}")
        return self.attrs[key]

    def _malformed(self, key: str, what: str) -> HloParseError:
        value = self.attrs[key]
        shown = value if len(value) <= 60 else value[:57] + "..."
        return HloParseError(f"{self.name}: attribute {key}={shown} is not {what}")

    def ints(self, key: str) -> tuple[int, ...]:
        """`{1,2}` -> (1, 2); `{}` -> ()."""
        text = self._attribute(key)
        body = text[1:-1] if text.startswith("{") and text.endswith("}") else text
        if not _INT_LIST.fullmatch(body):
            raise self._malformed(key, "a list of integers like {0,1}")
        return tuple(int(t) for t in body.split(",") if t)

    def int(self, key: str) -> int:
        text = self._attribute(key)
        if not _INT.fullmatch(text):
            raise self._malformed(key, "an integer")
        return int(text)

    def bool(self, key: str) -> bool:
        return self.attrs.get(key, "false") == "true"

    def computation(self, key: str) -> str:
        return self._attribute(key)

    def computations(self, key: str) -> list[str]:
        """`branch_computations={a,b}` -> ["a", "b"]."""
        return [t for t in self._attribute(key).strip("{}").split(",") if t]

    def slices(self) -> list[tuple[int, int, int]]:
        """`slice={[0:4],[2:8:2]}` -> [(0, 4, 1), (2, 8, 2)]."""
        text = self._attribute("slice")
        body = text[1:-1] if text.startswith("{") and text.endswith("}") else None
        if body is None or not _SLICES.fullmatch(body):
            raise self._malformed("slice", "a list of [start:limit] or [start:limit:stride] ranges")
        return [(int(start), int(limit), int(stride or 1)) for start, limit, stride in _SLICE.findall(body)]

    def padding(self) -> list[tuple[int, int, int]]:
        """`padding=1_2_0x0_0` -> [(low, high, interior), ...] per dimension."""
        text = self._attribute("padding")
        if not text:
            return []
        if not _PADDING.fullmatch(text):
            raise self._malformed("padding", "low_high[_interior] per dimension, joined by x")
        out = []
        for dim in text.split("x"):
            parts = [int(p) for p in dim.split("_")]
            out.append((parts[0], parts[1], parts[2] if len(parts) > 2 else 0))
        return out

    def called_computations(self) -> list[str]:
        names = [name for k in CALLED if k in self.attrs for name in self.attrs[k].strip("{}").split(",") if name]
        for key in ("branch_computations", "called_computations"):
            if key in self.attrs:
                names += self.computations(key)
        return names


@dataclasses.dataclass
class Computation:
    name: str
    instructions: list[Instruction]   # in order; every operand comes before its user
    root: str

    def __post_init__(self):
        self._by_name = {i.name: i for i in self.instructions}

    def instruction(self, name: str) -> Instruction:
        return self._by_name[name]

    def parameters(self) -> list[Instruction]:
        return sorted((i for i in self.instructions if i.opcode == "parameter"),
                      key=lambda i: i.parameter_number)

    @property
    def root_instruction(self) -> Instruction:
        return self._by_name[self.root]

    def reindex(self) -> None:
        """Call after editing `instructions`."""
        self._by_name = {i.name: i for i in self.instructions}


@dataclasses.dataclass
class Module:
    name: str
    computations: dict[str, Computation]   # in print order: callees before callers
    entry: str

    @property
    def entry_computation(self) -> Computation:
        return self.computations[self.entry]
