"""The IR's one operation table (ember_tf/ir/ops.py): every operation name the
compiler's source uses is declared there, the verifier reads it (an operation not
in it is rejected; one added to it verifies with no other change), and the
builder and printer take their lists from it."""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

from ember_tf.errors import CompileError
from ember_tf.ir import Builder, builder, embedding_ops as E, printer, verify
from ember_tf.ir.core import INDEX, FloatType, MaskType, Operation, Value
from ember_tf.ir.ops import INDEX as INDEX_KIND, LEVELS, OPS, SPECS, OpSpec, Unit, arity, kinds_of, many, optional

ROOT = pathlib.Path(__file__).resolve().parents[2] / "ember_tf"
COMPILER_SOURCES = [p for p in [*(ROOT / "ir").glob("*.py"), *(ROOT / "passes").glob("*.py"),
                                 *(ROOT / "codegen").glob("*.py"), ROOT / "compiler.py"] if p.name != "ops.py"]
DIALECTS = {spec.dialect for spec in SPECS}
_OP_NAME = re.compile(r"([a-z]+)\.[a-z_]+")


def _string_constants(path: pathlib.Path) -> set[str]:
    return {node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def _op_names_in_source() -> dict[str, str]:
    """Every `dialect.op` string literal of the compiler's source -> a file using it."""
    found = {}
    for path in COMPILER_SOURCES:
        for text in _string_constants(path):
            match = _OP_NAME.fullmatch(text)
            if match and match.group(1) in DIALECTS:
                found.setdefault(text, str(path.relative_to(ROOT)))
    return found


def test_every_op_name_the_compiler_uses_is_in_the_table():
    names = _op_names_in_source()
    assert len(names) > 30, "the scan found too few names to be looking at the right files"
    missing = {name: where for name, where in names.items() if name not in OPS}
    assert not missing, missing


def test_the_builders_binary_ops_are_the_tables():
    for name in builder.INT_BINARY + builder.FLOAT_BINARY:
        assert f"arith.{name}" in OPS
    assert {f"arith.{n}" for n in builder.INT_BINARY + builder.FLOAT_BINARY} == \
        {s.name for s in SPECS if s.group in ("int binary", "float binary")}


def test_the_printer_prints_the_tables_loops_as_loops():
    assert set(printer._LOOPS) == {"scf.for", "slc.for"} == {s.name for s in SPECS if s.loop}


def test_specs_are_well_formed():
    for spec in SPECS:
        assert spec.levels and spec.levels <= set(LEVELS), spec.name
        for signature in (spec.operands, spec.results):
            assert sum(1 for k in signature if not callable(k)) <= 1, spec.name   # at most one Many
        if spec.loop:
            assert arity(spec.operands) == (3, 3) and len(spec.regions) == 1 and len(spec.regions[0]) == 1


def test_signature_arity_and_kinds():
    sig = (INDEX_KIND, many(INDEX_KIND), INDEX_KIND)
    assert arity(sig) == (2, None)
    assert len(kinds_of(sig, 5)) == 5
    assert arity((INDEX_KIND, optional(INDEX_KIND))) == (1, 2)


# ---- the verifier reads the table ------------------------------------------------

def _kernel(emit) -> "Builder":
    b = Builder("t")
    b.input("table", "f32", (None, 8))
    emit(b)
    return b.finish()


@pytest.mark.parametrize("level", LEVELS)
def test_the_verifier_rejects_an_op_not_in_the_table(level):
    func = _kernel(lambda b: b.emit("arith.frobnicate", [], [INDEX]))
    func.level = level
    with pytest.raises(CompileError, match=rf"\(arith.frobnicate\): not allowed at level {level}: "
                                           r"not an operation of the IR"):
        verify(func)


@pytest.mark.parametrize("name", sorted(OPS))
def test_an_op_outside_its_levels_is_rejected(name):
    for level in set(LEVELS) - OPS[name].levels:
        func = _kernel(lambda b: None)
        func.body.ops.append(Operation(name, [], []))
        func.level = level
        with pytest.raises(CompileError, match=rf"\({re.escape(name)}\): not allowed at level {level}$"):
            verify(func)


def test_an_op_added_to_the_table_verifies(monkeypatch):
    from ember_tf.ir import ops
    from ember_tf.ir.ops import FLOAT
    spec = OpSpec("arith.negf", "float -a", frozenset(LEVELS), Unit.CORE, (FLOAT,), (FLOAT,))
    func = _kernel(lambda b: b.emit("arith.negf", [b.const(1.0, "f32")], [FloatType("f32")], "neg"))
    with pytest.raises(CompileError, match="not an operation of the IR"):
        verify(func)
    monkeypatch.setitem(ops.OPS, "arith.negf", spec)
    verify(func)
    func.body.ops[-1].results[0].type = INDEX
    with pytest.raises(CompileError, match=r"result 0 \(neg\) is a index, not a float: arith.negf float -a"):
        verify(func)


@pytest.mark.parametrize("emit, problem", [
    (lambda b: b.emit("vector.mask", [b.const(0), b.const(4)], [INDEX], "m"), "result 0 (m) is a index, not a mask"),
    (lambda b: b.emit("vector.mask", [b.const(0), b.const(4)], [MaskType(4), MaskType(4)]), "2 results, expected 1"),
    (lambda b: b.emit("tensor.dim", [b.func.args[0]], [INDEX]), "missing attribute axis"),
    (lambda b: b.emit("vector.load", [b.func.args[0]], [FloatType("f32")]), "1 operands, expected at least 2"),
    (lambda b: b.emit("memref.load", [b.func.args[0]], [FloatType("f32")]),
     "needs a tensor and one index per dimension"),
    (lambda b: b.emit("arith.addf", [b.const(1.0, "f32"), b.const(1)], [FloatType("f32")]),
     "operand 1 (c1) is a index, not a float or a float vector"),
    (lambda b: b.emit("var.decl", [], [], name="v", type=INDEX), "missing attribute init"),
])
def test_the_verifier_checks_counts_kinds_and_attributes(emit, problem):
    with pytest.raises(CompileError) as error:
        verify(_kernel(emit))
    assert problem in str(error.value)


def test_a_loop_body_needs_its_induction_value():
    b = Builder("t")
    with b.loop(0, 4):
        pass
    func = b.finish()
    loop = func.body.ops[-1]
    loop.body.args = []
    with pytest.raises(CompileError, match="0 arguments of region 0, expected 1"):
        verify(func)
    loop.body.args = [Value(FloatType("f32"), "x")]
    with pytest.raises(CompileError, match=r"argument of region 0 0 \(x\) is a f32, not an index"):
        verify(func)


@pytest.mark.parametrize("build", [lambda: E.gather(20), lambda: E.embedding_bag(37, "mean", True, "f16"),
                                   lambda: E.ragged_gather(8), lambda: E.segment_sum(8, segments="sorted")])
def test_every_op_of_every_level_is_declared(build):
    """The pipeline's output at every level verifies against the table (the pass
    manager verifies after every pass); here the ops it produced are all in it."""
    import io

    from ember_tf.compiler import CompileOptions, compile_kernel

    out = io.StringIO()
    compile_kernel(build(), CompileOptions(print_ir_after=("all",)), out)
    used = set(re.findall(r"(?<![!\w])((?:%s)\.[a-z_]+)\b" % "|".join(DIALECTS), out.getvalue()))   # not types
    assert used and used <= set(OPS), used - set(OPS)
