"""map: `to_apply` applied to every element position of its (same-shaped) operands."""

from __future__ import annotations

from ember_tf.hlo.evaluator.registry import register


@register("map")
def map_(instruction, operands, context):
    return context.map_lanes(instruction.computation("to_apply"), operands, instruction.shape.dims)
