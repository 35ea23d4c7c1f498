"""Every opcode of dae_isa/opcodes.py, run in both emulator modes.

A kernel generated here executes every execute-unit opcode (with the program's element
types, and others through conversions) and configures every access-unit word: each TU kind,
each stream op with every ALU op and every SRC kind, marshal rules at every event, every
lane-group mode, and the fast mode's shortcuts (a row copied into its buffer, prefetched rows,
general buffers). Golden and fast mode must agree bit for bit on outputs and on every
statistic, and the opcodes each mode executed must be exactly the table's: an opcode added
to the table and not covered here, or without a fast-mode implementation, fails.
"""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest

from ember_tf import dae_isa
from ember_tf.dae_isa import dtypes
from ember_tf.dae_isa.encoding import decode
from ember_tf.dae_isa.opcodes import BY_CODE, SPECS, AluOp, Event, GroupMode, SrcKind, Unit
from ember_tf.emulator import Interpreter, fast
from ember_tf.emulator.ops import HANDLERS
from ember_tf.emulator.program import load_kernel
from ember_tf.errors import EmulationError
from ember_tf.machines import load_machine
from tests.emulator.programs import TMU_MACHINE

FLOATS = ("f32", "f64", "f16", "bf16")
# (the program's float and int element types, a second float type for conversions)
PROGRAMS = [("f32", "i32", "bf16"), ("f64", "i64", "f16"), ("f16", "i64", "f64"), ("bf16", "i32", "f32")]
OUT = 200_000                      # elements of each output: every value stored stays visible
R, D, M = 12, 37, 64               # table rows and columns (D: a partial last chunk), ints
OFFSETS = [0, 3, 3, 7, 8, 16]      # five bags, one empty: 16 ids


def _name(suffix: str) -> str:
    return dtypes.BY_SUFFIX[suffix].name


def _lanes(suffix: str) -> int:
    return 64 // dtypes.BY_SUFFIX[suffix].itemsize   # vector_bytes=64 (TMU_MACHINE)


def every_opcode_program(fs: str, isx: str, other: str) -> str:
    """A kernel over CSR bags of ids into a table ([R, D], element type fs) that runs every
    opcode; it stores what it computes to out_f (fs) and out_i (isx), one value after another."""
    vf, vi = _lanes(fs), _lanes(isx)
    other_i = "i64" if isx == "i32" else "i32"

    def sti(x):    # out_i[x23++] = x
        return [f"st.{isx} {x}, out_i, x23", "addi x23, x23, 1", "rem x23, x23, x25"]

    def stf(f):    # out_f[x22++] = f
        return [f"fst.{fs} {f}, out_f, x22", "addi x22, x22, 1", "rem x22, x22, x24"]

    def stv(v, mask="m7"):   # a vector, as fs or isx, its lanes after each other
        if v[1] == "i":
            return [f"vcvt.{isx} v30, {v[0]}", f"vst.{isx} v30, out_i, x23, {mask}", f"addi x23, x23, {vi}",
                    "rem x23, x23, x25"]
        return [f"vcvt.{fs} v31, {v[0]}", f"vst.{fs} v31, out_f, x22, {mask}", f"addi x22, x22, {vf}",
                "rem x22, x22, x24"]

    def all_(*blocks):
        return [line for block in blocks for line in block]

    lines = [
        f'.model version=1 description="every opcode ({fs}, {isx})"',
        f'.tensor 0 "table" dtype={_name(fs)} shape=[1, 1] signature=[-1, -1]',
        f'.tensor 1 "ids" dtype={_name(isx)} shape=[1] signature=[-1]',
        f'.tensor 2 "offs" dtype={_name(isx)} shape=[2] signature=[-1]',
        f'.tensor 3 "vals" dtype={_name(fs)} shape=[1] signature=[-1]',
        f'.tensor 4 "ints" dtype={_name(isx)} shape=[1] signature=[-1]',
        '.tensor 5 "sizes" dtype=int32 shape=[1] signature=[-1]',
        f'.tensor 6 "out_f" dtype={_name(fs)} shape=[1] signature=[-1]',
        f'.tensor 7 "out_i" dtype={_name(isx)} shape=[1] signature=[-1]',
        '.kernel "every_opcode" version=2', TMU_MACHINE,
        f".slot table {_name(fs)} read rank=2", f".slot ids {_name(isx)} read rank=1",
        f".slot offs {_name(isx)} read rank=1", f".slot vals {_name(fs)} read rank=1",
        f".slot ints {_name(isx)} read rank=1", ".slot sizes int32 read rank=1",
        f".slot out_f {_name(fs)} write rank=1 shape=[p5]", f".slot out_i {_name(isx)} write rank=1 shape=[p5]",
        ".param p0 slot=offs dim=0 add=-1", ".param p1 slot=table dim=1", ".param p2 slot=table dim=0",
        ".param p3 slot=ints dim=0", ".param p4 slot=ids dim=0", ".param p5 slot=sizes element=0",
        ".const k0 3", ".const k1 -7", ".const k2 2", ".const k3 1099511627776",
        ".fconst kf0 1.5", ".fconst kf1 -0.1", ".fconst kf2 70000.0", ".fconst kf3 1e-6", ".fconst kf4 3.0e38",
        ".fconst kf5 0.333333333333",
        ".jumptable jt0 done h1 h2 h3 h4 h5 h6 h7 h8 h9 h10 h11 h12 h13 h14 h15",
        ".jumptable jt1 j0 j1",
        ".access",
        # root t0: one iteration per bag b; every ALU op and every SRC kind
        "  tu.dns t0, parent=none, width=1, lb=0, ub=p0",
        "  str.ite s0, tu=t0",
        "  str.mem s1, tu=t0, slot=offs, index=s0, col=none",
        "  str.alu s2, tu=t0, op=add, a=s0, b=1",
        "  str.mem s3, tu=t0, slot=offs, index=s2, col=none",
        "  str.alu s4, tu=t0, op=sub, a=s3, b=s1",
        "  str.alu s5, tu=t0, op=mul, a=s1, b=p1",
        "  str.alu s6, tu=t0, op=div, a=k1, b=s2",
        "  str.alu s7, tu=t0, op=rem, a=k1, b=k0",
        "  str.alu s8, tu=t0, op=min, a=s1, b=-2",
        "  str.alu s9, tu=t0, op=max, a=s3, b=s4",
        "  str.alu s10, tu=t0, op=shl, a=s2, b=k0",
        "  str.alu s11, tu=t0, op=shr, a=k1, b=1",
        "  str.alu s12, tu=t0, op=rem, a=s3, b=s2",
        "  str.fwd s13, tu=t0, src=p1",
        "  str.fwd s14, tu=t0, src=k3",
        "  str.fwd s15, tu=t0, src=-5",
        "  str.fwd s16, tu=t0, src=s1",
        "  mar.cb t0, event=beg, id=1",
        *[f"  mar.opnd t0, event=ite, stream=s{s}" for s in range(17)],
        "  mar.cb t0, event=ite, id=2",
        # t1: the bag's ids (a CSR range); pushes an ancestor's stream too
        "  tu.rng t1, parent=t0, width=1, lb=s1, ub=s3",
        "  str.ite s17, tu=t1",
        "  str.mem s18, tu=t1, slot=ids, index=s17, col=none",
        "  str.mem s19, tu=t1, slot=vals, index=s17, col=none",
        "  mar.opnd t1, event=ite, stream=s18",
        "  mar.opnd t1, event=ite, stream=s19",
        "  mar.opnd t1, event=ite, stream=s0",
        "  mar.cb t1, event=ite, id=3",
        # t2: the id's row copied into a buffer (the fast mode's row copy, rows prefetched)
        f"  tu.dns t2, parent=t1, width={vf}, lb=0, ub=p1",
        "  str.ite s20, tu=t2",
        "  str.mem s21, tu=t2, slot=table, index=s18, col=s20",
        "  str.buf s22, tu=t2, src=s21",
        "  mar.opnd t2, event=end, stream=s22",
        "  mar.cb t2, event=end, id=4",
        # t3: the row again in 8-lane vectors, with an integer vector and two buffers
        "  tu.dns t3, parent=t1, width=8, lb=0, ub=p1",
        "  str.ite s23, tu=t3",
        "  str.mem s24, tu=t3, slot=table, index=s18, col=s23",
        "  str.alu s25, tu=t3, op=add, a=s23, b=s18",
        "  str.buf s26, tu=t3, src=s24",
        "  str.buf s27, tu=t3, src=s25",
        "  mar.opnd t3, event=ite, stream=s24",
        "  mar.opnd t3, event=ite, stream=s25",
        "  mar.cb t3, event=ite, id=5",
        "  mar.opnd t3, event=end, stream=s26",
        "  mar.opnd t3, event=end, stream=s27",
        "  mar.opnd t3, event=end, stream=s19",
        "  mar.cb t3, event=end, id=6",
        "  mar.cb t1, event=end, id=7",
        # t4: the bag's ids again, 4 at a time (an index TU): a gather with a vector index
        "  tu.idx t4, parent=t0, width=4, lb=s1, size=s4",
        "  str.ite s28, tu=t4",
        "  str.mem s29, tu=t4, slot=ids, index=s28, col=none",
        "  str.mem s30, tu=t4, slot=table, index=s29, col=1",
        "  str.mem s31, tu=t4, slot=vals, index=s28, col=none",
        "  str.buf s32, tu=t4, src=s30",
        "  mar.opnd t4, event=ite, stream=s29",
        "  mar.opnd t4, event=ite, stream=s30",
        "  mar.opnd t4, event=ite, stream=s31",
        "  mar.cb t4, event=ite, id=8",
        "  mar.opnd t4, event=end, stream=s32",
        "  mar.cb t4, event=end, id=9",
        "  mar.cb t0, event=end, id=10",
        # root t5: constant bounds (a constant and an immediate); t6 pushes at beg and end
        "  tu.dns t5, parent=none, width=1, lb=k2, ub=6",
        "  str.ite s33, tu=t5",
        "  str.mem s34, tu=t5, slot=ints, index=s33, col=none",
        "  mar.cb t5, event=beg, id=12",
        "  mar.opnd t5, event=ite, stream=s34",
        "  mar.cb t5, event=ite, id=11",
        "  tu.dns t6, parent=t5, width=1, lb=0, ub=p2",
        "  mar.opnd t6, event=beg, stream=s34",
        "  mar.cb t6, event=beg, id=14",
        "  mar.opnd t6, event=end, stream=s33",
        "  mar.cb t6, event=end, id=15",
        "  mar.cb t5, event=end, id=13",
        "  tu.group t0, layer=0, mode=single, lanes=1",
        "  tu.group t1, layer=1, mode=bcast, lanes=1",
        "  tu.group t2, layer=2, mode=lockstep, lanes=8",
        "  tu.group t3, layer=2, mode=lockstep, lanes=8",
        "  tu.group t4, layer=1, mode=lockstep, lanes=4",
        ".execute",
        "        param x20, p1",                 # D
        "        param x21, p2",                 # R
        "        param x24, p5",
        "        addi x24, x24, -64",            # where the output cursors wrap
        "        mov x25, x24",
        "        li x22, 0",                     # out_f cursor
        "        li x23, 0",                     # out_i cursor
        "        li x26, 64",
        "        mset m7, x26",                  # every lane
        "        vzero.f32 v2",                  # a row sum (bld + vadd: fused in f32)
        f"        lf.{fs} f1, kf0",
        "loop:   cb.pop x1",
        "        br.tab x1, jt0",
    ]
    # h1 (t0 beg): integers, branches, counters, a second jump table
    lines += all_(
        ["h1:     li x5, 7", "        li x6, -3", "        lc x7, k3", "        param x8, p3", "        li x10, 66"],
        *[[f"        {op} x9, {a}, {b}", *sti("x9")] for op, a, b in (
            ("add", "x5", "x6"), ("sub", "x6", "x5"), ("mul", "x7", "x7"), ("mul", "x6", "x5"),
            ("div", "x6", "x5"), ("div", "x5", "x6"), ("rem", "x5", "x6"), ("rem", "x6", "x5"),
            ("and", "x6", "x5"), ("or", "x6", "x5"), ("xor", "x6", "x5"), ("shl", "x7", "x5"),
            ("shl", "x5", "x10"), ("shr", "x6", "x10"), ("shr", "x7", "x5"), ("slt", "x6", "x5"),
            ("slt", "x5", "x6"), ("min", "x6", "x5"), ("max", "x6", "x5"))],
        ["        addi x9, x6, -100000"], sti("x9"), ["        muli x9, x7, 3"], sti("x9"),
        ["        mov x9, x8"], sti("x9"), ["        param x9, p4"], sti("x9"),
        ["        add x0, x5, x5"], sti("x0"),
        ["        ctr.set c1, 10", "        ctr.inc c1, -3", "        ctr.get x9, c1"], sti("x9"),
        ["        ctr.get x0, c1",
         "        li x11, 1",
         "        beq x5, x6, b1", "        addi x11, x11, 2",      # not taken
         "b1:     beq x5, x5, b2", "        addi x11, x11, 4",      # taken
         "b2:     bne x5, x6, b3", "        addi x11, x11, 8",
         "b3:     bne x5, x5, b4", "        addi x11, x11, 16",
         "b4:     blt x6, x5, b5", "        addi x11, x11, 32",
         "b5:     blt x5, x6, b6", "        addi x11, x11, 64",
         "b6:     bge x5, x5, b7", "        addi x11, x11, 128",
         "b7:     bge x6, x5, b8", "        addi x11, x11, 256",
         "b8:     li x12, 1", "        br.tab x12, jt1",
         "j0:     addi x11, x11, 1000",
         "j1:"], sti("x11"),
        ["        li x9, -5", "        mset m6, x9", f"        vredsum.{fs} f9, v2, m6"], stf("f9"),
        ["        li x9, 100", "        mset m6, x9", "        jmp loop"],
    )
    # h2 (t0 ite): the bag's 17 integer streams
    lines += all_(["h2:"], *[["        q.pop x9", *sti("x9")] for _ in range(17)], ["        jmp loop"])
    # h3 (t1 ite): an id, its weight (a float scalar) and the bag; scalar floats in every type
    lines += all_(
        ["h3:     q.pop x9", f"        q.popf.{fs} f1", "        q.pop x10"], sti("x9"), sti("x10"), stf("f1"),
        *[all_([f"        lf.{d} f2, kf0", f"        lf.{d} f3, kf2", f"        lf.{d} f4, kf3",
                f"        lf.{d} f5, kf4", f"        lf.{d} f6, kf1", f"        lf.{d} f7, kf5"],
               stf("f2"), stf("f3"), stf("f4"), stf("f5"), stf("f6"), stf("f7"),
               *[[f"        {op}.{d} f8, {a}, {b}", *stf("f8")] for op, a, b in (
                   ("fadd", "f1", "f7"), ("fsub", "f1", "f3"), ("fmul", "f1", "f3"), ("fmul", "f1", "f4"),
                   ("fdiv", "f1", "f2"), ("fdiv", "f2", "f1"), ("fmax", "f1", "f6"), ("fmin", "f1", "f6"),
                   ("fadd", "f5", "f5"))],
               [f"        fmul.{d} f8, f1, f1", f"        fsqrt.{d} f8, f8"], stf("f8"),
               [f"        fsqrt.{d} f8, f7"], stf("f8"),
               [f"        fcvt.{d} f8, x9"], stf("f8"), [f"        fcvt.{d} f8, x7"], stf("f8"))
          for d in FLOATS],
        ["        fmov f12, f1"], stf("f12"),
        [f"        fld.{fs} f12, table, x9"], stf("f12"),
        [f"        ld.{isx} x11, ints, x9"], sti("x11"),
        [f"        ld.{isx} x11, ids, x10"], sti("x11"),
        ["        jmp loop"],
    )
    # h4 (t2 end): the row's buffer, chunk by chunk: loads in three types, vector arithmetic
    lines += all_(
        ["h4:     q.bpop b0", "        blen x12, b0"], sti("x12"),
        [f"        lf.{fs} f13, kf0", f"        vsplat.{fs} v8, f13", "        li x13, 0",
         "c4:     sub x14, x20, x13", "        mset m0, x14",
         f"        bld.{fs} v1, b0, x13, m0",
         f"        vadd.{fs} v2, v2, v1",
         "        bld.f64 v3, b0, x13, m0",
         f"        bld.{isx} v4, b0, x13, m0",
         f"        bld.{other} v5, b0, x13, m0",
         f"        vmul.{fs} v6, v1, v1",
         f"        vsub.{fs} v7, v6, v1",
         f"        vdiv.{fs} v9, v6, v8",
         f"        vmax.{fs} v10, v1, v7",
         f"        vmin.{fs} v11, v1, v7",
         f"        vscale.{fs} v12, v1, f1",
         "        vmov v13, v1",
         f"        vfma.{fs} v13, v1, v8",
         f"        vadd.{other} v14, v1, v3",
         f"        vfma.{other} v13, v5, v8",
         f"        vredsum.{fs} f14, v1, m0"], stf("f14"),
        [f"        vredsum.{other} f14, v3, m0"], stf("f14"),
        *[stv((f"v{r}", "f"), "m0") for r in (1, 3, 5, 6, 7, 9, 10, 11, 12, 13, 14)], stv(("v4", "i")),
        [f"        addi x13, x13, {vf}", "        blt x13, x20, c4", "        jmp loop"],
    )
    # h5 (t3 ite): a float vector and an integer one (popped as another float type); integer vectors
    lines += all_(
        [f"h5:     q.vpop.{fs} v15, m1", f"        q.vpop.{other} v16, m2"], stv(("v15", "f"), "m1"),
        stv(("v16", "f"), "m2"),
        ["        li x15, 1", f"        viota.{isx} v17, x15", f"        vcvt.{isx} v18, v16",
         f"        vadd.{isx} v19, v18, v17", f"        vsub.{isx} v20, v17, v18", f"        vmul.{isx} v21, v18, v17",
         f"        vdiv.{isx} v22, v20, v17", f"        vmax.{isx} v23, v20, v18", f"        vmin.{isx} v24, v20, v18",
         "        vmov v25, v24", f"        vzero.{isx} v26", f"        vzero.{fs} v27",
         f"        vcvt.{other_i} v28, v15"],
        *[stv((f"v{r}", "i")) for r in (17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 28)], stv(("v27", "f")),
        ["        jmp loop"],
    )
    # h6 (t3 end): a float and an integer buffer, and an ancestor's float scalar
    lines += all_(
        ["h6:     q.bpop b1", "        q.bpop b2", f"        q.popf.{other} f10", "        blen x15, b1",
         "        blen x16, b2"], sti("x15"), sti("x16"), stf("f10"),
        ["        mset m3, x20", f"        bld.{isx} v18, b2, x0, m3", f"        bld.{fs} v19, b2, x0, m3",
         f"        bld.{isx} v20, b1, x0, m3", f"        bld.{other} v21, b1, x0, m3", "        li x17, 5",
         "        bld.f32 v22, b1, x17, m3", "        vadd.f32 v2, v2, v22"],
        stv(("v18", "i")), stv(("v19", "f")), stv(("v20", "i")), stv(("v21", "f")), stv(("v22", "f")),
        ["        jmp loop"],
    )
    # h7 (t1 end): the bag's row sum, reduced in every float type
    lines += all_(
        ["h7:"], *[[f"        vredsum.{d} f11, v2, m7", *stf("f11")] for d in FLOATS], stv(("v2", "f")),
        ["        vzero.f32 v2", "        ctr.inc c2, 1", "        jmp loop"],
    )
    # h8 (t4 ite): ids, table[ids, 1] and weights as vectors; gathers, scatters, loads
    lines += all_(
        [f"h8:     q.vpop.{isx} v0, m4", f"        q.vpop.{fs} v1, m5", f"        q.vpop.{other_i} v3, m6"],
        stv(("v0", "i"), "m4"), stv(("v1", "f"), "m5"), stv(("v3", "i"), "m6"),
        ["        fcvt.f16 f15, x20", "        vsplat.f16 v4, f15", f"        vcvt.{isx} v5, v4",   # 32 lanes of D
         f"        vmul.{isx} v6, v0, v5", f"        vgather.{fs} v7, table, v6, m4",
         f"        vgather.{isx} v9, ints, v0, m4",
         f"        viota.{isx} v10, x23", "        li x18, 2", "        fcvt.f16 f16, x18",
         "        vsplat.f16 v11, f16",
         f"        vcvt.{isx} v11, v11", f"        vdiv.{isx} v12, v10, v11",    # lane pairs: repeated indices
         f"        vscatter.{isx} v9, out_i, v12, m4", f"        addi x23, x23, {vi}", "        rem x23, x23, x25",
         f"        viota.{isx} v10, x22", f"        vscatter.{fs} v7, out_f, v10, m4",
         f"        addi x22, x22, {vf}", "        rem x22, x22, x24",
         f"        vld.{fs} v13, table, x21, m5", f"        vld.{isx} v14, ints, x21, m4",
         f"        vld.{fs} v15, vals, x0, m5"],
        stv(("v7", "f")), stv(("v9", "i")), stv(("v13", "f")), stv(("v14", "i")), stv(("v15", "f")),
        ["        jmp loop"],
    )
    # h9 (t4 end): the gathered table[ids, 1] as a buffer (possibly empty)
    lines += all_(
        ["h9:     q.bpop b3", "        blen x18, b3"], sti("x18"),
        ["        mset m0, x18", f"        bld.{fs} v16, b3, x0, m0"], stv(("v16", "f")), ["        jmp loop"],
    )
    # h10 (t0 end): a cb.pop and a br.tab that are not paired
    lines += ["h10:    cb.pop x1", "        mov x2, x1", "        br.tab x2, jt0"]
    lines += all_(["h11:    q.pop x19"], sti("x19"), ["        jmp loop"])
    # h12 (t5 beg): the second root's values go to the outputs' second halves
    lines += ["h12:    li x15, 1", "        shr x22, x24, x15", "        shr x23, x25, x15", "        jmp loop"]
    lines += all_(["h13:    ctr.get x19, c2"], sti("x19"), ["        jmp loop"])
    lines += all_(["h14:    q.pop x19"], sti("x19"), ["        jmp loop"])
    lines += all_(["h15:    q.pop x19"], sti("x19"), ["        jmp loop"])
    lines += all_(["done:   ctr.get x19, c1"], sti("x19"), ["        halt"])
    lines += [
        ".end",
        '.subgraph "main" inputs=[0, 1, 2, 3, 4, 5] outputs=[6, 7]',
        ".operator kernel 0 inputs=[0, 1, 2, 3, 4, 5] outputs=[6, 7]",
        '.signature "serving_default" subgraph=0',
        '.input "table" 0', '.input "ids" 1', '.input "offs" 2', '.input "vals" 3', '.input "ints" 4',
        '.input "sizes" 5', '.output "out_f" 6', '.output "out_i" 7',
    ]
    return "\n".join(lines) + "\n"


def _feeds(fs: str, isx: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(17)
    f_type, i_type = (dtypes.numpy_dtype(dtypes.BY_SUFFIX[s].code) for s in (fs, isx))
    n = OFFSETS[-1]
    return {"table": (rng.standard_normal((R, D)) * 3).astype(f_type),
            "ids": rng.integers(0, R, n).astype(i_type),
            "offs": np.array(OFFSETS, i_type),
            "vals": (rng.standard_normal(n) * 2 + 0.5).astype(f_type),
            "ints": rng.integers(-1000, 1000, M).astype(i_type),
            "sizes": np.array([OUT], np.int32)}


def _run(model: bytes, mode: str, feeds: dict, cores: int | None):
    overrides = {} if cores is None else {"cores": cores}
    interpreter = Interpreter(model_content=model, machine="tmu", mode=mode, **overrides)
    outputs = interpreter.get_signature_runner()(**feeds)
    return outputs, interpreter.last_stats.to_json() | {"mode": None}


@pytest.fixture
def executed(monkeypatch):
    """The mnemonics each mode executed: golden through its handlers, fast from its
    per-instruction run counts."""
    seen = {"golden": set(), "fast": set()}
    for mnemonic, handler in list(HANDLERS.items()):
        def recording(core, *args, _m=mnemonic, _h=handler):
            seen["golden"].add(_m)
            return _h(core, *args)
        monkeypatch.setitem(HANDLERS, mnemonic, recording)
    give_back = fast._Encoded.give_back

    def recorded(self, workspace):
        seen["fast"].update(BY_CODE[int(self.exe_op[pc])].mnemonic for pc in np.flatnonzero(workspace.runs))
        give_back(self, workspace)

    monkeypatch.setattr(fast._Encoded, "give_back", recorded)
    return seen


EXECUTE = {s.mnemonic for s in SPECS if s.unit is Unit.EXECUTE}
ACCESS = {s.mnemonic for s in SPECS if s.unit is Unit.ACCESS}


@pytest.mark.parametrize("cores", [1, None], ids=["one-core", "machine-cores"])
@pytest.mark.parametrize("fs, isx, other", PROGRAMS, ids=[f"{p[0]}-{p[1]}" for p in PROGRAMS])
def test_every_opcode_runs_alike_in_both_modes(executed, fs, isx, other, cores):
    model = dae_isa.assemble(every_opcode_program(fs, isx, other))
    data = dae_isa.serialize_model(model)
    feeds = _feeds(fs, isx)
    golden_out, golden_stats = _run(data, "golden", feeds, cores)
    fast_out, fast_stats = _run(data, "fast", feeds, cores)
    for key in golden_out:
        assert golden_out[key].dtype == fast_out[key].dtype
        assert np.array_equal(golden_out[key].view(np.uint8), fast_out[key].view(np.uint8)), key
    assert fast_stats == golden_stats
    assert np.count_nonzero(golden_out["out_f"]) > 2000 and np.count_nonzero(golden_out["out_i"]) > 500
    assert executed["golden"] == EXECUTE, EXECUTE ^ executed["golden"]
    assert executed["fast"] == EXECUTE, EXECUTE ^ executed["fast"]


def test_the_program_configures_every_access_word_and_fast_shortcut():
    """The generated kernel's access-unit configuration uses every access-unit opcode, TU kind,
    stream op, ALU op, SRC kind, marshal event and lane-group mode, and (in f32) the fast mode's
    row copy, direct buffer and row prefetch next to the general paths."""
    kernel = dae_isa.assemble(every_opcode_program("f32", "i32", "bf16")).kernels[0]
    program = load_kernel(kernel)
    access = [decode(word) for word in kernel.accessCode]
    assert {ins.mnemonic for ins in access} == ACCESS
    assert {tu.kind for tu in program.tus.values()} == {"dns", "rng", "idx"}
    assert {s.op for s in program.streams.values()} == set(fast.STREAM_OPS)
    assert {s.alu for s in program.streams.values() if s.alu is not None} == set(AluOp)
    srcs = [src for s in program.streams.values() for src in (s.index, s.col, s.a, s.b) if src is not None]
    srcs += [src for tu in program.tus.values() for src in (tu.lb, tu.ub)]
    assert {src.kind for src in srcs} == set(SrcKind)
    for rule_kind in ("stream", "callback"):
        assert {event for tu in program.tus.values() for event in Event
                if any(getattr(rule, rule_kind) is not None for rule in tu.rules[event])} == set(Event)
    assert {tu.mode for tu in program.tus.values()} == set(GroupMode)
    enc = fast._Encoded(program, load_machine("tmu"))
    assert (enc.tu_row_copy >= 0).sum() == 1 and (enc.st_direct == -2).sum() == 1 and (enc.st_prefetch >= 0).any()
    assert (enc.st_contiguous & (enc.st_direct == -1)).any()        # a row slice loaded into vectors
    assert ((enc.st_op == fast.S_BUF) & (enc.st_direct == -1)).sum() == 3   # buffers filled lane by lane
    assert set(enc.exe_fused.tolist()) == {fast.FUSED_NONE, fast.FUSED_BRTAB, fast.FUSED_VADD}


def _with_opcode(monkeypatch, mnemonic: str, code: int):
    """Makes the fast mode's encoder put `code` where the program has `mnemonic` (its first
    occurrence): an opcode the compiled core has no branch for."""
    init = fast._Encoded.__init__
    where = {}

    def patched(self, program, machine):
        init(self, program, machine)
        pc = next(pc for pc, ins in enumerate(program.execute) if ins.mnemonic == mnemonic)
        self.exe_op[pc] = code   # the array _core reads (the tuple holds this same array)
        where["pc"] = pc

    monkeypatch.setattr(fast._Encoded, "__init__", patched)
    return where


@pytest.mark.parametrize("code, shown", [(0x9F, "opcode 0x9f"), (0xC0, "opcode tu.dns (0xc0)")])
def test_fast_mode_faults_on_an_opcode_it_does_not_implement(monkeypatch, code, shown):
    """An opcode without a branch in _core faults (it does not run as a costed no-op)."""
    kernels = pathlib.Path(__file__).resolve().parents[2] / "kernels"
    data = dae_isa.serialize_model(dae_isa.assemble((kernels / "gather.dasm").read_text()))
    where = _with_opcode(monkeypatch, "li", code)
    with pytest.raises(EmulationError) as error:
        Interpreter(model_content=data, machine="tmu", mode="fast").get_signature_runner()(
            ids=np.array([2, 0, 1], np.int32))
    message = str(error.value)
    assert f"pc {where['pc']}: {shown} has no fast-mode implementation" in message, message


def test_no_function_in_fast_takes_more_than_12_parameters():
    tree = ast.parse(pathlib.Path(fast.__file__).read_text())
    counts = {node.name: len(node.args.posonlyargs) + len(node.args.args) + len(node.args.kwonlyargs)
              + (node.args.vararg is not None) + (node.args.kwarg is not None)
              for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assert max(counts.values()) <= 12, {name: n for name, n in counts.items() if n > 12}
