"""Long traces (`ember-tf run --trace_inputs=DIR`, ember_tf/serving/traces.py): batches from
.npz files, FBGEMM-style (indices, offsets, lengths) files and TF Serving warmup files run
one after another, each equal to TensorFlow on the same batch, with per-batch and aggregate
statistics; a bad file is one line naming it, exit status 2, and no output file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ember_tf import Converter, Interpreter
from ember_tf.serving import WarmupRequest, write_warmup_requests
from ember_tf.serving.traces import TraceStats, percentile, read_trace, run_trace, table_inputs
from ember_tf.serving.warmup import to_request_keys
from tests.test_cli import _assert_one_line_error, ember_tf

tf = pytest.importorskip("tensorflow")

ROWS = {"a": 50, "b": 40, "c": 30}
BATCH = 5


class Mixed(tf.Module):
    """Three tables, each with its own kind of id input (CSR pair, dense [B, 2], SparseTensor),
    and a dense feature."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(0)
        self.a, self.b, self.c = (tf.Variable(rng.standard_normal((n, 4)).astype(np.float32)) for n in ROWS.values())
        self.w = tf.Variable(rng.standard_normal((4, 1)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="a_indices"),
                                  tf.TensorSpec([None], tf.int32, name="a_offsets"),
                                  tf.TensorSpec([None, 2], tf.int32, name="b"),
                                  tf.SparseTensorSpec([None, None], tf.int64),
                                  tf.TensorSpec([None, 4], tf.float32, name="dense")])
    def serve(self, a_indices, a_offsets, b, c, dense):
        segments = tf.ragged.row_splits_to_segment_ids(a_offsets)
        return {"a": tf.sparse.segment_sum(self.a, a_indices, segments, num_segments=tf.size(a_offsets) - 1),
                "b": tf.reduce_sum(tf.gather(self.b, b), axis=1),
                "c": tf.nn.embedding_lookup_sparse(self.c, c, None, combiner="sum"),
                "score": tf.matmul(dense, self.w)}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trace_model")
    module = Mixed()
    tf.saved_model.save(module, str(folder / "saved"), signatures=module.serve)
    Converter.from_saved_model(folder / "saved").convert_to_file(folder / "m.daebin")
    return module, folder / "m.daebin"


def _bags(rng, b_width: int = 2):
    """One batch as per-table bags: table -> list of id lists."""
    return {"a": [list(rng.integers(0, ROWS["a"], rng.integers(0, 4))) for _ in range(BATCH)],
            "b": [list(rng.integers(0, ROWS["b"], b_width)) for _ in range(BATCH)],
            "c": [list(rng.integers(0, ROWS["c"], rng.integers(0, 3))) for _ in range(BATCH)]}


def _feeds(bags, dense) -> dict[str, np.ndarray]:
    """The batch as the signature's npz components."""
    a_lengths = [len(x) for x in bags["a"]]
    c_pairs = [[row, j] for row, bag in enumerate(bags["c"]) for j in range(len(bag))]
    return {"a_indices": np.array([i for bag in bags["a"] for i in bag], np.int32),
            "a_offsets": np.concatenate([[0], np.cumsum(a_lengths)]).astype(np.int32),
            "b": np.array(bags["b"], np.int32),
            "c.indices": np.array(c_pairs, np.int64).reshape(-1, 2),
            "c.values": np.array([i for bag in bags["c"] for i in bag], np.int64),
            "c.dense_shape": np.array([BATCH, max(1, max(len(x) for x in bags["c"]))], np.int64),
            "dense": dense}


def _fbgemm(bags, dense, order=("a", "b", "c"), form="lengths", index_dtype=np.int64) -> dict[str, np.ndarray]:
    lengths = np.array([len(bag) for t in order for bag in bags[t]], np.int32)
    out = {"indices": np.array([i for t in order for bag in bags[t] for i in bag], index_dtype), "dense": dense}
    if form in ("lengths", "both"):
        out["lengths"] = lengths
    if form in ("offsets", "both"):
        out["offsets"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return out


def _tensorflow(module, feeds) -> dict[str, np.ndarray]:
    sparse = tf.SparseTensor(feeds["c.indices"], feeds["c.values"], feeds["c.dense_shape"])
    out = module.serve(feeds["a_indices"], feeds["a_offsets"], feeds["b"], sparse, feeds["dense"])
    return {k: v.numpy() for k, v in out.items()}


def _assert_equal_to_tensorflow(module, result, feeds):
    want = _tensorflow(module, feeds)
    assert set(result.outputs) == set(want)
    for name, value in want.items():
        np.testing.assert_allclose(result.outputs[name], value, rtol=1e-5, atol=1e-5, err_msg=name)


def test_npz_batches_run_in_order_and_add_up(mixed, tmp_path):
    module, model = mixed
    rng = np.random.default_rng(1)
    trace = tmp_path / "trace"
    trace.mkdir()
    batches = {}
    for name in ("b2.npz", "b10.npz", "a.npz"):
        batches[name] = _feeds(_bags(rng), rng.standard_normal((BATCH, 4)).astype(np.float32))
        np.savez(trace / name, **batches[name])
    interpreter = Interpreter(model_path=model)
    total = TraceStats()
    results = list(run_trace(interpreter, read_trace(trace, interpreter)))
    assert [r.batch.name for r in results] == ["a.npz", "b10.npz", "b2.npz"]   # sorted by name
    for result in results:
        _assert_equal_to_tensorflow(module, result, batches[result.batch.name])
        total.add(result)
        assert result.instructions == sum(sum(c.instructions.values()) for k in result.stats.kernels
                                          for c in k.cores) > 0
    summary = total.to_json()
    cycles = [r.stats.cycles for r in results]
    assert summary["batches"] == 3 and summary["cycles"] == sum(cycles)
    assert summary["mean_cycles"] == pytest.approx(sum(cycles) / 3)
    assert summary["p50_cycles"] == sorted(cycles)[1] and summary["p99_cycles"] == max(cycles)
    assert summary["dram_bytes"] == sum(r.stats.dram_bytes for r in results)
    assert summary["instructions"] == sum(r.instructions for r in results)


@pytest.mark.parametrize("form", ["lengths", "offsets", "both"])
def test_fbgemm_batches_map_onto_the_tables(mixed, tmp_path, form):
    module, model = mixed
    rng = np.random.default_rng(2)
    bags, dense = _bags(rng), rng.standard_normal((BATCH, 4)).astype(np.float32)
    np.savez(tmp_path / "batch.npz", **_fbgemm(bags, dense, form=form))
    interpreter = Interpreter(model_path=model)
    (result,) = run_trace(interpreter, read_trace(tmp_path / "batch.npz", interpreter))
    _assert_equal_to_tensorflow(module, result, _feeds(bags, dense))


def test_trace_tables_name_the_table_order(mixed, tmp_path):
    module, model = mixed
    rng = np.random.default_rng(3)
    bags, dense = _bags(rng), rng.standard_normal((BATCH, 4)).astype(np.float32)
    np.savez(tmp_path / "batch.npz", **_fbgemm(bags, dense, order=("c", "a", "b"), index_dtype=np.int32))
    interpreter = Interpreter(model_path=model)
    (result,) = run_trace(interpreter, read_trace(tmp_path / "batch.npz", interpreter, tables=["c", "a", "b"]))
    _assert_equal_to_tensorflow(module, result, _feeds(bags, dense))


def test_the_signature_s_tables_are_found_by_kind(mixed):
    _, model = mixed
    tables, other = table_inputs(Interpreter(model_path=model).get_signature_runner().get_input_details())
    assert [(t.name, t.kind) for t in tables] == [("a", "csr"), ("b", "dense"), ("c", "sparse")]
    assert other == ["dense"]


def test_warmup_files_are_batches_too(mixed, tmp_path):
    module, model = mixed
    rng = np.random.default_rng(4)
    interpreter = Interpreter(model_path=model)
    feeds = [_feeds(_bags(rng), rng.standard_normal((BATCH, 4)).astype(np.float32)) for _ in range(3)]
    requests = [WarmupRequest("m", "serving_default", to_request_keys(interpreter, "serving_default", f))
                for f in feeds[:2]]
    trace = tmp_path / "trace"
    trace.mkdir()
    write_warmup_requests(trace / "tf_serving_warmup_requests", requests)
    np.savez(trace / "later.npz", **feeds[2])
    results = list(run_trace(interpreter, read_trace(trace, interpreter)))
    assert [r.batch.name for r in results] == ["later.npz", "tf_serving_warmup_requests#0",
                                               "tf_serving_warmup_requests#1"]
    for result, batch in zip(results, [feeds[2], feeds[0], feeds[1]]):
        _assert_equal_to_tensorflow(module, result, batch)


def test_the_command_line_prints_each_batch_and_the_trace(mixed, tmp_path):
    module, model = mixed
    rng = np.random.default_rng(5)
    trace = tmp_path / "trace"
    trace.mkdir()
    bags = [_bags(rng) for _ in range(3)]
    dense = [rng.standard_normal((BATCH, 4)).astype(np.float32) for _ in range(3)]
    for k in range(3):
        np.savez(trace / f"batch{k}.npz", **_fbgemm(bags[k], dense[k]))
    stats, outputs = tmp_path / "stats.json", tmp_path / "out.npz"
    result = ember_tf("run", model, f"--trace_inputs={trace}", f"--trace_stats_json={stats}", f"--outputs={outputs}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == [f"batch {k} batch{k}.npz" for k in range(3)]
    payload = json.loads(stats.read_text())
    assert [b["batch"] for b in payload["batches"]] == [f"batch{k}.npz" for k in range(3)]
    aggregate = payload["aggregate"]
    assert aggregate["batches"] == 3 and aggregate["cycles"] == sum(b["cycles"] for b in payload["batches"])
    assert f"{aggregate['cycles']:,} cycles in all" in lines[3] and f"p99 {aggregate['p99_cycles']:,}" in lines[3]
    for k, batch in enumerate(payload["batches"]):
        assert f"{batch['cycles']:,} cycles, {batch['dram_bytes']:,} DRAM bytes, {batch['instructions']:,} " \
               f"instructions" in lines[k]
    with np.load(outputs) as got:
        assert sorted(got.files) == sorted(f"{k}/{n}" for k in range(3) for n in ("a", "b", "c", "score"))
        for k in range(3):
            want = _tensorflow(module, _feeds(bags[k], dense[k]))
            for name, value in want.items():
                np.testing.assert_allclose(got[f"{k}/{name}"], value, rtol=1e-5, atol=1e-5)


def test_nearest_rank_percentiles():
    assert percentile([], 50) == 0
    assert percentile([7], 99) == 7
    values = list(range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99 and percentile(values, 100) == 100
    assert percentile([5, 1, 3, 2], 50) == 2


def _bad_trace(tmp_path, name, arrays=None, raw=None):
    trace = tmp_path / "trace"
    trace.mkdir(exist_ok=True)
    for old in trace.iterdir():
        old.unlink()
    path = trace / name
    if raw is not None:
        path.write_bytes(raw)
    else:
        np.savez(path, **arrays)
    return trace, path


def test_bad_traces_are_one_line_naming_the_file(mixed, tmp_path):
    _, model = mixed
    rng = np.random.default_rng(6)
    bags, dense = _bags(rng), rng.standard_normal((BATCH, 4)).astype(np.float32)
    out = tmp_path / "out.npz"

    def run(trace, *flags):
        return ember_tf("run", model, f"--trace_inputs={trace}", f"--outputs={out}", *flags)

    _assert_one_line_error(run(tmp_path / "nope"), "nope", "no such trace directory")
    (tmp_path / "empty").mkdir()
    _assert_one_line_error(run(tmp_path / "empty"), "empty", "holds no files")
    trace, path = _bad_trace(tmp_path, "notes.txt", raw=b"hello")
    _assert_one_line_error(run(trace), str(path), "not a trace file")
    trace, path = _bad_trace(tmp_path, "b.npz", raw=b"PK\x03\x04 not a zip")
    _assert_one_line_error(run(trace), str(path), "cannot read as .npz")
    fbgemm = _fbgemm(bags, dense)
    trace, path = _bad_trace(tmp_path, "b.npz", {**fbgemm, "indices": np.append(fbgemm["indices"], 3)})
    _assert_one_line_error(run(trace), str(path), "'indices' has")
    trace, path = _bad_trace(tmp_path, "b.npz", {**fbgemm, "lengths": fbgemm["lengths"][:-2],
                                                 "indices": fbgemm["indices"][:fbgemm["lengths"][:-2].sum()]})
    _assert_one_line_error(run(trace), str(path), "do not split over the 3 tables")
    offsets = np.concatenate([[0], np.cumsum(fbgemm["lengths"])])
    offsets[2] -= 1
    trace, path = _bad_trace(tmp_path, "b.npz", {**fbgemm, "offsets": offsets})
    _assert_one_line_error(run(trace), str(path), "disagree")
    uneven = dict(bags, b=[[1], [2, 3], [4, 5], [6, 7], [8, 9]])
    trace, path = _bad_trace(tmp_path, "b.npz", _fbgemm(uneven, dense))
    _assert_one_line_error(run(trace), str(path), "input 'b' takes 2 ids per sample")
    trace, path = _bad_trace(tmp_path, "b.npz", _fbgemm(bags, dense))
    _assert_one_line_error(run(trace, "--trace_tables=a,b,z"), str(path), "'z' is not a table input")
    trace, path = _bad_trace(tmp_path, "b.npz", {**_fbgemm(bags, dense), "extra": np.zeros(3)})
    _assert_one_line_error(run(trace), str(path), "'extra'")
    feeds = _feeds(bags, dense)
    feeds["b"] = feeds["b"] + 1000                      # ids out of range: the batch's fault, named
    trace, path = _bad_trace(tmp_path, "b.npz", feeds)
    _assert_one_line_error(run(trace), str(path), "batch b.npz")
    trace, path = _bad_trace(tmp_path, "b.npz", {k: v for k, v in _feeds(bags, dense).items() if k != "dense"})
    _assert_one_line_error(run(trace), str(path), "'dense' is missing")
    assert not out.exists()


def test_trace_flags_are_checked(mixed, tmp_path):
    _, model = mixed
    (tmp_path / "trace").mkdir()
    _assert_one_line_error(ember_tf("run", model, f"--trace_inputs={tmp_path / 'trace'}",
                                    f"--stats_json={tmp_path / 's.json'}"), "--trace_stats_json")
    np.savez(tmp_path / "in.npz", x=np.zeros(1))
    _assert_one_line_error(ember_tf("run", model, f"--inputs={tmp_path / 'in.npz'}",
                                    f"--trace_stats_json={tmp_path / 's.json'}"), "apply to --trace_inputs")
    _assert_one_line_error(ember_tf("run", model, f"--inputs={tmp_path / 'in.npz'}",
                                    f"--trace_inputs={tmp_path / 'trace'}"), "exactly one of")
