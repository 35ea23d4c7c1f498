"""Recognizing reducer and combiner computations that numpy can run natively."""

from __future__ import annotations

import numpy as np

from ember_tf.hlo.module import Module

# numpy's bool loops match XLA's pred rules: add is or, multiply is and
_UFUNCS = {"add": np.add, "multiply": np.multiply, "maximum": np.maximum, "minimum": np.minimum,
           "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}


def binary_ufunc(module: Module, name: str):
    """The ufunc when computation `name` is one commutative op of its two parameters
    (`ROOT add(p0, p1)`), else None: the general path applies the computation itself."""
    computation = module.computations[name]
    parameters = computation.parameters()
    root = computation.root_instruction
    if len(parameters) != 2 or len(computation.instructions) != 3 or root.opcode not in _UFUNCS:
        return None
    if sorted(root.operands) != sorted(p.name for p in parameters) or root.operands[0] == root.operands[1]:
        return None
    if any(p.shape.dims or p.shape.dtype != root.shape.dtype for p in parameters):
        return None
    return _UFUNCS[root.opcode]
