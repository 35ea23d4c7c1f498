"""`ember-tf convert` and `ember-tf inspect` on converted models, as a user runs them:
results, the report, and one-line errors with no partial output."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.test_cli import _assert_one_line_error, ember_tf

tf = pytest.importorskip("tensorflow")


class _Model(tf.Module):
    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(0)
        self.table = tf.Variable(rng.standard_normal((20, 4)).astype(np.float32))
        self.wide = tf.Variable(rng.standard_normal((20, 4)))   # float64: stays on the host

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def __call__(self, ids):
        return {"rows": tf.nn.embedding_lookup(self.table, ids),
                "wide": tf.nn.embedding_lookup(self.wide, ids)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def names(self, keys):
        return tf.strings.length(keys)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.complex64)])
    def spectrum(self, x):
        return tf.math.real(x) * 2.0


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    module = _Model()
    path = tmp_path_factory.mktemp("convert_cli") / "model"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.__call__,
                                                        "names": module.names, "spectrum": module.spectrum})
    return path


def test_convert_run_inspect(saved, tmp_path):
    out = tmp_path / "m.daebin"
    result = ember_tf("convert", saved, out, "--signature_key=serving_default", "--opt_level=2")
    assert result.returncode == 0, result.stderr
    assert "1 embedding op(s) left on the host" in result.stdout
    assert "serving_default: ResourceGather -> gather on table" in result.stdout
    ids = np.array([0, 19, 7], np.int32)
    np.savez(tmp_path / "in.npz", ids=ids)
    run = ember_tf("run", out, f"--inputs={tmp_path / 'in.npz'}", f"--outputs={tmp_path / 'out.npz'}")
    assert run.returncode == 0, run.stderr
    module = tf.saved_model.load(str(saved))
    want = module.signatures["serving_default"](ids=tf.constant(ids))
    with np.load(tmp_path / "out.npz") as got:
        np.testing.assert_array_equal(got["rows"], want["rows"].numpy())
        np.testing.assert_array_equal(got["wide"], want["wide"].numpy())
    text = ember_tf("inspect", out).stdout
    assert "offloaded  ResourceGather: embedding_lookup -> kernel gather table table" in text
    assert "float64; DAE kernels take float32, float16 or bfloat16 rows" in text
    info = json.loads(ember_tf("inspect", "--json", out).stdout)
    assert info["conversion"][0]["offloaded"][0]["tables"] == ["table"]
    assert set(json.loads(info["metadata"]["saved_model_fingerprint"])) >= {"saved_model_checksum"}


def test_unsupported_dtype_is_one_line_and_no_file(saved, tmp_path):
    out = tmp_path / "m.daebin"
    result = ember_tf("convert", saved, out, "--signature_key=spectrum")
    _assert_one_line_error(result, str(saved), "complex64")
    assert not out.exists() and not list(tmp_path.iterdir())


def test_string_inputs_run_on_the_host(saved, tmp_path):
    out = tmp_path / "m.daebin"
    assert ember_tf("convert", saved, out, "--signature_key=names").returncode == 0
    np.savez(tmp_path / "in.npz", keys=np.array([b"a", b"", "naïve".encode()]))
    result = ember_tf("run", out, f"--inputs={tmp_path / 'in.npz'}", f"--outputs={tmp_path / 'out.npz'}")
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "out.npz") as got:
        np.testing.assert_array_equal(got["output_0"], [1, 0, 6])


def test_missing_signature_key(saved, tmp_path):
    out = tmp_path / "m.daebin"
    result = ember_tf("convert", saved, out, "--signature_key=predict")
    _assert_one_line_error(result, str(saved), "predict", "serving_default")
    assert not out.exists()


@pytest.mark.parametrize("damage", ["saved_model.pb", "checkpoint"])
def test_corrupted_saved_model(saved, tmp_path, damage):
    broken = tmp_path / "broken"
    shutil.copytree(saved, broken)
    if damage == "saved_model.pb":
        (broken / "saved_model.pb").write_bytes(b"\x08\x01garbage")
        named = broken / "saved_model.pb"
    else:
        for data in (broken / "variables").glob("variables.data-*"):
            data.write_bytes(b"\0" * 8)
        named = broken / "variables" / "variables"
    out = tmp_path / "m.daebin"
    result = ember_tf("convert", broken, out, "--signature_key=serving_default")
    _assert_one_line_error(result, str(named))
    assert not out.exists()


def test_unwritable_output(saved, tmp_path):
    result = ember_tf("convert", saved, tmp_path / "no" / "such" / "dir" / "m.daebin",
                      "--signature_key=serving_default")
    _assert_one_line_error(result, "m.daebin", "cannot write")


def test_progress_is_shown_for_large_files_only(capsys):
    from ember_tf.cli import _Progress

    small = _Progress("small.daebin")
    small(10, 100)
    large = _Progress("large.daebin")
    total = 2 * _Progress.THRESHOLD
    for done in (total * k // 40 for k in range(41)):
        large(done, total)
    large.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("writing large.daebin:") and lines[-1].startswith("writing large.daebin: 100%")
    assert len(lines) == 11 and not any("small" in line for line in lines)   # every 10% when not a terminal
