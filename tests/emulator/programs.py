"""Generated .dasm programs for emulator tests (beside the hand-written kernels/)."""

from __future__ import annotations

import numpy as np

def csr_ids(rng: np.random.Generator, bags: int, rows: int, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR bags for an embedding bag: (offsets, indices), int32, up to max_len ids a bag, the
    first bag empty."""
    lengths = rng.integers(0, max_len + 1, size=bags)
    lengths[0] = 0
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return offsets, rng.integers(0, rows, size=int(offsets[-1])).astype(np.int32)


TMU_MACHINE = ('.machine "tmu" lanes=8 traversal_groups=4 lane_storage_bytes=2048 outstanding_requests=128 '
               'vector_bytes=64 queue_chunk_bytes=4096 access_unit=true')


def multi_table_gather(tables: int) -> str:
    """out_t[n, :] = table_t[ids_t[n], :] for t < tables, as ONE kernel with one
    root traversal per table, so the emulator can spread tables over cores.

    Each root's beg event resets the output offset on whichever core runs it."""
    lines = ['.model version=1 description="multi-table gather"']
    for t in range(tables):
        lines += [f'.tensor {3 * t} "ids{t}" dtype=int32 shape=[1] signature=[-1]',
                  f'.tensor {3 * t + 1} "table{t}" dtype=float32 shape=[1, 1] signature=[-1, -1]',
                  f'.tensor {3 * t + 2} "out{t}" dtype=float32 shape=[1, 1] signature=[-1, -1]']
    lines += ['.kernel "gather_tables" version=1', TMU_MACHINE]
    for t in range(tables):
        lines += [f".slot ids{t} int32 read rank=1", f".slot table{t} float32 read rank=2"]
    for t in range(tables):
        lines.append(f".slot out{t} float32 write rank=2 shape=[p{2 * t}, p{2 * t + 1}]")
    for t in range(tables):
        lines += [f".param p{2 * t} slot=ids{t} dim=0", f".param p{2 * t + 1} slot=table{t} dim=1"]
    targets = ["done"] + [label for t in range(tables) for label in (f"start{t}", f"row{t}")]
    lines.append(".jumptable jt0 " + " ".join(targets))
    lines.append(".access")
    for t in range(tables):
        root, row, s = 2 * t, 2 * t + 1, 5 * t
        lines += [
            f"  tu.dns t{root}, parent=none, width=1, lb=0, ub=p{2 * t}",
            f"  str.ite s{s}, tu=t{root}",
            f"  str.mem s{s + 1}, tu=t{root}, slot=ids{t}, index=s{s}, col=none",
            f"  tu.dns t{row}, parent=t{root}, width=16, lb=0, ub=p{2 * t + 1}",
            f"  str.ite s{s + 2}, tu=t{row}",
            f"  str.mem s{s + 3}, tu=t{row}, slot=table{t}, index=s{s + 1}, col=s{s + 2}",
            f"  str.buf s{s + 4}, tu=t{row}, src=s{s + 3}",
            f"  mar.cb t{root}, event=beg, id={1 + 2 * t}",
            f"  mar.opnd t{row}, event=end, stream=s{s + 4}",
            f"  mar.cb t{row}, event=end, id={2 + 2 * t}",
        ]
    lines += [".execute", "loop:   cb.pop x1", "        br.tab x1, jt0"]
    for t in range(tables):
        lines += [f"start{t}: param x2, p{2 * t + 1}", "        li x3, 0", "        jmp loop",
                  f"row{t}:  q.bpop b0", "        li x4, 0",
                  f"chunk{t}: sub x5, x2, x4", "        mset m0, x5", "        bld.f32 v0, b0, x4, m0",
                  "        add x6, x3, x4", f"        vst.f32 v0, out{t}, x6, m0", "        addi x4, x4, 16",
                  f"        blt x4, x2, chunk{t}", "        add x3, x3, x2", "        jmp loop"]
    lines += ["done:   halt", ".end"]
    n = 3 * tables
    lines.append(f'.subgraph "main" inputs=[{", ".join(str(i) for i in range(n) if i % 3 != 2)}] '
                 f'outputs=[{", ".join(str(i) for i in range(2, n, 3))}]')
    inputs = ", ".join(str(i) for t in range(tables) for i in (3 * t, 3 * t + 1))
    lines.append(f".operator kernel 0 inputs=[{inputs}] outputs=[{', '.join(str(3 * t + 2) for t in range(tables))}]")
    lines.append('.signature "serving_default" subgraph=0')
    for t in range(tables):
        lines += [f'.input "ids{t}" {3 * t}', f'.input "table{t}" {3 * t + 1}', f'.output "out{t}" {3 * t + 2}']
    return "\n".join(lines) + "\n"


def gather_pipeline(kernel_dasm: str) -> str:
    """Three operators of one gather kernel (ids, table) -> out: two independent
    lookups, then a third that gathers from the first one's output."""
    kernel = kernel_dasm[kernel_dasm.index(".kernel"):kernel_dasm.index("\n.end\n") + len("\n.end\n")]
    return "\n".join([
        '.model version=1 description="three gathers"',
        '.tensor 0 "ids_a" dtype=int32 shape=[1] signature=[-1]',
        '.tensor 1 "table_a" dtype=float32 shape=[1, 1] signature=[-1, -1]',
        '.tensor 2 "out_a" dtype=float32 shape=[1, 1] signature=[-1, -1]',
        '.tensor 3 "ids_b" dtype=int32 shape=[1] signature=[-1]',
        '.tensor 4 "table_b" dtype=float32 shape=[1, 1] signature=[-1, -1]',
        '.tensor 5 "out_b" dtype=float32 shape=[1, 1] signature=[-1, -1]',
        '.tensor 6 "ids_c" dtype=int32 shape=[1] signature=[-1]',
        '.tensor 7 "out_c" dtype=float32 shape=[1, 1] signature=[-1, -1]',
        kernel.rstrip("\n"),
        '.subgraph "main" inputs=[0, 1, 3, 4, 6] outputs=[2, 5, 7]',
        ".operator kernel 0 inputs=[0, 1] outputs=[2]",
        ".operator kernel 0 inputs=[3, 4] outputs=[5]",
        ".operator kernel 0 inputs=[6, 2] outputs=[7]",
        '.signature "serving_default" subgraph=0',
        '.input "ids_a" 0', '.input "table_a" 1', '.input "ids_b" 3', '.input "table_b" 4', '.input "ids_c" 6',
        '.output "out_a" 2', '.output "out_b" 5', '.output "out_c" 7',
    ]) + "\n"


def pair_sum(dtype: str, suffix: str, lanes: int) -> str:
    """out[n, :] = table[a[n], :] + table[b[n], :], added in the table's own element type
    (`lanes` = vector_bytes / element size), to exercise rounding in narrow types."""
    return "\n".join([
        f'.model version=1 description="pair sum in {dtype}"',
        '.tensor 0 "a" dtype=int32 shape=[1] signature=[-1]',
        '.tensor 1 "b" dtype=int32 shape=[1] signature=[-1]',
        f'.tensor 2 "table" dtype={dtype} shape=[1, 1] signature=[-1, -1]',
        f'.tensor 3 "out" dtype={dtype} shape=[1, 1] signature=[-1, -1]',
        '.kernel "pair_sum"', TMU_MACHINE,
        ".slot a int32 read rank=1", ".slot b int32 read rank=1", f".slot table {dtype} read rank=2",
        f".slot out {dtype} write rank=2 shape=[p0, p1]",
        ".param p0 slot=a dim=0", ".param p1 slot=table dim=1",
        ".jumptable jt0 done first second",
        ".access",
        "  tu.dns t0, parent=none, width=1, lb=0, ub=p0",
        "  str.ite s0, tu=t0",
        "  str.mem s1, tu=t0, slot=a, index=s0, col=none",
        "  str.mem s2, tu=t0, slot=b, index=s0, col=none",
        f"  tu.dns t1, parent=t0, width={lanes}, lb=0, ub=p1",
        "  str.ite s3, tu=t1",
        "  str.mem s4, tu=t1, slot=table, index=s1, col=s3",
        "  str.buf s5, tu=t1, src=s4",
        "  mar.opnd t1, event=end, stream=s5",
        "  mar.cb t1, event=end, id=1",
        f"  tu.dns t2, parent=t0, width={lanes}, lb=0, ub=p1",
        "  str.ite s6, tu=t2",
        "  str.mem s7, tu=t2, slot=table, index=s2, col=s6",
        "  str.buf s8, tu=t2, src=s7",
        "  mar.opnd t2, event=end, stream=s8",
        "  mar.cb t2, event=end, id=2",
        ".execute",
        "        param x2, p1",
        "        li x3, 0",
        "loop:   cb.pop x1",
        "        br.tab x1, jt0",
        "first:  q.bpop b0",
        "        jmp loop",
        "second: q.bpop b1",
        "        li x4, 0",
        "chunk:  sub x5, x2, x4",
        "        mset m0, x5",
        f"        bld.{suffix} v0, b0, x4, m0",
        f"        bld.{suffix} v1, b1, x4, m0",
        f"        vadd.{suffix} v2, v0, v1",
        "        add x6, x3, x4",
        f"        vst.{suffix} v2, out, x6, m0",
        f"        addi x4, x4, {lanes}",
        "        blt x4, x2, chunk",
        "        add x3, x3, x2",
        "        jmp loop",
        "done:   halt",
        ".end",
        '.subgraph "main" inputs=[0, 1, 2] outputs=[3]',
        ".operator kernel 0 inputs=[0, 1, 2] outputs=[3]",
        '.signature "serving_default" subgraph=0',
        '.input "a" 0', '.input "b" 1', '.input "table" 2', '.output "out" 3',
    ]) + "\n"


CPU_MACHINE = TMU_MACHINE.replace('"tmu"', '"cpu"').replace("access_unit=true", "access_unit=false")


def scatter_update(dtype: str, suffix: str, lanes: int, machine: str) -> str:
    """out = base, then out[idx[i]] = upd[i] for i in order (tf.tensor_scatter_nd_update on a
    1-D tensor, later updates winning), with vscatter in 16-index chunks: repeated indices
    within a chunk, a partial last chunk. `lanes` = vector_bytes / element size (the copy).

    On tmu the access unit streams (idx, upd) chunks with a callback each; on cpu the core
    loads the chunks itself."""
    lines = [
        f'.model version=1 description="scatter update in {dtype} ({machine})"',
        f'.tensor 0 "base" dtype={dtype} shape=[1] signature=[-1]',
        '.tensor 1 "idx" dtype=int32 shape=[1] signature=[-1]',
        f'.tensor 2 "upd" dtype={dtype} shape=[1] signature=[-1]',
        f'.tensor 3 "out" dtype={dtype} shape=[1] signature=[-1]',
        '.kernel "scatter_update"', TMU_MACHINE if machine == "tmu" else CPU_MACHINE,
        f".slot base {dtype} read rank=1", ".slot idx int32 read rank=1", f".slot upd {dtype} read rank=1",
        f".slot out {dtype} write rank=1 shape=[p0]",
        ".param p0 slot=base dim=0", ".param p1 slot=idx dim=0",
    ]
    if machine == "tmu":
        lines += [
            ".jumptable jt0 done update",
            ".access",
            "  tu.dns t0, parent=none, width=16, lb=0, ub=p1",
            "  str.ite s0, tu=t0",
            "  str.mem s1, tu=t0, slot=idx, index=s0, col=none",
            "  str.mem s2, tu=t0, slot=upd, index=s0, col=none",
            "  mar.opnd t0, event=ite, stream=s1",
            "  mar.opnd t0, event=ite, stream=s2",
            "  mar.cb t0, event=ite, id=1",
        ]
    lines += [
        ".execute",
        "        param x2, p0",
        "        li x4, 0",
        "copy:   bge x4, x2, scatter",  # out = base, `lanes` elements at a time
        "        sub x5, x2, x4",
        "        mset m2, x5",
        f"        vld.{suffix} v2, base, x4, m2",
        f"        vst.{suffix} v2, out, x4, m2",
        f"        addi x4, x4, {lanes}",
        "        jmp copy",
    ]
    if machine == "tmu":
        lines += [
            "scatter: cb.pop x1",
            "        br.tab x1, jt0",
            "update: q.vpop.i32 v0, m0",  # the chunk's indices; the mask has its lanes
            f"        q.vpop.{suffix} v1, m1",
            f"        vscatter.{suffix} v1, out, v0, m0",
            "        jmp scatter",
        ]
    else:
        lines += [
            "scatter: param x3, p1",
            "        li x20, 16",
            "        li x4, 0",
            "chunk:  bge x4, x3, done",
            "        sub x5, x3, x4",
            "        min x5, x5, x20",
            "        mset m0, x5",
            "        vld.i32 v0, idx, x4, m0",
            f"        vld.{suffix} v1, upd, x4, m0",
            f"        vscatter.{suffix} v1, out, v0, m0",
            "        addi x4, x4, 16",
            "        jmp chunk",
        ]
    lines += [
        "done:   halt",
        ".end",
        '.subgraph "main" inputs=[0, 1, 2] outputs=[3]',
        ".operator kernel 0 inputs=[0, 1, 2] outputs=[3]",
        '.signature "serving_default" subgraph=0',
        '.input "base" 0', '.input "idx" 1', '.input "upd" 2', '.output "out" 3',
    ]
    return "\n".join(lines) + "\n"


def ragged_head_rows(machine: str, splits_dtype: str = "int32", element: int = -1, add: int = 0) -> str:
    """out = table[:n, :] where n = splits[element] + add: the output's row count is an ELEMENT
    param (.param p0 slot=splits element=-1), as for a ragged result whose row_splits the host
    computed, and its width a DIM param of the table.

    On tmu the access unit walks the n rows (ub=p0) and hands the core one buffered row per
    callback; on cpu the core copies the n * D leading elements itself."""
    lines = [
        f'.model version=1 description="first splits[{element}] rows of a table ({machine})"',
        f'.tensor 0 "splits" dtype={splits_dtype} shape=[1] signature=[-1]',
        '.tensor 1 "table" dtype=float32 shape=[1, 1] signature=[-1, -1]',
        '.tensor 2 "out" dtype=float32 shape=[1, 1] signature=[-1, -1]',
        '.kernel "head_rows" version=2', TMU_MACHINE if machine == "tmu" else CPU_MACHINE,
        f".slot splits {splits_dtype} read rank=1", ".slot table float32 read rank=2",
        ".slot out float32 write rank=2 shape=[p0, p1]",
        f".param p0 slot=splits element={element} add={add}",
        ".param p1 slot=table dim=1",
    ]
    if machine == "tmu":
        lines += [
            ".jumptable jt0 done row",
            ".access",
            "  tu.dns t0, parent=none, width=1, lb=0, ub=p0",
            "  str.ite s0, tu=t0",
            "  tu.dns t1, parent=t0, width=16, lb=0, ub=p1",
            "  str.ite s1, tu=t1",
            "  str.mem s2, tu=t1, slot=table, index=s0, col=s1",
            "  str.buf s3, tu=t1, src=s2",
            "  mar.opnd t1, event=end, stream=s3",
            "  mar.cb t1, event=end, id=1",
            ".execute",
            "        param x2, p1",
            "        li x3, 0",
            "loop:   cb.pop x1",
            "        br.tab x1, jt0",
            "row:    q.bpop b0",
            "        li x4, 0",
            "chunk:  sub x5, x2, x4",
            "        mset m0, x5",
            "        bld.f32 v0, b0, x4, m0",
            "        add x6, x3, x4",
            "        vst.f32 v0, out, x6, m0",
            "        addi x4, x4, 16",
            "        blt x4, x2, chunk",
            "        add x3, x3, x2",
            "        jmp loop",
        ]
    else:
        lines += [
            ".execute",
            "        param x2, p0",
            "        param x3, p1",
            "        mul x2, x2, x3",
            "        li x4, 0",
            "chunk:  bge x4, x2, done",
            "        sub x5, x2, x4",
            "        mset m0, x5",
            "        vld.f32 v0, table, x4, m0",
            "        vst.f32 v0, out, x4, m0",
            "        addi x4, x4, 16",
            "        jmp chunk",
        ]
    lines += [
        "done:   halt",
        ".end",
        '.subgraph "main" inputs=[0, 1] outputs=[2]',
        ".operator kernel 0 inputs=[0, 1] outputs=[2]",
        '.signature "serving_default" subgraph=0',
        '.input "splits" 0', '.input "table" 1', '.output "out" 2',
    ]
    return "\n".join(lines) + "\n"
