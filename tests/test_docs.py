"""docs/ISA.md stays true to the code: its opcode reference is what
tools/gen_isa_doc.py renders from the opcode table, its .dasm examples
assemble and verify, and its worked encodings are the words the assembler
produces."""

from __future__ import annotations

import pathlib
import re

import pytest

from ember_tf import dae_isa
from ember_tf.dae_isa.opcodes import BY_MNEMONIC, SPECS, Unit
from tests.tools import load_tool

ROOT = pathlib.Path(__file__).resolve().parents[1]
ISA_MD = ROOT / "docs" / "ISA.md"


def _gen_isa_doc_tool():
    return load_tool("gen_isa_doc")


@pytest.fixture(scope="module")
def tool():
    return _gen_isa_doc_tool()


@pytest.fixture(scope="module")
def doc() -> str:
    return ISA_MD.read_text(encoding="utf-8")


def test_generated_opcode_reference_is_current(tool, doc):
    assert tool.splice(doc, tool.render_opcode_reference()) == doc, (
        "docs/ISA.md is stale: run python tools/gen_isa_doc.py")


def test_reference_has_a_row_per_opcode(tool):
    text = tool.render_opcode_reference()
    for spec in SPECS:
        assert re.search(rf"^\| 0x{spec.code:02X} \| `{re.escape(spec.mnemonic)}[ .`]", text, re.M), spec.mnemonic


def test_check_mode_reports_a_stale_file(tool, doc, tmp_path, monkeypatch, capsys):
    copy = tmp_path / "ISA.md"
    copy.write_text(doc.replace("| 0xC0 |", "| 0xC9 |"), encoding="utf-8")
    monkeypatch.setattr(tool, "DOC", copy)
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    assert tool.main(["--check"]) == 1
    assert tool.main([]) == 0
    assert copy.read_text(encoding="utf-8") == doc
    assert tool.main(["--check"]) == 0
    capsys.readouterr()


def test_splice_refuses_a_document_without_markers(tool):
    with pytest.raises(ValueError, match="must contain"):
        tool.splice("# no markers\n", "generated\n")


def _dasm_blocks(doc: str) -> list[str]:
    return re.findall(r"^```dasm\n(.*?)^```", doc, re.M | re.S)


def test_dasm_examples_assemble_and_verify(doc):
    blocks = _dasm_blocks(doc)
    assert blocks, "docs/ISA.md has no ```dasm example"
    for i, block in enumerate(blocks):
        model = dae_isa.assemble(block, f"docs/ISA.md dasm block {i}")
        dae_isa.serialize_model(model)  # runs the verifier


def test_gather_example_is_the_reference_kernel(doc):
    kernel_file = (ROOT / "kernels" / "gather.dasm").read_text(encoding="utf-8")
    (block,) = [b for b in _dasm_blocks(doc) if '"gather_rows"' in b]
    assert block in kernel_file, "the gather example in docs/ISA.md differs from kernels/gather.dasm"


_ENCODING_ROW = re.compile(r"^\| `0x([0-9a-f]{16})` \| `([^`]+)` \|", re.M)
_KERNEL = """\
.kernel "k"
.machine "tmu" lanes=8 traversal_groups=4 lane_storage_bytes=2048 outstanding_requests=128 vector_bytes=64 \
queue_chunk_bytes=4096 access_unit=true
.slot ids int32 read rank=1
.slot table float32 read rank=2
.slot out float32 write rank=2 shape=[p0, p1]
.access
{access}
.execute
{execute}
.end
"""


def _spec(head: str):
    return BY_MNEMONIC.get(head) or BY_MNEMONIC[head.rsplit(".", 1)[0]]


def test_worked_encodings(doc):
    rows = _ENCODING_ROW.findall(doc)
    assert len(rows) >= 5
    access = [(w, t) for w, t in rows if _spec(t.split()[0]).unit is Unit.ACCESS]
    execute = [(w, t) for w, t in rows if _spec(t.split()[0]).unit is Unit.EXECUTE]
    source = _KERNEL.format(access="\n".join(t for _, t in access), execute="\n".join(t for _, t in execute))
    kernel = dae_isa.assemble(source, "docs/ISA.md worked encodings").kernels[0]
    words = [int(w) for w in kernel.accessCode] + [int(w) for w in kernel.executeCode]
    for (expected, text), word in zip(access + execute, words):
        assert f"{word:016x}" == expected, text
