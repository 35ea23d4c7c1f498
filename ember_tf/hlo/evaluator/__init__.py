"""A numpy evaluator for HLO modules: the reference semantics of every opcode ember-tf
accepts, one small function per opcode (or per tight family) under `ops/`, registered
by opcode in `registry`. It runs the residual HLO of a host segment and checks
rewrites against XLA's definitions (openxla.org/xla/operation_semantics).

    evaluate(module, arguments)           -> the entry computation's outputs, as a list
    evaluate_computation(module, name, args) -> one computation's value
    check_supported(module)               -> HloEvaluationError naming the first unsupported opcode

Values are row-major np.ndarrays (0-d for scalars) or tuples of values; each result has
exactly its instruction's element type and dimensions."""

from __future__ import annotations

import numpy as np

from ember_tf.hlo.evaluator.errors import HloEvaluationError
from ember_tf.hlo.evaluator.interpreter import check_supported, describe, mismatch, run
from ember_tf.hlo.evaluator.ops import SUPPORTED_OPCODES
from ember_tf.hlo.evaluator.ops.sources import read_only
from ember_tf.hlo.module import Module

__all__ = ["SUPPORTED_OPCODES", "HloEvaluationError", "check_supported", "evaluate", "evaluate_computation"]


def evaluate_computation(module: Module, name: str, args):
    """The value of computation `name` on `args`, one per parameter, by parameter number."""
    return run(module, name, list(args))


def evaluate(module: Module, arguments: list[np.ndarray]) -> list[np.ndarray]:
    """Run the entry computation; a tuple result is returned as its elements. The arrays
    are fresh, writeable and C-contiguous: none aliases an argument, a constant of the
    module or another output. The arguments are never written: the evaluator sees them
    through read-only views, so a write would fail rather than change the caller's data."""
    entry = module.entry_computation
    arguments = [_frozen(a) for a in arguments]
    parameters = entry.parameters()
    if len(arguments) != len(parameters):
        raise HloEvaluationError(f"{entry.name} takes {len(parameters)} arguments, got {len(arguments)}")
    for parameter, argument in zip(parameters, arguments):
        if mismatch(parameter.shape, argument):
            raise HloEvaluationError(f"argument {parameter.parameter_number} (parameter {parameter.name}) must be "
                                     f"{parameter.shape}, got {describe(argument)}")
    result = run(module, module.entry, list(arguments))
    return [np.array(r, order="C") for r in (result if isinstance(result, tuple) else (result,))]


def _frozen(value):
    """The argument as the evaluator sees it: arrays (in tuples too) as read-only views."""
    if isinstance(value, tuple):
        return tuple(_frozen(v) for v in value)
    return read_only(np.asarray(value)) if isinstance(value, (np.ndarray, np.generic)) else value
