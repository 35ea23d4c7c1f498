"""`ember-tf convert module.hlo` from the command line: results, and one-line errors
(line:column for malformed text, the opcode for what the evaluator cannot run)."""

from __future__ import annotations

import numpy as np

from tests.test_cli import _assert_one_line_error, ember_tf

LOOKUP = """HloModule lookup

ENTRY main {
  table = f32[10,4] parameter(0)
  ids = s32[3] parameter(1)
  rows = f32[3,4] gather(table, ids), offset_dims={1}, collapsed_slice_dims={0}, start_index_map={0}, index_vector_dim=1, slice_sizes={1,4}
  two = f32[] constant(2)
  twos = f32[3,4] broadcast(two), dimensions={}
  ROOT doubled = f32[3,4] multiply(rows, twos)
}
"""


def test_convert_and_run_with_bound_table(tmp_path):
    (tmp_path / "m.hlo").write_text(LOOKUP)
    table = np.arange(40, dtype=np.float32).reshape(10, 4)
    np.savez(tmp_path / "params.npz", p0=table)
    result = ember_tf("convert", tmp_path / "m.hlo", tmp_path / "m.daebin", f"--hlo_params={tmp_path / 'params.npz'}")
    assert result.returncode == 0, result.stderr
    assert "gather -> gather" in result.stdout
    np.savez(tmp_path / "in.npz", p1=np.array([9, 0, 12], np.int32))    # 12 is clamped, as XLA does
    run = ember_tf("run", tmp_path / "m.daebin", f"--inputs={tmp_path / 'in.npz'}", f"--outputs={tmp_path / 'o.npz'}")
    assert run.returncode == 0, run.stderr
    with np.load(tmp_path / "o.npz") as out:
        np.testing.assert_array_equal(out["out0"], table[[9, 0, 9]] * 2)


def test_malformed_text_names_line_and_column(tmp_path):
    bad = tmp_path / "bad.hlo"
    bad.write_text(LOOKUP.replace("f32[3,4] gather", "f32[3,4 gather"))
    result = ember_tf("convert", bad, tmp_path / "m.daebin")
    _assert_one_line_error(result, f"{bad}:6:")
    assert not (tmp_path / "m.daebin").exists()


def test_unsupported_opcode_is_named_at_conversion(tmp_path):
    module = tmp_path / "m.hlo"
    module.write_text(LOOKUP.replace("multiply(rows, twos)", "frobnicate(rows, twos)"))
    result = ember_tf("convert", module, tmp_path / "m.daebin")
    _assert_one_line_error(result, str(module), "frobnicate")
    assert not (tmp_path / "m.daebin").exists()


def test_bad_params(tmp_path):
    (tmp_path / "m.hlo").write_text(LOOKUP)
    np.savez(tmp_path / "params.npz", p5=np.zeros(3, np.float32))
    result = ember_tf("convert", tmp_path / "m.hlo", tmp_path / "m.daebin", f"--hlo_params={tmp_path / 'params.npz'}")
    _assert_one_line_error(result, "params.npz", "'p5' is not a parameter")
    np.savez(tmp_path / "params.npz", p0=np.zeros((10, 4), np.float64))
    result = ember_tf("convert", tmp_path / "m.hlo", tmp_path / "m.daebin", f"--hlo_params={tmp_path / 'params.npz'}")
    _assert_one_line_error(result, "params.npz", "'p0' is float64")
