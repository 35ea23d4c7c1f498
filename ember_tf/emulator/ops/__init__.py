"""Semantics of the core's instructions, one function per opcode, grouped in
one file per opcode group (control, queue, integer, floating, counter,
memory, vector, buffer) and registered by mnemonic in HANDLERS.

A handler takes the core state and the decoded operand values (in the
order of the opcode's spec) and returns the next pc, or None for pc + 1.
"""

from __future__ import annotations

from typing import Callable

HANDLERS: dict[str, Callable] = {}


def handler(*mnemonics: str):
    def register(fn: Callable) -> Callable:
        for mnemonic in mnemonics:
            assert mnemonic not in HANDLERS, mnemonic
            HANDLERS[mnemonic] = fn
        return fn

    return register


from ember_tf.emulator.ops import (  # noqa: E402,F401  (registers the handlers)
    buffer,
    control,
    counter,
    floating,
    integer,
    memory,
    queue,
    vector,
)
