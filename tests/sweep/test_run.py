"""One point, in this process: its record (the point's columns, the run's figures, wall
seconds), a bad point's one-line error, a bug recorded but not final; and a SavedModel
with an open batch dimension and a SparseTensor input run on random inputs."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf.machines import load_machine
from ember_tf.sweep import METRICS, expand, load_spec
from ember_tf.sweep import run as run_module
from ember_tf.sweep.run import sweep_point
from tests.sweep.models import write_sweep


@pytest.fixture(scope="module")
def points(tmp_path_factory):
    return expand(load_spec(write_sweep(tmp_path_factory.mktemp("sweep"))))


def test_a_point_gives_a_flat_record(points):
    point = points[0]       # tmu, base, bag, batch 8, auto, gm
    result = sweep_point(point)
    record = result.record
    assert result.final and record["error"] is None, record["error"]
    assert {k: record[k] for k in point.columns()} == point.columns()
    assert set(METRICS) <= set(record) and all(isinstance(record[m], int) for m in METRICS if m != "modelled_us")
    assert record["kernels"] == 1 and record["cycles"] == record["kernel_cycles"] + record["host_cycles"]
    assert record["dram_bytes"] >= 8 * 4 * 16 * 4      # every row the bag gathers, at least once
    assert record["instructions"] > 0 and record["wall_seconds"] >= record["convert_seconds"] >= 0
    # the emulated time on the point's machine, the same machine the compiler and the planner saw
    assert record["modelled_us"] == pytest.approx(record["cycles"] / load_machine("tmu").clock_ghz / 1e3, rel=1e-6)


def test_the_override_reaches_the_machine(points):
    base, half = (next(p for p in points if (p.override, p.model, p.batch, p.machine, p.core_mapping,
                                             p.lookup_strategy) == (o, "bag", 16, "tmu", "even", "gm"))
                  for o in ("base", "half"))
    fast, slow = sweep_point(base).record, sweep_point(half).record
    assert slow["cycles"] > fast["cycles"]      # half the cores and half the bandwidth


def test_a_bad_point_records_one_line(points):
    bad = next(p for p in points if p.model == "lookup" and p.batch == 16)
    result = sweep_point(bad)
    assert result.final     # the same error on every run: cached like any result
    assert result.record["error"].startswith("convert: ") and "\n" not in result.record["error"]
    assert "ids" in result.record["error"] and result.record.get("cycles") is None


def test_a_bug_is_recorded_but_not_final(points, monkeypatch, capsys):
    def broken(point):
        raise ZeroDivisionError("oops\nsecond line")
    monkeypatch.setattr(run_module, "_convert_and_run", broken)
    result = sweep_point(points[0])
    assert not result.final
    assert result.record["error"] == "internal error: ZeroDivisionError: oops second line"
    assert "Traceback" in capsys.readouterr().err    # the worker's log keeps the traceback


def test_a_saved_model_with_an_open_batch(tmp_path):
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)

    class Model(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.Variable(rng.standard_normal((50, 8)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="ids"),
                                      tf.SparseTensorSpec([None, None], tf.int64)])
        def __call__(self, ids, bags):
            return {"rows": tf.nn.embedding_lookup(self.table, ids),
                    "bags": tf.nn.embedding_lookup_sparse(self.table, bags, None, combiner="sum")}

    tf.saved_model.save(Model(), str(tmp_path / "saved"))
    (tmp_path / "s.toml").write_text('machines = ["tmu"]\nbatches = [4, 64]\n[[models]]\nname = "sm"\n'
                                     'path = "saved"\nid_range = 50\npooling = 3\n')
    small, large = (sweep_point(p).record for p in expand(load_spec(tmp_path / "s.toml")))
    assert small["error"] is None and large["error"] is None, (small["error"], large["error"])
    assert small["kernels"] == large["kernels"] == 2
    assert large["dram_bytes"] > small["dram_bytes"]
