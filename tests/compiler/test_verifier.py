"""The IR verifier: well-formed kernels at every level pass; hand-built malformed
functions raise CompileError, from verify() and from the compiler (which verifies
its input before the first pass)."""

from __future__ import annotations

import io

import pytest

from ember_tf.compiler import CompileOptions, compile_kernel, compile_model
from ember_tf.errors import CompileError
from ember_tf.ir import Builder, embedding_ops as E, verify
from ember_tf.ir.core import INDEX, FloatType, Value

WELL_FORMED = {
    "gather": lambda: E.gather(20),
    "gather-f16-i64": lambda: E.gather(37, "f16", "i64"),
    "bag-wmean": lambda: E.embedding_bag(20, "mean", weighted=True),
    "bag-sqrtn-pooled": lambda: E.embedding_bag(20, "sqrtn", pooling=4),
    "segment_sum": lambda: E.segment_sum(20),
    "spmm_csr": lambda: E.spmm_csr(20),
}


@pytest.mark.parametrize("name", list(WELL_FORMED))
def test_the_embedding_ops_verify(name):
    verify(WELL_FORMED[name]())


def copy_kernel(store_into: str = "out") -> tuple[Builder, dict]:
    """out[n, d] = table[ids[n], d], built up to the store (the caller finishes it)."""
    b = Builder("copy")
    v = {"table": b.input("table", "f32", (None, 8)), "ids": b.input("ids", "i32", (None,))}
    v["out"] = b.output("out", "f32", ((v["ids"], 0, 0), 8))
    return b, v


def malformed_use_before_definition():
    b, v = copy_kernel()
    with b.loop(0, b.dim(v["ids"], 0), "n") as n:
        row = b.load(v["ids"], n, hint="id")
        with b.loop(0, 8, "d") as d:
            b.store(b.load(v["table"], row, d, hint="x"), v["out"], n, d)
    loop = next(op for op in b.func.body.ops if op.name == "scf.for")
    body = loop.body.ops
    body.reverse()            # the inner loop (using %id) now comes before the load defining %id
    return b.finish(), "operand id is not defined before this use"


def malformed_value_from_nowhere():
    b, v = copy_kernel()
    stray = Value(INDEX, "stray")          # defined by no operation of the function
    with b.loop(0, 8, "d") as d:
        b.store(b.load(v["table"], stray, d), v["out"], b.const(0), d)
    return b.finish(), "operand stray is not defined before this use"


def malformed_induction_variable_outside_its_loop():
    b, v = copy_kernel()
    with b.loop(0, b.dim(v["ids"], 0), "n") as n:
        pass
    with b.loop(0, 8, "d") as d:
        b.store(b.load(v["table"], n, d), v["out"], n, d)
    return b.finish(), "operand n is not defined before this use"


def malformed_store_into_input():
    b, v = copy_kernel()
    with b.loop(0, b.dim(v["ids"], 0), "n") as n:
        with b.loop(0, 8, "d") as d:
            b.store(b.load(v["table"], n, d), v["table"], n, d)
    return b.finish(), "stores into table, which is not an output"


def malformed_store_of_wrong_type():
    b, v = copy_kernel()
    with b.loop(0, b.dim(v["ids"], 0), "n") as n:
        with b.loop(0, 8, "d") as d:
            half = b.emit("arith.constant", [], [FloatType("f16")], value=1.0).result
            b.store(half, v["out"], n, d)
    return b.finish(), "stores a f16 into a f32 tensor"


def malformed_float_index():
    b, v = copy_kernel()
    with b.loop(0, b.dim(v["ids"], 0), "n") as n:
        x = b.load(v["table"], n, 0)
        with b.loop(0, 8, "d") as d:
            b.emit("memref.load", [v["table"], x, d], [FloatType("f32")])
    return b.finish(), "is a f32, not an index"


def malformed_wrong_rank():
    b, v = copy_kernel()
    with b.loop(0, 8, "d") as d:
        b.emit("memref.load", [v["table"], d], [FloatType("f32")])
    return b.finish(), "needs a tensor and one index per dimension"


def malformed_unknown_op():
    b, _ = copy_kernel()
    b.emit("arith.frobnicate", [], [INDEX])
    return b.finish(), "(arith.frobnicate): not allowed at level scf"


def malformed_slc_op_at_scf_level():
    b, _ = copy_kernel()
    b.emit("slc.callback", [], [], event="ite")
    return b.finish(), "(slc.callback): not allowed at level scf"


def malformed_wrong_arity():
    b, _ = copy_kernel()
    one = b.emit("arith.constant", [], [FloatType("f32")], value=1.0).result
    b.emit("arith.sqrtf", [one, one], [FloatType("f32")])
    return b.finish(), "2 operands, expected 1"


def malformed_unknown_variable():
    b, _ = copy_kernel()
    b.emit("var.get", [], [INDEX], var="nope")
    return b.finish(), "unknown variable nope"


def malformed_variable_declared_in_a_loop():
    b, _ = copy_kernel()
    with b.loop(0, 8, "d"):
        b.var("acc", 0.0, "f32")
    return b.finish(), "variables are declared at the function's top level"


def malformed_itofp_of_a_float():
    b, v = copy_kernel()
    with b.loop(0, b.dim(v["ids"], 0), "n") as n:
        b.to_float(b.load(v["table"], n, 0), "f32")
    return b.finish(), "converts an index to a float"


MALFORMED = {f.__name__.removeprefix("malformed_"): f for f in [
    malformed_use_before_definition, malformed_value_from_nowhere, malformed_induction_variable_outside_its_loop,
    malformed_store_into_input, malformed_store_of_wrong_type, malformed_float_index, malformed_wrong_rank,
    malformed_unknown_op, malformed_slc_op_at_scf_level, malformed_wrong_arity, malformed_unknown_variable,
    malformed_variable_declared_in_a_loop, malformed_itofp_of_a_float,
]}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_function_raises(name):
    func, problem = MALFORMED[name]()
    with pytest.raises(CompileError) as error:
        verify(func)
    message = str(error.value)
    assert message.startswith("IR verification of copy at level scf"), message
    assert problem in message, message


@pytest.mark.parametrize("name", ["use_before_definition", "store_into_input", "unknown_op"])
@pytest.mark.parametrize("target", ["tmu", "cpu"])
def test_the_compiler_verifies_its_input(name, target):
    func, _ = MALFORMED[name]()
    out = io.StringIO()
    with pytest.raises(CompileError, match="IR verification"):
        compile_kernel(func, CompileOptions(target=target, print_ir_after=("all",)), out)
    assert out.getvalue() == "", "nothing is printed for a function that does not verify"
    with pytest.raises(CompileError, match="IR verification"):
        compile_model(func, CompileOptions(target=target, opt_level=0))


def test_a_well_formed_hand_built_kernel_compiles_and_runs():
    """The same builder calls, in the right order, give a kernel that runs: the
    malformed cases fail for what they break, not for how they are built."""
    import numpy as np

    from tests.compiler.helpers import run

    b, v = copy_kernel()
    with b.loop(0, b.dim(v["ids"], 0), "n") as n:
        row = b.load(v["ids"], n, hint="id")
        with b.loop(0, 8, "d") as d:
            b.store(b.load(v["table"], row, d, hint="x"), v["out"], n, d)
    func = b.finish()
    verify(func)
    table = np.arange(40, dtype=np.float32).reshape(5, 8)
    ids = np.array([4, 0, 4, 2], np.int32)
    for target in ("tmu", "cpu"):
        got, _ = run(compile_model(func, CompileOptions(target=target)), target, {"table": table, "ids": ids})
        assert np.array_equal(got, table[ids])
