"""The IR's operations, declared once: one `OpSpec` per operation in `OPS`, which
the verifier, the builder and the printer read (as `dae_isa/opcodes.py` is the one
table of the ISA). A spec names the levels the operation may appear at, its
operand and result kinds (one entry may repeat: `many(INDEX)` for a tensor's
indices), its regions and their block arguments, the context its regions'
operations are in, its required attributes, the unit that runs it, and a hook
for the checks that need more than kinds (context, variables, ranks).

Adding an operation is one `_op(...)` entry here, plus its lowering: a handler in
`codegen/select.py` (core operations) or `codegen/access_lowering.py` (access
operations)."""

from __future__ import annotations

import dataclasses
import enum
from typing import Callable

from ember_tf.ir.core import (
    BufferType, FloatType, IndexType, MaskType, Operation, StreamType, TensorType, TuType, Type, VectorType,
)

# ---- kinds: what a value's type must be --------------------------------------------


@dataclasses.dataclass(frozen=True)
class Kind:
    text: str                                   # for messages: "an index"
    test: Callable[[Type], bool] = dataclasses.field(compare=False, repr=False)

    def __call__(self, t: Type) -> bool:
        return self.test(t)


def _is_index_source(t: Type) -> bool:
    """An index, or a stream of indices or index vectors (access-unit operands)."""
    if isinstance(t, StreamType):
        t = t.element.element if isinstance(t.element, VectorType) else t.element
    return isinstance(t, IndexType)


INDEX = Kind("an index", lambda t: isinstance(t, IndexType))
FLOAT = Kind("a float", lambda t: isinstance(t, FloatType))
SCALAR = Kind("an index or a float", lambda t: isinstance(t, (IndexType, FloatType)))
NUMBER = Kind("a float or a float vector", lambda t: isinstance(t, FloatType) or (
    isinstance(t, VectorType) and isinstance(t.element, FloatType)))
VECTOR = Kind("a vector", lambda t: isinstance(t, VectorType))
INDEX_VECTOR = Kind("a vector of indices", lambda t: isinstance(t, VectorType) and isinstance(t.element, IndexType))
MASK = Kind("a mask", lambda t: isinstance(t, MaskType))
BUFFER = Kind("a buffer", lambda t: isinstance(t, BufferType))
VALUE = Kind("a core value (index, float, vector, mask or buffer)",
             lambda t: isinstance(t, (IndexType, FloatType, VectorType, MaskType, BufferType)))
TENSOR = Kind("a tensor", lambda t: isinstance(t, TensorType))
STREAM = Kind("a stream", lambda t: isinstance(t, StreamType))
BUFFER_STREAM = Kind("a stream of buffers", lambda t: isinstance(t, StreamType) and isinstance(t.element, BufferType))
INDEX_SOURCE = Kind("an index or a stream of indices", _is_index_source)
TU = Kind("a traversal unit", lambda t: isinstance(t, TuType))


@dataclasses.dataclass(frozen=True)
class Many:
    """A kind repeated `least` .. `most` (None: any number of) times."""

    kind: Kind
    least: int = 0
    most: int | None = None


def many(kind: Kind) -> Many:
    return Many(kind)


def optional(kind: Kind) -> Many:
    return Many(kind, 0, 1)


Signature = tuple  # of Kind, with at most one Many


def arity(signature: Signature) -> tuple[int, int | None]:
    """The fewest and most values a signature takes (most None: unbounded)."""
    fixed = sum(1 for k in signature if isinstance(k, Kind))
    repeat = next((k for k in signature if isinstance(k, Many)), None)
    if repeat is None:
        return fixed, fixed
    return fixed + repeat.least, None if repeat.most is None else fixed + repeat.most


def kinds_of(signature: Signature, count: int) -> list[Kind]:
    """The kind of each of `count` values (a count within `arity`)."""
    at = next((i for i, k in enumerate(signature) if isinstance(k, Many)), None)
    if at is None:
        return list(signature)
    lead, trail = list(signature[:at]), list(signature[at + 1:])
    return lead + [signature[at].kind] * (count - len(lead) - len(trail)) + trail


# ---- specs -------------------------------------------------------------------------


class Unit(enum.Enum):
    CORE = "core"            # runs on the core (codegen/select.py lowers it)
    ACCESS = "access"        # configures the access unit (codegen/access_lowering.py)
    STRUCTURE = "structure"  # a container the passes or the lowering's driver take apart


SCF, SLC, DLC = "scf", "slc", "dlc"
LEVELS = (SCF, SLC, DLC)
EVERY_LEVEL = frozenset(LEVELS)

Hook = Callable[["object", Operation, str], None]   # (verifier, op, context); raise verifier.fail(op, ...)


@dataclasses.dataclass(frozen=True)
class OpSpec:
    name: str                                 # dialect.op
    summary: str
    levels: frozenset[str]                    # the levels it may appear at
    unit: Unit
    operands: Signature = ()
    results: Signature = ()
    regions: tuple[tuple[Kind, ...], ...] = ()   # per region: the kinds of its block arguments
    region_context: str | None = None         # the context of its regions' ops (None: the op's own)
    attrs: tuple[str, ...] = ()               # attributes it must have
    check: Hook | None = None                 # checks beyond kinds
    group: str = ""                           # "int binary" / "float binary": Builder.binary's ops
    loop: bool = False                        # printed `for %iv = lb to ub step s` (operands lb, ub, step)

    @property
    def dialect(self) -> str:
        return self.name.split(".", 1)[0]


_SPECS: list[OpSpec] = []


def _op(name: str, summary: str, levels, unit: Unit, operands: Signature = (), results: Signature = (),
        **more) -> None:
    _SPECS.append(OpSpec(name, summary, frozenset(levels), unit, tuple(operands), tuple(results), **more))


# ---- hooks: the checks kinds cannot express -------------------------------------


def _check_var_decl(v, op: Operation, context: str) -> None:
    # a core loop's body keeps its parent's context: look at the block itself
    if context != "root" or not any(o is op for o in v.func.body.ops):
        raise v.fail(op, "variables are declared at the function's top level")
    if op.attrs["name"] in v.vars:
        raise v.fail(op, f"variable {op.attrs['name']} declared twice")
    v.vars.add(op.attrs["name"])


def _check_var_use(v, op: Operation, context: str) -> None:
    if op.attrs["var"] not in v.vars:
        raise v.fail(op, f"unknown variable {op.attrs['var']}")


def _check_rank(v, op: Operation, tensor, index: list) -> None:
    if len(index) != tensor.type.rank:
        raise v.fail(op, "needs a tensor and one index per dimension")


def _check_load(v, op: Operation, context: str) -> None:
    tensor, *index = op.operands
    _check_rank(v, op, tensor, index)


def _check_store(v, op: Operation, context: str) -> None:
    value, tensor, *index = op.operands
    _check_rank(v, op, tensor, index)
    if tensor.type.dtype != getattr(value.type, "dtype", "index") and not isinstance(value.type, IndexType):
        raise v.fail(op, f"stores a {value.type} into a {tensor.type.dtype} tensor")
    if v.func.args.index(tensor) not in v.func.outputs:
        raise v.fail(op, f"stores into {tensor.hint}, which is not an output")


def _check_access_loop(v, op: Operation, context: str) -> None:
    if context not in ("root", "access"):
        raise v.fail(op, "an access loop inside a callback or a core loop")


def _check_callback(v, op: Operation, context: str) -> None:
    if context != "access":
        raise v.fail(op, "a callback outside an access loop")
    if op.attrs["event"] not in ("ite", "end"):
        raise v.fail(op, "event must be ite or end")


def _check_to_val(v, op: Operation, context: str) -> None:
    if context != "callback":
        raise v.fail(op, "slc.to_val outside a callback")


def _check_stream(v, op: Operation, context: str) -> None:
    if v.func.level == SLC and context != "access":
        raise v.fail(op, "a stream outside an access loop")


# ---- the table ------------------------------------------------------------------
_CORE, _ACCESS, _STRUCTURE = Unit.CORE, Unit.ACCESS, Unit.STRUCTURE
_STREAMS = (SLC, DLC)

# constants, dims and variables
_op("arith.constant", "an integer or float constant (attribute value)", LEVELS, _CORE, (), (SCALAR,), attrs=("value",))
_op("tensor.dim", "dimension `axis` of a tensor argument", LEVELS, _CORE, (TENSOR,), (INDEX,), attrs=("axis",))
_op("kernel.copy_index", "which of the kernel's `copies` copies runs (cpu split_cores)", LEVELS, _CORE,
    (), (INDEX,), attrs=("copies",))
_op("var.decl", "declares a core variable (a register for the whole run)", LEVELS, _CORE,
    attrs=("name", "type", "init"), check=_check_var_decl)
_op("var.get", "reads a core variable", LEVELS, _CORE, (), (VALUE,), attrs=("var",), check=_check_var_use)
_op("var.set", "writes a core variable", LEVELS, _CORE, (VALUE,), (), attrs=("var",), check=_check_var_use)

# arithmetic
for _name, _what in (("addi", "a + b"), ("subi", "a - b"), ("muli", "a * b"), ("divi", "a / b (truncating)"),
                     ("remi", "a % b"), ("mini", "min(a, b)"), ("maxi", "max(a, b)")):
    _op(f"arith.{_name}", f"index {_what}", LEVELS, _CORE, (INDEX, INDEX), (INDEX,), group="int binary")
for _name, _what in (("addf", "a + b"), ("subf", "a - b"), ("mulf", "a * b"), ("divf", "a / b"),
                     ("maxf", "max(a, b)"), ("minf", "min(a, b)"), ("div_no_nan", "a / b, or 0 where b == 0")):
    _op(f"arith.{_name}", f"float {_what}", LEVELS, _CORE, (NUMBER, NUMBER), (NUMBER,), group="float binary")
_op("arith.sqrtf", "the square root of a float", LEVELS, _CORE, (FLOAT,), (FLOAT,))
_op("arith.itofp", "converts an index to a float", LEVELS, _CORE, (INDEX,), (FLOAT,))

# memory
_op("memref.load", "reads tensor[indices]", LEVELS, _CORE, (TENSOR, many(INDEX)), (SCALAR,), check=_check_load)
_op("memref.store", "writes value into an output's [indices]", LEVELS, _CORE, (SCALAR, TENSOR, many(INDEX)), (),
    check=_check_store)
_op("vector.load", "reads a vector at tensor[indices] where the mask is set", LEVELS, _CORE,
    (TENSOR, many(INDEX), MASK), (VECTOR,))
_op("vector.store", "writes a vector at tensor[indices] where the mask is set", LEVELS, _CORE,
    (VECTOR, TENSOR, many(INDEX), MASK), ())
_op("vector.gather", "reads tensor[indices..., vector index] where the mask is set", LEVELS, _CORE,
    (TENSOR, many(INDEX), INDEX_VECTOR, MASK), (VECTOR,))
_op("vector.scatter", "writes tensor[indices..., vector index] where the mask is set", LEVELS, _CORE,
    (VECTOR, TENSOR, many(INDEX), INDEX_VECTOR, MASK), ())
_op("buffer.load", "reads a vector from a buffer at an offset where the mask is set", LEVELS, _CORE,
    (BUFFER, INDEX, MASK), (VECTOR,))

# vectors
_op("vector.broadcast", "a scalar in every lane", LEVELS, _CORE, (SCALAR,), (VECTOR,))
_op("vector.iota", "start + lane number in every lane", LEVELS, _CORE, (INDEX,), (INDEX_VECTOR,))
_op("vector.mask", "yields a mask of the lanes start + i < ub", LEVELS, _CORE, (INDEX, INDEX), (MASK,))
_op("vector.reduce_add", "the sum of the lanes the mask sets", LEVELS, _CORE, (VECTOR, MASK), (FLOAT,))

# core loops
_op("scf.for", "for iv = lb; iv < ub; iv += step on the core", LEVELS, _CORE, (INDEX, INDEX, INDEX), (),
    regions=((INDEX,),), loop=True)

# SLC: access loops, streams, callbacks
_op("slc.for", "an access-unit loop; its induction value is a stream", (SLC,), _STRUCTURE,
    (INDEX_SOURCE, INDEX_SOURCE, INDEX), (), regions=((STREAM,),), region_context="access",
    check=_check_access_loop, loop=True)
_op("slc.mem_stream", "tensor[indices] per iteration, a stream", _STREAMS, _ACCESS,
    (TENSOR, many(INDEX_SOURCE)), (STREAM,), check=_check_stream)
_op("slc.alu_stream", "integer arithmetic (attribute op) per iteration, a stream", _STREAMS, _ACCESS,
    (INDEX_SOURCE, INDEX_SOURCE), (STREAM,), attrs=("op",), check=_check_stream)
_op("slc.buf_stream", "yields buffers: a stream's values over one fiber", _STREAMS, _ACCESS,
    (STREAM,), (BUFFER_STREAM,), check=_check_stream)
_op("slc.callback", "core code run on an event (ite or end) of its access loop", (SLC,), _STRUCTURE,
    regions=((),), region_context="callback", attrs=("event",), check=_check_callback)
_op("slc.to_val", "pops a stream's head in a callback (a vector with its mask)", (SLC,), _STRUCTURE,
    (STREAM,), (VALUE, optional(MASK)), check=_check_to_val)

# DLC: the access configuration and the compute loop
_op("dlc.access", "the access-unit configuration", (DLC,), _STRUCTURE, regions=((),), region_context="config")
_op("dlc.compute", "the core's loop over callback cases", (DLC,), _STRUCTURE, regions=((),),
    region_context="compute")
_op("dlc.case", "the core code of callback `id`", (DLC,), _STRUCTURE, regions=((),), region_context="callback",
    attrs=("id", "tu", "event"))
_op("dlc.new_tu", "a traversal unit over [lb, ub) and its induction stream", (DLC,), _ACCESS,
    (INDEX_SOURCE, INDEX_SOURCE), (TU, STREAM), attrs=("parent", "width"))
_op("dlc.register_operand", "on an event of a TU, push a stream's head to the core", (DLC,), _ACCESS,
    (TU, STREAM), (), attrs=("event",))
_op("dlc.register_callback", "on an event of a TU, push callback `id` to the core", (DLC,), _ACCESS,
    (TU,), (), attrs=("event", "id"))
_op("dlc.pop_operand", "pops an operand the access unit pushed (a vector with its mask)", (DLC,), _CORE,
    (), (VALUE, optional(MASK)))

SPECS: tuple[OpSpec, ...] = tuple(_SPECS)
OPS: dict[str, OpSpec] = {s.name: s for s in SPECS}
assert len(OPS) == len(SPECS), "an operation declared twice"


def names(group: str) -> tuple[str, ...]:
    """The operations of a group, without their dialect (Builder.binary's names)."""
    return tuple(s.name.split(".", 1)[1] for s in SPECS if s.group == group)
