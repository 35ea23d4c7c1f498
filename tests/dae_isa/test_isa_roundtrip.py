"""Every opcode and every configuration element survives encode/decode, the
.dasm text, and the .daebin file, byte for byte."""

from __future__ import annotations

import random

import flatbuffers
import numpy as np
import pytest

from ember_tf import dae_isa
from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa import dtypes
from ember_tf.dae_isa.encoding import Instruction, Src, decode, decode_all, encode
from ember_tf.dae_isa.opcodes import (
    REGISTER_COUNTS,
    SPECS,
    SRC_IMM_MAX,
    SRC_IMM_MIN,
    AluOp,
    Event,
    GroupMode,
    Kind,
    SrcKind,
    Unit,
)
from ember_tf.errors import AssemblyError, DaebinFormatError

F32, I32 = dtypes.BY_NAME["float32"].code, dtypes.BY_NAME["int32"].code


def _extremes(kind, field):
    """Smallest and largest encodable value of an operand (None for 'none')."""
    bits = field.bits
    if kind in REGISTER_COUNTS:
        return [0, REGISTER_COUNTS[kind] - 1]
    if kind in (Kind.IMM16, Kind.IMM32):
        return [-(1 << (bits - 1)), (1 << (bits - 1)) - 1]
    if kind is Kind.CBID:
        return [1, 0xFFFF]
    if kind in (Kind.TU, Kind.TU_OR_NONE):
        return [0, 63] + ([None] if kind is Kind.TU_OR_NONE else [])
    if kind is Kind.STREAM:
        return [0, 254]
    if kind is Kind.EVENT:
        return list(Event)
    if kind is Kind.ALUOP:
        return list(AluOp)
    if kind is Kind.MODE:
        return list(GroupMode)
    if kind in (Kind.SRC, Kind.SRC_OR_NONE):
        values = [Src(SrcKind.IMM, SRC_IMM_MIN), Src(SrcKind.IMM, SRC_IMM_MAX), Src(SrcKind.STREAM, 254),
                  Src(SrcKind.PARAM, 0x3FFF), Src(SrcKind.CONST, 0x3FFE)]
        return values + ([None] if kind is Kind.SRC_OR_NONE else [])
    if kind is Kind.DTYPE:
        return [t.code for t in dtypes.ELEMENT_TYPES]
    if kind is Kind.FDTYPE:
        return [t.code for t in dtypes.ELEMENT_TYPES if t.is_float]
    if kind is Kind.IDTYPE:
        return [t.code for t in dtypes.ELEMENT_TYPES if not t.is_float]
    return [0, (1 << bits) - 1]


@pytest.mark.parametrize("spec", SPECS, ids=[s.mnemonic for s in SPECS])
def test_every_opcode_encodes_and_decodes_at_its_field_extremes(spec):
    choices = [_extremes(op.kind, op.field) for op in spec.operands]
    for pick in (0, -1):
        args = tuple(values[pick] for values in choices)
        instruction = Instruction(spec, args)
        word = encode(instruction)
        assert 0 <= word < 1 << 64
        assert decode(word) == instruction
    rng = random.Random(spec.code)
    for _ in range(20):
        instruction = Instruction(spec, tuple(rng.choice(values) for values in choices))
        assert decode(encode(instruction)) == instruction


def test_decode_rejects_unknown_opcodes_and_stray_bits():
    with pytest.raises(ValueError, match="unknown opcode"):
        decode(0)
    with pytest.raises(ValueError, match="outside its operand fields"):
        decode(encode(Instruction(dae_isa.encoding.BY_CODE[0x01], ())) | (1 << 40))
    halt_with_register = 0x01 | (5 << 8)
    with pytest.raises(ValueError):
        decode(halt_with_register)


def test_encode_rejects_values_that_do_not_fit():
    li = next(s for s in SPECS if s.mnemonic == "li")
    with pytest.raises(ValueError):
        encode(Instruction(li, (32, 0)))  # x32 does not exist
    with pytest.raises(ValueError, match="14 bits"):
        Src(SrcKind.IMM, 1 << 13).encode()
    with pytest.raises(ValueError):
        encode(Instruction(next(s for s in SPECS if s.mnemonic == "vadd"), (0, 0, 0, I32 + 100)))


# ---------------------------------------------------------------------------
# A kernel that uses every opcode and every configuration element, checked by
# the verifier and round-tripped through text and file.

def _machine():
    m = fb.MachineParamsT()
    m.name, m.lanes, m.traversalGroups, m.laneStorageBytes = "tmu", 8, 4, 2048
    m.outstandingRequests, m.vectorBytes, m.queueChunkBytes, m.hasAccessUnit = 128, 64, 4096, True
    return m


def _slot(name, dtype, access, rank=1, shape=()):
    s = fb.KernelSlotT()
    s.name, s.dtype, s.access, s.rank, s.shape = name, dtype, access, rank, list(shape)
    return s


SLOTS = [
    _slot("in_f32", F32, fb.SlotAccess.READ, rank=2), _slot("in_i32", I32, fb.SlotAccess.READ),
    _slot("out_f32", F32, fb.SlotAccess.WRITE, shape=[-1]), _slot("out_i32", I32, fb.SlotAccess.WRITE, shape=[-1]),
]


def _access_program() -> list[str]:
    """Every access opcode, ALU op, SRC kind, event and group mode, validly wired."""
    lines = [
        "tu.dns t0, parent=none, width=1, lb=0, ub=p0",
        "str.ite s0, tu=t0",
        "str.alu s1, tu=t0, op=add, a=s0, b=1",
        "str.mem s2, tu=t0, slot=in_i32, index=s0, col=none",
        "str.mem s3, tu=t0, slot=in_i32, index=s1, col=none",
        "tu.rng t1, parent=t0, width=1, lb=s2, ub=s3",
        "str.ite s4, tu=t1",
        "str.mem s5, tu=t1, slot=in_i32, index=s4, col=none",
        "str.fwd s6, tu=t1, src=k0",
        "str.fwd s7, tu=t1, src=p1",
        "tu.idx t2, parent=t1, width=16, lb=s5, size=p1",
        "str.ite s8, tu=t2",
        "str.mem s9, tu=t2, slot=in_f32, index=s5, col=s8",
        "str.buf s10, tu=t2, src=s9",
        "tu.dns t3, parent=t0, width=8, lb=-8192, ub=8191",
        "str.ite s11, tu=t3",
    ]
    for i, op in enumerate(AluOp):
        lines.append(f"str.alu s{12 + i}, tu=t1, op={op.name.lower()}, a=s4, b=s{4 if i % 2 else 0}")
    lines += [
        "mar.opnd t0, event=ite, stream=s0",
        "mar.opnd t1, event=beg, stream=s2",
        "mar.opnd t1, event=ite, stream=s5",
        "mar.opnd t2, event=end, stream=s10",
        "mar.opnd t1, event=end, stream=s1",
    ]
    lines += [f"mar.cb t{i % 3}, event={e.name.lower()}, id={1 + i}" for i, e in enumerate(Event)]
    lines.append("mar.cb t3, event=ite, id=65535")
    lines += [f"tu.group t{i}, layer={i % 4}, mode={m.name.lower()}, lanes={1 + 7 * (i % 2)}"
              for i, m in enumerate(list(GroupMode) + [GroupMode.LOCKSTEP])]
    return lines


def _execute_operand(kind, mnemonic, rng):
    if kind in REGISTER_COUNTS:
        return f"{kind.value}{rng.randrange(REGISTER_COUNTS[kind])}"
    if kind is Kind.SLOT:
        stores = mnemonic in ("st", "fst", "vst", "vscatter")
        is_float = mnemonic not in ("ld", "st")
        return ("out_" if stores else "in_") + ("f32" if is_float else "i32")
    return {Kind.LABEL: "end", Kind.ICONST: "k1", Kind.FCONST: "kf0", Kind.JTABLE: "jt0", Kind.PARAM: "p1",
            Kind.IMM32: str(rng.choice([-(1 << 31), (1 << 31) - 1, 7]))}[kind]


def _execute_program() -> list[str]:
    rng = random.Random(7)
    lines = []
    for spec in SPECS:
        if spec.unit is not Unit.EXECUTE or spec.mnemonic == "halt":
            continue
        dtype = spec.dtype_operand
        suffix = ""
        if dtype is not None:
            uses_int = spec.mnemonic in ("ld", "st", "viota") or dtype.kind is Kind.IDTYPE
            suffix = ".i32" if uses_int else ".f32"
        operands = [_execute_operand(op.kind, spec.mnemonic, rng) for op in spec.printed_operands]
        lines.append(f"{spec.mnemonic}{suffix} " + ", ".join(operands))
    lines.append("end:    halt")
    return lines


def every_element_source() -> str:
    data = np.arange(12, dtype=np.float32).tobytes()
    import base64
    b64 = base64.b64encode(data).decode()
    return "\n".join([
        '.model version=1 description="every element \\"quoted\\" ünïcode"',
        f'.buffer 1 data="{b64}"',
        '.buffer 2 data="AAEC" external=true',
        '.buffer 3 data="MC4xLjAA"',
        '.tensor 0 "ids" dtype=int32 shape=[5] signature=[-1]',
        '.tensor 1 "table" dtype=float32 shape=[3, 4] buffer=1',
        '.tensor 2 "out" dtype=float32 shape=[5] signature=[-1]',
        '.tensor 3 "out_ids" dtype=int32 shape=[5] signature=[-1]',
        '.tensor 4 "blob" dtype=uint8 shape=[3] buffer=2',
        '.tensor 5 "scalar" dtype=float64 shape=[]',
        '.kernel "everything" version=2',
        '.machine "tmu" lanes=8 traversal_groups=4 lane_storage_bytes=2048 outstanding_requests=128 '
        'vector_bytes=64 queue_chunk_bytes=4096 access_unit=true',
        ".slot in_f32 float32 read rank=2",
        ".slot in_i32 int32 read rank=1",
        ".slot out_f32 float32 write rank=1 shape=[p0]",
        ".slot out_i32 int32 write rank=1 shape=[p0]",
        ".param p0 slot=in_i32 dim=0 add=0",
        ".param p1 slot=in_f32 dim=1 add=-1",
        ".param p2 slot=in_i32 element=-9223372036854775808 add=9223372036854775807",
        ".const k0 9223372036854775807",
        ".const k1 -9223372036854775808",
        ".fconst kf0 0x1.999999999999ap-4",
        ".fconst kf1 -inf",
        ".jumptable jt0 end end",
        ".jumptable jt1",
        ".access",
        *("  " + line for line in _access_program()),
        ".execute",
        *("        " + line if not line.startswith("end:") else line for line in _execute_program()),
        ".end",
        '.host_segment 0 "dense" format=graph_def buffer=2 inputs=["a", "b"] outputs=["c"]',
        '.host_segment 1 "hlo" format=hlo_module buffer=2 inputs=[] outputs=["out0"]',
        '.subgraph "main" inputs=[0, 1] outputs=[2, 3]',
        ".operator kernel 0 inputs=[1, 0] outputs=[2, 3]",
        ".operator host_segment 1 inputs=[2] outputs=[5]",
        '.subgraph "empty" inputs=[] outputs=[]',
        '.signature "serving_default" subgraph=0',
        '.input "ids" 0',
        '.output "out" 2',
        '.signature "other" subgraph=1',
        '.metadata "min_runtime_version" buffer=3',
        '.metadata "source_format" buffer=2',
    ]) + "\n"


@pytest.fixture(scope="module")
def every_element_model():
    return dae_isa.assemble(every_element_source(), "every.dasm")


def test_every_opcode_appears(every_element_model):
    kernel = every_element_model.kernels[0]
    used = {i.mnemonic for i in decode_all(kernel.accessCode)}
    used |= {i.mnemonic for i in decode_all(kernel.executeCode)}
    assert used == {s.mnemonic for s in SPECS}


def test_text_and_file_round_trip_byte_for_byte(every_element_model, tmp_path):
    first = dae_isa.serialize_model(every_element_model)
    path = tmp_path / "every.daebin"
    dae_isa.write_model(every_element_model, path)
    assert path.read_bytes() == first
    reread = dae_isa.read_model(path)
    text = dae_isa.disassemble(reread)
    assert dae_isa.serialize_model(dae_isa.assemble(text, "again.dasm")) == first
    assert dae_isa.serialize_model(reread) == first
    assert dae_isa.disassemble(dae_isa.model_from_buffer(first)) == text


def test_round_trip_keeps_every_value(every_element_model):
    model = dae_isa.model_from_buffer(dae_isa.serialize_model(every_element_model))
    kernel = model.kernels[0]
    assert list(kernel.intConstants) == [2**63 - 1, -(2**63)]
    assert kernel.floatConstants[0] == 0.1 and kernel.floatConstants[1] == -np.inf
    assert model.description == 'every element "quoted" ünïcode'
    assert [int(d) for d in model.tensors[0].shapeSignature] == [-1]
    assert model.tensors[5].shape is not None and len(model.tensors[5].shape) == 0
    assert bytes(model.buffers[2].data) == b"\x00\x01\x02" and model.buffers[2].offset > 0
    assert model.buffers[2].offset % 64 == 0
    assert [s.name for s in kernel.slots] == ["in_f32", "in_i32", "out_f32", "out_i32"]
    assert [int(d) for d in kernel.slots[2].shape] == [-1]
    assert (kernel.params[1].slot, kernel.params[1].dim, kernel.params[1].add) == (0, 1, -1)
    assert kernel.params[1].kind == fb.ParamKind.DIM and kernel.params[1].element == 0
    p2 = kernel.params[2]
    assert (p2.slot, p2.kind, p2.dim, p2.element, p2.add) == (1, fb.ParamKind.ELEMENT, 0, -(2**63), 2**63 - 1)
    assert len(kernel.jumpTables) == 2 and len(kernel.jumpTables[1].targets) == 0
    assert model.hostSegments[0].inputNames == ["a", "b"]
    assert [s.key for s in model.signatureDefs] == ["serving_default", "other"]


def test_identical_input_gives_identical_bytes():
    source = every_element_source()
    assert dae_isa.serialize_model(dae_isa.assemble(source)) == dae_isa.serialize_model(dae_isa.assemble(source))


def test_inline_buffers_are_16_byte_aligned(every_element_model):
    raw = dae_isa.serialize_model(every_element_model)
    model = fb.Model.GetRootAs(raw, 0)
    table = model.Buffers(1)
    start = table._tab.Vector(table._tab.Offset(4))
    assert start % 16 == 0


def _kernel(body: list[str]) -> str:
    """A one-kernel source on the tmu machine: line 3 is body's first line."""
    return "\n".join(['.kernel "k"', MACHINE_LINE, *body, ".end"])


MACHINE_LINE = ('.machine "tmu" lanes=8 traversal_groups=4 lane_storage_bytes=2048 outstanding_requests=128 '
                'vector_bytes=64 queue_chunk_bytes=4096 access_unit=true')


@pytest.mark.parametrize("line, message", [
    ("  frob x1", "unknown instruction 'frob'"),
    ("  li x1", "missing operand 'imm'"),
    ("  li x99, 3", "x99"),
    ("  vadd v1, v2, v3", "needs a .dtype suffix"),
    ("  vadd.q7 v1, v2, v3", "unknown dtype suffix"),
    ("  jmp nowhere", "undefined label 'nowhere'"),
    ("  ld.i32 x1, nosuch, x2", "unknown slot 'nosuch'"),
    ("  li x1, 1, 2", "takes 2 operands"),
    ("  li x1, imm=2, imm=3", "given twice"),
    ("  tu.dns t0, parent=none, width=1, lb=0, ub=0", "access-unit instruction"),
    ("  fadd.i32 f1, f2, f3", "not a floating-point type"),
])
def test_assembler_errors_name_line_and_column(line, message):
    source = _kernel([".execute", line, "  halt"])
    with pytest.raises(AssemblyError, match=r"^k\.dasm:4:\d+: .*" + message.replace("(", r"\(")):
        dae_isa.assemble(source, "k.dasm")


def test_writer_refuses_an_invalid_model(every_element_model, tmp_path):
    model = dae_isa.assemble(every_element_source())
    model.tensors[1].buffer = 99
    with pytest.raises(DaebinFormatError, match="buffer index 99 out of range"):
        dae_isa.write_model(model, tmp_path / "bad.daebin")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("bad_line, message", [
    ("  str.ite s0, tu=t5", "t5 is not defined"),
    ("  tu.dns t1, parent=t0, width=1, lb=0, ub=s0", "constant bounds"),
    ("  mar.opnd t0, event=beg, stream=s0", "only at t0's ite event"),
    ("  str.ite s0, tu=t0", "s0 is defined twice"),
    ("  tu.group t0, layer=4, mode=single, lanes=1", "traversal groups"),
    ("  tu.group t0, layer=0, mode=single, lanes=9", "lanes exceed"),
    ("  str.mem s5, tu=t0, slot=out, index=s0, col=none", "only reads input slots"),
    ("  tu.dns t1, parent=t0, width=65, lb=0, ub=4", "width 65"),
])
def test_verifier_rejects_miswired_access_configurations(bad_line, message):
    source = _kernel([
        ".slot ids int32 read rank=1",
        ".slot out int32 write rank=1 shape=[4]",
        ".access",
        "  tu.dns t0, parent=none, width=1, lb=0, ub=4",
        "  str.ite s0, tu=t0",
        bad_line,
        ".execute",
        "  halt",
    ])
    model = dae_isa.assemble(source, "k.dasm")
    with pytest.raises(DaebinFormatError, match=message):
        dae_isa.serialize_model(model)


def test_vscatter_word_layout_and_text_round_trip():
    """vscatter is laid out like vgather: vs in A, slot in B, vi in C, mask in D, dtype in E."""
    source = _kernel([".slot out float16 write rank=1 shape=[4]", ".execute",
                      "  vscatter.f16 v31, out, v2, m7", "  halt"])
    model = dae_isa.assemble(source, "k.dasm")
    word = int(model.kernels[0].executeCode[0])
    f16 = dtypes.BY_NAME["float16"].code
    assert word == 0x67 | 31 << 8 | 0 << 16 | 2 << 24 | 7 << 32 | f16 << 48
    assert decode(word) == Instruction(dae_isa.encoding.BY_CODE[0x67], (31, 0, 2, 7, f16))
    text = dae_isa.disassemble(dae_isa.model_from_buffer(dae_isa.serialize_model(model)))
    assert "vscatter.f16 v31, out, v2, m7" in text
    assert dae_isa.serialize_model(dae_isa.assemble(text)) == dae_isa.serialize_model(model)


@pytest.mark.parametrize("line, message", [
    ("  vscatter.i32 v0, ids, v1, m0", "vscatter: stores into input slot 'ids'"),
    ("  vst.i32 v0, ids, x1, m0", "vst: stores into input slot 'ids'"),
    ("  st.i32 x2, ids, x1", "st: stores into input slot 'ids'"),
    ("  vscatter.f32 v0, out, v1, m0", r"vscatter: dtype f32 does not match slot 'out' \(int32\)"),
])
def test_verifier_rejects_stores_into_inputs_and_dtype_mismatches(line, message):
    source = _kernel([".slot ids int32 read rank=1", ".slot out int32 write rank=1 shape=[4]", ".execute",
                      line, "  halt"])
    model = dae_isa.assemble(source, "k.dasm")
    with pytest.raises(DaebinFormatError, match=message):
        dae_isa.serialize_model(model)


# -- params: a dimension of an input (DIM) or an element of an integer input (ELEMENT)

_PARAM_SLOTS = [".slot ids int32 read rank=1", ".slot wide int64 read rank=2", ".slot table float32 read rank=2",
                ".slot out float32 write rank=2 shape=[p0, 8]"]


def _param_kernel(*params: str) -> str:
    """Element params need kernel version 2."""
    return _kernel([*_PARAM_SLOTS, *params, ".execute", "  halt"]).replace('.kernel "k"', '.kernel "k" version=2', 1)


def test_element_params_assemble_and_round_trip_byte_for_byte():
    source = _param_kernel(".param p0 slot=ids element=-1", ".param p1 slot=wide element=5 add=-2",
                           ".param p2 slot=@0 element=0 add=7", ".param p3 slot=table dim=1 add=1")
    model = dae_isa.assemble(source, "k.dasm")
    params = model.kernels[0].params
    assert [(p.kind, p.slot, p.dim, p.element, p.add) for p in params] == [
        (fb.ParamKind.ELEMENT, 0, 0, -1, 0), (fb.ParamKind.ELEMENT, 1, 0, 5, -2),
        (fb.ParamKind.ELEMENT, 0, 0, 0, 7), (fb.ParamKind.DIM, 2, 1, 0, 1)]
    data = dae_isa.serialize_model(model)
    text = dae_isa.disassemble(dae_isa.model_from_buffer(data))
    assert [line for line in text.splitlines() if line.startswith(".param")] == [
        ".param p0 slot=ids element=-1 add=0", ".param p1 slot=wide element=5 add=-2",
        ".param p2 slot=ids element=0 add=7", ".param p3 slot=table dim=1 add=1"]
    assert dae_isa.serialize_model(dae_isa.assemble(text, "again.dasm")) == data


def test_dim_params_are_written_as_schema_v1_wrote_them():
    """kind and element keep their defaults on a DIM param, so they are not stored: a file
    with only DIM params is byte for byte what a v1 writer made (a 3-field vtable)."""
    data = dae_isa.serialize_model(dae_isa.assemble(_param_kernel(".param p0 slot=table dim=0 add=-1",
                                                                  ".param p1 slot=ids element=-1")))
    kernel = fb.Model.GetRootAs(data, 0).Kernels(0)

    def vtable_fields(param) -> int:
        tab = param._tab
        vtable = tab.Pos - tab.Get(flatbuffers.number_types.SOffsetTFlags, tab.Pos)
        return (tab.Get(flatbuffers.number_types.Uint16Flags, vtable) - 4) // 2

    assert vtable_fields(kernel.Params(0)) == 3
    assert vtable_fields(kernel.Params(1)) == 5


@pytest.mark.parametrize("line, column, message", [
    (".param p0 slot=ids", 1, r"\.param needs dim= \(a dimension of the slot's shape\) or element="),
    (".param p0 slot=ids dim=0 element=-1", 34, r"\.param takes dim= or element=, not both"),
    (".param p0 slot=ids element=last", 28, r"expected an integer, found 'last'"),
    (".param p0 slot=ids element=-1 elem=2", 36, r"\.param has no 'elem='"),
    (".param p0 slot=nosuch element=-1", 16, r"unknown slot 'nosuch'"),
    (".param p0 slot=ids element=9223372036854775808", 28, r"9223372036854775808 does not fit a signed 64-bit"),
    (".param p0 slot=ids element=0 add=-9223372036854775809", 34, r"-9223372036854775809 does not fit a signed 64"),
    (".param p0 slot=ids dim=2147483648", 24, r"2147483648 does not fit a signed 32-bit field"),
])
def test_param_syntax_errors_name_line_and_column(line, column, message):
    source = _param_kernel(line)
    with pytest.raises(AssemblyError, match=rf"^k\.dasm:7:{column}: {message}"):
        dae_isa.assemble(source, "k.dasm")


@pytest.mark.parametrize("line, message", [
    (".param p0 slot=table element=0", r"param 0: an element parameter reads an int32 or int64 slot, not 'table' "
                                       r"\(float32\)"),
    (".param p0 slot=out element=-1", r"param 0: an element parameter reads an input slot, not output slot 'out'"),
    (".param p0 slot=@9 element=-1", r"param 0: slot index 9 out of range \(0\.\.3\)"),
    (".param p0 slot=ids dim=1", r"param 0: dimension 1 outside rank 1"),
])
def test_verifier_rejects_bad_element_params(line, message):
    model = dae_isa.assemble(_param_kernel(line), "k.dasm")
    with pytest.raises(DaebinFormatError, match=message):
        dae_isa.serialize_model(model)


@pytest.mark.parametrize("field, value, message", [
    ("kind", 3, r"param 0: unknown parameter kind 3 \(0: DIM, 1: ELEMENT, 2: COPY\)"),
    ("kind", 2, r"param 0: a copy parameter needs kernel version 3"),
    ("kind", -1, r"param 0: unknown parameter kind -1"),
    ("dim", 1, r"param 0: an element parameter has dim 0, not 1"),
])
def test_verifier_rejects_malformed_param_tables(field, value, message):
    model = dae_isa.assemble(_param_kernel(".param p0 slot=ids element=-1"), "k.dasm")
    setattr(model.kernels[0].params[0], field, value)
    with pytest.raises(DaebinFormatError, match=message):
        dae_isa.serialize_model(model)


def test_element_params_need_kernel_version_2():
    """A version-1 runtime would read an element param as a dimension: such kernels say version 2."""
    model = dae_isa.assemble(_param_kernel(".param p0 slot=ids element=-1"), "k.dasm")
    model.kernels[0].version = 1
    with pytest.raises(DaebinFormatError, match=r"param 0: an element parameter needs kernel version 2"):
        dae_isa.serialize_model(model)
