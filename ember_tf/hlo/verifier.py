"""The HLO verifier, in the spirit of XLA's HloVerifier: run right after parsing (text and
proto both), so whatever passes is safe to flatten, convert and evaluate. It raises
HloParseError (with line:column when the text form knows where the instruction is).

What it checks:

* structure: the entry exists; every computation has its root; operands are defined
  before their users; parameters are numbered 0..n-1, once each;
* calls: every called computation exists, the call graph has no cycle (no recursion)
  and nests at most MAX_CALL_DEPTH deep; a callee's parameters and root match what its
  caller passes and expects (call, fusion, while, conditional, map, reduce, reduce-window,
  scatter, sort);
* per opcode, for every opcode the evaluator implements: the attributes it needs are
  present and well formed (dimension lists, gather/scatter/dot dimension numbers,
  slice/padding/window specs, index, direction, ...); the operand count (exact or a
  range); operand and result shapes consistent as XLA's shape inference has them
  (elementwise ops on equal shapes and allowed element types, reshape element counts,
  broadcast/transpose/reverse/concatenate/reduce dimensions, slice and dynamic-slice
  bounds, gather and scatter windows, dot dimensions, ...). Opcodes the evaluator lacks
  get only the generic checks; `evaluator.check_supported` names them later;
* sizes, before anything is allocated:

  - every array has rank <= MAX_RANK (32) and at most MAX_ELEMENTS (2**31) elements,
    and no dimension above that either, nor (in an empty array) a product of its nonzero
    dimensions (numpy cannot make such an array); tuple shapes nest at most
    MAX_TUPLE_DEPTH (32). `shape_error` is this check alone, which the proto reader runs
    on a constant's shape before it builds the array;
  - the evaluator's estimated working set is at most MAX_WORKING_SET_BYTES (4 GiB): the
    sum of every value a computation keeps (each instruction's result, every computation
    counted once; entry parameters are the caller's and not counted) plus the largest
    temporary one instruction needs (gather/scatter index arrays, reduce-window's
    windows, pad's dilated operand, a scalar computation run over many lanes at once,
    dot's widened operands; index arrays counted at 8 bytes an element; a reshape or bitcast
    to its operand's own shape is a view and counts nothing). It is an
    estimate on the safe side: no module that passes allocates more than a few GiB.

Integer attributes are parsed strictly (at most 19 digits, no `true` where a number
belongs) and every index, size and bound is range-checked against the shapes, so no
evaluator or importer step meets a KeyError, an IndexError or a numpy shape error."""

from __future__ import annotations

import math
import re
from typing import Callable

from ember_tf.hlo.errors import HloParseError
from ember_tf.hlo.module import ELEMENT_TYPES, Computation, Instruction, Module, Shape

MAX_RANK = 32
MAX_ELEMENTS = 1 << 31
MAX_TUPLE_DEPTH = 32
MAX_CALL_DEPTH = 64
MAX_WORKING_SET_BYTES = 4 << 30

ErrorFactory = Callable[[str | None, str | None, str], HloParseError]

FLOATS = frozenset({"f16", "bf16", "f32", "f64"})
INTEGERS = frozenset({"s8", "s16", "s32", "s64", "u8", "u16", "u32", "u64"})
_INDEX_BYTES = 8

# -- operand counts --------------------------------------------------------------------

FLOAT_UNARY = frozenset({"exponential", "exponential-minus-one", "log", "log-plus-one", "sqrt", "rsqrt", "cbrt",
                         "tanh", "logistic", "sine", "cosine", "tan", "floor", "ceil", "round-nearest-even",
                         "round-nearest-afz", "erf", "is-finite"})
NUMBER_UNARY = frozenset({"abs", "negate", "sign"})
INTEGER_UNARY = frozenset({"popcnt", "count-leading-zeros"})
LOGIC_UNARY = frozenset({"not"})
ANY_BINARY = frozenset({"add", "multiply", "maximum", "minimum"})          # pred too (or / and)
NUMBER_BINARY = frozenset({"subtract", "divide", "remainder", "power"})    # not pred
FLOAT_BINARY = frozenset({"atan2"})
LOGIC_BINARY = frozenset({"and", "or", "xor"})                             # pred or integers
SHIFTS = frozenset({"shift-left", "shift-right-logical", "shift-right-arithmetic"})
UNARY = FLOAT_UNARY | NUMBER_UNARY | INTEGER_UNARY | LOGIC_UNARY
BINARY = ANY_BINARY | NUMBER_BINARY | FLOAT_BINARY | LOGIC_BINARY | SHIFTS

_EXACT = {
    **dict.fromkeys(("parameter", "constant", "iota"), 0),
    **dict.fromkeys(UNARY | {"convert", "bitcast-convert", "reduce-precision", "get-tuple-element", "opt-barrier",
                             "while", "broadcast", "reshape", "bitcast", "copy", "transpose", "reverse", "slice"}, 1),
    **dict.fromkeys(BINARY | {"compare", "dot", "gather", "pad"}, 2),
    **dict.fromkeys(("select", "clamp"), 3),
}
_AT_LEAST = {"tuple": 0, "call": 0, "fusion": 0, "conditional": 2, "concatenate": 1, "dynamic-slice": 1,
             "dynamic-update-slice": 2, "map": 1, "sort": 1, "reduce": 2, "reduce-window": 2, "scatter": 3}
_PARITY = {"reduce": (2, 0), "reduce-window": (2, 0), "scatter": (2, 1)}   # count % m == r


def operand_count_error(instruction: Instruction) -> str | None:
    """What is wrong with the instruction's operand count, for opcodes the verifier knows."""
    opcode, count = instruction.opcode, len(instruction.operands)
    if opcode in _EXACT:
        want = _EXACT[opcode]
        if count != want:
            return f"{opcode} takes {want} operand{'s' if want != 1 else ''}, not {count}"
    elif opcode in _AT_LEAST:
        least = _AT_LEAST[opcode]
        modulus, remainder = _PARITY.get(opcode, (1, 0))
        if count < least or count % modulus != remainder:
            kind = {(2, 0): "an even number of", (2, 1): "an odd number of"}.get((modulus, remainder), "")
            return f"{opcode} takes {kind + ' ' if kind else ''}at least {least} operands, not {count}"
    return None


class _Invalid(Exception):
    """One verification failure, turned into the caller's error with its location."""


def _fail(message: str):
    raise _Invalid(message)


# -- entry point -------------------------------------------------------------------------

def verify_module(module: Module, error: ErrorFactory | None = None) -> None:
    """Raise HloParseError for the first problem found. `error(computation, instruction,
    message)` makes the exception (the text parser adds line:column); by default the
    message names the module."""
    if error is None:
        def error(computation, instruction, message):
            return HloParseError(f"{module.name}: {message}")
    _Verifier(module, error).run()


class _Verifier:
    def __init__(self, module: Module, error: ErrorFactory):
        self.module, self.error = module, error

    def fail(self, computation: Computation | None, instruction: Instruction | None, message: str):
        where = ""
        if computation is not None:
            where = f"{computation.name}/{instruction.name}: " if instruction is not None else f"{computation.name}: "
        return self.error(computation.name if computation is not None else None,
                          instruction.name if instruction is not None else None, where + message)

    def run(self) -> None:
        module = self.module
        if not module.computations:
            raise self.fail(None, None, "the module has no computations")
        if module.entry not in module.computations:
            raise self.fail(None, None, f"the entry computation {module.entry!r} is not defined")
        for computation in module.computations.values():
            self.structure(computation)
        self.call_graph()
        for computation in module.computations.values():
            shapes = {i.name: i.shape for i in computation.instructions}
            for instruction in computation.instructions:
                try:
                    _check_instruction(instruction, [shapes[o] for o in instruction.operands], module)
                except _Invalid as e:
                    raise self.fail(computation, instruction, str(e)) from None
                except HloParseError as e:       # an accessor's message names the instruction already
                    text = str(e)
                    prefix = f"{instruction.name}: "
                    raise self.fail(computation, instruction, text[len(prefix):] if text.startswith(prefix)
                                    else text) from None
        self.working_set()

    # -- structure ---------------------------------------------------------------------

    def structure(self, computation: Computation) -> None:
        if not computation.instructions:
            raise self.fail(computation, None, "the computation is empty")
        names = {i.name for i in computation.instructions}
        if len(names) != len(computation.instructions):
            raise self.fail(computation, None, "two instructions have the same name")
        if computation.root not in names:
            raise self.fail(computation, None, f"the root {computation.root!r} is not one of its instructions")
        seen: set[str] = set()
        numbers: dict[int, Instruction] = {}
        parameters = [i for i in computation.instructions if i.opcode == "parameter"]
        for instruction in computation.instructions:
            problem = shape_error(instruction.shape)
            if problem:
                raise self.fail(computation, instruction, problem)
            for operand in instruction.operands:
                if operand not in seen:
                    where = "is defined after its user" if operand in names else "is not an instruction of the " \
                                                                                 "computation"
                    raise self.fail(computation, instruction, f"operand {operand!r} {where}")
            if instruction.opcode == "parameter":
                number = instruction.parameter_number
                if not isinstance(number, int) or not 0 <= number < len(parameters):
                    raise self.fail(computation, instruction,
                                    f"parameter number {number} is out of range: the computation has "
                                    f"{len(parameters)} parameter(s), numbered 0 to {len(parameters) - 1}")
                if number in numbers:
                    raise self.fail(computation, instruction,
                                    f"parameter number {number} is also {numbers[number].name}'s")
                numbers[number] = instruction
            seen.add(instruction.name)

    # -- calls -------------------------------------------------------------------------

    def call_graph(self) -> None:
        """Callees exist; no cycles; nesting depth bounded. Iterative, so a long chain of
        computations cannot exhaust Python's stack here."""
        module = self.module
        callees: dict[str, list[tuple[str, Instruction]]] = {}
        for computation in module.computations.values():
            edges = []
            for instruction in computation.instructions:
                for callee in instruction.called_computations():
                    if callee not in module.computations:
                        raise self.fail(computation, instruction,
                                        f"calls {callee!r}, which the module does not define")
                    edges.append((callee, instruction))
            callees[computation.name] = edges
        depth: dict[str, int] = {}          # finished: the longest chain of calls below
        on_stack: set[str] = set()
        for start in module.computations:
            if start in depth:
                continue
            stack = [(start, iter(callees[start]))]
            on_stack.add(start)
            while stack:
                name, edges = stack[-1]
                edge = next(edges, None)
                if edge is None:
                    stack.pop()
                    on_stack.discard(name)
                    depth[name] = 1 + max((depth[c] for c, _ in callees[name]), default=0)
                    if depth[name] > MAX_CALL_DEPTH:
                        computation = module.computations[name]
                        raise self.fail(computation, None, f"computations nest more than {MAX_CALL_DEPTH} calls "
                                                           f"deep below this one")
                    continue
                callee, instruction = edge
                if callee in on_stack:
                    computation = module.computations[name]
                    cycle = [n for n, _ in stack][[n for n, _ in stack].index(callee):] + [callee]
                    raise self.fail(computation, instruction,
                                    f"calls {callee!r}, which is recursion ({' -> '.join(cycle)}); "
                                    f"HLO computations cannot call themselves")
                if callee not in depth:
                    on_stack.add(callee)
                    stack.append((callee, iter(callees[callee])))

    # -- sizes -------------------------------------------------------------------------

    def working_set(self) -> None:
        module = self.module
        kept, largest = 0, 0
        for computation in module.computations.values():
            shapes = {i.name: i.shape for i in computation.instructions}
            for instruction in computation.instructions:
                if instruction.opcode == "parameter" and computation.name == module.entry:
                    continue
                value, temporary = _estimate(instruction, [shapes[o] for o in instruction.operands], module)
                kept += value
                largest = max(largest, temporary)       # temporaries live one instruction at a time
                if value + temporary > MAX_WORKING_SET_BYTES:
                    raise self.fail(computation, instruction,
                                    f"{instruction.opcode} of shape {_short(instruction.shape)} needs about "
                                    f"{_gib(value + temporary)} of memory in the evaluator; the limit is "
                                    f"{_gib(MAX_WORKING_SET_BYTES)}")
                if kept + largest > MAX_WORKING_SET_BYTES:
                    raise self.fail(computation, instruction,
                                    f"the module's values need about {_gib(kept + largest)} of memory in the "
                                    f"evaluator (this instruction passes the limit of "
                                    f"{_gib(MAX_WORKING_SET_BYTES)})")


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.3g} GiB"


def _short(shape: Shape) -> str:
    text = str(shape)
    return text if len(text) <= 80 else text[:77] + "..."


# -- shapes --------------------------------------------------------------------------------

def shape_error(shape: Shape, depth: int = 0) -> str | None:
    """What makes the shape one the evaluator cannot hold (None if nothing)."""
    if shape.is_tuple:
        if depth >= MAX_TUPLE_DEPTH:
            return f"tuple shapes nest more than {MAX_TUPLE_DEPTH} deep"
        for element in shape.tuple_shapes:
            problem = shape_error(element, depth + 1)
            if problem:
                return problem
        return None
    if shape.dtype not in ELEMENT_TYPES and shape.dtype != "token":
        return f"element type {shape.dtype} is not supported"
    if len(shape.dims) > MAX_RANK:
        return f"shape {_short(shape)} has rank {len(shape.dims)}; at most {MAX_RANK} is supported"
    for d in shape.dims:
        if not isinstance(d, int) or d < 0:
            return f"shape {_short(shape)} has a negative or non-integer dimension"
        if d > MAX_ELEMENTS:
            return f"shape {_short(shape)} has a dimension of {d}; at most {MAX_ELEMENTS} (2**31) is supported"
    count = math.prod(shape.dims)
    if count > MAX_ELEMENTS:
        return f"shape {_short(shape)} has {count} elements; at most {MAX_ELEMENTS} (2**31) per array is supported"
    extent = math.prod(d for d in shape.dims if d)
    if extent > MAX_ELEMENTS:
        return (f"shape {_short(shape)} is empty, but its nonzero dimensions multiply to {extent}; at most "
                f"{MAX_ELEMENTS} (2**31) is supported")
    return None


def _has_token(shape: Shape) -> bool:
    return any(_has_token(s) for s in shape.tuple_shapes) if shape.is_tuple else shape.dtype == "token"


def _elements(shape: Shape) -> int:
    if shape.is_tuple:
        return sum(_elements(s) for s in shape.tuple_shapes)
    return math.prod(shape.dims)


def _bytes(shape: Shape) -> int:
    if shape.is_tuple:
        return sum(_bytes(s) for s in shape.tuple_shapes)
    itemsize = 2 if shape.dtype == "bf16" else (1 if shape.dtype == "token" else
                                                 _ITEMSIZE.get(shape.dtype, 8))
    return math.prod(shape.dims) * itemsize


_ITEMSIZE = {"pred": 1, "s8": 1, "u8": 1, "s16": 2, "u16": 2, "f16": 2, "s32": 4, "u32": 4, "f32": 4,
             "s64": 8, "u64": 8, "f64": 8}


def _array(shape: Shape, what: str) -> Shape:
    if shape.is_tuple:
        _fail(f"{what} must be an array, not the tuple {_short(shape)}")
    return shape


def _scalar(shape: Shape, what: str, dtype: str | None = None) -> Shape:
    _array(shape, what)
    if shape.dims:
        _fail(f"{what} must be a scalar, not {_short(shape)}")
    if dtype is not None and shape.dtype != dtype:
        _fail(f"{what} must be {dtype}[], not {_short(shape)}")
    return shape


def _same(got: Shape, want: Shape, what: str) -> None:
    if got != want:
        _fail(f"{what} is {_short(got)}, expected {_short(want)}")


# -- attributes ------------------------------------------------------------------------------

def _dims(instruction: Instruction, key: str, rank: int, *, optional: bool = False, sort: bool = False,
          what: str | None = None) -> tuple[int, ...]:
    """An integer-list attribute naming distinct dimensions in [0, rank)."""
    if optional and not instruction.has(key):
        return ()
    values = instruction.ints(key)
    what = what or key
    for v in values:
        if not 0 <= v < rank:
            _fail(f"{what}={_braced(values)}: dimension {v} is out of range for rank {rank}")
    if len(set(values)) != len(values):
        _fail(f"{what}={_braced(values)} repeats a dimension")
    if sort and list(values) != sorted(values):
        _fail(f"{what}={_braced(values)} must be sorted")
    return values


def _braced(values) -> str:
    return "{" + ",".join(str(v) for v in values) + "}"


def _callee(instruction: Instruction, key: str, module: Module) -> Computation:
    if not instruction.has(key):
        _fail(f"{instruction.opcode} needs the attribute {key}")
    name = instruction.computation(key)
    if name not in module.computations:
        _fail(f"{key}={name}: the module has no computation {name!r}")
    return module.computations[name]


def _signature(callee: Computation) -> tuple[list[Shape], Shape]:
    return [p.shape for p in callee.parameters()], callee.root_instruction.shape


def _check_callee(callee: Computation, key: str, arguments: list[Shape], result: Shape | None) -> None:
    parameters, root = _signature(callee)
    if len(parameters) != len(arguments):
        _fail(f"{key}={callee.name} takes {len(parameters)} parameter(s), but is given {len(arguments)}")
    for k, (parameter, argument) in enumerate(zip(parameters, arguments)):
        if parameter != argument:
            _fail(f"{key}={callee.name}: parameter {k} is {_short(parameter)}, but is given {_short(argument)}")
    if result is not None and root != result:
        _fail(f"{key}={callee.name} returns {_short(root)}, expected {_short(result)}")


def _scalar_function(instruction: Instruction, key: str, module: Module, parameter_types: list[str],
                     result_types: list[str] | str) -> Computation:
    """A reducer / combiner / comparator / map function: scalar parameters of the given
    types; returns a scalar of `result_types` (a str) or a tuple of scalars."""
    callee = _callee(instruction, key, module)
    arguments = [Shape(t) for t in parameter_types]
    if isinstance(result_types, str):
        result = Shape(result_types)
    else:
        result = Shape("tuple", (), tuple(Shape(t) for t in result_types))
    _check_callee(callee, key, arguments, result)
    return callee


# -- per opcode --------------------------------------------------------------------------------

_CHECKS: dict[str, Callable] = {}


def _checks(*opcodes: str):
    def decorate(fn):
        for opcode in opcodes:
            _CHECKS[opcode] = fn
        return fn
    return decorate


def _check_instruction(instruction: Instruction, operands: list[Shape], module: Module) -> None:
    check = _CHECKS.get(instruction.opcode)
    if check is None:
        return                      # not an opcode ember-tf evaluates: check_supported names it
    problem = operand_count_error(instruction)
    if problem:
        _fail(problem)
    for k, shape in enumerate(operands):
        if _has_token(shape):
            _fail(f"operand {k} is a token ({_short(shape)}); tokens are not supported")
    if _has_token(instruction.shape):
        _fail(f"its shape {_short(instruction.shape)} holds a token; tokens are not supported")
    check(instruction, operands, module)


def _types(kind: frozenset, opcode: str, dtype: str, what: str) -> None:
    if dtype not in kind:
        _fail(f"{opcode} is not defined on {what} of type {dtype}")


def _elementwise_operands(instruction: Instruction, operands: list[Shape]) -> Shape:
    first = _array(operands[0], "operand 0")
    for k, shape in enumerate(operands[1:], 1):
        _array(shape, f"operand {k}")
        if shape != first:
            _fail(f"operands must have the same shape: operand 0 is {_short(first)}, operand {k} is {_short(shape)}")
    return first


@_checks(*UNARY)
def _unary(instruction, operands, module):
    x = _elementwise_operands(instruction, operands)
    opcode = instruction.opcode
    kind = {**dict.fromkeys(FLOAT_UNARY, FLOATS), **dict.fromkeys(NUMBER_UNARY, FLOATS | INTEGERS),
            **dict.fromkeys(INTEGER_UNARY, INTEGERS), "not": INTEGERS | {"pred"}}[opcode]
    _types(kind, opcode, x.dtype, "operands")
    result = Shape("pred", x.dims) if opcode == "is-finite" else x
    _same(instruction.shape, result, "the result shape")


@_checks(*BINARY)
def _binary(instruction, operands, module):
    x = _elementwise_operands(instruction, operands)
    opcode = instruction.opcode
    everything = FLOATS | INTEGERS | {"pred"}
    kind = {**dict.fromkeys(ANY_BINARY, everything), **dict.fromkeys(NUMBER_BINARY, FLOATS | INTEGERS),
            **dict.fromkeys(FLOAT_BINARY, FLOATS), **dict.fromkeys(LOGIC_BINARY, INTEGERS | {"pred"}),
            **dict.fromkeys(SHIFTS, INTEGERS)}[opcode]
    _types(kind, opcode, x.dtype, "operands")
    _same(instruction.shape, x, "the result shape")


_DIRECTIONS = frozenset({"EQ", "NE", "LT", "LE", "GT", "GE"})
_COMPARISON_TYPES = frozenset({"FLOAT", "TOTALORDER", "SIGNED", "UNSIGNED"})


@_checks("compare")
def _compare(instruction, operands, module):
    x = _elementwise_operands(instruction, operands)
    direction = instruction.attrs.get("direction")
    if direction not in _DIRECTIONS:
        _fail("compare needs direction=EQ, NE, LT, LE, GT or GE" if direction is None
              else f"direction={direction} is not EQ, NE, LT, LE, GT or GE")
    if instruction.has("type") and instruction.attrs["type"] not in _COMPARISON_TYPES:
        _fail(f"type={instruction.attrs['type']} is not FLOAT, TOTALORDER, SIGNED or UNSIGNED")
    _same(instruction.shape, Shape("pred", x.dims), "the result shape")


@_checks("select")
def _select(instruction, operands, module):
    predicate = _array(operands[0], "the predicate")
    on_true, on_false = _array(operands[1], "operand 1"), _array(operands[2], "operand 2")
    if predicate.dtype != "pred":
        _fail(f"the predicate must be pred, not {predicate.dtype}")
    if on_true != on_false:
        _fail(f"the two choices differ: {_short(on_true)} and {_short(on_false)}")
    if predicate.dims not in ((), on_true.dims):
        _fail(f"the predicate {_short(predicate)} must be a scalar or shaped like the choices {_short(on_true)}")
    _same(instruction.shape, on_true, "the result shape")


@_checks("clamp")
def _clamp(instruction, operands, module):
    low, x, high = (_array(s, w) for s, w in zip(operands, ("the lower bound", "operand 1", "the upper bound")))
    _types(FLOATS | INTEGERS | {"pred"}, "clamp", x.dtype, "operands")
    for bound in (low, high):
        if bound.dtype != x.dtype or bound.dims not in ((), x.dims):
            _fail(f"a bound {_short(bound)} must be a scalar or shaped like the operand {_short(x)}, of its type")
    _same(instruction.shape, x, "the result shape")


@_checks("convert")
def _convert(instruction, operands, module):
    x, result = _array(operands[0], "the operand"), _array(instruction.shape, "the result")
    if result.dims != x.dims:
        _fail(f"convert changes dimensions: {_short(x)} to {_short(result)}")


@_checks("bitcast-convert")
def _bitcast_convert(instruction, operands, module):
    x, result = _array(operands[0], "the operand"), _array(instruction.shape, "the result")
    a, b = _ITEMSIZE.get(x.dtype, 2), _ITEMSIZE.get(result.dtype, 2)
    if a == b:
        expected = x.dims
    elif a > b:
        expected = x.dims + (a // b,)
    else:
        if not x.dims or x.dims[-1] != b // a:
            _fail(f"bitcast-convert from {_short(x)} to {result.dtype} needs a last dimension of {b // a}")
        expected = x.dims[:-1]
    if result.dims != tuple(expected):
        _fail(f"bitcast-convert of {_short(x)} to {result.dtype} gives {_short(Shape(result.dtype, tuple(expected)))}, "
              f"not {_short(result)}")


@_checks("reduce-precision")
def _reduce_precision(instruction, operands, module):
    x = _array(operands[0], "the operand")
    _types(FLOATS, "reduce-precision", x.dtype, "operands")
    if instruction.int("exponent_bits") < 1:
        _fail("exponent_bits must be at least 1")
    if instruction.int("mantissa_bits") < 0:
        _fail("mantissa_bits must not be negative")
    _same(instruction.shape, x, "the result shape")


@_checks("parameter")
def _parameter(instruction, operands, module):
    pass                            # numbering is checked per computation


@_checks("constant")
def _constant(instruction, operands, module):
    literal, shape = instruction.literal, _array(instruction.shape, "a constant")
    if literal is None or tuple(literal.shape) != shape.dims or literal.dtype != shape.numpy_dtype:
        _fail(f"the constant's value does not have its shape {_short(shape)}")


@_checks("iota")
def _iota(instruction, operands, module):
    shape = _array(instruction.shape, "an iota")
    if not shape.dims:
        _fail("an iota must have rank 1 or more")
    dimension = instruction.int("iota_dimension")
    if not 0 <= dimension < len(shape.dims):
        _fail(f"iota_dimension={dimension} is out of range for {_short(shape)}")


@_checks("tuple")
def _tuple(instruction, operands, module):
    _same(instruction.shape, Shape("tuple", (), tuple(operands)), "the result shape")


@_checks("get-tuple-element")
def _get_tuple_element(instruction, operands, module):
    tuple_ = operands[0]
    if not tuple_.is_tuple:
        _fail(f"the operand must be a tuple, not {_short(tuple_)}")
    index = instruction.int("index")
    if not 0 <= index < len(tuple_.tuple_shapes):
        _fail(f"index={index} is out of range for a tuple of {len(tuple_.tuple_shapes)} element(s)")
    _same(instruction.shape, tuple_.tuple_shapes[index], "the result shape")


@_checks("opt-barrier", "copy")
def _same_as_operand(instruction, operands, module):
    _same(instruction.shape, operands[0], "the result shape")


@_checks("call")
def _call(instruction, operands, module):
    _check_callee(_callee(instruction, "to_apply", module), "to_apply", operands, instruction.shape)


@_checks("fusion")
def _fusion(instruction, operands, module):
    if "," in instruction.attrs.get("calls", ""):
        _fail("a fusion calls one computation")
    _check_callee(_callee(instruction, "calls", module), "calls", operands, instruction.shape)


@_checks("while")
def _while(instruction, operands, module):
    state = operands[0]
    _check_callee(_callee(instruction, "condition", module), "condition", [state], Shape("pred"))
    _check_callee(_callee(instruction, "body", module), "body", [state], state)
    _same(instruction.shape, state, "the result shape")


@_checks("conditional")
def _conditional(instruction, operands, module):
    selector = operands[0]
    if instruction.has("branch_computations"):
        _scalar(selector, "the branch index")
        _types(INTEGERS, "conditional", selector.dtype, "a branch index")
        branches = instruction.computations("branch_computations")
        if not branches:
            _fail("branch_computations is empty")
        keys = [f"branch_computations[{k}]" for k in range(len(branches))]
        for name in branches:
            if name not in module.computations:
                _fail(f"branch_computations: the module has no computation {name!r}")
        callees = [module.computations[name] for name in branches]
    else:
        _scalar(selector, "the predicate", "pred")
        callees = [_callee(instruction, "true_computation", module), _callee(instruction, "false_computation", module)]
        keys = ["true_computation", "false_computation"]
    if len(operands) != 1 + len(callees):
        _fail(f"conditional with {len(callees)} branches takes {1 + len(callees)} operands, not {len(operands)}")
    for key, callee, operand in zip(keys, callees, operands[1:]):
        _check_callee(callee, key, [operand], instruction.shape)


@_checks("map")
def _map(instruction, operands, module):
    first = _elementwise_operands(instruction, operands)
    result = _array(instruction.shape, "the result")
    if result.dims != first.dims:
        _fail(f"the result {_short(result)} must have the operands' dimensions {list(first.dims)}")
    if instruction.has("dimensions") and instruction.ints("dimensions") != tuple(range(len(first.dims))):
        _fail(f"dimensions must list every dimension in order, {_braced(range(len(first.dims)))}")
    _scalar_function(instruction, "to_apply", module, [s.dtype for s in operands], result.dtype)


# -- shape ops ---------------------------------------------------------------------------------

@_checks("broadcast")
def _broadcast(instruction, operands, module):
    x, result = _array(operands[0], "the operand"), _array(instruction.shape, "the result")
    if x.dtype != result.dtype:
        _fail(f"broadcast changes the element type: {x.dtype} to {result.dtype}")
    where = _dims(instruction, "dimensions", len(result.dims))
    if len(where) != len(x.dims):
        _fail(f"dimensions={_braced(where)} must name one result dimension per operand dimension "
              f"({len(x.dims)} for {_short(x)})")
    for k, d in enumerate(where):
        if x.dims[k] != result.dims[d]:
            _fail(f"operand dimension {k} (size {x.dims[k]}) goes to result dimension {d} of size {result.dims[d]}")


@_checks("reshape", "bitcast")
def _reshape(instruction, operands, module):
    x, result = _array(operands[0], "the operand"), _array(instruction.shape, "the result")
    if instruction.opcode == "reshape" and x.dtype != result.dtype:
        _fail(f"reshape changes the element type: {x.dtype} to {result.dtype}")
    if instruction.opcode == "bitcast" and _ITEMSIZE.get(x.dtype, 2) != _ITEMSIZE.get(result.dtype, 2):
        _fail(f"bitcast from {x.dtype} to {result.dtype} changes the element width (bitcast-convert does that)")
    if math.prod(x.dims) != math.prod(result.dims):
        _fail(f"{instruction.opcode} of {_short(x)} ({math.prod(x.dims)} elements) to {_short(result)} "
              f"({math.prod(result.dims)} elements)")


@_checks("transpose")
def _transpose(instruction, operands, module):
    x = _array(operands[0], "the operand")
    order = _dims(instruction, "dimensions", len(x.dims))
    if len(order) != len(x.dims):
        _fail(f"dimensions={_braced(order)} is not a permutation of the operand's {len(x.dims)} dimensions")
    _same(instruction.shape, Shape(x.dtype, tuple(x.dims[d] for d in order)), "the result shape")


@_checks("reverse")
def _reverse(instruction, operands, module):
    x = _array(operands[0], "the operand")
    _dims(instruction, "dimensions", len(x.dims))
    _same(instruction.shape, x, "the result shape")


@_checks("concatenate")
def _concatenate(instruction, operands, module):
    first = _array(operands[0], "operand 0")
    if not first.dims:
        _fail("concatenate needs operands of rank 1 or more")
    axis = _dims(instruction, "dimensions", len(first.dims))
    if len(axis) != 1:
        _fail(f"dimensions={_braced(axis)} must name exactly one dimension")
    d = axis[0]
    total = 0
    for k, shape in enumerate(operands):
        _array(shape, f"operand {k}")
        if shape.dtype != first.dtype or len(shape.dims) != len(first.dims) or \
                any(a != b for i, (a, b) in enumerate(zip(shape.dims, first.dims)) if i != d):
            _fail(f"operand {k} {_short(shape)} does not match operand 0 {_short(first)} outside dimension {d}")
        total += shape.dims[d]
    _same(instruction.shape, Shape(first.dtype, first.dims[:d] + (total,) + first.dims[d + 1:]), "the result shape")


@_checks("slice")
def _slice(instruction, operands, module):
    x = _array(operands[0], "the operand")
    ranges = instruction.slices()
    if len(ranges) != len(x.dims):
        _fail(f"slice gives {len(ranges)} range(s) for an operand of rank {len(x.dims)}")
    dims = []
    for d, ((start, limit, stride), size) in enumerate(zip(ranges, x.dims)):
        if not 0 <= start <= limit <= size:
            _fail(f"slice range [{start}:{limit}] of dimension {d} is not within [0:{size}]")
        if stride < 1:
            _fail(f"slice stride {stride} of dimension {d} must be positive")
        dims.append((limit - start + stride - 1) // stride)
    _same(instruction.shape, Shape(x.dtype, tuple(dims)), "the result shape")


def _start_indices(indices: list[Shape], rank: int, first: int) -> None:
    """One integer scalar per dimension, or (old HLO) a single index vector; the
    evaluator tells the two apart the same way (one operand of rank 1 is the vector)."""
    if len(indices) == 1 and not indices[0].is_tuple and len(indices[0].dims) == 1:
        vector = indices[0]
        if vector.dims != (rank,):
            _fail(f"the start index vector {_short(vector)} must have {rank} elements")
        _types(INTEGERS, "a start index", vector.dtype, "indices")
        return
    if len(indices) != rank:
        _fail(f"{len(indices)} start index operand(s) for an operand of rank {rank}")
    for k, index in enumerate(indices):
        _scalar(index, f"start index operand {first + k}")
        _types(INTEGERS, "a start index", index.dtype, "indices")
    if len({i.dtype for i in indices}) > 1:
        _fail("the start indices must all have one type")


@_checks("dynamic-slice")
def _dynamic_slice(instruction, operands, module):
    x = _array(operands[0], "the operand")
    sizes = instruction.ints("dynamic_slice_sizes")
    if len(sizes) != len(x.dims):
        _fail(f"dynamic_slice_sizes={_braced(sizes)} has {len(sizes)} sizes for an operand of rank {len(x.dims)}")
    for d, (size, dim) in enumerate(zip(sizes, x.dims)):
        if not 0 <= size <= dim:
            _fail(f"dynamic_slice_sizes: size {size} of dimension {d} is not within [0, {dim}]")
    _start_indices(operands[1:], len(x.dims), 1)
    _same(instruction.shape, Shape(x.dtype, tuple(sizes)), "the result shape")


@_checks("dynamic-update-slice")
def _dynamic_update_slice(instruction, operands, module):
    x, update = _array(operands[0], "the operand"), _array(operands[1], "the update")
    if update.dtype != x.dtype or len(update.dims) != len(x.dims) or \
            any(u > d for u, d in zip(update.dims, x.dims)):
        _fail(f"the update {_short(update)} does not fit in the operand {_short(x)}")
    _start_indices(operands[2:], len(x.dims), 2)
    _same(instruction.shape, x, "the result shape")


@_checks("pad")
def _pad(instruction, operands, module):
    x = _array(operands[0], "the operand")
    _scalar(operands[1], "the padding value", x.dtype)
    padding = instruction.padding()
    if len(padding) != len(x.dims):
        _fail(f"padding has {len(padding)} dimension(s) for an operand of rank {len(x.dims)}")
    dims = []
    for d, ((low, high, interior), n) in enumerate(zip(padding, x.dims)):
        if interior < 0:
            _fail(f"interior padding {interior} of dimension {d} is negative")
        if max(abs(low), abs(high), interior) > MAX_ELEMENTS:
            _fail(f"padding {low}_{high}_{interior} of dimension {d} is out of range")
        dilated = n + max(n - 1, 0) * interior
        if dilated > MAX_ELEMENTS:
            _fail(f"interior padding {interior} makes dimension {d} {dilated} elements long")
        size = low + dilated + high
        if size < 0:
            _fail(f"padding {low}_{high}_{interior} leaves dimension {d} with a negative size")
        dims.append(size)
    _same(instruction.shape, Shape(x.dtype, tuple(dims)), "the result shape")


# -- reductions and windows ---------------------------------------------------------------------

def _inputs_and_inits(operands: list[Shape]) -> tuple[list[Shape], list[Shape]]:
    n = len(operands) // 2
    inputs, inits = operands[:n], operands[n:]
    first = _array(inputs[0], "input 0")
    for k, (x, init) in enumerate(zip(inputs, inits)):
        _array(x, f"input {k}")
        if x.dims != first.dims:
            _fail(f"input {k} {_short(x)} and input 0 {_short(first)} have different dimensions")
        _scalar(init, f"init value {k}", x.dtype)
    return inputs, inits


def _results(instruction: Instruction, dtypes: list[str], dims: tuple[int, ...]) -> None:
    arrays = [Shape(t, dims) for t in dtypes]
    expected = arrays[0] if len(arrays) == 1 else Shape("tuple", (), tuple(arrays))
    _same(instruction.shape, expected, "the result shape")


@_checks("reduce")
def _reduce(instruction, operands, module):
    inputs, _ = _inputs_and_inits(operands)
    rank = len(inputs[0].dims)
    reduced = _dims(instruction, "dimensions", rank)
    dtypes = [x.dtype for x in inputs]
    _scalar_function(instruction, "to_apply", module, dtypes + dtypes, dtypes[0] if len(dtypes) == 1 else dtypes)
    _results(instruction, dtypes, tuple(n for d, n in enumerate(inputs[0].dims) if d not in reduced))


_WINDOW_FIELDS = ("size", "stride", "pad", "lhs_dilate", "rhs_dilate", "rhs_reversal")


def parse_window(text: str, rank: int) -> dict[str, list]:
    """`{size=3x3stride=2x2pad=0_1x0_1}` (canonical: no spaces) -> {"size": [3, 3], "stride":
    [2, 2], "pad": [(0, 1), (0, 1)], "lhs_dilate": [1, 1], ...}, XLA's defaults filled in.
    Raises _Invalid for anything else."""
    body = text[1:-1] if text.startswith("{") and text.endswith("}") else None
    if body is None:
        _fail(f"window={text[:40]} is not {{size=... stride=... pad=...}}")
    window: dict[str, list] = {key: [1] * rank for key in ("size", "stride", "lhs_dilate", "rhs_dilate")}
    window["pad"], window["rhs_reversal"] = [(0, 0)] * rank, [0] * rank
    number = r"-?[0-9]{1,19}"
    field = re.compile(rf"(size|stride|pad|lhs_dilate|rhs_dilate|rhs_reversal)=((?:{number}(?:_{number})?)"
                       rf"(?:x{number}(?:_{number})?)*)")
    pos, seen = 0, set()
    while pos < len(body):
        m = field.match(body, pos)
        if not m:
            _fail(f"window={text[:60]} is malformed at {body[pos:pos + 20]!r}")
        key, value = m.group(1), m.group(2)
        if key in seen:
            _fail(f"window gives {key} twice")
        seen.add(key)
        parts = value.split("x")
        if len(parts) != rank:
            _fail(f"window {key}={value} has {len(parts)} dimension(s) for an operand of rank {rank}")
        if key == "pad":
            pairs = [p.split("_") for p in parts]
            if any(len(p) != 2 for p in pairs):
                _fail(f"window pad={value} must be low_high per dimension")
            window[key] = [(int(a), int(b)) for a, b in pairs]
        else:
            if any("_" in p for p in parts):
                _fail(f"window {key}={value} must be one number per dimension")
            window[key] = [int(p) for p in parts]
        pos = m.end()
    if rank and "size" not in seen:
        _fail("window has no size")
    return window


def _window_output(window: dict[str, list], dims: tuple[int, ...]) -> tuple[list[int], list[int]]:
    """Output dimensions and padded-and-dilated input dimensions of a window over `dims`."""
    out, padded_dims = [], []
    for d, n in enumerate(dims):
        size, stride = window["size"][d], window["stride"][d]
        (low, high), base, dilation = window["pad"][d], window["lhs_dilate"][d], window["rhs_dilate"][d]
        if size < 1 or stride < 1 or base < 1 or dilation < 1:
            _fail(f"window dimension {d}: size, stride and dilations must be positive")
        if max(abs(low), abs(high), size, stride, base, dilation) > MAX_ELEMENTS:
            _fail(f"window dimension {d} is out of range")
        if window["rhs_reversal"][d] not in (0, 1):
            _fail(f"window rhs_reversal of dimension {d} must be 0 or 1")
        if window["rhs_reversal"][d]:
            _fail("window reversal is not supported")
        dilated = (n - 1) * base + 1 if n else 0
        if dilated > MAX_ELEMENTS:
            _fail(f"window base dilation {base} makes dimension {d} {dilated} elements long")
        padded = low + dilated + high
        if padded < 0:
            _fail(f"window dimension {d}: padding {low}_{high} leaves a negative size")
        extent = (size - 1) * dilation + 1
        out.append((padded - extent) // stride + 1 if padded >= extent else 0)   # no window fits: empty
        padded_dims.append(padded)
    return out, padded_dims


@_checks("reduce-window")
def _reduce_window(instruction, operands, module):
    inputs, _ = _inputs_and_inits(operands)
    if not instruction.has("window"):
        _fail("reduce-window needs the attribute window")
    window = parse_window(instruction.attrs["window"], len(inputs[0].dims))
    out, _ = _window_output(window, inputs[0].dims)
    dtypes = [x.dtype for x in inputs]
    _scalar_function(instruction, "to_apply", module, dtypes + dtypes, dtypes[0] if len(dtypes) == 1 else dtypes)
    _results(instruction, dtypes, tuple(out))


@_checks("sort")
def _sort(instruction, operands, module):
    first = _array(operands[0], "operand 0")
    for k, shape in enumerate(operands):
        if _array(shape, f"operand {k}").dims != first.dims:
            _fail(f"operand {k} {_short(shape)} and operand 0 {_short(first)} have different dimensions")
    if not first.dims:
        _fail("sort needs operands of rank 1 or more")
    axis = _dims(instruction, "dimensions", len(first.dims))
    if len(axis) != 1:
        _fail(f"dimensions={_braced(axis)} must name exactly one dimension")
    _scalar_function(instruction, "to_apply", module, [s.dtype for s in operands for _ in (0, 1)], "pred")
    expected = operands[0] if len(operands) == 1 else Shape("tuple", (), tuple(operands))
    _same(instruction.shape, expected, "the result shape")


# -- dot, gather, scatter ------------------------------------------------------------------------

@_checks("dot")
def _dot(instruction, operands, module):
    lhs, rhs = _array(operands[0], "the lhs"), _array(operands[1], "the rhs")
    lb = _dims(instruction, "lhs_batch_dims", len(lhs.dims), optional=True)
    rb = _dims(instruction, "rhs_batch_dims", len(rhs.dims), optional=True)
    lc = _dims(instruction, "lhs_contracting_dims", len(lhs.dims), optional=True)
    rc = _dims(instruction, "rhs_contracting_dims", len(rhs.dims), optional=True)
    if len(lb) != len(rb):
        _fail(f"lhs_batch_dims={_braced(lb)} and rhs_batch_dims={_braced(rb)} differ in length")
    if len(lc) != len(rc):
        _fail(f"lhs_contracting_dims={_braced(lc)} and rhs_contracting_dims={_braced(rc)} differ in length")
    if set(lb) & set(lc) or set(rb) & set(rc):
        _fail("a dimension is both a batch and a contracting dimension")
    for kind, ls, rs in (("batch", lb, rb), ("contracting", lc, rc)):
        for a, b in zip(ls, rs):
            if lhs.dims[a] != rhs.dims[b]:
                _fail(f"{kind} dimensions differ in size: lhs dimension {a} is {lhs.dims[a]}, "
                      f"rhs dimension {b} is {rhs.dims[b]}")
    lhs_free = [n for d, n in enumerate(lhs.dims) if d not in lb and d not in lc]
    rhs_free = [n for d, n in enumerate(rhs.dims) if d not in rb and d not in rc]
    result = _array(instruction.shape, "the result")
    expected = tuple([lhs.dims[d] for d in lb] + lhs_free + rhs_free)
    if result.dims != expected:
        _fail(f"the result {_short(result)} must have dimensions {list(expected)}")


def _index_vector(indices: Shape, vector_dim: int) -> tuple[int, list[int]]:
    """The index vector's length and the batch dimensions (all but `vector_dim`)."""
    rank = len(indices.dims)
    if not 0 <= vector_dim <= rank:
        _fail(f"index_vector_dim={vector_dim} is out of range for indices of rank {rank}")
    length = 1 if vector_dim == rank else indices.dims[vector_dim]
    return length, [d for d in range(rank) if d != vector_dim]


def _batching(instruction, operand: Shape, indices: Shape, operand_key: str, indices_key: str, vector_dim: int,
              excluded: tuple[int, ...], excluded_key: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    operand_batching = _dims(instruction, operand_key, len(operand.dims), optional=True, sort=True)
    indices_batching = _dims(instruction, indices_key, len(indices.dims), optional=True)
    if len(operand_batching) != len(indices_batching):
        _fail(f"{operand_key} and {indices_key} differ in length")
    if set(operand_batching) & set(excluded):
        _fail(f"{operand_key} and {excluded_key} share a dimension")
    if vector_dim in indices_batching:
        _fail(f"{indices_key} contains index_vector_dim={vector_dim}")
    for a, b in zip(operand_batching, indices_batching):
        if operand.dims[a] != indices.dims[b]:
            _fail(f"batching dimensions differ in size: operand dimension {a} is {operand.dims[a]}, indices "
                  f"dimension {b} is {indices.dims[b]}")
    return operand_batching, indices_batching


@_checks("gather")
def _gather(instruction, operands, module):
    operand, indices = _array(operands[0], "the operand"), _array(operands[1], "the start indices")
    _types(INTEGERS, "gather", indices.dtype, "start indices")
    rank = len(operand.dims)
    vector_dim = instruction.int("index_vector_dim")
    length, batch_dims = _index_vector(indices, vector_dim)
    sizes = instruction.ints("slice_sizes")
    if len(sizes) != rank:
        _fail(f"slice_sizes={_braced(sizes)} has {len(sizes)} sizes for an operand of rank {rank}")
    for d, (size, n) in enumerate(zip(sizes, operand.dims)):
        if not 0 <= size <= n:
            _fail(f"slice_sizes: size {size} of dimension {d} is not within [0, {n}]")
    collapsed = _dims(instruction, "collapsed_slice_dims", rank, sort=True)
    start_map = _dims(instruction, "start_index_map", rank)
    if len(start_map) != length:
        _fail(f"start_index_map={_braced(start_map)} has {len(start_map)} entries for index vectors of {length}")
    operand_batching, _ = _batching(instruction, operand, indices, "operand_batching_dims",
                                    "start_indices_batching_dims", vector_dim, collapsed, "collapsed_slice_dims")
    if set(start_map) & set(operand_batching):
        _fail("start_index_map and operand_batching_dims share a dimension")
    for d in collapsed + operand_batching:
        if sizes[d] != 1:
            _fail(f"dimension {d} is collapsed (or a batching dimension), so its slice size must be 1, "
                  f"not {sizes[d]}")
    kept = [size for d, size in enumerate(sizes) if d not in collapsed and d not in operand_batching]
    out_rank = len(batch_dims) + len(kept)
    offset = _dims(instruction, "offset_dims", out_rank, sort=True)
    if len(offset) != len(kept):
        _fail(f"offset_dims={_braced(offset)} has {len(offset)} entries; the slice keeps {len(kept)} dimension(s)")
    window, batch = iter(kept), iter(indices.dims[d] for d in batch_dims)
    expected = tuple(next(window) if d in offset else next(batch) for d in range(out_rank))
    _same(instruction.shape, Shape(operand.dtype, expected), "the result shape")


@_checks("scatter")
def _scatter(instruction, operands, module):
    n = (len(operands) - 1) // 2
    targets, indices, updates = operands[:n], _array(operands[n], "the scatter indices"), operands[n + 1:]
    first = _array(targets[0], "operand 0")
    for k, (target, update) in enumerate(zip(targets, updates)):
        if _array(target, f"operand {k}").dims != first.dims:
            _fail(f"operand {k} {_short(target)} and operand 0 {_short(first)} have different dimensions")
        if _array(update, f"update {k}").dims != updates[0].dims:
            _fail(f"update {k} {_short(update)} and update 0 {_short(updates[0])} have different dimensions")
        if update.dtype != target.dtype:
            _fail(f"update {k} is {update.dtype}, its operand {target.dtype}")
    _types(INTEGERS, "scatter", indices.dtype, "indices")
    rank, update_rank = len(first.dims), len(updates[0].dims)
    vector_dim = instruction.int("index_vector_dim")
    length, batch_dims = _index_vector(indices, vector_dim)
    window_dims = _dims(instruction, "update_window_dims", update_rank, sort=True)
    inserted = _dims(instruction, "inserted_window_dims", rank, sort=True)
    input_batching, _ = _batching(instruction, first, indices, "input_batching_dims",
                                  "scatter_indices_batching_dims", vector_dim, inserted, "inserted_window_dims")
    to_operand = _dims(instruction, "scatter_dims_to_operand_dims", rank)
    if len(to_operand) != length:
        _fail(f"scatter_dims_to_operand_dims={_braced(to_operand)} has {len(to_operand)} entries for index "
              f"vectors of {length}")
    if set(to_operand) & set(input_batching):
        _fail("scatter_dims_to_operand_dims and input_batching_dims share a dimension")
    if len(window_dims) + len(inserted) + len(input_batching) != rank:
        _fail(f"update_window_dims ({len(window_dims)}), inserted_window_dims ({len(inserted)}) and "
              f"input_batching_dims ({len(input_batching)}) must add up to the operand's rank {rank}")
    scatter_dims = [d for d in range(update_rank) if d not in window_dims]
    if len(scatter_dims) != len(batch_dims):
        _fail(f"the updates have {len(scatter_dims)} scatter dimension(s), the indices {len(batch_dims)}")
    for u, i in zip(scatter_dims, batch_dims):
        if updates[0].dims[u] != indices.dims[i]:
            _fail(f"update dimension {u} (size {updates[0].dims[u]}) must match indices dimension {i} "
                  f"(size {indices.dims[i]})")
    operand_window = [d for d in range(rank) if d not in inserted and d not in input_batching]
    for u, d in zip(window_dims, operand_window):
        if updates[0].dims[u] > first.dims[d]:
            _fail(f"update window dimension {u} (size {updates[0].dims[u]}) is larger than operand dimension {d} "
                  f"(size {first.dims[d]})")
    dtypes = [t.dtype for t in targets]
    _scalar_function(instruction, "to_apply", module, dtypes + dtypes, dtypes[0] if n == 1 else dtypes)
    expected = targets[0] if n == 1 else Shape("tuple", (), tuple(targets))
    _same(instruction.shape, expected, "the result shape")


CHECKED_OPCODES = frozenset(_CHECKS)


# -- memory estimate ------------------------------------------------------------------------------

_ALIASING = frozenset({"parameter", "tuple", "get-tuple-element", "opt-barrier", "copy", "call", "fusion", "while",
                       "conditional"})
_LANE_WISE = frozenset({"map", "reduce", "reduce-window", "scatter", "sort"})


def _weight(module: Module, name: str, memo: dict | None = None) -> int:
    """Instructions computation `name` runs per application, its callees included (the call
    graph is acyclic and shallow by now)."""
    memo = {} if memo is None else memo
    if name not in memo:
        memo[name] = 0
        total = 0
        for instruction in module.computations[name].instructions:
            total += 1 + sum(_weight(module, c, memo) for c in instruction.called_computations())
        memo[name] = total
    return memo[name]


def _estimate(instruction: Instruction, operands: list[Shape], module: Module) -> tuple[int, int]:
    """(bytes of the value the evaluator keeps, bytes of temporaries while computing it)."""
    opcode, shape = instruction.opcode, instruction.shape
    if opcode in ("reshape", "bitcast") and operands and not shape.is_tuple and not operands[0].is_tuple \
            and operands[0].dims == shape.dims and operands[0].dtype == shape.dtype:
        return 0, 0   # to its own shape: a view of the operand (TF's HLO so wraps every parameter, tables too)
    value = 0 if opcode in _ALIASING else _bytes(shape)
    if opcode not in CHECKED_OPCODES:
        return value, 0
    operand_bytes = sum(_bytes(s) for s in operands)
    operand_elements = sum(_elements(s) for s in operands)
    out_elements = _elements(shape)
    temporary = 0
    if opcode in UNARY | BINARY | {"compare", "select", "clamp"}:
        # f16/bf16 operands are widened to f32; the ufunc's result is at least 4 bytes an element;
        # integer division, power and the bit ops build masks and np.where results besides
        widened = sum(_elements(s) for s in operands if s.dtype in ("f16", "bf16")) * 4
        temporary = widened + out_elements * max(4, _ITEMSIZE.get(shape.dtype, 2))
        if opcode in SHIFTS | INTEGER_UNARY | {"power", "divide", "remainder"}:
            temporary += 3 * out_elements * _INDEX_BYTES
    elif opcode in ("convert", "reduce-precision"):
        temporary = 4 * out_elements * _INDEX_BYTES      # float -> integer goes through f64, with masks
    elif opcode in ("bitcast-convert", "broadcast", "reshape", "bitcast", "transpose", "reverse"):
        temporary = operand_bytes                        # a contiguous (or transposed) copy at most
    elif opcode == "iota":
        temporary = max(shape.dims, default=0) * _INDEX_BYTES
    elif opcode == "dot":
        temporary = 2 * (operand_elements + out_elements) * _INDEX_BYTES
    elif opcode == "pad":
        x = operands[0]
        padding = instruction.padding()
        dilated = math.prod(n + max(n - 1, 0) * interior for n, (_, _, interior) in zip(x.dims, padding))
        temporary = dilated * _ITEMSIZE.get(x.dtype, 2)
    elif opcode == "gather":
        operand, indices = operands
        rank = len(operand.dims)
        temporary = (_elements(indices) + 3 * rank * out_elements) * _INDEX_BYTES + _bytes(shape)
    elif opcode == "scatter":
        n = (len(operands) - 1) // 2
        update_elements = sum(_elements(u) for u in operands[n + 1:])
        rank = len(operands[0].dims)
        temporary = operand_bytes + (update_elements * (rank + 8) + 3 * _elements(operands[n]) * (rank + 1)) \
            * _INDEX_BYTES
    elif opcode in ("reduce", "reduce-window"):
        n = len(operands) // 2
        temporary = 2 * sum(_elements(x) for x in operands[:n]) * _INDEX_BYTES
        if opcode == "reduce-window":
            window = parse_window(instruction.attrs["window"], len(operands[0].dims))
            _, padded = _window_output(window, operands[0].dims)
            window_elements = math.prod(window["size"])
            out = _elements(shape) // max(1, n)
            temporary += n * (math.prod(padded) + out * window_elements) * _INDEX_BYTES
    elif opcode in ("concatenate", "slice", "dynamic-slice", "dynamic-update-slice"):
        temporary = _bytes(shape)
    elif opcode == "sort":
        elements = _elements(operands[0])
        temporary = len(operands) * elements * 4 * _INDEX_BYTES
    if opcode in _LANE_WISE:
        callee = instruction.attrs.get("to_apply")
        if callee in module.computations:
            if opcode == "sort":
                # every pair of a row at once, in blocks of about 2**20 lanes (ops/sort.py)
                dims = operands[0].dims
                axis = instruction.ints("dimensions")[0]
                row, count = dims[axis], math.prod(dims) // max(1, dims[axis])
                lanes = min(count * row * row, max(1 << 20, count * row))
            elif opcode == "scatter":
                lanes = sum(_elements(u) for u in operands[(len(operands) + 1) // 2:])
            else:
                lanes = out_elements
            temporary += lanes * _INDEX_BYTES * (_weight(module, callee) + len(operands))
    return value, temporary
