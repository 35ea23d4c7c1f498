"""HLO modules from TensorFlow (jit_compile) and JAX, converted, written, read back,
emulated, and compared with what TensorFlow / JAX computed on the same inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ember_tf import CompileOptions, Converter, Interpreter
from ember_tf.frontend import REPORT_METADATA

tf = pytest.importorskip("tensorflow")
jax = pytest.importorskip("jax")
jnp = jax.numpy

TABLE = np.random.default_rng(0).standard_normal((100, 8)).astype(np.float32)


def _tf_module(tmp_path, fn, specs, stage="hlo"):
    ir = tf.function(fn, jit_compile=True).experimental_get_compiler_ir(*specs)
    if stage.endswith("serialized"):
        path = tmp_path / "module.pb"
        path.write_bytes(ir(stage=stage))
    else:
        path = tmp_path / "module.hlo"
        path.write_text(ir(stage=stage))
    return path


def _jax_module(tmp_path, fn, args):
    path = tmp_path / "module.hlo"
    path.write_text(jax.jit(fn).lower(*args).as_text(dialect="hlo"))
    return path


def _run(tmp_path, path, feeds, params=None, machine="tmu"):
    params_path = None
    if params:
        params_path = tmp_path / "params.npz"
        np.savez(params_path, **params)
    out = tmp_path / "model.daebin"
    converter = Converter.from_hlo(path, params_path, CompileOptions(target=machine))
    converter.convert_to_file(out)
    interpreter = Interpreter(model_path=out, machine=machine, mode="fast")
    (report,) = converter.reports
    return interpreter.get_signature_runner()(**feeds), report


def _families(report):
    return [entry.family for entry in report.offloaded]


@pytest.mark.parametrize("stage", ["hlo", "hlo_serialized", "optimized_hlo"])
def test_tf_lookup(tmp_path, stage):
    ids = np.array([3, 99, 0, 3], np.int32)
    path = _tf_module(tmp_path, lambda t, i: tf.gather(t, i),
                      [tf.TensorSpec([100, 8]), tf.TensorSpec([4], tf.int32)], stage)
    got, report = _run(tmp_path, path, {"p0": TABLE, "p1": ids})
    assert _families(report) == ["gather"]
    np.testing.assert_array_equal(got["out0"], TABLE[ids])


@pytest.mark.parametrize("stage", ["hlo", "hlo_serialized", "optimized_hlo"])
def test_tf_bag(tmp_path, stage):
    ids = np.random.default_rng(1).integers(0, 100, (5, 7)).astype(np.int32)
    fn = lambda t, i: tf.reduce_sum(tf.gather(t, i), axis=1)   # noqa: E731
    path = _tf_module(tmp_path, fn, [tf.TensorSpec([100, 8]), tf.TensorSpec([5, 7], tf.int32)], stage)
    got, report = _run(tmp_path, path, {"p0": TABLE, "p1": ids})
    assert _families(report) == ["reduce over gather"]
    np.testing.assert_allclose(got["out0"], fn(TABLE, ids).numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("stage", ["hlo", "hlo_serialized", "optimized_hlo"])
def test_tf_segment_sum(tmp_path, stage):
    src, dst = np.array([0, 5, 5, 99, 7, 1], np.int32), np.array([4, 0, 4, 2, 2, 0], np.int32)
    fn = lambda t, s, d: tf.math.unsorted_segment_sum(tf.gather(t, s), d, 5)   # noqa: E731
    specs = [tf.TensorSpec([100, 8]), tf.TensorSpec([6], tf.int32), tf.TensorSpec([6], tf.int32)]
    got, report = _run(tmp_path, _tf_module(tmp_path, fn, specs, stage), {"p0": TABLE, "p1": src, "p2": dst})
    assert _families(report) == ["scatter-add of gathered rows"]
    np.testing.assert_allclose(got["out0"], fn(TABLE, src, dst).numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", ["fill", "clip"])
def test_jax_take_with_out_of_bounds_ids(tmp_path, mode):
    ids = np.array([[1, -1], [100, 42]], np.int32)      # -1 wraps to 99; 100 is out of bounds
    fn = lambda t, i: jnp.take(t, i, axis=0, mode=mode)   # noqa: E731
    got, report = _run(tmp_path, _jax_module(tmp_path, fn, (TABLE, ids)), {"p0": TABLE, "p1": ids})
    assert _families(report) == ["gather"]
    np.testing.assert_array_equal(got["out0"], np.asarray(fn(TABLE, ids)))   # NaN rows where JAX fills


def test_jax_bag_and_segment_sum_with_out_of_bounds_ids(tmp_path):
    ids = np.array([[1, 2, 3], [4, 200, 6]], np.int32)
    bag = lambda t, i: jnp.take(t, i, axis=0).sum(axis=1)   # noqa: E731
    got, report = _run(tmp_path, _jax_module(tmp_path, bag, (TABLE, ids)), {"p0": TABLE, "p1": ids})
    assert _families(report) == ["reduce over gather"]
    np.testing.assert_allclose(got["out0"], np.asarray(bag(TABLE, ids)), rtol=1e-6, atol=1e-6)
    assert np.isnan(got["out0"][1]).all() and not np.isnan(got["out0"][0]).any()

    src, dst = np.array([0, 5, 150, 9], np.int32), np.array([1, 1, 3, 7], np.int32)   # dst 7 is dropped
    seg = lambda t, s, d: jax.ops.segment_sum(jnp.take(t, s, axis=0), d, num_segments=4)   # noqa: E731
    got, report = _run(tmp_path, _jax_module(tmp_path, seg, (TABLE, src, dst)), {"p0": TABLE, "p1": src, "p2": dst})
    assert _families(report) == ["scatter-add of gathered rows"]
    np.testing.assert_allclose(got["out0"], np.asarray(seg(TABLE, src, dst)), rtol=1e-6, atol=1e-6)


def _dlrm(params, dense, ids):
    tables, (w1, b1), (w2, b2) = params
    bottom = jax.nn.relu(dense @ w1 + b1)
    pooled = [jnp.take(t, ids[:, k], axis=0, mode="clip").sum(axis=1) for k, t in enumerate(tables)]
    return jax.nn.sigmoid(jnp.concatenate([bottom] + pooled, axis=1) @ w2 + b2)


@pytest.mark.parametrize("machine", ["tmu", "cpu"])
def test_jax_dlrm_forward_with_bound_tables(tmp_path, machine):
    rng = np.random.default_rng(2)
    tables = [rng.standard_normal((rows, 8)).astype(np.float32) for rows in (50, 30, 70)]
    w1, b1 = rng.standard_normal((4, 8)).astype(np.float32), np.zeros(8, np.float32)
    w2, b2 = rng.standard_normal((32, 1)).astype(np.float32), np.zeros(1, np.float32)
    dense = rng.standard_normal((6, 4)).astype(np.float32)
    ids = rng.integers(0, 30, (6, 3, 5)).astype(np.int32)
    fn = lambda t0, t1, t2, w1, b1, w2, b2, d, i: _dlrm(([t0, t1, t2], (w1, b1), (w2, b2)), d, i)   # noqa: E731
    args = (*tables, w1, b1, w2, b2, dense, ids)
    path = _jax_module(tmp_path, fn, args)
    params = {f"p{k}": a for k, a in enumerate(args[:7])}
    got, report = _run(tmp_path, path, {"p7": dense, "p8": ids}, params, machine)
    assert _families(report) == ["reduce over gather"] * 3
    np.testing.assert_allclose(got["out0"], np.asarray(fn(*args)), rtol=1e-5, atol=1e-6)


def test_report_and_inspect_metadata(tmp_path):
    path = _tf_module(tmp_path, lambda t, i: tf.gather(t, i) * 2.0,
                      [tf.TensorSpec([100, 8]), tf.TensorSpec([4], tf.int32)])
    Converter.from_hlo(path).convert_to_file(tmp_path / "m.daebin")
    model = Interpreter(model_path=tmp_path / "m.daebin").model
    entry = next(m for m in model.metadata if m.name == REPORT_METADATA)
    from ember_tf.dae_isa.writer import buffer_bytes

    (report,) = json.loads(bytes(buffer_bytes(model.buffers[entry.buffer])).decode())
    assert report["offloaded"][0]["family"] == "gather"
    assert report["host_segments"][-1]["ops"] == {"broadcast": 1, "multiply": 1}   # the 2.0s, made where used


@pytest.mark.parametrize("stage", ["hlo", "hlo_serialized", "optimized_hlo"])
def test_tf_dlrm_forward(tmp_path, stage):
    rng = np.random.default_rng(4)
    users = tf.Variable(rng.standard_normal((40, 8)).astype(np.float32))
    items = tf.Variable(rng.standard_normal((60, 8)).astype(np.float32))
    w1 = tf.Variable(rng.standard_normal((3, 8)).astype(np.float32))
    w2 = tf.Variable(rng.standard_normal((24, 1)).astype(np.float32))

    def forward(dense, user, history):
        bottom = tf.nn.relu(tf.matmul(dense, w1))
        pooled = tf.reduce_sum(tf.gather(items, history), axis=1)
        x = tf.concat([bottom, tf.gather(users, user), pooled], axis=1)
        return tf.sigmoid(tf.matmul(x, w2))

    specs = [tf.TensorSpec([5, 3]), tf.TensorSpec([5], tf.int32), tf.TensorSpec([5, 4], tf.int32)]
    path = _tf_module(tmp_path, forward, specs, stage)
    dense = rng.standard_normal((5, 3)).astype(np.float32)
    user, history = rng.integers(0, 40, 5).astype(np.int32), rng.integers(0, 60, (5, 4)).astype(np.int32)
    # captured variables follow the arguments as parameters: p3..p6 = users, items, w1, w2 in capture order
    feeds = {"p0": dense, "p1": user, "p2": history}
    module = Converter.from_hlo(path)
    extra = sorted(p.parameter_number for p in module.module.entry_computation.parameters())[3:]
    values = {v.shape.as_list()[0] * 1000 + v.shape.as_list()[1]: v.numpy() for v in (users, items, w1, w2)}
    for number in extra:
        dims = next(p for p in module.module.entry_computation.parameters() if p.parameter_number == number).shape.dims
        feeds[f"p{number}"] = values[dims[0] * 1000 + dims[1]]
    got, report = _run(tmp_path, path, feeds)
    assert sorted(_families(report)) == ["gather", "reduce over gather"]
    np.testing.assert_allclose(got["out0"], forward(dense, user, history).numpy(), rtol=1e-5, atol=1e-6)
