"""attach(): the program in assets.extra/, the SavedModel still loadable and its
fingerprint unchanged, stale programs refused, failures leaving nothing."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ember_tf.dae_isa import writer
from ember_tf.errors import EmberError
from ember_tf.grappler_like.saved_model import read_fingerprint
from ember_tf.serving import attach, attached_path, load_attached
from tests.serving.conftest import Recommender, recommender_feeds
from tests.test_cli import _assert_one_line_error, ember_tf

tf = pytest.importorskip("tensorflow")


@pytest.fixture
def saved(recommender, tmp_path):
    path = tmp_path / "1"
    tf.saved_model.save(recommender, str(path))
    return path


def test_attach_keeps_the_saved_model_as_it_was(saved):
    before = read_fingerprint(str(saved))
    path = attach(saved)
    assert path == saved / "assets.extra" / "model.daebin" and path.is_file()
    assert read_fingerprint(str(saved)) == before
    loaded = tf.saved_model.load(str(saved))
    feeds = recommender_feeds(5)
    want = loaded.signatures["serving_default"](
        user=feeds["user"], history=feeds["history.indices"], history_1=feeds["history.values"],
        history_2=feeds["history.dense_shape"])["score"].numpy()
    got = load_attached(saved, mode="fast").get_signature_runner()(**feeds)["score"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_stale_program_is_refused(saved, tmp_path):
    attach(saved)
    program = attached_path(saved).read_bytes()
    shutil.rmtree(saved)
    tf.saved_model.save(Recommender(seed=7), str(saved))          # retrained, same layout
    attached_path(saved).parent.mkdir()
    attached_path(saved).write_bytes(program)
    with pytest.raises(EmberError, match="stale program"):
        load_attached(saved)
    np.savez(tmp_path / "in.npz", **recommender_feeds(0))
    result = ember_tf("run", attached_path(saved), f"--inputs={tmp_path / 'in.npz'}",
                      f"--outputs={tmp_path / 'out.npz'}")
    _assert_one_line_error(result, "stale program", "attach again")
    assert not (tmp_path / "out.npz").exists()


def test_failure_mid_write_leaves_nothing(saved, monkeypatch):
    real = writer._chunks

    def broken(head, tail):
        yield next(real(head, tail))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "_chunks", broken)
    with pytest.raises(EmberError, match="No space left"):
        attach(saved)
    assert not (saved / "assets.extra").exists()


def test_cli_attach_and_warmup_replay(saved, tmp_path):
    from ember_tf.serving import WarmupRequest, write_warmup_requests

    result = ember_tf("attach", saved)
    assert result.returncode == 0, result.stderr
    assert "assets.extra/model.daebin" in result.stdout
    loaded = tf.saved_model.load(str(saved)).signatures["serving_default"]
    requests = []
    for seed in range(3):
        feeds = recommender_feeds(seed, batch=3 + seed)
        requests.append(WarmupRequest("m", "serving_default", {
            "user": feeds["user"], "history": feeds["history.indices"], "history_1": feeds["history.values"],
            "history_2": feeds["history.dense_shape"]}))
    warmup = write_warmup_requests(saved / "assets.extra" / "tf_serving_warmup_requests", requests)
    run = ember_tf("run", attached_path(saved), f"--warmup_requests={warmup}", f"--outputs={tmp_path / 'o.npz'}",
                   f"--stats_json={tmp_path / 's.json'}")
    assert run.returncode == 0, run.stderr
    assert "3 warmup request(s)" in run.stdout
    with np.load(tmp_path / "o.npz") as got:
        for i, request in enumerate(requests):
            want = loaded(**{k: tf.constant(v) for k, v in request.inputs.items()})["score"].numpy()
            np.testing.assert_allclose(got[f"{i}/score"], want, rtol=1e-5, atol=1e-6)


def test_warmup_file_errors(tmp_path, saved):
    attach(saved)
    bad = tmp_path / "warmup"
    bad.write_bytes(b"not a tfrecord at all")
    result = ember_tf("run", attached_path(saved), f"--warmup_requests={bad}")
    _assert_one_line_error(result, str(bad))
