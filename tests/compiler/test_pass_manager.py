"""The pass pipeline as a user drives it: --opt_level, print_ir_after and
disable_pass, with the errors for options that cannot work."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

from ember_tf.compiler import CompileOptions, compile_kernel, compile_model
from ember_tf.errors import CompileError, EmberError
from ember_tf.ir import embedding_ops as E
from ember_tf.ir import print_func
from ember_tf.passes.manager import PASS_NAMES, REQUIRED, pipeline
from tests.compiler.helpers import (
    COMBINERS, MACHINES, bag_inputs, bag_reference, gather_inputs, model, run, segment_inputs, spmm_inputs,
)
from tests.reference import embedding_ops as ref

HEADER = re.compile(r"^// -----// IR Dump After (\w+) //----- //$", re.M)
OPTIONAL = tuple(p.name for p in pipeline() if p.name not in REQUIRED)


def enabled(opt_level: int) -> list[str]:
    return [p.name for p in pipeline() if p.min_opt_level <= opt_level]


def dumps(func, **options) -> dict[str, str]:
    """pass name -> the IR printed after it, in order."""
    out = io.StringIO()
    compile_kernel(func, CompileOptions(**options), out)
    text = out.getvalue()
    names = HEADER.findall(text)
    bodies = HEADER.split(text)[2::2]
    assert len(names) == len(bodies) == len(set(names)), names
    return dict(zip(names, bodies))


# Ember's passes and the opt level that enables each (later passes may join the list)
KNOWN = {"decoupling": 0, "vectorize": 1, "bufferize": 2, "queue_align": 3, "fuse_callbacks": 3, "simplify_mem": 3,
         "promote_accumulators": 3, "slc_to_dlc": 0}


def test_the_pipeline():
    assert [n for n in PASS_NAMES if n in KNOWN] == list(KNOWN), "the passes run in Ember's order"
    assert {p.name: p.min_opt_level for p in pipeline() if p.name in KNOWN} == KNOWN
    assert REQUIRED == ("decoupling", "slc_to_dlc")
    assert PASS_NAMES[0] == "decoupling" and PASS_NAMES[-1] == "slc_to_dlc"
    assert enabled(0) == ["decoupling", "slc_to_dlc"]
    for level in (1, 2, 3):
        assert set(enabled(level - 1)) < set(enabled(level)), "each level adds passes"
        assert [n for n in enabled(level) if n in KNOWN] == [n for n, m in KNOWN.items() if m <= level]


@pytest.mark.parametrize("opt_level", [0, 1, 2, 3], ids=lambda o: f"O{o}")
def test_print_ir_after_all_tmu(opt_level):
    ir = dumps(E.embedding_bag(20, "mean", weighted=True), target="tmu", opt_level=opt_level,
               print_ir_after=("all",))
    assert list(ir) == ["input"] + enabled(opt_level)
    assert 'attributes {level = "scf"}' in ir["input"] and "scf.for" in ir["input"]
    assert "slc." not in ir["input"] and "dlc." not in ir["input"]
    for name in enabled(opt_level)[:-1]:               # every pass between decoupling and slc_to_dlc
        assert 'attributes {level = "slc"}' in ir[name], name
        assert "slc.for" in ir[name] and "slc.callback" in ir[name] and "slc.mem_stream" in ir[name], name
        assert "dlc." not in ir[name], name
    dlc = ir["slc_to_dlc"]
    assert 'attributes {level = "dlc"}' in dlc
    assert "dlc.access {" in dlc and "dlc.compute {" in dlc and "dlc.case" in dlc and "dlc.new_tu" in dlc
    assert "slc.for" not in dlc and "slc.callback" not in dlc
    if opt_level >= 1:
        assert "vector<16xf32>" in ir["vectorize"] and "vector<16xf32>" not in ir["decoupling"]
    if opt_level >= 2:
        assert "slc.buf_stream" in ir["bufferize"] and "slc.buf_stream" not in ir["vectorize"]
    if opt_level == 3:
        names = list(ir)
        before = ir[names[names.index("queue_align") - 1]]
        assert "_counter" in ir["queue_align"] and "_counter" not in before      # the bag counter(s)
        assert "vector.load" in ir["simplify_mem"] and "vector.gather" not in ir["simplify_mem"]


def test_o3_keeps_the_bag_row_in_registers():
    """Ember's O3 passes (any later additions to the pipeline disabled) promote the
    output row of a bag to vector variables, stored once per bag, and stay correct."""
    others = tuple(n for n in OPTIONAL if n not in KNOWN)
    ir = dumps(E.embedding_bag(20, "mean"), opt_level=3, print_ir_after=("simplify_mem", "promote_accumulators"),
               disable_pass=others)
    assert 'var.decl {name = "out_row0", type = vector<16xf32>' in ir["promote_accumulators"]
    assert 'var.decl {name = "out_row16", type = vector<16xf32>' in ir["promote_accumulators"]
    assert "out_row" not in ir["simplify_mem"]
    check("bag", 20, "tmu", model("bag", 20, "tmu", 3, "mean", disable_pass=others), "mean")


def test_print_ir_after_all_cpu():
    """No access unit: decoupling keeps the loops on the core (slc level, no slc.for)."""
    ir = dumps(E.gather(20), target="cpu", opt_level=0, print_ir_after=("all",))
    assert list(ir) == ["input", "decoupling", "slc_to_dlc"]
    assert 'level = "slc"' in ir["decoupling"] and "scf.for" in ir["decoupling"] and "slc.for" not in ir["decoupling"]
    assert 'level = "dlc"' in ir["slc_to_dlc"] and "dlc.access" not in ir["slc_to_dlc"]


def test_print_ir_after_selected_passes():
    ir = dumps(E.gather(37), opt_level=3, print_ir_after=("vectorize", "slc_to_dlc"))
    assert list(ir) == ["vectorize", "slc_to_dlc"]
    ir = dumps(E.gather(37), opt_level=3, print_ir_after=("input",))
    assert list(ir) == ["input"]
    assert ir["input"].strip() == print_func(E.gather(37)).strip()
    # a pass that does not run at this level prints nothing
    assert dumps(E.gather(37), opt_level=0, print_ir_after=("vectorize",)) == {}
    # a disabled pass prints nothing either
    assert list(dumps(E.gather(37), opt_level=3, print_ir_after=("all",), disable_pass=("bufferize",))) == \
        ["input"] + [n for n in PASS_NAMES if n != "bufferize"]


def test_no_dump_without_print_ir_after():
    out = io.StringIO()
    compile_kernel(E.gather(16), CompileOptions(), out)
    assert out.getvalue() == ""


def test_compiling_leaves_the_function_alone_and_is_deterministic():
    func = E.embedding_bag(37, "sqrtn", weighted=True)
    before = print_func(func)
    first = compile_model(func, CompileOptions(opt_level=3))
    assert print_func(func) == before
    assert compile_model(func, CompileOptions(opt_level=3)) == first
    assert compile_model(E.embedding_bag(37, "sqrtn", weighted=True), CompileOptions(opt_level=3)) == first


# ---- disable_pass -----------------------------------------------------------------

def check(op, dim, machine, data, combiner="sum", weighted=False):
    if op == "gather":
        feeds = gather_inputs(21, dim)
        got, _ = run(data, machine, feeds)
        assert np.array_equal(got, ref.gather(feeds["table"], feeds["ids"]))
        return
    if op == "bag":
        feeds = bag_inputs(21, dim, weighted)
        want = bag_reference(feeds, combiner)
    elif op == "segment_sum":
        feeds = segment_inputs(21, dim)
        want = ref.message_passing(feeds["features"], feeds["src"], feeds["dst"])
    else:
        feeds = spmm_inputs(21, dim)
        want = ref.spmm_csr(feeds["row_splits"], feeds["col"], feeds["val"], feeds["dense"])
    got, _ = run(data, machine, feeds)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dim", [20, 100], ids=lambda d: f"d{d}")
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("combiner", COMBINERS)
@pytest.mark.parametrize("machine", MACHINES)
def test_disable_bufferize_at_o3(machine, combiner, weighted, dim):
    data = model("bag", dim, machine, 3, combiner, weighted, disable_pass=("bufferize",))
    assert data != model("bag", dim, machine, 3, combiner, weighted) or machine in ("cpu", "gpu")   # no queues
    check("bag", dim, machine, data, combiner, weighted)


DISABLE_CASES = [(op, c, w) for op in ("gather", "segment_sum", "spmm_csr") for c, w in [("sum", False)]] + \
                [("bag", c, w) for c in COMBINERS for w in (False, True)]


@pytest.mark.parametrize("op, combiner, weighted", DISABLE_CASES,
                         ids=[f"{o}-{'w' if w else ''}{c}" if o == "bag" else o for o, c, w in DISABLE_CASES])
@pytest.mark.parametrize("disabled", OPTIONAL)
@pytest.mark.parametrize("machine", MACHINES)
def test_disable_each_optional_pass_at_o3(machine, disabled, op, combiner, weighted):
    """Any one optional pass off: the others still compose into a correct kernel."""
    check(op, 37, machine, model(op, 37, machine, 3, combiner, weighted, disable_pass=(disabled,)), combiner,
          weighted)


@pytest.mark.parametrize("disabled", [("vectorize", "bufferize"), ("bufferize", "fuse_callbacks"),
                                      ("queue_align", "promote_accumulators"), ("simplify_mem",
                                                                                "promote_accumulators"),
                                      ("bufferize", "queue_align", "fuse_callbacks"), OPTIONAL],
                         ids=lambda d: "+".join(d))
@pytest.mark.parametrize("combiner", COMBINERS)
def test_disable_several_passes_at_o3(disabled, combiner):
    for weighted in (False, True):
        check("bag", 37, "tmu", model("bag", 37, "tmu", 3, combiner, weighted, disable_pass=disabled), combiner,
              weighted)


def test_disabling_everything_optional_at_o3_is_o0():
    for machine in MACHINES:
        assert model("bag", 20, machine, 3, "mean", True, disable_pass=OPTIONAL) == \
            model("bag", 20, machine, 0, "mean", True).replace(b"O0", b"O3")


# ---- errors -------------------------------------------------------------------------

@pytest.mark.parametrize("options, message", [
    (dict(disable_pass=("bufferise",)), "unknown pass 'bufferise'"),
    (dict(print_ir_after=("vectorise",)), "unknown pass 'vectorise'"),
    (dict(disable_pass=("all",)), "unknown pass 'all'"),
    (dict(disable_pass=("input",)), "unknown pass 'input'"),
    (dict(disable_pass=("decoupling",)), "pass 'decoupling' cannot be disabled"),
    (dict(disable_pass=("slc_to_dlc",)), "pass 'slc_to_dlc' cannot be disabled"),
    (dict(disable_pass=("bufferize", "decoupling")), "pass 'decoupling' cannot be disabled"),
    (dict(opt_level=4), "opt_level must be 0, 1, 2 or 3, not 4"),
    (dict(opt_level=-1), "opt_level must be 0, 1, 2 or 3, not -1"),
])
def test_bad_options_raise_compile_error(options, message):
    with pytest.raises(CompileError) as error:
        compile_model(E.gather(16), CompileOptions(**options))
    assert message in str(error.value)
    if "unknown pass" in message:
        assert all(name in str(error.value) for name in PASS_NAMES)   # the message lists the passes


def test_unknown_target_raises():
    with pytest.raises(EmberError, match="unknown machine 'npu' \\(known: cpu, gpu, tmu"):
        compile_model(E.gather(16), CompileOptions(target="npu"))
