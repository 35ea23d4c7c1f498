"""Slot placement (`.slot ... place=scratchpad|buffer`, KernelSlot.placement) and operator
core ranges (`.operator kernel ... cores=OFFSET+COUNT`, Operator.core_offset/core_count):
text and file round trips, defaults stored as before (byte-identical files), and the
assembler's and the verifier's errors."""

from __future__ import annotations

import pathlib

import pytest

from ember_tf import dae_isa
from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.errors import AssemblyError, DaebinFormatError

KERNELS = pathlib.Path(__file__).resolve().parents[2] / "kernels"
SOURCE = (KERNELS / "gather_input.dasm").read_text()
TABLE_SLOT = ".slot table float32 read rank=2"
OPERATOR = ".operator kernel 0 inputs=[0, 1] outputs=[2]"


def _two_operators(place: str = "", cores: tuple[str, str] = ("", "")) -> str:
    """gather_input.dasm with its table slot placed and a second, independent operator."""
    text = SOURCE.replace(TABLE_SLOT, TABLE_SLOT + place)
    text = text.replace('.tensor 2 "out" dtype=float32 shape=[4, 20] signature=[-1, -1]',
                        '.tensor 2 "out" dtype=float32 shape=[4, 20] signature=[-1, -1]\n'
                        '.tensor 3 "ids2" dtype=int32 shape=[4] signature=[-1]\n'
                        '.tensor 4 "out2" dtype=float32 shape=[4, 20] signature=[-1, -1]')
    text = text.replace(OPERATOR, f"{OPERATOR}{cores[0]}\n.operator kernel 0 inputs=[3, 1] outputs=[4]{cores[1]}")
    text = text.replace('.output "out" 2', '.output "out" 2\n.input "ids2" 3\n.output "out2" 4')
    return text


@pytest.mark.parametrize("place, value", [(" place=scratchpad", fb.Placement.SCRATCHPAD),
                                          (" place=buffer", fb.Placement.BUFFER), ("", fb.Placement.DRAM),
                                          (" place=dram", fb.Placement.DRAM)])
def test_placement_round_trips_through_text_and_file(place, value):
    model = dae_isa.assemble(_two_operators(place), "k.dasm")
    assert [s.placement for s in model.kernels[0].slots] == [fb.Placement.DRAM, value, fb.Placement.DRAM]
    data = dae_isa.serialize_model(model)
    read = dae_isa.model_from_buffer(data)
    assert read.kernels[0].slots[1].placement == value
    text = dae_isa.disassemble(read)
    slot_line, = [line for line in text.splitlines() if line.startswith(".slot table")]
    expected = {fb.Placement.SCRATCHPAD: " place=scratchpad", fb.Placement.BUFFER: " place=buffer"}.get(value, "")
    assert slot_line == TABLE_SLOT + expected
    assert dae_isa.serialize_model(dae_isa.assemble(text, "again.dasm")) == data


@pytest.mark.parametrize("cores, expected", [(("", ""), [(0, 0), (0, 0)]),
                                             ((" cores=0+4", " cores=4+4"), [(0, 4), (4, 4)]),
                                             ((" cores=2+3", ""), [(2, 3), (0, 0)]),
                                             ((" cores=0x10+1", ""), None)])
def test_core_ranges_round_trip_through_text_and_file(cores, expected):
    if expected is None:
        with pytest.raises(AssemblyError, match=r"expected cores=OFFSET\+COUNT"):
            dae_isa.assemble(_two_operators(cores=cores), "k.dasm")
        return
    model = dae_isa.assemble(_two_operators(cores=cores), "k.dasm")
    assert [(op.coreOffset, op.coreCount) for op in model.subgraphs[0].operators] == expected
    data = dae_isa.serialize_model(model)
    read = dae_isa.model_from_buffer(data)
    assert [(op.coreOffset, op.coreCount) for op in read.subgraphs[0].operators] == expected
    text = dae_isa.disassemble(read)
    lines = [line for line in text.splitlines() if line.startswith(".operator")]
    assert lines == [f"{OPERATOR}{cores[0]}", f".operator kernel 0 inputs=[3, 1] outputs=[4]{cores[1]}"]
    assert dae_isa.serialize_model(dae_isa.assemble(text, "again.dasm")) == data


def test_defaults_are_not_stored():
    """DRAM placement and core_count 0 are the schema defaults: a file that uses neither is
    byte for byte what the schema before them wrote (the fields are absent)."""
    plain = dae_isa.serialize_model(dae_isa.assemble(_two_operators()))
    assert dae_isa.serialize_model(dae_isa.assemble(_two_operators(" place=dram"))) == plain
    for kernel_file in sorted(KERNELS.glob("*.dasm")):
        model = dae_isa.assemble(kernel_file.read_text(), str(kernel_file))
        root = fb.Model.GetRootAs(dae_isa.serialize_model(model), 0)
        for k in range(root.KernelsLength()):
            for s in range(root.Kernels(k).SlotsLength()):
                assert root.Kernels(k).Slots(s)._tab.Offset(14) == 0   # placement: not in the vtable
        for op in range(root.Subgraphs(0).OperatorsLength()):
            assert root.Subgraphs(0).Operators(op)._tab.Offset(12) == 0   # core_offset
            assert root.Subgraphs(0).Operators(op)._tab.Offset(14) == 0   # core_count


@pytest.mark.parametrize("old, new, message", [
    (TABLE_SLOT, TABLE_SLOT + " place=l2", r"k\.dasm:26:39: expected place=dram, scratchpad, buffer or hot, found 'l2'"),
    (OPERATOR, OPERATOR + " cores=3", r"expected cores=OFFSET\+COUNT \(e\.g\. cores=2\+3: cores 2, 3 and 4\), "
                                      r"found '3'"),
    (OPERATOR, OPERATOR + " cores=1+0", r"cores=OFFSET\+0 runs on no core \(leave cores= out to use every core\)"),
    (OPERATOR, OPERATOR + " cores=-1+2", r"expected cores=OFFSET\+COUNT"),
    (OPERATOR, OPERATOR + " cores=1+2 cores=2+2", r"'cores=' given twice"),
    (OPERATOR, OPERATOR + " cores=4294967295+1", r"core range 4294967295\+1 does not fit 32 bits"),
])
def test_assembler_errors_name_line_and_column(old, new, message):
    with pytest.raises(AssemblyError, match=message):
        dae_isa.assemble(SOURCE.replace(old, new), "k.dasm")


def test_a_host_segment_takes_no_core_range():
    text = ('.model version=1\n.buffer 1 data=""\n.tensor 0 "x" dtype=float32 shape=[1]\n'
            '.tensor 1 "y" dtype=float32 shape=[1]\n'
            '.host_segment 0 "h" format=graph_def buffer=1 inputs=["x"] outputs=["y"]\n'
            '.subgraph "main" inputs=[0] outputs=[1]\n'
            '.operator host_segment 0 inputs=[0] outputs=[1] cores=0+2\n')
    with pytest.raises(AssemblyError, match=r"h\.dasm:7:\d+: cores= belongs to kernel operators"):
        dae_isa.assemble(text, "h.dasm")


def test_verifier_allows_placement_only_on_read_slots():
    model = dae_isa.assemble(_two_operators(), "k.dasm")
    model.kernels[0].slots[2].placement = fb.Placement.SCRATCHPAD
    with pytest.raises(DaebinFormatError, match=r"slot 2: scratchpad placement on output slot 'out': only read-only "
                                                r"slots may leave DRAM"):
        dae_isa.serialize_model(model)
    model.kernels[0].slots[2].placement = fb.Placement.DRAM
    model.kernels[0].slots[1].placement = 4
    with pytest.raises(DaebinFormatError, match=r"slot 1: unknown placement 4 \(0: DRAM, 1: SCRATCHPAD, 2: BUFFER, 3: HOT\)"):
        dae_isa.serialize_model(model)
    model.kernels[0].slots[1].placement = fb.Placement.DRAM
    model.kernels[0].slots[1].hotRows = 5
    with pytest.raises(DaebinFormatError, match=r"slot 1: hot_rows 5 on a slot that is not placed in the hot storage"):
        dae_isa.serialize_model(model)


@pytest.mark.parametrize("kind, offset, count, message", [
    (fb.OperatorKind.KERNEL, -1, 2, r"operators\[0\]: negative core range \(core_offset -1, core_count 2\)"),
    (fb.OperatorKind.KERNEL, 0, -3, r"operators\[0\]: negative core range"),
    (fb.OperatorKind.KERNEL, 2, 0, r"operators\[0\]: core_offset 2 without a core_count \(0 means all cores, "
                                   r"from core 0\)"),
    (fb.OperatorKind.HOST_SEGMENT, 0, 2, r"operators\[0\]: a core range \(core_offset 0, core_count 2\) on a host "
                                         r"segment; only kernel operators have one"),
])
def test_verifier_rejects_bad_core_ranges(kind, offset, count, message):
    model = dae_isa.assemble(_two_operators(), "k.dasm")
    op = model.subgraphs[0].operators[0]
    op.coreOffset, op.coreCount = offset, count
    if kind == fb.OperatorKind.HOST_SEGMENT:
        op.kind, op.index = kind, 0
        segment = fb.HostSegmentT()
        segment.name, segment.format, segment.buffer = "h", fb.HostFormat.GRAPH_DEF, 0
        model.hostSegments = [segment]
    with pytest.raises(DaebinFormatError, match=message):
        dae_isa.serialize_model(model)


def test_a_core_range_is_checked_against_a_machine_only_when_it_runs():
    """The file holds any range (the verifier knows no machine); the emulator checks it
    against the machine it runs on (tests/emulator/test_core_schedule.py)."""
    model = dae_isa.assemble(_two_operators(cores=(" cores=1000+24", "")), "k.dasm")
    data = dae_isa.serialize_model(model)
    op = dae_isa.model_from_buffer(data).subgraphs[0].operators[0]
    assert (op.coreOffset, op.coreCount) == (1000, 24)
