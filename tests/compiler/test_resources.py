"""Kernels that do not fit the target machine fail to compile with a CompileError
that says what ran out, never with a broken binary."""

from __future__ import annotations

import pytest

from ember_tf.compiler import CompileOptions, compile_model
from ember_tf.errors import CompileError
from ember_tf.ir import embedding_ops as E


def test_too_many_traversal_units():
    kernel = E.combine([E.gather(8) for _ in range(33)], "many")      # 66 traversal units
    with pytest.raises(CompileError, match="does not fit the target: more than 64 traversal units"):
        compile_model(kernel, CompileOptions(opt_level=0))


def test_too_many_registers():
    # 40 tables on the cpu target: every loop nest keeps its own sizes and constants in registers
    kernel = E.combine([E.embedding_bag(8) for _ in range(40)], "wide")
    with pytest.raises(CompileError, match="does not fit the target: it needs more than"):
        compile_model(kernel, CompileOptions(target="cpu", opt_level=0))


def test_the_same_kernels_fit_when_smaller():
    compile_model(E.combine([E.gather(8) for _ in range(32)], "fits"), CompileOptions(opt_level=0))
