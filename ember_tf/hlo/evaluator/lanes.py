"""Running a scalar computation (a reducer, a scatter combiner, a sort comparator, a map
function) over many elements at once.

XLA applies such a computation to one element (or one pair) at a time. When every
instruction in it is elementwise, feeding it whole arrays ("lanes") instead of scalars
computes all applications in one pass, with the same result per lane. Otherwise the
computation is evaluated once per lane: correct, slow, and only reached by unusual
computations (ones that reshape or broadcast inside a reducer, say)."""

from __future__ import annotations

import numpy as np

from ember_tf.hlo.evaluator.registry import ELEMENTWISE
from ember_tf.hlo.module import Module, Shape


def is_lanewise(module: Module, name: str) -> bool:
    """Whether computation `name` (and what it calls) works on scalars with elementwise ops only."""
    for instruction in module.computations[name].instructions:
        if instruction.opcode not in ELEMENTWISE or not _scalar(instruction.shape):
            return False
        if not all(is_lanewise(module, callee) for callee in instruction.called_computations()):
            return False
    return True


def _scalar(shape: Shape) -> bool:
    if shape.is_tuple:
        return all(_scalar(s) for s in shape.tuple_shapes)
    return shape.dims == ()


def apply(module: Module, name: str, args, lane_shape: tuple[int, ...]):
    """Computation `name` applied lane by lane: every argument is an array broadcastable
    to `lane_shape`; the result is an array of `lane_shape` (or a tuple of them)."""
    from ember_tf.hlo.evaluator.interpreter import run   # the interpreter imports this module

    root = module.computations[name].root_instruction.shape
    if is_lanewise(module, name):
        return _broadcast(run(module, name, list(args), lanewise=True), lane_shape)
    args = [np.broadcast_to(a, lane_shape) for a in args]
    out = _empty(root, lane_shape)
    for index in np.ndindex(*lane_shape):
        _store(out, index, run(module, name, [a[index] for a in args]))
    return out


def _broadcast(value, lane_shape):
    if isinstance(value, tuple):
        return tuple(_broadcast(v, lane_shape) for v in value)
    return np.broadcast_to(value, lane_shape)


def _empty(shape: Shape, lane_shape):
    if shape.is_tuple:
        return tuple(_empty(s, lane_shape) for s in shape.tuple_shapes)
    return np.empty(lane_shape, shape.numpy_dtype)


def _store(out, index, value) -> None:
    if isinstance(out, tuple):
        for o, v in zip(out, value):
            _store(o, index, v)
    else:
        out[index] = value
