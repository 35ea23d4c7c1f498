"""Ops that move elements without changing them: broadcast, reshape, bitcast, copy,
transpose, reverse, concatenate. Values are row-major, so layouts never matter here."""

from __future__ import annotations

import numpy as np

from ember_tf.hlo.evaluator.ops.common import contiguous
from ember_tf.hlo.evaluator.registry import register


@register("broadcast")
def broadcast(instruction, operands, context):
    # operand dimension i becomes output dimension dimensions[i]
    x, where = operands[0], instruction.ints("dimensions")
    order = sorted(range(len(where)), key=lambda i: where[i])
    x = np.transpose(x, order)
    shape = [1] * len(instruction.shape.dims)
    for i in order:
        shape[where[i]] = operands[0].shape[i]
    return np.broadcast_to(x.reshape(shape), instruction.shape.dims)


@register("reshape", "bitcast")
def reshape(instruction, operands, context):
    # a bitcast between row-major shapes is a reshape (layouts are not kept); optimized HLO
    # also bitcasts between element types of one width (f32 <-> s32 in sort comparators)
    x, to = operands[0], instruction.shape.numpy_dtype
    if instruction.opcode == "bitcast" and x.dtype != to and x.dtype.itemsize == to.itemsize:
        x = contiguous(x).view(to)
    return np.reshape(x, instruction.shape.dims)


@register("copy", elementwise=True)
def copy(instruction, operands, context):
    return operands[0]          # values are immutable here; a copy only changes layout in XLA


@register("transpose")
def transpose(instruction, operands, context):
    return np.transpose(operands[0], instruction.ints("dimensions"))


@register("reverse")
def reverse(instruction, operands, context):
    return np.flip(operands[0], axis=instruction.ints("dimensions"))


@register("concatenate")
def concatenate(instruction, operands, context):
    return np.concatenate(operands, axis=instruction.ints("dimensions")[0])
