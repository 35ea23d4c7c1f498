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


def test_a_core_value_cannot_cross_callbacks():
    """A value computed by one callback and read by another would need a queue or a
    variable; the compiler says so instead of reading a stale register."""
    from ember_tf.ir import Builder

    b = Builder("cross")
    table = b.input("table", "f32", (None, 4))
    ids = b.input("ids", "i32", (None,))
    out = b.output("out", "f32", ((ids, 0, 0), 4))
    with b.loop(0, b.dim(ids, 0)) as n:
        row = b.load(ids, n)
        first = b.load(out, n, 0, hint="first")          # core work in n's per-iteration callback
        with b.loop(0, 4) as d:
            b.store(b.binary("addf", b.load(table, row, d), first), out, n, d)
    with pytest.raises(CompileError, match="first is computed in one callback and used in another"):
        compile_model(b.finish(), CompileOptions())


def test_split_copies_share_registers():
    """split_cores' per-core copies of a loop share one counter and one set of cases, so
    a wide clipped gather still fits (it once needed a counter register per core)."""
    import numpy as np

    from ember_tf.emulator import Interpreter
    from tests.reference import embedding_ops as ref

    data = compile_model(E.gather(129, max_norm=1.0), CompileOptions(opt_level=3))
    rng = np.random.default_rng(4)
    table = rng.standard_normal((40, 129)).astype(np.float32)
    ids = rng.integers(0, 40, 37).astype(np.int32)
    out = Interpreter(model_content=data, mode="fast").get_signature_runner()(table=table, ids=ids)["out"]
    np.testing.assert_allclose(out, ref.clip_rows(table[ids], 1.0), rtol=1e-6, atol=1e-6)
