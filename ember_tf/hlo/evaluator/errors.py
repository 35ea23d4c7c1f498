"""The evaluator's one exception type."""

from ember_tf.errors import EmberError


class HloEvaluationError(EmberError):
    """An HLO module cannot be evaluated: an unsupported opcode, arguments that do not
    match the entry parameters, or an instruction whose value contradicts its shape.
    The message names the computation and instruction, or the parameter."""
