"""Structure and control flow: tuple, get-tuple-element, call, fusion, while,
conditional, opt-barrier."""

from __future__ import annotations

from ember_tf.hlo.evaluator.errors import HloEvaluationError
from ember_tf.hlo.evaluator.registry import register

# A loop still running after this many iterations is taken for a runaway (XLA would spin
# forever); the emulator's kernels have the same kind of guard (max_instructions).
MAX_WHILE_ITERATIONS = 1 << 24


@register("tuple", elementwise=True)
def tuple_(instruction, operands, context):
    return tuple(operands)


@register("get-tuple-element", elementwise=True)
def get_tuple_element(instruction, operands, context):
    return operands[0][instruction.int("index")]


@register("call", elementwise=True)
def call(instruction, operands, context):
    return context.call(instruction.computation("to_apply"), operands)


@register("fusion", elementwise=True)
def fusion(instruction, operands, context):
    # a fusion only groups instructions for code generation; its value is the callee's
    return context.call(instruction.computation("calls"), operands)


@register("opt-barrier")
def optimization_barrier(instruction, operands, context):
    return operands[0]


@register("while")
def while_(instruction, operands, context):
    state = operands[0]
    condition, body = instruction.computation("condition"), instruction.computation("body")
    iterations = 0
    while bool(context.call(condition, [state])):
        iterations += 1
        if iterations > MAX_WHILE_ITERATIONS:
            raise HloEvaluationError(f"{instruction.name}: the while loop ran {MAX_WHILE_ITERATIONS} iterations "
                                     f"without its condition becoming false")
        state = context.call(body, [state])
    return state


@register("conditional")
def conditional(instruction, operands, context):
    selector, branch_operands = operands[0], operands[1:]
    if instruction.has("branch_computations"):
        branches = instruction.computations("branch_computations")
        index = int(selector)
        if not 0 <= index < len(branches):
            index = len(branches) - 1       # XLA runs the last branch for an out-of-range index
    else:
        branches = [instruction.computation("true_computation"), instruction.computation("false_computation")]
        index = 0 if bool(selector) else 1
    return context.call(branches[index], [branch_operands[index]])
