"""`--hlo_params=DIR`: tables bound from a directory of .npy files, read memory-mapped and
written to the .daebin a piece at a time; the same bytes as the .npz path, one-line errors
for a bad directory, and modules whose tables pass 4 GiB verify (their parameters are the
caller's, and TF's no-op reshapes of them are views)."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf import Converter, Interpreter
from ember_tf.dae_isa import writer
from ember_tf.hlo.text import parse_module
from ember_tf.npz import load_npy_dir
from tests.hlo_import.test_cli import LOOKUP
from tests.test_cli import _assert_one_line_error, ember_tf

tf = pytest.importorskip("tensorflow")

ROWS, DIM, BATCH, POOLING = 5000, 16, 6, 3


def _bag_module(tmp_path, rows: int = ROWS):
    """Two tables (parameters 0 and 1) pooled over [BATCH, POOLING] ids (parameters 2 and 3)."""
    def forward(t0, t1, i0, i1):
        return tf.reduce_sum(tf.gather(t0, i0), axis=1), tf.reduce_sum(tf.gather(t1, i1), axis=1)

    specs = [tf.TensorSpec([rows, DIM])] * 2 + [tf.TensorSpec([BATCH, POOLING], tf.int32)] * 2
    path = tmp_path / "module.hlo"
    path.write_text(tf.function(forward, jit_compile=True).experimental_get_compiler_ir(*specs)(stage="hlo"))
    return path, forward


@pytest.fixture
def tables():
    rng = np.random.default_rng(9)
    return [rng.standard_normal((ROWS, DIM)).astype(np.float32) for _ in range(2)]


def test_a_directory_of_npy_converts_as_the_npz_does(tmp_path, tables, monkeypatch):
    monkeypatch.setattr(writer, "PIECE_BYTES", 8192)   # each table is many pieces
    module, forward = _bag_module(tmp_path)
    params = tmp_path / "params"
    params.mkdir()
    for k, table in enumerate(tables):
        np.save(params / f"p{k}.npy", table)
    (params / "README").write_text("not read")
    np.savez(tmp_path / "params.npz", p0=tables[0], p1=tables[1])
    arrays = load_npy_dir(params)
    assert sorted(arrays) == ["p0", "p1"] and all(isinstance(a, np.memmap) for a in arrays.values())
    from_dir = Converter.from_hlo(module, params, external_threshold=1024)
    from_dir.convert_to_file(tmp_path / "dir.daebin")
    Converter.from_hlo(module, tmp_path / "params.npz", external_threshold=1024).convert_to_file(tmp_path / "npz.daebin")
    assert (tmp_path / "dir.daebin").read_bytes() == (tmp_path / "npz.daebin").read_bytes()
    assert [e.family for e in from_dir.reports[0].offloaded] == ["reduce over gather"] * 2
    rng = np.random.default_rng(1)
    ids = [rng.integers(0, ROWS, (BATCH, POOLING)).astype(np.int32) for _ in range(2)]
    got = Interpreter(model_path=tmp_path / "dir.daebin").get_signature_runner()(p2=ids[0], p3=ids[1])
    want = forward(*tables, *ids)
    for k in range(2):
        np.testing.assert_allclose(got[f"out{k}"], want[k].numpy(), rtol=1e-6, atol=1e-6)


def test_the_command_line_takes_a_directory(tmp_path):
    (tmp_path / "m.hlo").write_text(LOOKUP)
    (tmp_path / "params").mkdir()
    table = np.arange(40, dtype=np.float32).reshape(10, 4)
    np.save(tmp_path / "params" / "p0.npy", table)
    result = ember_tf("convert", tmp_path / "m.hlo", tmp_path / "m.daebin", f"--hlo_params={tmp_path / 'params'}")
    assert result.returncode == 0, result.stderr
    np.savez(tmp_path / "in.npz", p1=np.array([9, 0, 3], np.int32))
    run = ember_tf("run", tmp_path / "m.daebin", f"--inputs={tmp_path / 'in.npz'}", f"--outputs={tmp_path / 'o.npz'}")
    assert run.returncode == 0, run.stderr
    with np.load(tmp_path / "o.npz") as out:
        np.testing.assert_array_equal(out["out0"], table[[9, 0, 3]] * 2)


def test_a_bad_directory_is_one_line(tmp_path):
    (tmp_path / "m.hlo").write_text(LOOKUP)
    params = tmp_path / "params"
    params.mkdir()
    out = tmp_path / "m.daebin"

    def convert():
        return ember_tf("convert", tmp_path / "m.hlo", out, f"--hlo_params={params}")

    _assert_one_line_error(convert(), str(params), "no .npy files")
    (params / "p0.npy").write_bytes(b"\x93NUMPY garbage")
    _assert_one_line_error(convert(), str(params / "p0.npy"), "cannot read as .npy")
    np.save(params / "p0.npy", np.zeros((10, 4), np.float64))
    _assert_one_line_error(convert(), "'p0' is float64")
    np.save(params / "p0.npy", np.zeros((10, 4), np.float32))
    np.save(params / "q7.npy", np.zeros(3, np.float32))
    _assert_one_line_error(convert(), "'q7' is not a parameter")
    (params / "q7.npy").unlink()
    np.save(params / "p0.npy", np.array([b"ab", b"c"], dtype=object), allow_pickle=True)
    _assert_one_line_error(convert(), str(params / "p0.npy"))
    assert not out.exists()


def test_tables_past_4_gib_verify(tmp_path):
    """TF's HLO reshapes every parameter to its own shape; those views must not count as the
    evaluator's memory, or 8 GiB of tables would be refused before they are bound."""
    module, _ = _bag_module(tmp_path, rows=16 << 20)    # 2 x 1 GiB tables of dim 16 ... as [16 Mi, 16] f32
    parse_module(module.read_text(), str(module))
    big, _ = _bag_module(tmp_path, rows=64 << 20)       # 2 x 4 GiB
    parse_module(big.read_text(), str(big))
