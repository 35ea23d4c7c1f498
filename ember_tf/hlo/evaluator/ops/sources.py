"""Instructions without operands: parameter, constant, iota."""

from __future__ import annotations

import numpy as np

from ember_tf.hlo.evaluator.registry import register


@register("parameter", elementwise=True)
def parameter(instruction, operands, context):
    return context.arguments[instruction.parameter_number]


@register("constant", elementwise=True)
def constant(instruction, operands, context):
    return read_only(instruction.literal)     # the module's own value: no run may change it


def read_only(x):
    """A view of `x` that numpy refuses to write through."""
    if isinstance(x, np.ndarray) and x.flags.writeable:
        x = x.view()
        x.flags.writeable = False
    return x


@register("iota")
def iota(instruction, operands, context):
    dims, axis = instruction.shape.dims, instruction.int("iota_dimension")
    # counted in int64 then converted, since bf16 has no arange of its own
    line = np.arange(dims[axis]).astype(instruction.shape.numpy_dtype)
    shape = [1] * len(dims)
    shape[axis] = dims[axis]
    return np.broadcast_to(line.reshape(shape), dims)
