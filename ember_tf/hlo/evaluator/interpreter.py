"""Walks a computation's instructions in order, once, keeping every value in a dict.

Values are np.ndarray (row-major, 0-d for scalars) or tuples of values. Each result is
checked against its instruction's shape, so an implementation bug or a malformed module
surfaces at the instruction that caused it rather than somewhere downstream."""

from __future__ import annotations

import numpy as np

from ember_tf.hlo.evaluator import lanes
from ember_tf.hlo.evaluator.errors import HloEvaluationError
from ember_tf.hlo.evaluator.ops import OPS
from ember_tf.hlo.module import Module, Shape, element_type
from ember_tf.hlo.verifier import operand_count_error


class Context:
    """What an implementation may use besides its operands: the module, the running
    computation's arguments, and calls into the module's other computations."""

    def __init__(self, module: Module, arguments, lanewise: bool = False):
        self.module = module
        self.arguments = arguments
        self.lanewise = lanewise

    def call(self, name: str, args):
        """Evaluate computation `name`; inside a lane-wise run the callee is lane-wise too."""
        return run(self.module, name, args, self.lanewise)

    def map_lanes(self, name: str, args, lane_shape: tuple[int, ...]):
        """Evaluate the scalar computation `name` once per lane (see `lanes`)."""
        return lanes.apply(self.module, name, args, lane_shape)


def run(module: Module, name: str, args, lanewise: bool = False):
    """The value of computation `name` on `args` (one per parameter, by number).

    Lane-wise, parameters may carry arrays of any common shape where the computation
    says scalar; only element types are checked then."""
    computation = module.computations.get(name)
    if computation is None:
        raise HloEvaluationError(f"the module has no computation {name!r}")
    count = len(computation.parameters())
    if len(args) != count:
        raise HloEvaluationError(f"{name} takes {count} arguments, got {len(args)}")
    context = Context(module, args, lanewise)
    values: dict = {}
    with np.errstate(all="ignore"):   # XLA defines overflow, x/0 and NaN results; numpy only warns
        for instruction in computation.instructions:
            fn = OPS.get(instruction.opcode)
            if fn is None:
                raise _unsupported(computation.name, instruction)
            problem = operand_count_error(instruction)    # the verifier's rule, again for unverified modules
            if problem:
                raise HloEvaluationError(f"{computation.name}/{instruction.name}: {problem}")
            result = fn(instruction, [values[o] for o in instruction.operands], context)
            result = _as_value(result)
            problem = mismatch(instruction.shape, result, lanewise)
            if problem:
                raise HloEvaluationError(f"{computation.name}/{instruction.name}: {instruction.opcode} produced "
                                         f"{problem}, but the instruction's shape is {instruction.shape}")
            values[instruction.name] = result
    return values[computation.root]


def _unsupported(computation: str, instruction) -> HloEvaluationError:
    return HloEvaluationError(f"{computation}/{instruction.name}: opcode {instruction.opcode!r} "
                              f"is not supported by the HLO evaluator")


def check_supported(module: Module) -> None:
    for computation in module.computations.values():
        for instruction in computation.instructions:
            if instruction.opcode not in OPS:
                raise _unsupported(computation.name, instruction)


def _as_value(result):
    # numpy ufuncs return numpy scalars for 0-d inputs; values are always arrays
    if isinstance(result, (np.ndarray, tuple)):
        return result
    return np.asarray(result)


def describe(value) -> str:
    """`f32[2,3]` for an array, `(f32[], s32[4])` for a tuple, as HLO writes shapes."""
    if isinstance(value, tuple):
        return "(" + ", ".join(describe(v) for v in value) + ")"
    value = np.asarray(value)
    try:
        kind = element_type(value.dtype)
    except ValueError:
        kind = value.dtype.name
    return f"{kind}[{','.join(str(d) for d in value.shape)}]"


def mismatch(shape: Shape, value, lanewise: bool = False) -> str | None:
    """None if `value` has `shape` (its element type only, lane-wise), else what it has."""
    if shape.is_tuple:
        if (not isinstance(value, tuple) or len(value) != len(shape.tuple_shapes)
                or any(mismatch(s, v, lanewise) for s, v in zip(shape.tuple_shapes, value))):
            return describe(value)
        return None
    if not isinstance(value, np.ndarray) or value.dtype != shape.numpy_dtype:
        return describe(value)
    if not lanewise and value.shape != shape.dims:
        return describe(value)
    return None
