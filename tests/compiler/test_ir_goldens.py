"""The canonical kernels' IR at each stage (tests/compiler/golden/*.mlir, and
their O3 assembly) is what the compiler prints now; after an intended change,
regenerate with `.venv/bin/python tools/gen_ir_goldens.py` and review the diff."""

from __future__ import annotations

import pathlib

import pytest

from tests.tools import load_tool

ROOT = pathlib.Path(__file__).resolve().parents[2]


RENDERED = load_tool("gen_ir_goldens").render()


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_golden_ir_is_current(name):
    path = ROOT / "tests" / "compiler" / "golden" / name
    assert path.exists(), f"{path} is missing: run tools/gen_ir_goldens.py"
    assert path.read_text() == RENDERED[name], f"{name} changed: run tools/gen_ir_goldens.py and review the diff"


def test_the_stages_show_what_each_level_did():
    o0, o3 = RENDERED["eb_sum_slc_O0.mlir"], RENDERED["eb_sum_slc_O3.mlir"]
    assert "slc.for" in o0 and "slc.callback" in o0 and "vector" not in o0
    assert "slc.for<16>" in o3 and "slc.buf_stream" in o3 and 'var.decl {name = "b_counter"' in o3
    dlc = RENDERED["eb_sum_dlc_O3.mlir"]
    assert "dlc.access" in dlc and "dlc.compute" in dlc and "dlc.register_callback" in dlc
