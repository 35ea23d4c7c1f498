"""The data structures every IR level shares: types, SSA values, operations
with regions, blocks and functions (an MLIR-shaped generic form, so passes walk
and rewrite one kind of node)."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Iterator

from ember_tf.dae_isa.dtypes import BY_NAME, BY_SUFFIX

# ---- types ------------------------------------------------------------------

# The IR's element types, by their short names in the one dtype table (dae_isa/dtypes.py).
FLOAT_DTYPES = ("f32", "f16", "bf16", "f64")
INT_DTYPES = ("i32", "i64")
ITEMSIZE = {name: BY_SUFFIX[name].itemsize for name in FLOAT_DTYPES + INT_DTYPES}


def dtype_name(dtype: str) -> str:
    """An IR element type's long name, as TensorFlow and numpy spell it (f32 -> float32)."""
    return BY_SUFFIX[dtype].name


def ir_dtype(name: str) -> str:
    """The IR element type of a long name (float32 -> f32)."""
    return BY_NAME[name].suffix


@dataclasses.dataclass(frozen=True)
class Type:
    def __str__(self) -> str:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class IndexType(Type):
    """A 64-bit integer (ids, positions, counters)."""

    def __str__(self) -> str:
        return "index"


@dataclasses.dataclass(frozen=True)
class FloatType(Type):
    dtype: str

    def __str__(self) -> str:
        return self.dtype


@dataclasses.dataclass(frozen=True)
class VectorType(Type):
    element: Type
    width: int

    def __str__(self) -> str:
        return f"vector<{self.width}x{self.element}>"


@dataclasses.dataclass(frozen=True)
class MaskType(Type):
    width: int

    def __str__(self) -> str:
        return f"vector<{self.width}xi1>"


@dataclasses.dataclass(frozen=True)
class BufferType(Type):
    """A whole fiber of a stream, collected by the access unit (bufferization)."""

    element: Type

    def __str__(self) -> str:
        return f"buffer<?x{self.element}>"


@dataclasses.dataclass(frozen=True)
class StreamType(Type):
    """Values the access unit produces, one per iteration of its loop."""

    element: Type

    def __str__(self) -> str:
        return f"!slc.stream<{self.element}>"


@dataclasses.dataclass(frozen=True)
class TuType(Type):
    """A traversal unit of the access configuration (`!dlc.tu`)."""

    def __str__(self) -> str:
        return "!dlc.tu"


@dataclasses.dataclass(frozen=True)
class SizeOf:
    """A run-time size, known when the kernel starts: dimension `axis` of argument
    `arg`, or (with `element` set) the value of that integer argument's flat element
    `element` (negative from the end), plus `add`."""

    arg: int
    axis: int | None = None
    element: int | None = None
    add: int = 0

    def moved(self, by: int) -> "SizeOf":
        return dataclasses.replace(self, arg=self.arg + by)


@dataclasses.dataclass(frozen=True)
class TensorType(Type):
    """A kernel argument. `shape` entries are ints (static) or None (known at run
    time). A written tensor's run-time dims are given by `dim_of` entries so the
    runtime can allocate it."""

    dtype: str
    shape: tuple[int | None, ...]
    dim_of: tuple[SizeOf | None, ...] = ()

    @property
    def rank(self) -> int:
        return len(self.shape)

    def __str__(self) -> str:
        dims = "x".join("?" if d is None else str(d) for d in self.shape)
        return f"memref<{dims}{'x' if dims else ''}{self.dtype}>"


INDEX = IndexType()


def element_type(dtype: str) -> Type:
    return FloatType(dtype) if dtype in FLOAT_DTYPES else INDEX


def is_float(t: Type) -> bool:
    return isinstance(t, FloatType) or (isinstance(t, VectorType) and isinstance(t.element, FloatType))


# ---- values, operations, blocks -------------------------------------------

_ids = itertools.count()


class Value:
    """An SSA value: an operation result, a block argument or a function argument."""

    __slots__ = ("type", "hint", "owner", "uid")

    def __init__(self, type: Type, hint: str = "", owner: "Operation | None" = None):
        self.type = type
        self.hint = hint
        self.owner = owner
        self.uid = next(_ids)

    def __repr__(self) -> str:
        return f"Value({self.hint or self.uid}: {self.type})"


@dataclasses.dataclass(eq=False)
class Block:
    ops: list["Operation"] = dataclasses.field(default_factory=list)
    args: list[Value] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(eq=False)
class Operation:
    """`name` is `dialect.op`; `attrs` holds compile-time constants (values,
    axes, events, widths); `regions` are nested blocks (a loop body, a callback)."""

    name: str
    operands: list[Value]
    results: list[Value] = dataclasses.field(default_factory=list)
    attrs: dict = dataclasses.field(default_factory=dict)
    regions: list[Block] = dataclasses.field(default_factory=list)
    parent: "Block | None" = None

    def __post_init__(self) -> None:
        for r in self.results:
            r.owner = self

    @property
    def result(self) -> Value:
        (r,) = self.results
        return r

    @property
    def body(self) -> Block:
        return self.regions[0]


@dataclasses.dataclass(eq=False)
class Func:
    """A kernel: tensor arguments (inputs first, then outputs) and a body."""

    name: str
    args: list[Value]
    arg_names: list[str]
    outputs: list[int]                 # indices into args of the tensors the kernel writes
    body: Block = dataclasses.field(default_factory=Block)
    level: str = "scf"                 # scf -> slc -> dlc, set by the passes

    def arg(self, name: str) -> Value:
        return self.args[self.arg_names.index(name)]

    def arg_index(self, value: Value) -> int:
        return next(i for i, a in enumerate(self.args) if a is value)


# ---- traversal and rewriting -----------------------------------------------

def walk(block: Block) -> Iterator[Operation]:
    """Every operation under `block`, pre-order."""
    for op in list(block.ops):
        yield op
        for region in op.regions:
            yield from walk(region)


def walk_op(op: Operation) -> Iterator[Operation]:
    """`op` and every operation nested in its regions, pre-order."""
    yield op
    for region in op.regions:
        yield from walk(region)


def constant_value(value: Value) -> int | float | None:
    """The value of an `arith.constant`, or None for anything else."""
    op = value.owner
    if op is not None and op.name == "arith.constant":
        return op.attrs["value"]
    return None


def uses(block: Block, value: Value) -> list[Operation]:
    return [op for op in walk(block) if any(o is value for o in op.operands)]


def replace_uses(block: Block, old: Value, new: Value) -> None:
    for op in walk(block):
        op.operands = [new if o is old else o for o in op.operands]


def defined_in(block: Block) -> set[int]:
    """uids of the values defined anywhere under `block` (results and block args)."""
    found = {a.uid for a in block.args}
    for op in walk(block):
        found.update(r.uid for r in op.results)
        for region in op.regions:
            found.update(a.uid for a in region.args)
    return found


def clone_block(block: Block, mapping: dict[int, Value]) -> Block:
    """A deep copy of `block`; `mapping` (uid -> value) renames operands and is
    extended with the copies of every value defined inside."""
    new = Block(args=[_clone_value(a, mapping) for a in block.args])
    for op in block.ops:
        new.ops.append(clone_op(op, mapping))
    for op in new.ops:
        op.parent = new
    return new


def clone_op(op: Operation, mapping: dict[int, Value]) -> Operation:
    operands = [mapping.get(o.uid, o) for o in op.operands]
    results = [_clone_value(r, mapping) for r in op.results]
    regions = [clone_block(r, mapping) for r in op.regions]
    return Operation(op.name, operands, results, dict(op.attrs), regions)


def copy_func(func: Func) -> Func:
    """A deep copy of `func`: its arguments, body and outputs are new objects."""
    mapping: dict[int, Value] = {}
    args = []
    for a in func.args:
        copy = type(a)(a.type, a.hint)
        mapping[a.uid] = copy
        args.append(copy)
    body = clone_block(func.body, mapping)
    return Func(func.name, args, list(func.arg_names), list(func.outputs), body, func.level)


def _clone_value(value: Value, mapping: dict[int, Value]) -> Value:
    copy = Value(value.type, value.hint)
    mapping[value.uid] = copy
    return copy
