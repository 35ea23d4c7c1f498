"""Several tables in one kernel (embedding_ops.combine): every level, both
machines, golden and fast emulation, against the numpy references."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf.compiler import CompileOptions, compile_model
from ember_tf.emulator import Interpreter
from ember_tf.ir import embedding_ops as E
from tests.reference import embedding_ops as R


def _model_and_feeds():
    rng = np.random.default_rng(7)
    func = E.combine([E.embedding_bag(16, "mean", weighted=True), E.gather(40),
                      E.embedding_bag(24, "sum", pooling=3)], "multi")
    feeds = {
        "t0_table": rng.standard_normal((30, 16)).astype(np.float32),
        "t0_indices": rng.integers(0, 30, 5).astype(np.int32),
        "t0_weights": rng.random(5).astype(np.float32),
        "t0_offsets": np.array([0, 2, 2, 5], np.int32),
        "t1_table": rng.standard_normal((30, 40)).astype(np.float32),
        "t1_ids": rng.integers(0, 30, 7).astype(np.int32),
        "t2_table": rng.standard_normal((30, 24)).astype(np.float32),
        "t2_indices": rng.integers(0, 30, (4, 3)).astype(np.int32),
    }
    return func, feeds


@pytest.mark.parametrize("machine", ["tmu", "cpu"])
@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_three_tables_in_one_kernel(machine, level):
    func, f = _model_and_feeds()
    out = Interpreter(model_content=compile_model(func, CompileOptions(target=machine, opt_level=level))) \
        .get_signature_runner()(**f)
    np.testing.assert_allclose(out["t0_out"], R.embedding_bag(f["t0_table"], f["t0_indices"], f["t0_offsets"],
                                                              "mean", f["t0_weights"]), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(out["t1_out"], f["t1_table"][f["t1_ids"]])
    np.testing.assert_allclose(out["t2_out"], f["t2_table"][f["t2_indices"]].sum(axis=1), rtol=1e-6, atol=1e-6)


def test_fast_mode_rerun_keeps_every_table():
    """Regression: fast mode re-runs the core when its access log was short; the
    re-run must start from the tensors as they were, for every table."""
    rng = np.random.default_rng(0)
    funcs, feeds = [], {}
    for t in range(2):
        funcs.append(E.embedding_bag(32, "sum"))
        offsets = np.concatenate([[0], np.cumsum(rng.integers(10, 31, 8))]).astype(np.int32)
        feeds[f"t{t}_table"] = rng.standard_normal((200, 32)).astype(np.float32)
        feeds[f"t{t}_indices"] = rng.integers(0, 200, int(offsets[-1])).astype(np.int32)
        feeds[f"t{t}_offsets"] = offsets
    model = compile_model(E.combine(funcs, "two"), CompileOptions(opt_level=0))
    results = {}
    for mode in ("golden", "fast", "fast"):
        interpreter = Interpreter(model_content=model, mode=mode)
        results[mode] = (interpreter.get_signature_runner()(**feeds), interpreter.last_stats.cycles)
        for t in range(2):
            expected = R.embedding_bag(feeds[f"t{t}_table"], feeds[f"t{t}_indices"], feeds[f"t{t}_offsets"])
            np.testing.assert_allclose(results[mode][0][f"t{t}_out"], expected, rtol=1e-5, atol=1e-5)
    assert results["golden"][1] == results["fast"][1]
