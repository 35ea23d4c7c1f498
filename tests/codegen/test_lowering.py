"""The DLC -> ISA lowering's parts (ember_tf/codegen/): the lowering covers the IR's
operation table (a handler for every core operation, words for every access
operation), the register allocator's free lists and liveness, and the driver
composing access lowering, selection and emission."""

from __future__ import annotations

import pytest

from ember_tf.codegen import access_lowering, select
from ember_tf.codegen.isa_lowering import KernelLowering
from ember_tf.codegen.registers import REGISTER_FILES, FreeRegisters, last_uses
from ember_tf.codegen.target import Target
from ember_tf.compiler import CompileOptions, compile_kernel
from ember_tf.ir.core import copy_func
from ember_tf.errors import CompileError
from ember_tf.ir import Builder, embedding_ops as E
from ember_tf.ir.ops import DLC, OPS, SPECS, Unit
from ember_tf.passes.manager import PassManager


def test_every_core_operation_has_a_handler():
    core = {s.name for s in SPECS if s.unit is Unit.CORE and DLC in s.levels}
    assert core == set(select.HANDLERS), (core ^ set(select.HANDLERS))


def test_every_access_operation_makes_words():
    access = {s.name for s in SPECS if s.unit is Unit.ACCESS and DLC in s.levels}
    assert access == access_lowering.ACCESS_OPS


def test_the_arithmetic_the_selection_knows_is_the_tables():
    assert {f"arith.{n}" for n in select.INT_OPS} == {s.name for s in SPECS if s.group == "int binary"}
    assert {f"arith.{n}" for n in select.FLOAT_OPS} | {"arith.div_no_nan"} == \
        {s.name for s in SPECS if s.group == "float binary"}
    assert all(name in OPS for name in select.INVARIANTS)


def test_free_registers_go_lowest_first_and_run_out_with_a_name():
    regs = FreeRegisters()
    assert [regs.take("x", "v") for _ in range(3)] == ["x2", "x3", "x4"]
    regs.give("x3")
    assert regs.take("x", "v") == "x3"
    for _ in range(len(REGISTER_FILES["b"])):
        regs.take("b", "a buffer")
    with pytest.raises(CompileError, match="a buffer: the kernel does not fit the target: it needs more than 4 b"):
        regs.take("b", "a buffer")


def test_a_value_used_in_a_loop_lives_to_the_loops_end():
    b = Builder("k")
    table = b.input("table", "f32", (None, 8))
    out = b.output("out", "f32", ((table, 0, 0), 8))
    x = b.load(table, 0, 0, hint="x")
    with b.loop(0, 8, "d") as d:
        y = b.load(table, 1, d, hint="y")
        b.store(b.binary("addf", x, y), out, 0, d)
    func = b.finish()
    ops = func.body.ops
    loop = ops[-1]
    live = last_uses(ops)
    end_of_loop = live.position[id(loop)] + len(loop.body.ops) + 1
    assert live.last[x.uid] == end_of_loop             # defined outside, used inside: to the loop's end
    assert live.last[y.uid] == live.position[id(loop.body.ops[1])]   # used once, by the addf after it


@pytest.mark.parametrize("target", ["tmu", "cpu"])
def test_the_driver_gives_the_compilers_text(target):
    func = E.embedding_bag(20, "mean", weighted=True)
    machine = Target.from_machine(target)
    work = copy_func(func)
    PassManager(machine, 3).run(work)
    text = KernelLowering(work, machine).kernel_text()
    assert text == compile_kernel(func, CompileOptions(target=target))
    header = "version=1" if target == "tmu" else f"version=3 copies={machine.cores}"   # copies need version 3
    assert text.startswith(f'.kernel "eb_weighted_mean" {header}\n.machine "{target}"')
    assert (".access\n" in text) == (target == "tmu")
    assert text.endswith("        halt\n.end\n")
