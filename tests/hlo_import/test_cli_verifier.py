"""`ember-tf convert` on modules the HLO verifier rejects: one line on stderr naming the file,
line:column and instruction, exit status 2, no traceback, no output file. One module per
kind of problem (tests/hlo/test_verifier.py has the full list, in process)."""

from __future__ import annotations

import pytest

from tests.hlo_import.test_cli import LOOKUP
from tests.test_cli import _assert_one_line_error, ember_tf

SELF_CALL = """HloModule recursive

f {
  p = f32[3,4] parameter(0)
  ROOT c = f32[3,4] call(p), to_apply=f
}

ENTRY main {
  table = f32[10,4] parameter(0)
  ids = s32[3] parameter(1)
  rows = f32[3,4] gather(table, ids), offset_dims={1}, collapsed_slice_dims={0}, start_index_map={0}, index_vector_dim=1, slice_sizes={1,4}
  ROOT r = f32[3,4] call(rows), to_apply=f
}
"""

CASES = {
    "operand count": (LOOKUP.replace("multiply(rows, twos)", "multiply(rows, twos, rows)"), ":9:8:",
                      "main/doubled: multiply takes 2 operands, not 3"),
    "missing attribute": (LOOKUP.replace(", slice_sizes={1,4}", ""), ":6:3:", "main/rows: gather needs the attribute "
                                                                                "slice_sizes"),
    "integer attribute": (LOOKUP.replace("index_vector_dim=1", "index_vector_dim=true"), ":6:3:",
                          "attribute index_vector_dim=true is not an integer"),
    "shapes": (LOOKUP.replace("slice_sizes={1,4}", "slice_sizes={1,1000000000000}"), ":6:3:",
               "slice_sizes: size 1000000000000 of dimension 1 is not within [0, 4]"),
    "recursion": (SELF_CALL, ":5:8:", "f/c: calls 'f', which is recursion (f -> f)"),
    "size": (LOOKUP.replace("f32[3,4] broadcast", "f32[3,1000000000] broadcast"), ":8:3:",
             "has 3000000000 elements; at most 2147483648 (2**31) per array"),
    "literal out of range": (LOOKUP.replace("two = f32[] constant(2)", "two = s32[] constant(9999999999)"), ":7:3:",
                             "constant of type s32 cannot hold the value 9999999999"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_convert_rejects_with_one_line(tmp_path, name):
    text, where, message = CASES[name]
    module, out = tmp_path / "m.hlo", tmp_path / "m.daebin"
    module.write_text(text)
    result = ember_tf("convert", module, out)
    _assert_one_line_error(result, f"{module}{where}", message)
    assert not out.exists()
