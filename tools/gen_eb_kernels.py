"""Write the hand-written embedding-bag reference kernels, kernels/eb_*.dasm.

    python tools/gen_eb_kernels.py          # rewrites the 12 files

The kernels are written by hand; this script is only a macro assembler for
them. The six combiners (sum / mean / sqrtn, unweighted and weighted) on two
machines (tmu: the access unit traverses and gathers; cpu: the core does it
all) share most of their code, and each is unrolled per chunk count, so the
twelve files come from the templates below instead of being kept in sync by
hand. Edit the templates, not the .dasm files (tests/kernels/test_eb_kernels.py
checks that they agree).

Shared design (each file's header says it again):
  * k = ceil(D / 16) vector chunks per row (64-byte vectors = 16 f32 lanes).
    Chunk 0 is the partial one (t = D - 16 (k-1) lanes, mask m1) at element
    0; chunk j >= 1 is full (mask m0) at element t + 16 (j-1), an offset kept
    in a register. With the partial chunk first, every other chunk uses the
    same full mask.
  * The kernel is versioned on k once, at its start (br.tab on k): for
    k = 0..8 (D <= 128) a block unrolled for exactly k chunks keeps the bag's
    sum in v1..vk; D > 128 takes a generic block that accumulates in the
    output row in memory.
  * The output offset b*D lives in x3 and is bumped by the end-of-bag code
    (queue alignment): no bag index crosses the queue.
  * mean / sqrtn divide once per bag, at its end (vdiv: TensorFlow's
    rounding of x / n); an empty bag gives zeros; the weighted ones follow
    div_no_nan.
"""

from __future__ import annotations

import pathlib
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
KERNELS = ROOT / "kernels"

MAX_UNROLLED = 8                                  # k = 0..8 (D <= 128): register-accumulating blocks
ACC = [f"v{1 + j}" for j in range(MAX_UNROLLED)]  # the bag's sum, chunk j in v(j+1)
TMP = [f"v{9 + j}" for j in range(MAX_UNROLLED)]  # the row's chunk j
OFF = ["x0"] + [f"x{6 + j}" for j in range(1, MAX_UNROLLED)]  # chunk j's element offset (x7..x13)
MASK = ["m1"] + ["m0"] * (MAX_UNROLLED - 1)       # chunk 0 is the partial one
W_SPLAT, DIV_SPLAT, W2_SUM, ZERO, GEN_ROW, GEN_OUT = "v17", "v18", "v19", "v0", "v20", "v21"

MACHINE = ('lanes=8 traversal_groups=4 lane_storage_bytes=2048 outstanding_requests=128 vector_bytes=64 '
           'queue_chunk_bytes=4096')

FORMULA = {
    (False, "sum"): "out[b, :] = sum_p table[indices[p], :]",
    (False, "mean"): "out[b, :] = sum_p table[indices[p], :] / n_b     (n_b = the bag's size; 0 if empty)",
    (False, "sqrtn"): "out[b, :] = sum_p table[indices[p], :] / sqrt(n_b)   (0 if empty)",
    (True, "sum"): "out[b, :] = sum_p weights[p] * table[indices[p], :]",
    (True, "mean"): "out[b, :] = div_no_nan(sum_p w[p] * table[indices[p], :], sum_p w[p])",
    (True, "sqrtn"): "out[b, :] = div_no_nan(sum_p w[p] * table[indices[p], :], sqrt(sum_p w[p]^2))",
}


class Kernel:
    def __init__(self, combiner: str, weighted: bool, cpu: bool):
        self.combiner, self.weighted, self.cpu = combiner, weighted, cpu
        self.name = ("eb_weighted_" if weighted else "eb_") + combiner + ("_cpu" if cpu else "")
        self.lines: list[str] = []
        self.pending: str | None = None
        self.pending_comment: str | None = None

    # -- emitting ------------------------------------------------------------------
    def o(self, text: str, label: str | None = None, comment: str | None = None) -> None:
        """One instruction; a label given here or by at() goes on it."""
        assert not (label and self.pending), (label, self.pending)
        label, self.pending = label or self.pending, None
        comment = ": ".join(c for c in (self.pending_comment, comment) if c) or None
        self.pending_comment = None
        line = (f"{label + ':':<9}" if label else " " * 9) + text
        if comment:
            line = f"{line:<43} ; {comment}"
        self.lines.append(line)

    def at(self, label: str, comment: str | None = None) -> None:
        """Label the next instruction (and start its comment)."""
        assert self.pending is None
        self.pending, self.pending_comment = label, comment

    def c(self, comment: str) -> None:
        self.lines.append(f"; {comment}".rstrip())

    def directive(self, text: str, comment: str | None = None) -> None:
        self.lines.append(f"{text:<43} ; {comment}" if comment else text)

    @property
    def count_needed(self) -> bool:
        """Unweighted mean / sqrtn divide by the bag's size."""
        return not self.weighted and self.combiner != "sum"

    @property
    def weight_sums(self) -> bool:
        """Weighted mean / sqrtn divide by a sum over the weights."""
        return self.weighted and self.combiner != "sum"

    # -- the model -----------------------------------------------------------------
    def text(self) -> str:
        self.header()
        w, d = self.weighted, self.directive
        out = 4 if w else 3
        self.lines += [
            f'.model version=1 description="{self.name}: hand-written reference kernel"',
            '.tensor 0 "table" dtype=float32 shape=[1, 1] signature=[-1, -1]',
            '.tensor 1 "indices" dtype=int32 shape=[1] signature=[-1]',
            '.tensor 2 "offsets" dtype=int32 shape=[2] signature=[-1]',
        ]
        if w:
            self.lines.append('.tensor 3 "weights" dtype=float32 shape=[1] signature=[-1]')
        self.lines += [
            f'.tensor {out} "out" dtype=float32 shape=[1, 1] signature=[-1, -1]',
            f'.kernel "{self.name}" version=1',
            f'.machine "{"cpu" if self.cpu else "tmu"}" {MACHINE} access_unit={"false" if self.cpu else "true"}',
            ".slot table float32 read rank=2",
            ".slot indices int32 read rank=1",
            ".slot offsets int32 read rank=1",
        ]
        if w:
            self.lines.append(".slot weights float32 read rank=1")
        self.lines.append(".slot out float32 write rank=2 shape=[p0, p1]")
        d(".param p0 slot=offsets dim=0 add=-1", "B, the number of bags")
        d(".param p1 slot=table dim=1 add=0", "D, the embedding dimension")
        if self.cpu:
            d(".param p2 slot=table dim=0 add=0", "R, the number of table rows")
        if self.weight_sums:
            d(".fconst kf0 0x1p+75", "2^75 * 2^75 * |y| >= 1 for every float32 y != 0")
            d(".fconst kf1 1.0")
        entries = [f"{'cls' if self.cpu else 'loop'}{k}" for k in range(MAX_UNROLLED + 1)] + ["gstart"]
        d(".jumptable jt0 " + " ".join(entries), f"entry by k ({MAX_UNROLLED + 1}: any k > {MAX_UNROLLED})")
        if not self.cpu:
            for k in range(MAX_UNROLLED + 1):
                d(f".jumptable jt{k + 1} done row{k} end{k}", "callbacks 0 (done), 1 (a row), 2 (end of bag)"
                  if k == 0 else None)
            d(f".jumptable jt{MAX_UNROLLED + 2} done grow gend")
            self.access()
        self.lines.append(".execute")
        self.prologue()
        for k in range(MAX_UNROLLED + 1):
            (self.cpu_block if self.cpu else self.tmu_block)(k)
        (self.cpu_generic if self.cpu else self.tmu_generic)()
        self.lines.append(".end")
        ins = "[0, 1, 2, 3]" if w else "[0, 1, 2]"
        self.lines += [
            f'.subgraph "main" inputs={ins} outputs=[{out}]',
            f".operator kernel 0 inputs={ins} outputs=[{out}]",
            '.signature "serving_default" subgraph=0',
            '.input "table" 0',
            '.input "indices" 1',
            '.input "offsets" 2',
        ]
        if w:
            self.lines.append('.input "weights" 3')
        self.lines.append(f'.output "out" {out}')
        return "\n".join(self.lines) + "\n"

    def header(self) -> None:
        kind = "weighted " if self.weighted else ""
        where = "CPU baseline, no access unit" if self.cpu else "tmu, the access unit gathers"
        self.c(f"Hand-written reference kernel: embedding bag, {kind}{self.combiner} combiner ({where})")
        self.c(f"  {FORMULA[(self.weighted, self.combiner)]}")
        self.c("  for p in offsets[b] .. offsets[b+1] (CSR, B = len(offsets) - 1); table [R, D] f32,")
        self.c("  indices [N] i32" + (", weights [N] f32" if self.weighted else "") + "; out [B, D] f32.")
        self.c("Generated by tools/gen_eb_kernels.py from hand-written templates: edit it, not this file.")
        paragraphs = []
        if self.cpu:
            paragraphs.append(
                "The core does everything: per bag it loads offsets[b+1]; per id it checks 0 <= id < R "
                "(as TensorFlow's CPU kernels do) and vld's the row straight from the table slot "
                "(element id*D + d) into the bag's accumulators. Loops test at the bottom.")
        else:
            paragraphs.append(
                "Access unit: t0 walks the bags, t1 (a CSR range TU) the ids of bag b, t2 one table row "
                "in 16-lane chunks (a lockstep vector TU). The row is buffered (str.buf) and handed over "
                "with ONE callback per looked-up row (id 1)" + (", after its weight" if self.weighted else "")
                + "; callback 2 ends a bag" + (", after the bag's size n_b" if self.count_needed else "")
                + ". The core keeps b*D in x3 (queue alignment): no bag index crosses the queue. Each "
                "row handler falls through into its dispatch loop; end-of-bag handlers dispatch again "
                "themselves instead of jumping back.")
        paragraphs.append(
            "Rows are split into k = ceil(D/16) chunks: chunk 0 = the first t = D - 16(k-1) elements "
            "(mask m1), chunk j >= 1 = the 16 elements at t + 16(j-1) (offset in x(6+j), mask m0). "
            f"The code is versioned once on k: k <= {MAX_UNROLLED} (D <= {16 * MAX_UNROLLED}) runs a block "
            "unrolled for exactly k chunks that keeps the bag's sum in v1..vk; larger k runs a generic "
            "block that accumulates in the output row in memory."
            + ("" if self.combiner == "sum" else " The bag is divided once, at its end, with vdiv "
               "(TensorFlow's rounding of x / n)."))
        if self.weight_sums:
            paragraphs.append(
                "div_no_nan without a float compare: z = min(|y| * 2^75 * 2^75, 1) is 1 for y != 0 and "
                "0 for y == 0, so the divisor (y + 1 - z) / z is y, or +inf when y == 0, and x / divisor "
                "is x / y, or 0 as TensorFlow's div_no_nan gives.")
        for paragraph in paragraphs:
            self.c("")
            for line in textwrap.wrap(paragraph, 88):
                self.c(line)

    # -- access unit (tmu) -----------------------------------------------------------
    def access(self) -> None:
        rows = [
            ("tu.dns t0, parent=none, width=1, lb=0, ub=p0", "for b in 0..B"),
            ("str.ite s0, tu=t0", None),
            ("str.mem s1, tu=t0, slot=offsets, index=s0, col=none", "  start = offsets[b]"),
            ("str.alu s2, tu=t0, op=add, a=s0, b=1", None),
            ("str.mem s3, tu=t0, slot=offsets, index=s2, col=none", "  stop = offsets[b+1]"),
        ]
        if self.count_needed:
            rows.append(("str.alu s4, tu=t0, op=sub, a=s3, b=s1", "  n_b, the bag's size"))
        rows += [
            ("tu.rng t1, parent=t0, width=1, lb=s1, ub=s3", "  for p in start..stop"),
            ("str.ite s5, tu=t1", None),
            ("str.mem s6, tu=t1, slot=indices, index=s5, col=none", "    id = indices[p]"),
        ]
        if self.weighted:
            rows.append(("str.mem s7, tu=t1, slot=weights, index=s5, col=none", "    w = weights[p]"))
        rows += [
            ("tu.dns t2, parent=t1, width=16, lb=0, ub=p1", "    for d in 0..D step 16"),
            ("str.ite s8, tu=t2", None),
            ("str.mem s9, tu=t2, slot=table, index=s6, col=s8", "      table[id, d:d+16]"),
            ("str.buf s10, tu=t2, src=s9", "    the whole row, one operand"),
        ]
        if self.weighted:
            rows.append(("mar.opnd t2, event=end, stream=s7", "per row: w,"))
        rows += [
            ("mar.opnd t2, event=end, stream=s10", "the row," if self.weighted else "per row: the row,"),
            ("mar.cb t2, event=end, id=1", "callback 1"),
        ]
        if self.count_needed:
            rows.append(("mar.opnd t1, event=end, stream=s4", "per bag (also an empty one): n_b,"))
        rows += [
            ("mar.cb t1, event=end, id=2", "callback 2" if self.count_needed
             else "per bag (also an empty one): callback 2"),
            ("tu.group t0, layer=0, mode=single, lanes=1", None),
            ("tu.group t1, layer=1, mode=single, lanes=1", None),
            ("tu.group t2, layer=2, mode=lockstep, lanes=8", None),
        ]
        self.lines.append(".access")
        for text, comment in rows:
            self.lines.append(f"{'  ' + text:<56}; {comment}" if comment else "  " + text)

    # -- prologue --------------------------------------------------------------------
    def prologue(self) -> None:
        o = self.o
        o("param x2, p1", comment="D")
        o("li x3, 0", comment="b*D: where bag b's output row starts")
        o("addi x5, x2, 15")
        o("li x4, 4")
        o("shr x5, x5, x4", comment="k = ceil(D/16) chunks per row")
        o("muli x6, x5, -16")
        o("add x7, x2, x6")
        o("addi x7, x7, 16", comment="t = D - 16(k-1): chunk 0's lanes, chunk 1's offset")
        for j in range(2, MAX_UNROLLED):
            o(f"addi {OFF[j]}, x7, {16 * (j - 1)}", comment=f"chunk {j} at t+{16 * (j - 1)}")
        o("li x6, 16")
        o("mset m0, x6", comment="a full chunk")
        o("mset m1, x7", comment="chunk 0")
        for j, acc in enumerate(ACC):
            o(f"vzero.f32 {acc}", comment="the bag's sum" if j == 0 else None)
        if self.count_needed:
            o("li x15, 1")
        if self.weight_sums:
            o("fcvt.f32 f0, x0", comment="0.0")
            o("lf.f32 f30, kf0", comment="2^75")
            o("lf.f32 f31, kf1", comment="1.0")
            if self.combiner == "mean":
                o("fmov f2, f0", comment="the bag's sum of weights")
            else:
                o(f"vzero.f32 {W2_SUM}", comment="the bag's sum of squared weights, in every lane")
                o("li x6, 1")
                o("mset m2, x6", comment="lane 0")
        if self.cpu:
            o("param x18, p0", comment="B")
            o("param x14, p2", comment="R")
            o("li x21, 0", comment="b")
            o("ld.i32 x22, offsets, x0", comment="p = offsets[0]")
        else:
            o("param x18, p0")
            o("mul x18, x18, x2", comment="B*D, the end of out (generic block)")
        o(f"li x6, {MAX_UNROLLED + 1}")
        o("min x6, x5, x6")
        o("br.tab x6, jt0", comment=f"to the block for k chunks ({MAX_UNROLLED + 1}: any larger k)")

    # -- pieces shared by both machines ----------------------------------------------
    def block_title(self, k: int) -> None:
        if k == 0:
            what = "D = 0: rows are empty; only " + ("check the ids" if self.cpu else "pop the operands")
        else:
            what = f"D in {16 * k - 15}..{16 * k}: the bag's sum in " + \
                (f"v1..v{k}" if k > 2 else ", ".join(ACC[:k]))
        self.lines += ["", f"; ---- k = {k} ({what})"]

    def weight_row(self) -> None:
        """w is in f1: splat it and keep the bag's sum of w or w^2."""
        self.o(f"vsplat.f32 {W_SPLAT}, f1")
        if self.combiner == "mean":
            self.o("fadd.f32 f2, f2, f1", comment="sum w")
        elif self.combiner == "sqrtn":
            self.o(f"vfma.f32 {W2_SUM}, {W_SPLAT}, {W_SPLAT}", comment="sum w^2")

    def accumulate(self, j: int) -> None:
        if self.weighted:
            self.o(f"vfma.f32 {ACC[j]}, {TMP[j]}, {W_SPLAT}", comment="+= w * row" if j == 0 else None)
        else:
            self.o(f"vadd.f32 {ACC[j]}, {ACC[j]}, {TMP[j]}")

    def divisor(self) -> bool:
        """Put the bag's divisor in every lane of DIV_SPLAT; False for sum (nothing to divide).
        Unweighted: n_b is in x16."""
        o, comb = self.o, self.combiner
        if comb == "sum":
            return False
        if not self.weighted:
            o("max x17, x16, x15", comment="an empty bag divides 0 by 1")
            o("fcvt.f32 f3, x17")
            if comb == "sqrtn":
                o("fsqrt.f32 f3, f3")
            o(f"vsplat.f32 {DIV_SPLAT}, f3")
            return True
        if comb == "mean":
            o("fsub.f32 f3, f0, f2", comment="y = sum w")
            o("fmax.f32 f3, f3, f2", comment="|y|")
            o("fmul.f32 f3, f3, f30")
        else:
            o(f"vredsum.f32 f2, {W2_SUM}, m2", comment="y = sum w^2 (>= 0), from lane 0")
            o(f"vzero.f32 {W2_SUM}", comment="the next bag's sum of squares")
            o("fmul.f32 f3, f2, f30")
        o("fmul.f32 f3, f3, f30")
        o("fmin.f32 f3, f3, f31", comment="z = (y != 0)")
        o("fsub.f32 f4, f31, f3")
        o("fadd.f32 f4, f4, f2", comment="y, or 1 when y == 0")
        if comb == "sqrtn":
            o("fsqrt.f32 f4, f4")
        o("fdiv.f32 f4, f4, f3", comment="/ z: +inf when y == 0")
        o(f"vsplat.f32 {DIV_SPLAT}, f4")
        if comb == "mean":
            o("fmov f2, f0", comment="the next bag's sum of weights")
        return True

    def finish_registers(self, k: int) -> None:
        """(Divide,) store the k accumulators at out[b*D ...] and zero them; advance x3."""
        o = self.o
        divide = self.divisor()
        for j in range(k):
            if divide:
                o(f"vdiv.f32 {ACC[j]}, {ACC[j]}, {DIV_SPLAT}")
            if j == 0:
                o(f"vst.f32 {ACC[0]}, out, x3, m1")
            else:
                o(f"add x19, x3, {OFF[j]}")
                o(f"vst.f32 {ACC[j]}, out, x19, m0")
            o(f"vzero.f32 {ACC[j]}")
        o("add x3, x3, x2", comment="the next output row")

    def clear_row(self) -> None:
        """out[x3 .. x3+D) = 0."""
        o = self.o
        o(f"vst.f32 {ZERO}, out, x3, m1")
        o("add x6, x3, x7")
        o("add x19, x3, x2")
        o(f"vst.f32 {ZERO}, out, x6, m0", label="gclear")
        o("addi x6, x6, 16")
        o("blt x6, x19, gclear")

    def generic_row(self) -> None:
        """out[x3 ...] += (w *) row; the row is buffer b0 (tmu) or the table at element x25 (cpu)."""
        o = self.o

        def load(off, m, label=None):
            o(f"vld.f32 {GEN_ROW}, table, {off}, {m}" if self.cpu else f"bld.f32 {GEN_ROW}, b0, {off}, {m}",
              label=label)

        def combine():
            o(f"vfma.f32 {GEN_OUT}, {GEN_ROW}, {W_SPLAT}" if self.weighted
              else f"vadd.f32 {GEN_OUT}, {GEN_OUT}, {GEN_ROW}")

        load("x25" if self.cpu else "x0", "m1")
        o(f"vld.f32 {GEN_OUT}, out, x3, m1")
        combine()
        o(f"vst.f32 {GEN_OUT}, out, x3, m1")
        o("add x4, x25, x7" if self.cpu else "mov x4, x7", comment="chunk 1 of the row")
        o("add x6, x3, x7", comment="chunk 1 of out")
        o("add x19, x3, x2", comment="the end of the out row")
        load("x4", "m0", label="gchunk")
        o(f"vld.f32 {GEN_OUT}, out, x6, m0")
        combine()
        o(f"vst.f32 {GEN_OUT}, out, x6, m0")
        o("addi x4, x4, 16")
        o("addi x6, x6, 16")
        o("blt x6, x19, gchunk")

    def generic_finish(self) -> None:
        """Divide the finished out row in place (mean / sqrtn); advance x3."""
        o = self.o
        if self.divisor():
            o(f"vld.f32 {GEN_OUT}, out, x3, m1")
            o(f"vdiv.f32 {GEN_OUT}, {GEN_OUT}, {DIV_SPLAT}")
            o(f"vst.f32 {GEN_OUT}, out, x3, m1")
            o("add x6, x3, x7")
            o("add x19, x3, x2")
            o(f"vld.f32 {GEN_OUT}, out, x6, m0", label="gscale")
            o(f"vdiv.f32 {GEN_OUT}, {GEN_OUT}, {DIV_SPLAT}")
            o(f"vst.f32 {GEN_OUT}, out, x6, m0")
            o("addi x6, x6, 16")
            o("blt x6, x19, gscale")
        o("add x3, x3, x2", comment="the next output row")

    # -- tmu ---------------------------------------------------------------------------
    def tmu_row(self, label: str) -> None:
        """Start a row handler: pop (w and) the row."""
        self.at(label, "callback 1, a row")
        if self.weighted:
            self.o("q.popf.f32 f1", comment="w")
            self.o("q.bpop b0", comment="the row")
        else:
            self.o("q.bpop b0")

    def tmu_block(self, k: int) -> None:
        # The row handler comes first and falls through into the dispatch loop
        # (no jump on the hot path); the end-of-bag handler dispatches itself.
        o = self.o
        self.block_title(k)
        self.tmu_row(f"row{k}")
        if self.weighted and k:
            self.weight_row()
        for j in range(k):
            o(f"bld.f32 {TMP[j]}, b0, {OFF[j]}, {MASK[j]}")
            self.accumulate(j)
        o("cb.pop x1", label=f"loop{k}", comment="the next callback, 0 = done")
        o(f"br.tab x1, jt{k + 1}")
        self.at(f"end{k}", "callback 2, end of bag")
        if self.count_needed:
            o("q.pop x16", comment="n_b")
        if k:
            self.finish_registers(k)
        o("cb.pop x1", comment="dispatch here rather than jump back")
        o(f"br.tab x1, jt{k + 1}")

    def tmu_generic(self) -> None:
        o = self.o
        self.lines += ["", f"; ---- k > {MAX_UNROLLED} (D > {16 * MAX_UNROLLED}): the bag's sum accumulates in its "
                       "output row, which is", "; cleared (stores only: no load misses) before the bag's first "
                       "row arrives."]
        o(f"vzero.f32 {ZERO}", label="gstart", comment="zeros for clearing rows")
        o("jmp gzero", comment="clear row 0")
        self.at("gend", "callback 2, end of bag")
        if self.count_needed:
            o("q.pop x16", comment="n_b")
        self.generic_finish()
        o("bge x3, x18, gloop", label="gzero", comment="clear the next bag's row, if any")
        self.clear_row()
        o("jmp gloop")
        self.tmu_row("grow")
        if self.weighted:
            self.weight_row()
        self.generic_row()
        o("cb.pop x1", label="gloop", comment="the next callback, 0 = done")
        o(f"br.tab x1, jt{MAX_UNROLLED + 2}")
        o("halt", label="done", comment="the access unit is done")

    # -- cpu ---------------------------------------------------------------------------
    def cpu_bag_head(self, label: str | None, bag: str, fin: str, clear: bool = False) -> None:
        o = self.o
        o("bge x21, x18, done", label=label, comment="B == 0")
        o("addi x21, x21, 1", label=bag, comment="for b in 0..B")
        o("ld.i32 x23, offsets, x21", comment="stop = offsets[b+1]")
        if self.count_needed:
            o("sub x16, x23, x22", comment="n_b")
        if clear:
            self.clear_row()
        o(f"bge x22, x23, {fin}", comment="an empty bag")

    def cpu_row_head(self, label: str) -> None:
        """Load the id (and w) at element x22 and check the id; x25 = id * D."""
        o = self.o
        o("ld.i32 x24, indices, x22", label=label, comment="for p in start..stop: id = indices[p]")
        if self.weighted:
            o("fld.f32 f1, weights, x22", comment="w = weights[p]")
        o("blt x24, x0, bad", comment="0 <= id < R, else fault")
        o("bge x24, x14, bad")
        o("mul x25, x24, x2", comment="element of table[id, 0]")

    def cpu_bag_tail(self, bag: str) -> None:
        self.o("mov x22, x23", comment="the next bag starts at stop")
        self.o(f"blt x21, x18, {bag}")
        self.o("halt")

    def cpu_block(self, k: int) -> None:
        o = self.o
        self.block_title(k)
        self.cpu_bag_head(f"cls{k}", f"bag{k}", f"fin{k}")
        self.cpu_row_head(f"row{k}")
        if self.weighted and k:
            self.weight_row()
        for j in range(k):
            if j == 0:
                o(f"vld.f32 {TMP[0]}, table, x25, m1")
            else:
                o(f"add x26, x25, {OFF[j]}")
                o(f"vld.f32 {TMP[j]}, table, x26, m0")
            self.accumulate(j)
        o("addi x22, x22, 1")
        o(f"blt x22, x23, row{k}")
        if k:
            self.at(f"fin{k}", "end of bag")
            self.finish_registers(k)
        else:
            self.at(f"fin{k}", "end of bag")
        self.cpu_bag_tail(f"bag{k}")

    def cpu_generic(self) -> None:
        o = self.o
        self.lines += ["", f"; ---- k > {MAX_UNROLLED} (D > {16 * MAX_UNROLLED}): the bag's sum accumulates in its "
                       "output row (cleared first)"]
        o(f"vzero.f32 {ZERO}", label="gstart", comment="zeros for clearing rows")
        self.cpu_bag_head(None, "gbag", "gfin", clear=True)
        self.cpu_row_head("grow")
        if self.weighted:
            self.weight_row()
        self.generic_row()
        o("addi x22, x22, 1")
        o("blt x22, x23, grow")
        self.at("gfin", "end of bag")
        self.generic_finish()
        self.cpu_bag_tail("gbag")
        self.lines += ["", "; An id outside 0..R-1 faults, as in TensorFlow. The ISA has no trap instruction,",
                       "; so read indices[-1], which the bounds-checked load rejects."]
        o("li x24, -1", label="bad")
        o("ld.i32 x24, indices, x24")
        o("halt", label="done")


def main() -> None:
    for weighted in (False, True):
        for combiner in ("sum", "mean", "sqrtn"):
            for cpu in (False, True):
                kernel = Kernel(combiner, weighted, cpu)
                (KERNELS / f"{kernel.name}.dasm").write_text(kernel.text(), encoding="utf-8")


if __name__ == "__main__":
    main()
