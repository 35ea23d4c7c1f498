"""The opcode table: each implementation registers itself under the opcodes it handles.

An implementation is `fn(instruction, operands, context) -> value`, where a value is an
np.ndarray (0-d for scalars) or a tuple of values, and `context` is an
`interpreter.Context`. `elementwise=True` promises the function works unchanged on
operands of any (broadcast-compatible) shape, as elementwise math does and as ops that
only route values do (parameter, constant, tuple, call); `lanes` relies on it to run a
scalar computation over whole arrays at once."""

from __future__ import annotations

from typing import Callable

OPS: dict[str, Callable] = {}
ELEMENTWISE: set[str] = set()


def register(*opcodes: str, elementwise: bool = False):
    def decorate(fn: Callable) -> Callable:
        for opcode in opcodes:
            if opcode in OPS:
                raise AssertionError(f"opcode {opcode!r} registered twice")
            OPS[opcode] = fn
            if elementwise:
                ELEMENTWISE.add(opcode)
        return fn
    return decorate
